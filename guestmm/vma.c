// SPDX-License-Identifier: MIT
/*
 * VMAs over guest-physical space.
 *
 * The set is one array sorted by start. Ranges never overlap, so the ends
 * are sorted as well, and a single binary search -- "the first VMA ending
 * above addr" -- yields the VMA containing an address, the insert position
 * and the first VMA a range touches. Inserting and deleting memmove the
 * tail: a guest has tens of VMAs, and a flat array beats a tree there.
 *
 * Insert and protect merge eagerly, so the array stays as short as flags
 * and backing allow; split alone leaves mergeable neighbours, because its
 * caller asked for that boundary. Multi-step changes (remove, protect)
 * reserve their memory first, so an -ENOMEM leaves the tree untouched.
 *
 * t->cache indexes the VMA the last gmm_vma_find() returned. Whatever
 * shifts the array shifts the index along, or resets it when its VMA goes,
 * so it is always a valid index (or 0 on an empty tree). Internal searches
 * do not count in lookups/cache_hits: those measure the callers' pattern.
 */
#include "vma.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define VMA_INIT_CAP 16

static bool vma_range_ok(gpa_t start, gpa_t end)
{
	return !((start | end) & (PAGE_SIZE - 1)) && start < end;
}

static bool vma_contains(const struct gmm_vma *v, gpa_t addr)
{
	return v->start <= addr && addr < v->end;
}

/*
 * Names are compared by content: equal literals in two translation units
 * need not share an address, and a merge must not depend on the linker.
 * NULL matches only NULL.
 */
static bool vma_same_name(const char *a, const char *b)
{
	if (a == b)
		return true;
	return a && b && !strcmp(a, b);
}

/* hva 0 means "no backing": it continues only another 0, never an address. */
static bool vma_hva_continues(const struct gmm_vma *lo, const struct gmm_vma *hi)
{
	if (!lo->hva || !hi->hva)
		return !lo->hva && !hi->hva;
	return lo->hva + (lo->end - lo->start) == hi->hva;
}

/* May lo and hi become one VMA? lo must end exactly where hi starts. */
static bool vma_mergeable(const struct gmm_vma *lo, const struct gmm_vma *hi)
{
	return lo->end == hi->start && lo->flags == hi->flags &&
	       lo->kind == hi->kind && vma_same_name(lo->name, hi->name) &&
	       vma_hva_continues(lo, hi);
}

/* Index of the first VMA ending above addr, t->nr if none. */
static unsigned vma_search(const struct gmm_vma_tree *t, gpa_t addr)
{
	unsigned lo = 0, hi = t->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (t->v[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Room for `more` further VMAs, grown geometrically so inserts stay amortised O(1) in realloc. */
static int vma_reserve(struct gmm_vma_tree *t, unsigned more)
{
	unsigned cap = t->cap ? t->cap : VMA_INIT_CAP;
	struct gmm_vma *v;

	if (more > UINT_MAX - t->nr)
		return -ENOMEM;
	if (t->nr + more <= t->cap)
		return 0;
	while (cap < t->nr + more) {
		if (cap > UINT_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	v = reallocarray(t->v, cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	t->cap = cap;
	return 0;
}

/* Open n slots at index i; the caller reserved them and fills them in. */
static void vma_open(struct gmm_vma_tree *t, unsigned i, unsigned n)
{
	memmove(&t->v[i + n], &t->v[i], (t->nr - i) * sizeof(*t->v));
	/* on an empty tree the cache stays 0, which is now a real slot */
	if (t->nr && t->cache >= i)
		t->cache += n;
	t->nr += n;
}

/* Delete the n VMAs at index i. */
static void vma_close(struct gmm_vma_tree *t, unsigned i, unsigned n)
{
	if (!n)
		return; /* t->v may still be NULL */
	memmove(&t->v[i], &t->v[i + n], (t->nr - i - n) * sizeof(*t->v));
	t->nr -= n;
	if (t->cache >= i + n)
		t->cache -= n;
	else if (t->cache >= i)
		t->cache = i < t->nr ? i : 0; /* its VMA is gone: any valid index will do */
}

/* Split t->v[i] at addr, strictly inside it, into slots i and i + 1. */
static void vma_split_at(struct gmm_vma_tree *t, unsigned i, gpa_t addr)
{
	struct gmm_vma *lo, *hi;

	vma_open(t, i + 1, 1);
	lo = &t->v[i];
	hi = &t->v[i + 1];
	*hi = *lo;
	hi->start = addr;
	if (hi->hva)
		hi->hva += addr - lo->start;
	lo->end = addr;
}

/* Merge whatever is mergeable among t->v[lo..hi] (inclusive), in one pass. */
static void vma_merge_range(struct gmm_vma_tree *t, unsigned lo, unsigned hi)
{
	unsigned w = lo;

	for (unsigned r = lo + 1; r <= hi; r++) {
		if (vma_mergeable(&t->v[w], &t->v[r]))
			t->v[w].end = t->v[r].end;
		else
			t->v[++w] = t->v[r];
	}
	vma_close(t, w + 1, hi - w);
}

/*
 * Split the VMAs straddling start or end, so that [start, end) begins and
 * ends on VMA boundaries; [*first, *last) are then the VMAs inside it. Both
 * splits are reserved up front: a failure changes nothing.
 */
static int vma_isolate(struct gmm_vma_tree *t, gpa_t start, gpa_t end,
		       unsigned *first, unsigned *last)
{
	unsigned i = vma_search(t, start), j = vma_search(t, end);
	bool split_lo = i < t->nr && t->v[i].start < start;
	bool split_hi = j < t->nr && t->v[j].start < end;
	int ret = vma_reserve(t, split_lo + split_hi);

	if (ret)
		return ret;
	if (split_lo) {
		vma_split_at(t, i, start);
		i++;
		j++; /* it may be the same VMA, now the upper half */
	}
	if (split_hi) {
		vma_split_at(t, j, end);
		j++;
	}
	*first = i;
	*last = j;
	return 0;
}

/* Is every byte of [start, end) inside some VMA? */
static bool vma_covered(const struct gmm_vma_tree *t, gpa_t start, gpa_t end)
{
	gpa_t at = start;

	for (unsigned i = vma_search(t, start); i < t->nr && at < end; i++) {
		if (t->v[i].start > at)
			return false;
		at = t->v[i].end;
	}
	return at >= end;
}

void gmm_vma_tree_init(struct gmm_vma_tree *t)
{
	memset(t, 0, sizeof(*t));
}

void gmm_vma_tree_destroy(struct gmm_vma_tree *t)
{
	free(t->v);
	gmm_vma_tree_init(t); /* reusable, and a second destroy is harmless */
}

int gmm_vma_insert(struct gmm_vma_tree *t, const struct gmm_vma *vma)
{
	unsigned i;
	bool left, right;
	int ret;

	if (!vma_range_ok(vma->start, vma->end))
		return -EINVAL;
	/* everything before i ends at or below start; v[i] decides overlap */
	i = vma_search(t, vma->start);
	if (i < t->nr && t->v[i].start < vma->end)
		return -EEXIST;
	left = i > 0 && vma_mergeable(&t->v[i - 1], vma);
	right = i < t->nr && vma_mergeable(vma, &t->v[i]);
	if (left && right) {
		t->v[i - 1].end = t->v[i].end;
		vma_close(t, i, 1);
	} else if (left) {
		t->v[i - 1].end = vma->end;
	} else if (right) {
		t->v[i].start = vma->start;
		t->v[i].hva = vma->hva;
	} else {
		ret = vma_reserve(t, 1);
		if (ret)
			return ret;
		vma_open(t, i, 1);
		t->v[i] = *vma;
	}
	return 0;
}

struct gmm_vma *gmm_vma_find(struct gmm_vma_tree *t, gpa_t gpa)
{
	unsigned i;

	t->lookups++;
	if (t->cache < t->nr && vma_contains(&t->v[t->cache], gpa)) {
		t->cache_hits++;
		return &t->v[t->cache];
	}
	i = vma_search(t, gpa);
	if (i == t->nr || t->v[i].start > gpa)
		return NULL;
	t->cache = i;
	return &t->v[i];
}

/* Alignment is checked first: a misaligned addr is -EINVAL even in a gap. */
int gmm_vma_split(struct gmm_vma_tree *t, gpa_t addr)
{
	unsigned i;
	int ret;

	if (addr & (PAGE_SIZE - 1))
		return -EINVAL;
	i = vma_search(t, addr);
	if (i == t->nr || t->v[i].start > addr)
		return -ENOENT;
	if (t->v[i].start == addr)
		return -EINVAL;
	ret = vma_reserve(t, 1);
	if (ret)
		return ret;
	vma_split_at(t, i, addr);
	return 0;
}

int gmm_vma_remove(struct gmm_vma_tree *t, gpa_t start, gpa_t end)
{
	unsigned i, j;
	int ret;

	if (!vma_range_ok(start, end))
		return -EINVAL;
	ret = vma_isolate(t, start, end, &i, &j);
	if (ret)
		return ret;
	vma_close(t, i, j - i);
	return 0;
}

/*
 * Besides the documented errors, -ENOMEM when a split at either end cannot
 * grow the array. The merge pass runs from the VMA left of the range to the
 * one right of it, so pieces inside the range that now agree merge as well.
 */
int gmm_vma_protect(struct gmm_vma_tree *t, gpa_t start, gpa_t end, uint32_t flags)
{
	unsigned i, j;
	int ret;

	if (!vma_range_ok(start, end))
		return -EINVAL;
	if (!vma_covered(t, start, end))
		return -ENOENT;
	ret = vma_isolate(t, start, end, &i, &j);
	if (ret)
		return ret;
	for (unsigned k = i; k < j; k++)
		t->v[k].flags = flags;
	vma_merge_range(t, i ? i - 1 : 0, j < t->nr ? j : j - 1);
	return 0;
}

uint64_t gmm_vma_total(const struct gmm_vma_tree *t, uint32_t flags)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < t->nr; i++)
		if ((t->v[i].flags & flags) == flags)
			sum += t->v[i].end - t->v[i].start;
	return sum;
}
