// SPDX-License-Identifier: MIT
/*
 * The EPT table: a 4-level radix table of 512 u64 entries per 4 KiB page,
 * indexed by GPA bits 47..39 (level 4, the root), 38..30, 29..21 and 20..12
 * (level 1, the leaf). Only leaf entries use the EPT format of ept.h. An
 * upper entry is internal: either 0 or the child table's host pointer ORed
 * with EPT_TABLE; table pages are page aligned, so the low 12 bits are free
 * for the marker. Tables are created on the way down by ept_lookup_alloc and
 * freed only by ept_prune and ept_table_destroy, so a table emptied by
 * ept_clear stays until the caller prunes (the reclaim path batches that).
 */
#include "ept.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Marks an upper entry as pointing to a table. It is EPT_RWX so that an
 * upper entry reads like a hardware non-leaf EPT entry that allows
 * everything (the leaf decides), and ept_present() holds for it.
 */
#define EPT_TABLE     EPT_RWX
#define EPT_GPA_LIMIT (1ULL << EPT_GPA_BITS)

static unsigned ept_index(gpa_t gpa, int level)
{
	return (gpa >> (PAGE_SHIFT + 9 * (level - 1))) & (EPT_ENTRIES - 1);
}

/* Bytes of GPA space one entry of a level-`level` table covers. */
static uint64_t ept_entry_span(int level)
{
	return 1ULL << (PAGE_SHIFT + 9 * (level - 1));
}

/* The table an upper entry points to, or NULL. */
static uint64_t *ept_child(uint64_t e)
{
	if (!(e & EPT_TABLE))
		return NULL;
	/* PAGE_MASK rather than EPT_ADDR_MASK: a host pointer may use bit 52+ */
	return (uint64_t *)(uintptr_t)(e & PAGE_MASK);
}

static uint64_t *ept_alloc_table(struct ept_table *t)
{
	uint64_t *table = aligned_alloc(PAGE_SIZE, PAGE_SIZE);

	if (!table)
		return NULL;
	memset(table, 0, PAGE_SIZE);
	t->nr_tables++;
	return table;
}

static void ept_free_table(struct ept_table *t, uint64_t *table)
{
	free(table);
	t->nr_tables--;
}

static bool ept_table_empty(const uint64_t *table)
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++)
		if (table[i])
			return false;
	return true;
}

int ept_table_init(struct ept_table *t)
{
	t->nr_tables = 0;
	t->root = ept_alloc_table(t);
	return t->root ? 0 : -ENOMEM;
}

static void ept_free_tree(struct ept_table *t, uint64_t *table, int level)
{
	for (unsigned i = 0; level > 1 && i < EPT_ENTRIES; i++) {
		uint64_t *child = ept_child(table[i]);

		if (child)
			ept_free_tree(t, child, level - 1);
	}
	ept_free_table(t, table);
}

void ept_table_destroy(struct ept_table *t)
{
	if (t->root)
		ept_free_tree(t, t->root, EPT_LEVELS);
	t->root = NULL;
	t->nr_tables = 0;
}

/*
 * The leaf entry for gpa. Missing tables are created when `alloc` is given
 * (it is the table being walked, non-const), else the walk gives up. The
 * offset within the page is ignored. On -ENOMEM the tables created so far
 * stay, empty and accounted; ept_prune reclaims them.
 */
static uint64_t *ept_leaf(uint64_t *root, gpa_t gpa, struct ept_table *alloc)
{
	uint64_t *table = root;

	if (!table || gpa >= EPT_GPA_LIMIT)
		return NULL;
	for (int level = EPT_LEVELS; level > 1; level--) {
		uint64_t *e = &table[ept_index(gpa, level)];
		uint64_t *child = ept_child(*e);

		if (!child) {
			if (!alloc || !(child = ept_alloc_table(alloc)))
				return NULL;
			*e = (uint64_t)(uintptr_t)child | EPT_TABLE;
		}
		table = child;
	}
	return &table[ept_index(gpa, 1)];
}

uint64_t *ept_lookup(const struct ept_table *t, gpa_t gpa)
{
	return ept_leaf(t->root, gpa, NULL);
}

uint64_t *ept_lookup_alloc(struct ept_table *t, gpa_t gpa)
{
	return ept_leaf(t->root, gpa, t);
}

int ept_map(struct ept_table *t, gpa_t gpa, pfn_t pfn, uint64_t prot)
{
	uint64_t *e;

	if ((gpa & ~PAGE_MASK) || gpa >= EPT_GPA_LIMIT || !t->root)
		return -EINVAL;
	/* an entry without R/W/X would not be present, and a frame beyond the
	 * address field would silently map a different one */
	if (!(prot & EPT_RWX) || pfn > ept_pfn(EPT_ADDR_MASK))
		return -EINVAL;
	e = ept_lookup_alloc(t, gpa);
	if (!e)
		return -ENOMEM;
	if (ept_present(*e))
		return -EEXIST;
	*e = ept_mk_pte(pfn, prot);
	return 0;
}

uint64_t ept_clear(struct ept_table *t, gpa_t gpa)
{
	uint64_t *e = ept_lookup(t, gpa);
	uint64_t old;

	if (!e)
		return 0;
	old = *e;
	*e = 0;
	return old;
}

/*
 * Prune below a level-`level` table (level >= 2) whose span starts at base:
 * each child overlapping [start, end) is pruned first, then freed if that
 * left it all zero. A child reaching outside the range is freed only when
 * all zero, so entries outside the range are never lost.
 */
static size_t ept_prune_table(struct ept_table *t, uint64_t *table, int level,
			      gpa_t base, gpa_t start, gpa_t end)
{
	uint64_t span = ept_entry_span(level);
	size_t freed = 0;

	for (unsigned i = ept_index(MAX(start, base), level); i < EPT_ENTRIES; i++) {
		gpa_t addr = base + i * span;
		uint64_t *child = ept_child(table[i]);

		if (addr >= end)
			break;
		if (!child)
			continue;
		if (level > 2)
			freed += ept_prune_table(t, child, level - 1, addr, start, end);
		if (ept_table_empty(child)) {
			table[i] = 0;
			ept_free_table(t, child);
			freed++;
		}
	}
	return freed;
}

size_t ept_prune(struct ept_table *t, gpa_t start, gpa_t end)
{
	end = MIN(end, EPT_GPA_LIMIT);
	if (!t->root || start >= end)
		return 0;
	/* the root is never freed: it lives as long as the table */
	return ept_prune_table(t, t->root, EPT_LEVELS, 0, start, end);
}

struct ept_walk {
	const struct ept_walk_ops *ops;
	void *priv;
	gpa_t start, end;
};

static int ept_walk_ptes(const struct ept_walk *w, uint64_t *table, gpa_t base)
{
	if (!w->ops->pte_cb)
		return 0;
	for (unsigned i = ept_index(MAX(w->start, base), 1); i < EPT_ENTRIES; i++) {
		gpa_t addr = base + i * PAGE_SIZE;
		int ret;

		if (addr >= w->end)
			break;
		ret = w->ops->pte_cb(&table[i], addr, w->priv);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Walk the part of [w->start, w->end) inside a level-`level` table whose
 * span starts at base. Holes are reported per missing entry, so the level
 * says how large the missing piece is (one entry of that level, clipped).
 */
static int ept_walk_table(const struct ept_walk *w, uint64_t *table, int level, gpa_t base)
{
	const struct ept_walk_ops *ops = w->ops;
	uint64_t span = ept_entry_span(level);

	if (level == 1)
		return ept_walk_ptes(w, table, base);
	for (unsigned i = ept_index(MAX(w->start, base), level); i < EPT_ENTRIES; i++) {
		gpa_t addr = base + i * span;
		gpa_t lo = MAX(addr, w->start), hi = MIN(addr + span, w->end);
		uint64_t *child = ept_child(table[i]);
		int ret = 0;

		if (addr >= w->end)
			break;
		if (!child) {
			if (ops->hole_cb)
				ret = ops->hole_cb(lo, hi, level, w->priv);
		} else {
			if (ops->entry_cb)
				ret = ops->entry_cb(&table[i], level, lo, hi, w->priv);
			if (!ret)
				ret = ept_walk_table(w, child, level - 1, addr);
		}
		if (ret)
			return ret;
	}
	return 0;
}

int ept_walk_range(const struct ept_table *t, gpa_t start, gpa_t end,
		   const struct ept_walk_ops *ops, void *priv)
{
	static const struct ept_walk_ops no_ops;
	struct ept_walk w = { .ops = ops ? ops : &no_ops, .priv = priv,
			      .start = start, .end = end };

	if (((start | end) & ~PAGE_MASK) || start > end || end > EPT_GPA_LIMIT || !t->root)
		return -EINVAL;
	if (start == end)
		return 0;
	return ept_walk_table(&w, t->root, EPT_LEVELS, 0);
}
