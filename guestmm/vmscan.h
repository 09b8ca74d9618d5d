/* SPDX-License-Identifier: MIT */
/* Reclaim's scan (vmscan.c), shared with kswapd.c, which runs it. */
#ifndef GUESTMM_VMSCAN_H
#define GUESTMM_VMSCAN_H

#include "pool.h"

struct gmm_mm;

#define SWAP_CLUSTER_MAX 32   /* frames isolated, armed or written per batch */
#define GMM_DEF_PRIORITY 12   /* scan LRU >> 12 first, as Linux's DEF_PRIORITY */

/* Reclaim up to nr frames, from every guest (target NULL: global reclaim,
 * which respects limit.min and limit.low) or from one guest for its own
 * limit; mms_lock held for reading (lock order, pool.h). Counts the scan as
 * kswapd's or as direct reclaim. Returns frames freed. */
uint64_t gmm_shrink(struct gmm_pool *p, struct gmm_mm *target, uint64_t nr, bool direct);

#endif
