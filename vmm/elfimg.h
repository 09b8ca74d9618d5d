/* SPDX-License-Identifier: MIT */
/* Guest ELF validation: pure parsing, no KVM, so every malformed input can be unit-tested. */
#ifndef VMM_ELFIMG_H
#define VMM_ELFIMG_H

#include "memvisor/types.h"

#define VMM_ELF_MAX_SEGS   16
#define VMM_IMAGE_MAX      (64ULL << 20)   /* memory an image may occupy */

struct vmm_elf_segment {
	gva_t vaddr;
	uint64_t memsz, filesz, offset;
	bool write, exec;
};

struct vmm_elf_image {
	gva_t entry;
	gva_t lo, hi;                 /* page-aligned span of all segments */
	unsigned nr_segs;
	struct vmm_elf_segment segs[VMM_ELF_MAX_SEGS];
};

/* Validate buf as a memvisor guest: ELF64, little-endian, x86-64, ET_EXEC,
 * static, PT_LOAD segments inside the image window, not overlapping, entry in
 * an executable segment. 0, or -ENOEXEC with one line in err. */
int vmm_elf_parse(const void *buf, size_t len, struct vmm_elf_image *img,
		  char *err, size_t errlen);

/* Copy the image into dst, which backs [img->lo, img->hi). */
void vmm_elf_load(const void *buf, const struct vmm_elf_image *img, void *dst);

#endif
