// SPDX-License-Identifier: MIT
/*
 * Zero pages. While the pool is overcommitted, a read of a page never
 * written takes no frame: the host's zero page is mapped there, write-
 * protected, as Linux maps its zero page on a read fault of anonymous
 * memory (with a window of empty neighbours: they cost nothing). The first
 * write comes back as a write-protect fault; the zero page is zapped and the
 * page faults in as a new one.
 *
 * Mapping and protecting are two ioctls, and a write landing between them
 * is served by the kernel: a private copy of the zero page, outside the
 * pool. Only the faulting vCPU is held meanwhile, so with one vCPU that
 * cannot happen; with several (cfg.zero_reads_racy) a read maps at most
 * 16 pages and holds a spare frame for each meanwhile, and pagemap tells
 * afterwards which pages a write got to: those take spare frames
 * (zero_raced).
 */
#include "mm.h"

#include "memvisor/log.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* the block of pages whose empty ones a read maps at once: they cost no
 * frame, only the host's page tables (one page of them for 512), and each
 * saves a round trip if the guest reads it too (on the read-mostly mix,
 * 16 pages: 23245 faults, 64: 17640, 512: 14200, with 13003 written) */
#define ZERO_WINDOW        512
/* most pages one gmm_unzero_range() looks at: a window's worth */
#define ZERO_UNZERO_MAX  512

/* Zap the zero pages of [gpa, +n) whose bits are set in ours; 0 or -errno. */
static int zero_zap_marked(struct gmm_mm *mm, gpa_t gpa, uint64_t n, const uint64_t *ours)
{
	for (uint64_t i = 0, run; i < n; i += run) {
		bool mine = ours[i / 64] >> (i % 64) & 1;

		for (run = 1; i + run < n && (ours[(i + run) / 64] >> ((i + run) % 64) & 1) == mine;)
			run++;
		if (mine && madvise(mm->cfg.ram_hva + gpa + (i << PAGE_SHIFT), run << PAGE_SHIFT,
				    MADV_DONTNEED))
			return -errno;
	}
	return 0;
}

/*
 * The zero-page mappings among the pages from gpa that a window may fill
 * (a run of empty and zero-page entries, not beyond end) are zapped, so that
 * they are empty pages again: a write to one, or a window reaching over
 * them, gives them frames. Only they are zapped (another fault thread may be
 * installing the empty ones), and their entries are pending meanwhile, so
 * no other fault thread acts on them. mm lock held (dropped around the zap).
 */
int gmm_unzero_range(struct gmm_mm *mm, gpa_t gpa, gpa_t end)
{
	uint64_t ours[ZERO_UNZERO_MAX / 64] = { 0 }, n = 0, zmap = 0;
	int ret;

	for (gpa_t a = gpa; a < end && n < ZERO_UNZERO_MAX; a += PAGE_SIZE, n++) {
		uint64_t *e = ept_lookup(&mm->ept, a);

		if (e && gmm_ept_zmap(*e)) {
			*e = GMM_EPT_PENDING;
			ours[n / 64] |= 1ULL << (n % 64);
			zmap++;
		} else if (e && !ept_none(*e) && !gmm_ept_zero(*e)) {
			break;
		}
	}
	if (!zmap)
		return 0;
	pthread_mutex_unlock(&mm->lock);
	ret = zero_zap_marked(mm, gpa, n, ours);
	pthread_mutex_lock(&mm->lock);
	for (uint64_t i = 0; i < n; i++)
		if (ours[i / 64] >> (i % 64) & 1)
			*ept_lookup(&mm->ept, gpa + (i << PAGE_SHIFT)) = ret ? GMM_EPT_ZMAP : 0;
	/* another vCPU's fault that found one after gpa pending waits for a
	 * wake, and the window may not install them all: it faults again on
	 * what is left (gpa's own install wakes whoever waits there) */
	pthread_cond_broadcast(&mm->wb_done);
	if (zmap > (ours[0] & 1) && gmm_uffd_wake(mm, gpa + PAGE_SIZE, n - 1))
		mv_warn("cannot wake the vCPUs waiting at GPA 0x%llx", (unsigned long long)gpa);
	if (ret) {
		mv_warn("cannot drop the zero pages at GPA 0x%llx for a write: %s",
			(unsigned long long)gpa, strerror(-ret));
		return ret;
	}
	mm->fs.zero_cow += zmap;
	return 0;
}

/* Does a read of an empty page get the zero page rather than a frame? */
bool gmm_zero_read(const struct gmm_mm *mm, bool write)
{
	return !write && mm->zero_reads && gmm_pool_overcommitted(mm->pool);
}

/* Where several vCPUs may race, the frames a read fault holds while it maps
 * zero pages: one for each page of its window (16 pages, or its page alone
 * when no such block is free), for the pages a write may fill meanwhile. */
#define ZERO_RACY_ORDER    4

struct zero_spare {
	pfn_t base;        /* GMM_NO_FRAME: none taken (one vCPU) */
	unsigned order;
	uint32_t used;     /* frames of it given to pages */
};

/* Spare frames for a window where another vCPU may race; false if none. */
static bool zero_spare_take(struct gmm_mm *mm, struct zero_spare *sp)
{
	for (int order = ZERO_RACY_ORDER; order >= 0; order--) {
		if (gmm_mm_headroom(mm) < (1ULL << order))
			continue;
		sp->base = gmm_alloc_empty_frames(mm, (unsigned)order);
		if (sp->base != GMM_NO_FRAME) {
			sp->order = (unsigned)order;
			return true;
		}
	}
	return false;
}

/* The spare frames no page took go back. */
static void zero_spare_put(struct gmm_mm *mm, const struct zero_spare *sp)
{
	if (sp->base == GMM_NO_FRAME)
		return;
	if (!sp->used) {
		gmm_pool_free(mm->pool, sp->base, sp->order);
		return;
	}
	for (unsigned i = 0; i < 1u << sp->order; i++)
		if (!(sp->used >> i & 1))
			gmm_pool_free(mm->pool, sp->base + i, 0);
}

/* Give a page that a racing write reached (the kernel's private copy, now
 * writable) a frame whose slot is empty: it is the guest's page from now
 * on. A spare frame first, if any is left. mm lock held. */
static int zero_adopt(struct gmm_mm *mm, gpa_t gpa, struct zero_spare *sp)
{
	pfn_t pfn = GMM_NO_FRAME;

	for (unsigned i = 0; sp->base != GMM_NO_FRAME && i < 1u << sp->order; i++)
		if (!(sp->used >> i & 1)) {
			sp->used |= 1u << i;
			pfn = sp->base + i;
			break;
		}
	if (pfn == GMM_NO_FRAME)
		pfn = gmm_alloc_empty_frames(mm, 0);
	if (pfn == GMM_NO_FRAME)
		return -ENOMEM;
	mm->fs.zero_raced++;
	return gmm_fault_record(mm, gpa, pfn, 1);
}

/* The window of a read at gpa: the empty pages around gpa in its aligned
 * block (of 2^order pages where another vCPU may race: the spare frames'),
 * before it too, since reads come in any order. mm lock held. */
static uint64_t zero_window(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t *gpa,
			    uint64_t pages)
{
	gpa_t block = ALIGN_DOWN(*gpa, pages * PAGE_SIZE);
	gpa_t lo = MAX(block, vma->start), end = MIN(block + pages * PAGE_SIZE, vma->end);

	while (*gpa > lo && gmm_fault_empty_run(mm, *gpa - PAGE_SIZE, *gpa))
		*gpa -= PAGE_SIZE;
	return gmm_fault_empty_run(mm, *gpa, end);
}

/* The entries of a zero-page map that did [gpa, +done) of n: zero pages,
 * frames for the pages a write raced to, empty for the rest. 0, or -errno
 * if a raced page got no frame (it is outside the pool: the guest must
 * end). mm lock held. */
static int zero_record(struct gmm_mm *mm, gpa_t gpa, uint64_t n, uint64_t done,
		       const uint64_t *raced, struct zero_spare *sp)
{
	int ret = 0;

	for (uint64_t i = 0; i < done; i++) {
		gpa_t at = gpa + (i << PAGE_SHIFT);

		if (!(raced[i / 64] >> (i % 64) & 1)) {
			gmm_fault_mark(mm, at, 1, GMM_EPT_ZMAP);
			mm->fs.zero_mapped++;
		} else if (!ret && (ret = zero_adopt(mm, at, sp))) {
			mv_warn("no frame for a page written while the zero page was mapped at "
				"GPA 0x%llx", (unsigned long long)at);
		}
	}
	gmm_fault_mark(mm, gpa + (done << PAGE_SHIFT), n - done, 0);
	/* a fault on one of them found it pending: its wake has come */
	pthread_cond_broadcast(&mm->wb_done);
	return ret;
}

/* A read of an empty page: the zero page there (and around it). Where
 * another vCPU may write in the gap before the protection, spare frames
 * are taken first, for the pages such a write would fill. If the map
 * fails, a frame after all. mm lock held (dropped around the ioctls). */
unsigned gmm_fault_zeromap(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa)
{
	uint64_t raced[ZERO_WINDOW / 64] = { 0 }, n, held;
	struct zero_spare sp = { .base = GMM_NO_FRAME };
	gpa_t fault = gpa;
	int64_t done;
	int ret;

	if (mm->cfg.zero_reads_racy && (gmm_pagemap_fd() < 0 || !zero_spare_take(mm, &sp)))
		return gmm_fault_anon(mm, vma, gpa);
	held = sp.base == GMM_NO_FRAME ? 0 : 1ULL << sp.order;
	n = zero_window(mm, vma, &gpa, held ? held : ZERO_WINDOW);
	if (gmm_fault_mark(mm, gpa, n, GMM_EPT_PENDING)) {
		gmm_fault_mark(mm, gpa, n, 0);
		zero_spare_put(mm, &sp);
		return GMM_FAULT_ERROR;
	}
	mm->charging += held;
	pthread_mutex_unlock(&mm->lock);
	done = gmm_uffd_zeromap(mm, gpa, n, raced);
	pthread_mutex_lock(&mm->lock);
	mm->charging -= held;
	ret = zero_record(mm, gpa, n, done == -ENOTRECOVERABLE ? 0 : (uint64_t)MAX(done, 0), raced,
			  &sp);
	zero_spare_put(mm, &sp);
	if (ret || done == -ENOTRECOVERABLE)
		return GMM_FAULT_ERROR;
	return done > 0 ? GMM_FAULT_NOPAGE : gmm_fault_anon(mm, vma, fault);
}
