// SPDX-License-Identifier: MIT
/*
 * The guest's memory layout (see include/memvisor/abi.h): what lives in the
 * VMM-owned system region at MV_SYS_GPA and how guest-virtual addresses map
 * onto it and onto guest RAM.
 *
 *   sys + 0        GDT and TSS              -> GVA MV_SYS_GVA (read-only)
 *   sys + 4K       boot info (2 pages)      -> GVA MV_BOOTINFO_GVA (read-only)
 *   sys + 12K      per vCPU: stack, percpu  -> GVA MV_CPU_GVA + i * slot (guard unmapped)
 *   ...            writable image pages     -> GVA as linked
 *   ...            the guest page tables       (not mapped: the guest cannot edit them)
 *   ROM            read-only image pages    -> GVA as linked, a read-only memslot
 *   MMIO hole      2 MiB, no memslot        -> GVA MV_MMIO_GVA
 *   RAM            GPA [0, ram)             -> GVA MV_RAM_GVA + GPA
 *
 * Read-only image pages are writable in the guest's page tables on purpose:
 * a write then reaches the read-only memslot and memvisor reports "a write
 * to ROM" with the address, as a ROM chip would, rather than a page fault.
 */
#include "layout.h"

#include "memvisor/abi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYS_GDT_OFF      0
#define SYS_TSS_OFF      0x800
#define SYS_BOOTINFO_OFF MV_PAGE_SIZE
#define SYS_CPU_OFF      (SYS_BOOTINFO_OFF + MV_BOOTINFO_SIZE)
#define SYS_CPU_SIZE     (MV_STACK_SIZE + MV_PAGE_SIZE)  /* stack + percpu; the guard is a GVA hole */

static bool layout_page_writable(const struct vmm_elf_image *img, gva_t va)
{
	for (unsigned j = 0; j < img->nr_segs; j++) {
		const struct vmm_elf_segment *s = &img->segs[j];

		if (s->write && va < s->vaddr + s->memsz && s->vaddr < va + PAGE_SIZE)
			return true;
	}
	return false;
}

uint64_t vmm_layout_rom_size(const struct vmm_elf_image *img)
{
	uint64_t n = 0;

	for (gva_t va = img->lo; va < img->hi; va += PAGE_SIZE)
		n += !layout_page_writable(img, va);
	return n << PAGE_SHIFT;
}

uint64_t vmm_layout_sys_size(uint64_t ram_size, unsigned nr_vcpus, const struct vmm_elf_image *img)
{
	uint64_t size = SYS_CPU_OFF + (uint64_t)nr_vcpus * SYS_CPU_SIZE;

	size += img->hi - img->lo - vmm_layout_rom_size(img);
	/* tables for RAM, plus for the low window (image, boot info, stacks: < 2 GiB) */
	size += (gpt_tables_for(ram_size) + gpt_tables_for(2ULL << 30)) * PAGE_SIZE;
	return ALIGN_UP(size, PAGE_SIZE);
}

static void layout_gdt(struct vmm_guest *g)
{
	uint64_t *gdt = (uint64_t *)(g->sys + SYS_GDT_OFF);
	uint64_t tss = MV_SYS_GVA + SYS_TSS_OFF, limit = 0x67;

	gdt[1] = 0x00af9b000000ffffULL; /* 0x08 kernel code, 64-bit */
	gdt[2] = 0x00cf93000000ffffULL; /* 0x10 kernel data */
	gdt[5] = 0x00cff3000000ffffULL; /* 0x28 user data: selector 0x2b (docs/platform.md) */
	gdt[6] = 0x00affb000000ffffULL; /* 0x30 user code, 64-bit: 0x33 */
	/* 0x40: 64-bit TSS, busy (it is loaded in TR), two slots */
	gdt[8] = (limit & 0xffff) | ((tss & 0xffffff) << 16) | (0xbULL << 40) | (1ULL << 47) |
		 (((tss >> 24) & 0xff) << 56);
	gdt[9] = tss >> 32;
}

static int layout_bootinfo(struct vmm_guest *g, char *err, size_t errlen)
{
	struct mv_bootinfo *bi = (struct mv_bootinfo *)(g->sys + SYS_BOOTINFO_OFF);
	size_t room = MV_BOOTINFO_SIZE - sizeof(*bi), used = 0;

	if (g->cfg.argc > MV_ARGV_MAX) {
		snprintf(err, errlen, "too many guest arguments (%d; at most %d)",
			 g->cfg.argc, MV_ARGV_MAX);
		return -E2BIG;
	}
	bi->magic = MV_BOOTINFO_MAGIC;
	bi->version = MV_BOOTINFO_VERSION;
	bi->nr_vcpus = g->nr_vcpus;
	bi->ram_gva = MV_RAM_GVA;
	bi->ram_gpa = MV_RAM_GPA;
	bi->ram_size = g->ram_size;
	bi->tsc_khz = g->tsc_khz;
	bi->argc = g->cfg.argc;
	for (int i = 0; i < g->cfg.argc; i++) {
		size_t n = strlen(g->cfg.argv[i]) + 1;

		if (n > room - used) {
			snprintf(err, errlen, "guest arguments too long (at most %zu bytes in all)",
				 room);
			return -E2BIG;
		}
		memcpy(bi->strings + used, g->cfg.argv[i], n);
		bi->argv[i] = MV_BOOTINFO_GVA + sizeof(*bi) + used;
		used += n;
	}
	bi->argv[g->cfg.argc] = 0;
	return 0;
}

static uint64_t layout_cpu_off(unsigned i)
{
	return SYS_CPU_OFF + (uint64_t)i * SYS_CPU_SIZE;
}

/* Writable image pages go to the system region, read-only ones to ROM. */
static int layout_image(struct vmm_guest *g, const void *elf, uint64_t off)
{
	const struct vmm_elf_image *img = &g->img;
	uint8_t *buf = malloc(img->hi - img->lo);
	uint64_t rw = 0, ro = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	vmm_elf_load(elf, img, buf);
	for (gva_t va = img->lo; va < img->hi && !ret; va += PAGE_SIZE) {
		uint64_t page_off;
		gpa_t gpa;

		if (layout_page_writable(img, va)) {
			page_off = off + (rw++ << PAGE_SHIFT);
			memcpy(g->sys + page_off, buf + (va - img->lo), PAGE_SIZE);
			gpa = MV_SYS_GPA + page_off;
		} else {
			page_off = ro++ << PAGE_SHIFT;
			memcpy(g->rom + page_off, buf + (va - img->lo), PAGE_SIZE);
			gpa = MV_ROM_GPA + page_off;
		}
		ret = gpt_map(&g->gpt, va, gpa, PAGE_SIZE, GPT_W | GPT_A | GPT_D);
	}
	free(buf);
	return ret;
}

static int layout_map(struct vmm_guest *g, const void *elf)
{
	uint64_t img_off = layout_cpu_off(g->nr_vcpus);
	uint64_t pt_off = img_off + (g->img.hi - g->img.lo) - g->rom_size;
	int ret;

	ret = gpt_init(&g->gpt, g->sys + pt_off, MV_SYS_GPA + pt_off, g->sys_size - pt_off);
	if (ret)
		return ret;
	ret = gpt_map(&g->gpt, MV_SYS_GVA, MV_SYS_GPA + SYS_GDT_OFF, PAGE_SIZE, GPT_A | GPT_D);
	if (!ret)
		ret = gpt_map(&g->gpt, MV_BOOTINFO_GVA, MV_SYS_GPA + SYS_BOOTINFO_OFF,
			      MV_BOOTINFO_SIZE, GPT_A | GPT_D);
	for (unsigned i = 0; !ret && i < g->nr_vcpus; i++)
		ret = gpt_map(&g->gpt, MV_STACK_BASE(i), MV_SYS_GPA + layout_cpu_off(i),
			      SYS_CPU_SIZE, GPT_W | GPT_A | GPT_D);
	if (!ret)
		ret = layout_image(g, elf, img_off);
	if (!ret)
		ret = gpt_map(&g->gpt, MV_MMIO_GVA, MV_MMIO_GPA, MV_MMIO_SIZE, GPT_W | GPT_A);
	/* RAM: accessed preset, dirty left to the guest so dirty tracking stays exact */
	if (!ret)
		ret = gpt_map(&g->gpt, MV_RAM_GVA, MV_RAM_GPA, g->ram_size, GPT_W | GPT_A);
	return ret;
}

int vmm_layout_build(struct vmm_guest *g, const void *elf, char *err, size_t errlen)
{
	int ret;

	layout_gdt(g);
	ret = layout_bootinfo(g, err, errlen);
	if (ret)
		return ret;
	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		uint32_t *percpu = (uint32_t *)(g->sys + layout_cpu_off(i) + MV_STACK_SIZE);

		percpu[0] = i;
	}
	ret = layout_map(g, elf);
	if (ret)
		snprintf(err, errlen, "building guest page tables failed: %s", strerror(-ret));
	return ret;
}

uint64_t vmm_layout_tss_gva(void)
{
	return MV_SYS_GVA + SYS_TSS_OFF;
}
