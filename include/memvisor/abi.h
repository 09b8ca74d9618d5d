/* SPDX-License-Identifier: MIT */
/*
 * The contract between memvisor and its guests: the guest-virtual layout the
 * VMM builds, the boot-info page, and the hypercall numbers. This is the only
 * header guests share with the VMM, so it uses nothing but fixed-width types.
 *
 * Guests run at CPL3 in 64-bit mode (see docs/platform.md). They talk to memvisor
 * through port I/O only: a byte console on MV_PORT_CONSOLE and hypercalls on
 * MV_PORT_HCALL ("outl %eax, $MV_PORT_HCALL" with the number in eax and the
 * arguments in rdi, rsi, rdx, rcx).
 */
#ifndef MEMVISOR_ABI_H
#define MEMVISOR_ABI_H

#include <stdint.h>

#define MV_PAGE_SIZE 4096ULL

/* Guest-virtual layout (what guest code sees). */
#define MV_IMAGE_GVA_MIN   0x0000000000400000ULL /* ELF images are linked here... */
#define MV_IMAGE_GVA_MAX   0x0000000040000000ULL /* ...and must end below this */
#define MV_SYS_GVA         0x0000000040000000ULL /* GDT and TSS page */
#define MV_BOOTINFO_GVA    0x0000000040001000ULL /* struct mv_bootinfo */
#define MV_BOOTINFO_SIZE   (2 * MV_PAGE_SIZE)
#define MV_CPU_GVA         0x0000000040100000ULL /* per-vCPU slots: guard, stack, percpu */
#define MV_STACK_SIZE      (64 * 1024ULL)
#define MV_CPU_SLOT_SIZE   (MV_PAGE_SIZE + MV_STACK_SIZE + MV_PAGE_SIZE)
#define MV_MMIO_GVA        0x0000000070000000ULL /* the MMIO hole: no device, any access is an error */
#define MV_RAM_GVA         0x0000008000000000ULL /* guest RAM, linearly: GVA = MV_RAM_GVA + GPA */

/* Guest-physical layout. */
#define MV_RAM_GPA         0x0ULL
#define MV_RAM_MAX         (128ULL << 30)        /* guest RAM ends below MV_SYS_GPA */
#define MV_MMIO_GPA        0x0000003fffe00000ULL /* a 2 MiB hole below the system region */
#define MV_MMIO_SIZE       (2ULL << 20)
#define MV_SYS_GPA         0x0000004000000000ULL /* VMM-owned, locked: GDT, boot info, stacks, writable image pages, page tables */
#define MV_ROM_GPA         0x0000005000000000ULL /* the image's read-only pages, a read-only memslot */
#define MV_BOOTINFO_GPA    (MV_SYS_GPA + MV_PAGE_SIZE)

#define MV_MAX_VCPUS       64
#define MV_ARGV_MAX        64

/* Bottom of vCPU i's stack (first usable byte above its guard page) and its percpu page. */
#define MV_STACK_BASE(i)   (MV_CPU_GVA + (uint64_t)(i) * MV_CPU_SLOT_SIZE + MV_PAGE_SIZE)
#define MV_STACK_TOP(i)    (MV_STACK_BASE(i) + MV_STACK_SIZE)
#define MV_PERCPU_GVA(i)   MV_STACK_TOP(i)       /* the fs base of vCPU i; first u32 = index */

#define MV_BOOTINFO_MAGIC  0x3153495645564d4dULL /* "MMVEVIS1" */
#define MV_BOOTINFO_VERSION 1

struct mv_bootinfo {
	uint64_t magic;
	uint32_t version;
	uint32_t nr_vcpus;
	uint64_t ram_gva;      /* where guest RAM is mapped */
	uint64_t ram_gpa;
	uint64_t ram_size;     /* bytes */
	uint64_t tsc_khz;      /* 0 if unknown */
	uint32_t argc;
	uint32_t reserved;
	uint64_t argv[MV_ARGV_MAX + 1]; /* GVAs of NUL-terminated strings, NULL-terminated */
	char strings[];        /* the argument bytes, up to the end of the boot-info area */
};

/* Entry state: rip = e_entry, rsp = MV_STACK_TOP(i), rdi = vCPU index,
 * rsi = MV_BOOTINFO_GVA, fs base = MV_PERCPU_GVA(i). */

#define MV_PORT_CONSOLE    0xe9  /* outb: one byte of console text */
#define MV_PORT_HCALL      0xf6  /* outl: hypercall, number in eax */

enum mv_hcall {
	MV_HC_DONE   = 1, /* rdi = exit code; this vCPU is finished */
	MV_HC_ASSERT = 2, /* rdi = file (GVA), rsi = line, rdx = message (GVA) */
	MV_HC_SYNC   = 3, /* rdi = stage */
	MV_HC_REPORT = 4, /* rdi = key (GVA, NUL-terminated), rsi = value (u64) */
	MV_HC_WRITE  = 5, /* rdi = buffer (GVA), rsi = length: console text */
	MV_HC_FREE   = 6, /* rdi = RAM (GVA), rsi = length, both page-aligned: pages the
			   * guest no longer needs (free-page reporting, as virtio-balloon's);
			   * their memory goes back to the host, a later access reads zeros */
};

#define MV_HC_STR_MAX      1024  /* longest string a hypercall may name */
#define MV_HC_WRITE_MAX    4096  /* longest console write */

#endif
