// SPDX-License-Identifier: MIT
/*
 * Builder and walker of the guest's own page tables (GVA -> GPA): the first
 * level of the two-level hierarchy, below which ept.c maps GPA -> frame.
 *
 * The builder hands out zeroed table pages from a bump area and fills 4 KiB
 * leaf entries; it caches the last leaf table so that mapping a long range
 * walks the upper levels once per 2 MiB rather than once per page. The
 * walker reads whatever table it is given through a GPA -> host callback, so
 * it serves both the VMM (checking hypercall pointers) and debugging commands.
 */
#include "gpt.h"

#include <errno.h>
#include <string.h>

static unsigned gpt_index(gva_t gva, int level) /* level 4 = PML4 ... 1 = PT */
{
	return (gva >> (PAGE_SHIFT + 9 * (level - 1))) & 511;
}

static bool gpt_canonical(gva_t gva)
{
	int64_t s = (int64_t)(gva << 16) >> 16;
	return (uint64_t)s == gva;
}

size_t gpt_tables_for(uint64_t len)
{
	uint64_t pages = (len + PAGE_SIZE - 1) >> PAGE_SHIFT;
	/* one PT per 512 pages, one PD per 512 PTs...; +2 per level for a range
	 * that straddles table boundaries at both ends */
	size_t pt = (pages + 511) / 512 + 2;
	size_t pd = (pt + 511) / 512 + 2;
	size_t pdpt = (pd + 511) / 512 + 2;
	return pt + pd + pdpt;
}

static uint64_t *gpt_host(struct gpt *pt, gpa_t gpa)
{
	return (uint64_t *)(pt->base + (gpa - pt->base_gpa));
}

static int gpt_alloc_table(struct gpt *pt, gpa_t *gpa)
{
	if (pt->size - pt->used < PAGE_SIZE)
		return -ENOMEM;
	*gpa = pt->base_gpa + pt->used;
	memset(pt->base + pt->used, 0, PAGE_SIZE);
	pt->used += PAGE_SIZE;
	return 0;
}

int gpt_init(struct gpt *pt, void *base, gpa_t base_gpa, size_t size)
{
	if (((uintptr_t)base | base_gpa | size) & (PAGE_SIZE - 1))
		return -EINVAL;
	memset(pt, 0, sizeof(*pt));
	pt->base = base;
	pt->base_gpa = base_gpa;
	pt->size = size;
	pt->cache_gva = ~0ULL;
	return gpt_alloc_table(pt, &pt->root);
}

/* The leaf table covering gva, created on the way down when missing. */
static int gpt_leaf_table(struct gpt *pt, gva_t gva, uint64_t **out)
{
	gva_t key = gva >> 21;
	gpa_t table = pt->root;

	if (pt->cache_pt && pt->cache_gva == key) {
		*out = pt->cache_pt;
		return 0;
	}
	for (int level = GPT_LEVELS; level > 1; level--) {
		uint64_t *e = gpt_host(pt, table) + gpt_index(gva, level);

		if (!(*e & GPT_P)) {
			gpa_t next;
			int ret = gpt_alloc_table(pt, &next);

			if (ret)
				return ret;
			/* upper levels allow everything; the leaf decides */
			*e = next | GPT_P | GPT_W | GPT_U | GPT_A;
		} else if (*e & GPT_PS) {
			return -EEXIST;
		}
		table = *e & GPT_ADDR;
	}
	pt->cache_gva = key;
	pt->cache_pt = gpt_host(pt, table);
	*out = pt->cache_pt;
	return 0;
}

int gpt_map(struct gpt *pt, gva_t gva, gpa_t gpa, uint64_t len, uint64_t flags)
{
	if ((gva | gpa | len) & (PAGE_SIZE - 1))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (len - 1 > UINT64_MAX - gva || !gpt_canonical(gva) || !gpt_canonical(gva + len - 1))
		return -EINVAL;
	if ((gva >> 47) != ((gva + len - 1) >> 47))
		return -EINVAL; /* would cross the canonical hole */

	flags = (flags & (GPT_W | GPT_A | GPT_D | GPT_NX)) | GPT_P | GPT_U;
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *table;
		int ret = gpt_leaf_table(pt, gva + off, &table);

		if (ret)
			return ret;
		uint64_t *e = &table[gpt_index(gva + off, 1)];
		if (*e & GPT_P)
			return -EEXIST;
		*e = ((gpa + off) & GPT_ADDR) | flags;
	}
	return 0;
}

int gpt_walk(gpa_t cr3, gva_t gva, gpt_gpa_host_fn host, void *opaque,
	     struct gpt_walk *w)
{
	gpa_t table = cr3 & GPT_ADDR;

	memset(w, 0, sizeof(*w));
	w->gva = gva;
	w->writable = w->user = true;
	if (!gpt_canonical(gva))
		return -EINVAL;
	for (int level = GPT_LEVELS; level >= 1; level--) {
		int i = GPT_LEVELS - level;
		uint64_t *t = host(opaque, table, PAGE_SIZE);

		if (!t) {
			w->failed_level = level;
			return -ERANGE;
		}
		w->table[i] = table;
		/* memvisor itself may clear a leaf's dirty bit meanwhile */
		w->entry[i] = __atomic_load_n(&t[gpt_index(gva, level)], __ATOMIC_RELAXED);
		w->levels = i + 1;
		if (!(w->entry[i] & GPT_P)) {
			w->failed_level = level;
			return -EFAULT;
		}
		w->writable &= !!(w->entry[i] & GPT_W);
		w->user &= !!(w->entry[i] & GPT_U);
		w->nx |= !!(w->entry[i] & GPT_NX);
		/* a PS bit at PDPT (1 GiB) or PD (2 MiB) level ends the walk */
		if (level == 1 || (level <= 3 && (w->entry[i] & GPT_PS))) {
			w->page_size = 1ULL << (PAGE_SHIFT + 9 * (level - 1));
			uint64_t frame = w->entry[i] & GPT_ADDR & ~(w->page_size - 1);
			w->gpa = frame | (gva & (w->page_size - 1));
			return 0;
		}
		table = w->entry[i] & GPT_ADDR;
	}
	return -EFAULT; /* not reached */
}
