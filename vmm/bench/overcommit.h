/* SPDX-License-Identifier: MIT */
/* bench overcommit's own (see overcommit.c): a run's figures, and the files
 * of one concern each that fill and print them. Not for other benchmarks. */
#ifndef BENCH_OVERCOMMIT_H
#define BENCH_OVERCOMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cli_setup;
struct bench_oc_guests;

struct oc_workload {
	const char *name, *pattern;
	unsigned passes;
};

#define OC_MAX_RATIOS 4
#define OC_NOTE 600

struct oc_opts {
	uint64_t pool, seed;
	const char *dir;
	bool json, no_kernel, quick, pool_set, ratios_set;
	unsigned workload_mask;
	unsigned ratios[OC_MAX_RATIOS], nr_ratios;
};

/* memvisor's side of a run (or its floor: pool = RAM, prefaulted). */
struct oc_mv {
	double s, wall_s;           /* the walk as the guest timed it; create to teardown */
	uint64_t touches;
	/* faults: every userspace round trip, the working-set sampler's
	 * (wss_faults, not in the guest's pgfault) included */
	uint64_t faults, new_faults, refaults, swapins, wss_faults, installed, handler_ns;
	uint64_t swap_out, swap_in; /* pages */
	uint64_t freed, reclaim_ns, write_ns, arm_moves, scanned;
};

/* Linux's side (or its floor: no limit): memvisor-touch-host. */
struct oc_linux {
	double s, wall_s;           /* s < 0: no figure, note says why */
	uint64_t touches, minflt, majflt;
	uint64_t swap_out, swap_in; /* pages: /proc/vmstat pswpout, pswpin over the run */
	char note[OC_NOTE];
};

struct oc_run {
	const struct oc_workload *w;
	unsigned ratio;
	struct oc_mv mv, mv_floor;
	struct oc_linux lx, lx_floor;
	double kvm_s;               /* KVM guest in the cgroup; < 0: see kvm_note */
	char kvm_note[OC_NOTE];
};

static inline double oc_div(double a, double b) { return b > 0 ? a / b : 0; }

struct oc_image {
	void *elf;
	size_t len;
	char path[4096];     /* the touch guest */
	char host[4096];     /* memvisor-touch-host */
	char self[4096];     /* memvisor, for the KVM-in-cgroup run */
};

/* touch's arguments for a run's workload and seed */
struct oc_args {
	char pat[64], passes[32], seed[48];
};

/* A geometric mean and the least, of the ratios given. */
struct oc_gm {
	double log_sum, min, max;
	unsigned n;
};

struct oc_goals {
	struct oc_gm swap_speed;    /* must swap: Linux s / memvisor s */
	struct oc_gm fit_floor;     /* fits: memvisor s / its floor's */
	struct oc_gm trips;         /* memvisor faults per touch / Linux's */
	struct oc_gm written, read; /* memvisor's swap pages / Linux's */
	double swapout_frac;        /* memvisor's swap-out bytes/s / a raw io_uring write's */
	double cpu_us, raw_cpu_us;  /* reclaim CPU per reclaimed page; the raw write's per page */
};

/* overcommit_memvisor.c: touch's arguments for a run; the guest of RAM
 * ratio x pool in an in-process pool, or (floor) pool = RAM, all of it
 * prefaulted, no swap: 0, or -1 with one line printed. */
void oc_touch_args(const struct oc_opts *o, const struct oc_run *r, struct oc_args *a);
int oc_guest(struct cli_setup *s, const struct oc_opts *o, const struct oc_run *r, bool floor,
	     const struct oc_image *img, struct oc_mv *m);

/* overcommit_linux.c: the same accesses as a host process in the cgroup
 * with host swap, or (floor) with no limit; and memvisor --host-mm in the
 * cgroup. Never fail: a figure below 0 comes with a note saying why. */
void oc_linux(const struct oc_opts *o, const struct oc_run *r, bool floor,
	      const struct oc_image *img, struct oc_linux *l);
void oc_kvm_cgroup(const struct oc_opts *o, struct oc_run *r, const struct oc_image *img);

/* overcommit_print.c: the goals from the runs (g's swap figures set by the
 * caller), and the text or the JSON of it all. */
void oc_goals(const struct oc_opts *o, const struct oc_run *runs, unsigned n, struct oc_goals *g);
void oc_print_text(const struct oc_opts *o, const struct oc_run *r, unsigned n,
		   const struct oc_goals *g);
void oc_print_json(const struct oc_opts *o, const struct oc_run *r, unsigned n,
		   const struct oc_goals *g, const struct bench_oc_guests *guests);

#endif
