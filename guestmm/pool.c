// SPDX-License-Identifier: MIT
/*
 * The frame pool. Slots are plain anonymous memory that memvisor owns. A
 * frame the pre-zeroing thread made ready has a zeroed page in its slot,
 * which is moved, not copied, into the guest; any other frame's slot is
 * empty, and its page is the kernel's copy of a zero buffer, made in the
 * guest by the install (install.c). When the guest lets the page go (exit,
 * later reclaim) the page is dropped and the slot stays empty until the
 * frame is used again: a frame is therefore always zero when another guest
 * first sees it. Where UFFDIO_MOVE is missing every install copies: frames
 * are then units of accounting, the kernel's pages the memory.
 *
 * Watermarks follow Linux's in spirit: min is about 1/128 of the pool (at
 * least 16 frames), low = 2 * min, high = 3 * min.
 */
#include "pool.h"
#include "vmscan.h"

#include "debug.h"
#include "memvisor/err.h"
#include "memvisor/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void pool_set_watermarks(struct gmm_pool *p)
{
	uint64_t min = p->nr_frames / 128;

	if (min < 16)
		min = MIN((uint64_t)16, p->nr_frames / 4);
	p->wmark_min = min;
	/* kswapd works between low and high: wide enough for useful batches */
	p->wmark_low = min * 2;
	p->wmark_high = min * 3;
}

/* The pool's memory: slots, a zero buffer, descriptors, the buddy. */
static int pool_map(struct gmm_pool *p, uint64_t bytes, char *err, size_t errlen)
{
	int ret;

	p->base = mmap(NULL, p->nr_frames << PAGE_SHIFT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return mv_seterr(err, errlen, -ENOMEM, "cannot reserve %llu MiB for the frame pool: %s",
				 (unsigned long long)(bytes >> 20), strerror(errno));
	}
	/* 4 KiB pages only (UFFDIO_MOVE moves PTEs), and never shared with a
	 * forked child, whose copy-on-write would pin them */
	madvise(p->base, p->nr_frames << PAGE_SHIFT, MADV_NOHUGEPAGE);
	madvise(p->base, p->nr_frames << PAGE_SHIFT, MADV_DONTFORK);
	/* read-only and never touched: copying from it costs no memory of ours */
	p->zero = mmap(NULL, GMM_ZERO_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p->zero == MAP_FAILED) {
		p->zero = NULL;
		return mv_seterr(err, errlen, -ENOMEM, "cannot map a zero buffer: %s", strerror(errno));
	}
	p->frames = calloc(p->nr_frames, sizeof(*p->frames));
	if (!p->frames)
		return mv_seterr(err, errlen, -ENOMEM, "out of memory for %llu frame descriptors",
				 (unsigned long long)p->nr_frames);
	ret = gmm_buddy_init(&p->buddy, p->frames, p->nr_frames);
	if (ret)
		return mv_seterr(err, errlen, ret, "buddy allocator init failed: %s", strerror(-ret));
	return 0;
}

static void pool_unmap(struct gmm_pool *p)
{
	if (p->base)
		munmap(p->base, p->nr_frames << PAGE_SHIFT);
	if (p->zero)
		munmap(p->zero, GMM_ZERO_BYTES);
	free(p->frames);
	p->base = p->zero = NULL;
	p->frames = NULL;
}

int gmm_frames_init(struct gmm_pool *p, uint64_t bytes, char *err, size_t errlen)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->uffd = -1;
	p->nr_frames = bytes >> PAGE_SHIFT;
	if (p->nr_frames == 0 || p->nr_frames >= GMM_NIL)
		return mv_seterr(err, errlen, -EINVAL, "a frame pool needs 1 to %u frames", GMM_NIL - 1);
	ret = pool_map(p, bytes, err, errlen);
	if (ret) {
		pool_unmap(p);
		return ret;
	}
	pool_set_watermarks(p);
	p->nr_free_pages = p->nr_frames;
	p->vm.reclaim_prio_min = GMM_DEF_PRIORITY; /* none needed yet */
	for (unsigned o = 0; o < GMM_READY_ORDERS; o++)
		p->ready[o] = GMM_NIL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->reclaim_lock, NULL);
	pthread_rwlock_init(&p->mms_lock, NULL);
	pthread_cond_init(&p->kswapd_wake, NULL);
	pthread_cond_init(&p->zerod_wake, NULL);
	pthread_cond_init(&p->zerod_done, NULL);
	return 0;
}

void gmm_frames_fini(struct gmm_pool *p)
{
	pool_unmap(p);
	pthread_cond_destroy(&p->zerod_wake);
	pthread_cond_destroy(&p->zerod_done);
	pthread_cond_destroy(&p->kswapd_wake);
	pthread_mutex_destroy(&p->reclaim_lock);
	pthread_rwlock_destroy(&p->mms_lock);
	pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof(*p));
}

/* A block from the ready lists or the buddy, the preferred source first. Pool lock held. */
static pfn_t pool_take(struct gmm_pool *p, unsigned order, bool want_zeroed, bool *zeroed)
{
	pfn_t pfn = GMM_NO_FRAME;

	if (!want_zeroed)
		pfn = gmm_buddy_alloc(&p->buddy, order);
	/* only a block from the ready lists has zeroed pages in its slots */
	*zeroed = false;
	if (pfn == GMM_NO_FRAME && order < GMM_READY_ORDERS) {
		pfn = gmm_ready_take(p, order);
		*zeroed = pfn != GMM_NO_FRAME;
	}
	if (pfn == GMM_NO_FRAME && want_zeroed)
		pfn = gmm_buddy_alloc(&p->buddy, order);
	return pfn;
}

bool gmm_pool_overcommitted(const struct gmm_pool *p)
{
	return __atomic_load_n(&p->committed, __ATOMIC_RELAXED) > p->nr_frames;
}

pfn_t gmm_pool_alloc(struct gmm_pool *p, unsigned order, uint16_t owner, bool want_zeroed,
		     bool *zeroed)
{
	pfn_t pfn;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		pfn = pool_take(p, order, want_zeroed, zeroed);
		/* frames being pre-zeroed are free: wait for them rather than fail */
		if (pfn != GMM_NO_FRAME || !p->nr_zeroing || p->zerod_exited)
			break;
		pthread_cond_wait(&p->zerod_done, &p->lock);
	}
	if (pfn != GMM_NO_FRAME) {
		*zeroed ? p->ready_hits++ : p->ready_misses++;
		for (uint64_t i = 0; i < (1ULL << order); i++)
			p->frames[pfn + i].owner = owner;
		gmm_pool_sync_free(p);
	}
	if (p->zerod_running && p->nr_ready < p->ready_target / 2 && gmm_prezero_has_work(p))
		pthread_cond_signal(&p->zerod_wake);
	if (p->kswapd_running && gmm_kswapd_needed(p))
		pthread_cond_signal(&p->kswapd_wake);
	pthread_mutex_unlock(&p->lock);
	return pfn;
}

/* 2^order frames from pfn back to the buddy. Pool lock held. */
static void __pool_free(struct gmm_pool *p, pfn_t pfn, unsigned order)
{
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		struct gmm_frame *f = &p->frames[pfn + i];

		/* only a fresh or mapped frame's owner frees it: never one that
		 * reclaim holds, nor one still caching a slot */
		GMM_BUG_ON(!(f->flags & GMM_PG_ALLOC) || (f->flags & GMM_PG_ISOLATED) || f->swap);
		gmm_lru_del(p, pfn + i);
		f->owner = 0;
		f->gpa = 0;
	}
	gmm_buddy_free(&p->buddy, pfn, order);
}

/* After frames were freed: publish the count, wake the pre-zeroing thread
 * if that gave it work. Pool lock held. */
static void pool_freed(struct gmm_pool *p)
{
	gmm_pool_sync_free(p);
	if (p->zerod_running && gmm_prezero_has_work(p))
		pthread_cond_signal(&p->zerod_wake);
}

void gmm_pool_free(struct gmm_pool *p, pfn_t pfn, unsigned order)
{
	pthread_mutex_lock(&p->lock);
	__pool_free(p, pfn, order);
	pool_freed(p);
	pthread_mutex_unlock(&p->lock);
}

void gmm_pool_free_many(struct gmm_pool *p, const pfn_t *pfn, unsigned n)
{
	if (!n)
		return;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		__pool_free(p, pfn[i], 0);
	pool_freed(p);
	pthread_mutex_unlock(&p->lock);
}

int gmm_pool_release(struct gmm_pool *p, pfn_t pfn, uint64_t n)
{
	if (madvise(gmm_pool_slot(p, pfn), n << PAGE_SHIFT, MADV_DONTNEED)) {
		int ret = -errno;

		/* a frame whose page may still be there is never handed out again */
		mv_warn("cannot empty %llu frames from %llu (%s): they are taken out of the pool",
			(unsigned long long)n, (unsigned long long)pfn, strerror(-ret));
		__atomic_add_fetch(&p->frames_lost, n, __ATOMIC_RELAXED);
		return ret;
	}
	for (uint64_t i = 0; i < n; i++)
		gmm_pool_free(p, pfn + i, 0);
	return 0;
}

int gmm_pool_check(struct gmm_pool *p)
{
	uint64_t ready = 0;
	int ret;

	pthread_mutex_lock(&p->lock);
	ret = gmm_buddy_check(&p->buddy);
	for (unsigned o = 0; o < GMM_READY_ORDERS; o++)
		for (uint32_t pfn = p->ready[o]; pfn != GMM_NIL && ready <= p->nr_frames;
		     pfn = p->frames[pfn].next) {
			if (pfn % (1u << o) || !(p->frames[pfn].flags & GMM_PG_ALLOC))
				ret = -EINVAL;
			ready += 1ULL << o;
		}
	if (ready != p->nr_ready)
		ret = -EINVAL;
	pthread_mutex_unlock(&p->lock);
	return ret;
}

uint64_t gmm_pool_free_frames(struct gmm_pool *p)
{
	uint64_t n;

	pthread_mutex_lock(&p->lock);
	n = p->buddy.nr_free + p->nr_ready + p->nr_zeroing;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void gmm_pool_stats_read(struct gmm_pool *p, struct gmm_pool_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = (struct gmm_pool_stats){
		.frames = p->nr_frames, .free = p->buddy.nr_free + p->nr_ready + p->nr_zeroing,
		.free_prezeroed = p->nr_ready, .wmark_min = p->wmark_min, .wmark_low = p->wmark_low,
		.wmark_high = p->wmark_high, .splits = p->buddy.splits, .merges = p->buddy.merges,
		.prezeroed_pages = p->prezeroed_pages, .allocs_prezeroed = p->ready_hits,
		.allocs_not_prezeroed = p->ready_misses,
	};
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++) {
		out->free_blocks[o] = p->buddy.free_area[o].nr_free;
		out->allocs[o] = p->buddy.allocs[o];
	}
	pthread_mutex_unlock(&p->lock);
	out->populated_pages = __atomic_load_n(&p->populated_pages, __ATOMIC_RELAXED);
	out->frames_lost = __atomic_load_n(&p->frames_lost, __ATOMIC_RELAXED);
}

void gmm_pool_sync_free(struct gmm_pool *p)
{
	__atomic_store_n(&p->nr_free_pages, p->buddy.nr_free + p->nr_ready + p->nr_zeroing,
			 __ATOMIC_RELAXED);
}

void gmm_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "memvisor: BUG at %s:%d: %s\n", file, line, cond);
	abort();
}
