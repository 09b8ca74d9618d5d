/* SPDX-License-Identifier: MIT */
/*
 * The EPT table: memvisor's record of which host frame backs each
 * guest-physical page (GPA -> frame), a 4-level radix table whose entries use
 * the EPT entry format of the Intel SDM (R/W/X, memory type, accessed/dirty,
 * frame number). A non-present entry may hold a swap entry instead. This is
 * memvisor's own structure (KVM keeps the hardware one); it plays the role of
 * a process's page tables in Linux. Data structure and walks only: no policy,
 * no KVM, no locking (the caller's mm lock covers it).
 */
#ifndef EPT_EPT_H
#define EPT_EPT_H

#include "memvisor/types.h"

#define EPT_R         (1ULL << 0)
#define EPT_W         (1ULL << 1)
#define EPT_X         (1ULL << 2)
#define EPT_RWX       (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT  3
#define EPT_MT_WB     (6ULL << EPT_MT_SHIFT)   /* write-back memory type */
#define EPT_IPAT      (1ULL << 6)
#define EPT_A         (1ULL << 8)
#define EPT_D         (1ULL << 9)
#define EPT_ADDR_MASK 0x000ffffffffff000ULL
/* software bits (ignored by hardware in a non-present entry) */
#define EPT_SWP       (1ULL << 62)             /* non-present entry holding a swap entry */
#define EPT_SWP_TYPE_SHIFT 52
#define EPT_SWP_TYPE_MASK  0x1fULL             /* 5 bits of swap type (device) */

#define EPT_LEVELS    4
#define EPT_GPA_BITS  48
#define EPT_ENTRIES   512

static inline bool ept_present(uint64_t e) { return (e & EPT_RWX) != 0; }
static inline bool ept_none(uint64_t e) { return e == 0; }
static inline bool ept_is_swp(uint64_t e) { return !ept_present(e) && (e & EPT_SWP); }

static inline uint64_t ept_mk_pte(pfn_t pfn, uint64_t prot)
{
	return ((pfn << PAGE_SHIFT) & EPT_ADDR_MASK) | (prot & (EPT_RWX | EPT_A | EPT_D)) |
	       EPT_MT_WB | EPT_IPAT;
}
static inline pfn_t ept_pfn(uint64_t e) { return (e & EPT_ADDR_MASK) >> PAGE_SHIFT; }

/* swap entry: type (5 bits) and slot offset (40 bits) in a non-present entry */
static inline uint64_t ept_mk_swp(unsigned type, uint64_t offset)
{
	return EPT_SWP | ((uint64_t)(type & EPT_SWP_TYPE_MASK) << EPT_SWP_TYPE_SHIFT) |
	       ((offset << PAGE_SHIFT) & EPT_ADDR_MASK);
}
static inline unsigned ept_swp_type(uint64_t e)
{
	return (unsigned)((e >> EPT_SWP_TYPE_SHIFT) & EPT_SWP_TYPE_MASK);
}
static inline uint64_t ept_swp_offset(uint64_t e) { return (e & EPT_ADDR_MASK) >> PAGE_SHIFT; }

struct ept_table {
	uint64_t *root;        /* the top-level (PML4-like) table */
	size_t nr_tables;      /* table pages in use, root included: accounted to the guest */
};

int ept_table_init(struct ept_table *t);           /* 0 or -ENOMEM */
void ept_table_destroy(struct ept_table *t);       /* frees every table page */

/* The leaf entry for gpa, or NULL if a table on the way does not exist or
 * gpa >= 2^48. */
uint64_t *ept_lookup(const struct ept_table *t, gpa_t gpa);
/* The same, creating missing tables (zeroed); NULL on -ENOMEM or a bad gpa. */
uint64_t *ept_lookup_alloc(struct ept_table *t, gpa_t gpa);

/* Install a present entry; -EEXIST if the entry is present already, -EINVAL
 * for a misaligned or out-of-range gpa, -ENOMEM. A swap entry there is
 * replaced (the caller has dealt with the slot). */
int ept_map(struct ept_table *t, gpa_t gpa, pfn_t pfn, uint64_t prot);
/* Clear the entry and return what it held (0 if none). */
uint64_t ept_clear(struct ept_table *t, gpa_t gpa);
/* Free leaf and intermediate tables that hold only zero entries within
 * [start, end); returns how many table pages were freed. */
size_t ept_prune(struct ept_table *t, gpa_t start, gpa_t end);

/*
 * A range walk with per-level callbacks, in the spirit of Linux's
 * mm_walk_ops. Levels are 4 (top) .. 1 (leaf). entry_cb is called for each
 * existing entry of a table at a level > 1 (before descending) with the
 * range that entry covers, clipped to the walk; pte_cb for each leaf entry
 * (present, swap or zero) whose table exists; hole_cb for each part of the
 * range whose table does not exist, with the level at which it is missing.
 * A non-zero return stops the walk and is returned. Any callback may be NULL.
 * Holes are reported one per empty entry, with the level of the table holding
 * that entry (4..2): a hole at level 4 covers (part of) 512 GiB.
 * -EINVAL if start or end is not page aligned, start > end or end > 2^48.
 */
struct ept_walk_ops {
	int (*entry_cb)(uint64_t *entry, int level, gpa_t addr, gpa_t next, void *priv);
	int (*pte_cb)(uint64_t *pte, gpa_t addr, void *priv);
	int (*hole_cb)(gpa_t addr, gpa_t next, int level, void *priv);
};

int ept_walk_range(const struct ept_table *t, gpa_t start, gpa_t end,
		   const struct ept_walk_ops *ops, void *priv);

#endif
