// SPDX-License-Identifier: MIT
/*
 * Buddy allocator over the frame pool, after Linux's mm/page_alloc.c.
 *
 * free_area[order] lists the free blocks of 2^order frames, each naturally
 * aligned (its first pfn a multiple of 2^order). Only the head frame of a
 * free block is marked, with GMM_PG_BUDDY and its order; the other frames of
 * the block have flags 0. A block's buddy is the other half of the block
 * twice its size: buddy pfn = pfn ^ (1 << order).
 *
 * Allocation takes the smallest order with a free block and halves it down
 * to the order asked for, putting each upper half on the list below it
 * (expand()), so the caller gets the lowest-addressed half. Freeing merges
 * the block with its buddy for as long as the buddy is a free block of the
 * same order, then lists what it ends up with (__free_one_page()). The pool
 * need not be a power of two: init carves the tail into smaller aligned
 * blocks, and a buddy at or past nr_frames is never free, so no merge
 * crosses the end.
 *
 * The lists are doubly linked through frames[].next/prev (frame indices,
 * GMM_NIL-terminated) so that a buddy is unlinked in O(1) when it merges.
 *
 * Edges of the contract (the header leaves them open):
 *  - init refuses frames == NULL, nr_frames == 0 and nr_frames >= GMM_NIL
 *    with -EINVAL, before touching anything;
 *  - alloc of order > GMM_MAX_ORDER returns GMM_NO_FRAME and is counted
 *    nowhere: fails[] has no slot for it;
 *  - alloc hands out clean descriptors: flags GMM_PG_ALLOC, owner, gpa and
 *    swap 0, links GMM_NIL; free clears them the same way;
 *  - free ignores a request it cannot honour without corrupting the lists:
 *    order > GMM_MAX_ORDER, a misaligned pfn, a range past the pool, or any
 *    frame in the range without GMM_PG_ALLOC (a double free). It counts
 *    nothing then.
 */
#include "buddy.h"

#include <errno.h>
#include <string.h>

static void reset_frames(struct gmm_buddy *b, pfn_t pfn, uint64_t nr, uint32_t flags)
{
	for (uint64_t i = 0; i < nr; i++)
		b->frames[pfn + i] = (struct gmm_frame){
			.flags = flags, .next = GMM_NIL, .prev = GMM_NIL,
		};
}

/* Push at the head: a just-freed block is the likeliest to be reused warm. */
static void add_to_free_list(struct gmm_buddy *b, pfn_t pfn, unsigned order)
{
	struct gmm_free_area *area = &b->free_area[order];
	struct gmm_frame *f = &b->frames[pfn];

	f->flags = GMM_PG_BUDDY;
	f->order = (uint8_t)order;
	f->prev = GMM_NIL;
	f->next = area->head;
	if (area->head != GMM_NIL)
		b->frames[area->head].prev = (uint32_t)pfn;
	area->head = (uint32_t)pfn;
	area->nr_free++;
	b->nr_free += 1ULL << order;
}

static void del_from_free_list(struct gmm_buddy *b, pfn_t pfn, unsigned order)
{
	struct gmm_free_area *area = &b->free_area[order];
	struct gmm_frame *f = &b->frames[pfn];

	if (f->prev != GMM_NIL)
		b->frames[f->prev].next = f->next;
	else
		area->head = f->next;
	if (f->next != GMM_NIL)
		b->frames[f->next].prev = f->prev;
	/* it becomes a plain frame: inside a bigger block or handed out */
	*f = (struct gmm_frame){ .next = GMM_NIL, .prev = GMM_NIL };
	area->nr_free--;
	b->nr_free -= 1ULL << order;
}

/* Is the frame at buddy the head of a free block of exactly this order? */
static bool page_is_buddy(const struct gmm_buddy *b, pfn_t buddy, unsigned order)
{
	return buddy < b->nr_frames && (b->frames[buddy].flags & GMM_PG_BUDDY) &&
	       b->frames[buddy].order == order;
}

int gmm_buddy_init(struct gmm_buddy *b, struct gmm_frame *frames, uint64_t nr_frames)
{
	unsigned order;

	/* pfns must stay below GMM_NIL, which ends the lists */
	if (!frames || nr_frames == 0 || nr_frames >= GMM_NIL)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->frames = frames;
	b->nr_frames = nr_frames;
	for (order = 0; order < GMM_NR_ORDERS; order++)
		b->free_area[order].head = GMM_NIL;
	reset_frames(b, 0, nr_frames, 0);

	/*
	 * Carve from the top: the block ending at 'end' can be as large as the
	 * alignment of end allows, which yields the largest aligned blocks
	 * (the binary digits of nr_frames for the tail). Pushing at the head
	 * while walking down leaves every list in ascending address order.
	 */
	for (uint64_t end = nr_frames; end; end -= 1ULL << order) {
		order = MIN((unsigned)__builtin_ctzll(end), GMM_MAX_ORDER);
		add_to_free_list(b, end - (1ULL << order), order);
	}
	return 0;
}

/*
 * Halve the block of 2^high frames at pfn until 2^low is left at pfn; each
 * upper half goes on the list of its order, as Linux's expand().
 */
static void expand(struct gmm_buddy *b, pfn_t pfn, unsigned low, unsigned high)
{
	while (high > low) {
		high--;
		add_to_free_list(b, pfn + (1ULL << high), high);
		b->splits++;
	}
}

pfn_t gmm_buddy_alloc(struct gmm_buddy *b, unsigned order)
{
	if (order > GMM_MAX_ORDER)
		return GMM_NO_FRAME; /* no fails[] slot to count it in */

	for (unsigned o = order; o <= GMM_MAX_ORDER; o++) {
		pfn_t pfn = b->free_area[o].head;

		if (pfn == GMM_NIL)
			continue;
		del_from_free_list(b, pfn, o);
		expand(b, pfn, order, o);
		reset_frames(b, pfn, 1ULL << order, GMM_PG_ALLOC);
		b->allocs[order]++;
		return pfn;
	}
	b->fails[order]++;
	return GMM_NO_FRAME;
}

/*
 * Only frames that are all handed out can be given back: anything else
 * (a double free, a stray pfn) would put a block on a list twice or
 * overlap a free one, and the allocator would hand it out twice.
 */
static bool free_ok(const struct gmm_buddy *b, pfn_t pfn, unsigned order)
{
	uint64_t size;

	if (order > GMM_MAX_ORDER)
		return false;
	size = 1ULL << order;
	if ((pfn & (size - 1)) || pfn >= b->nr_frames || size > b->nr_frames - pfn)
		return false;
	for (uint64_t i = 0; i < size; i++)
		if (!(b->frames[pfn + i].flags & GMM_PG_ALLOC))
			return false;
	return true;
}

void gmm_buddy_free(struct gmm_buddy *b, pfn_t pfn, unsigned order)
{
	if (!free_ok(b, pfn, order))
		return;
	reset_frames(b, pfn, 1ULL << order, 0);
	b->frees[order]++;

	/*
	 * As __free_one_page(): the frames of a sub-block freed out of a
	 * larger allocation are still GMM_PG_ALLOC, never a buddy, so merging
	 * stops at them and resumes when they come back.
	 */
	while (order < GMM_MAX_ORDER) {
		pfn_t buddy = pfn ^ (1ULL << order);

		if (!page_is_buddy(b, buddy, order))
			break;
		del_from_free_list(b, buddy, order);
		b->merges++;
		pfn &= buddy; /* the merged block starts at the lower half */
		order++;
	}
	add_to_free_list(b, pfn, order);
}

int gmm_buddy_max_free_order(const struct gmm_buddy *b)
{
	for (int order = GMM_MAX_ORDER; order >= 0; order--)
		if (b->free_area[order].nr_free)
			return order;
	return -1;
}

/* One listed block: a marked head in the pool, its other frames unmarked. */
static int check_block(const struct gmm_buddy *b, pfn_t pfn, unsigned order)
{
	uint64_t size = 1ULL << order;

	if (pfn >= b->nr_frames || size > b->nr_frames - pfn || (pfn & (size - 1)))
		return -EINVAL;
	if (b->frames[pfn].flags != GMM_PG_BUDDY || b->frames[pfn].order != order)
		return -EINVAL;
	/* a marked frame inside means overlapping blocks or a stray flag */
	for (uint64_t i = 1; i < size; i++)
		if (b->frames[pfn + i].flags)
			return -EINVAL;
	/* a free buddy of the same order means a free failed to merge */
	if (order < GMM_MAX_ORDER && page_is_buddy(b, pfn ^ size, order))
		return -EINVAL;
	return 0;
}

/* free_area[order]: links agree both ways, nr_free is the length. */
static int check_list(const struct gmm_buddy *b, unsigned order, uint64_t *nr_free)
{
	const struct gmm_free_area *area = &b->free_area[order];
	uint32_t prev = GMM_NIL;
	uint64_t n = 0;

	for (uint32_t pfn = area->head; pfn != GMM_NIL; pfn = b->frames[pfn].next) {
		/* more blocks than fit in the pool: the list loops */
		if (n++ >= b->nr_frames >> order)
			return -EINVAL;
		if (check_block(b, pfn, order) || b->frames[pfn].prev != prev)
			return -EINVAL;
		prev = pfn;
	}
	if (n != area->nr_free)
		return -EINVAL;
	*nr_free += n << order;
	return 0;
}

/*
 * The listed heads are the only GMM_PG_BUDDY frames, and every frame that
 * is not free is GMM_PG_ALLOC (or it could never be freed: a leak).
 */
static int check_flags(const struct gmm_buddy *b)
{
	uint64_t heads = 0, allocated = 0, blocks = 0;

	for (uint64_t pfn = 0; pfn < b->nr_frames; pfn++) {
		heads += !!(b->frames[pfn].flags & GMM_PG_BUDDY);
		allocated += !!(b->frames[pfn].flags & GMM_PG_ALLOC);
	}
	for (unsigned order = 0; order < GMM_NR_ORDERS; order++)
		blocks += b->free_area[order].nr_free;
	if (heads != blocks || allocated != b->nr_frames - b->nr_free)
		return -EINVAL;
	return 0;
}

int gmm_buddy_check(const struct gmm_buddy *b)
{
	uint64_t nr_free = 0;

	if (!b->frames || b->nr_frames == 0 || b->nr_frames >= GMM_NIL)
		return -EINVAL;
	for (unsigned order = 0; order < GMM_NR_ORDERS; order++)
		if (check_list(b, order, &nr_free))
			return -EINVAL;
	if (nr_free != b->nr_free)
		return -EINVAL;
	return check_flags(b);
}
