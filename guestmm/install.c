// SPDX-License-Identifier: MIT
/*
 * Putting pages into a guest, and taking them back: UFFDIO_MOVE of a
 * frame's page between its pool slot and guest RAM (zero-copy; reclaim arms
 * pages by moving them back), UFFDIO_COPY where the kernel lacks MOVE. The
 * ioctl also wakes whoever waits for the page.
 */
#include "mm.h"
#include "uffdio.h"

#include "memvisor/log.h"
#include "memvisor/time.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * One UFFDIO_MOVE or UFFDIO_COPY, resumed after partial progress and after
 * EAGAIN (the address space was changing). The ioctls can stop partway with
 * the first pages done: those must be accounted, never redone (that would
 * fail with EEXIST and leave them in the guest unrecorded). Returns bytes
 * done, or -errno if none.
 */
static int64_t uffd_op(struct gmm_pool *p, bool move, uint64_t dst, uint64_t src, uint64_t len,
		       uint64_t *calls)
{
	uint64_t done = 0;
	int err = 0;

	for (int tries = 0; done < len && tries < 100; tries++) {
		int64_t n;
		int ret;

		if (move) {
			struct uffdio_move m = { dst + done, src + done, len - done, 0, 0 };

			ret = ioctl(p->uffd, UFFDIO_MOVE, &m);
			n = m.move;
		} else {
			struct uffdio_copy c = { dst + done, src + done, len - done, 0, 0 };

			ret = ioctl(p->uffd, UFFDIO_COPY, &c);
			n = c.copy;
		}
		err = ret ? errno : 0;
		if (calls)
			(*calls)++;
		if (n > 0)
			done += (uint64_t)n;
		if (err && err != EAGAIN)
			break;
	}
	return done ? (int64_t)done : -(err ? err : EIO);
}

int64_t gmm_uffd_move(struct gmm_pool *p, uint64_t dst, uint64_t src, uint64_t len)
{
	return uffd_op(p, true, dst, src, len, NULL);
}

int64_t gmm_uffd_copy(struct gmm_pool *p, uint64_t dst, uint64_t src, uint64_t len)
{
	return uffd_op(p, false, dst, src, len, NULL);
}

/* /proc/self/pagemap, opened once: -1 if it cannot be (then no page can be
 * checked, and zeropage.c maps zero pages only where nothing can race) */
int gmm_pagemap_fd(void)
{
	static int fd = -2;
	int cur = __atomic_load_n(&fd, __ATOMIC_ACQUIRE);

	if (cur == -2) {
		int nfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

		if (!__atomic_compare_exchange_n(&fd, &cur, nfd, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE) && nfd >= 0)
			close(nfd); /* another thread's is in place */
		cur = __atomic_load_n(&fd, __ATOMIC_ACQUIRE);
	}
	return cur;
}

/* The pages of [start, +n) a write reached before their protection: mapped
 * by this process alone (pagemap's exclusive bit, read from fd), which the
 * shared zero page never is. They are made writable again, their bits set
 * in raced. -1 with errno if pagemap cannot be read: nothing is known then. */
static int zeromap_check(struct gmm_pool *p, int fd, uint64_t start, uint64_t n, uint64_t *raced)
{
	for (uint64_t i = 0; i < n; i += 64) {
		uint64_t pm[64], k = MIN(n - i, (uint64_t)64);
		off_t at = (off_t)((start >> PAGE_SHIFT) + i) * 8;

		errno = 0;
		if (pread(fd, pm, k * 8, at) != (ssize_t)(k * 8)) {
			errno = errno ? errno : EIO;
			return -1;
		}
		for (uint64_t j = 0; j < k; j++) {
			struct uffdio_writeprotect w = {
				{ start + ((i + j) << PAGE_SHIFT), PAGE_SIZE },
				UFFDIO_WRITEPROTECT_MODE_DONTWAKE,
			};

			if (!(pm[j] >> 63 & 1) || !(pm[j] >> 56 & 1))
				continue; /* absent, or the zero page */
			if (ioctl(p->uffd, UFFDIO_WRITEPROTECT, &w))
				return -1;
			raced[(i + j) / 64] |= 1ULL << ((i + j) % 64);
		}
	}
	return 0;
}

/*
 * The zero page, then write protection, then the wake. A write reaching a
 * page between the first two ioctls is served by the kernel itself (a
 * private copy of the zero page, outside the pool): the map does not wake,
 * so the faulting vCPU cannot, but another vCPU can. Such pages are found
 * afterwards (zeromap_check, where pagemap can be read) for the caller to
 * give frames. A failure after the map cannot be undone (a page may hold a
 * racing write): -ENOTRECOVERABLE, and the guest must end.
 */
int64_t gmm_uffd_zeromap(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *raced)
{
	uint64_t start = (uintptr_t)mm->cfg.ram_hva + gpa, len = npages << PAGE_SHIFT;
	struct uffdio_zeropage z = { { start, len }, UFFDIO_ZEROPAGE_MODE_DONTWAKE, 0 };
	struct uffdio_writeprotect w = { { start, 0 }, UFFDIO_WRITEPROTECT_MODE_WP };
	struct uffdio_range r = { start, len };
	struct gmm_pool *p = mm->pool;
	int ret = 0, pagemap = gmm_pagemap_fd();
	gmm_test_hook_fn *hook;
	uint64_t done;

	if (ioctl(p->uffd, UFFDIO_ZEROPAGE, &z))
		ret = -errno;
	done = z.zeropage > 0 ? (uint64_t)z.zeropage : 0;
	hook = __atomic_load_n(&p->test_hook, __ATOMIC_ACQUIRE);
	if (hook && done)
		hook(p, GMM_TEST_ZEROMAP, mm, gpa, p->test_arg);
	w.range.len = done;
	if (done && ioctl(p->uffd, UFFDIO_WRITEPROTECT, &w)) {
		mv_warn("cannot write-protect zero pages: %s", strerror(errno));
		ret = -ENOTRECOVERABLE;
	} else if (done && pagemap >= 0 &&
		   zeromap_check(p, pagemap, start, done >> PAGE_SHIFT, raced)) {
		mv_warn("cannot tell which zero pages a write reached: %s", strerror(errno));
		ret = -ENOTRECOVERABLE;
	}
	if (ioctl(p->uffd, UFFDIO_WAKE, &r) && !ret)
		ret = -errno;
	if (ret == -ENOTRECOVERABLE)
		return ret;
	return done ? (int64_t)(done >> PAGE_SHIFT) : ret ? ret : -EIO;
}

int gmm_uffd_wake(struct gmm_mm *mm, gpa_t gpa, uint64_t npages)
{
	struct uffdio_range r = { (uintptr_t)mm->cfg.ram_hva + gpa, npages << PAGE_SHIFT };

	return ioctl(mm->pool->uffd, UFFDIO_WAKE, &r) ? -errno : 0;
}

/*
 * Put npages frames from pfn at gpa and wake whoever waits there. Frames
 * the pre-zeroing thread made ready (zeroed) have their pages in their
 * slots: with MOVE those pages move. Any other frame's slot is empty: the
 * kernel copies the pool's zero buffer into new pages (COPY), which leaves
 * the slot empty just as a move would, and costs less than populating the
 * slot and moving its page out (one ioctl, and no TLB shootdown for the
 * slot's mapping). Without MOVE, every install copies. Called
 * without the mm lock (the ioctl may take a while): costs go to *cost for
 * the caller to add up under the lock. Returns pages installed (maybe fewer
 * than asked) or -errno. The clocks are read only for a timed fault
 * (cost->timed; see fault.c).
 */
int64_t gmm_uffd_install(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t npages, bool zeroed,
			 struct gmm_install_cost *cost)
{
	uint64_t dst = (uintptr_t)mm->cfg.ram_hva + gpa, len = npages << PAGE_SHIFT;
	struct gmm_pool *p = mm->pool;
	bool move = p->use_move && zeroed;
	uint64_t src = move ? (uintptr_t)gmm_pool_slot(p, pfn) : (uintptr_t)p->zero;
	uint64_t t1 = cost->timed ? mv_thread_ns() : 0, calls = 0;
	int64_t done;

	done = uffd_op(p, move, dst, src, len, &calls);
	if (!move && !zeroed && done > 0)
		__atomic_add_fetch(&p->populated_pages, (uint64_t)done >> PAGE_SHIFT, __ATOMIC_RELAXED);
	cost->calls += calls;
	cost->retries += calls - 1;
	/* COPY leaves a pre-zeroed slot full (the allocator hands those out
	 * last for COPY): drop its pages, or the host would hold two pages for
	 * one frame */
	if (!p->use_move && zeroed && madvise(gmm_pool_slot(p, pfn), len, MADV_DONTNEED)) {
		mv_warn("cannot empty %llu frames after a copy: %s", (unsigned long long)npages,
			strerror(errno));
		__atomic_add_fetch(&p->frames_lost, npages, __ATOMIC_RELAXED);
	}
	if (cost->timed)
		cost->ns_install += mv_thread_ns() - t1;
	return done < 0 ? done : done >> PAGE_SHIFT;
}
