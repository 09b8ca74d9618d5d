// SPDX-License-Identifier: MIT
/*
 * Memory a guest gives back (free-page reporting, as virtio-balloon's): the
 * guest says a range of its RAM holds nothing it needs. Its pages are
 * dropped from guest RAM, their frames go back to the pool (an armed frame's
 * slot emptied first), their swap slots are freed, and their EPT entries
 * become empty, so a later access faults in a fresh zero page.
 *
 * It runs as a reclaimer does, holding reclaim_lock, so that no frame of the
 * range is isolated meanwhile (struct gmm_frame); a page another fault thread
 * is installing or reading from swap is left as it is: the guest touched it
 * again, which is its right, and it stays the guest's.
 */
#include "mm.h"

#include "debug.h"
#include "memvisor/log.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* One page's entry. mm lock and reclaim_lock held. 1 if a frame came back. */
static int discard_pte(struct gmm_mm *mm, uint64_t *e)
{
	struct gmm_pool *p = mm->pool;
	bool armed = gmm_ept_armed(*e);
	pfn_t pfn;

	if (*e == GMM_EPT_PENDING || gmm_ept_wb(*e))
		return 0; /* in a fault thread's hands: the guest wants it */
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

int gmm_mm_discard(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *returned)
{
	struct gmm_pool *p = mm->pool;
	uint64_t got = 0;

	*returned = 0;
	if (gpa % PAGE_SIZE || gpa > mm->cfg.ram_size || npages > (mm->cfg.ram_size - gpa) >> PAGE_SHIFT)
		return -EINVAL;
	if (!p) {
		/* host-managed RAM: the kernel takes the pages back */
		return madvise(mm->cfg.ram_hva + gpa, npages << PAGE_SHIFT, MADV_DONTNEED) ? -errno : 0;
	}
	pthread_rwlock_rdlock(&p->mms_lock);
	pthread_mutex_lock(&p->reclaim_lock);
	pthread_mutex_lock(&mm->lock);
	/* with the mm lock held no fault can map a page of the range meanwhile:
	 * a vCPU touching one waits in its fault for this to finish */
	if (madvise(mm->cfg.ram_hva + gpa, npages << PAGE_SHIFT, MADV_DONTNEED)) {
		int ret = -errno;

		pthread_mutex_unlock(&mm->lock);
		pthread_mutex_unlock(&p->reclaim_lock);
		pthread_rwlock_unlock(&p->mms_lock);
		return ret;
	}
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t *e = ept_lookup(&mm->ept, gpa + (i << PAGE_SHIFT));

		if (e)
			got += (uint64_t)discard_pte(mm, e);
	}
	mm->fs.reported += npages;
	mm->fs.returned += got;
	pthread_mutex_unlock(&mm->lock);
	pthread_mutex_unlock(&p->reclaim_lock);
	pthread_rwlock_unlock(&p->mms_lock);
	gmm_count(p, free_reported, npages);
	gmm_count(p, free_returned, got);
	*returned = got;
	return 0;
}
