/* SPDX-License-Identifier: MIT */
/*
 * The guest's own page tables (GVA -> GPA), the first level of the two-level
 * hierarchy; the second, GPA -> host frame, is the EPT table in ept.h. These
 * are the x86-64 4-level tables that the VMM builds for its tiny guests, and
 * a walker that follows any such table through a caller-supplied GPA -> host
 * mapping. Data structures and walks only: no policy, no KVM.
 */
#ifndef GPT_H
#define GPT_H

#include "memvisor/types.h"

#define GPT_P    (1ULL << 0)
#define GPT_W    (1ULL << 1)
#define GPT_U    (1ULL << 2)
#define GPT_A    (1ULL << 5)
#define GPT_D    (1ULL << 6)
#define GPT_PS   (1ULL << 7)
#define GPT_NX   (1ULL << 63)
#define GPT_ADDR 0x000ffffffffff000ULL

#define GPT_LEVELS 4

/* A bump allocator of table pages over one contiguous piece of guest memory. */
struct gpt {
	uint8_t *base;      /* host address of the table area */
	gpa_t base_gpa;     /* its guest-physical address */
	size_t size;        /* bytes in the area */
	size_t used;        /* bytes handed out as tables */
	gpa_t root;         /* GPA of the PML4: the guest's CR3 */
	/* last leaf table looked up, so that mapping a range costs one walk per 2 MiB */
	gva_t cache_gva;
	uint64_t *cache_pt;
};

/* Table pages needed, at most, to map one range of len bytes (4 KiB entries). */
size_t gpt_tables_for(uint64_t len);

int gpt_init(struct gpt *pt, void *base, gpa_t base_gpa, size_t size);
/* Map [gva, gva+len) to [gpa, gpa+len) with 4 KiB entries; flags from GPT_*
 * (P and U are always set). -EINVAL on misalignment or a non-canonical GVA,
 * -EEXIST if a page is mapped already, -ENOMEM when the area is full. */
int gpt_map(struct gpt *pt, gva_t gva, gpa_t gpa, uint64_t len, uint64_t flags);

/* How the walker reaches guest memory: host pointer for [gpa, gpa+len), or NULL. */
typedef void *(*gpt_gpa_host_fn)(void *opaque, gpa_t gpa, size_t len);

struct gpt_walk {
	gva_t gva;
	gpa_t gpa;                    /* the translation, valid when the walk succeeds */
	int levels;                   /* entries read (4 for a 4 KiB page, 3 for 2 MiB, 2 for 1 GiB) */
	int failed_level;             /* 4 = PML4 ... 1 = PT when not present; 0 on success */
	uint64_t entry[GPT_LEVELS];   /* entry[0] = PML4E ... */
	gpa_t table[GPT_LEVELS];      /* GPA of the table each entry was read from */
	uint64_t page_size;
	bool writable, user, nx;      /* effective permissions over all levels */
};

/* Walk gva through the table rooted at cr3. 0, -EFAULT (not present; see
 * failed_level), -EINVAL (non-canonical) or -ERANGE (a table outside guest memory). */
int gpt_walk(gpa_t cr3, gva_t gva, gpt_gpa_host_fn host, void *opaque,
	     struct gpt_walk *w);

#endif
