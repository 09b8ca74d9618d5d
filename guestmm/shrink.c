// SPDX-License-Identifier: MIT
/*
 * Scan control, as Linux's shrink_node and shrink_lruvec: how much of which
 * guest one reclaim scans. Every guest is scanned in proportion to its LRU
 * above its protection (limit.min always, limit.low until a whole sweep
 * freed nothing), priority by priority, a batch at a time (vmscan.c does
 * the batch); or one guest only, for its own limit.
 */
#include "mm.h"
#include "vmscan.h"

#include "memvisor/probes.h"
#include "memvisor/time.h"

/* Frames on a guest's LRU lists. Pool lock taken. */
static uint64_t reclaim_lru_size(struct gmm_pool *p, struct gmm_mm *mm)
{
	uint64_t n;

	pthread_mutex_lock(&p->lock);
	n = mm->lru[GMM_LRU_ACTIVE].nr + mm->lru[GMM_LRU_INACTIVE].nr;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* Scan up to to_scan frames of one guest, batch by batch, until the target
 * comes free. Never more than to_scan are isolated: a pass may take no more
 * than the guest holds above its protection, and a whole batch of 32 taken
 * when fewer were left above it once put the guest below its limit.min.
 * Returns frames scanned. */
static uint64_t reclaim_scan_mm(struct reclaim_ctl *rc, struct gmm_mm *mm, uint64_t to_scan,
				uint64_t nr)
{
	uint64_t scanned = 0;

	while (rc->freed < nr && scanned < to_scan) {
		unsigned n = gmm_vmscan_batch(rc, mm, (unsigned)MIN(to_scan - scanned,
								    (uint64_t)SWAP_CLUSTER_MAX));

		if (!n)
			break;
		scanned += n;
	}
	return scanned;
}

/*
 * What global reclaim may scan of a guest: its LRU above its protection,
 * limit.min always, limit.low until nothing unprotected is left (memcg's
 * effective protection). A guest reclaiming for its own limit has none.
 */
static uint64_t reclaim_scannable(struct reclaim_ctl *rc, struct gmm_mm *mm, uint64_t size)
{
	const struct gmm_limits *l = &mm->cfg.limits;
	uint64_t protect;

	if (rc->target)
		return size;
	protect = l->min;
	if (!rc->below_low && l->low > protect) {
		if (size > protect)
			rc->held_by_low |= size <= l->low;
		protect = l->low;
	} else if (rc->below_low && size > l->min && size <= l->low) {
		__atomic_add_fetch(&mm->events.low, 1, __ATOMIC_RELAXED);
	}
	return size > protect ? size - protect : 0;
}

/*
 * One pass at priority prio over every guest of the pool, as Linux's
 * shrink_node walks every memcg's lruvec: each guest is scanned in
 * proportion to its size above its protection (that >> prio, at least a
 * batch), starting with a different guest each time so that none is first
 * served. mms_lock held.
 */
static uint64_t reclaim_pass(struct reclaim_ctl *rc, int prio, uint64_t nr)
{
	struct gmm_pool *p = rc->p;
	uint64_t scanned = 0;
	unsigned first = p->reclaim_next++;

	for (unsigned k = 0; k < GMM_MAX_GUESTS && rc->freed < nr; k++) {
		struct gmm_mm *mm = p->mms[(first + k) % GMM_MAX_GUESTS];
		uint64_t above;

		if (!mm || mm->dying || (rc->target && mm != rc->target))
			continue;
		above = reclaim_scannable(rc, mm, reclaim_lru_size(p, mm));
		if (above)
			scanned += reclaim_scan_mm(rc, mm,
						   MIN(MAX(above >> prio, (uint64_t)SWAP_CLUSTER_MAX), above),
						   nr);
	}
	return scanned;
}

/* Priorities from the lowest up, until nr frames came free. */
static void reclaim_priorities(struct reclaim_ctl *rc, uint64_t nr)
{
	struct gmm_pool *p = rc->p;

	for (int prio = GMM_DEF_PRIORITY; rc->freed < nr && prio >= 0; prio--) {
		uint64_t freed = rc->freed, scanned = reclaim_pass(rc, prio, nr);

		rc->scanned += scanned;
		/* one reclaimer at a time (reclaim_lock): no other writer */
		if ((uint64_t)prio < __atomic_load_n(&p->vm.reclaim_prio_min, __ATOMIC_RELAXED))
			__atomic_store_n(&p->vm.reclaim_prio_min, (uint64_t)prio, __ATOMIC_RELAXED);
		if (!scanned)
			break; /* nothing on any LRU above its protection */
		/* swap full and nothing came free: scanning more at a higher
		 * priority finds only more pages that need a slot (Linux scans
		 * no anon LRU without swap space); the caller's OOM decision
		 * comes sooner */
		if (rc->freed == freed && !swapd_free_slots(p->swap))
			break;
	}
}

uint64_t gmm_shrink(struct gmm_pool *p, struct gmm_mm *target, uint64_t nr, bool direct)
{
	struct reclaim_ctl rc = { .p = p, .direct = direct, .target = target };
	uint64_t t0 = mv_thread_ns();

	pthread_mutex_lock(&p->reclaim_lock);
	/*
	 * Scan control as in Linux's shrink_node: at priority prio scan the
	 * LRU >> prio frames (at least a batch), and while less than the
	 * target comes free, raise the priority (scan more). A page is armed on
	 * one pass and evicted on a later one, so progress often needs two.
	 * Guests within limit.low are passed over until that leaves nothing.
	 */
	reclaim_priorities(&rc, nr);
	/* as memcg_low_reclaim: only when a whole sweep freed nothing at all
	 * (not merely less than asked, which the next sweep may well mend) */
	if (!rc.freed && rc.held_by_low) {
		rc.below_low = true;
		reclaim_priorities(&rc, nr);
	}
	if (direct) {
		/* one probe site: perf probe takes one location per SDT name */
		MV_PROBE(direct_reclaim, target ? target->slot : -1, nr, rc.scanned, rc.freed);
		gmm_count(p, pgscan_direct, rc.scanned);
		gmm_count(p, pgsteal_direct, rc.freed);
	} else {
		gmm_count(p, pgscan_kswapd, rc.scanned);
		gmm_count(p, pgsteal_kswapd, rc.freed);
	}
	gmm_count(p, reclaim_ns, mv_thread_ns() - t0);
	pthread_mutex_unlock(&p->reclaim_lock);
	return rc.freed;
}

void gmm_vmstat_read(struct gmm_pool *p, struct gmm_vmstat *out)
{
	const uint64_t *src = (const uint64_t *)&p->vm;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
