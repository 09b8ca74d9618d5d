// SPDX-License-Identifier: MIT
/*
 * The fault handler, handle_mm_fault for guests: find the VMA, read the EPT
 * entry, take frames from the pool, install them, record them in the EPT
 * table and the counters.
 *
 * Fault-around. A round trip through userspace costs ~40 us here against
 * ~1 us to install a page that nobody waits for, so one fault installs a
 * window of neighbours too, when frames are plentiful. The window doubles
 * while faults land where the last window ended (sequential access, up to
 * cfg.fault_around pages) and falls back to a small aligned block around the
 * fault otherwise. When the pool is overcommitted (the guests' RAM adds up to
 * more than the pool) it shrinks to the faulting page alone as free frames
 * approach the high watermark. Frames come as buddy blocks, so a window is
 * usually one block and one ioctl.
 */
#include "mm.h"

#include <errno.h>

#define FAULT_AROUND_BASE 16 /* pages around a non-sequential fault */

static unsigned fault_floor_pow2(uint64_t n)
{
	unsigned order = 0;

	while ((2ULL << order) <= n)
		order++;
	return order;
}

/* The window for a fault at gpa in RAM vma: [*start, *end). mm lock held. */
static void fault_window(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa,
			 gpa_t *start, gpa_t *end)
{
	struct gmm_pool *p = mm->pool;
	uint64_t max = mm->cfg.fault_around ? mm->cfg.fault_around : 1;
	uint64_t free = p->buddy.nr_free, spare, window;

	if (gpa == mm->ra_next && mm->ra_window)
		window = MIN((uint64_t)mm->ra_window * 2, max);
	else
		window = MIN((uint64_t)FAULT_AROUND_BASE, max);
	/* with the pool overcommitted, only frames above the high watermark are
	 * spent on neighbours; otherwise every guest's RAM fits and none can starve */
	if (__atomic_load_n(&p->committed, __ATOMIC_RELAXED) > p->nr_frames)
		spare = free > p->wmark_high ? free - p->wmark_high : 0;
	else
		spare = free;
	if (window > spare)
		window = spare ? 1ULL << fault_floor_pow2(spare) : 1;
	if (gpa == mm->ra_next) {
		*start = gpa;
	} else {
		*start = ALIGN_DOWN(gpa, window << PAGE_SHIFT);
		if (*start < vma->start)
			*start = vma->start;
	}
	*end = MIN(*start + (window << PAGE_SHIFT), vma->end);
	mm->ra_window = (unsigned)window;
	mm->ra_next = *end;
}

/* Pages from gpa (not beyond end) whose EPT entries are empty, in a row. */
static uint64_t fault_run(struct gmm_mm *mm, gpa_t gpa, gpa_t end)
{
	uint64_t n = 0;

	for (; gpa < end; gpa += PAGE_SIZE, n++) {
		uint64_t *e = ept_lookup(&mm->ept, gpa);

		if (e && !ept_none(*e))
			break;
	}
	return n;
}

/* Record npages installed at gpa from pfn. mm lock held. */
static int fault_record(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t npages)
{
	for (uint64_t i = 0; i < npages; i++) {
		int ret = ept_map(&mm->ept, gpa + (i << PAGE_SHIFT), pfn + i, EPT_RWX | EPT_A);

		if (ret)
			return ret;
		mm->pool->frames[pfn + i].gpa = gpa + (i << PAGE_SHIFT);
	}
	mm->rss += npages;
	if (mm->rss > mm->hiwater_rss)
		mm->hiwater_rss = mm->rss;
	return 0;
}

/*
 * Install up to npages at gpa as one buddy block (smaller if the pool has
 * no block that big). Returns pages installed, 0 if no frame, -errno.
 * Called with the mm lock held; drops it around the ioctl.
 */
static int64_t fault_install_block(struct gmm_mm *mm, gpa_t gpa, uint64_t npages)
{
	unsigned order = MIN(fault_floor_pow2(npages), (unsigned)GMM_MAX_ORDER);
	uint64_t t0 = gmm_now_ns();
	pfn_t pfn = GMM_NO_FRAME;
	int ret;

	for (;; order--) {
		pfn = gmm_pool_alloc(mm->pool, order, mm->cfg.id);
		if (pfn != GMM_NO_FRAME || order == 0)
			break;
	}
	mm->fs.ns_alloc += gmm_now_ns() - t0;
	if (pfn == GMM_NO_FRAME)
		return 0;
	npages = 1ULL << order;
	pthread_mutex_unlock(&mm->lock);
	ret = gmm_uffd_install(mm, gpa, pfn, npages);
	pthread_mutex_lock(&mm->lock);
	if (!ret)
		ret = fault_record(mm, gpa, pfn, npages);
	if (ret) {
		gmm_pool_free(mm->pool, pfn, order);
		return ret;
	}
	return (int64_t)npages;
}

/* Install the empty pages of [gpa, end) in blocks; stops at the first page
 * already there or when frames run out. Returns pages installed or -errno. */
static int64_t fault_install_range(struct gmm_mm *mm, gpa_t gpa, gpa_t end)
{
	uint64_t run = fault_run(mm, gpa, end);
	int64_t done = 0;

	while (run) {
		int64_t n = fault_install_block(mm, gpa, run);

		if (n <= 0)
			return done ? done : n;
		done += n;
		gpa += (uint64_t)n << PAGE_SHIFT;
		run -= (uint64_t)n;
	}
	return done;
}

unsigned gmm_handle_fault(struct gmm_mm *mm, gpa_t gpa)
{
	uint64_t t0 = gmm_now_ns(), *e;
	gpa_t start, end;
	struct gmm_vma *vma;
	unsigned ret = GMM_FAULT_NOPAGE;
	int64_t n;

	pthread_mutex_lock(&mm->lock);
	mm->fs.faults++;
	vma = gmm_vma_find(&mm->vmas, gpa);
	if (!vma || vma->kind != GMM_VMA_RAM) {
		ret = GMM_FAULT_SIGBUS;
		goto out;
	}
	e = ept_lookup(&mm->ept, gpa);
	mm->fs.ns_lookup += gmm_now_ns() - t0;
	if (e && ept_present(*e)) {
		mm->fs.spurious++; /* installed since the event was queued */
		ret = GMM_FAULT_SPURIOUS;
		goto out;
	}
	struct gmm_vma ram = *vma; /* the tree may not be touched while unlocked */

	fault_window(mm, &ram, gpa, &start, &end);
	/* the faulting page first, then what lies after it, then before */
	n = fault_install_range(mm, gpa, end);
	if (n <= 0) {
		ret = n == 0 ? GMM_FAULT_OOM : GMM_FAULT_ERROR;
		goto out;
	}
	mm->fs.installed += (uint64_t)n;
	mm->fs.around += (uint64_t)n - 1;
	if (start < gpa) {
		n = fault_install_range(mm, start, gpa);
		if (n > 0) {
			mm->fs.installed += (uint64_t)n;
			mm->fs.around += (uint64_t)n;
		}
	}
out:
	mm->fs.ns_handler += gmm_now_ns() - t0;
	pthread_mutex_unlock(&mm->lock);
	return ret;
}

int gmm_prefault_range(struct gmm_mm *mm, gpa_t start, gpa_t end)
{
	int64_t n = 0;

	pthread_mutex_lock(&mm->lock);
	for (gpa_t gpa = start; gpa < end; gpa += (uint64_t)n << PAGE_SHIFT) {
		n = fault_install_range(mm, gpa, end);
		if (n <= 0)
			break;
		mm->fs.prefaulted += (uint64_t)n;
	}
	pthread_mutex_unlock(&mm->lock);
	return n < 0 ? (int)n : n == 0 ? -ENOMEM : 0;
}
