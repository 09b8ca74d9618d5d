// SPDX-License-Identifier: MIT
/*
 * Unit tests for the EPT table (ept/ept.c): the entry encoding helpers of
 * ept.h, map/lookup/clear at every level boundary with exact table-page
 * accounting, pruning, the range walk and its callbacks, and a randomized
 * run against a flat model of gpa -> entry.
 */
#include <criterion/criterion.h>

#include "ept/ept.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PG      0x1000ULL
#define SZ_2M   (1ULL << 21)
#define SZ_1G   (1ULL << 30)
#define SZ_512G (1ULL << 39)
#define TOP     (1ULL << 48)

static struct ept_table ept;

static void ept_fini(void)
{
	ept_table_destroy(&ept);
}

TestSuite(ept, .fini = ept_fini);

static void setup(void)
{
	int ret = ept_table_init(&ept);

	cr_assert_eq(ret, 0, "ept_table_init = %d", ret);
	cr_assert_eq(ept.nr_tables, 1);
}

#define ULL(x) ((unsigned long long)(x))

static void map_ok(gpa_t gpa, pfn_t pfn, uint64_t prot)
{
	int ret = ept_map(&ept, gpa, pfn, prot);

	cr_assert_eq(ret, 0, "ept_map(0x%llx) = %d", ULL(gpa), ret);
}

/* gpa must hold exactly this entry. */
static void expect_entry(gpa_t gpa, uint64_t want)
{
	uint64_t *e = ept_lookup(&ept, gpa);

	cr_assert_not_null(e, "no leaf table for 0x%llx", ULL(gpa));
	cr_assert_eq(*e, want, "entry at 0x%llx = 0x%llx, want 0x%llx", ULL(gpa), ULL(*e),
		     ULL(want));
}

static void expect_tables(size_t want)
{
	cr_assert_eq(ept.nr_tables, want, "nr_tables = %zu, want %zu", ept.nr_tables, want);
}

/* ---- entry encoding ---- */

Test(ept, encode_pte)
{
	static const pfn_t pfns[] = { 0, 1, 0x12345, (1ULL << 40) - 1 };
	static const uint64_t prots[] = { EPT_R, EPT_W, EPT_X, EPT_RWX,
					  EPT_R | EPT_A, EPT_RWX | EPT_A | EPT_D };

	for (size_t i = 0; i < ARRAY_SIZE(pfns); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(prots); j++) {
			uint64_t e = ept_mk_pte(pfns[i], prots[j]);

			cr_assert_eq(ept_pfn(e), pfns[i]);
			cr_assert(ept_present(e));
			cr_assert_not(ept_none(e));
			cr_assert_not(ept_is_swp(e));
			cr_assert_eq(e & ~EPT_ADDR_MASK, prots[j] | EPT_MT_WB | EPT_IPAT,
				     "low bits 0x%llx", ULL(e & ~EPT_ADDR_MASK));
		}
	}
	/* bits other than R/W/X/A/D in prot are dropped */
	cr_assert_eq(ept_mk_pte(5, EPT_R | EPT_SWP | (1ULL << 7) | (1ULL << 63)),
		     (5ULL << 12) | EPT_R | EPT_MT_WB | EPT_IPAT);
	cr_assert(ept_none(0));
	cr_assert_not(ept_present(0));
	cr_assert_not(ept_is_swp(0));
}

Test(ept, encode_swp)
{
	static const uint64_t offs[] = { 0, 1, 0x1000, 0xabcdef123ULL, (1ULL << 39),
					 (1ULL << 40) - 1 };

	for (unsigned type = 0; type < 32; type++) {
		for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
			uint64_t e = ept_mk_swp(type, offs[i]);

			cr_assert(ept_is_swp(e), "type %u off 0x%llx", type, ULL(offs[i]));
			cr_assert_not(ept_present(e));
			cr_assert_not(ept_none(e));
			cr_assert_eq(ept_swp_type(e), type);
			cr_assert_eq(ept_swp_offset(e), offs[i]);
			cr_assert_eq(e & EPT_RWX, 0);
		}
	}
	/* distinct (type, offset) give distinct entries */
	cr_assert_neq(ept_mk_swp(1, 7), ept_mk_swp(2, 7));
	cr_assert_neq(ept_mk_swp(1, 7), ept_mk_swp(1, 8));
}

/* ---- init / destroy ---- */

Test(ept, init_destroy)
{
	setup();
	cr_assert_not_null(ept.root);
	cr_assert_eq((uintptr_t)ept.root % PG, 0);
	for (unsigned i = 0; i < EPT_ENTRIES; i++)
		cr_assert_eq(ept.root[i], 0, "root entry %u not zeroed", i);

	/* destroy frees a populated tree (ASan would report a leak) */
	map_ok(0, 1, EPT_RWX);
	map_ok(SZ_512G * 3 + SZ_1G * 7, 2, EPT_RWX);
	expect_tables(7);
	ept_table_destroy(&ept);
	cr_assert_null(ept.root);
	cr_assert_eq(ept.nr_tables, 0);
	ept_table_destroy(&ept);  /* twice is harmless */
	cr_assert_null(ept.root);

	/* a destroyed table refuses work instead of crashing */
	cr_assert_null(ept_lookup(&ept, 0));
	cr_assert_null(ept_lookup_alloc(&ept, 0));
	cr_assert_eq(ept_map(&ept, 0, 1, EPT_RWX), -EINVAL);
	cr_assert_eq(ept_clear(&ept, 0), 0);
	cr_assert_eq(ept_prune(&ept, 0, TOP), 0);
	cr_assert_eq(ept_walk_range(&ept, 0, TOP, NULL, NULL), -EINVAL);

	setup();  /* and can be set up again */
}

/* ---- map / lookup ---- */

Test(ept, map_level_boundaries)
{
	static const struct {
		gpa_t gpa;
		size_t tables; /* nr_tables after mapping it */
	} steps[] = {
		{ 0, 4 },                      /* PDPT, PD, PT */
		{ SZ_2M - PG, 4 },             /* same leaf table */
		{ SZ_2M, 5 },                  /* next PT under the same PD */
		{ SZ_1G, 7 },                  /* next PD and its PT */
		{ SZ_512G, 10 },               /* next root entry: PDPT, PD, PT */
		{ TOP - PG, 13 },              /* last root entry */
		{ SZ_1G + SZ_2M - PG, 13 },    /* last page of the 1 GiB's first PT */
		{ TOP - SZ_2M - PG, 14 },      /* PT before the last one, same PD */
		{ TOP - SZ_2M, 14 },           /* the last PT again */
	};
	pfn_t pfn = 0x100;

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		map_ok(steps[i].gpa, pfn + i, EPT_RWX);
		expect_tables(steps[i].tables);
	}
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		uint64_t *e = ept_lookup(&ept, steps[i].gpa);

		cr_assert_not_null(e);
		cr_assert_eq(*e, ept_mk_pte(pfn + i, EPT_RWX));
		cr_assert_eq(ept_pfn(*e), pfn + i);
		/* lookup_alloc finds the same entry and allocates nothing */
		cr_assert_eq(ept_lookup_alloc(&ept, steps[i].gpa), e);
	}
	/* the entries are distinct slots */
	cr_assert_neq(ept_lookup(&ept, 0), ept_lookup(&ept, PG));
	expect_entry(PG, 0);
	expect_entry(SZ_2M + PG, 0);
	expect_entry(TOP - 2 * PG, 0);
	/* neighbours without a leaf table */
	cr_assert_null(ept_lookup(&ept, SZ_2M * 2));
	cr_assert_null(ept_lookup(&ept, SZ_1G * 2));
	cr_assert_null(ept_lookup(&ept, SZ_512G * 2));
	cr_assert_null(ept_lookup(&ept, SZ_512G - PG));
	expect_tables(14);
	/* the offset inside the page does not matter to a lookup */
	cr_assert_eq(ept_lookup(&ept, SZ_2M + 0x123), ept_lookup(&ept, SZ_2M));
}

Test(ept, map_prot_bits)
{
	setup();
	map_ok(0x5000, 0xabc, EPT_R);
	map_ok(0x6000, 0xabd, EPT_X | EPT_A | EPT_D);
	map_ok(0x7000, (1ULL << 40) - 1, EPT_W);
	expect_entry(0x5000, (0xabcULL << 12) | EPT_R | EPT_MT_WB | EPT_IPAT);
	expect_entry(0x6000, (0xabdULL << 12) | EPT_X | EPT_A | EPT_D | EPT_MT_WB | EPT_IPAT);
	expect_entry(0x7000, EPT_ADDR_MASK | EPT_W | EPT_MT_WB | EPT_IPAT);
}

Test(ept, map_eexist)
{
	uint64_t want = ept_mk_pte(0x42, EPT_RWX);

	setup();
	map_ok(SZ_1G, 0x42, EPT_RWX);
	cr_assert_eq(ept_map(&ept, SZ_1G, 0x43, EPT_R), -EEXIST);
	expect_entry(SZ_1G, want);
	expect_tables(4);
	/* after a clear the slot can be mapped again */
	cr_assert_eq(ept_clear(&ept, SZ_1G), want);
	map_ok(SZ_1G, 0x43, EPT_R);
	expect_entry(SZ_1G, ept_mk_pte(0x43, EPT_R));
}

Test(ept, map_replaces_swap)
{
	uint64_t *e;

	setup();
	e = ept_lookup_alloc(&ept, 0x3000);
	cr_assert_not_null(e);
	cr_assert_eq(*e, 0);
	*e = ept_mk_swp(3, 0x777);
	map_ok(0x3000, 0x99, EPT_R | EPT_W);
	cr_assert_eq(*e, ept_mk_pte(0x99, EPT_R | EPT_W));
	cr_assert_not(ept_is_swp(*e));
	expect_tables(4);
}

Test(ept, map_invalid)
{
	static const gpa_t bad[] = { 1, 0x800, PG + 8, SZ_2M - 1, TOP, TOP + PG,
				     0xfffffffffffff000ULL, UINT64_MAX };

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = ept_map(&ept, bad[i], 1, EPT_RWX);

		cr_assert_eq(ret, -EINVAL, "ept_map(0x%llx) = %d", ULL(bad[i]), ret);
	}
	/* no R/W/X: the entry would not be present */
	cr_assert_eq(ept_map(&ept, 0, 1, 0), -EINVAL);
	cr_assert_eq(ept_map(&ept, 0, 1, EPT_A | EPT_D), -EINVAL);
	/* a frame the address field cannot hold */
	cr_assert_eq(ept_map(&ept, 0, 1ULL << 40, EPT_RWX), -EINVAL);
	expect_tables(1);
	cr_assert_null(ept_lookup(&ept, 0));
}

Test(ept, lookup_does_not_allocate)
{
	setup();
	cr_assert_null(ept_lookup(&ept, 0));
	cr_assert_null(ept_lookup(&ept, SZ_512G + SZ_1G));
	cr_assert_null(ept_lookup(&ept, TOP - PG));
	cr_assert_null(ept_lookup(&ept, TOP));
	cr_assert_null(ept_lookup(&ept, UINT64_MAX));
	expect_tables(1);

	map_ok(SZ_2M * 5, 7, EPT_R);
	expect_tables(4);
	/* PT missing, then PD missing, then PDPT missing: still nothing made */
	cr_assert_null(ept_lookup(&ept, SZ_2M * 6));
	cr_assert_null(ept_lookup(&ept, SZ_1G * 3));
	cr_assert_null(ept_lookup(&ept, SZ_512G * 9));
	expect_tables(4);
	cr_assert_eq(ept_clear(&ept, SZ_512G * 9), 0);
	expect_tables(4);
}

Test(ept, lookup_alloc)
{
	uint64_t *e;

	setup();
	cr_assert_null(ept_lookup_alloc(&ept, TOP));
	cr_assert_null(ept_lookup_alloc(&ept, UINT64_MAX));
	expect_tables(1);
	e = ept_lookup_alloc(&ept, SZ_1G * 5 + SZ_2M * 3 + PG * 17);
	cr_assert_not_null(e);
	cr_assert_eq(*e, 0);
	expect_tables(4);
	cr_assert_eq(ept_lookup(&ept, SZ_1G * 5 + SZ_2M * 3 + PG * 17), e);
	cr_assert_eq(ept_lookup_alloc(&ept, SZ_1G * 5 + SZ_2M * 3 + PG * 18), e + 1);
	expect_tables(4);
}

/* ---- clear ---- */

Test(ept, clear_returns_old)
{
	uint64_t pte = ept_mk_pte(0x1234, EPT_RWX | EPT_A | EPT_D);
	uint64_t swp = ept_mk_swp(9, 0x4321);
	uint64_t *e;

	setup();
	map_ok(SZ_512G + PG, 0x1234, EPT_RWX | EPT_A | EPT_D);
	cr_assert_eq(ept_clear(&ept, SZ_512G + PG), pte);
	expect_entry(SZ_512G + PG, 0);
	cr_assert_eq(ept_clear(&ept, SZ_512G + PG), 0);
	/* a swap entry comes back as it was */
	e = ept_lookup(&ept, SZ_512G + 2 * PG);
	*e = swp;
	cr_assert_eq(ept_clear(&ept, SZ_512G + 2 * PG), swp);
	cr_assert_eq(*e, 0);
	/* clearing frees nothing: tables stay until pruned */
	expect_tables(4);
	/* a neighbouring entry is untouched */
	map_ok(SZ_512G, 1, EPT_R);
	cr_assert_eq(ept_clear(&ept, SZ_512G + PG), 0);
	expect_entry(SZ_512G, ept_mk_pte(1, EPT_R));
	/* out of range */
	cr_assert_eq(ept_clear(&ept, TOP), 0);
}

/* ---- prune ---- */

Test(ept, prune_all)
{
	static const gpa_t gpas[] = { 0, SZ_2M, SZ_1G, SZ_512G, TOP - PG };

	setup();
	cr_assert_eq(ept_prune(&ept, 0, TOP), 0);  /* the root is never freed */
	expect_tables(1);
	for (size_t i = 0; i < ARRAY_SIZE(gpas); i++)
		map_ok(gpas[i], i + 1, EPT_RWX);
	expect_tables(13);
	/* nothing is empty yet */
	cr_assert_eq(ept_prune(&ept, 0, TOP), 0);
	expect_tables(13);
	for (size_t i = 0; i < ARRAY_SIZE(gpas); i++)
		cr_assert_eq(ept_clear(&ept, gpas[i]), ept_mk_pte(i + 1, EPT_RWX));
	cr_assert_eq(ept_prune(&ept, 0, TOP), 12);
	expect_tables(1);
	for (unsigned i = 0; i < EPT_ENTRIES; i++)
		cr_assert_eq(ept.root[i], 0, "root entry %u left", i);
	cr_assert_null(ept_lookup(&ept, 0));
	cr_assert_null(ept_lookup(&ept, TOP - PG));
	/* and the table is usable again */
	map_ok(SZ_1G, 3, EPT_R);
	expect_tables(4);
	/* end beyond 2^48 is clipped */
	ept_clear(&ept, SZ_1G);
	cr_assert_eq(ept_prune(&ept, 0, UINT64_MAX), 3);
	expect_tables(1);
}

Test(ept, prune_partial)
{
	setup();
	map_ok(0, 1, EPT_RWX);               /* PT A (0..2M) */
	map_ok(SZ_2M + PG, 2, EPT_RWX);      /* PT B (2M..4M) */
	map_ok(SZ_1G, 3, EPT_RWX);           /* PD 2, PT C */
	expect_tables(7);

	/* PT B emptied, range covers exactly its span: only it goes */
	ept_clear(&ept, SZ_2M + PG);
	cr_assert_eq(ept_prune(&ept, SZ_2M, 2 * SZ_2M), 1);
	expect_tables(6);
	cr_assert_null(ept_lookup(&ept, SZ_2M));
	expect_entry(0, ept_mk_pte(1, EPT_RWX));

	/* PT A emptied but the range misses it: kept */
	ept_clear(&ept, 0);
	cr_assert_eq(ept_prune(&ept, SZ_2M, SZ_1G), 0);
	expect_tables(6);
	cr_assert_not_null(ept_lookup(&ept, 0));

	/* a range touching one page of the all-zero PT A frees it, and then
	 * its PD (0..1G), left all zero */
	cr_assert_eq(ept_prune(&ept, SZ_2M - PG, SZ_2M), 2);
	expect_tables(4);
	cr_assert_null(ept_lookup(&ept, 0));
	/* the PDPT stays: it still holds PD 2 */
	expect_entry(SZ_1G, ept_mk_pte(3, EPT_RWX));
}

Test(ept, prune_keeps_entries_outside_range)
{
	uint64_t *e;

	setup();
	map_ok(0, 1, EPT_RWX);
	map_ok(SZ_2M - PG, 2, EPT_RWX);
	ept_clear(&ept, 0);
	/* the range holds only zeros, but the table reaches outside it and is
	 * not all zero there */
	cr_assert_eq(ept_prune(&ept, 0, SZ_2M - PG), 0);
	expect_tables(4);
	expect_entry(SZ_2M - PG, ept_mk_pte(2, EPT_RWX));

	/* a swap entry counts as content */
	e = ept_lookup(&ept, PG);
	*e = ept_mk_swp(1, 1);
	ept_clear(&ept, SZ_2M - PG);
	cr_assert_eq(ept_prune(&ept, 0, TOP), 0);
	expect_tables(4);
	ept_clear(&ept, PG);
	cr_assert_eq(ept_prune(&ept, 0, TOP), 3);
	expect_tables(1);
}

Test(ept, prune_empty_tables_from_lookup_alloc)
{
	setup();
	/* tables made by lookup_alloc and never filled are prunable */
	cr_assert_not_null(ept_lookup_alloc(&ept, SZ_512G * 7 + SZ_1G * 2));
	cr_assert_not_null(ept_lookup_alloc(&ept, SZ_512G * 7 + SZ_1G * 3));
	expect_tables(6);
	/* the range covers only the second PD's span: that PD and its PT go,
	 * the PDPT still points to the first PD */
	cr_assert_eq(ept_prune(&ept, SZ_512G * 7 + SZ_1G * 3, SZ_512G * 7 + SZ_1G * 4), 2);
	expect_tables(4);
	cr_assert_not_null(ept_lookup(&ept, SZ_512G * 7 + SZ_1G * 2));
	/* a range beside the remaining PD (no overlap) leaves it alone */
	cr_assert_eq(ept_prune(&ept, SZ_512G * 7, SZ_512G * 7 + SZ_1G * 2), 0);
	expect_tables(4);
	cr_assert_eq(ept_prune(&ept, SZ_512G * 7 + SZ_1G * 2, SZ_512G * 7 + SZ_1G * 2 + PG), 3);
	expect_tables(1);
}

/* ---- walk ---- */

#define MAX_REC 2048

struct rec {
	int kind;       /* 'e'ntry, 'p'te, 'h'ole */
	int level;
	gpa_t addr, next;
	uint64_t val;
};

struct recorder {
	struct rec r[MAX_REC];
	size_t n;
	size_t stop_at;     /* return stop_ret on this call (1-based), 0 = never */
	int stop_ret;
	int stop_kind;
};

static int record(struct recorder *rc, struct rec r)
{
	cr_assert_lt(rc->n, MAX_REC, "too many callbacks");
	rc->r[rc->n++] = r;
	if (rc->stop_at && rc->n == rc->stop_at && (!rc->stop_kind || rc->stop_kind == r.kind))
		return rc->stop_ret;
	return 0;
}

static int rec_entry(uint64_t *entry, int level, gpa_t addr, gpa_t next, void *priv)
{
	return record(priv, (struct rec){ 'e', level, addr, next, *entry });
}

static int rec_pte(uint64_t *pte, gpa_t addr, void *priv)
{
	return record(priv, (struct rec){ 'p', 1, addr, addr + PG, *pte });
}

static int rec_hole(gpa_t addr, gpa_t next, int level, void *priv)
{
	return record(priv, (struct rec){ 'h', level, addr, next, 0 });
}

static const struct ept_walk_ops all_ops = {
	.entry_cb = rec_entry, .pte_cb = rec_pte, .hole_cb = rec_hole,
};

static struct recorder rc;

static void walk_ok(gpa_t start, gpa_t end, const struct ept_walk_ops *ops)
{
	int ret;

	memset(&rc, 0, sizeof(rc));
	ret = ept_walk_range(&ept, start, end, ops, &rc);
	cr_assert_eq(ret, 0, "walk [0x%llx, 0x%llx) = %d", ULL(start), ULL(end), ret);
}

static void expect_rec(size_t i, int kind, int level, gpa_t addr, gpa_t next)
{
	cr_assert_lt(i, rc.n, "only %zu callbacks, want #%zu", rc.n, i);
	cr_assert(rc.r[i].kind == kind && rc.r[i].level == level && rc.r[i].addr == addr &&
		  rc.r[i].next == next,
		  "callback #%zu: %c L%d [0x%llx, 0x%llx), want %c L%d [0x%llx, 0x%llx)", i,
		  rc.r[i].kind, rc.r[i].level, ULL(rc.r[i].addr), ULL(rc.r[i].next), kind,
		  level, ULL(addr), ULL(next));
}

/* The records, consecutive and in order, must tile [start, end) exactly. */
static void expect_tiling(gpa_t start, gpa_t end)
{
	gpa_t at = start;

	for (size_t i = 0; i < rc.n; i++) {
		if (rc.r[i].kind == 'e')
			continue;
		cr_assert_eq(rc.r[i].addr, at, "gap or overlap at #%zu: 0x%llx, want 0x%llx", i,
			     ULL(rc.r[i].addr), ULL(at));
		at = rc.r[i].next;
	}
	cr_assert_eq(at, end);
}

Test(ept, walk_invalid)
{
	setup();
	memset(&rc, 0, sizeof(rc));
	cr_assert_eq(ept_walk_range(&ept, 1, PG, &all_ops, &rc), -EINVAL);
	cr_assert_eq(ept_walk_range(&ept, 0, PG + 1, &all_ops, &rc), -EINVAL);
	cr_assert_eq(ept_walk_range(&ept, 0, TOP + PG, &all_ops, &rc), -EINVAL);
	cr_assert_eq(ept_walk_range(&ept, 2 * PG, PG, &all_ops, &rc), -EINVAL);
	cr_assert_eq(ept_walk_range(&ept, 0, 0xfffffffffffff000ULL, &all_ops, &rc), -EINVAL);
	cr_assert_eq(rc.n, 0);
	/* empty ranges and no ops are fine */
	walk_ok(PG, PG, &all_ops);
	cr_assert_eq(rc.n, 0);
	walk_ok(TOP, TOP, &all_ops);
	cr_assert_eq(rc.n, 0);
	map_ok(0, 1, EPT_R);
	walk_ok(0, TOP, NULL);
	walk_ok(0, TOP, &(struct ept_walk_ops){ 0 });
	cr_assert_eq(rc.n, 0);
}

Test(ept, walk_empty_table)
{
	setup();
	walk_ok(0, TOP, &all_ops);
	cr_assert_eq(rc.n, 512);
	for (size_t i = 0; i < 512; i++)
		expect_rec(i, 'h', 4, i * SZ_512G, (i + 1) * SZ_512G);
	/* a small range is clipped */
	walk_ok(SZ_512G - PG, SZ_512G + 2 * PG, &all_ops);
	cr_assert_eq(rc.n, 2);
	expect_rec(0, 'h', 4, SZ_512G - PG, SZ_512G);
	expect_rec(1, 'h', 4, SZ_512G, SZ_512G + 2 * PG);
	walk_ok(TOP - PG, TOP, &all_ops);
	cr_assert_eq(rc.n, 1);
	expect_rec(0, 'h', 4, TOP - PG, TOP);
}

Test(ept, walk_holes_and_entries)
{
	gpa_t page = SZ_1G + SZ_2M + PG;
	size_t i = 0;

	setup();
	map_ok(page, 0x55, EPT_RWX);
	walk_ok(0, 2 * SZ_1G, &all_ops);
	expect_tiling(0, 2 * SZ_1G);
	expect_rec(i++, 'e', 4, 0, 2 * SZ_1G);
	expect_rec(i++, 'h', 3, 0, SZ_1G);
	expect_rec(i++, 'e', 3, SZ_1G, 2 * SZ_1G);
	expect_rec(i++, 'h', 2, SZ_1G, SZ_1G + SZ_2M);
	expect_rec(i++, 'e', 2, SZ_1G + SZ_2M, SZ_1G + 2 * SZ_2M);
	for (unsigned k = 0; k < 512; k++) {
		expect_rec(i, 'p', 1, SZ_1G + SZ_2M + k * PG, SZ_1G + SZ_2M + (k + 1) * PG);
		cr_assert_eq(rc.r[i].val, k == 1 ? ept_mk_pte(0x55, EPT_RWX) : 0);
		i++;
	}
	for (unsigned k = 2; k < 512; k++)
		expect_rec(i++, 'h', 2, SZ_1G + k * SZ_2M, SZ_1G + (k + 1) * SZ_2M);
	cr_assert_eq(rc.n, i);

	/* entry_cb sees the upper entries, clipped to a range inside one PT */
	walk_ok(page, page + PG, &all_ops);
	cr_assert_eq(rc.n, 4);
	expect_rec(0, 'e', 4, page, page + PG);
	expect_rec(1, 'e', 3, page, page + PG);
	expect_rec(2, 'e', 2, page, page + PG);
	expect_rec(3, 'p', 1, page, page + PG);
	cr_assert_eq(rc.r[3].val, ept_mk_pte(0x55, EPT_RWX));
	for (size_t k = 0; k < 3; k++)
		cr_assert_neq(rc.r[k].val, 0, "upper entry %zu is zero", k);

	/* only holes: range beside the mapping, starting mid-table */
	walk_ok(SZ_1G + 5 * SZ_2M + 3 * PG, SZ_1G + 7 * SZ_2M, &(struct ept_walk_ops){
			.hole_cb = rec_hole });
	cr_assert_eq(rc.n, 2);
	expect_rec(0, 'h', 2, SZ_1G + 5 * SZ_2M + 3 * PG, SZ_1G + 6 * SZ_2M);
	expect_rec(1, 'h', 2, SZ_1G + 6 * SZ_2M, SZ_1G + 7 * SZ_2M);
}

Test(ept, walk_pte_count)
{
	gpa_t base = SZ_2M - 100 * PG;
	size_t n = 0;

	setup();
	/* 1000 pages straddling three leaf tables */
	for (unsigned k = 0; k < 1000; k++)
		map_ok(base + k * PG, 0x1000 + k, EPT_R);
	expect_tables(6);
	walk_ok(base, base + 1000 * PG, &(struct ept_walk_ops){ .pte_cb = rec_pte });
	cr_assert_eq(rc.n, 1000);
	for (unsigned k = 0; k < 1000; k++) {
		cr_assert_eq(rc.r[k].addr, base + k * PG);
		cr_assert_eq(ept_pfn(rc.r[k].val), 0x1000 + k);
	}
	/* whole span: every slot of the three leaf tables, zero or not */
	walk_ok(0, TOP, &(struct ept_walk_ops){ .pte_cb = rec_pte });
	cr_assert_eq(rc.n, 3 * 512);
	for (size_t k = 0; k < rc.n; k++) {
		cr_assert_eq(rc.r[k].addr, k * PG);
		if (rc.r[k].val)
			n++;
	}
	cr_assert_eq(n, 1000);
	/* entry_cb only: 1 root entry, 1 PDPT entry, 3 PD entries */
	walk_ok(0, TOP, &(struct ept_walk_ops){ .entry_cb = rec_entry });
	cr_assert_eq(rc.n, 5);
	expect_rec(0, 'e', 4, 0, SZ_512G);
	expect_rec(1, 'e', 3, 0, SZ_1G);
	expect_rec(2, 'e', 2, 0, SZ_2M);
	expect_rec(3, 'e', 2, SZ_2M, 2 * SZ_2M);
	expect_rec(4, 'e', 2, 2 * SZ_2M, 3 * SZ_2M);
}

Test(ept, walk_straddle_512g)
{
	gpa_t lo = SZ_512G - 2 * PG, hi = SZ_512G + 2 * PG;

	setup();
	map_ok(SZ_512G - PG, 1, EPT_R);
	map_ok(SZ_512G, 2, EPT_R);
	walk_ok(lo, hi, &all_ops);
	expect_tiling(lo, hi);
	cr_assert_eq(rc.n, 10);
	expect_rec(0, 'e', 4, lo, SZ_512G);
	expect_rec(1, 'e', 3, lo, SZ_512G);
	expect_rec(2, 'e', 2, lo, SZ_512G);
	expect_rec(3, 'p', 1, lo, lo + PG);
	expect_rec(4, 'p', 1, lo + PG, SZ_512G);
	expect_rec(5, 'e', 4, SZ_512G, hi);
	expect_rec(6, 'e', 3, SZ_512G, hi);
	expect_rec(7, 'e', 2, SZ_512G, hi);
	expect_rec(8, 'p', 1, SZ_512G, SZ_512G + PG);
	expect_rec(9, 'p', 1, SZ_512G + PG, hi);
	cr_assert_eq(rc.r[3].val, 0);
	cr_assert_eq(rc.r[4].val, ept_mk_pte(1, EPT_R));
	cr_assert_eq(rc.r[8].val, ept_mk_pte(2, EPT_R));
	cr_assert_eq(rc.r[9].val, 0);

	/* the top of the space */
	map_ok(TOP - PG, 3, EPT_R);
	walk_ok(TOP - SZ_2M - PG, TOP, &all_ops);
	expect_tiling(TOP - SZ_2M - PG, TOP);
	cr_assert_eq(rc.n, 4 + 512);
	expect_rec(0, 'e', 4, TOP - SZ_2M - PG, TOP);
	expect_rec(1, 'e', 3, TOP - SZ_2M - PG, TOP);
	expect_rec(2, 'h', 2, TOP - SZ_2M - PG, TOP - SZ_2M);
	expect_rec(3, 'e', 2, TOP - SZ_2M, TOP);
	expect_rec(rc.n - 1, 'p', 1, TOP - PG, TOP);
	cr_assert_eq(rc.r[rc.n - 1].val, ept_mk_pte(3, EPT_R));
}

static int zap_pte(uint64_t *pte, gpa_t addr, void *priv)
{
	(void)addr;
	(void)priv;
	*pte = 0;
	return 0;
}

Test(ept, walk_pte_cb_can_modify)
{
	setup();
	map_ok(0, 1, EPT_R);
	map_ok(PG, 2, EPT_R);
	/* a pte_cb gets the live entry: clearing through it is seen by lookup */
	cr_assert_eq(ept_walk_range(&ept, 0, SZ_2M, &(struct ept_walk_ops){
			.pte_cb = zap_pte }, NULL), 0);
	expect_entry(0, 0);
	expect_entry(PG, 0);
}

/* ---- early stop ---- */

Test(ept, walk_stop)
{
	setup();
	map_ok(SZ_2M, 1, EPT_R);

	/* stop in pte_cb on the third leaf entry */
	memset(&rc, 0, sizeof(rc));
	rc.stop_at = 3;
	rc.stop_ret = 42;
	cr_assert_eq(ept_walk_range(&ept, 0, TOP, &(struct ept_walk_ops){ .pte_cb = rec_pte },
				    &rc), 42);
	cr_assert_eq(rc.n, 3);
	expect_rec(2, 'p', 1, SZ_2M + 2 * PG, SZ_2M + 3 * PG);

	/* stop in hole_cb: the first hole is PD entry 0 */
	memset(&rc, 0, sizeof(rc));
	rc.stop_at = 3;
	rc.stop_ret = -7;
	cr_assert_eq(ept_walk_range(&ept, 0, TOP, &all_ops, &rc), -7);
	cr_assert_eq(rc.n, 3);
	expect_rec(2, 'h', 2, 0, SZ_2M);

	/* stop in entry_cb: nothing below it is visited */
	memset(&rc, 0, sizeof(rc));
	rc.stop_at = 2;
	rc.stop_ret = 5;
	cr_assert_eq(ept_walk_range(&ept, 0, TOP, &all_ops, &rc), 5);
	cr_assert_eq(rc.n, 2);
	expect_rec(0, 'e', 4, 0, SZ_512G);
	expect_rec(1, 'e', 3, 0, SZ_1G);

	/* stop on the last hole of the whole span */
	memset(&rc, 0, sizeof(rc));
	rc.stop_at = 511;
	rc.stop_ret = 1;
	cr_assert_eq(ept_walk_range(&ept, SZ_512G, TOP, &all_ops, &rc), 1);
	cr_assert_eq(rc.n, 511);
	expect_rec(510, 'h', 4, TOP - SZ_512G, TOP);
}

/* ---- randomized against a model ---- */

#define REGION_PAGES 1536          /* 6 MiB: spans three or four leaf tables */
#define NR_REGIONS   8
#define NR_SLOTS     (REGION_PAGES * NR_REGIONS)

/* Ascending, disjoint, chosen to straddle each level's boundaries. */
static const gpa_t region_base[NR_REGIONS] = {
	0,
	SZ_1G - 3 * SZ_2M,
	SZ_512G - SZ_2M - 5 * PG,
	SZ_512G + 17 * SZ_1G + 123 * PG,
	5 * SZ_512G - 2 * SZ_1G + 7 * SZ_2M,
	100 * SZ_512G + SZ_1G - SZ_2M,
	TOP - SZ_512G - 3 * SZ_2M,
	TOP - REGION_PAGES * PG,
};

static gpa_t slot_gpa(size_t slot)
{
	return region_base[slot / REGION_PAGES] + (slot % REGION_PAGES) * PG;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t model[NR_SLOTS];

/* One random operation on a slot, checked against the model. */
static void random_op(size_t slot)
{
	gpa_t gpa = slot_gpa(slot);
	uint64_t r = rng(), *e;
	pfn_t pfn = (r >> 24) & ((1ULL << 40) - 1);
	uint64_t prot = (r & EPT_RWX) ? (r & (EPT_RWX | EPT_A | EPT_D)) : EPT_R;
	int ret;

	switch (r % 8) {
	case 0: case 1: case 2:
		ret = ept_map(&ept, gpa, pfn, prot);
		cr_assert_eq(ret, ept_present(model[slot]) ? -EEXIST : 0,
			     "map 0x%llx = %d, model 0x%llx", ULL(gpa), ret, ULL(model[slot]));
		if (!ret)
			model[slot] = ept_mk_pte(pfn, prot);
		break;
	case 3: case 4:
		cr_assert_eq(ept_clear(&ept, gpa), model[slot], "clear 0x%llx", ULL(gpa));
		model[slot] = 0;
		break;
	case 5:
		e = ept_lookup_alloc(&ept, gpa);
		cr_assert_not_null(e);
		cr_assert_eq(*e, model[slot]);
		if (!ept_present(*e))
			*e = model[slot] = ept_mk_swp((r >> 8) & 31, (r >> 16) & ((1ULL << 40) - 1));
		break;
	case 6:
		e = ept_lookup(&ept, gpa);
		cr_assert_eq(e ? *e : 0, model[slot], "lookup 0x%llx", ULL(gpa));
		break;
	default: {
		/* prune around the slot, sometimes widely: must never lose an entry */
		gpa_t lo = (r & 8) ? gpa & ~(SZ_1G - 1) : gpa & ~(SZ_2M - 1);
		gpa_t hi = gpa + PG + ((r & 16) ? 4 * SZ_2M : 0);

		ept_prune(&ept, lo, hi);
		break;
	}
	}
}

struct collect {
	size_t slot;    /* next model slot expected to be non-zero */
	size_t seen;
};

static size_t next_nonzero(size_t slot)
{
	while (slot < NR_SLOTS && !model[slot])
		slot++;
	return slot;
}

/* Non-zero leaf entries must come out as the model's, in increasing order. */
static int collect_pte(uint64_t *pte, gpa_t addr, void *priv)
{
	struct collect *c = priv;

	if (!*pte)
		return 0;
	c->slot = next_nonzero(c->slot);
	cr_assert_lt(c->slot, NR_SLOTS, "extra entry at 0x%llx", ULL(addr));
	cr_assert_eq(addr, slot_gpa(c->slot), "entry at 0x%llx, model's next at 0x%llx",
		     ULL(addr), ULL(slot_gpa(c->slot)));
	cr_assert_eq(*pte, model[c->slot]);
	c->slot++;
	c->seen++;
	return 0;
}

/* Table pages needed for exactly the model's non-zero entries. */
static size_t model_tables(void)
{
	size_t n = 1;

	for (int shift = 39; shift >= 21; shift -= 9) {
		uint64_t last = UINT64_MAX;

		for (size_t s = 0; s < NR_SLOTS; s++) {
			if (model[s] && slot_gpa(s) >> shift != last) {
				last = slot_gpa(s) >> shift;
				n++;
			}
		}
	}
	return n;
}

static void check_model(void)
{
	struct collect c = { 0, 0 };
	size_t want = 0;

	for (size_t s = 0; s < NR_SLOTS; s++) {
		uint64_t *e = ept_lookup(&ept, slot_gpa(s));

		cr_assert_eq(e ? *e : 0, model[s], "slot %zu gpa 0x%llx", s, ULL(slot_gpa(s)));
		want += model[s] != 0;
	}
	cr_assert_eq(ept_walk_range(&ept, 0, TOP, &(struct ept_walk_ops){
			.pte_cb = collect_pte }, &c), 0);
	cr_assert_eq(c.seen, want);
	cr_assert_eq(next_nonzero(c.slot), NR_SLOTS);
}

Test(ept, random_vs_model, .timeout = 60)
{
	size_t before;

	for (size_t i = 1; i < NR_REGIONS; i++)
		cr_assert_lt(slot_gpa(i * REGION_PAGES - 1), region_base[i]);
	cr_assert_leq(slot_gpa(NR_SLOTS - 1), TOP - PG);

	setup();
	for (int round = 0; round < 4; round++) {
		/* cluster ops in a window so slots get mapped and cleared repeatedly */
		size_t window = rng() % (NR_SLOTS - 600);

		for (int i = 0; i < 1500; i++)
			random_op(window + rng() % 600);
		for (int i = 0; i < 500; i++)
			random_op(rng() % NR_SLOTS);
		check_model();
	}
	/* pruning everything keeps exactly the tables the entries need */
	ept_prune(&ept, 0, TOP);
	expect_tables(model_tables());
	check_model();
	/* clear it all, then everything but the root goes */
	for (size_t s = 0; s < NR_SLOTS; s++)
		cr_assert_eq(ept_clear(&ept, slot_gpa(s)), model[s]);
	memset(model, 0, sizeof(model));
	before = ept.nr_tables;
	cr_assert_gt(before, 1);
	cr_assert_eq(ept_prune(&ept, 0, TOP), before - 1);
	expect_tables(1);
	check_model();
}
