// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the buddy allocator (guestmm/buddy.c), as a sequence of
 * operations checked against a bitmap of allocated frames.
 *
 * The input gives the pool size (any, not only powers of two), then
 * operations: allocate an order (orders past GMM_MAX_ORDER included), free a
 * recent allocation whole, free a naturally aligned piece of one, or free any
 * range at all. The model decides everything from the bitmap:
 *  - an allocation fails exactly when no naturally aligned 2^order range of
 *    the pool is wholly free (maximal merging puts such a range in one free
 *    block), else it is aligned, inside the pool and was wholly free;
 *  - a free is honoured exactly when its range is aligned, inside the pool
 *    and wholly allocated; anything else (a double free, a stray range)
 *    changes nothing and counts nothing;
 *  - nr_free, the per-order counters and gmm_buddy_max_free_order agree with
 *    the model after every operation, gmm_buddy_check passes after every one
 *    on small pools (every 16th on large ones), and once everything is freed
 *    the free lists are the ones init made.
 */
#include "fuzz.h"

#include "guestmm/buddy.h"

#define MAX_FRAMES 4096
#define RECENT     64

struct model {
	uint64_t nr;
	uint8_t used[MAX_FRAMES];            /* 1: allocated */
	uint64_t allocated;
	uint64_t allocs[GMM_NR_ORDERS], fails[GMM_NR_ORDERS], frees[GMM_NR_ORDERS];
	pfn_t recent[RECENT];                /* recent allocations, for likely-valid frees */
	unsigned recent_order[RECENT];
	unsigned nr_recent;
};

static struct gmm_buddy b;
static struct gmm_frame frames[MAX_FRAMES];
static struct model m;

static bool range_in_pool(pfn_t pfn, unsigned order)
{
	return order <= GMM_MAX_ORDER && !(pfn & ((1ULL << order) - 1)) && pfn < m.nr &&
	       (1ULL << order) <= m.nr - pfn;
}

/* Every frame of the range allocated (want = 1) or free (want = 0)? */
static bool range_is(pfn_t pfn, unsigned order, uint8_t want)
{
	for (pfn_t p = pfn; p < pfn + (1ULL << order); p++)
		if (m.used[p] != want)
			return false;
	return true;
}

static bool model_has_room(unsigned order)
{
	for (pfn_t p = 0; p + (1ULL << order) <= m.nr; p += 1ULL << order)
		if (range_is(p, order, 0))
			return true;
	return false;
}

static void model_mark(pfn_t pfn, unsigned order, uint8_t used)
{
	memset(&m.used[pfn], used, 1ULL << order);
	if (used)
		m.allocated += 1ULL << order;
	else
		m.allocated -= 1ULL << order;
}

static void do_alloc(unsigned order)
{
	pfn_t pfn = gmm_buddy_alloc(&b, order);

	if (order > GMM_MAX_ORDER) {
		FZ_CHECK(pfn == GMM_NO_FRAME, "order %u handed out 0x%llx", order, FZ_ULL(pfn));
		return;
	}
	if (pfn == GMM_NO_FRAME) {
		FZ_CHECK(!model_has_room(order), "order %u refused with a free range left", order);
		m.fails[order]++;
		return;
	}
	FZ_CHECK(range_in_pool(pfn, order), "order %u: block 0x%llx misaligned or outside the pool",
		 order, FZ_ULL(pfn));
	FZ_CHECK(range_is(pfn, order, 0), "order %u: block 0x%llx was not free", order, FZ_ULL(pfn));
	for (pfn_t p = pfn; p < pfn + (1ULL << order); p++)
		FZ_CHECK(frames[p].flags == GMM_PG_ALLOC && frames[p].owner == 0 &&
			 frames[p].gpa == 0 && frames[p].swap == 0,
			 "frame 0x%llx handed out dirty (flags 0x%x)", FZ_ULL(p), frames[p].flags);
	model_mark(pfn, order, 1);
	m.allocs[order]++;
	m.recent[m.nr_recent % RECENT] = pfn;
	m.recent_order[m.nr_recent % RECENT] = order;
	m.nr_recent++;
}

static void do_free(pfn_t pfn, unsigned order)
{
	bool valid = range_in_pool(pfn, order) && range_is(pfn, order, 1);

	gmm_buddy_free(&b, pfn, order);
	if (!valid)
		return; /* ignored: the comparison after the step shows nothing changed */
	model_mark(pfn, order, 0);
	m.frees[order]++;
}

static int model_max_free_order(void)
{
	for (int o = GMM_MAX_ORDER; o >= 0; o--)
		if (model_has_room((unsigned)o))
			return o;
	return -1;
}

static void compare(unsigned step)
{
	FZ_CHECK(b.nr_free == m.nr - m.allocated, "step %u: nr_free %llu, the model has %llu",
		 step, FZ_ULL(b.nr_free), FZ_ULL(m.nr - m.allocated));
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		FZ_CHECK(b.allocs[o] == m.allocs[o] && b.fails[o] == m.fails[o] &&
			 b.frees[o] == m.frees[o], "step %u: order %u counters differ", step, o);
	FZ_CHECK(gmm_buddy_max_free_order(&b) == model_max_free_order(),
		 "step %u: max free order %d, the model has %d", step,
		 gmm_buddy_max_free_order(&b), model_max_free_order());
	if (m.nr <= 512 || step % 16 == 0)
		FZ_CHECK(gmm_buddy_check(&b) == 0, "step %u: gmm_buddy_check failed", step);
}

static void step(struct fz *f)
{
	unsigned op = (unsigned)fz_below(f, 8), i, order, sub;

	if (op < 4 || !m.nr_recent) {
		/* small orders mostly, as a guest's faults ask */
		do_alloc(fz_bool(f) ? (unsigned)fz_below(f, 3) : (unsigned)fz_below(f, GMM_NR_ORDERS + 1));
		return;
	}
	i = (unsigned)fz_below(f, MIN(m.nr_recent, RECENT));
	order = m.recent_order[i];
	switch (op) {
	case 4:
	case 5:
		do_free(m.recent[i], order);
		break;
	case 6:
		/* a naturally aligned piece of an allocation */
		sub = (unsigned)fz_below(f, order + 1);
		do_free(m.recent[i] + (fz_below(f, 1ULL << (order - sub)) << sub), sub);
		break;
	default:
		do_free(fz_below(f, m.nr + 16), (unsigned)fz_below(f, GMM_NR_ORDERS + 2));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint64_t initial[GMM_NR_ORDERS];
	unsigned steps = 0;

	memset(&m, 0, sizeof(m));
	m.nr = 1 + fz_below(&f, MAX_FRAMES);
	FZ_CHECK(gmm_buddy_init(&b, frames, m.nr) == 0, "init of %llu frames", FZ_ULL(m.nr));
	FZ_CHECK(gmm_buddy_check(&b) == 0, "init of %llu frames: check failed", FZ_ULL(m.nr));
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		initial[o] = b.free_area[o].nr_free;
	while (fz_more(&f)) {
		step(&f);
		compare(steps++);
	}
	/* give everything back: the pool must be as init left it */
	for (pfn_t p = 0; p < m.nr; p++)
		if (m.used[p])
			do_free(p, 0);
	compare(steps);
	FZ_CHECK(gmm_buddy_check(&b) == 0, "drained pool: check failed");
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		FZ_CHECK(b.free_area[o].nr_free == initial[o], "drained pool: %llu blocks of order %u, "
			 "init made %llu", FZ_ULL(b.free_area[o].nr_free), o, FZ_ULL(initial[o]));
	return 0;
}
