// SPDX-License-Identifier: MIT
/*
 * Reclaim's scan, as Linux's vmscan.c: LRU aging by "unmap and watch" and
 * eviction to swap (kswapd.c runs it in the background, faults directly).
 *
 * Nothing here tells which guest pages were read (docs/platform.md), so a page's
 * use is learned by unmapping it and watching for the refault. New and
 * refaulted pages enter the active list. When the inactive list is short,
 * frames move from the active tail to the inactive head as they are. Reclaim
 * scans the inactive tail in batches (SWAP_CLUSTER_MAX): a mapped page is
 * "armed" - moved out of the guest back into its frame's pool slot
 * (UFFDIO_MOVE, atomic against guest writes), the frame kept - and rotated
 * to the head; a guest access refaults cheaply and activates it. A page still
 * armed when the scan comes round again is cold and is evicted: an all-zero
 * page becomes a zero entry (no slot, no write), a clean swap-cache page is
 * dropped (its slot still holds it; KVM's dirty log says it was not written
 * since it was read), anything else is written to neighbouring slots in one
 * io_uring batch. The EPT entry holds the swap entry afterwards.
 *
 * kswapd wakes below the low watermark and reclaims to the high one; an
 * allocation that finds nothing reclaims directly. One reclaimer runs at a
 * time (reclaim_lock); the lock order is written in pool.h. A frame taken
 * off the LRU is the reclaimer's alone until it goes back or is freed
 * (struct gmm_frame); every decision about its page is taken again under
 * the guest's mm lock, since a refault may have mapped it meanwhile.
 */
#include "mm.h"
#include "vmscan.h"

#include "debug.h"
#include "memvisor/log.h"
#include "memvisor/probes.h"
#include "memvisor/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Keep about a third of a guest's LRU inactive. Pool lock held. */
static void reclaim_age_active(struct gmm_pool *p, struct gmm_mm *mm)
{
	uint64_t total = mm->lru[GMM_LRU_ACTIVE].nr + mm->lru[GMM_LRU_INACTIVE].nr;

	for (int i = 0; i < SWAP_CLUSTER_MAX && mm->lru[GMM_LRU_INACTIVE].nr * 3 < total; i++) {
		uint32_t pfn = gmm_list_pop_tail(&mm->lru[GMM_LRU_ACTIVE], p->frames);

		if (pfn == GMM_NIL)
			break;
		p->frames[pfn].flags &= ~(GMM_PG_LRU | GMM_PG_ACTIVE);
		gmm_lru_add(p, pfn, GMM_LRU_INACTIVE);
		gmm_count(p, deactivate, 1);
	}
}

/* Up to n frames off a guest's inactive tail, marked isolated; ahead[i]
 * says whether frame i was read ahead and not looked at since.
 * Pool lock held. */
static unsigned reclaim_isolate(struct gmm_pool *p, struct gmm_mm *mm, pfn_t *out, bool *ahead,
				unsigned n)
{
	unsigned got = 0;

	while (got < n) {
		uint32_t pfn = gmm_list_pop_tail(&mm->lru[GMM_LRU_INACTIVE], p->frames);

		if (pfn == GMM_NIL)
			break;
		ahead[got] = p->frames[pfn].flags & GMM_PG_AHEAD;
		p->frames[pfn].flags &= ~(GMM_PG_LRU | GMM_PG_ACTIVE | GMM_PG_REFERENCED | GMM_PG_AHEAD);
		p->frames[pfn].flags |= GMM_PG_ISOLATED;
		out[got++] = pfn;
	}
	return got;
}

/* Put an isolated frame back on its LRU (the active one if it was
 * referenced meanwhile). Pool lock held. */
static void __reclaim_putback(struct gmm_pool *p, pfn_t pfn, enum gmm_lru_list lru)
{
	GMM_BUG_ON(!(p->frames[pfn].flags & GMM_PG_ISOLATED));
	p->frames[pfn].flags &= ~GMM_PG_ISOLATED;
	if (p->frames[pfn].flags & GMM_PG_REFERENCED)
		lru = GMM_LRU_ACTIVE;
	p->frames[pfn].flags &= ~GMM_PG_REFERENCED;
	gmm_lru_add(p, pfn, lru);
}

static void reclaim_putback(struct gmm_pool *p, pfn_t pfn, enum gmm_lru_list lru)
{
	pthread_mutex_lock(&p->lock);
	__reclaim_putback(p, pfn, lru);
	pthread_mutex_unlock(&p->lock);
}

/* Put n isolated frames back inactive, in order, taking the pool lock once:
 * each round trip of it can cost a wake-up of a fault thread waiting for it. */
static void reclaim_putback_many(struct gmm_pool *p, const pfn_t *pfn, unsigned n)
{
	if (!n)
		return;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		__reclaim_putback(p, pfn[i], GMM_LRU_INACTIVE);
	pthread_mutex_unlock(&p->lock);
}

static bool reclaim_page_is_zero(const void *page)
{
	const uint64_t *w = page;

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/*
 * An evicted frame leaves the guest: the entry takes its new value and the
 * counters move now; its slot page is dropped and the frame returned at the
 * end of the batch (gmm_reclaim_release, release.c), with its neighbours, because each
 * MADV_DONTNEED call costs a TLB-flush IPI here. mm lock held.
 */
static void reclaim_free_frame(struct reclaim_ctl *rc, struct gmm_mm *mm, pfn_t pfn,
			       uint64_t entry, gpa_t gpa)
{
	struct gmm_pool *p = mm->pool;

	*ept_lookup(&mm->ept, gpa) = entry;
	p->frames[pfn].swap = 0;
	rc->release[rc->nr_release++] = (struct reclaim_wb){ mm, pfn, gpa, false };
	if (ept_is_swp(entry) && !gmm_ept_zero(entry))
		mm->swap_ents++;
}

static int reclaim_cmp_arm(const void *a, const void *b)
{
	const struct reclaim_wb *x = a, *y = b;

	if (x->mm != y->mm)
		return (uintptr_t)x->mm < (uintptr_t)y->mm ? -1 : 1;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Arm n mapped pages at consecutive GPAs on consecutive frames with one
 * move back into their slots, frames kept. mm lock held. */
static void reclaim_arm_run(struct gmm_pool *p, struct reclaim_wb *w, unsigned n)
{
	struct gmm_mm *mm = w[0].mm;

	for (unsigned i = 0; i < n; i++) {
		uint64_t *e = ept_lookup(&mm->ept, w[i].gpa);

		/* refaulted or gone since it was looked at: arm what precedes */
		if (!e || !ept_present(*e) || ept_pfn(*e) != w[i].pfn) {
			if (i)
				reclaim_arm_run(p, w, i);
			return;
		}
	}
	int64_t moved = gmm_uffd_move(p, (uintptr_t)gmm_pool_slot(p, w[0].pfn),
				      (uintptr_t)mm->cfg.ram_hva + w[0].gpa, (uint64_t)n << PAGE_SHIFT);

	/* the pages that moved are armed; any that did not stay mapped */
	n = moved > 0 ? (unsigned)(moved >> PAGE_SHIFT) : 0;
	for (unsigned i = 0; i < n; i++) {
		*ept_lookup(&mm->ept, w[i].gpa) = gmm_ept_mk(GMM_EPT_ARMED, w[i].pfn);
	}
	gmm_count(p, armed, n);
	gmm_count(p, arm_moves, n > 0);
	MV_PROBE(arm, mm->slot, w[0].gpa, w[0].pfn, n);
}

/* Hold want's mm lock (none for NULL), dropping held's if it is another's. */
static struct gmm_mm *reclaim_relock(struct gmm_mm *held, struct gmm_mm *want)
{
	if (held == want)
		return held;
	if (held)
		pthread_mutex_unlock(&held->lock);
	if (want)
		pthread_mutex_lock(&want->lock);
	return want;
}

enum reclaim_verdict { RECLAIM_KEEP, RECLAIM_FREED, RECLAIM_QUEUED, RECLAIM_ARM };

static enum reclaim_verdict reclaim_one(struct reclaim_ctl *rc, struct gmm_mm *mm, pfn_t pfn,
					bool ahead);

/*
 * Pages read ahead that the guest never touched, now armed: evicted at once,
 * as an armed page found cold on the next pass would be. They are clean
 * (their slots still hold them) unless the guest wrote one after all between
 * the look and the move, which the dirty log tells: then it is written as
 * any other. Returns how many of the batch's armed pages stay (compacted to
 * the front of rc->arm).
 */
static unsigned reclaim_evict_now(struct reclaim_ctl *rc)
{
	struct gmm_mm *held = NULL;
	unsigned stay = 0;

	for (unsigned i = 0; i < rc->nr_arm; i++) {
		struct reclaim_wb *w = &rc->arm[i];
		enum reclaim_verdict v = RECLAIM_KEEP;

		if (w->now) {
			uint64_t *e;

			if (held != w->mm) {
				held = reclaim_relock(held, w->mm);
				/* the dirty log this batch read may predate the move:
				 * a write between the two would be lost as clean */
				w->mm->dirty_batch = 0;
			}
			e = ept_lookup(&w->mm->ept, w->gpa);
			/* armed just now, not touched since (else it stays, as armed) */
			if (e && *e == gmm_ept_mk(GMM_EPT_ARMED, w->pfn))
				v = reclaim_one(rc, w->mm, w->pfn, false);
		}
		if (v == RECLAIM_FREED)
			rc->freed++;
		else if (v != RECLAIM_QUEUED)
			rc->arm[stay++] = *w;
	}
	reclaim_relock(held, NULL);
	return stay;
}

/* Arm the batch's mapped pages, run by run, evict those read ahead and
 * never touched, and put the rest back inactive. */
static void reclaim_arm(struct reclaim_ctl *rc)
{
	struct reclaim_wb *a = rc->arm;
	unsigned i = 0, stay;

	qsort(a, rc->nr_arm, sizeof(*a), reclaim_cmp_arm);
	while (i < rc->nr_arm) {
		unsigned n = 1;

		while (i + n < rc->nr_arm && a[i + n].mm == a[i].mm &&
		       a[i + n].gpa == a[i].gpa + ((uint64_t)n << PAGE_SHIFT) &&
		       a[i + n].pfn == a[i].pfn + n)
			n++;
		pthread_mutex_lock(&a[i].mm->lock);
		reclaim_arm_run(rc->p, &a[i], n);
		pthread_mutex_unlock(&a[i].mm->lock);
		i += n;
	}
	pfn_t pfn[SWAP_CLUSTER_MAX];

	stay = reclaim_evict_now(rc);
	for (i = 0; i < stay; i++)
		pfn[i] = a[i].pfn;
	reclaim_putback_many(rc->p, pfn, stay);
}

/* Is the page at gpa unwritten since its bit was cleared? mm lock held. */
static bool reclaim_clean(struct gmm_mm *mm, gpa_t gpa, uint64_t batch)
{
	uint64_t bit = gpa >> PAGE_SHIFT;

	if (!mm->cfg.ops->dirty_get || !mm->dirty)
		return false;
	if (mm->dirty_batch != batch) {
		if (mm->cfg.ops->dirty_get(mm->cfg.guest, mm->dirty))
			return false;
		mm->dirty_batch = batch;
	}
	return !(mm->dirty[bit / 64] & (1ULL << (bit % 64)));
}

/*
 * One isolated frame: arm it (keep), drop it (freed) or queue it for
 * writing. A page read ahead and not looked at since (ahead) is judged by
 * its guest PTE's accessed bit: used, it is armed as any page; never used,
 * it is armed and evicted in this same batch, and the verdict sizes later
 * read-ahead (swapin.c). mm lock held.
 */
static enum reclaim_verdict reclaim_one(struct reclaim_ctl *rc, struct gmm_mm *mm, pfn_t pfn,
					bool ahead)
{
	struct gmm_pool *p = rc->p;
	struct gmm_frame *f = &p->frames[pfn];
	gpa_t gpa = f->gpa;
	uint64_t *e = ept_lookup(&mm->ept, gpa), swp;

	if (!e)
		return RECLAIM_KEEP;
	if (ept_present(*e) && ept_pfn(*e) == pfn) {
		if (ahead) {
			/* read ahead: was it any use? If not, it goes now */
			ahead = !mm->cfg.ops->young_test(mm->cfg.guest, gpa);
			gmm_swapin_ra_judged(mm, !ahead);
		}
		/* swap full: a page that could leave only by a write stays
		 * mapped (arming it would cost the guest a refault for nothing) */
		if (rc->swap_full && !f->swap && !reclaim_page_is_zero(mm->cfg.ram_hva + gpa))
			return RECLAIM_KEEP;
		/* mapped: arm it (with its neighbours, below) and give it another
		 * round to be touched, unless it was read ahead and never was */
		rc->arm[rc->nr_arm++] = (struct reclaim_wb){ mm, pfn, gpa, ahead };
		return RECLAIM_ARM;
	}
	if (*e != gmm_ept_mk(GMM_EPT_ARMED, pfn))
		return RECLAIM_KEEP;
	if (reclaim_page_is_zero(gmm_pool_slot(p, pfn))) {
		if (f->swap)
			swapd_slot_put(p->swap, f->swap);
		reclaim_free_frame(rc, mm, pfn, ept_mk_swp(GMM_SWP_ZERO, 0), gpa);
		gmm_count(p, zero_elided, 1);
		MV_PROBE(evict_zero, mm->slot, gpa, pfn);
		return RECLAIM_FREED;
	}
	if (f->swap) {
		if (reclaim_clean(mm, gpa, rc->batch)) {
			swp = ept_mk_swp(GMM_SWP_FILE, f->swap);
			p->slots[f->swap].stamp = (uint32_t)__atomic_fetch_add(&p->nonresident_age, 1, __ATOMIC_RELAXED);
			reclaim_free_frame(rc, mm, pfn, swp, gpa);
			gmm_count(p, clean_dropped, 1);
			MV_PROBE(evict_clean, mm->slot, gpa, pfn, ept_swp_offset(swp));
			return RECLAIM_FREED;
		}
		/* written since it was read: the slot's copy is stale (and its
		 * slot free for the write, swap full or not) */
		swapd_slot_put(p->swap, f->swap);
		f->swap = 0;
	} else if (rc->swap_full) {
		/* no slot to be had: not queued for a write that cannot start */
		gmm_count(p, swap_full, 1);
		return RECLAIM_KEEP;
	}
	rc->wb[rc->nr_wb++] = (struct reclaim_wb){ mm, pfn, gpa, false };
	return RECLAIM_QUEUED;
}

/* Give a queued page back: it stays resident, armed. mm lock held. */
static void reclaim_unqueue(struct gmm_pool *p, struct gmm_mm *mm, pfn_t pfn)
{
	pthread_cond_broadcast(&mm->wb_done);
	reclaim_putback(p, pfn, GMM_LRU_INACTIVE);
}

/* Finish one write: the page goes, or on error it stays and the slot is retired. */
static void reclaim_write_done(struct reclaim_ctl *rc, struct reclaim_wb *w, uint64_t slot, int res)
{
	struct gmm_pool *p = rc->p;
	uint64_t *e = ept_lookup(&w->mm->ept, w->gpa);

	/* refaults wait for the write (the entry says writeback) */
	GMM_BUG_ON(!e || *e != gmm_ept_mk(GMM_EPT_WB, w->pfn));
	*e = gmm_ept_mk(GMM_EPT_ARMED, w->pfn);
	if (res) {
		swapd_slot_retire(p->swap, slot);
		gmm_count(p, write_errors, 1);
		mv_warn("swap write of GPA 0x%llx to slot %llu failed (%s): the page stays in memory, "
			"the slot is retired", (unsigned long long)w->gpa, (unsigned long long)slot,
			strerror(-res));
		reclaim_unqueue(p, w->mm, w->pfn);
		return;
	}
	/* owner and gpa are read by other guests' read-ahead, which checks
	 * its own EPT entry before it believes them: atomic, not locked */
	p->slots[slot].stamp = (uint32_t)__atomic_fetch_add(&p->nonresident_age, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&p->slots[slot].gpa, w->gpa, __ATOMIC_RELAXED);
	__atomic_store_n(&p->slots[slot].owner, (uint16_t)(w->mm->slot + 1), __ATOMIC_RELAXED);
	reclaim_free_frame(rc, w->mm, w->pfn, ept_mk_swp(GMM_SWP_FILE, slot), w->gpa);
	pthread_cond_broadcast(&w->mm->wb_done);
	gmm_count(p, pswpout, 1);
	MV_PROBE(evict_written, w->mm->slot, w->gpa, w->pfn, slot);
	rc->freed++;
}

/*
 * Mark a queued page writeback, unless a refault mapped it since reclaim_one
 * queued it (the mm lock was dropped in between): then it is in use and goes
 * back to the LRU, its frame with it. mm lock held.
 */
static bool reclaim_start_write(struct reclaim_ctl *rc, struct reclaim_wb *w)
{
	uint64_t *e = ept_lookup(&w->mm->ept, w->gpa);

	if (!e || *e != gmm_ept_mk(GMM_EPT_ARMED, w->pfn)) {
		reclaim_unqueue(rc->p, w->mm, w->pfn);
		return false;
	}
	/* refaults wait for the write instead of racing it */
	*e = gmm_ept_mk(GMM_EPT_WB, w->pfn);
	return true;
}


/* Write the queued pages to neighbouring slots in one io_uring batch. */
static void reclaim_write(struct reclaim_ctl *rc)
{
	struct gmm_pool *p = rc->p;
	struct swapd_ring *ring = gmm_thread_ring();
	struct reclaim_wb wb[SWAP_CLUSTER_MAX];
	uint64_t slots[SWAP_CLUSTER_MAX];
	struct swapd_io io[SWAP_CLUSTER_MAX];
	gmm_test_hook_fn *hook = __atomic_load_n(&p->test_hook, __ATOMIC_ACQUIRE);
	struct gmm_mm *held = NULL;
	unsigned n = 0, got;

	for (unsigned i = 0; i < rc->nr_wb && hook; i++)
		hook(p, GMM_TEST_WRITEBACK, rc->wb[i].mm, rc->wb[i].gpa, p->test_arg);
	for (unsigned i = 0; i < rc->nr_wb; i++) {
		held = reclaim_relock(held, rc->wb[i].mm);
		if (reclaim_start_write(rc, &rc->wb[i]))
			wb[n++] = rc->wb[i];
	}
	reclaim_relock(held, NULL);
	got = ring && n ? swapd_slot_alloc(p->swap, slots, n) : 0;
	for (unsigned i = 0; i < n; i++) {
		if (i < got) {
			io[i] = (struct swapd_io){ .slot = slots[i], .buf = gmm_pool_slot(p, wb[i].pfn) };
			continue;
		}
		/* no slot: the page stays, armed */
		pthread_mutex_lock(&wb[i].mm->lock);
		*ept_lookup(&wb[i].mm->ept, wb[i].gpa) = gmm_ept_mk(GMM_EPT_ARMED, wb[i].pfn);
		gmm_count(p, swap_full, 1);
		reclaim_unqueue(p, wb[i].mm, wb[i].pfn);
		pthread_mutex_unlock(&wb[i].mm->lock);
	}
	if (!got)
		return;
	swapd_write(p->swap, ring, io, got);
	held = NULL;
	for (unsigned i = 0; i < got; i++) {
		held = reclaim_relock(held, wb[i].mm);
		reclaim_write_done(rc, &wb[i], slots[i], io[i].res);
	}
	reclaim_relock(held, NULL);
}

/* One batch of at most max frames off a guest's inactive tail. mms_lock
 * held, the guest not dying (teardown holds reclaim_lock while it frees the
 * guest's frames). Returns frames scanned. */
unsigned gmm_vmscan_batch(struct reclaim_ctl *rc, struct gmm_mm *mm, unsigned max)
{
	struct gmm_pool *p = rc->p;
	pfn_t iso[SWAP_CLUSTER_MAX], keep[SWAP_CLUSTER_MAX];
	bool ahead[SWAP_CLUSTER_MAX];
	unsigned n, nr_keep = 0;

	pthread_mutex_lock(&p->lock);
	reclaim_age_active(p, mm);
	n = reclaim_isolate(p, mm, iso, ahead, MIN(max, (unsigned)SWAP_CLUSTER_MAX));
	rc->batch = ++p->reclaim_batches;
	pthread_mutex_unlock(&p->lock);
	/* swap full: only zero pages and clean swap-cache pages can leave */
	rc->swap_full = n && !swapd_free_slots(p->swap);
	rc->nr_wb = rc->nr_arm = rc->nr_release = 0;
	/* the verdicts under one hold of the guest's lock: each takes well
	 * under a microsecond, a contended round trip of the lock more */
	pthread_mutex_lock(&mm->lock);
	for (unsigned i = 0; i < n; i++) {
		enum reclaim_verdict v;

		GMM_BUG_ON(p->frames[iso[i]].owner != mm->slot + 1);
		v = reclaim_one(rc, mm, iso[i], ahead[i]);
		if (v == RECLAIM_KEEP)
			keep[nr_keep++] = iso[i];
		else if (v == RECLAIM_FREED)
			rc->freed++;
	}
	pthread_mutex_unlock(&mm->lock);
	reclaim_putback_many(p, keep, nr_keep);
	if (rc->nr_arm)
		reclaim_arm(rc);
	if (rc->nr_wb)
		reclaim_write(rc);
	gmm_reclaim_release(rc);
	return n;
}
