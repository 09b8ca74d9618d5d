// SPDX-License-Identifier: MIT
/* Doubly linked frame lists for the LRU (see lru.h). */
#include "lru.h"

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
