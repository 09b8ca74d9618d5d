/* SPDX-License-Identifier: MIT */
/* Reclaim: the batch (vmscan.c) and the scan control (shrink.c) that kswapd.c runs. */
#ifndef GUESTMM_VMSCAN_H
#define GUESTMM_VMSCAN_H

#include "pool.h"

struct gmm_mm;

#define SWAP_CLUSTER_MAX 32   /* frames isolated, armed or written per batch */
#define GMM_DEF_PRIORITY 12   /* scan LRU >> 12 first, as Linux's DEF_PRIORITY */

/* A page a batch works on: which guest, frame and GPA; for a page to arm,
 * whether to evict it at once (read ahead and never touched). */
struct reclaim_wb {
	struct gmm_mm *mm;
	pfn_t pfn;
	gpa_t gpa;
	bool now;
};

/* One reclaim: what it is for, what it did, and the batch in hand
 * (reclaim_lock held throughout: one reclaimer at a time). */
struct reclaim_ctl {
	struct gmm_pool *p;
	bool direct;
	struct gmm_mm *target;               /* reclaim this guest only (its own limit), or NULL */
	bool below_low;                      /* global reclaim may go below limit.low */
	bool held_by_low;                    /* a guest was passed over for its limit.low */
	uint64_t batch;                      /* for the dirty-log cache */
	bool swap_full;                      /* no free slot when the batch began */
	uint64_t scanned, freed;
	struct reclaim_wb wb[SWAP_CLUSTER_MAX];
	unsigned nr_wb;
	struct reclaim_wb arm[SWAP_CLUSTER_MAX];
	unsigned nr_arm;
	struct reclaim_wb release[SWAP_CLUSTER_MAX]; /* freed frames, to give back at batch end */
	unsigned nr_release;
};

/* vmscan.c: one batch of at most max (up to SWAP_CLUSTER_MAX) frames off a
 * guest's inactive tail: isolate, arm the mapped, evict the armed (drop, or
 * write in one io_uring batch), give frames back. mms_lock held, the guest
 * not dying. Returns frames scanned (each may have come free). */
unsigned gmm_vmscan_batch(struct reclaim_ctl *rc, struct gmm_mm *mm, unsigned max);

/* release.c: drop the slot pages of the batch's freed frames (rc->release)
 * and give the frames back, each leaving its guest's rss as it enters the
 * pool. reclaim_lock held, no mm lock (it takes each guest's). */
void gmm_reclaim_release(struct reclaim_ctl *rc);

/* shrink.c: reclaim up to nr frames, from every guest (target NULL: global reclaim,
 * which respects limit.min and limit.low) or from one guest for its own
 * limit; mms_lock held for reading (lock order, pool.h). Counts the scan as
 * kswapd's or as direct reclaim. Returns frames freed. */
uint64_t gmm_shrink(struct gmm_pool *p, struct gmm_mm *target, uint64_t nr, bool direct);

#endif
