// SPDX-License-Identifier: MIT
/*
 * Unit tests for the guest page-table builder and walker (ept/gpt.c). The
 * table area is an aligned host buffer standing at a chosen guest-physical
 * base; the walker reaches it through a callback that knows only that area.
 */
#include <criterion/criterion.h>

#include "ept/gpt.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PG        0x1000ULL
#define SZ_2M     (1ULL << 21)
#define SZ_1G     (1ULL << 30)
#define SZ_512G   (1ULL << 39)
#define BASE_GPA  0x0000004000200000ULL  /* where the table area sits in guest memory */

/* Guest memory as the walker sees it: the table area, nothing else. */
struct mem {
	uint8_t *host;
	gpa_t gpa;
	size_t size;
};

static struct mem mem;
static struct gpt pt;

static void *mem_host(void *opaque, gpa_t gpa, size_t len)
{
	struct mem *m = opaque;

	if (gpa < m->gpa || gpa - m->gpa > m->size || len > m->size - (gpa - m->gpa))
		return NULL;
	return m->host + (gpa - m->gpa);
}

static void area_free(void)
{
	free(mem.host);
	mem.host = NULL;
}

TestSuite(gpt, .fini = area_free);

/* A fresh table area of the given number of pages, initialised. */
static void area(size_t pages)
{
	int ret;

	area_free();
	mem.size = pages * PG;
	mem.gpa = BASE_GPA;
	mem.host = aligned_alloc(PG, mem.size ? mem.size : PG);
	cr_assert_not_null(mem.host);
	memset(mem.host, 0xee, mem.size); /* the builder must zero what it hands out */
	ret = gpt_init(&pt, mem.host, mem.gpa, mem.size);
	cr_assert_eq(ret, 0, "gpt_init = %d", ret);
}

static uint64_t *table_at(gpa_t gpa)
{
	uint64_t *t = mem_host(&mem, gpa, PG);

	cr_assert_not_null(t, "table 0x%llx is outside the area", (unsigned long long)gpa);
	return t;
}

static size_t used_pages(void)
{
	return pt.used / PG;
}

static int walk(gva_t gva, struct gpt_walk *w)
{
	return gpt_walk(pt.root, gva, mem_host, &mem, w);
}

/* gva must translate to gpa through a 4 KiB leaf. */
static void expect_mapped(gva_t gva, gpa_t gpa, bool writable)
{
	struct gpt_walk w;
	int ret = walk(gva, &w);

	cr_assert_eq(ret, 0, "walk(0x%llx) = %d, failed at level %d", (unsigned long long)gva,
		     ret, w.failed_level);
	cr_assert_eq(w.gva, gva);
	cr_assert_eq(w.gpa, gpa, "walk(0x%llx) gave gpa 0x%llx, want 0x%llx",
		     (unsigned long long)gva, (unsigned long long)w.gpa, (unsigned long long)gpa);
	cr_assert_eq(w.levels, 4);
	cr_assert_eq(w.failed_level, 0);
	cr_assert_eq(w.page_size, PG);
	cr_assert_eq(w.writable, writable, "walk(0x%llx) writable = %d", (unsigned long long)gva,
		     w.writable);
	cr_assert(w.user);
	cr_assert_eq(w.table[0], pt.root);
	for (int i = 1; i < GPT_LEVELS; i++)
		cr_assert_eq(w.table[i], w.entry[i - 1] & GPT_ADDR);
}

/* gva must not translate, failing at the given level. */
static void expect_absent(gva_t gva, int level)
{
	struct gpt_walk w;
	int ret = walk(gva, &w);

	cr_assert_eq(ret, -EFAULT, "walk(0x%llx) = %d, want -EFAULT", (unsigned long long)gva, ret);
	cr_assert_eq(w.failed_level, level, "walk(0x%llx) failed at level %d, want %d",
		     (unsigned long long)gva, w.failed_level, level);
	cr_assert_eq(w.levels, GPT_LEVELS - level + 1);
	cr_assert_eq(w.entry[GPT_LEVELS - level] & GPT_P, 0);
}

/* ---- init ---- */

Test(gpt, init)
{
	area(4);
	cr_assert_eq(pt.root, BASE_GPA);
	cr_assert_eq(pt.base, mem.host);
	cr_assert_eq(pt.base_gpa, BASE_GPA);
	cr_assert_eq(pt.size, 4 * PG);
	cr_assert_eq(pt.used, PG);
	for (size_t i = 0; i < PG; i++)
		cr_assert_eq(mem.host[i], 0, "root byte %zu not zeroed", i);
	for (size_t i = PG; i < 4 * PG; i++)
		cr_assert_eq(mem.host[i], 0xee, "byte 0x%zx beyond the root touched", i);

	/* an empty table translates nothing */
	expect_absent(0, 4);
	expect_absent(0x400000, 4);
	expect_absent(0xffff800000000000ULL, 4);
}

Test(gpt, init_rejects_misalignment)
{
	struct gpt p;
	uint8_t *buf = aligned_alloc(PG, 4 * PG);

	cr_assert_not_null(buf);
	cr_assert_eq(gpt_init(&p, buf + 8, BASE_GPA, 2 * PG), -EINVAL);
	cr_assert_eq(gpt_init(&p, buf, BASE_GPA + 0x800, 2 * PG), -EINVAL);
	cr_assert_eq(gpt_init(&p, buf, BASE_GPA, 2 * PG + 1), -EINVAL);
	cr_assert_eq(gpt_init(&p, buf, BASE_GPA, PG - 1), -EINVAL);
	cr_assert_eq(gpt_init(&p, buf, BASE_GPA, 2 * PG), 0);
	free(buf);
}

Test(gpt, init_too_small)
{
	struct gpt p;
	uint8_t *buf = aligned_alloc(PG, PG);

	cr_assert_not_null(buf);
	cr_assert_eq(gpt_init(&p, buf, BASE_GPA, 0), -ENOMEM);
	cr_assert_eq(gpt_init(&p, buf, BASE_GPA, PG), 0);
	cr_assert_eq(p.used, PG);
	/* room for the root only: the first map needs a PDPT */
	cr_assert_eq(gpt_map(&p, 0x400000, 0, PG, 0), -ENOMEM);
	cr_assert_eq(p.used, PG);
	free(buf);
}

/* ---- one page ---- */

Test(gpt, map_one_page)
{
	struct gpt_walk w;
	gva_t gva = 0x400000;   /* PML4 0, PDPT 0, PD 2, PT 0 */
	gpa_t gpa = 0x123000;

	area(8);
	cr_assert_eq(gpt_map(&pt, gva, gpa, PG, GPT_W), 0);
	cr_assert_eq(used_pages(), 4, "used %zu pages", used_pages());

	cr_assert_eq(walk(gva + 0xabc, &w), 0);
	cr_assert_eq(w.gva, gva + 0xabc);
	cr_assert_eq(w.gpa, gpa + 0xabc);
	cr_assert_eq(w.levels, 4);
	cr_assert_eq(w.failed_level, 0);
	cr_assert_eq(w.page_size, 4096);
	cr_assert(w.writable);
	cr_assert(w.user);
	cr_assert_not(w.nx);

	/* the tables: root, then three fresh pages from the area, all distinct */
	cr_assert_eq(w.table[0], BASE_GPA);
	for (int i = 1; i < GPT_LEVELS; i++) {
		cr_assert_eq(w.table[i], w.entry[i - 1] & GPT_ADDR);
		cr_assert_geq(w.table[i], BASE_GPA + PG);
		cr_assert_lt(w.table[i], BASE_GPA + 4 * PG);
		cr_assert_eq(w.table[i] % PG, 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(w.table[i], w.table[j]);
	}
	/* upper levels allow everything, the leaf carries the mapping */
	for (int i = 0; i < GPT_LEVELS - 1; i++) {
		cr_assert_eq(w.entry[i] & (GPT_P | GPT_W | GPT_U), GPT_P | GPT_W | GPT_U,
			     "entry[%d] = 0x%llx", i, (unsigned long long)w.entry[i]);
		cr_assert_eq(w.entry[i] & (GPT_PS | GPT_NX), 0);
	}
	cr_assert_eq(w.entry[3], gpa | GPT_P | GPT_W | GPT_U,
		     "leaf = 0x%llx", (unsigned long long)w.entry[3]);

	/* the entries sit at the right indices of the tables in memory */
	cr_assert_eq(table_at(w.table[0])[0], w.entry[0]);
	cr_assert_eq(table_at(w.table[1])[0], w.entry[1]);
	cr_assert_eq(table_at(w.table[2])[2], w.entry[2]);
	cr_assert_eq(table_at(w.table[3])[0], w.entry[3]);
	/* and nothing else was filled in */
	for (int i = 0; i < GPT_LEVELS; i++) {
		const uint64_t *t = table_at(w.table[i]);
		unsigned used_index = i == 2 ? 2 : 0;

		for (unsigned k = 0; k < 512; k++)
			if (k != used_index)
				cr_assert_eq(t[k], 0, "table %d entry %u = 0x%llx", i, k,
					     (unsigned long long)t[k]);
	}

	/* neighbours are not mapped */
	expect_absent(gva + PG, 1);
	expect_absent(gva - PG, 2);
}

Test(gpt, map_readonly_leaf)
{
	struct gpt_walk w;

	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x5000, PG, 0), 0);
	cr_assert_eq(walk(0x400000, &w), 0);
	cr_assert_not(w.writable);
	cr_assert(w.user);
	cr_assert_not(w.nx);
	cr_assert_eq(w.entry[3], 0x5000 | GPT_P | GPT_U);
	for (int i = 0; i < 3; i++)
		cr_assert(w.entry[i] & GPT_W, "upper level %d not writable", i);
	expect_mapped(0x400000, 0x5000, false);
}

Test(gpt, map_flags)
{
	struct gpt_walk w;

	area(8);
	/* NX, A and D pass through; P and U are forced; anything else is dropped */
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x7000, PG,
			     GPT_NX | GPT_A | GPT_D | GPT_PS | (1ULL << 8) | (1ULL << 9) |
			     (1ULL << 52) | 0xabc000), 0);
	cr_assert_eq(walk(0x400000, &w), 0);
	cr_assert_eq(w.entry[3], 0x7000 | GPT_P | GPT_U | GPT_A | GPT_D | GPT_NX,
		     "leaf = 0x%llx", (unsigned long long)w.entry[3]);
	cr_assert(w.nx);
	cr_assert_not(w.writable);
	cr_assert_eq(w.gpa, 0x7000);

	cr_assert_eq(gpt_map(&pt, 0x401000, 0x8000, PG, GPT_W), 0);
	cr_assert_eq(walk(0x401000, &w), 0);
	cr_assert_not(w.nx);
	cr_assert(w.writable);
}

Test(gpt, map_high_gpa)
{
	/* the largest frame the entry format can hold */
	gpa_t gpa = GPT_ADDR & ~(PG - 1);

	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, gpa, PG, GPT_W), 0);
	expect_mapped(0x400fff, gpa + 0xfff, true);
}

Test(gpt, map_zero_length)
{
	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, 0, GPT_W), 0);
	cr_assert_eq(used_pages(), 1);
	expect_absent(0x400000, 4);
}

/* ---- ranges crossing table boundaries ---- */

/* Map [gva, gva+len) to gpa and check every page and the tables used. */
static void map_and_check(gva_t gva, gpa_t gpa, uint64_t len, size_t want_pages)
{
	int ret = gpt_map(&pt, gva, gpa, len, GPT_W);

	cr_assert_eq(ret, 0, "map(0x%llx, len 0x%llx) = %d", (unsigned long long)gva,
		     (unsigned long long)len, ret);
	for (uint64_t off = 0; off < len; off += PG) {
		uint64_t in = (off / PG * 8) & 0xff8; /* vary the offset inside the page */

		expect_mapped(gva + off + in, gpa + off + in, true);
	}
	expect_absent(gva - PG, 1);
	cr_assert_eq(used_pages(), want_pages, "used %zu table pages, want %zu", used_pages(),
		     want_pages);
}

Test(gpt, map_across_2mib)
{
	struct gpt_walk a, b;

	area(16);
	/* 0x1fe000..0x202000: two PTs under one PD */
	map_and_check(SZ_2M - 2 * PG, 0x800000, 4 * PG, 1 + 1 + 1 + 2);
	cr_assert_eq(walk(SZ_2M - PG, &a), 0);
	cr_assert_eq(walk(SZ_2M, &b), 0);
	cr_assert_eq(a.table[2], b.table[2]);
	cr_assert_neq(a.table[3], b.table[3]);
	cr_assert_eq(a.gpa + PG, b.gpa);
	expect_absent(SZ_2M + 2 * PG, 1);
}

Test(gpt, map_across_1gib)
{
	struct gpt_walk a, b, mid;

	area(16);
	map_and_check(SZ_1G - 2 * PG, 0x40000000, 4 * PG, 1 + 1 + 2 + 2);
	cr_assert_eq(walk(SZ_1G - PG, &a), 0);
	cr_assert_eq(walk(SZ_1G, &b), 0);
	cr_assert_eq(walk(SZ_1G - 2 * PG, &mid), 0);
	cr_assert_eq(a.table[1], b.table[1]);
	cr_assert_neq(a.table[2], b.table[2]);
	cr_assert_neq(a.table[3], b.table[3]);
	cr_assert_eq(a.table[3], mid.table[3]);
	expect_absent(SZ_1G + 2 * PG, 1);
}

Test(gpt, map_across_512gib)
{
	struct gpt_walk a, b;

	area(16);
	map_and_check(SZ_512G - 2 * PG, 0x1000000, 4 * PG, 1 + 2 + 2 + 2);
	cr_assert_eq(walk(SZ_512G - PG, &a), 0);
	cr_assert_eq(walk(SZ_512G, &b), 0);
	cr_assert_eq(a.table[0], b.table[0]);
	cr_assert_neq(a.table[1], b.table[1]);
	cr_assert_neq(a.table[2], b.table[2]);
	cr_assert_neq(a.table[3], b.table[3]);
	cr_assert_eq(table_at(pt.root)[0], a.entry[0]);
	cr_assert_eq(table_at(pt.root)[1], b.entry[0]);
	expect_absent(SZ_512G + 2 * PG, 1);
}

Test(gpt, map_long_range)
{
	/* 0x1ff000..0x600000 touches the PTs of three 2 MiB regions */
	area(16);
	map_and_check(SZ_2M - PG, 0x10000000, 0x401000, 1 + 1 + 1 + 3);
	expect_absent(0x600000, 2);
}

Test(gpt, map_high_half)
{
	gva_t gva = 0xffff800000001000ULL;  /* just above the canonical hole */
	struct gpt_walk w;

	area(16);
	map_and_check(gva, 0x2000, 2 * PG, 4);
	cr_assert_eq(walk(gva, &w), 0);
	cr_assert_eq(table_at(pt.root)[256], w.entry[0]);

	/* near the top (but not the last page) */
	cr_assert_eq(gpt_map(&pt, 0xffffffffffffd000ULL, 0x9000, 2 * PG, 0), 0);
	expect_mapped(0xffffffffffffd123ULL, 0x9123, false);
	expect_mapped(0xffffffffffffe123ULL, 0xa123, false);
	cr_assert_eq(used_pages(), 4 + 3);
	cr_assert_eq(walk(0xffffffffffffe000ULL, &w), 0);
	cr_assert_eq(table_at(pt.root)[511], w.entry[0]);
}

/* Regression: a range ending exactly at 2^64 is not an overflow; the last
 * canonical page can be mapped. */
Test(gpt, map_last_page)
{
	area(16);
	cr_assert_eq(gpt_map(&pt, 0xfffffffffffff000ULL, 0x3000, PG, GPT_W), 0);
	expect_mapped(0xffffffffffffffffULL, 0x3fff, true);
}

Test(gpt, map_cache_interleaved)
{
	/* mapping elsewhere and coming back must not reuse the wrong leaf table */
	struct gpt_walk a, b;

	area(16);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), 0);
	cr_assert_eq(gpt_map(&pt, 0x40000000, 0x2000, PG, GPT_W), 0);
	cr_assert_eq(gpt_map(&pt, 0x401000, 0x3000, PG, GPT_W), 0);
	cr_assert_eq(gpt_map(&pt, 0x40001000, 0x4000, PG, 0), 0);
	cr_assert_eq(gpt_map(&pt, 0x600000, 0x5000, PG, GPT_W), 0);
	expect_mapped(0x400000, 0x1000, true);
	expect_mapped(0x40000000, 0x2000, true);
	expect_mapped(0x401000, 0x3000, true);
	expect_mapped(0x40001000, 0x4000, false);
	expect_mapped(0x600000, 0x5000, true);
	cr_assert_eq(walk(0x400000, &a), 0);
	cr_assert_eq(walk(0x401000, &b), 0);
	cr_assert_eq(a.table[3], b.table[3]);
	/* root, PDPT, PD for 0..1G, PT 0x400000, PD for 1G..2G, PT 0x40000000, PT 0x600000 */
	cr_assert_eq(used_pages(), 7);
}

Test(gpt, reinit_drops_cache)
{
	/* after init on a new area, nothing may be written through the old one */
	uint8_t *old, *snap;
	size_t old_size;

	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), 0);
	old = mem.host;
	old_size = mem.size;
	snap = malloc(old_size);
	cr_assert_not_null(snap);
	memcpy(snap, old, old_size);

	mem.host = NULL;             /* keep the old buffer alive */
	area(8);
	cr_assert_eq(gpt_map(&pt, 0x401000, 0x2000, PG, GPT_W), 0);
	cr_assert_eq(memcmp(old, snap, old_size), 0, "the old area was written");
	expect_mapped(0x401000, 0x2000, true);
	expect_absent(0x400000, 1);
	cr_assert_eq(used_pages(), 4);
	free(snap);
	free(old);
}

/* ---- not present ---- */

Test(gpt, walk_not_present_levels)
{
	struct gpt_walk w;

	area(8);
	expect_absent(0x400000, 4);
	cr_assert_eq(walk(0x400000, &w), -EFAULT);
	cr_assert_eq(w.table[0], pt.root);
	cr_assert_eq(w.entry[0], 0);
	cr_assert_eq(w.levels, 1);

	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), 0);
	/* PML4 entry absent: another 512 GiB slot */
	expect_absent(SZ_512G + 0x400000, 4);
	expect_absent(0xffff800000400000ULL, 4);
	/* PDPT entry absent: another 1 GiB slot */
	expect_absent(SZ_1G + 0x400000, 3);
	cr_assert_eq(walk(SZ_1G, &w), -EFAULT);
	cr_assert_eq(w.levels, 2);
	cr_assert(w.entry[0] & GPT_P);
	cr_assert_eq(w.table[1], w.entry[0] & GPT_ADDR);
	/* PD entry absent: another 2 MiB slot */
	expect_absent(0x600000, 2);
	expect_absent(0x3ff000, 2);
	cr_assert_eq(walk(0x600000, &w), -EFAULT);
	cr_assert_eq(w.levels, 3);
	cr_assert_eq(w.table[2], w.entry[1] & GPT_ADDR);
	/* PT entry absent: the next page */
	expect_absent(0x401000, 1);
	expect_absent(0x5ff000, 1);
	cr_assert_eq(walk(0x401000, &w), -EFAULT);
	cr_assert_eq(w.levels, 4);
	cr_assert_eq(w.table[3], w.entry[2] & GPT_ADDR);
	cr_assert_eq(w.entry[3], 0);
}

/* ---- refusals ---- */

Test(gpt, map_twice)
{
	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, 2 * PG, GPT_W), 0);
	cr_assert_eq(gpt_map(&pt, 0x401000, 0x9000, PG, GPT_W), -EEXIST);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, 2 * PG, GPT_W), -EEXIST);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, 0), -EEXIST);
	cr_assert_eq(gpt_map(&pt, 0x3ff000, 0x9000, 2 * PG, GPT_W), -EEXIST);
	/* the existing mappings are untouched */
	expect_mapped(0x400000, 0x1000, true);
	expect_mapped(0x401000, 0x2000, true);
	/* adjacent is fine */
	cr_assert_eq(gpt_map(&pt, 0x402000, 0xa000, PG, GPT_W), 0);
	expect_mapped(0x402000, 0xa000, true);
}

Test(gpt, map_over_large_page)
{
	/* a hand-made 2 MiB entry: mapping a 4 KiB page inside it is refused */
	gpa_t pdpt = BASE_GPA + PG, pd = BASE_GPA + 2 * PG;

	area(8);
	pt.used = 3 * PG; /* keep the allocator off the hand-made tables */
	table_at(pt.root)[0] = pdpt | GPT_P | GPT_W | GPT_U;
	memset(table_at(pdpt), 0, PG);
	memset(table_at(pd), 0, PG);
	table_at(pdpt)[0] = pd | GPT_P | GPT_W | GPT_U;
	table_at(pd)[2] = 0x200000 | GPT_P | GPT_W | GPT_U | GPT_PS;
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), -EEXIST);
	cr_assert_eq(gpt_map(&pt, 0x5ff000, 0x1000, PG, GPT_W), -EEXIST);
	/* and a 1 GiB one */
	table_at(pdpt)[1] = SZ_1G | GPT_P | GPT_W | GPT_U | GPT_PS;
	cr_assert_eq(gpt_map(&pt, SZ_1G + 0x1000, 0x1000, PG, GPT_W), -EEXIST);
	/* beside them is fine */
	cr_assert_eq(gpt_map(&pt, 0x600000, 0x1000, PG, GPT_W), 0);
	expect_mapped(0x600000, 0x1000, true);
}

Test(gpt, map_misaligned)
{
	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400001, 0x1000, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400800, 0x1000, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1001, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1800, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG + 1, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, 0x800, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, 1, GPT_W), -EINVAL);
	cr_assert_eq(used_pages(), 1, "a refused map allocated tables");
	expect_absent(0x400000, 4);
}

Test(gpt, noncanonical_map)
{
	area(8);
	cr_assert_eq(gpt_map(&pt, 0x0000800000000000ULL, 0x1000, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0xffff7ffffffff000ULL, 0x1000, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x1000000000000000ULL, 0x1000, PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x8000000000000000ULL, 0x1000, PG, GPT_W), -EINVAL);
	cr_assert_eq(used_pages(), 1, "a refused map allocated tables");
	/* the neighbours on the canonical side are fine */
	cr_assert_eq(gpt_map(&pt, 0x00007ffffffff000ULL, 0x1000, PG, GPT_W), 0);
	expect_mapped(0x00007ffffffff000ULL, 0x1000, true);
}

Test(gpt, noncanonical_walk)
{
	static const gva_t bad[] = {
		0x0000800000000000ULL, 0x0000800000400000ULL, 0xffff7fffffffffffULL,
		0x1000000000400000ULL, 0x8000000000000000ULL,
	};
	struct gpt_walk w;

	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(walk(bad[i], &w), -EINVAL, "walk(0x%llx)", (unsigned long long)bad[i]);
		cr_assert_eq(w.gva, bad[i]);
		cr_assert_eq(w.levels, 0);
		cr_assert_eq(w.failed_level, 0);
	}
	/* 0x1000000000400000 would alias 0x400000 if the high bits were ignored */
	expect_mapped(0x400000, 0x1000, true);
}

Test(gpt, map_into_canonical_hole)
{
	gva_t top = 0x00007ffffffff000ULL;

	area(8);
	/* runs off the end of the lower half */
	cr_assert_eq(gpt_map(&pt, top, 0x1000, 2 * PG, GPT_W), -EINVAL);
	/* spans the whole hole and ends in the (canonical) upper half */
	cr_assert_eq(gpt_map(&pt, top, 0x1000, 0xffff800000001000ULL - top, GPT_W), -EINVAL);
	/* wraps around the top of the address space */
	cr_assert_eq(gpt_map(&pt, 0xffffffffffffe000ULL, 0x1000, 3 * PG, GPT_W), -EINVAL);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, (uint64_t)0 - 0x400000 + PG, GPT_W),
		     -EINVAL);
	cr_assert_eq(used_pages(), 1, "a refused map allocated tables");
	expect_absent(top, 4);
}

Test(gpt, out_of_memory)
{
	/* root + PDPT + PD: no room for the PT */
	area(3);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), -ENOMEM);
	cr_assert_eq(used_pages(), 3);
	cr_assert_leq(pt.used, pt.size);
	expect_absent(0x400000, 2);
}

Test(gpt, out_of_memory_later)
{
	area(4);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), 0);
	cr_assert_eq(used_pages(), 4);
	/* a new 2 MiB region needs a new PT */
	cr_assert_eq(gpt_map(&pt, 0x600000, 0x2000, PG, GPT_W), -ENOMEM);
	cr_assert_eq(gpt_map(&pt, SZ_1G, 0x2000, PG, GPT_W), -ENOMEM);
	/* a range that runs out half-way, at the next 2 MiB boundary */
	cr_assert_eq(gpt_map(&pt, 0x5fe000, 0x3000, 4 * PG, GPT_W), -ENOMEM);
	cr_assert_eq(used_pages(), 4);
	cr_assert_leq(pt.used, pt.size);
	/* the existing PT still has room */
	cr_assert_eq(gpt_map(&pt, 0x401000, 0x4000, PG, GPT_W), 0);
	expect_mapped(0x400000, 0x1000, true);
	expect_mapped(0x401000, 0x4000, true);
}

/* ---- gpt_tables_for ---- */

/* Map [gva, gva+len) into an area of exactly tables_for(len) + 1 (root) pages. */
static void check_bound(gva_t gva, uint64_t len)
{
	size_t bound = gpt_tables_for(len);
	int ret;

	area(bound + 1);
	ret = gpt_map(&pt, gva, 0x100000000ULL, len, GPT_W);
	cr_assert_eq(ret, 0, "map(0x%llx, len 0x%llx) = %d with tables_for = %zu",
		     (unsigned long long)gva, (unsigned long long)len, ret, bound);
	cr_assert_leq(used_pages() - 1, bound, "map(0x%llx, len 0x%llx) used %zu tables > %zu",
		      (unsigned long long)gva, (unsigned long long)len, used_pages() - 1, bound);
	expect_mapped(gva, 0x100000000ULL, true);
	expect_mapped(gva + len - PG, 0x100000000ULL + len - PG, true);
	expect_mapped(gva + (len / 2 & ~(PG - 1)), 0x100000000ULL + (len / 2 & ~(PG - 1)), true);
}

Test(gpt, tables_for_is_upper_bound)
{
	static const uint64_t lens[] = {
		PG, 2 * PG, 511 * PG, SZ_2M, SZ_2M + PG, 3 * SZ_2M - PG, 0x3ff000,
		SZ_1G, SZ_1G + 2 * PG, 2 * SZ_1G + PG,
	};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t len = lens[i];
		const gva_t starts[] = {
			0,                          /* aligned at every level */
			0x400000,
			SZ_2M - PG,                 /* straddles 2 MiB at the start */
			SZ_1G - PG,                 /* straddles 1 GiB */
			SZ_512G - (len / 2 & ~(PG - 1)) - PG, /* straddles 512 GiB mid-range */
			SZ_512G - PG,
			0xffff800000000000ULL + SZ_1G - PG, /* upper half */
			0x00007fffffffffffULL + 1 - len, /* ends at the top of the lower half */
		};

		for (size_t j = 0; j < sizeof(starts) / sizeof(starts[0]); j++)
			check_bound(starts[j], len);
	}
}

Test(gpt, tables_for_random)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 200; i++) {
		uint64_t pages, gva;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pages = 1 + (x >> 11) % 3000;
		/* any page in the lower half such that the range fits */
		gva = ((x >> 3) % ((1ULL << 35) - pages)) << 12;
		if (i % 4 == 0)
			gva = ALIGN_DOWN(gva, SZ_2M) + SZ_2M - PG * (1 + i % 7);
		if (i % 8 == 1)
			gva = SZ_512G - PG * (1 + (x % pages));
		if (gva + pages * PG > (1ULL << 47))
			gva = (1ULL << 47) - pages * PG;
		check_bound(gva, pages * PG);
	}
}

Test(gpt, tables_for_values)
{
	/* a bound, but at least what a straddling range really needs */
	cr_assert_geq(gpt_tables_for(PG), 3);
	cr_assert_geq(gpt_tables_for(2 * PG), 6);          /* can straddle 512 GiB */
	cr_assert_geq(gpt_tables_for(SZ_2M), 6);
	cr_assert_geq(gpt_tables_for(SZ_1G), 512 + 2);
	cr_assert_geq(gpt_tables_for(SZ_1G + PG), 513 + 2 + 2);
	/* a partial page needs the same as a whole one */
	cr_assert_eq(gpt_tables_for(1), gpt_tables_for(PG));
	/* monotonic */
	for (uint64_t len = PG; len < 64 * SZ_2M; len += 0x3f000)
		cr_assert_leq(gpt_tables_for(len), gpt_tables_for(len + PG));
	/* not absurdly loose: at most a few pages over the PT count */
	cr_assert_leq(gpt_tables_for(SZ_1G), 512 + 16);
}

/* ---- the walker on hand-made tables ---- */

/* root at BASE, PDPT at BASE+1 page, PD at BASE+2, PT at BASE+3; all zero. */
static gpa_t hand_pdpt, hand_pd, hand_pt;

static void hand_tables(void)
{
	area(8);
	hand_pdpt = BASE_GPA + PG;
	hand_pd = BASE_GPA + 2 * PG;
	hand_pt = BASE_GPA + 3 * PG;
	memset(mem.host, 0, mem.size);
	pt.used = 4 * PG;
}

Test(gpt, walk_2mib_page)
{
	struct gpt_walk w;
	gva_t gva = SZ_1G + 3 * SZ_2M + 0x12345;

	hand_tables();
	table_at(pt.root)[0] = hand_pdpt | GPT_P | GPT_W | GPT_U;
	table_at(hand_pdpt)[1] = hand_pd | GPT_P | GPT_W | GPT_U;
	/* bit 12 is PAT in a large entry, not part of the frame */
	table_at(hand_pd)[3] = 0x80000000ULL | GPT_P | GPT_W | GPT_U | GPT_PS | (1ULL << 12);

	cr_assert_eq(walk(gva, &w), 0);
	cr_assert_eq(w.levels, 3);
	cr_assert_eq(w.failed_level, 0);
	cr_assert_eq(w.page_size, SZ_2M);
	cr_assert_eq(w.gpa, 0x80012345ULL, "gpa 0x%llx", (unsigned long long)w.gpa);
	cr_assert(w.writable);
	cr_assert(w.user);
	cr_assert_eq(w.table[0], pt.root);
	cr_assert_eq(w.table[1], hand_pdpt);
	cr_assert_eq(w.table[2], hand_pd);
	cr_assert_eq(w.table[3], 0);
	cr_assert_eq(w.entry[3], 0);
	cr_assert(w.entry[2] & GPT_PS);

	/* last byte of the large page */
	cr_assert_eq(walk(SZ_1G + 4 * SZ_2M - 1, &w), 0);
	cr_assert_eq(w.gpa, 0x80000000ULL + SZ_2M - 1);
	/* the next 2 MiB is absent */
	cr_assert_eq(walk(SZ_1G + 4 * SZ_2M, &w), -EFAULT);
	cr_assert_eq(w.failed_level, 2);
}

Test(gpt, walk_1gib_page)
{
	struct gpt_walk w;
	gva_t gva = 2 * SZ_1G + 0x2345678;

	hand_tables();
	table_at(pt.root)[0] = hand_pdpt | GPT_P | GPT_W | GPT_U;
	table_at(hand_pdpt)[2] = 0x140000000ULL | GPT_P | GPT_U | GPT_PS | (1ULL << 12);

	cr_assert_eq(walk(gva, &w), 0);
	cr_assert_eq(w.levels, 2);
	cr_assert_eq(w.failed_level, 0);
	cr_assert_eq(w.page_size, SZ_1G);
	cr_assert_eq(w.gpa, 0x142345678ULL, "gpa 0x%llx", (unsigned long long)w.gpa);
	cr_assert_not(w.writable);
	cr_assert(w.user);
	cr_assert_eq(w.table[1], hand_pdpt);
	cr_assert_eq(w.table[2], 0);
	cr_assert_eq(w.entry[2], 0);

	cr_assert_eq(walk(3 * SZ_1G - 1, &w), 0);
	cr_assert_eq(w.gpa, 0x140000000ULL + SZ_1G - 1);
	cr_assert_eq(walk(3 * SZ_1G, &w), -EFAULT);
	cr_assert_eq(w.failed_level, 3);
}

Test(gpt, walk_4k_hand_made)
{
	/* a plain 4 KiB walk through hand-made tables, with CR3 flag bits set */
	struct gpt_walk w;

	hand_tables();
	table_at(pt.root)[1] = hand_pdpt | GPT_P | GPT_W | GPT_U;
	table_at(hand_pdpt)[0] = hand_pd | GPT_P | GPT_W | GPT_U;
	table_at(hand_pd)[0] = hand_pt | GPT_P | GPT_W | GPT_U;
	/* PS (bit 7) in a PT entry is PAT, not a large page */
	table_at(hand_pt)[5] = 0xabcd000ULL | GPT_P | GPT_W | GPT_U | GPT_PS;

	cr_assert_eq(gpt_walk(pt.root | 0x18, SZ_512G + 5 * PG + 0x42, mem_host, &mem, &w), 0);
	cr_assert_eq(w.levels, 4);
	cr_assert_eq(w.page_size, PG);
	cr_assert_eq(w.gpa, 0xabcd042ULL);
	cr_assert_eq(w.table[3], hand_pt);
}

Test(gpt, walk_effective_permissions)
{
	struct gpt_walk w;

	hand_tables();
	table_at(pt.root)[0] = hand_pdpt | GPT_P | GPT_W | GPT_U;
	table_at(hand_pdpt)[0] = hand_pd | GPT_P | GPT_W | GPT_U;
	table_at(hand_pd)[0] = hand_pt | GPT_P | GPT_U;           /* no W at PD */
	table_at(hand_pt)[0] = 0x1000 | GPT_P | GPT_W | GPT_U;
	cr_assert_eq(walk(0, &w), 0);
	cr_assert_not(w.writable, "a read-only PD entry must make the page read-only");
	cr_assert(w.user);
	cr_assert_not(w.nx);

	table_at(hand_pd)[0] |= GPT_W;
	table_at(hand_pdpt)[0] &= ~GPT_U;                          /* supervisor at PDPT */
	cr_assert_eq(walk(0, &w), 0);
	cr_assert(w.writable);
	cr_assert_not(w.user);

	table_at(hand_pdpt)[0] |= GPT_U;
	table_at(pt.root)[0] |= GPT_NX;                            /* NX at PML4 */
	cr_assert_eq(walk(0, &w), 0);
	cr_assert(w.writable);
	cr_assert(w.user);
	cr_assert(w.nx);

	table_at(pt.root)[0] &= ~GPT_NX;
	table_at(hand_pt)[0] &= ~GPT_W;                            /* read-only leaf */
	cr_assert_eq(walk(0, &w), 0);
	cr_assert_not(w.writable);
	cr_assert(w.user);
	cr_assert_not(w.nx);
	cr_assert_eq(w.gpa, 0x1000);
}

Test(gpt, walk_builder_readonly_upper_level)
{
	/* the builder's tables, with W cleared in the PD entry afterwards */
	struct gpt_walk w;

	area(8);
	cr_assert_eq(gpt_map(&pt, 0x400000, 0x1000, PG, GPT_W), 0);
	cr_assert_eq(walk(0x400000, &w), 0);
	cr_assert(w.writable);
	table_at(w.table[2])[2] &= ~GPT_W;
	cr_assert_eq(walk(0x400000, &w), 0);
	cr_assert_not(w.writable);
	cr_assert(w.entry[3] & GPT_W);
}

Test(gpt, walk_table_outside_memory)
{
	struct gpt_walk w;

	hand_tables();
	/* the PML4 entry points outside the callback's memory */
	table_at(pt.root)[0] = 0xdead000000ULL | GPT_P | GPT_W | GPT_U;
	cr_assert_eq(walk(0x1000, &w), -ERANGE);
	cr_assert_eq(w.failed_level, 3);
	cr_assert_eq(w.levels, 1);

	/* deeper: the PD entry points just past the area */
	table_at(pt.root)[0] = hand_pdpt | GPT_P | GPT_W | GPT_U;
	table_at(hand_pdpt)[0] = hand_pd | GPT_P | GPT_W | GPT_U;
	table_at(hand_pd)[0] = (BASE_GPA + mem.size) | GPT_P | GPT_W | GPT_U;
	cr_assert_eq(walk(0x1000, &w), -ERANGE);
	cr_assert_eq(w.failed_level, 1);
	cr_assert_eq(w.levels, 3);

	/* just below the area */
	table_at(hand_pd)[0] = (BASE_GPA - PG) | GPT_P | GPT_W | GPT_U;
	cr_assert_eq(walk(0x1000, &w), -ERANGE);
	cr_assert_eq(w.failed_level, 1);

	/* CR3 itself outside */
	cr_assert_eq(gpt_walk(0x1000, 0x1000, mem_host, &mem, &w), -ERANGE);
	cr_assert_eq(w.failed_level, 4);
	cr_assert_eq(w.levels, 0);
}
