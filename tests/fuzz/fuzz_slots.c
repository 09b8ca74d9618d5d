// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the swap device's slot map (swapd/slots.c), as a sequence of
 * alloc, get, put, retire and count, checked against an array of use counts.
 * The device is set up without a file, as swapd_open does once the file is
 * sized (swapd_slots_init on nr_slots): slot I/O is not fuzzed here.
 *
 * What the model holds the slot map to (swapd.h, and the edges slots.c
 * writes down): slot 0 is never handed out; alloc hands out only free slots,
 * each once, with count 1, and fewer than asked only when none is left; get
 * and put follow the count (-EINVAL for slot 0, out of range, a free slot, a
 * get of a retired one; -EOVERFLOW at SWAPD_MAP_MAX; a put of a retired
 * slot succeeds and leaves it retired); retire makes any slot but 0 retired
 * for good; the free count and every cluster's free count match the model.
 */
#include "fuzz.h"

#include "swapd/internal.h"

#include <errno.h>

#define MAX_SLOTS (4 * SWAPD_CLUSTER_SLOTS + 37)
#define BATCH     80

static struct swapd s;
static uint8_t model[MAX_SLOTS];   /* use count; SWAPD_MAP_BAD when retired */
static uint64_t retired;

static bool slot_ok(uint64_t slot)
{
	return slot && slot < s.nr_slots;
}

static uint64_t model_free(void)
{
	uint64_t n = 0;

	for (uint64_t i = 1; i < s.nr_slots; i++)
		n += !model[i];
	return n;
}

static void op_alloc(struct fz *f)
{
	uint64_t slots[BATCH];
	unsigned n = (unsigned)fz_below(f, BATCH + 1), got;
	uint64_t before = model_free();

	got = swapd_slot_alloc(&s, slots, n);
	FZ_CHECK(got == MIN(n, before), "alloc of %u with %llu free gave %u", n, FZ_ULL(before), got);
	for (unsigned i = 0; i < got; i++) {
		FZ_CHECK(slot_ok(slots[i]) && !model[slots[i]], "alloc gave slot %llu (count %u)",
			 FZ_ULL(slots[i]), slot_ok(slots[i]) ? model[slots[i]] : 0);
		model[slots[i]] = 1;
	}
}

/* A slot: mostly in range, sometimes 0 or past the end. */
static uint64_t fuzz_slot(struct fz *f)
{
	return fz_below(f, s.nr_slots + 3);
}

static void op_get(struct fz *f)
{
	uint64_t slot = fuzz_slot(f);
	unsigned times = 1 + (unsigned)fz_below(f, 16) * (fz_bool(f) ? 16 : 1);

	for (unsigned i = 0; i < times; i++) {
		int want = !slot_ok(slot) || !model[slot] || model[slot] == SWAPD_MAP_BAD ? -EINVAL
			 : model[slot] == SWAPD_MAP_MAX ? -EOVERFLOW : 0;
		int ret = swapd_slot_get(&s, slot);

		FZ_CHECK(ret == want, "get of slot %llu (count %u): %d, want %d", FZ_ULL(slot),
			 slot_ok(slot) ? model[slot] : 0, ret, want);
		if (!ret)
			model[slot]++;
	}
}

static void op_put(struct fz *f)
{
	uint64_t slot = fuzz_slot(f);
	int want = !slot_ok(slot) || !model[slot] ? -EINVAL : 0;
	int ret = swapd_slot_put(&s, slot);

	FZ_CHECK(ret == want, "put of slot %llu (count %u): %d, want %d", FZ_ULL(slot),
		 slot_ok(slot) ? model[slot] : 0, ret, want);
	if (!ret && model[slot] != SWAPD_MAP_BAD)
		model[slot]--;
}

static void op_retire(struct fz *f)
{
	uint64_t slot = fuzz_slot(f);

	swapd_slot_retire(&s, slot);
	if (slot_ok(slot) && model[slot] != SWAPD_MAP_BAD) {
		model[slot] = SWAPD_MAP_BAD;
		retired++;
	}
}

static void compare(unsigned step)
{
	uint64_t inuse = 0;

	FZ_CHECK(swapd_free_slots(&s) == model_free(), "step %u: %llu free slots, the model has %llu",
		 step, FZ_ULL(swapd_free_slots(&s)), FZ_ULL(model_free()));
	FZ_CHECK(s.stats.retired == retired, "step %u: %llu retired, the model has %llu", step,
		 FZ_ULL(s.stats.retired), FZ_ULL(retired));
	for (uint64_t c = 0; c < s.nr_clusters; c++) {
		uint64_t nfree = 0;

		for (uint64_t i = c * SWAPD_CLUSTER_SLOTS; i < MIN((c + 1) * SWAPD_CLUSTER_SLOTS,
								     s.nr_slots); i++)
			nfree += i && !model[i];
		FZ_CHECK(s.cluster_free[c] == nfree, "step %u: cluster %llu has %llu free, the model %llu",
			 step, FZ_ULL(c), FZ_ULL(s.cluster_free[c]), FZ_ULL(nfree));
	}
	for (uint64_t i = 0; i < s.nr_slots + 2; i++) {
		unsigned want = slot_ok(i) ? model[i] : 0;

		FZ_CHECK(swapd_slot_count(&s, i) == want, "step %u: slot %llu count %u, the model %u",
			 step, FZ_ULL(i), swapd_slot_count(&s, i), want);
		inuse += slot_ok(i) && model[i];
	}
	FZ_CHECK(s.inuse == inuse, "step %u: inuse %llu, the model %llu", step, FZ_ULL(s.inuse),
		 FZ_ULL(inuse));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const ops[])(struct fz *) = { op_alloc, op_alloc, op_get, op_put, op_put,
						    op_retire };
	struct fz f = { data, size };
	unsigned step = 0;

	memset(&s, 0, sizeof(s));
	memset(model, 0, sizeof(model));
	retired = 0;
	s.fd = -1;
	s.nr_slots = 2 + fz_below(&f, MAX_SLOTS - 1);
	FZ_CHECK(swapd_slots_init(&s) == 0, "init of %llu slots", FZ_ULL(s.nr_slots));
	while (fz_more(&f)) {
		ops[fz_below(&f, ARRAY_SIZE(ops))](&f);
		compare(step++);
	}
	swapd_slots_fini(&s);
	return 0;
}
