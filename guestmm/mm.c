// SPDX-License-Identifier: MIT
/* A guest's mm: creation, VMAs, start (prefault, fault thread) and teardown. */
#include "mm.h"

#include "debug.h"
#include "memvisor/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int gmm_mm_create(struct gmm_pool *pool, const struct gmm_mm_config *cfg,
		  struct gmm_mm **out, char *err, size_t errlen)
{
	struct gmm_mm *mm = calloc(1, sizeof(*mm));
	struct gmm_vma ram = {
		.start = 0, .end = cfg->ram_size, .kind = GMM_VMA_RAM, .name = "ram",
		.flags = GMM_VM_READ | GMM_VM_WRITE | GMM_VM_EXEC, .hva = (uintptr_t)cfg->ram_hva,
	};
	int ret;

	if (!mm) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	mm->cfg = *cfg;
	mm->pool = pool;
	mm->slot = -1;
	for (unsigned l = 0; l < GMM_NR_LRU; l++)
		gmm_list_init(&mm->lru[l]);
	pthread_mutex_init(&mm->lock, NULL);
	pthread_cond_init(&mm->wb_done, NULL);
	if (cfg->ops && cfg->ops->dirty_get) {
		mm->dirty = calloc((cfg->ram_size / PAGE_SIZE + 63) / 64, sizeof(uint64_t));
		if (!mm->dirty) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
			goto err;
		}
	}
	gmm_vma_tree_init(&mm->vmas);
	ret = ept_table_init(&mm->ept);
	if (!ret)
		ret = gmm_mm_add_vma(mm, &ram);
	if (ret) {
		snprintf(err, errlen, "cannot set up guest memory: %s", strerror(-ret));
		goto err;
	}
	if (pool) {
		__atomic_add_fetch(&pool->committed, cfg->ram_size >> PAGE_SHIFT, __ATOMIC_RELAXED);
		mm->committed = true;
		/* 4 KiB pages: UFFDIO_MOVE moves PTEs, and dirty tracking wants them */
		madvise(cfg->ram_hva, cfg->ram_size, MADV_NOHUGEPAGE);
		if (pool->uffd < 0) {
			snprintf(err, errlen, "the frame pool has no userfaultfd");
			ret = -EINVAL;
			goto err;
		}
		ret = gmm_uffd_register(mm, err, errlen);
		if (ret)
			goto err;
	}
	*out = mm;
	return 0;
err:
	gmm_mm_destroy(mm);
	return ret;
}

int gmm_mm_add_vma(struct gmm_mm *mm, const struct gmm_vma *vma)
{
	int ret;

	pthread_mutex_lock(&mm->lock);
	ret = gmm_vma_insert(&mm->vmas, vma);
	if (!ret && vma->kind != GMM_VMA_MMIO)
		mm->total_vm += vma->end - vma->start;
	if (!ret && (vma->flags & GMM_VM_LOCKED))
		mm->locked_vm += vma->end - vma->start;
	pthread_mutex_unlock(&mm->lock);
	return ret;
}

int gmm_mm_start(struct gmm_mm *mm, char *err, size_t errlen)
{
	int ret;

	if (!mm->pool)
		return 0;
	if (mm->cfg.prefault == GMM_PREFAULT_ALL) {
		ret = gmm_prefault_range(mm, 0, mm->cfg.ram_size);
		if (ret) {
			snprintf(err, errlen, "--prefault all: %s",
				 ret == -ENOMEM ? "the pool is smaller than guest RAM" : strerror(-ret));
			return ret;
		}
	}
	/* an estimate, not a service: the guest runs without it */
	ret = gmm_wss_start(mm);
	if (ret)
		mv_warn("no working-set sampling for this guest: %s", strerror(-ret));
	return 0;
}

void gmm_mm_stop(struct gmm_mm *mm)
{
	struct gmm_pool *p = mm->pool;

	gmm_wss_stop(mm);
	/* the write lock waits for this guest's faults in hand, and reclaim's */
	if (p && mm->slot >= 0) {
		pthread_rwlock_wrlock(&p->mms_lock);
		mm->stopped = true;
		pthread_rwlock_unlock(&p->mms_lock);
	}
}

/* A frame the guest held goes back, with the slot it cached. An armed
 * frame's page is in its slot, with the guest's data: it is emptied first,
 * or the next guest given the frame would find that data. */
static void mm_free_frame(struct gmm_mm *mm, pfn_t pfn, bool armed)
{
	struct gmm_pool *p = mm->pool;
	struct gmm_frame *f = &p->frames[pfn];

	if (f->swap)
		swapd_slot_put(p->swap, f->swap);
	f->swap = 0;
	if (armed)
		gmm_pool_release(p, pfn, 1);
	else
		gmm_pool_free(p, pfn, 0);
	mm->rss--;
}

/* mm lock held, and reclaim_lock: no frame of the guest is isolated */
static int mm_free_pte(uint64_t *pte, gpa_t addr, void *priv)
{
	struct gmm_mm *mm = priv;
	struct gmm_pool *p = mm->pool;

	(void)addr;
	/* no fault and no reclaim is at work on a guest being torn down */
	GMM_BUG_ON(*pte == GMM_EPT_PENDING || gmm_ept_wb(*pte));
	if (ept_present(*pte) || gmm_ept_armed(*pte)) {
		mm_free_frame(mm, ept_pfn(*pte), gmm_ept_armed(*pte));
	} else if (gmm_ept_slot(*pte)) {
		swapd_slot_put(p->swap, ept_swp_offset(*pte));
		mm->swap_ents--;
	}
	*pte = 0;
	return 0;
}

void gmm_mm_destroy(struct gmm_mm *mm)
{
	static const struct ept_walk_ops free_ops = { .pte_cb = mm_free_pte };

	if (!mm)
		return;
	gmm_wss_destroy(mm);
	if (mm->pool && mm->slot >= 0) {
		pthread_rwlock_wrlock(&mm->pool->mms_lock);
		mm->stopped = mm->dying = true;
		pthread_rwlock_unlock(&mm->pool->mms_lock);
	}
	if (mm->pool && mm->ept.root) {
		struct gmm_pool *p = mm->pool;

		/* drop the guest's pages first, so no frame is free while its page
		 * lives (a failure leaves pages in RAM that is unmapped next) */
		if (madvise(mm->cfg.ram_hva, mm->cfg.ram_size, MADV_DONTNEED))
			mv_warn("cannot drop guest RAM at teardown: %s", strerror(errno));
		/* teardown is a reclaimer too: with reclaim_lock held no frame of
		 * this guest is isolated while its frames are freed */
		pthread_rwlock_rdlock(&p->mms_lock);
		pthread_mutex_lock(&p->reclaim_lock);
		pthread_mutex_lock(&mm->lock);
		ept_walk_range(&mm->ept, 0, mm->cfg.ram_size, &free_ops, mm);
		pthread_mutex_unlock(&mm->lock);
		pthread_mutex_unlock(&p->reclaim_lock);
		pthread_rwlock_unlock(&p->mms_lock);
	}
	if (mm->pool)
		gmm_uffd_unregister(mm);
	if (mm->committed)
		__atomic_sub_fetch(&mm->pool->committed, mm->cfg.ram_size >> PAGE_SHIFT,
				   __ATOMIC_RELAXED);
	if (mm->ept.root)
		ept_table_destroy(&mm->ept);
	gmm_vma_tree_destroy(&mm->vmas);
	pthread_cond_destroy(&mm->wb_done);
	pthread_mutex_destroy(&mm->lock);
	free(mm->dirty);
	free(mm);
}

bool gmm_mm_vma_at(struct gmm_mm *mm, gpa_t gpa, struct gmm_vma *out)
{
	struct gmm_vma *v;

	pthread_mutex_lock(&mm->lock);
	v = gmm_vma_find(&mm->vmas, gpa);
	if (v)
		*out = *v;
	pthread_mutex_unlock(&mm->lock);
	return v != NULL;
}

uint64_t gmm_mm_ept_entry(struct gmm_mm *mm, gpa_t gpa)
{
	uint64_t *e, v;

	pthread_mutex_lock(&mm->lock);
	e = ept_lookup(&mm->ept, gpa);
	v = e ? *e : 0;
	pthread_mutex_unlock(&mm->lock);
	return v;
}

