/* SPDX-License-Identifier: MIT */
/* memvisor run's parts shared by its single-guest form (run.c) and its
 * several-guest form (run_multi.c): options, signals, the pool. */
#ifndef CLI_RUN_H
#define CLI_RUN_H

#include "guest_spec.h"
#include "setup.h"
#include "stats.h"
#include "summary_file.h"
#include "vmm/guest.h"

#define RUN_MAX_WALKS 8

struct run_opts {
	struct vmm_config cfg;
	const char *guest;
	const char *summary_json;
	bool quiet, host_mm, no_prezero;
	bool mem_given, vcpus_given;       /* -m, -c: not with --guest */
	enum gmm_install install;
	const char *swap_path;
	uint64_t swap_size;
	bool swap_keep;
	uint64_t inject_write, inject_read; /* test-only: fail the nth swap write / read */
	uint64_t pool_size;
	gva_t walks[RUN_MAX_WALKS];
	unsigned nr_walks;
	const char *specs[CLI_MAX_GUESTS]; /* --guest SPEC, as given */
	unsigned nr_specs;
	struct cli_watch_opts watch;       /* --stats, --stat-socket (stats.h) */
};

/*
 * Signals (run_signal.c). run_catch_signals is the first thing memvisor run
 * does: it installs the handler and holds the signals until a guest runs. A guest attached to a slot is interrupted by SIGINT,
 * SIGTERM or SIGHUP; one that attaches after such a signal is interrupted
 * at once. Only the main thread ever runs the handler (every other thread
 * has the signals blocked), so the main thread may detach and destroy a
 * guest without racing it.
 */
void run_catch_signals(void);
void run_attach(unsigned slot, struct vmm_guest *g);
void run_detach(unsigned slot);
/* A stop signal came (the handler ran). */
bool run_stopped(void);
/* Let the signals through on the calling thread (the main one). */
void run_unblock_signals(void);
/* A signal held during set-up: true (and the handler has not run). */
bool run_signal_pending(void);

/* The frame pool and its swap device: 0, or 1 with a message. With
 * --guest, o->cfg.mem_size and nr_vcpus are the guests' sums. */
int run_open_pool(struct run_opts *o, struct cli_setup *s);
/* The guest's arguments fit its boot-info page: 0, or 2 with a line. */
int run_check_guest_args(const struct vmm_config *cfg);

/* run_multi.c: memvisor run --guest ...; o is parsed and checked. */
int run_multi_parse(struct run_opts *o, struct cli_guest_spec *specs);
int run_multi(struct run_opts *o, struct cli_summary_file *json);
/* run_multi's parts, for memvisor bench: the n guests of run_multi_parse run
 * on s (/dev/kvm and the pool open) to their ends, not reported; the run's
 * status as run_multi's. Guest i is run_multi_guest(i) (NULL: it never
 * ran) until run_multi_end destroys them and frees their images. */
int run_multi_guests(struct cli_setup *s, unsigned n);
const struct vmm_guest *run_multi_guest(unsigned i);
void run_multi_end(unsigned n);

#endif
