// SPDX-License-Identifier: MIT
/*
 * The end of a reclaim batch: the frames it freed leave their guests and go
 * back to the buddy. Their slot pages (a guest's data, or its zeros) are
 * dropped first, runs of neighbouring frames together and all runs with one
 * process_madvise() call, since each MADV_DONTNEED costs a TLB-flush IPI
 * here; a frame whose page cannot be dropped never returns to the pool.
 */
#include "mm.h"
#include "vmscan.h"

#include "memvisor/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int reclaim_cmp_pfn(const void *a, const void *b)
{
	pfn_t x = ((const struct reclaim_wb *)a)->pfn, y = ((const struct reclaim_wb *)b)->pfn;

	return x < y ? -1 : x > y;
}

/* This process as a pidfd for process_madvise(), opened once (and again
 * in a forked child, whose pid differs); -1 if the kernel has none. */
static int reclaim_self_pidfd(void)
{
	static int fd = -1;
	static pid_t owner;
	pid_t pid = getpid();

	if (__atomic_load_n(&owner, __ATOMIC_ACQUIRE) != pid) {
		int nfd = (int)syscall(SYS_pidfd_open, pid, 0);

		/* one reclaimer at a time (reclaim_lock): no race on the cache */
		if (fd >= 0)
			close(fd);
		fd = nfd;
		__atomic_store_n(&owner, pid, __ATOMIC_RELEASE);
	}
	return fd;
}

/*
 * Drop the slot pages of n runs of frames with one process_madvise() call:
 * since Linux 6.16 its MADV_DONTNEED flushes the TLB once for all of them,
 * where a madvise() per run costs a flush, an IPI to the other CPU, each
 * (most of reclaim's CPU after arming, with scattered frames). Returns how
 * many runs from the first were dropped; the caller drops the rest itself.
 */
static unsigned reclaim_drop_runs(const struct iovec *iov, unsigned n)
{
	int fd = n > 1 ? reclaim_self_pidfd() : -1;
	ssize_t done = fd >= 0 ? process_madvise(fd, iov, n, MADV_DONTNEED, 0) : -1;
	unsigned i = 0;

	while (done > 0 && i < n && (size_t)done >= iov[i].iov_len)
		done -= (ssize_t)iov[i++].iov_len;
	return i;
}

/* Drop the slot pages of the batch's freed frames (emptied[i] says whether
 * frame i's went), runs of neighbours together. */
static void reclaim_drop(struct gmm_pool *p, struct reclaim_wb *f, unsigned nr, bool *emptied)
{
	struct iovec iov[SWAP_CLUSTER_MAX];
	unsigned first[SWAP_CLUSTER_MAX], runs = 0, done;

	for (unsigned i = 0, n; i < nr; i += n) {
		for (n = 1; i + n < nr && f[i + n].pfn == f[i].pfn + n; n++)
			;
		first[runs] = i;
		iov[runs++] = (struct iovec){ gmm_pool_slot(p, f[i].pfn), (size_t)n << PAGE_SHIFT };
	}
	done = reclaim_drop_runs(iov, runs);
	for (unsigned r = 0; r < runs; r++) {
		unsigned n = (unsigned)(iov[r].iov_len >> PAGE_SHIFT);
		bool ok = r < done || !madvise(iov[r].iov_base, iov[r].iov_len, MADV_DONTNEED);

		if (!ok) {
			/* the guest's data may still be there: never hand these out */
			mv_warn("cannot empty %u evicted frames (%s): they leave the pool", n,
				strerror(errno));
			__atomic_add_fetch(&p->frames_lost, n, __ATOMIC_RELAXED);
		}
		for (unsigned j = 0; j < n; j++)
			emptied[first[r] + j] = ok;
	}
}

/* Drop the slot pages of the batch's freed frames, then give the frames
 * back: each leaves its guest's rss as it enters the pool, both under the
 * guest's lock, so that the books always agree. */
void gmm_reclaim_release(struct reclaim_ctl *rc)
{
	struct gmm_pool *p = rc->p;
	struct reclaim_wb *f = rc->release;
	bool emptied[SWAP_CLUSTER_MAX];
	pfn_t pfn[SWAP_CLUSTER_MAX];
	unsigned nr_free = 0;

	qsort(f, rc->nr_release, sizeof(*f), reclaim_cmp_pfn);
	reclaim_drop(p, f, rc->nr_release, emptied);
	for (unsigned i = 0, n; i < rc->nr_release; i += n) {
		struct gmm_mm *mm = f[i].mm;

		/* a batch is one guest's: its frames go under one hold of its lock */
		for (n = 1; i + n < rc->nr_release && f[i + n].mm == mm; n++)
			;
		pthread_mutex_lock(&mm->lock);
		pthread_mutex_lock(&p->lock);
		for (unsigned j = i; j < i + n; j++)
			p->frames[f[j].pfn].flags &= ~GMM_PG_ISOLATED;
		pthread_mutex_unlock(&p->lock);
		for (unsigned j = i; j < i + n; j++)
			if (emptied[j])
				pfn[nr_free++] = f[j].pfn;
		gmm_pool_free_many(p, pfn, nr_free);
		nr_free = 0;
		mm->rss -= n;
		pthread_mutex_unlock(&mm->lock);
	}
	rc->nr_release = 0;
}
