/* SPDX-License-Identifier: MIT */
/*
 * The buddy allocator over the frame descriptors (frame.h): free_area
 * per order 0..GMM_MAX_ORDER, split on allocation, merge with the buddy on
 * free, counters per order. Pure logic over an array of descriptors: no
 * locking (the pool lock covers it), no memory of its own.
 */
#ifndef GUESTMM_BUDDY_H
#define GUESTMM_BUDDY_H

#include "frame.h"

#define GMM_MAX_ORDER 10
#define GMM_NR_ORDERS (GMM_MAX_ORDER + 1)

struct gmm_free_area {
	uint32_t head;     /* first free block of this order, or GMM_NIL */
	uint64_t nr_free;  /* blocks on the list */
};

struct gmm_buddy {
	struct gmm_frame *frames;
	uint64_t nr_frames;
	struct gmm_free_area free_area[GMM_NR_ORDERS];
	uint64_t nr_free;                    /* free frames, all orders */
	uint64_t allocs[GMM_NR_ORDERS];      /* successful allocations by order */
	uint64_t frees[GMM_NR_ORDERS];       /* frees by order (as requested) */
	uint64_t fails[GMM_NR_ORDERS];       /* allocations that found nothing */
	uint64_t splits, merges;
};

/* Take over nr_frames descriptors (nr_frames < 2^32 - 1), all free: the
 * frames are carved into the largest naturally aligned blocks. */
int gmm_buddy_init(struct gmm_buddy *b, struct gmm_frame *frames, uint64_t nr_frames);
/* 2^order contiguous frames aligned to 2^order: the first pfn, or
 * GMM_NO_FRAME. The frames get GMM_PG_ALLOC, with other flags cleared. */
pfn_t gmm_buddy_alloc(struct gmm_buddy *b, unsigned order);
/* Give back a block that gmm_buddy_alloc returned, or any naturally aligned
 * sub-block of allocated frames (frees of single frames from a larger
 * allocation are allowed): merges with free buddies as far as it can. */
void gmm_buddy_free(struct gmm_buddy *b, pfn_t pfn, unsigned order);
/* Highest order with a free block, or -1 if the pool is empty. */
int gmm_buddy_max_free_order(const struct gmm_buddy *b);
/* Full consistency check (tests, debug): lists well formed, counts equal the
 * lists, every free block aligned and within the pool, no two free buddies
 * left unmerged, nr_free equal to the sum. 0 or -EINVAL. */
int gmm_buddy_check(const struct gmm_buddy *b);

#endif
