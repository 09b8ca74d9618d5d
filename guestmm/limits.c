// SPDX-License-Identifier: MIT
/*
 * A fault short of memory, as memcg's charge path and the OOM killer are in
 * Linux: a guest at its limit.max reclaims its own pages, one over its
 * limit.high reclaims its excess after the fault (the throttle), and when
 * neither the pool nor reclaim has a frame the OOM killer chooses a guest.
 * Called from gmm_handle_fault (fault.c) with the guest's mm lock held; each
 * drops it around reclaim or the killer, which take guests' locks.
 */
#include "mm.h"
#include "vmscan.h"

#include <sched.h>

/* Frames the guest may still take under its limit.max. mm lock held. */
uint64_t gmm_mm_headroom(const struct gmm_mm *mm)
{
	uint64_t max = mm->cfg.limits.max, held = mm->rss + mm->charging;

	if (!max)
		return UINT64_MAX;
	return max > held ? max - held : 0;
}

/*
 * The guest is at its limit.max: it reclaims its own pages, as a memcg at
 * memory.max does, and tries again; when several rounds free nothing (no
 * swap, or nothing of its own left to take) it is out of memory. Returns 0
 * to try again, or the outcome. mm lock held (dropped around the reclaim).
 */
unsigned gmm_fault_over_max(struct gmm_mm *mm, unsigned *stuck)
{
	uint64_t freed;

	__atomic_add_fetch(&mm->events.max, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mm->lock);
	freed = gmm_reclaim_mm(mm->pool, mm, SWAP_CLUSTER_MAX);
	pthread_mutex_lock(&mm->lock);
	if (freed || gmm_mm_headroom(mm)) {
		*stuck = 0;
		return 0;
	}
	if (++*stuck < 4)
		return 0;
	__atomic_add_fetch(&mm->events.oom, 1, __ATOMIC_RELAXED);
	return GMM_FAULT_OOM | GMM_FAULT_LIMIT;
}

/*
 * Neither the pool nor reclaim has a frame for this fault: the OOM killer
 * chooses a guest. If another, its memory is back now and the fault tries
 * again (0); if this one, or none may be chosen, the fault fails as out of
 * memory. mm lock held (dropped around the killer, which takes guests' locks).
 */
unsigned gmm_fault_oom(struct gmm_mm *mm)
{
	struct gmm_mm *victim;

	pthread_mutex_unlock(&mm->lock);
	victim = gmm_oom_kill(mm->pool, mm, mm->pool->swap ? "no frame could be freed, and swap is "
			      "full" : "no free frame in the pool");
	if (!victim && gmm_oom_reaping(mm->pool) &&
	    !__atomic_load_n(&mm->oom_victim, __ATOMIC_RELAXED)) {
		sched_yield(); /* another fault thread's victim: its memory is coming back */
		pthread_mutex_lock(&mm->lock);
		return 0;
	}
	pthread_mutex_lock(&mm->lock);
	return victim && victim != mm ? 0 : GMM_FAULT_OOM;
}

/*
 * Over limit.high after a fault: the guest reclaims its own excess in its
 * fault path, which is what slows it (memory.high's throttling). The page it
 * faulted for is already in. mm lock held (dropped around the reclaim).
 */
void gmm_fault_over_high(struct gmm_mm *mm)
{
	uint64_t high = mm->cfg.limits.high, excess;

	if (!high || mm->rss <= high || !mm->pool->swap)
		return;
	__atomic_add_fetch(&mm->events.high, 1, __ATOMIC_RELAXED);
	excess = mm->rss - high;
	pthread_mutex_unlock(&mm->lock);
	gmm_reclaim_mm(mm->pool, mm, excess + SWAP_CLUSTER_MAX);
	pthread_mutex_lock(&mm->lock);
}
