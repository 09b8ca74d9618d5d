// SPDX-License-Identifier: MIT
/*
 * The LRU lists (see lru.h): doubly linked frame lists, and putting a
 * frame on or off one. Pool lock held throughout.
 */
#include "mm.h"

#include "debug.h"

void gmm_list_add_head(struct gmm_list *l, struct gmm_frame *frames, uint32_t pfn)
{
	frames[pfn].prev = GMM_NIL;
	frames[pfn].next = l->head;
	if (l->head != GMM_NIL)
		frames[l->head].prev = pfn;
	else
		l->tail = pfn;
	l->head = pfn;
	l->nr++;
}

void gmm_list_del(struct gmm_list *l, struct gmm_frame *frames, uint32_t pfn)
{
	struct gmm_frame *f = &frames[pfn];

	if (f->prev != GMM_NIL)
		frames[f->prev].next = f->next;
	else
		l->head = f->next;
	if (f->next != GMM_NIL)
		frames[f->next].prev = f->prev;
	else
		l->tail = f->prev;
	f->next = f->prev = GMM_NIL;
	l->nr--;
}

uint32_t gmm_list_pop_tail(struct gmm_list *l, struct gmm_frame *frames)
{
	uint32_t pfn = l->tail;

	if (pfn != GMM_NIL)
		gmm_list_del(l, frames, pfn);
	return pfn;
}

/* The LRU lists of the guest owning a frame. Its mms[] slot is set before
 * it gets any frame and cleared after its last one is freed. */
static struct gmm_list *lru_of(struct gmm_pool *p, pfn_t pfn)
{
	uint16_t owner = p->frames[pfn].owner;

	GMM_BUG_ON(!owner || owner > GMM_MAX_GUESTS || !p->mms[owner - 1]);
	return p->mms[owner - 1]->lru;
}

void gmm_lru_add(struct gmm_pool *p, pfn_t pfn, enum gmm_lru_list lru)
{
	struct gmm_frame *f = &p->frames[pfn];

	GMM_BUG_ON(!(f->flags & GMM_PG_ALLOC) || (f->flags & (GMM_PG_LRU | GMM_PG_ISOLATED)));
	f->flags |= GMM_PG_LRU;
	if (lru == GMM_LRU_ACTIVE)
		f->flags = (f->flags | GMM_PG_ACTIVE) & ~GMM_PG_AHEAD;
	else
		f->flags &= ~GMM_PG_ACTIVE;
	gmm_list_add_head(&lru_of(p, pfn)[lru], p->frames, (uint32_t)pfn);
}

void gmm_lru_del(struct gmm_pool *p, pfn_t pfn)
{
	struct gmm_frame *f = &p->frames[pfn];

	if (!(f->flags & GMM_PG_LRU))
		return;
	gmm_list_del(&lru_of(p, pfn)[f->flags & GMM_PG_ACTIVE ? GMM_LRU_ACTIVE : GMM_LRU_INACTIVE],
		     p->frames, (uint32_t)pfn);
	/* off the LRU, a frame is no longer waiting for reclaim's verdict */
	f->flags &= ~(GMM_PG_LRU | GMM_PG_ACTIVE | GMM_PG_AHEAD);
}
