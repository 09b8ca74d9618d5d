// SPDX-License-Identifier: MIT
/*
 * Memory a guest gives back (free-page reporting, as virtio-balloon's): the
 * guest says a range of its RAM holds nothing it needs. Its pages are
 * dropped from guest RAM, their frames go back to the pool (an armed frame's
 * slot emptied first), their swap slots are freed, and their EPT entries
 * become empty, so a later access faults in a fresh zero page.
 *
 * It runs as a reclaimer does, holding reclaim_lock, so that no frame of the
 * range is isolated meanwhile (struct gmm_frame). A page a fault thread is
 * installing or reading from swap right now (the tail of a fault-around
 * window, a read-ahead) is waited for first: zapping it under the install
 * would leave an entry that says present over a page that is gone, a fault
 * that never resolves.
 */
#include "guestmm.h"
#include "mm.h"

#include "debug.h"
#include "memvisor/log.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* pages given back under one hold of reclaim_lock: 8 MiB */
#define DISCARD_CHUNK 2048

/* One page's entry. mm lock and reclaim_lock held. 1 if a frame came back. */
static int discard_pte(struct gmm_mm *mm, uint64_t *e)
{
	struct gmm_pool *p = mm->pool;
	bool armed = gmm_ept_armed(*e);
	pfn_t pfn;

	GMM_BUG_ON(*e == GMM_EPT_PENDING || gmm_ept_wb(*e)); /* discard_can() */
	if (gmm_ept_slot(*e)) {
		swapd_slot_put(p->swap, ept_swp_offset(*e));
		mm->swap_ents--;
	}
	if (!ept_present(*e) && !armed) {
		*e = 0;
		return 0;
	}
	pfn = ept_pfn(*e);
	*e = 0;
	if (p->frames[pfn].swap)
		swapd_slot_put(p->swap, p->frames[pfn].swap);
	p->frames[pfn].swap = 0;
	if (armed)
		gmm_pool_release(p, pfn, 1);
	else
		gmm_pool_free(p, pfn, 0);
	mm->rss--;
	return 1;
}

/* May the page at e be dropped now? Not one a fault thread is installing
 * or reading from swap: its pages would be zapped under the install, and
 * the entry would then say present over a page that is gone. mm lock held. */
static bool discard_can(const uint64_t *e)
{
	return !e || (*e != GMM_EPT_PENDING && !gmm_ept_wb(*e));
}

/* Drop [gpa, +n) from guest RAM and give back its frames and slots; every
 * entry of it may be dropped. Returns frames returned, or -errno. */
static int64_t discard_run(struct gmm_mm *mm, gpa_t gpa, uint64_t n)
{
	uint64_t got = 0;

	if (madvise(mm->cfg.ram_hva + gpa, n << PAGE_SHIFT, MADV_DONTNEED))
		return -errno;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t *e = ept_lookup(&mm->ept, gpa + (i << PAGE_SHIFT));

		if (e)
			got += (uint64_t)discard_pte(mm, e);
	}
	return (int64_t)got;
}

/*
 * Wait until no page of [gpa, +npages) is being installed or read: a fault
 * thread may still be filling a fault-around window that reaches into the
 * range, or reading a page of it ahead, when the guest gives it back; it
 * needs only the mm lock (never reclaim_lock) to finish. Every wait drops
 * the lock, and meanwhile a fault-around may mark pages already passed (it
 * fills the part of its window below the faulting page last): so after a
 * wait the scan starts over, and returns only after a whole pass found
 * nothing busy. It ends: with reclaim_lock held no page of the range is
 * armed, written or swapped out meanwhile, so each page can become busy
 * only once or twice (empty -> pending -> present, swapped -> read ->
 * present). mm lock held.
 */
static void discard_wait_idle(struct gmm_mm *mm, gpa_t gpa, uint64_t npages)
{
	uint64_t i = 0;

	while (i < npages) {
		if (discard_can(ept_lookup(&mm->ept, gpa + (i << PAGE_SHIFT)))) {
			i++;
			continue;
		}
		pthread_cond_wait(&mm->wb_done, &mm->lock);
		i = 0;
	}
}

/* Every page of [gpa, +npages), a run of neighbours per madvise. mm lock and
 * reclaim_lock held: with the mm lock no fault maps a page of the range
 * meanwhile (a vCPU touching one waits in its fault for this to finish). */
static int discard_range(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *returned)
{
	int64_t got;

	discard_wait_idle(mm, gpa, npages);
	got = discard_run(mm, gpa, npages);
	if (got < 0)
		return (int)got;
	*returned = (uint64_t)got;
	return 0;
}

/* [gpa, +npages) a chunk at a time, taking reclaim_lock and the mm lock for
 * each: a guest giving back all of a large RAM must not hold up reclaim for
 * every other guest meanwhile. mms_lock held for reading. */
static int discard_chunks(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *returned)
{
	struct gmm_pool *p = mm->pool;
	int ret = 0;

	*returned = 0;
	for (uint64_t done = 0; !ret && done < npages; done += DISCARD_CHUNK) {
		uint64_t n = MIN(npages - done, (uint64_t)DISCARD_CHUNK), got = 0;

		pthread_mutex_lock(&p->reclaim_lock);
		pthread_mutex_lock(&mm->lock);
		ret = discard_range(mm, gpa + (done << PAGE_SHIFT), n, &got);
		pthread_mutex_unlock(&mm->lock);
		pthread_mutex_unlock(&p->reclaim_lock);
		*returned += got;
	}
	return ret;
}

int gmm_mm_discard(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *returned)
{
	struct gmm_pool *p = mm->pool;
	int ret;

	*returned = 0;
	if (gpa % PAGE_SIZE || gpa > mm->cfg.ram_size || npages > (mm->cfg.ram_size - gpa) >> PAGE_SHIFT)
		return -EINVAL;
	if (!p) {
		/* host-managed RAM: the kernel takes the pages back */
		return madvise(mm->cfg.ram_hva + gpa, npages << PAGE_SHIFT, MADV_DONTNEED) ? -errno : 0;
	}
	pthread_rwlock_rdlock(&p->mms_lock);
	ret = discard_chunks(mm, gpa, npages, returned);
	pthread_rwlock_unlock(&p->mms_lock);
	pthread_mutex_lock(&mm->lock);
	mm->fs.reported += npages;
	mm->fs.returned += *returned;
	pthread_mutex_unlock(&mm->lock);
	gmm_count(p, free_reported, npages);
	gmm_count(p, free_returned, *returned);
	return ret;
}

/* Every frame and slot of the guest, back now. mms_lock held for reading. */
static uint64_t discard_all(struct gmm_mm *mm)
{
	uint64_t returned = 0;

	discard_chunks(mm, 0, mm->cfg.ram_size >> PAGE_SHIFT, &returned);
	return returned;
}

void gmm_mm_reap(struct gmm_mm *mm)
{
	gmm_count(mm->pool, free_returned, discard_all(mm));
	__atomic_store_n(&mm->oom_reaped, true, __ATOMIC_RELEASE);
}

void gmm_mm_release(struct gmm_mm *mm)
{
	struct gmm_pool *p = mm->pool;

	/* host-managed RAM goes with the guest's mapping */
	if (!p)
		return;
	/* not counted as frames returned: that counter is the guests' own
	 * reports (and the OOM reaper's); the guest's rss says what it held */
	pthread_rwlock_rdlock(&p->mms_lock);
	discard_all(mm);
	pthread_rwlock_unlock(&p->mms_lock);
}
