// SPDX-License-Identifier: MIT
/*
 * Unit tests for the guest VMA set (guestmm/vma.c). Addresses are written in
 * pages (P(n) = page n) to keep layouts readable. Every check compares exact
 * values: the whole array after each change, error codes, counters. The
 * randomized tests replay thousands of operations against a per-page model.
 */
#include <criterion/criterion.h>

#include "guestmm/vma.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PG        0x1000ULL
#define P(n)      ((gpa_t)(n) * PG)
#define HVA_BASE  0x7f0000000000ULL  /* host mapping of guest page 0 */
#define HVA(n)    (HVA_BASE + P(n))  /* hva that continues across pages */

#define RW   (GMM_VM_READ | GMM_VM_WRITE)
#define RO   GMM_VM_READ
#define RX   (GMM_VM_READ | GMM_VM_EXEC)

static struct gmm_vma_tree t;

static void tree_setup(void)
{
	gmm_vma_tree_init(&t);
}

static void tree_teardown(void)
{
	gmm_vma_tree_destroy(&t);
}

TestSuite(vma, .init = tree_setup, .fini = tree_teardown);

/* ---- helpers ---- */

static struct gmm_vma vma(gpa_t start, gpa_t end, uint32_t flags, enum gmm_vma_kind kind,
			  const char *name, hva_t hva)
{
	return (struct gmm_vma){ .start = start, .end = end, .flags = flags, .kind = kind,
				 .name = name, .hva = hva };
}

/* Guest RAM [P(s), P(e)) with the common continuous host mapping. */
static struct gmm_vma ram(unsigned s, unsigned e, uint32_t flags)
{
	return vma(P(s), P(e), flags, GMM_VMA_RAM, "ram", HVA(s));
}

static void insert_ok(const struct gmm_vma *v)
{
	int ret = gmm_vma_insert(&t, v);

	cr_assert_eq(ret, 0, "insert [0x%llx, 0x%llx) = %d", (unsigned long long)v->start,
		     (unsigned long long)v->end, ret);
}

static void insert_ram(unsigned s, unsigned e, uint32_t flags)
{
	struct gmm_vma v = ram(s, e, flags);

	insert_ok(&v);
}

static bool name_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void expect_vma(unsigned i, const struct gmm_vma *want)
{
	const struct gmm_vma *v = &t.v[i];

	cr_assert_lt(i, t.nr);
	cr_assert_eq(v->start, want->start, "vma %u start 0x%llx, want 0x%llx", i,
		     (unsigned long long)v->start, (unsigned long long)want->start);
	cr_assert_eq(v->end, want->end, "vma %u end 0x%llx, want 0x%llx", i,
		     (unsigned long long)v->end, (unsigned long long)want->end);
	cr_assert_eq(v->flags, want->flags, "vma %u flags 0x%x, want 0x%x", i, v->flags,
		     want->flags);
	cr_assert_eq(v->kind, want->kind, "vma %u kind %d, want %d", i, v->kind, want->kind);
	cr_assert(name_eq(v->name, want->name), "vma %u name %s, want %s", i,
		  v->name ? v->name : "(null)", want->name ? want->name : "(null)");
	cr_assert_eq(v->hva, want->hva, "vma %u hva 0x%llx, want 0x%llx", i,
		     (unsigned long long)v->hva, (unsigned long long)want->hva);
}

/* The array must be exactly want[0..n). */
static void expect_layout(const struct gmm_vma *want, unsigned n)
{
	cr_assert_eq(t.nr, n, "%u VMAs, want %u", t.nr, n);
	for (unsigned i = 0; i < n; i++)
		expect_vma(i, &want[i]);
}

#define EXPECT_LAYOUT(...)                                                      \
	do {                                                                    \
		const struct gmm_vma want_[] = { __VA_ARGS__ };                 \
		expect_layout(want_, ARRAY_SIZE(want_));                        \
	} while (0)

/* A copy of the array, to prove that a failed call changed nothing. */
struct snap {
	struct gmm_vma *v;
	unsigned nr;
};

static struct snap snap_take(void)
{
	struct snap s = { .nr = t.nr, .v = malloc((t.nr + 1) * sizeof(*s.v)) };

	cr_assert_not_null(s.v);
	for (unsigned i = 0; i < t.nr; i++)
		s.v[i] = t.v[i];
	return s;
}

static void snap_check(struct snap *s)
{
	expect_layout(s->v, s->nr);
	free(s->v);
	s->v = NULL;
}

/* The same rule as the header's, written independently. */
static bool mergeable(const struct gmm_vma *lo, const struct gmm_vma *hi)
{
	bool hva_ok;

	if (!lo->hva || !hi->hva)
		hva_ok = !lo->hva && !hi->hva;
	else
		hva_ok = lo->hva + (lo->end - lo->start) == hi->hva;
	return lo->end == hi->start && lo->flags == hi->flags && lo->kind == hi->kind &&
	       name_eq(lo->name, hi->name) && hva_ok;
}

/* Sorted, aligned, non-empty, non-overlapping; the cache a valid index. */
static void check_shape(void)
{
	cr_assert_leq(t.nr, t.cap);
	cr_assert(t.nr == 0 ? t.cache == 0 : t.cache < t.nr, "cache %u with %u VMAs", t.cache,
		  t.nr);
	for (unsigned i = 0; i < t.nr; i++) {
		cr_assert_eq((t.v[i].start | t.v[i].end) & (PG - 1), 0, "vma %u misaligned", i);
		cr_assert_lt(t.v[i].start, t.v[i].end, "vma %u empty", i);
		if (i)
			cr_assert_leq(t.v[i - 1].end, t.v[i].start, "vma %u overlaps %u", i - 1, i);
	}
}

static void check_no_mergeable(void)
{
	for (unsigned i = 1; i < t.nr; i++)
		cr_assert(!mergeable(&t.v[i - 1], &t.v[i]), "vma %u and %u left mergeable", i - 1,
			  i);
}

/* ---- insert ---- */

Test(vma, init_is_empty)
{
	cr_assert_eq(t.nr, 0);
	cr_assert_eq(t.lookups, 0);
	cr_assert_eq(t.cache_hits, 0);
	cr_assert_null(gmm_vma_find(&t, 0));
	cr_assert_eq(gmm_vma_total(&t, 0), 0);
	cr_assert_eq(t.lookups, 1);
	cr_assert_eq(t.cache_hits, 0);
}

Test(vma, insert_into_empty)
{
	struct gmm_vma v = vma(P(16), P(48), RW | GMM_VM_LOCKED, GMM_VMA_SYS, "boot", HVA(16));
	struct gmm_vma *f;

	insert_ok(&v);
	EXPECT_LAYOUT(v);
	f = gmm_vma_find(&t, P(20) + 123);
	cr_assert_eq(f, &t.v[0]);
	cr_assert_str_eq(f->name, "boot");
	cr_assert_eq(gmm_vma_total(&t, 0), P(32));
	check_shape();
}

Test(vma, insert_before_after_between)
{
	insert_ram(10, 20, RW);
	insert_ram(0, 5, RW);   /* before, with a gap */
	insert_ram(30, 40, RW); /* after, with a gap */
	insert_ram(22, 25, RW); /* between, gaps on both sides */
	EXPECT_LAYOUT(ram(0, 5, RW), ram(10, 20, RW), ram(22, 25, RW), ram(30, 40, RW));
	check_shape();
	check_no_mergeable();
}

Test(vma, insert_touching_without_merge)
{
	insert_ram(10, 20, RW);
	insert_ram(20, 30, RO); /* touches on the right, different flags */
	insert_ram(5, 10, RX);  /* touches on the left, different flags */
	EXPECT_LAYOUT(ram(5, 10, RX), ram(10, 20, RW), ram(20, 30, RO));
}

Test(vma, overlap_refused)
{
	static const unsigned bad[][2] = {
		{ 10, 20 }, /* same range */
		{ 5, 25 },  /* contains */
		{ 12, 15 }, /* contained */
		{ 10, 11 }, /* contained, at the start */
		{ 19, 20 }, /* contained, at the end */
		{ 5, 11 },  /* overlaps the left end */
		{ 19, 25 }, /* overlaps the right end */
		{ 19, 31 }, /* spans the gap into the next VMA */
		{ 25, 31 }, /* from the gap into the next VMA */
		{ 0, 100 }, /* everything */
	};

	insert_ram(10, 20, RW);
	insert_ram(30, 40, RO);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct snap s = snap_take();
		/* the same flags: even a would-be merge partner is refused */
		struct gmm_vma v = ram(bad[i][0], bad[i][1], RW);
		int ret = gmm_vma_insert(&t, &v);

		cr_assert_eq(ret, -EEXIST, "insert [%u, %u) = %d", bad[i][0], bad[i][1], ret);
		snap_check(&s);
	}
	EXPECT_LAYOUT(ram(10, 20, RW), ram(30, 40, RO));
}

Test(vma, misaligned_or_empty_refused)
{
	struct gmm_vma bad[] = {
		vma(P(1) + 1, P(2), RW, GMM_VMA_RAM, "ram", 0),
		vma(P(1), P(2) - 1, RW, GMM_VMA_RAM, "ram", 0),
		vma(P(1) + 0x800, P(2) + 0x800, RW, GMM_VMA_RAM, "ram", 0),
		vma(P(2), P(2), RW, GMM_VMA_RAM, "ram", 0), /* empty */
		vma(P(3), P(2), RW, GMM_VMA_RAM, "ram", 0), /* reversed */
		vma(0, 0, RW, GMM_VMA_RAM, "ram", 0),
	};

	insert_ram(4, 8, RW);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = gmm_vma_insert(&t, &bad[i]);

		cr_assert_eq(ret, -EINVAL, "case %zu = %d", i, ret);
	}
	/* and the same for the range operations */
	cr_assert_eq(gmm_vma_remove(&t, P(4) + 1, P(8)), -EINVAL);
	cr_assert_eq(gmm_vma_remove(&t, P(4), P(4)), -EINVAL);
	cr_assert_eq(gmm_vma_remove(&t, P(8), P(4)), -EINVAL);
	cr_assert_eq(gmm_vma_protect(&t, P(4), P(8) - 1, RO), -EINVAL);
	cr_assert_eq(gmm_vma_protect(&t, P(5), P(5), RO), -EINVAL);
	cr_assert_eq(gmm_vma_split(&t, P(5) + 8), -EINVAL);
	cr_assert_eq(gmm_vma_split(&t, P(20) + 8), -EINVAL); /* alignment is checked first */
	EXPECT_LAYOUT(ram(4, 8, RW));
}

Test(vma, insert_at_the_top_of_the_address_space)
{
	gpa_t top = UINT64_MAX & PAGE_MASK; /* the last page's start */
	struct gmm_vma v = vma(top - P(2), top, RW, GMM_VMA_RAM, "hi", 0);

	insert_ok(&v);
	cr_assert_eq(gmm_vma_find(&t, top - 1), &t.v[0]);
	cr_assert_null(gmm_vma_find(&t, top));
	cr_assert_null(gmm_vma_find(&t, UINT64_MAX));
	cr_assert_eq(gmm_vma_split(&t, top - P(1)), 0);
	cr_assert_eq(gmm_vma_remove(&t, top - P(1), top), 0);
	EXPECT_LAYOUT(vma(top - P(2), top - P(1), RW, GMM_VMA_RAM, "hi", 0));
}

/* ---- find and its cache ---- */

Test(vma, find_bounds)
{
	insert_ram(10, 20, RW);
	insert_ram(30, 31, RO);
	cr_assert_eq(gmm_vma_find(&t, P(10)), &t.v[0]);
	cr_assert_eq(gmm_vma_find(&t, P(20) - 1), &t.v[0]);
	cr_assert_eq(gmm_vma_find(&t, P(15) + 7), &t.v[0]);
	cr_assert_null(gmm_vma_find(&t, P(20)));
	cr_assert_null(gmm_vma_find(&t, P(10) - 1));
	cr_assert_null(gmm_vma_find(&t, 0));
	cr_assert_null(gmm_vma_find(&t, P(25)));
	cr_assert_null(gmm_vma_find(&t, P(30) - 1));
	cr_assert_eq(gmm_vma_find(&t, P(30)), &t.v[1]);
	cr_assert_eq(gmm_vma_find(&t, P(31) - 1), &t.v[1]);
	cr_assert_null(gmm_vma_find(&t, P(31)));
	cr_assert_null(gmm_vma_find(&t, UINT64_MAX));
}

Test(vma, cache_hits_counted)
{
	insert_ram(0, 10, RW);
	insert_ram(20, 30, RO);
	insert_ram(40, 50, RX);

	cr_assert_eq(gmm_vma_find(&t, P(25)), &t.v[1]); /* cold: cache 0 does not contain it */
	cr_assert_eq(t.lookups, 1);
	cr_assert_eq(t.cache_hits, 0);
	cr_assert_eq(t.cache, 1);
	cr_assert_eq(gmm_vma_find(&t, P(21)), &t.v[1]); /* hit */
	cr_assert_eq(gmm_vma_find(&t, P(30) - 1), &t.v[1]); /* hit at end - 1 */
	cr_assert_eq(t.lookups, 3);
	cr_assert_eq(t.cache_hits, 2);
	cr_assert_null(gmm_vma_find(&t, P(35))); /* miss, cache kept */
	cr_assert_eq(t.cache, 1);
	cr_assert_eq(gmm_vma_find(&t, P(20)), &t.v[1]); /* so this still hits */
	cr_assert_eq(gmm_vma_find(&t, P(45)), &t.v[2]); /* miss, moves the cache */
	cr_assert_eq(gmm_vma_find(&t, P(45)), &t.v[2]);
	cr_assert_eq(t.lookups, 7);
	cr_assert_eq(t.cache_hits, 4);

	/* mutations neither look up nor hit */
	insert_ram(60, 70, RW);
	cr_assert_eq(gmm_vma_split(&t, P(5)), 0);
	cr_assert_eq(gmm_vma_protect(&t, P(1), P(2), RO), 0);
	cr_assert_eq(gmm_vma_remove(&t, P(61), P(62)), 0);
	cr_assert_eq(t.lookups, 7);
	cr_assert_eq(t.cache_hits, 4);
}

Test(vma, cache_follows_its_vma)
{
	struct gmm_vma *f;

	insert_ram(20, 30, RW);
	insert_ram(40, 50, RW);
	cr_assert_not_null(gmm_vma_find(&t, P(45)));
	cr_assert_eq(t.cache, 1);

	insert_ram(0, 5, RO); /* shifts the cached VMA up */
	cr_assert_eq(t.cache, 2);
	f = gmm_vma_find(&t, P(41));
	cr_assert_eq(f, &t.v[2]);
	cr_assert_eq(f->start, P(40));
	cr_assert_eq(t.cache_hits, 1);

	cr_assert_eq(gmm_vma_split(&t, P(2)), 0); /* shifts it again */
	cr_assert_eq(t.cache, 3);
	cr_assert_eq(gmm_vma_remove(&t, P(0), P(30)), 0); /* three VMAs below it go */
	cr_assert_eq(t.cache, 0);
	cr_assert_eq(gmm_vma_find(&t, P(49)), &t.v[0]);
	cr_assert_eq(t.cache_hits, 2);

	/* removing the cached VMA itself leaves a valid index and a correct find */
	insert_ram(60, 70, RO);
	cr_assert_eq(gmm_vma_remove(&t, P(40), P(50)), 0);
	cr_assert_lt(t.cache, t.nr);
	cr_assert_null(gmm_vma_find(&t, P(45)));
	cr_assert_eq(gmm_vma_find(&t, P(65))->start, P(60));
	cr_assert_eq(gmm_vma_remove(&t, P(60), P(70)), 0);
	cr_assert_eq(t.nr, 0);
	cr_assert_eq(t.cache, 0);
	cr_assert_null(gmm_vma_find(&t, P(65)));
}

/* ---- merging on insert ---- */

Test(vma, merge_left)
{
	insert_ram(10, 20, RW);
	insert_ram(20, 25, RW);
	EXPECT_LAYOUT(ram(10, 25, RW));
}

Test(vma, merge_right)
{
	insert_ram(10, 20, RW);
	insert_ram(5, 10, RW);
	EXPECT_LAYOUT(ram(5, 20, RW)); /* the hva moved down with the start */
}

Test(vma, merge_both_sides_into_one)
{
	insert_ram(0, 10, RW);
	insert_ram(20, 30, RW);
	insert_ram(40, 50, RO);
	insert_ram(10, 20, RW);
	EXPECT_LAYOUT(ram(0, 30, RW), ram(40, 50, RO));
	cr_assert_eq(gmm_vma_find(&t, P(29))->start, 0);
}

Test(vma, merge_compares_name_contents)
{
	static const char a[] = "ram", b[] = "ram"; /* distinct objects, same text */

	cr_assert_neq((const void *)a, (const void *)b);
	struct gmm_vma lo = vma(P(0), P(1), RW, GMM_VMA_RAM, a, HVA(0));
	struct gmm_vma hi = vma(P(1), P(2), RW, GMM_VMA_RAM, b, HVA(1));

	insert_ok(&lo);
	insert_ok(&hi);
	EXPECT_LAYOUT(vma(P(0), P(2), RW, GMM_VMA_RAM, "ram", HVA(0)));
	cr_assert_eq(t.v[0].name, a);
}

Test(vma, merge_with_null_names_and_zero_hva)
{
	struct gmm_vma lo = vma(P(0), P(4), GMM_VM_IO, GMM_VMA_MMIO, NULL, 0);
	struct gmm_vma hi = vma(P(4), P(8), GMM_VM_IO, GMM_VMA_MMIO, NULL, 0);

	insert_ok(&lo);
	insert_ok(&hi);
	EXPECT_LAYOUT(vma(P(0), P(8), GMM_VM_IO, GMM_VMA_MMIO, NULL, 0));
}

Test(vma, no_merge_when_anything_differs)
{
	struct gmm_vma base = ram(10, 20, RW);
	struct gmm_vma right[] = {
		vma(P(20), P(30), RO, GMM_VMA_RAM, "ram", HVA(20)),          /* flags */
		vma(P(20), P(30), RW, GMM_VMA_ROM, "ram", HVA(20)),          /* kind */
		vma(P(20), P(30), RW, GMM_VMA_RAM, "rom", HVA(20)),          /* name */
		vma(P(20), P(30), RW, GMM_VMA_RAM, NULL, HVA(20)),           /* name vs NULL */
		vma(P(20), P(30), RW, GMM_VMA_RAM, "ram", HVA(21)),          /* hva gap */
		vma(P(20), P(30), RW, GMM_VMA_RAM, "ram", HVA(19)),          /* hva overlap */
		vma(P(20), P(30), RW, GMM_VMA_RAM, "ram", 0),                /* hva none */
		vma(P(21), P(30), RW, GMM_VMA_RAM, "ram", HVA(21)),          /* not touching */
	};

	for (size_t i = 0; i < ARRAY_SIZE(right); i++) {
		gmm_vma_tree_destroy(&t);
		insert_ok(&base);
		insert_ok(&right[i]);
		expect_layout((struct gmm_vma[]){ base, right[i] }, 2);
		/* and from the other side */
		gmm_vma_tree_destroy(&t);
		insert_ok(&right[i]);
		insert_ok(&base);
		expect_layout((struct gmm_vma[]){ base, right[i] }, 2);
	}
	/* a zero hva does not continue a mapping whose arithmetic would reach it */
	gmm_vma_tree_destroy(&t);
	struct gmm_vma z = vma(0, P(1), RW, GMM_VMA_RAM, "ram", 0);
	struct gmm_vma nz = vma(P(1), P(2), RW, GMM_VMA_RAM, "ram", P(1));

	insert_ok(&z);
	insert_ok(&nz);
	expect_layout((struct gmm_vma[]){ z, nz }, 2);
}

Test(vma, merge_left_only_when_right_differs)
{
	insert_ram(0, 10, RW);
	insert_ram(20, 30, RO);
	insert_ram(10, 20, RW);
	EXPECT_LAYOUT(ram(0, 20, RW), ram(20, 30, RO));
	gmm_vma_tree_destroy(&t);
	insert_ram(0, 10, RO);
	insert_ram(20, 30, RW);
	insert_ram(10, 20, RW);
	EXPECT_LAYOUT(ram(0, 10, RO), ram(10, 30, RW));
}

/* ---- split ---- */

Test(vma, split_errors)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_split(&t, P(10)), -EINVAL); /* its start */
	cr_assert_eq(gmm_vma_split(&t, P(20)), -ENOENT); /* its end: no VMA there */
	cr_assert_eq(gmm_vma_split(&t, P(5)), -ENOENT);
	cr_assert_eq(gmm_vma_split(&t, P(25)), -ENOENT);
	cr_assert_eq(gmm_vma_split(&t, P(15) + 1), -EINVAL);
	EXPECT_LAYOUT(ram(10, 20, RW));
	gmm_vma_tree_destroy(&t);
	cr_assert_eq(gmm_vma_split(&t, 0), -ENOENT); /* empty tree */
}

Test(vma, split_adjusts_hva)
{
	struct gmm_vma v = vma(P(10), P(20), RX, GMM_VMA_ROM, "image", 0x500000000000ULL);
	struct gmm_vma *lo, *hi;

	insert_ok(&v);
	cr_assert_eq(gmm_vma_split(&t, P(13)), 0);
	EXPECT_LAYOUT(vma(P(10), P(13), RX, GMM_VMA_ROM, "image", 0x500000000000ULL),
		      vma(P(13), P(20), RX, GMM_VMA_ROM, "image", 0x500000000000ULL + P(3)));
	lo = gmm_vma_find(&t, P(13) - 1);
	hi = gmm_vma_find(&t, P(13));
	cr_assert_eq(lo, &t.v[0]);
	cr_assert_eq(hi, &t.v[1]);
	cr_assert_eq(gmm_vma_find(&t, P(20) - 1), hi);
	cr_assert_eq(gmm_vma_find(&t, P(10)), lo);

	/* split leaves the halves apart, though they are mergeable */
	cr_assert(mergeable(&t.v[0], &t.v[1]));
	cr_assert_eq(gmm_vma_split(&t, P(19)), 0);
	cr_assert_eq(t.nr, 3);
	cr_assert_eq(t.v[2].hva, 0x500000000000ULL + P(9));
	cr_assert_eq(gmm_vma_total(&t, 0), P(10));
}

Test(vma, split_keeps_zero_hva)
{
	struct gmm_vma v = vma(P(0), P(4), GMM_VM_IO, GMM_VMA_MMIO, "uart", 0);

	insert_ok(&v);
	cr_assert_eq(gmm_vma_split(&t, P(1)), 0);
	EXPECT_LAYOUT(vma(P(0), P(1), GMM_VM_IO, GMM_VMA_MMIO, "uart", 0),
		      vma(P(1), P(4), GMM_VM_IO, GMM_VMA_MMIO, "uart", 0));
}

Test(vma, insert_next_to_split_halves_merges)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_split(&t, P(15)), 0);
	insert_ram(20, 25, RW); /* merges with its neighbour only */
	EXPECT_LAYOUT(ram(10, 15, RW), ram(15, 25, RW));
}

/* ---- remove ---- */

Test(vma, remove_whole)
{
	insert_ram(10, 20, RW);
	insert_ram(30, 40, RO);
	cr_assert_eq(gmm_vma_remove(&t, P(10), P(20)), 0);
	EXPECT_LAYOUT(ram(30, 40, RO));
	cr_assert_null(gmm_vma_find(&t, P(15)));
}

Test(vma, remove_partial_left_and_right)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_remove(&t, P(5), P(12)), 0);  /* cuts the left end */
	EXPECT_LAYOUT(ram(12, 20, RW));
	cr_assert_eq(gmm_vma_remove(&t, P(18), P(30)), 0); /* cuts the right end */
	EXPECT_LAYOUT(ram(12, 18, RW));
	cr_assert_eq(gmm_vma_remove(&t, P(12), P(13)), 0);
	cr_assert_eq(gmm_vma_remove(&t, P(17), P(18)), 0);
	EXPECT_LAYOUT(ram(13, 17, RW));
}

Test(vma, remove_middle_makes_two)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_remove(&t, P(13), P(16)), 0);
	EXPECT_LAYOUT(ram(10, 13, RW), ram(16, 20, RW));
	cr_assert_null(gmm_vma_find(&t, P(13)));
	cr_assert_null(gmm_vma_find(&t, P(16) - 1));
	cr_assert_eq(gmm_vma_total(&t, 0), P(7));
	/* putting it back rejoins all three */
	insert_ram(13, 16, RW);
	EXPECT_LAYOUT(ram(10, 20, RW));
}

Test(vma, remove_spanning_vmas_and_gaps)
{
	insert_ram(0, 10, RW);
	insert_ram(12, 14, RO);
	insert_ram(14, 16, RX);
	insert_ram(20, 30, RW);
	insert_ram(40, 50, RO);
	cr_assert_eq(gmm_vma_remove(&t, P(5), P(25)), 0);
	EXPECT_LAYOUT(ram(0, 5, RW), ram(25, 30, RW), ram(40, 50, RO));
	cr_assert_eq(gmm_vma_remove(&t, P(0), P(100)), 0);
	cr_assert_eq(t.nr, 0);
	cr_assert_eq(gmm_vma_total(&t, 0), 0);
}

Test(vma, remove_where_nothing_is)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_remove(&t, P(0), P(10)), 0);
	cr_assert_eq(gmm_vma_remove(&t, P(20), P(30)), 0);
	EXPECT_LAYOUT(ram(10, 20, RW));
	gmm_vma_tree_destroy(&t);
	cr_assert_eq(gmm_vma_remove(&t, P(0), P(10)), 0); /* empty tree, no array yet */
	cr_assert_eq(t.nr, 0);
}

/* ---- protect ---- */

Test(vma, protect_middle_then_restore)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_protect(&t, P(12), P(15), RO), 0);
	EXPECT_LAYOUT(ram(10, 12, RW), ram(12, 15, RO), ram(15, 20, RW));
	cr_assert_eq(gmm_vma_find(&t, P(12))->flags, RO);
	cr_assert_eq(gmm_vma_find(&t, P(15) - 1)->flags, RO);
	cr_assert_eq(gmm_vma_find(&t, P(12) - 1)->flags, RW);
	cr_assert_eq(gmm_vma_find(&t, P(15))->flags, RW);
	cr_assert_eq(gmm_vma_protect(&t, P(12), P(15), RW), 0);
	EXPECT_LAYOUT(ram(10, 20, RW));
}

Test(vma, protect_whole_and_at_ends)
{
	insert_ram(10, 20, RW);
	cr_assert_eq(gmm_vma_protect(&t, P(10), P(20), RX), 0); /* no split needed */
	EXPECT_LAYOUT(ram(10, 20, RX));
	cr_assert_eq(gmm_vma_protect(&t, P(10), P(11), RW), 0); /* split at the end only */
	EXPECT_LAYOUT(ram(10, 11, RW), ram(11, 20, RX));
	cr_assert_eq(gmm_vma_protect(&t, P(19), P(20), RW), 0); /* split at the start only */
	EXPECT_LAYOUT(ram(10, 11, RW), ram(11, 19, RX), ram(19, 20, RW));
	cr_assert_eq(gmm_vma_protect(&t, P(11), P(19), RW), 0); /* merges across both ends */
	EXPECT_LAYOUT(ram(10, 20, RW));
}

Test(vma, protect_across_vmas)
{
	struct gmm_vma rom = vma(P(10), P(20), RX, GMM_VMA_ROM, "image", HVA(10));

	insert_ram(0, 10, RW);
	insert_ok(&rom);
	insert_ram(20, 30, RO);
	/* spans three VMAs; the ROM kind keeps it apart from its RAM neighbours */
	cr_assert_eq(gmm_vma_protect(&t, P(5), P(25), RO), 0);
	EXPECT_LAYOUT(ram(0, 5, RW), vma(P(5), P(10), RO, GMM_VMA_RAM, "ram", HVA(5)),
		      vma(P(10), P(20), RO, GMM_VMA_ROM, "image", HVA(10)), ram(20, 30, RO));
	cr_assert_eq(gmm_vma_total(&t, RO), P(30));
	cr_assert_eq(gmm_vma_total(&t, RW), P(5));
}

Test(vma, protect_merges_split_pieces_inside)
{
	insert_ram(0, 30, RW);
	cr_assert_eq(gmm_vma_split(&t, P(10)), 0);
	cr_assert_eq(gmm_vma_split(&t, P(20)), 0);
	cr_assert_eq(t.nr, 3);
	cr_assert_eq(gmm_vma_protect(&t, P(5), P(25), RO), 0);
	EXPECT_LAYOUT(ram(0, 5, RW), ram(5, 25, RO), ram(25, 30, RW));
}

Test(vma, protect_gap_refused)
{
	static const unsigned bad[][2] = {
		{ 15, 25 }, /* across the gap */
		{ 20, 22 }, /* inside it */
		{ 5, 12 },  /* starts before the first */
		{ 28, 35 }, /* ends after the last */
		{ 0, 40 },
	};

	insert_ram(10, 20, RW);
	insert_ram(22, 30, RO);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct snap s = snap_take();
		int ret = gmm_vma_protect(&t, P(bad[i][0]), P(bad[i][1]), RX);

		cr_assert_eq(ret, -ENOENT, "protect [%u, %u) = %d", bad[i][0], bad[i][1], ret);
		snap_check(&s);
	}
	gmm_vma_tree_destroy(&t);
	cr_assert_eq(gmm_vma_protect(&t, 0, P(1), RO), -ENOENT);
}

/* ---- totals ---- */

Test(vma, total_by_flags)
{
	struct gmm_vma sys = vma(P(0), P(4), RW | GMM_VM_LOCKED, GMM_VMA_SYS, "sys", HVA(0));
	struct gmm_vma io = vma(P(100), P(101), GMM_VM_IO, GMM_VMA_MMIO, "uart", 0);
	struct gmm_vma shm = vma(P(50), P(58), RW | GMM_VM_SHARED, GMM_VMA_RAM, "shm", HVA(50));

	insert_ok(&sys);
	insert_ok(&io);
	insert_ok(&shm);
	insert_ram(10, 40, RW);
	insert_ram(40, 42, RX);
	cr_assert_eq(gmm_vma_total(&t, 0), P(4 + 1 + 8 + 30 + 2));
	cr_assert_eq(gmm_vma_total(&t, GMM_VM_READ), P(4 + 8 + 30 + 2));
	cr_assert_eq(gmm_vma_total(&t, RW), P(4 + 8 + 30));
	cr_assert_eq(gmm_vma_total(&t, GMM_VM_LOCKED), P(4));
	cr_assert_eq(gmm_vma_total(&t, RW | GMM_VM_SHARED), P(8));
	cr_assert_eq(gmm_vma_total(&t, GMM_VM_EXEC), P(2));
	cr_assert_eq(gmm_vma_total(&t, GMM_VM_IO), P(1));
	cr_assert_eq(gmm_vma_total(&t, GMM_VM_IO | GMM_VM_READ), 0);
}

/* ---- growth ---- */

Test(vma, grows_past_initial_capacity)
{
	enum { N = 5000 };
	unsigned order[N];

	/* VMAs at even pages, inserted in a scrambled order (7 is coprime to N) */
	for (unsigned i = 0; i < N; i++)
		order[i] = (i * 7 + 3) % N;
	for (unsigned i = 0; i < N; i++)
		insert_ram(2 * order[i], 2 * order[i] + 1, RW);
	cr_assert_eq(t.nr, N);
	cr_assert_geq(t.cap, N);
	check_shape();
	for (unsigned i = 0; i < N; i++) {
		struct gmm_vma *f = gmm_vma_find(&t, P(2 * i));

		cr_assert_eq(f, &t.v[i]);
		cr_assert_eq(f->hva, HVA(2 * i));
		cr_assert_null(gmm_vma_find(&t, P(2 * i + 1)));
	}
	cr_assert_eq(gmm_vma_total(&t, RW), P(N));

	/* filling every gap merges the lot into one */
	for (unsigned i = 0; i < N; i++)
		insert_ram(2 * order[i] + 1, 2 * order[i] + 2, RW);
	EXPECT_LAYOUT(ram(0, 2 * N, RW));
}

/* ---- randomized, against a per-page model ---- */

#define MODEL_PAGES 512

struct page_model {
	bool present;
	uint32_t flags;
	enum gmm_vma_kind kind;
	const char *name;
	hva_t hva; /* of this page, 0 if none */
};

static struct page_model model[MODEL_PAGES];
static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure replays */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() >> 33) % n;
}

static const uint32_t flag_pool[] = { RW, RO, RX };

/* A random range [*s, *e) of 1..32 pages inside the model space. */
static void rnd_range(unsigned *s, unsigned *e)
{
	unsigned len = 1 + rnd_below(32); /* not inside MIN(), which evaluates twice */

	*s = rnd_below(MODEL_PAGES);
	*e = MIN(*s + len, MODEL_PAGES);
}

static bool model_any(unsigned s, unsigned e, bool present)
{
	for (unsigned p = s; p < e; p++)
		if (model[p].present == present)
			return true;
	return false;
}

/*
 * Half the time, cut [s, e) back to the run of pages starting at s that are
 * (present) or are not (!present): purely random ranges mostly collide, and
 * exact fits are where merging happens.
 */
static void rnd_fit(unsigned s, unsigned *e, bool present)
{
	if (rnd_below(2))
		return;
	for (unsigned p = s; p < *e; p++) {
		if (model[p].present != present) {
			*e = MAX(p, s + 1);
			return;
		}
	}
}

/* find() must agree with the model on every page, including the hva of the page. */
static void check_model(void)
{
	check_shape();
	for (unsigned p = 0; p < MODEL_PAGES; p++) {
		gpa_t a = P(p) + (p * 0x111 & (PG - 1));
		struct gmm_vma *f = gmm_vma_find(&t, a);
		struct page_model *m = &model[p];

		if (!m->present) {
			cr_assert_null(f, "page %u: found a VMA where there is none", p);
			continue;
		}
		cr_assert_not_null(f, "page %u: no VMA", p);
		cr_assert(f->start <= a && a < f->end, "page %u: found the wrong VMA", p);
		cr_assert_eq(f->flags, m->flags, "page %u: flags 0x%x, want 0x%x", p, f->flags,
			     m->flags);
		cr_assert_eq(f->kind, m->kind, "page %u: kind", p);
		cr_assert(name_eq(f->name, m->name), "page %u: name", p);
		cr_assert_eq(f->hva ? f->hva + (P(p) - f->start) : 0, m->hva, "page %u: hva", p);
	}
}

/*
 * No boundary at or between pages s and e may join two mergeable VMAs: that
 * is what insert and protect promise for [s, e). Boundaries elsewhere may
 * still be split points, which stay until something merges across them.
 */
static void check_merged_around(unsigned s, unsigned e)
{
	for (unsigned i = 1; i < t.nr; i++) {
		gpa_t b = t.v[i].start;

		if (b >= P(s) && b <= P(e))
			cr_assert(!mergeable(&t.v[i - 1], &t.v[i]),
				  "vma %u and %u left mergeable at page %llu after [%u, %u)", i - 1,
				  i, (unsigned long long)(b / PG), s, e);
	}
}

static void op_insert(void)
{
	static const char *const names[] = { "ram", "rom" };
	unsigned s, e, r = rnd_below(16);
	struct gmm_vma v;
	int ret;

	rnd_range(&s, &e);
	rnd_fit(s, &e, false);
	v = vma(P(s), P(e), flag_pool[rnd_below(3)], r < 2 ? GMM_VMA_ROM : GMM_VMA_RAM,
		names[r == 3], HVA(s));
	if (r == 4)
		v.hva = 0;
	else if (r == 5)
		v.hva += P(1000); /* a discontinuous backing */
	if (model_any(s, e, true)) {
		struct snap sn = snap_take();

		cr_assert_eq(gmm_vma_insert(&t, &v), -EEXIST, "insert [%u, %u)", s, e);
		snap_check(&sn);
		return;
	}
	ret = gmm_vma_insert(&t, &v);
	cr_assert_eq(ret, 0, "insert [%u, %u) = %d", s, e, ret);
	for (unsigned p = s; p < e; p++)
		model[p] = (struct page_model){ true, v.flags, v.kind, v.name,
						v.hva ? v.hva + P(p - s) : 0 };
	check_merged_around(s, e);
}

static void op_remove(void)
{
	unsigned s, e;

	rnd_range(&s, &e);
	cr_assert_eq(gmm_vma_remove(&t, P(s), P(e)), 0, "remove [%u, %u)", s, e);
	for (unsigned p = s; p < e; p++)
		model[p].present = false;
}

static void op_protect(void)
{
	unsigned s, e;
	uint32_t flags = flag_pool[rnd_below(3)];

	rnd_range(&s, &e);
	rnd_fit(s, &e, true);
	if (model_any(s, e, false)) {
		struct snap sn = snap_take();

		cr_assert_eq(gmm_vma_protect(&t, P(s), P(e), flags), -ENOENT, "protect [%u, %u)",
			     s, e);
		snap_check(&sn);
		return;
	}
	cr_assert_eq(gmm_vma_protect(&t, P(s), P(e), flags), 0, "protect [%u, %u)", s, e);
	for (unsigned p = s; p < e; p++)
		model[p].flags = flags;
	check_merged_around(s, e);
}

static void op_split(void)
{
	unsigned p = rnd_below(MODEL_PAGES);
	struct gmm_vma *f = gmm_vma_find(&t, P(p));
	struct snap sn;
	unsigned nr = t.nr;

	if (!model[p].present || f->start == P(p)) {
		sn = snap_take();
		cr_assert_eq(gmm_vma_split(&t, P(p)), model[p].present ? -EINVAL : -ENOENT,
			     "split at %u", p);
		snap_check(&sn);
		return;
	}
	cr_assert_eq(gmm_vma_split(&t, P(p)), 0, "split at %u", p);
	cr_assert_eq(t.nr, nr + 1);
	cr_assert_eq(gmm_vma_find(&t, P(p))->start, P(p));
	cr_assert_eq(gmm_vma_find(&t, P(p) - 1)->end, P(p));
}

static void random_run(uint64_t seed, unsigned ops, bool with_split)
{
	unsigned nr_ops = with_split ? 4 : 3;

	gmm_vma_tree_destroy(&t); /* a run starts empty, like its model */
	memset(model, 0, sizeof(model));
	rng = seed;
	for (unsigned i = 0; i < ops; i++) {
		/* inserts weigh double, so that the space fills up */
		switch (rnd_below(nr_ops + 1)) {
		case 0:
		case 1:
			op_insert();
			break;
		case 2:
			op_remove();
			break;
		case 3:
			op_protect();
			break;
		default:
			op_split();
			break;
		}
		check_model();
		/* without split, insert/remove/protect keep everything merged */
		if (!with_split)
			check_no_mergeable();
	}
}

Test(vma, random_against_model)
{
	random_run(0x9e3779b97f4a7c15ULL, 4000, true);
	random_run(42, 4000, true);
}

Test(vma, random_stays_fully_merged_without_split)
{
	random_run(0x0123456789abcdefULL, 4000, false);
	random_run(7, 4000, false);
}
