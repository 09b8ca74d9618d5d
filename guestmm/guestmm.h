/* SPDX-License-Identifier: MIT */
/*
 * guestmm, the memory manager: the one header the VMM includes.
 *
 * What the VMM uses: a frame pool and its life cycle (gmm_pool_init,
 * gmm_pool_set_swap, gmm_pool_destroy; pool.h), a guest's mm (gmm_mm_create,
 * gmm_mm_add_vma, gmm_mm_start, gmm_mm_stop, gmm_mm_release, gmm_mm_destroy;
 * mm.h), reading
 * guest RAM without faulting on it (gmm_mm_read), what an address is
 * (gmm_mm_vma_at, gmm_mm_ept_entry, gmm_ept_describe) and counter snapshots
 * (gmm_pool_stats_read, gmm_vmstat_read, struct gmm_fault_stats). What
 * guestmm asks of the VMM goes through struct gmm_guest_ops, never a call.
 * Everything else in guestmm/ is its own business.
 */
#ifndef GUESTMM_GUESTMM_H
#define GUESTMM_GUESTMM_H

#include "mm.h"
#include "pool.h"

/* discard.c: the guest has ended (gmm_mm_stop): every frame and swap slot
 * it holds goes back now, as the OOM reaper gives a victim's back, so that
 * guests still running on the pool get them without reclaim. Its counters
 * stay (hiwater, events, faults); rss and swap_ents fall to 0. Takes
 * mms_lock for reading, then reclaim_lock and its mm lock a chunk at a
 * time (pool.h's lock order). */
void gmm_mm_release(struct gmm_mm *mm);

#endif
