/* SPDX-License-Identifier: MIT */
/*
 * LRU lists over pool frames, as Linux's lruvec: an active and an inactive
 * list, doubly linked through the frames' next/prev (which the buddy uses
 * only while a frame is free). New and refaulted pages enter at the head of
 * the active list; aging moves frames from the active tail to the inactive
 * head, unmapped ("armed"); reclaim takes from the inactive tail. All under
 * the pool lock.
 */
#ifndef GUESTMM_LRU_H
#define GUESTMM_LRU_H

#include "buddy.h"

enum gmm_lru_list { GMM_LRU_INACTIVE, GMM_LRU_ACTIVE, GMM_NR_LRU };

struct gmm_list {
	uint32_t head, tail;    /* GMM_NIL when empty */
	uint64_t nr;
};

static inline void gmm_list_init(struct gmm_list *l)
{
	l->head = l->tail = GMM_NIL;
	l->nr = 0;
}

void gmm_list_add_head(struct gmm_list *l, struct gmm_frame *frames, uint32_t pfn);
void gmm_list_del(struct gmm_list *l, struct gmm_frame *frames, uint32_t pfn);
/* Remove and return the tail, or GMM_NIL. */
uint32_t gmm_list_pop_tail(struct gmm_list *l, struct gmm_frame *frames);

#endif
