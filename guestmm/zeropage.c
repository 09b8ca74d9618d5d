// SPDX-License-Identifier: MIT
/*
 * Zero pages. While the pool is overcommitted, a read of a page never
 * written takes no frame: the host's zero page is mapped there, write-
 * protected, as Linux maps its zero page on a read fault of anonymous
 * memory (with a window of empty neighbours: they cost nothing). The first
 * write comes back as a write-protect fault; the zero page is zapped and the
 * page faults in as a new one. Mapping and protecting are two ioctls, and a
 * write landing between them would be served by the kernel, outside the
 * pool: only the faulting vCPU is held meanwhile, so this is for guests of
 * one vCPU (cfg.zero_reads).
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
	pthread_cond_broadcast(&mm->wb_done);
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

/* A read of an empty page: the zero page there and at the empty pages after
 * it, up to the end of an aligned window. If that fails, a frame after all.
 * mm lock held (dropped around the ioctls). */
unsigned gmm_fault_zeromap(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa)
{
	gpa_t block = ALIGN_DOWN(gpa, ZERO_WINDOW * PAGE_SIZE);
	gpa_t lo = MAX(block, vma->start), end = MIN(block + ZERO_WINDOW * PAGE_SIZE, vma->end);
	uint64_t n;
	int64_t done;

	/* the empty pages around gpa in its block, before it too: reads come
	 * in any order */
	while (gpa > lo && gmm_fault_empty_run(mm, gpa - PAGE_SIZE, gpa))
		gpa -= PAGE_SIZE;
	n = gmm_fault_empty_run(mm, gpa, end);

	if (gmm_fault_mark(mm, gpa, n, GMM_EPT_PENDING)) {
		gmm_fault_mark(mm, gpa, n, 0);
		return GMM_FAULT_ERROR;
	}
	pthread_mutex_unlock(&mm->lock);
	done = gmm_uffd_zeromap(mm, gpa, n);
	pthread_mutex_lock(&mm->lock);
	if (done == -ENOTRECOVERABLE) {
		gmm_fault_mark(mm, gpa, n, 0);
		return GMM_FAULT_ERROR;
	}
	done = MAX(done, (int64_t)0);
	gmm_fault_mark(mm, gpa, (uint64_t)done, GMM_EPT_ZMAP);
	gmm_fault_mark(mm, gpa + ((uint64_t)done << PAGE_SHIFT), n - (uint64_t)done, 0);
	/* a fault on one of them found it pending: its wake has come */
	pthread_cond_broadcast(&mm->wb_done);
	mm->fs.zero_mapped += (uint64_t)done;
	return done ? GMM_FAULT_NOPAGE : gmm_fault_anon(mm, vma, gpa);
}
