/* SPDX-License-Identifier: MIT */
#ifndef VMM_LAYOUT_H
#define VMM_LAYOUT_H

#include "guest.h"

/* Bytes of system region a guest with this RAM, vCPUs and image needs. */
uint64_t vmm_layout_sys_size(uint64_t ram_size, unsigned nr_vcpus, const struct vmm_elf_image *img);
/* Bytes of ROM: the image's pages that no writable segment touches. */
uint64_t vmm_layout_rom_size(const struct vmm_elf_image *img);
/* Fill the system region: GDT/TSS, boot info, percpu pages, image, page tables. */
int vmm_layout_build(struct vmm_guest *g, const void *elf, char *err, size_t errlen);
uint64_t vmm_layout_tss_gva(void);

#define VMM_GDT_LIMIT   (10 * 8 - 1)
#define VMM_SEL_KCODE   0x08
#define VMM_SEL_UDATA   0x2b
#define VMM_SEL_UCODE   0x33
#define VMM_SEL_TSS     0x40

#endif
