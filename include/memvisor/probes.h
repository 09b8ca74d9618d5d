/* SPDX-License-Identifier: MIT */
/*
 * USDT probes (provider "memvisor") for perf and bpftrace: see
 * docs/watching.md for the list and commands that use them.
 *
 * A probe is a single nop in the code and an ELF note (.note.stapsdt) naming
 * it and saying where its arguments live; nothing runs unless a tracer plants
 * a uprobe on the nop. Arguments must be plain integers already at hand: they
 * are evaluated into registers even when nobody listens, so a probe never
 * takes a lock or calls a function to get one.
 *
 * Probes are compiled in where the library's build defines MV_PROBES (meson
 * -Dprobes=true, the default, which needs <sys/sdt.h> from Debian's
 * systemtap-sdt-dev); otherwise MV_PROBE compiles to nothing, its arguments
 * still type-checked so that a build without probes warns alike.
 */
#ifndef MEMVISOR_PROBES_H
#define MEMVISOR_PROBES_H

#ifdef MV_PROBES
#include <sys/sdt.h>
#ifdef __clang__
/* sdt.h's own macros pass an empty "..." (a GNU extension clang names under
 * -Wpedantic, at every expansion, which a push/pop cannot reach) */
#pragma clang diagnostic ignored "-Wgnu-zero-variadic-macro-arguments"
#endif
/* STAP_PROBE1..6 by the number of arguments (sdt.h's own STAP_PROBEV trips
 * clang's -Wpedantic) */
#define MV_PROBE_NARG(...) MV_PROBE_NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define MV_PROBE_NARG_(a1, a2, a3, a4, a5, a6, n, ...) n
#define MV_PROBE_CAT(a, b) MV_PROBE_CAT_(a, b)
#define MV_PROBE_CAT_(a, b) a##b
#define MV_PROBE(name, ...) \
	MV_PROBE_CAT(STAP_PROBE, MV_PROBE_NARG(__VA_ARGS__))(memvisor, name, __VA_ARGS__)
#define MV_PROBES_BUILT 1
#else
static inline void mv_probe_none(int unused, ...) { (void)unused; }
#define MV_PROBE(name, ...) do { if (0) mv_probe_none(0, __VA_ARGS__); } while (0)
#define MV_PROBES_BUILT 0
#endif

#endif
