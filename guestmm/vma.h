/* SPDX-License-Identifier: MIT */
/*
 * VMAs over guest-physical space: an ordered set of non-overlapping ranges
 * with flags in the spirit of VM_READ/WRITE/EXEC/LOCKED/SHARED, kept in a
 * sorted array (O(log n) lookup, like a one-level maple tree) with a
 * last-hit cache, as mm->mmap_cache once did. No locking (the mm lock covers it).
 */
#ifndef GUESTMM_VMA_H
#define GUESTMM_VMA_H

#include "memvisor/types.h"

enum {
	GMM_VM_READ   = 1u << 0,
	GMM_VM_WRITE  = 1u << 1,
	GMM_VM_EXEC   = 1u << 2,
	GMM_VM_LOCKED = 1u << 3, /* never reclaimed */
	GMM_VM_SHARED = 1u << 4,
	GMM_VM_IO     = 1u << 5, /* an MMIO hole: no memory, any access is a guest error */
};

enum gmm_vma_kind {
	GMM_VMA_RAM,   /* guest RAM: demand-faulted, reclaimable */
	GMM_VMA_ROM,   /* the guest image's read-only pages */
	GMM_VMA_SYS,   /* memvisor-owned, locked: boot info, stacks, page tables */
	GMM_VMA_MMIO,  /* a hole */
};

struct gmm_vma {
	gpa_t start, end;      /* [start, end), page aligned */
	uint32_t flags;
	enum gmm_vma_kind kind;
	const char *name;      /* static string */
	hva_t hva;             /* host address of start, 0 if none (MMIO) */
};

struct gmm_vma_tree {
	struct gmm_vma *v;     /* sorted by start */
	unsigned nr, cap;
	unsigned cache;        /* index of the last hit */
	uint64_t lookups, cache_hits;
};

void gmm_vma_tree_init(struct gmm_vma_tree *t);
void gmm_vma_tree_destroy(struct gmm_vma_tree *t);
/* Insert a copy of vma. -EINVAL for an empty or misaligned range, -EEXIST if
 * it overlaps a VMA, -ENOMEM. Merges with a neighbour that ends/starts exactly
 * at it when flags, kind and name are the same and hva continues (or both 0). */
int gmm_vma_insert(struct gmm_vma_tree *t, const struct gmm_vma *vma);
/* The VMA containing gpa, or NULL. The pointer is valid until the tree changes. */
struct gmm_vma *gmm_vma_find(struct gmm_vma_tree *t, gpa_t gpa);
/* Split the VMA containing addr into [start, addr) and [addr, end) (hva
 * adjusted). -ENOENT if no VMA contains addr, -EINVAL if addr is its start or
 * misaligned, -ENOMEM. */
int gmm_vma_split(struct gmm_vma_tree *t, gpa_t addr);
/* Remove [start, end), splitting VMAs at the ends as needed; ranges with no
 * VMA are fine. 0, -EINVAL, -ENOMEM. */
int gmm_vma_remove(struct gmm_vma_tree *t, gpa_t start, gpa_t end);
/* Set flags on [start, end), which must be fully covered by VMAs: splits at
 * the ends, then merges what became mergeable. 0, -ENOENT (a gap), -EINVAL,
 * -ENOMEM (a split could not grow the array; nothing changed). */
int gmm_vma_protect(struct gmm_vma_tree *t, gpa_t start, gpa_t end, uint32_t flags);
/* Sum of VMA sizes with all of the given flags set (0 = every VMA). */
uint64_t gmm_vma_total(const struct gmm_vma_tree *t, uint32_t flags);

#endif
