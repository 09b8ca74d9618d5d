/* SPDX-License-Identifier: MIT */
/* bench faultpath's samples and figures, shared by its runs (faultpath.c)
 * and its figures and printing (faultpath_print.c). */
#ifndef BENCH_FAULTPATH_H
#define BENCH_FAULTPATH_H

#include "rawio.h"
#include "guestmm/guestmm.h"

#include <stdbool.h>
#include <stdint.h>

enum { FP_ZEROPAGE, FP_COPY, FP_MOVE, FP_MEMVISOR, FP_NR_MODES, FP_NR_FLOORS = FP_MEMVISOR };
extern const char *const fp_mode_name[FP_NR_MODES];

struct fp_opts {
	uint64_t size;
	unsigned runs;
	const char *dir;
	bool json;
};

/* One run of the touch guest under one way of serving its faults. */
struct fp_sample {
	double guest_us;         /* guest time per fault (its own clock) */
	double host_cpu_us;      /* the answering (fault) threads' CPU time, reads included */
	uint64_t faults, pages;
	struct gmm_fault_stats fs;
};

/* One reclaim run and the raw write beside it. */
struct fp_reclaim {
	uint64_t freed, reclaim_ns, written, write_ns, batches;
	struct bench_rawio raw;
	unsigned batch;
	bool direct;
};

/* A figure over the rounds: median, lowest, highest. */
struct fp_stat {
	double med, lo, hi;
};

/* Everything printed, worked out from the rounds. */
struct fp_result {
	struct fp_stat guest[FP_NR_MODES], host_cpu[FP_NR_MODES], cpu_ratio_floor;
	int floor;                       /* the cheapest of the floors */
	struct fp_stat ratio;            /* memvisor / floor, round by round */
	struct gmm_fault_stats fs;       /* memvisor's, all rounds added */
	struct fp_stat reclaim_cpu, raw_cpu, cpu_ratio, swapout, raw_bps, bps_ratio;
	unsigned batch;
	bool direct;
	uint64_t written;
};

/* smp: runs rows of FP_NR_MODES samples; rc: runs reclaim runs. */
void fp_figures(const struct fp_sample *smp, const struct fp_reclaim *rc, unsigned runs,
		struct fp_result *res);
void fp_print_text(const struct fp_opts *o, const struct fp_result *res);
void fp_print_json(const struct fp_opts *o, const struct fp_result *res);

#endif
