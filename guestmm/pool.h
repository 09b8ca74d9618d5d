/* SPDX-License-Identifier: MIT */
/*
 * The frame pool: memvisor's "physical RAM". nr_frames host pages at base,
 * one 32-byte descriptor each, handed out by the buddy allocator, shared by
 * all guests. A frame's page lives in its pool slot while free (zeroed by
 * the kernel when populated) and is moved into a guest's RAM when installed
 * (UFFDIO_MOVE), so that host memory for guest pages never exceeds the pool.
 */
#ifndef GUESTMM_POOL_H
#define GUESTMM_POOL_H

#include "buddy.h"

#include <pthread.h>

#define GMM_ZERO_BYTES ((uint64_t)PAGE_SIZE << GMM_MAX_ORDER)

struct gmm_pool {
	uint8_t *base;            /* slot of frame i: base + i * PAGE_SIZE */
	uint8_t *zero;            /* GMM_ZERO_BYTES never written: the source of UFFDIO_COPY */
	uint64_t nr_frames;
	struct gmm_frame *frames;
	/* watermarks in free frames, as in Linux's zone watermarks */
	uint64_t wmark_min, wmark_low, wmark_high;

	pthread_mutex_t lock;     /* protects buddy, frame flags/owner/gpa, counters below */
	struct gmm_buddy buddy;
	uint64_t populate_calls, populated_pages;
	uint64_t committed;       /* frames of guest RAM the pool backs, all guests (atomic) */
};

/* A pool of bytes (rounded down to pages); -errno with err set. */
int gmm_pool_init(struct gmm_pool *p, uint64_t bytes, char *err, size_t errlen);
void gmm_pool_destroy(struct gmm_pool *p);

/* 2^order frames for owner, or GMM_NO_FRAME. Takes the pool lock. */
pfn_t gmm_pool_alloc(struct gmm_pool *p, unsigned order, uint16_t owner);
/* Give back 2^order frames starting at pfn; their slots must be empty
 * (the pages went to a guest and were dropped there). Takes the pool lock. */
void gmm_pool_free(struct gmm_pool *p, pfn_t pfn, unsigned order);
/* Make sure the slots of [pfn, pfn + n) hold zeroed pages (one madvise). */
int gmm_pool_populate(struct gmm_pool *p, pfn_t pfn, uint64_t n);

static inline void *gmm_pool_slot(const struct gmm_pool *p, pfn_t pfn)
{
	return p->base + (pfn << PAGE_SHIFT);
}

uint64_t gmm_pool_free_frames(struct gmm_pool *p);

#endif
