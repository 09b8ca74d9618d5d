// SPDX-License-Identifier: MIT
/*
 * Fuzz target: how a guest is laid out for its start (vmm/layout.c), above
 * all its arguments: "memvisor run GUEST -- ARGS" puts argc, the argv
 * pointers and the strings in the boot-info pages. The input gives the vCPU
 * count, the RAM size, an image of one to three segments and the arguments;
 * the layout is built without KVM, and then read back the way hypercalls read
 * guest memory, through the guest's own page tables (vmm/gmem.c):
 *  - too many arguments, or too many bytes of them, is -E2BIG with its line;
 *  - otherwise the boot info says what the guest was given, each argv[i]
 *    reads back as the string given, and the boot info is read-only;
 *  - each segment reads back as its bytes then zeros, each vCPU's percpu
 *    page holds its index, its stack is writable and the page below it is a
 *    hole, and RAM is mapped to its last byte and not one byte more.
 */
#include "fuzz.h"

#include "memvisor/abi.h"
#include "vmm/guest.h"
#include "vmm/layout.h"

#include <elf.h>
#include <errno.h>
#include <sys/mman.h>

#define MAX_SEGS   3
#define MAX_ARGS   (MV_ARGV_MAX + 2)
#define MAX_ARGLEN 400
#define ARGS_ROOM  (MV_BOOTINFO_SIZE - sizeof(struct mv_bootinfo))

struct input {
	unsigned nr_vcpus;
	uint64_t ram_size;
	uint8_t *elf;
	size_t elf_len;
	int argc;
	char *argv[MAX_ARGS + 1];
	size_t args_bytes;          /* the strings, NULs included */
};

/* An ELF of 1..MAX_SEGS PT_LOAD segments at fuzzed places; data follows the headers. */
static void make_elf(struct fz *f, struct input *in)
{
	unsigned nr = 1 + (unsigned)fz_below(f, MAX_SEGS);
	size_t hdrs = sizeof(Elf64_Ehdr) + nr * sizeof(Elf64_Phdr), off = ALIGN_UP(hdrs, 16);
	Elf64_Phdr ph[MAX_SEGS];

	for (unsigned i = 0; i < nr; i++) {
		uint64_t filesz = fz_below(f, 3 * PAGE_SIZE);

		ph[i] = (Elf64_Phdr){
			.p_type = PT_LOAD, .p_offset = off, .p_filesz = filesz,
			.p_vaddr = MV_IMAGE_GVA_MIN + fz_below(f, 16) * PAGE_SIZE +
				   (fz_bool(f) ? fz_below(f, PAGE_SIZE) : 0),
			.p_memsz = filesz + fz_below(f, 2 * PAGE_SIZE) + 1,
			/* the first holds the entry; the others are data or code */
			.p_flags = PF_R | (i == 0 ? PF_X : (fz_bool(f) ? PF_W : PF_X)),
		};
		off += filesz;
	}
	in->elf_len = off;
	in->elf = calloc(1, off);
	FZ_CHECK(in->elf, "out of memory");
	for (size_t i = hdrs; i < off; i++)
		in->elf[i] = (uint8_t)(i * 131 + 7);
	*(Elf64_Ehdr *)in->elf = (Elf64_Ehdr){
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_entry = ph[0].p_vaddr, .e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = (uint16_t)nr,
	};
	memcpy(in->elf + sizeof(Elf64_Ehdr), ph, nr * sizeof(Elf64_Phdr));
}

/* Arguments: their bytes come from the input (a NUL becomes 'x'), lengths
 * too; now and then the last one is sized so that all of them come within
 * two bytes either side of the room there is, where an off-by-one would be. */
static void make_args(struct fz *f, struct input *in)
{
	bool to_edge = fz_below(f, 4) == 0;
	int64_t edge = (int64_t)ARGS_ROOM + (int64_t)fz_below(f, 5) - 2;

	in->argc = (int)fz_below(f, MAX_ARGS + 1);
	for (int i = 0; i < in->argc; i++) {
		int64_t fill = edge - (int64_t)in->args_bytes - 1;
		size_t len = to_edge && i == in->argc - 1 && fill >= 0 ? (size_t)fill
			   : fz_below(f, MAX_ARGLEN);
		char *a = malloc(len + 1);

		FZ_CHECK(a, "out of memory");
		for (size_t j = 0; j < len; j++) {
			uint8_t c = fz_more(f) ? fz_u8(f) : (uint8_t)('a' + j % 26);

			a[j] = (char)(c ? c : 'x');
		}
		a[len] = '\0';
		in->argv[i] = a;
		in->args_bytes += len + 1;
	}
	in->argv[in->argc] = NULL;
}

/* Zeroed memory as memvisor maps it, with an inaccessible page after it so
 * that a write past the end faults; only the pages touched cost anything
 * (the system region reserves page tables for 2 GiB). */
static void *region_map(uint64_t size)
{
	uint8_t *p = mmap(NULL, size + PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	FZ_CHECK(p != MAP_FAILED, "mmap of %llu bytes failed", FZ_ULL(size));
	FZ_CHECK(!mprotect(p + size, PAGE_SIZE, PROT_NONE), "mprotect failed");
	return p;
}

static void region_unmap(void *p, uint64_t size)
{
	munmap(p, size + PAGE_SIZE);
}

static struct vmm_guest *guest_new(const struct input *in, const struct vmm_elf_image *img)
{
	struct vmm_guest *g = calloc(1, sizeof(*g) + in->nr_vcpus * sizeof(g->vcpus[0]));

	FZ_CHECK(g, "out of memory");
	g->img = *img;
	g->nr_vcpus = in->nr_vcpus;
	g->cfg.nr_vcpus = in->nr_vcpus;
	g->cfg.argc = in->argc;
	g->cfg.argv = in->argv;
	g->ram_size = in->ram_size;
	g->sys_size = vmm_layout_sys_size(g->ram_size, g->nr_vcpus, img);
	g->rom_size = vmm_layout_rom_size(img);
	g->tsc_khz = 1234567;
	g->ram = region_map(g->ram_size);
	g->sys = region_map(g->sys_size);
	g->rom = region_map(g->rom_size);
	/* hypercalls read RAM through the memory manager: a host-managed one */
	struct gmm_mm_config mc = { .ram_size = g->ram_size, .ram_hva = g->ram };
	char err[256];

	FZ_CHECK(!gmm_mm_create(NULL, &mc, &g->mm, err, sizeof(err)), "gmm_mm_create: %s", err);
	return g;
}

static void guest_free(struct vmm_guest *g)
{
	gmm_mm_destroy(g->mm);
	region_unmap(g->ram, g->ram_size);
	region_unmap(g->sys, g->sys_size);
	region_unmap(g->rom, g->rom_size);
	free(g);
}

static bool writable(struct vmm_guest *g, gva_t gva)
{
	struct gpt_walk w;

	FZ_CHECK(!gpt_walk(g->gpt.root, gva, vmm_gpa_host, g, &w), "0x%llx unmapped", FZ_ULL(gva));
	return w.writable;
}

static void check_args(struct vmm_guest *g, const struct input *in)
{
	struct mv_bootinfo bi;
	static char buf[MV_BOOTINFO_SIZE];

	FZ_CHECK(!vmm_copy_from_guest(g, &bi, MV_BOOTINFO_GVA, sizeof(bi)), "boot info unreadable");
	FZ_CHECK(bi.magic == MV_BOOTINFO_MAGIC && bi.version == MV_BOOTINFO_VERSION, "bad boot info");
	FZ_CHECK(bi.nr_vcpus == in->nr_vcpus && bi.ram_gva == MV_RAM_GVA &&
		 bi.ram_size == in->ram_size && bi.tsc_khz == 1234567, "boot info differs");
	FZ_CHECK(bi.argc == (uint32_t)in->argc && bi.argv[in->argc] == 0,
		 "argc %u (want %d), argv[argc] 0x%llx", bi.argc, in->argc,
		 FZ_ULL(bi.argv[in->argc]));
	FZ_CHECK(!writable(g, MV_BOOTINFO_GVA) && !writable(g, MV_BOOTINFO_GVA + PAGE_SIZE),
		 "the guest could write its boot info");
	for (int i = 0; i < in->argc; i++) {
		int n = vmm_strncpy_from_guest(g, buf, bi.argv[i], sizeof(buf));

		FZ_CHECK(n >= 0 && (size_t)n == strlen(in->argv[i]) && !strcmp(buf, in->argv[i]),
			 "argv[%d] at 0x%llx reads back as %d bytes, want %zu", i,
			 FZ_ULL(bi.argv[i]), n, strlen(in->argv[i]));
	}
}

static void check_image(struct vmm_guest *g, const struct input *in)
{
	for (unsigned i = 0; i < g->img.nr_segs; i++) {
		const struct vmm_elf_segment *s = &g->img.segs[i];
		uint8_t *got = malloc(s->memsz), *want = calloc(1, s->memsz);

		FZ_CHECK(got && want, "out of memory");
		memcpy(want, in->elf + s->offset, s->filesz);
		FZ_CHECK(!vmm_copy_from_guest(g, got, s->vaddr, s->memsz), "segment %u unreadable", i);
		FZ_CHECK(!memcmp(got, want, s->memsz), "segment %u reads back wrong", i);
		if (s->write)
			FZ_CHECK(writable(g, s->vaddr), "writable segment %u is not", i);
		free(got);
		free(want);
	}
}

static void check_cpus_and_ram(struct vmm_guest *g)
{
	uint8_t byte;

	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		uint32_t index;

		FZ_CHECK(!vmm_copy_from_guest(g, &index, MV_PERCPU_GVA(i), sizeof(index)) && index == i,
			 "percpu page of vCPU %u", i);
		FZ_CHECK(writable(g, MV_STACK_BASE(i)) && writable(g, MV_STACK_TOP(i) - 1),
			 "stack of vCPU %u not writable", i);
		FZ_CHECK(vmm_copy_from_guest(g, &byte, MV_STACK_BASE(i) - 1, 1) == -EFAULT,
			 "guard page of vCPU %u is mapped", i);
	}
	FZ_CHECK(!vmm_copy_from_guest(g, &byte, MV_RAM_GVA + g->ram_size - 1, 1), "RAM end unmapped");
	FZ_CHECK(vmm_copy_from_guest(g, &byte, MV_RAM_GVA + g->ram_size, 1) == -EFAULT,
		 "mapped beyond RAM");
}

static void run(struct input *in)
{
	struct vmm_elf_image img;
	struct vmm_guest *g;
	char err[256] = "";
	int ret;

	if (vmm_elf_parse(in->elf, in->elf_len, &img, err, sizeof(err)))
		return; /* overlapping segments: the ELF target covers refusals */
	g = guest_new(in, &img);
	ret = vmm_layout_build(g, in->elf, err, sizeof(err));
	if (in->argc > MV_ARGV_MAX)
		FZ_CHECK(ret == -E2BIG && strstr(err, "too many guest arguments"),
			 "%d arguments: %d (%s)", in->argc, ret, err);
	else if (in->args_bytes > ARGS_ROOM)
		FZ_CHECK(ret == -E2BIG && strstr(err, "guest arguments too long"),
			 "%zu bytes of arguments: %d (%s)", in->args_bytes, ret, err);
	else
		FZ_CHECK(ret == 0, "layout failed: %d (%s)", ret, err);
	if (!ret) {
		check_args(g, in);
		check_image(g, in);
		check_cpus_and_ram(g);
	}
	guest_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct input in = { 0 };

	in.nr_vcpus = 1 + (unsigned)fz_below(&f, 4);
	in.ram_size = (1 + fz_below(&f, 64)) * PAGE_SIZE;
	make_elf(&f, &in);
	make_args(&f, &in);
	run(&in);
	for (int i = 0; i < in.argc; i++)
		free(in.argv[i]);
	free(in.elf);
	return 0;
}
