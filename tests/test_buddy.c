// SPDX-License-Identifier: MIT
/*
 * Unit tests for the buddy allocator (guestmm/buddy.c). Pools are allocated
 * with exactly nr_frames descriptors so that the sanitizer build catches any
 * step past the end. The randomized test keeps a bitmap of allocated frames
 * as a model and holds the allocator to it after every operation.
 */
#include <criterion/criterion.h>

#include "guestmm/buddy.h"
#include "guestmm/pool.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct gmm_buddy b;
static struct gmm_frame *frames;

static void pool_init(uint64_t nr)
{
	free(frames);
	frames = calloc(nr, sizeof(*frames));
	cr_assert_not_null(frames);
	cr_assert_eq(gmm_buddy_init(&b, frames, nr), 0);
	cr_assert_eq(gmm_buddy_check(&b), 0);
}

static void pool_fini(void)
{
	free(frames);
	frames = NULL;
}

TestSuite(buddy, .fini = pool_fini);

/* A small PRNG (xorshift64*) so that every run sees the same sequence. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rng_below(uint64_t n)
{
	return rng() % n;
}

static void shuffle(pfn_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(i);
		pfn_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* The free blocks a fresh pool of nr frames must hold, per order. */
static void expected_free_area(uint64_t nr, uint64_t want[GMM_NR_ORDERS])
{
	memset(want, 0, GMM_NR_ORDERS * sizeof(want[0]));
	want[GMM_MAX_ORDER] = nr >> GMM_MAX_ORDER;
	for (unsigned o = 0; o < GMM_MAX_ORDER; o++)
		want[o] = (nr >> o) & 1;
}

static void assert_free_area(const uint64_t want[GMM_NR_ORDERS])
{
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		cr_assert_eq(b.free_area[o].nr_free, want[o], "order %u: %lu free blocks, want %lu",
			     o, (unsigned long)b.free_area[o].nr_free, (unsigned long)want[o]);
}

/* Field by field: the structs have padding that memcmp would compare. */
static void assert_same_free_area(const struct gmm_buddy *before)
{
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++) {
		cr_assert_eq(b.free_area[o].head, before->free_area[o].head, "order %u", o);
		cr_assert_eq(b.free_area[o].nr_free, before->free_area[o].nr_free, "order %u", o);
	}
	cr_assert_eq(b.nr_free, before->nr_free);
}

static void assert_same_buddy(const struct gmm_buddy *before)
{
	assert_same_free_area(before);
	cr_assert_eq(b.frames, before->frames);
	cr_assert_eq(b.nr_frames, before->nr_frames);
	cr_assert_eq(memcmp(b.allocs, before->allocs, sizeof(b.allocs)), 0);
	cr_assert_eq(memcmp(b.frees, before->frees, sizeof(b.frees)), 0);
	cr_assert_eq(memcmp(b.fails, before->fails, sizeof(b.fails)), 0);
	cr_assert_eq(b.splits, before->splits);
	cr_assert_eq(b.merges, before->merges);
}

/* The pfns on free_area[order], in list order. */
static size_t list_pfns(unsigned order, pfn_t *out, size_t max)
{
	size_t n = 0;

	for (uint32_t p = b.free_area[order].head; p != GMM_NIL; p = frames[p].next) {
		cr_assert_lt(n, max);
		out[n++] = p;
	}
	return n;
}

Test(buddy, frame_descriptor_size)
{
	cr_log_info("sizeof(struct gmm_frame) = %zu", sizeof(struct gmm_frame));
	cr_assert_eq(sizeof(struct gmm_frame), 32);
	cr_assert_leq(sizeof(struct gmm_frame), 64);
}

Test(buddy, init_rejects_bad_arguments)
{
	struct gmm_frame one[1];
	struct gmm_buddy z;

	cr_assert_eq(gmm_buddy_init(&z, NULL, 16), -EINVAL);
	cr_assert_eq(gmm_buddy_init(&z, one, 0), -EINVAL);
	/* pfns must stay below GMM_NIL: refused before any descriptor is touched */
	cr_assert_eq(gmm_buddy_init(&z, one, GMM_NIL), -EINVAL);
	cr_assert_eq(gmm_buddy_init(&z, one, 1ULL << 40), -EINVAL);
	cr_assert_eq(gmm_buddy_init(&z, one, 1), 0);
	cr_assert_eq(gmm_buddy_check(&z), 0);
}

Test(buddy, init_sizes)
{
	static const uint64_t sizes[] = {
		1, 2, 3, 7, 8, 100, 511, 512, 1000, 1023, 1024, 1025, 2048, 3000, 4096, 4097, 10000,
	};
	uint64_t want[GMM_NR_ORDERS];

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		pool_init(sizes[i]);
		expected_free_area(sizes[i], want);
		assert_free_area(want);
		cr_assert_eq(b.nr_free, sizes[i]);
		cr_assert_eq(b.nr_frames, sizes[i]);
		cr_assert_eq(b.splits + b.merges, 0);
		for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
			cr_assert_eq(b.allocs[o] + b.frees[o] + b.fails[o], 0);
	}
}

Test(buddy, init_1024_is_one_max_order_block)
{
	pool_init(1024);
	cr_assert_eq(b.free_area[GMM_MAX_ORDER].nr_free, 1);
	cr_assert_eq(b.free_area[GMM_MAX_ORDER].head, 0);
	for (unsigned o = 0; o < GMM_MAX_ORDER; o++) {
		cr_assert_eq(b.free_area[o].nr_free, 0);
		cr_assert_eq(b.free_area[o].head, GMM_NIL);
	}
	cr_assert_eq(frames[0].flags, GMM_PG_BUDDY);
	cr_assert_eq(frames[0].order, GMM_MAX_ORDER);
	for (unsigned i = 1; i < 1024; i++)
		cr_assert_eq(frames[i].flags, 0);
	cr_assert_eq(gmm_buddy_max_free_order(&b), GMM_MAX_ORDER);
}

Test(buddy, init_1000_carves_the_tail)
{
	/* 1000 = 512 + 256 + 128 + 64 + 32 + 8, laid out in that order */
	static const struct { unsigned order; pfn_t pfn; } blocks[] = {
		{ 9, 0 }, { 8, 512 }, { 7, 768 }, { 6, 896 }, { 5, 960 }, { 3, 992 },
	};
	pfn_t got[4];

	pool_init(1000);
	cr_assert_eq(gmm_buddy_max_free_order(&b), 9);
	for (size_t i = 0; i < ARRAY_SIZE(blocks); i++) {
		cr_assert_eq(list_pfns(blocks[i].order, got, ARRAY_SIZE(got)), 1);
		cr_assert_eq(got[0], blocks[i].pfn);
		cr_assert_eq(frames[got[0]].order, blocks[i].order);
	}
	cr_assert_eq(b.free_area[10].nr_free + b.free_area[4].nr_free +
		     b.free_area[2].nr_free + b.free_area[1].nr_free + b.free_area[0].nr_free, 0);
}

Test(buddy, init_lists_in_address_order)
{
	pfn_t got[8];

	pool_init(4 * 1024 + 1);
	cr_assert_eq(list_pfns(GMM_MAX_ORDER, got, ARRAY_SIZE(got)), 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(got[i], i * 1024);
	cr_assert_eq(list_pfns(0, got, ARRAY_SIZE(got)), 1);
	cr_assert_eq(got[0], 4096);
	/* lowest block first */
	cr_assert_eq(gmm_buddy_alloc(&b, GMM_MAX_ORDER), 0);
}

Test(buddy, split_then_merge_restores_state)
{
	struct gmm_buddy before;
	struct gmm_frame *snap;

	pool_init(1024);
	before = b;
	snap = malloc(1024 * sizeof(*snap));
	cr_assert_not_null(snap);
	memcpy(snap, frames, 1024 * sizeof(*snap));

	cr_assert_eq(gmm_buddy_alloc(&b, 0), 0);
	cr_assert_eq(b.splits, 10);
	cr_assert_eq(b.nr_free, 1023);
	/* the upper halves: 512 at order 9, 256 at order 8, ..., 1 at order 0 */
	for (unsigned o = 0; o < GMM_MAX_ORDER; o++) {
		cr_assert_eq(b.free_area[o].nr_free, 1);
		cr_assert_eq(b.free_area[o].head, 1u << o);
	}
	cr_assert_eq(b.free_area[GMM_MAX_ORDER].nr_free, 0);
	cr_assert_eq(frames[0].flags, GMM_PG_ALLOC);
	cr_assert_eq(gmm_buddy_check(&b), 0);

	/* a second order-0 takes the order-0 buddy: no split */
	cr_assert_eq(gmm_buddy_alloc(&b, 0), 1);
	cr_assert_eq(b.splits, 10);
	gmm_buddy_free(&b, 1, 0);
	cr_assert_eq(b.merges, 0);
	gmm_buddy_free(&b, 0, 0);
	cr_assert_eq(b.merges, 10);
	cr_assert_eq(gmm_buddy_check(&b), 0);

	/* everything but the counters is as init left it, descriptors included */
	assert_same_free_area(&before);
	cr_assert_eq(b.nr_free, before.nr_free);
	cr_assert_eq(memcmp(frames, snap, 1024 * sizeof(*snap)), 0);
	cr_assert_eq(b.allocs[0], 2);
	cr_assert_eq(b.frees[0], 2);
	free(snap);
}

Test(buddy, every_order_alloc_free)
{
	struct gmm_buddy before;

	pool_init(1024);
	before = b;
	for (unsigned o = 0; o <= GMM_MAX_ORDER; o++) {
		uint64_t splits = b.splits, merges = b.merges;
		pfn_t pfn = gmm_buddy_alloc(&b, o);

		cr_assert_eq(pfn, 0, "order %u", o);
		cr_assert_eq(b.splits - splits, GMM_MAX_ORDER - o);
		cr_assert_eq(b.nr_free, 1024 - (1u << o));
		cr_assert_eq(b.allocs[o], 1);
		for (unsigned i = 0; i < (1u << o); i++)
			cr_assert_eq(frames[i].flags, GMM_PG_ALLOC);
		cr_assert_eq(gmm_buddy_check(&b), 0);
		cr_assert_eq(gmm_buddy_max_free_order(&b), o == GMM_MAX_ORDER ? -1 : GMM_MAX_ORDER - 1);

		gmm_buddy_free(&b, pfn, o);
		cr_assert_eq(b.merges - merges, GMM_MAX_ORDER - o);
		cr_assert_eq(b.frees[o], 1);
		assert_same_free_area(&before);
		cr_assert_eq(gmm_buddy_check(&b), 0);
	}
}

Test(buddy, one_of_each_order_at_once)
{
	pfn_t got[GMM_NR_ORDERS];
	uint64_t want[GMM_NR_ORDERS], used = 0;

	pool_init(4096);
	for (unsigned o = 0; o <= GMM_MAX_ORDER; o++) {
		got[o] = gmm_buddy_alloc(&b, o);
		cr_assert_neq(got[o], GMM_NO_FRAME);
		cr_assert_eq(got[o] & ((1u << o) - 1), 0);
		used += 1u << o;
		cr_assert_eq(b.nr_free, 4096 - used);
		cr_assert_eq(gmm_buddy_check(&b), 0);
	}
	for (unsigned o = GMM_MAX_ORDER + 1; o-- > 0;) {
		gmm_buddy_free(&b, got[o], o);
		cr_assert_eq(gmm_buddy_check(&b), 0);
	}
	expected_free_area(4096, want);
	assert_free_area(want);
	cr_assert_eq(b.merges, b.splits);
}

static void exhaust_and_refill(uint64_t nr)
{
	uint64_t want[GMM_NR_ORDERS];
	pfn_t *got = malloc(nr * sizeof(*got));
	uint8_t *seen = calloc(nr, 1);
	uint64_t n = 0;
	pfn_t pfn;

	cr_assert(got && seen);
	pool_init(nr);
	while ((pfn = gmm_buddy_alloc(&b, 0)) != GMM_NO_FRAME) {
		cr_assert_lt(pfn, nr);
		cr_assert_not(seen[pfn], "pfn %lu handed out twice", (unsigned long)pfn);
		seen[pfn] = 1;
		got[n++] = pfn;
		cr_assert_leq(n, nr);
	}
	cr_assert_eq(n, nr);
	cr_assert_eq(b.allocs[0], nr);
	cr_assert_eq(b.fails[0], 1);
	cr_assert_eq(b.nr_free, 0);
	cr_assert_eq(gmm_buddy_max_free_order(&b), -1);
	cr_assert_eq(gmm_buddy_alloc(&b, 0), GMM_NO_FRAME);
	cr_assert_eq(gmm_buddy_alloc(&b, 3), GMM_NO_FRAME);
	cr_assert_eq(b.fails[0], 2);
	cr_assert_eq(b.fails[3], 1);
	cr_assert_eq(gmm_buddy_check(&b), 0);

	shuffle(got, nr);
	for (uint64_t i = 0; i < nr; i++) {
		gmm_buddy_free(&b, got[i], 0);
		if (i % 97 == 0)
			cr_assert_eq(gmm_buddy_check(&b), 0);
	}
	cr_assert_eq(b.frees[0], nr);
	cr_assert_eq(b.nr_free, nr);
	expected_free_area(nr, want);
	assert_free_area(want);
	cr_assert_eq(b.merges, b.splits);
	cr_assert_eq(gmm_buddy_check(&b), 0);
	free(got);
	free(seen);
}

Test(buddy, exhaustion)
{
	static const uint64_t sizes[] = { 1, 3, 1000, 1024, 1025, 4097 };

	rng_seed(42);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		exhaust_and_refill(sizes[i]);
}

Test(buddy, order_above_max_refused)
{
	struct gmm_buddy before;

	pool_init(2048);
	before = b;
	cr_assert_eq(gmm_buddy_alloc(&b, GMM_MAX_ORDER + 1), GMM_NO_FRAME);
	cr_assert_eq(gmm_buddy_alloc(&b, 64), GMM_NO_FRAME);
	cr_assert_eq(gmm_buddy_alloc(&b, UINT32_MAX), GMM_NO_FRAME);
	/* counted nowhere: fails[] has no slot beyond GMM_MAX_ORDER */
	assert_same_buddy(&before);
	gmm_buddy_free(&b, 0, GMM_MAX_ORDER + 1);
	assert_same_buddy(&before);
	cr_assert_eq(gmm_buddy_check(&b), 0);
}

Test(buddy, bad_frees_ignored)
{
	struct gmm_buddy before;
	struct gmm_frame *snap = malloc(1000 * sizeof(*snap));
	pfn_t p3, p0;

	cr_assert_not_null(snap);
	pool_init(1000);
	p3 = gmm_buddy_alloc(&b, 3);
	p0 = gmm_buddy_alloc(&b, 0);
	cr_assert_neq(p3, GMM_NO_FRAME);
	cr_assert_neq(p0, GMM_NO_FRAME);
	gmm_buddy_free(&b, p0, 0);
	before = b;
	memcpy(snap, frames, 1000 * sizeof(*snap));

	gmm_buddy_free(&b, p0, 0);		/* double free */
	gmm_buddy_free(&b, p3 + 1, 1);		/* misaligned */
	gmm_buddy_free(&b, p3, 4);		/* reaches past the allocation */
	gmm_buddy_free(&b, 1000, 0);		/* past the pool */
	gmm_buddy_free(&b, 992, 4);		/* aligned, but past the end */
	gmm_buddy_free(&b, GMM_NO_FRAME, 0);
	assert_same_buddy(&before);
	cr_assert_eq(memcmp(frames, snap, 1000 * sizeof(*snap)), 0);
	cr_assert_eq(gmm_buddy_check(&b), 0);
	free(snap);
}

Test(buddy, alloc_hands_out_clean_descriptors)
{
	pfn_t p;

	pool_init(64);
	p = gmm_buddy_alloc(&b, 2);
	cr_assert_eq(p, 0);
	for (unsigned i = 0; i < 4; i++) {
		frames[p + i].flags |= GMM_PG_LRU | GMM_PG_ACTIVE | GMM_PG_REFERENCED;
		frames[p + i].owner = 7;
		frames[p + i].gpa = 0x1234000;
		frames[p + i].swap = 99;
		frames[p + i].next = frames[p + i].prev = 5;
	}
	gmm_buddy_free(&b, p, 2);
	cr_assert_eq(gmm_buddy_check(&b), 0);
	for (unsigned i = 1; i < 64; i++)
		cr_assert_eq(frames[i].flags, 0);
	p = gmm_buddy_alloc(&b, 2);
	cr_assert_eq(p, 0);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(frames[p + i].flags, GMM_PG_ALLOC);
		cr_assert_eq(frames[p + i].owner, 0);
		cr_assert_eq(frames[p + i].gpa, 0);
		cr_assert_eq(frames[p + i].swap, 0);
		cr_assert_eq(frames[p + i].next, GMM_NIL);
		cr_assert_eq(frames[p + i].prev, GMM_NIL);
	}
}

Test(buddy, max_free_order)
{
	pool_init(3);
	cr_assert_eq(gmm_buddy_max_free_order(&b), 1);
	cr_assert_eq(gmm_buddy_alloc(&b, 1), 0);
	cr_assert_eq(gmm_buddy_max_free_order(&b), 0);
	cr_assert_eq(gmm_buddy_alloc(&b, 1), GMM_NO_FRAME);
	cr_assert_eq(gmm_buddy_alloc(&b, 0), 2);
	cr_assert_eq(gmm_buddy_max_free_order(&b), -1);
	gmm_buddy_free(&b, 0, 1);
	cr_assert_eq(gmm_buddy_max_free_order(&b), 1);
}

Test(buddy, merging_stops_at_the_pool_end)
{
	uint64_t want[GMM_NR_ORDERS];

	/* 1025: the lone tail frame's buddy, 1025, is past the end */
	pool_init(1025);
	cr_assert_eq(gmm_buddy_alloc(&b, 0), 1024);
	cr_assert_eq(b.splits, 0);
	gmm_buddy_free(&b, 1024, 0);
	cr_assert_eq(b.merges, 0);
	expected_free_area(1025, want);
	assert_free_area(want);

	/* 3: frame 2 must not merge with a frame 3 that does not exist */
	pool_init(3);
	cr_assert_eq(gmm_buddy_alloc(&b, 0), 2);
	gmm_buddy_free(&b, 2, 0);
	cr_assert_eq(b.merges, 0);
	cr_assert_eq(b.free_area[0].head, 2);
	cr_assert_eq(b.free_area[1].head, 0);
	cr_assert_eq(gmm_buddy_check(&b), 0);

	/* 1000: the order-3 tail at 992 never merges with [1000, 1008) */
	pool_init(1000);
	cr_assert_eq(gmm_buddy_alloc(&b, 3), 992);
	gmm_buddy_free(&b, 992, 3);
	expected_free_area(1000, want);
	assert_free_area(want);
	cr_assert_eq(gmm_buddy_check(&b), 0);
}

Test(buddy, alignment_of_every_block)
{
	static const uint64_t sizes[] = { 1000, 1025, 4097 };

	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		uint64_t nr = sizes[s];

		pool_init(nr);
		/* largest first, then smaller, until nothing is left */
		for (unsigned o = GMM_MAX_ORDER + 1; o-- > 0;) {
			pfn_t pfn;

			while ((pfn = gmm_buddy_alloc(&b, o)) != GMM_NO_FRAME) {
				cr_assert_eq(pfn & ((1ULL << o) - 1), 0, "pfn %lu, order %u",
					     (unsigned long)pfn, o);
				cr_assert_leq(pfn + (1ULL << o), nr);
			}
		}
		cr_assert_eq(b.nr_free, 0);
		cr_assert_eq(gmm_buddy_check(&b), 0);
	}
}

/* Free the 8 frames of an order-3 allocation in the order perm gives. */
static void free_singles(const unsigned perm[8])
{
	pool_init(16);
	cr_assert_eq(gmm_buddy_alloc(&b, 3), 0);
	for (unsigned i = 0; i < 8; i++) {
		gmm_buddy_free(&b, perm[i], 0);
		cr_assert_eq(gmm_buddy_check(&b), 0);
		cr_assert_eq(b.nr_free, 8 + i + 1);
	}
	/* back to the order-3 block, merged on with its buddy into order 4 */
	cr_assert_eq(b.free_area[4].nr_free, 1);
	cr_assert_eq(b.free_area[4].head, 0);
	cr_assert_eq(b.nr_free, 16);
	cr_assert_eq(b.frees[0], 8);
	cr_assert_eq(b.merges, 8);	/* 7 pairings inside the block, 1 with its buddy */
}

static bool next_permutation(unsigned *a, unsigned n)
{
	unsigned i = n - 1, j = n - 1;

	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (i == 0)
		return false;
	while (a[j] <= a[i - 1])
		j--;
	unsigned t = a[i - 1];
	a[i - 1] = a[j];
	a[j] = t;
	for (j = n - 1; i < j; i++, j--) {
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	return true;
}

Test(buddy, single_frames_of_a_block_merge_in_any_order)
{
	unsigned perm[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	unsigned n = 0;

	do {
		free_singles(perm);
		n++;
	} while (next_permutation(perm, 8));
	cr_assert_eq(n, 40320);
}

Test(buddy, single_frames_of_a_max_order_block)
{
	pfn_t order[1024];
	struct gmm_buddy before;

	rng_seed(7);
	pool_init(2048);
	before = b;
	cr_assert_eq(gmm_buddy_alloc(&b, GMM_MAX_ORDER), 0);
	for (unsigned i = 0; i < 1024; i++)
		order[i] = i;
	shuffle(order, 1024);
	for (unsigned i = 0; i < 1024; i++) {
		gmm_buddy_free(&b, order[i], 0);
		if (i % 61 == 0 || i == 1023)
			cr_assert_eq(gmm_buddy_check(&b), 0);
	}
	cr_assert_eq(b.merges, 1023);
	assert_same_free_area(&before);
}

Test(buddy, mixed_sub_blocks_of_an_allocation)
{
	pool_init(16);
	cr_assert_eq(gmm_buddy_alloc(&b, 3), 0);
	gmm_buddy_free(&b, 4, 2);	/* upper half: order 2 */
	gmm_buddy_free(&b, 1, 0);
	gmm_buddy_free(&b, 2, 1);
	cr_assert_eq(gmm_buddy_check(&b), 0);
	cr_assert_eq(b.nr_free, 8 + 7);
	cr_assert_eq(b.free_area[0].head, 1);
	gmm_buddy_free(&b, 0, 0);	/* 0+1 -> 0..1, +2..3 -> 0..3, +4..7 -> 0..7, +8..15 */
	cr_assert_eq(b.free_area[4].nr_free, 1);
	cr_assert_eq(b.nr_free, 16);
	cr_assert_eq(b.frees[0] + b.frees[1] + b.frees[2], 4);
	cr_assert_eq(gmm_buddy_check(&b), 0);
}

/*
 * The model: a bitmap of allocated frames and the list of live allocations.
 * The allocator must never hand out an allocated frame, must keep nr_free at
 * nr_frames minus the allocated count, and must fail an order-o request only
 * when no naturally aligned 2^o range of the pool is wholly free (with
 * maximal merging, such a range is always inside one free block).
 */
struct live {
	pfn_t pfn;
	unsigned order;
};

struct model {
	uint64_t nr;
	uint64_t *bits;
	uint64_t allocated;
	struct live *live;
	size_t nr_live;
};

static bool bit_test(const struct model *m, pfn_t p)
{
	return m->bits[p / 64] >> (p % 64) & 1;
}

static void bits_set(struct model *m, pfn_t pfn, unsigned order, bool on)
{
	for (pfn_t p = pfn; p < pfn + (1ULL << order); p++) {
		cr_assert_eq(bit_test(m, p), !on, "frame %lu", (unsigned long)p);
		m->bits[p / 64] ^= 1ULL << (p % 64);
	}
	if (on)
		m->allocated += 1ULL << order;
	else
		m->allocated -= 1ULL << order;
}

static bool range_free(const struct model *m, pfn_t pfn, unsigned order)
{
	if (order >= 6) {
		for (pfn_t w = pfn / 64; w < (pfn + (1ULL << order)) / 64; w++)
			if (m->bits[w])
				return false;
		return true;
	}
	uint64_t mask = ((1ULL << (1u << order)) - 1) << (pfn % 64);
	return !(m->bits[pfn / 64] & mask);
}

static bool model_has_room(const struct model *m, unsigned order)
{
	for (pfn_t p = 0; p + (1ULL << order) <= m->nr; p += 1ULL << order)
		if (range_free(m, p, order))
			return true;
	return false;
}

static void model_alloc(struct model *m, unsigned order)
{
	uint64_t fails = b.fails[order], allocs = b.allocs[order];
	pfn_t pfn = gmm_buddy_alloc(&b, order);

	if (pfn == GMM_NO_FRAME) {
		cr_assert_not(model_has_room(m, order), "order %u refused with room left", order);
		cr_assert_eq(b.fails[order], fails + 1);
		return;
	}
	cr_assert_eq(b.allocs[order], allocs + 1);
	cr_assert_eq(pfn & ((1ULL << order) - 1), 0);
	cr_assert_leq(pfn + (1ULL << order), m->nr);
	for (pfn_t p = pfn; p < pfn + (1ULL << order); p++)
		cr_assert_eq(frames[p].flags, GMM_PG_ALLOC);
	bits_set(m, pfn, order, true);
	m->live[m->nr_live++] = (struct live){ pfn, order };
}

/* Give back a block whole, or split into halves freed in random order. */
static void model_free_block(struct model *m, pfn_t pfn, unsigned order)
{
	if (order > 0 && rng_below(4) == 0) {
		pfn_t half = 1ULL << (order - 1);
		bool high_first = rng_below(2);

		model_free_block(m, pfn + (high_first ? half : 0), order - 1);
		model_free_block(m, pfn + (high_first ? 0 : half), order - 1);
		return;
	}
	gmm_buddy_free(&b, pfn, order);
	bits_set(m, pfn, order, false);
}

static void model_free(struct model *m)
{
	size_t i = rng_below(m->nr_live);
	struct live l = m->live[i];

	m->live[i] = m->live[--m->nr_live];
	model_free_block(m, l.pfn, l.order);
}

/* Small orders most of the time, as a guest's faults would ask. */
static unsigned random_order(void)
{
	uint64_t r = rng_below(100);

	if (r < 60)
		return 0;
	if (r < 80)
		return (unsigned)rng_below(3) + 1;
	return (unsigned)rng_below(GMM_NR_ORDERS);
}

static uint64_t sum(const uint64_t counts[GMM_NR_ORDERS])
{
	uint64_t n = 0;

	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		n += counts[o];
	return n;
}

static void random_run(uint64_t nr, uint64_t seed, unsigned ops, unsigned check_every)
{
	struct model m = { .nr = nr };
	uint64_t want[GMM_NR_ORDERS], peak = 0;

	rng_seed(seed);
	pool_init(nr);
	m.bits = calloc((nr + 63) / 64, sizeof(*m.bits));
	m.live = calloc(nr, sizeof(*m.live));
	cr_assert(m.bits && m.live);

	for (unsigned op = 0; op < ops; op++) {
		/* alternate filling and draining phases: a full pool and a nearly empty one */
		unsigned free_pct = (op / 2500) % 2 ? 75 : 40;

		if (m.nr_live && rng_below(100) < free_pct)
			model_free(&m);
		else
			model_alloc(&m, random_order());
		cr_assert_eq(b.nr_free, nr - m.allocated, "op %u", op);
		peak = MAX(peak, m.allocated);
		if (op % check_every == 0)
			cr_assert_eq(gmm_buddy_check(&b), 0, "op %u", op);
	}
	cr_log_info("pool %lu, seed %lu: %lu allocs, %lu fails, %lu frees, %lu splits, %lu merges, peak %lu allocated",
		    (unsigned long)nr, (unsigned long)seed, (unsigned long)sum(b.allocs),
		    (unsigned long)sum(b.fails), (unsigned long)sum(b.frees),
		    (unsigned long)b.splits, (unsigned long)b.merges, (unsigned long)peak);
	while (m.nr_live)
		model_free(&m);
	cr_assert_eq(gmm_buddy_check(&b), 0);
	expected_free_area(nr, want);
	assert_free_area(want);
	/* back to the initial blocks: each split, free and merge made a block or took one */
	cr_assert_eq(b.merges, b.splits + sum(b.frees) - sum(b.allocs));
	free(m.bits);
	free(m.live);
}

Test(buddy, random_against_model_check_every_op)
{
	random_run(1000, 1, 20000, 1);
	random_run(3, 2, 2000, 1);
}

Test(buddy, random_against_model_large, .timeout = 60)
{
	random_run(4097, 3, 60000, 16);
	random_run(1025, 4, 30000, 8);
	random_run(8192, 5, 30000, 32);
}

/*
 * gmm_buddy_check must notice each kind of damage. Each case starts from a
 * consistent pool with some allocations and free blocks of several orders.
 */
static void corrupt_setup(void)
{
	pool_init(1000);
	cr_assert_eq(gmm_buddy_alloc(&b, 0), 992);	/* splits 992(3): frees 993, 994, 996 */
	cr_assert_eq(gmm_buddy_alloc(&b, 4), 960);	/* splits 960(5): frees 976(4) */
	cr_assert_eq(gmm_buddy_alloc(&b, 9), 0);
	cr_assert_eq(gmm_buddy_check(&b), 0);
}

Test(buddy, check_catches_bad_counts)
{
	corrupt_setup();
	b.free_area[2].nr_free++;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	b.free_area[0].nr_free = 0;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	b.nr_free--;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	b.nr_frames = 0;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

Test(buddy, check_catches_bad_flags)
{
	corrupt_setup();
	frames[976].flags = 0;				/* listed head lost its mark */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[976].order = 3;				/* head with the wrong order */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[977].flags = GMM_PG_BUDDY;		/* marked frame inside a free block */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[980].flags = GMM_PG_ALLOC;		/* allocated frame inside a free block */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[5].flags |= GMM_PG_BUDDY;		/* stray mark on an allocated frame */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[5].flags = GMM_PG_LRU;			/* allocated frame lost GMM_PG_ALLOC */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[994].flags |= GMM_PG_ALLOC;		/* free head also claims to be allocated */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

Test(buddy, check_catches_bad_links)
{
	corrupt_setup();
	cr_assert_eq(b.free_area[1].head, 994);
	frames[994].prev = 0;				/* head with a prev */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[994].next = 994;				/* a loop */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	frames[994].next = 1000;			/* off the end of the pool */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	b.free_area[1].head = GMM_NIL;			/* block dropped from its list */
	b.free_area[1].nr_free = 0;
	b.nr_free -= 2;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	corrupt_setup();
	b.free_area[1].head = 995;			/* misaligned head */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

Test(buddy, check_catches_a_broken_back_link)
{
	/* two blocks on one list, so that prev matters past the head */
	pool_init(4096);
	cr_assert_eq(b.free_area[GMM_MAX_ORDER].nr_free, 4);
	cr_assert_eq(frames[1024].prev, 0);
	frames[1024].prev = 2048;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

Test(buddy, check_catches_unmerged_buddies)
{
	/* hand-built: two order-0 buddies listed apart, all else consistent */
	pool_init(2);
	frames[0] = (struct gmm_frame){ .flags = GMM_PG_BUDDY, .order = 0, .next = 1, .prev = GMM_NIL };
	frames[1] = (struct gmm_frame){ .flags = GMM_PG_BUDDY, .order = 0, .next = GMM_NIL, .prev = 0 };
	b.free_area[1] = (struct gmm_free_area){ .head = GMM_NIL, .nr_free = 0 };
	b.free_area[0] = (struct gmm_free_area){ .head = 0, .nr_free = 2 };
	b.nr_free = 2;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);

	/* the same pair across the tail of a 3-frame pool is fine: 2 has no buddy */
	pool_init(3);
	cr_assert_eq(gmm_buddy_check(&b), 0);
}

/*
 * Damage that keeps the pool-wide totals in balance, so that only one
 * particular check can see it.
 */
Test(buddy, check_catches_overlapping_blocks)
{
	pool_init(16);
	cr_assert_eq(gmm_buddy_alloc(&b, 3), 0);	/* 8..15 free at order 3 */
	/* a second free block at 10 inside it; 0 and 1 lose GMM_PG_ALLOC to balance */
	frames[10] = (struct gmm_frame){ .flags = GMM_PG_BUDDY, .order = 1, .next = GMM_NIL, .prev = GMM_NIL };
	b.free_area[1] = (struct gmm_free_area){ .head = 10, .nr_free = 1 };
	b.nr_free += 2;
	frames[0].flags = frames[1].flags = 0;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

Test(buddy, check_catches_per_order_counts_that_sum_right)
{
	pfn_t got[16];

	pool_init(32);
	for (unsigned i = 0; i < 16; i++)
		got[i] = gmm_buddy_alloc(&b, 1);
	/* three order-1 blocks whose buddies stay allocated */
	gmm_buddy_free(&b, got[1], 1);
	gmm_buddy_free(&b, got[3], 1);
	gmm_buddy_free(&b, got[5], 1);
	cr_assert_eq(b.free_area[1].nr_free, 3);
	cr_assert_eq(gmm_buddy_check(&b), 0);
	/* +2 order 0, -3 order 1, +1 order 2: same blocks, same frames */
	b.free_area[0].nr_free = 2;
	b.free_area[1].nr_free = 0;
	b.free_area[2].nr_free = 1;
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

Test(buddy, check_catches_a_total_no_list_holds)
{
	corrupt_setup();
	b.nr_free++;
	frames[5].flags = 0;	/* so that the allocated count still agrees */
	cr_assert_eq(gmm_buddy_check(&b), -EINVAL);
}

/* Only a block from the ready lists has zeroed pages in its slots: a buddy
 * frame said to be zeroed makes every copy install drop a page it never had. */
Test(pool, buddy_frames_are_not_handed_out_as_prezeroed)
{
	struct gmm_pool p;
	char err[128];
	bool zeroed = true;

	cr_assert_eq(gmm_pool_init(&p, 1 << 20, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(gmm_pool_alloc(&p, 0, 1, false, &zeroed), GMM_NO_FRAME);
	cr_assert_not(zeroed, "a buddy frame for a copy was said to be zeroed");
	zeroed = true;
	cr_assert_neq(gmm_pool_alloc(&p, 2, 1, true, &zeroed), GMM_NO_FRAME);
	cr_assert_not(zeroed, "a buddy block for a move was said to be zeroed");
	cr_assert_eq(p.ready_hits, 0);
	cr_assert_eq(p.ready_misses, 2);
	gmm_pool_destroy(&p);
}

/* Frames left for reclaim (below the high watermark) are no work for the
 * pre-zeroing thread: allocating them must not wake it each time, a futex
 * wake and a context switch on the other CPU per fault for nothing (most
 * of what memvisor's fault service cost above the bare round trip). */
Test(pool, allocations_without_zeroing_work_leave_the_prezeroing_thread_asleep)
{
	struct gmm_pool p;
	char err[128];
	bool zeroed;
	uint64_t woke;

	cr_assert_eq(gmm_pool_init(&p, 4 << 20, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gmm_prezero_start(&p, -1), 0);
	/* take frames until only the reserve is left, letting the thread settle */
	while (gmm_pool_nr_free(&p) > p.wmark_high) {
		cr_assert_neq(gmm_pool_alloc(&p, 0, 1, true, &zeroed), GMM_NO_FRAME);
		usleep(200);
	}
	usleep(20000);
	pthread_mutex_lock(&p.lock);
	woke = p.zerod_wakeups;
	pthread_mutex_unlock(&p.lock);
	cr_assert_geq(p.wmark_high, 32);
	for (int i = 0; i < 32; i++) {
		cr_assert_neq(gmm_pool_alloc(&p, 0, 1, true, &zeroed), GMM_NO_FRAME);
		usleep(1000); /* time for the thread to wait again, if it was woken */
	}
	pthread_mutex_lock(&p.lock);
	woke = p.zerod_wakeups - woke;
	pthread_mutex_unlock(&p.lock);
	cr_assert_leq(woke, 2, "the pre-zeroing thread woke %llu times for 32 allocations with "
		      "nothing to zero", (unsigned long long)woke);
	gmm_prezero_stop(&p);
	gmm_pool_destroy(&p);
}
