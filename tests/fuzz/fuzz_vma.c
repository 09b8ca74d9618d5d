// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the VMA set (guestmm/vma.c), as a sequence of insert, find,
 * split, remove, protect and total, checked against a model that keeps the
 * attributes of each page of a 64-page space.
 *
 * After every operation the sorted array must be well formed (ranges aligned,
 * non-empty, in order, not overlapping) and must say for every page what the
 * model says: mapped or not, flags, kind, name and host address. The error
 * codes are the header's: -EINVAL for a misaligned or empty range (or a split
 * at a VMA's start), -EEXIST for an insert over a mapped page, -ENOENT for a
 * protect over a hole or a split outside every VMA. Insert and protect merge
 * eagerly: after them no two neighbours touching the range may still be
 * mergeable. Names are compared by content (a heap copy of "ram" merges with
 * the literal), and host address 0 means no backing.
 */
#include "fuzz.h"

#include "guestmm/vma.h"

#include <errno.h>

#define NR_PAGES 64
#define HVA_BASE 0x10000000ULL

struct page {
	bool mapped;
	uint32_t flags;
	enum gmm_vma_kind kind;
	int name;      /* index in names[] */
	hva_t hva;     /* of this page, 0 if none */
};

static struct page model[NR_PAGES];
static struct gmm_vma_tree t;
static char ram_copy[] = "ram"; /* the same name at another address */
static const char *const names[] = { NULL, "ram", "rom", ram_copy };

static int name_id(const char *name)
{
	if (!name)
		return 0;
	return !strcmp(name, "rom") ? 2 : 1; /* ram_copy and "ram" are one name */
}

/* A page-aligned address in [0, NR_PAGES] pages, now and then misaligned. */
static gpa_t fuzz_addr(struct fz *f)
{
	gpa_t a = fz_below(f, NR_PAGES + 1) * PAGE_SIZE;

	return fz_below(f, 16) == 0 ? a + 1 + fz_below(f, PAGE_SIZE - 1) : a;
}

static bool range_ok(gpa_t start, gpa_t end)
{
	return !(start % PAGE_SIZE) && !(end % PAGE_SIZE) && start < end;
}

static bool any_mapped(gpa_t start, gpa_t end, bool want)
{
	for (gpa_t a = start; a < end; a += PAGE_SIZE)
		if (model[a / PAGE_SIZE].mapped == want)
			return true;
	return false;
}

static const struct gmm_vma *vma_at(gpa_t a)
{
	for (unsigned i = 0; i < t.nr; i++)
		if (t.v[i].start <= a && a < t.v[i].end)
			return &t.v[i];
	return NULL;
}

static bool mergeable(const struct gmm_vma *lo, const struct gmm_vma *hi)
{
	bool hva_ok = lo->hva && hi->hva ? lo->hva + (lo->end - lo->start) == hi->hva
					 : !lo->hva && !hi->hva;

	return lo->end == hi->start && lo->flags == hi->flags && lo->kind == hi->kind &&
	       name_id(lo->name) == name_id(hi->name) && hva_ok;
}

/* After insert or protect: no mergeable neighbours meet inside [start, end]. */
static void check_merged(gpa_t start, gpa_t end)
{
	for (unsigned i = 0; i + 1 < t.nr; i++)
		FZ_CHECK(t.v[i].end < start || t.v[i].end > end || !mergeable(&t.v[i], &t.v[i + 1]),
			 "mergeable VMAs left at 0x%llx", FZ_ULL(t.v[i].end));
}

static void op_insert(struct fz *f)
{
	gpa_t start = fuzz_addr(f), end = fuzz_addr(f);
	struct gmm_vma v = {
		.start = start, .end = end, .flags = (uint32_t)fz_below(f, 4),
		.kind = (enum gmm_vma_kind)fz_below(f, 4), .name = names[fz_below(f, ARRAY_SIZE(names))],
		.hva = fz_bool(f) ? 0 : HVA_BASE + fz_below(f, 2 * NR_PAGES) * PAGE_SIZE,
	};
	int want = !range_ok(start, end) ? -EINVAL : any_mapped(start, end, true) ? -EEXIST : 0;
	int ret = gmm_vma_insert(&t, &v);

	FZ_CHECK(ret == want, "insert [0x%llx, 0x%llx): %d, the model says %d", FZ_ULL(start),
		 FZ_ULL(end), ret, want);
	if (ret)
		return;
	for (gpa_t a = start; a < end; a += PAGE_SIZE)
		model[a / PAGE_SIZE] = (struct page){
			.mapped = true, .flags = v.flags, .kind = v.kind, .name = name_id(v.name),
			.hva = v.hva ? v.hva + (a - start) : 0,
		};
	check_merged(start, end);
}

static void op_split(struct fz *f)
{
	gpa_t a = fuzz_addr(f);
	const struct gmm_vma *v = vma_at(a);
	int want = a % PAGE_SIZE ? -EINVAL : !v ? -ENOENT : v->start == a ? -EINVAL : 0;
	int ret = gmm_vma_split(&t, a);

	FZ_CHECK(ret == want, "split at 0x%llx: %d, want %d", FZ_ULL(a), ret, want);
	if (!ret)
		FZ_CHECK(vma_at(a) && vma_at(a)->start == a, "no VMA starts at 0x%llx after a split",
			 FZ_ULL(a));
}

static void op_remove(struct fz *f)
{
	gpa_t start = fuzz_addr(f), end = fuzz_addr(f);
	int want = range_ok(start, end) ? 0 : -EINVAL;
	int ret = gmm_vma_remove(&t, start, end);

	FZ_CHECK(ret == want, "remove [0x%llx, 0x%llx): %d, want %d", FZ_ULL(start), FZ_ULL(end),
		 ret, want);
	for (gpa_t a = start; !ret && a < end; a += PAGE_SIZE)
		model[a / PAGE_SIZE].mapped = false;
}

static void op_protect(struct fz *f)
{
	gpa_t start = fuzz_addr(f), end = fuzz_addr(f);
	uint32_t flags = (uint32_t)fz_below(f, 4);
	int want = !range_ok(start, end) ? -EINVAL : any_mapped(start, end, false) ? -ENOENT : 0;
	int ret = gmm_vma_protect(&t, start, end, flags);

	FZ_CHECK(ret == want, "protect [0x%llx, 0x%llx): %d, the model says %d", FZ_ULL(start),
		 FZ_ULL(end), ret, want);
	if (ret)
		return;
	for (gpa_t a = start; a < end; a += PAGE_SIZE)
		model[a / PAGE_SIZE].flags = flags;
	check_merged(start, end);
}

static void op_query(struct fz *f)
{
	gpa_t a = fz_below(f, (NR_PAGES + 1) * PAGE_SIZE);
	uint32_t flags = (uint32_t)fz_below(f, 4);
	struct gmm_vma *v = gmm_vma_find(&t, a);
	uint64_t total = 0;

	FZ_CHECK(v == vma_at(a), "find 0x%llx: %p, the array has %p", FZ_ULL(a), (void *)v,
		 (const void *)vma_at(a));
	for (unsigned p = 0; p < NR_PAGES; p++)
		total += model[p].mapped && (model[p].flags & flags) == flags ? PAGE_SIZE : 0;
	FZ_CHECK(gmm_vma_total(&t, flags) == total, "total of flags 0x%x: %llu, the model has %llu",
		 flags, FZ_ULL(gmm_vma_total(&t, flags)), FZ_ULL(total));
}

/* The array is well formed and says for each page what the model says. */
static void compare(unsigned step)
{
	FZ_CHECK(t.nr <= t.cap && (t.nr == 0 || t.cache < t.nr), "step %u: nr %u cap %u cache %u",
		 step, t.nr, t.cap, t.cache);
	for (unsigned i = 0; i < t.nr; i++) {
		const struct gmm_vma *v = &t.v[i];

		FZ_CHECK(range_ok(v->start, v->end) && v->end <= NR_PAGES * PAGE_SIZE,
			 "step %u: VMA %u is [0x%llx, 0x%llx)", step, i, FZ_ULL(v->start), FZ_ULL(v->end));
		FZ_CHECK(i == 0 || t.v[i - 1].end <= v->start, "step %u: VMAs %u and %u out of order",
			 step, i - 1, i);
	}
	for (unsigned p = 0; p < NR_PAGES; p++) {
		const struct gmm_vma *v = vma_at(p * PAGE_SIZE);
		const struct page *m = &model[p];

		FZ_CHECK(!!v == m->mapped, "step %u: page %u %s, the model says %s", step, p,
			 v ? "mapped" : "not mapped", m->mapped ? "mapped" : "not");
		if (!v)
			continue;
		hva_t hva = v->hva ? v->hva + (p * PAGE_SIZE - v->start) : 0;

		FZ_CHECK(v->flags == m->flags && v->kind == m->kind && name_id(v->name) == m->name &&
			 hva == m->hva, "step %u: page %u has flags %u kind %d name %d hva 0x%llx, "
			 "the model %u %d %d 0x%llx", step, p, v->flags, v->kind, name_id(v->name),
			 FZ_ULL(hva), m->flags, m->kind, m->name, FZ_ULL(m->hva));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const ops[])(struct fz *) = { op_insert, op_insert, op_split, op_remove,
						    op_protect, op_query };
	struct fz f = { data, size };
	unsigned step = 0;

	memset(model, 0, sizeof(model));
	gmm_vma_tree_init(&t);
	while (fz_more(&f)) {
		ops[fz_below(&f, ARRAY_SIZE(ops))](&f);
		compare(step++);
	}
	gmm_vma_tree_destroy(&t);
	return 0;
}
