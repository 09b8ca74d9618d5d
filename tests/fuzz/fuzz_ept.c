// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the EPT table (ept/ept.c), as a sequence of map, clear, swap
 * entries, lookups, prunes and range walks, checked against a flat array of
 * what each guest page's entry should hold.
 *
 * The pages are 256 GPAs whose four table indexes are each 0, 1, 2 or 511,
 * so that they share tables at every level and sit at the edges of them; a
 * few operations use any GPA at all, for the refusals. The model says:
 *  - map is -EINVAL for a misaligned GPA, one at or past 2^48, no R/W/X or a
 *    frame too large, -EEXIST over a present entry, else it installs
 *    ept_mk_pte (over a swap entry too); clear returns the entry and zeroes it;
 *  - lookup finds exactly the entry, or NULL only where the entry is 0;
 *  - a range walk visits, in address order and once each, every page in the
 *    range whose table exists, and no page outside it; holes never hide a
 *    non-zero entry; entry_cb ranges are inside the walk;
 *  - nr_tables is never below the tables the non-zero entries need, and a
 *    prune of everything brings it to exactly that; no entry is ever lost.
 */
#include "fuzz.h"

#include "ept/ept.h"

#include <errno.h>

#define NR 256

static struct ept_table t;
static uint64_t model[NR];

static gpa_t slot_gpa(unsigned slot)
{
	static const uint64_t idx[4] = { 0, 1, 2, 511 };
	gpa_t gpa = 0;

	for (int level = 4; level >= 1; level--, slot >>= 2)
		gpa |= idx[slot & 3] << (PAGE_SHIFT + 9 * (level - 1));
	return gpa;
}

/* The slot of gpa, or -1 if it is not one of the model's pages. */
static int gpa_slot(gpa_t gpa)
{
	int slot = 0;

	if (gpa & ~PAGE_MASK || gpa >> EPT_GPA_BITS)
		return -1;
	for (int level = 1; level <= 4; level++) {
		unsigned i = (unsigned)(gpa >> (PAGE_SHIFT + 9 * (level - 1))) & 511;
		int code = i == 511 ? 3 : i < 3 ? (int)i : -1;

		if (code < 0)
			return -1;
		slot = slot << 2 | code;
	}
	return slot;
}

/* Tables the non-zero entries need: the root, then one per distinct path
 * to a level-3, level-2 and level-1 table (slot bits 0-1, 0-3, 0-5 pick it). */
static size_t tables_needed(void)
{
	bool used[3][64] = { { false } };
	size_t n = 1;

	for (unsigned s = 0; s < NR; s++) {
		if (!model[s])
			continue;
		for (unsigned l = 0; l < 3; l++) {
			unsigned path = s & ((1u << (2 * (l + 1))) - 1);

			n += !used[l][path];
			used[l][path] = true;
		}
	}
	return n;
}

static void op_map(struct fz *f)
{
	unsigned s = (unsigned)fz_below(f, NR);
	pfn_t pfn = fz_below(f, 8) ? fz_u32(f) : fz_u64(f);
	uint64_t prot = fz_u16(f) & 0x3ff; /* R/W/X, memory type, IPAT, A, D */
	int want = !(prot & EPT_RWX) || pfn > ept_pfn(EPT_ADDR_MASK) ? -EINVAL
		 : ept_present(model[s]) ? -EEXIST : 0;
	int ret = ept_map(&t, slot_gpa(s), pfn, prot);

	FZ_CHECK(ret == want, "map 0x%llx pfn 0x%llx prot 0x%llx: %d, the model says %d",
		 FZ_ULL(slot_gpa(s)), FZ_ULL(pfn), FZ_ULL(prot), ret, want);
	if (!ret)
		model[s] = ept_mk_pte(pfn, prot);
}

static void op_map_bad(struct fz *f)
{
	gpa_t gpa = fz_u64(f);
	int ret = ept_map(&t, gpa, 1, EPT_RWX);
	int s = gpa_slot(gpa);

	if ((gpa & ~PAGE_MASK) || gpa >= 1ULL << EPT_GPA_BITS) {
		FZ_CHECK(ret == -EINVAL, "map of bad gpa 0x%llx: %d", FZ_ULL(gpa), ret);
		return;
	}
	/* a good GPA after all: undo it unless it is one of the model's */
	if (s >= 0) {
		FZ_CHECK(ret == (ept_present(model[s]) ? -EEXIST : 0), "map 0x%llx: %d", FZ_ULL(gpa), ret);
		if (!ret)
			model[s] = ept_mk_pte(1, EPT_RWX);
	} else {
		FZ_CHECK(ret == 0 && ept_clear(&t, gpa) == ept_mk_pte(1, EPT_RWX), "map 0x%llx: %d",
			 FZ_ULL(gpa), ret);
		ept_prune(&t, gpa, gpa + PAGE_SIZE);
	}
}

static void op_clear(struct fz *f)
{
	unsigned s = (unsigned)fz_below(f, NR);
	uint64_t old = ept_clear(&t, slot_gpa(s));

	FZ_CHECK(old == model[s], "clear 0x%llx returned 0x%llx, the model has 0x%llx",
		 FZ_ULL(slot_gpa(s)), FZ_ULL(old), FZ_ULL(model[s]));
	model[s] = 0;
}

/* A swap entry where no page is present, as reclaim leaves one. */
static void op_swap(struct fz *f)
{
	unsigned s = (unsigned)fz_below(f, NR);
	uint64_t e = ept_mk_swp((unsigned)fz_below(f, 32), fz_u64(f) & ((1ULL << 40) - 1));
	uint64_t *p;

	if (ept_present(model[s]))
		return;
	p = ept_lookup_alloc(&t, slot_gpa(s));
	FZ_CHECK(p && *p == model[s], "lookup_alloc 0x%llx", FZ_ULL(slot_gpa(s)));
	FZ_CHECK(ept_is_swp(e) && !ept_present(e), "swap entry 0x%llx reads as present", FZ_ULL(e));
	*p = model[s] = e;
}

static void op_prune(struct fz *f)
{
	gpa_t a = slot_gpa((unsigned)fz_below(f, NR)), b = slot_gpa((unsigned)fz_below(f, NR));
	gpa_t start = MIN(a, b), end = fz_bool(f) ? MAX(a, b) + PAGE_SIZE : ~0ULL;
	size_t before = t.nr_tables, freed = ept_prune(&t, start, end);

	FZ_CHECK(t.nr_tables == before - freed && t.nr_tables >= tables_needed(),
		 "prune [0x%llx, 0x%llx) freed %zu of %zu tables, %zu needed", FZ_ULL(start),
		 FZ_ULL(end), freed, before, tables_needed());
	if (start == 0 && end == ~0ULL)
		FZ_CHECK(t.nr_tables == tables_needed(), "prune of everything left %zu tables, %zu needed",
			 t.nr_tables, tables_needed());
}

struct walk {
	gpa_t start, end, next;   /* next: the lowest address a pte_cb may still see */
	unsigned seen[NR];
};

static int walk_pte(uint64_t *pte, gpa_t addr, void *priv)
{
	struct walk *w = priv;
	int s = gpa_slot(addr);

	FZ_CHECK(addr >= w->next && addr < w->end && addr % PAGE_SIZE == 0,
		 "pte_cb at 0x%llx in a walk of [0x%llx, 0x%llx) past 0x%llx", FZ_ULL(addr),
		 FZ_ULL(w->start), FZ_ULL(w->end), FZ_ULL(w->next));
	w->next = addr + PAGE_SIZE;
	if (s >= 0) {
		FZ_CHECK(*pte == model[s], "pte_cb 0x%llx = 0x%llx, the model has 0x%llx", FZ_ULL(addr),
			 FZ_ULL(*pte), FZ_ULL(model[s]));
		w->seen[s]++;
	} else {
		FZ_CHECK(*pte == 0, "pte_cb 0x%llx = 0x%llx outside the model", FZ_ULL(addr), FZ_ULL(*pte));
	}
	return 0;
}

static int walk_hole(gpa_t addr, gpa_t next, int level, void *priv)
{
	struct walk *w = priv;

	FZ_CHECK(addr < next && addr >= w->start && next <= w->end && level >= 2 && level <= 4,
		 "hole [0x%llx, 0x%llx) at level %d", FZ_ULL(addr), FZ_ULL(next), level);
	for (unsigned s = 0; s < NR; s++)
		FZ_CHECK(!model[s] || slot_gpa(s) < addr || slot_gpa(s) >= next,
			 "hole [0x%llx, 0x%llx) hides 0x%llx", FZ_ULL(addr), FZ_ULL(next),
			 FZ_ULL(slot_gpa(s)));
	return 0;
}

static int walk_entry(uint64_t *entry, int level, gpa_t addr, gpa_t next, void *priv)
{
	struct walk *w = priv;

	(void)entry;
	FZ_CHECK(addr < next && addr >= w->start && next <= w->end && level >= 2 && level <= 4,
		 "entry_cb [0x%llx, 0x%llx) at level %d", FZ_ULL(addr), FZ_ULL(next), level);
	return 0;
}

static void op_walk(struct fz *f)
{
	static const struct ept_walk_ops ops = { walk_entry, walk_pte, walk_hole };
	static struct walk w;
	gpa_t a = slot_gpa((unsigned)fz_below(f, NR)), b = slot_gpa((unsigned)fz_below(f, NR));
	int ret;

	memset(&w, 0, sizeof(w));
	w.start = w.next = MIN(a, b);
	w.end = MAX(a, b) + (fz_bool(f) ? PAGE_SIZE : 0);
	ret = ept_walk_range(&t, w.start, w.end, &ops, &w);
	FZ_CHECK(ret == 0, "walk [0x%llx, 0x%llx): %d", FZ_ULL(w.start), FZ_ULL(w.end), ret);
	for (unsigned s = 0; s < NR; s++) {
		bool inside = slot_gpa(s) >= w.start && slot_gpa(s) < w.end;

		FZ_CHECK(w.seen[s] <= 1 && (inside || !w.seen[s]) && (!inside || !model[s] || w.seen[s]),
			 "walk [0x%llx, 0x%llx) saw 0x%llx %u times", FZ_ULL(w.start), FZ_ULL(w.end),
			 FZ_ULL(slot_gpa(s)), w.seen[s]);
	}
}

static void compare(unsigned step)
{
	FZ_CHECK(t.nr_tables >= tables_needed(), "step %u: %zu tables, %zu needed", step,
		 t.nr_tables, tables_needed());
	for (unsigned s = 0; s < NR; s++) {
		const uint64_t *e = ept_lookup(&t, slot_gpa(s));

		FZ_CHECK(e ? *e == model[s] : model[s] == 0, "step %u: 0x%llx holds 0x%llx, the model 0x%llx",
			 step, FZ_ULL(slot_gpa(s)), FZ_ULL(e ? *e : 0), FZ_ULL(model[s]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const ops[])(struct fz *) = { op_map, op_map, op_map, op_map_bad, op_clear,
						    op_clear, op_swap, op_prune, op_walk };
	struct fz f = { data, size };
	unsigned step = 0;

	memset(model, 0, sizeof(model));
	FZ_CHECK(ept_table_init(&t) == 0 && t.nr_tables == 1, "init");
	while (fz_more(&f)) {
		ops[fz_below(&f, ARRAY_SIZE(ops))](&f);
		compare(step++);
	}
	ept_prune(&t, 0, ~0ULL);
	FZ_CHECK(t.nr_tables == tables_needed(), "final prune left %zu tables, %zu needed",
		 t.nr_tables, tables_needed());
	ept_table_destroy(&t);
	FZ_CHECK(t.root == NULL && t.nr_tables == 0, "destroy left %zu tables", t.nr_tables);
	return 0;
}
