// SPDX-License-Identifier: MIT
/*
 * Faults on pages that are not simply absent, as Linux's do_swap_page: an
 * armed page (unmapped by aging, its frame kept) is moved back and activated,
 * a minor fault with no I/O; a swapped-out page is read from its slot
 * through io_uring together with readahead when swap-ins continue a
 * stream: by guest address (the next pages of RAM on swap, whatever their
 * slots, as Linux's VMA-based swap readahead), then by slot (the next slots
 * holding this guest's pages, evicted with it, as swap cluster readahead). A read-ahead read that fails is
 * dropped and counted (readahead_errors): its page stays on swap, and only
 * a demand read of it, should the guest touch it, ends the guest on error. Read-ahead pages are mapped at once, as
 * fault-around maps neighbours (a fault for each would cost a round trip),
 * so a swap-in never finds its page in memory: pages under writeback are
 * waited for instead. The swap cache here is the slot a swapped-in frame
 * keeps; a refault of such a frame while armed counts as a swap-cache hit. The frame keeps its slot (swap cache) and KVM's dirty bit
 * for the page is cleared, so that if the guest does not write it, reclaim
 * can drop it again without a second write. A refault recent enough (its
 * refault distance within the active list, as workingset.c measures it) goes
 * straight to the active list.
 */
#include "mm.h"

#include "memvisor/log.h"
#include "memvisor/probes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SWAP_RA_MAX GMM_BOUNCE_PAGES
#define SWAP_RA_CLUSTER     8    /* swap cluster read-ahead: Linux's page-cluster 3 */
#define SWAP_RA_PROBE       16   /* with few pages read ahead used, one swap-in in 16 reads them */
#define SWAP_RA_JUDGED_MIN  32   /* fewer verdicts than this: no measure yet */
#define SWAP_RA_JUDGED_KEEP 1024 /* verdicts counted before the old ones are halved */

/* Activate a frame the guest just used. Pool lock taken. */
static void swapin_activate(struct gmm_pool *p, pfn_t pfn, enum gmm_lru_list lru)
{
	struct gmm_frame *f = &p->frames[pfn];

	pthread_mutex_lock(&p->lock);
	if (f->flags & GMM_PG_ISOLATED) {
		/* reclaim holds it: tell it to put the frame back active */
		if (lru == GMM_LRU_ACTIVE)
			f->flags |= GMM_PG_REFERENCED;
	} else {
		gmm_lru_del(p, pfn);
		gmm_lru_add(p, pfn, lru);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Move a frame's page from its slot into the guest at gpa; wakes the vCPU. */
static int swapin_map(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t *e)
{
	struct gmm_pool *p = mm->pool;
	int64_t ret = gmm_uffd_move(p, (uintptr_t)mm->cfg.ram_hva + gpa,
				    (uintptr_t)gmm_pool_slot(p, pfn), PAGE_SIZE);

	if (ret != (int64_t)PAGE_SIZE) {
		uint64_t pm = 0;
		int fd = gmm_pagemap_fd();

		/* what holds the guest's address (rarely seen: File exists), for
		 * whoever chases it: pagemap's present, swapped, exclusive bits */
		if (fd < 0 || pread(fd, &pm, 8, (off_t)(((uintptr_t)mm->cfg.ram_hva + gpa) >>
							 PAGE_SHIFT) * 8) != 8)
			pm = 0;
		mv_warn("moving frame %llu back to GPA 0x%llx failed: %s (host page there: present %d, "
			"swapped %d, exclusive %d)", (unsigned long long)pfn, (unsigned long long)gpa,
			strerror(ret < 0 ? (int)-ret : EIO), (int)(pm >> 63 & 1), (int)(pm >> 62 & 1),
			(int)(pm >> 56 & 1));
		return ret < 0 ? (int)ret : -EIO;
	}
	*e = ept_mk_pte(pfn, EPT_RWX | EPT_A);
	p->frames[pfn].gpa = gpa;
	return 0;
}

unsigned gmm_fault_armed(struct gmm_mm *mm, gpa_t gpa, uint64_t *e)
{
	struct gmm_pool *p = mm->pool;
	pfn_t pfn = ept_pfn(*e);

	if (swapin_map(mm, gpa, pfn, e))
		return GMM_FAULT_ERROR;
	swapin_activate(p, pfn, GMM_LRU_ACTIVE);
	if (gmm_wss_refault(mm, gpa))
		return GMM_FAULT_NOPAGE; /* the working-set sampler's: not reclaim's to count */
	gmm_count(p, activate, 1);
	__atomic_add_fetch(&p->nonresident_age, 1, __ATOMIC_RELAXED); /* activations age it too */
	if (p->frames[pfn].swap)
		gmm_count(p, swapcache_hit, 1);
	mm->fs.refaults++;
	MV_PROBE(refault, mm->slot, gpa, pfn, p->frames[pfn].swap);
	return GMM_FAULT_NOPAGE;
}

/* O_DIRECT reads land in a per-thread bounce buffer and are copied into the
 * guest: UFFDIO_MOVE refuses (EBUSY) pages that a direct read just filled. */
struct swapin_batch {
	uint8_t *bounce;
	struct swapd_io io[SWAP_RA_MAX];
	pfn_t pfn[SWAP_RA_MAX];
	gpa_t gpa[SWAP_RA_MAX];
	unsigned n;
	unsigned n_gpa;	/* entries [1, n_gpa) were found by guest address */
};

/* Frames for a swap-in: its data will be copied into the guest, so the
 * frames' slots should be empty; pre-zeroed ones (only when nothing else is
 * free) drop their pages, or the host would hold two pages for one frame. */
pfn_t gmm_alloc_empty_frames(struct gmm_mm *mm, unsigned order)
{
	struct gmm_pool *p = mm->pool;
	bool zeroed;
	pfn_t pfn = gmm_pool_alloc(p, order, (uint16_t)(mm->slot + 1), false, &zeroed);

	if (pfn != GMM_NO_FRAME && zeroed &&
	    madvise(gmm_pool_slot(p, pfn), PAGE_SIZE << order, MADV_DONTNEED)) {
		/* it would hold two pages for one frame: out of the pool instead */
		mv_warn("cannot empty frame %llu for a swap-in: %s", (unsigned long long)pfn,
			strerror(errno));
		__atomic_add_fetch(&p->frames_lost, 1ULL << order, __ATOMIC_RELAXED);
		return GMM_NO_FRAME;
	}
	return pfn;
}

/* Add the swapped-out page at gpa (slot s2, its entry e2) to the batch,
 * with a frame to read into, marked in flight. False when no frame may be
 * had for a bet. mm lock held. */
static bool swapin_ra_add(struct gmm_mm *mm, gpa_t gpa, uint64_t s2, uint64_t *e2,
			  struct swapin_batch *b)
{
	struct gmm_pool *p = mm->pool;
	pfn_t pfn;

	/* readahead is a bet: not with the pool at its last reserve,
	 * nor beyond the guest's limit.max */
	if (gmm_pool_nr_free(p) <= p->wmark_min || gmm_mm_headroom(mm) <= b->n)
		return false;
	pfn = gmm_alloc_empty_frames(mm, 0);
	if (pfn == GMM_NO_FRAME)
		return false;
	*e2 = gmm_ept_mk(GMM_EPT_WB, pfn);
	b->io[b->n] = (struct swapd_io){ .slot = s2, .buf = b->bounce + b->n * PAGE_SIZE };
	b->pfn[b->n] = pfn;
	b->gpa[b->n++] = gpa;
	return true;
}

/* By guest address, as Linux's VMA-based swap readahead: the swapped-out
 * pages after gpa, whatever slots they went to (a stream's pages are
 * evicted in about, not exactly, address order). mm lock held. */
static void swapin_readahead_gpa(struct gmm_mm *mm, gpa_t gpa, unsigned window,
				 struct swapin_batch *b)
{
	for (gpa_t g = gpa + PAGE_SIZE; g < gpa + ((uint64_t)window << PAGE_SHIFT) &&
	     g < mm->cfg.ram_size && b->n < window; g += PAGE_SIZE) {
		uint64_t *e2 = ept_lookup(&mm->ept, g);

		if (!e2 || !gmm_ept_slot(*e2))
			continue;
		if (!swapin_ra_add(mm, g, ept_swp_offset(*e2), e2, b))
			break;
	}
	b->n_gpa = b->n;
}

/* By slot, as Linux's swap cluster readahead: slots after s holding this
 * guest's swapped-out pages, which were evicted with it. mm lock held. */
static void swapin_readahead(struct gmm_mm *mm, uint64_t s, unsigned window, struct swapin_batch *b)
{
	struct gmm_pool *p = mm->pool;

	for (uint64_t s2 = s + 1; s2 < s + window && s2 < p->swap->nr_slots && b->n < window; s2++) {
		struct gmm_slot_info *si = &p->slots[s2];
		gpa_t gpa = __atomic_load_n(&si->gpa, __ATOMIC_RELAXED);
		uint64_t *e2;

		/* another guest's slot info may change under us: the EPT entry,
		 * ours and under our lock, says whether it is really ours */
		if (__atomic_load_n(&si->owner, __ATOMIC_RELAXED) != mm->slot + 1)
			continue;
		e2 = ept_lookup(&mm->ept, gpa);
		if (!e2 || *e2 != ept_mk_swp(GMM_SWP_FILE, s2))
			continue;
		if (!swapin_ra_add(mm, gpa, s2, e2, b))
			break;
	}
}

/* Can reclaim tell whether a page read ahead was used (the VMM reads the
 * guest PTE's accessed bit)? Without that, read-ahead is not sized by use. */
static bool swapin_ra_measured(const struct gmm_mm *mm)
{
	return mm->cfg.ops->young_clear && mm->cfg.ops->young_test;
}

/* A read-ahead page that could not be put in: a bet that did not come
 * off, not the guest's loss. The page stays on disk for a demand read,
 * which reports any error. mm lock held. */
static void swapin_ra_drop(struct gmm_mm *mm, struct swapin_batch *b, unsigned i)
{
	struct gmm_pool *p = mm->pool;

	*ept_lookup(&mm->ept, b->gpa[i]) = ept_mk_swp(GMM_SWP_FILE, b->io[i].slot);
	gmm_count(p, readahead_errors, b->io[i].res != 0);
	gmm_pool_free(p, b->pfn[i], 0);
}

/* A read-ahead page now in the guest: its books, as swapin_done's. mm lock held. */
static void swapin_ra_mapped(struct gmm_mm *mm, struct swapin_batch *b, unsigned i)
{
	struct gmm_pool *p = mm->pool;
	struct gmm_frame *f = &p->frames[b->pfn[i]];

	*ept_lookup(&mm->ept, b->gpa[i]) = ept_mk_pte(b->pfn[i], EPT_RWX | EPT_A);
	f->gpa = b->gpa[i];
	f->swap = b->io[i].slot;
	pthread_mutex_lock(&p->lock);
	gmm_lru_add(p, b->pfn[i], GMM_LRU_INACTIVE);
	/* reclaim asks its guest PTE whether it was used (swapin_ra_run cleared it) */
	if (swapin_ra_measured(mm))
		f->flags |= GMM_PG_AHEAD;
	pthread_mutex_unlock(&p->lock);
	mm->swap_ents--;
	if (++mm->rss > mm->hiwater_rss)
		mm->hiwater_rss = mm->rss;
	gmm_wss_installed(mm, b->gpa[i]); /* a sample must not be used unseen */
	gmm_count(p, readahead, 1);
	gmm_count(p, readahead_addr, i < b->n_gpa);
	gmm_count(p, pswpin, 1);
}

/*
 * Put the read-ahead pages [i, i + n) in, read fine and at neighbouring
 * GPAs (so neighbours in the bounce buffer too): mapped into the guest right
 * away, as fault-around does, since a later fault would cost a round trip;
 * if the guest does not use them they are clean, and reclaim drops them
 * without a write. One dirty-log clear and one UFFDIO_COPY for the run: each
 * ioctl costs ~12 us here whatever its size, and a stream's read-ahead is
 * mostly such runs. mm lock held.
 */
static void swapin_ra_run(struct gmm_mm *mm, struct swapin_batch *b, unsigned i, unsigned n)
{
	struct gmm_pool *p = mm->pool;
	int64_t done;
	unsigned k = 0;

	/* before the guest can reach the pages, or a write in between would
	 * be lost from the dirty log and the page later dropped as clean */
	if (mm->cfg.ops->dirty_clear)
		mm->cfg.ops->dirty_clear(mm->cfg.guest, b->gpa[i], n);
	/* not mapped yet: the guest's first touch of each will set it again */
	if (swapin_ra_measured(mm))
		mm->cfg.ops->young_clear(mm->cfg.guest, b->gpa[i], n);
	done = gmm_uffd_copy(p, (uintptr_t)mm->cfg.ram_hva + b->gpa[i], (uintptr_t)b->io[i].buf,
			     (uint64_t)n << PAGE_SHIFT);
	for (; done > 0 && k < (unsigned)(done >> PAGE_SHIFT); k++)
		swapin_ra_mapped(mm, b, i + k);
	for (; k < n; k++)
		swapin_ra_drop(mm, b, i + k);
}

/* Put in the batch's read-ahead pages (1 on), run by run. mm lock held. */
static void swapin_ra_done(struct gmm_mm *mm, struct swapin_batch *b)
{
	for (unsigned i = 1, n; i < b->n; i += n) {
		if (b->io[i].res) {
			swapin_ra_drop(mm, b, i);
			n = 1;
			continue;
		}
		for (n = 1; i + n < b->n && !b->io[i + n].res &&
		     b->gpa[i + n] == b->gpa[i] + ((uint64_t)n << PAGE_SHIFT); n++)
			;
		swapin_ra_run(mm, b, i, n);
	}
}

/* The faulting page read: copied from the bounce buffer straight into the
 * guest (no page leaves a range, so no TLB shootdown, unlike a move out of
 * the frame's slot), its slot kept, its refault distance judged. */
static unsigned swapin_done(struct gmm_mm *mm, gpa_t gpa, uint64_t s, pfn_t pfn, uint64_t *e,
			   const void *data)
{
	struct gmm_pool *p = mm->pool;
	struct gmm_frame *f = &p->frames[pfn];
	uint32_t distance = (uint32_t)__atomic_load_n(&p->nonresident_age, __ATOMIC_RELAXED) -
			    p->slots[s].stamp;
	bool recent;

	/* from now on KVM tells whether the guest writes it: cleared before the
	 * guest can reach the page, so that no write slips in between */
	if (mm->cfg.ops->dirty_clear)
		mm->cfg.ops->dirty_clear(mm->cfg.guest, gpa, 1);
	if (gmm_uffd_copy(p, (uintptr_t)mm->cfg.ram_hva + gpa, (uintptr_t)data, PAGE_SIZE) !=
	    (int64_t)PAGE_SIZE)
		return GMM_FAULT_ERROR;
	*e = ept_mk_pte(pfn, EPT_RWX | EPT_A);
	f->gpa = gpa;
	f->swap = s;
	mm->swap_ents--;
	if (++mm->rss > mm->hiwater_rss)
		mm->hiwater_rss = mm->rss;
	pthread_mutex_lock(&p->lock);
	recent = distance <= mm->lru[GMM_LRU_ACTIVE].nr; /* the LRU sizes: pool lock */
	gmm_lru_add(p, pfn, recent ? GMM_LRU_ACTIVE : GMM_LRU_INACTIVE);
	pthread_mutex_unlock(&p->lock);
	gmm_count(p, workingset_refault, 1);
	gmm_count(p, workingset_activate, recent);
	gmm_count(p, pswpin, 1);
	gmm_count(p, pgmajfault, 1);
	mm->fs.swapins++;
	return GMM_FAULT_NOPAGE;
}

void gmm_swapin_ra_judged(struct gmm_mm *mm, bool used)
{
	struct gmm_pool *p = mm->pool;

	if (used)
		mm->ra_used++;
	else
		mm->ra_unused++;
	if (mm->ra_used + mm->ra_unused >= SWAP_RA_JUDGED_KEEP) {
		/* what the guest does now counts, not what it did long ago */
		mm->ra_used /= 2;
		mm->ra_unused /= 2;
	}
	if (used)
		gmm_count(p, readahead_used, 1);
	else
		gmm_count(p, readahead_unused, 1);
}

/*
 * Pages of swap cluster read-ahead for a swap-in that continues no stream:
 * the slots after its own hold pages evicted with it, which a guest that
 * touched them together needs together (Linux reads the 2^page_cluster
 * slots around, sized by how many of those it read ahead were faulted on
 * since). Here the measure is the pages read ahead that the guest had
 * touched when reclaim came to them: most (random access over a set larger
 * than the pool: they are evicted and needed in about the same order) and
 * it reads a cluster of 8; few (a skewed set, whose cold pages' neighbours
 * are cold too, and would push hot pages out) and it reads the page alone,
 * but for one swap-in in SWAP_RA_PROBE, which keeps the measure going.
 */
static unsigned swapin_cluster(struct gmm_mm *mm)
{
	uint64_t used = mm->ra_used, all = used + mm->ra_unused;

	mm->swapin_nr++;
	if (all >= SWAP_RA_JUDGED_MIN && used * 2 >= all)
		return SWAP_RA_CLUSTER;
	if (all >= SWAP_RA_JUDGED_MIN && used * 4 >= all)
		return SWAP_RA_CLUSTER / 2;
	return mm->swapin_nr % SWAP_RA_PROBE == 0 ? SWAP_RA_CLUSTER : 1;
}

unsigned gmm_fault_swapin(struct gmm_mm *mm, gpa_t gpa, uint64_t *e)
{
	struct gmm_pool *p = mm->pool;
	uint64_t s = ept_swp_offset(*e);
	struct swapd_ring *ring = gmm_thread_ring();
	struct swapin_batch b = { .n = 1, .bounce = gmm_thread_bounce() };
	unsigned window, ret;
	bool stream;
	pfn_t pfn;

	if (!ring || !b.bounce)
		return GMM_FAULT_ERROR;
	if (!gmm_mm_headroom(mm))
		return GMM_FAULT_LIMIT;
	pfn = gmm_alloc_empty_frames(mm, 0);
	if (pfn == GMM_NO_FRAME)
		return GMM_FAULT_RETRY;
	/* a stream by address or by slot doubles the window; anything else
	 * reads the page alone */
	stream = mm->swapin_window && gpa == mm->swapin_next_gpa; /* 0 before any swap-in */
	window = s == mm->swapin_next || stream ?
		 MIN(MAX(mm->swapin_window * 2, 2u), (unsigned)SWAP_RA_MAX) : 1;
	b.io[0] = (struct swapd_io){ .slot = s, .buf = b.bounce };
	b.pfn[0] = pfn;
	b.gpa[0] = gpa;
	if (stream)
		swapin_readahead_gpa(mm, gpa, window, &b);
	swapin_readahead(mm, s, stream || window > 1 || !swapin_ra_measured(mm) ? window :
			 swapin_cluster(mm), &b);
	*e = gmm_ept_mk(GMM_EPT_WB, pfn); /* other faults on it wait for the read */
	mm->charging += b.n;
	pthread_mutex_unlock(&mm->lock);
	swapd_read(p->swap, ring, b.io, b.n);
	pthread_mutex_lock(&mm->lock);
	mm->charging -= b.n;
	/* the faulting page first: its copy wakes the vCPU */
	e = ept_lookup(&mm->ept, gpa);
	if (b.io[0].res) {
		*e = ept_mk_swp(GMM_SWP_FILE, s);
		gmm_pool_free(p, pfn, 0);
		gmm_count(p, read_errors, 1);
		ret = GMM_FAULT_IOERR;
	} else {
		ret = swapin_done(mm, gpa, s, pfn, e, b.bounce);
		if (ret != GMM_FAULT_NOPAGE) {
			/* not installed: the page stays on disk */
			*e = ept_mk_swp(GMM_SWP_FILE, s);
			gmm_pool_free(p, pfn, 0);
		}
	}
	swapin_ra_done(mm, &b);
	mm->swapin_next = b.io[b.n - 1].slot + 1;
	mm->swapin_next_gpa = gpa + PAGE_SIZE;
	for (unsigned i = 1; i < b.n; i++)
		if (b.gpa[i] >= mm->swapin_next_gpa)
			mm->swapin_next_gpa = b.gpa[i] + PAGE_SIZE;
	mm->swapin_window = window;
	pthread_cond_broadcast(&mm->wb_done);
	return ret;
}
