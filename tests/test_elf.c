// SPDX-License-Identifier: MIT
/*
 * Unit tests for the guest ELF validator (vmm/elfimg.c): a valid minimal
 * ELF64 x86-64 ET_EXEC image is built in memory, then mutated into every kind
 * of malformed input that vmm_elf_parse() must refuse with -ENOEXEC and a
 * message naming the problem.
 */
#include <criterion/criterion.h>

#include "memvisor/abi.h"
#include "vmm/elfimg.h"
#include "vmm/image.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The reference image (file layout):
 *   0x0000  Elf64_Ehdr, then NPH program headers at e_phoff = 64
 *   0x1000  text: TEXT_SZ bytes, loaded at TEXT_VA, R+X
 *   0x2000  data: DATA_FILESZ bytes, loaded at DATA_VA, R+W, DATA_MEMSZ in memory (bss)
 * phdr[2] is a PT_GNU_STACK with junk addresses that must be ignored.
 */
#define FILE_SZ      0x3000u
#define NPH          3
#define TEXT_OFF     0x1000u
#define TEXT_SZ      0x100u
#define TEXT_VA      0x400000ULL
#define DATA_OFF     0x2000u
#define DATA_FILESZ  0x80u
#define DATA_MEMSZ   0x1800u
#define DATA_VA      0x401000ULL
#define ENTRY        (TEXT_VA + 0x10)
#define MAX_PH       32

static union {
	uint8_t b[FILE_SZ + MAX_PH * sizeof(Elf64_Phdr)];
	uint64_t align;
} file;
static size_t file_len;
static struct vmm_elf_image img;
static char err[256];

static Elf64_Ehdr *ehdr(void)
{
	return (Elf64_Ehdr *)file.b;
}

static Elf64_Phdr *phdr(unsigned i)
{
	return (Elf64_Phdr *)(file.b + ehdr()->e_phoff) + i;
}

static uint8_t text_byte(unsigned i)
{
	return (uint8_t)(0x90 + i * 7);
}

static uint8_t data_byte(unsigned i)
{
	return (uint8_t)(0x31 ^ (i * 13));
}

static void make_elf(void)
{
	Elf64_Ehdr *eh = ehdr();
	Elf64_Phdr *ph;

	memset(&file, 0, sizeof(file));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_ident[EI_OSABI] = ELFOSABI_SYSV;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ENTRY;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = NPH;

	ph = phdr(0);
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_offset = TEXT_OFF;
	ph->p_vaddr = ph->p_paddr = TEXT_VA;
	ph->p_filesz = ph->p_memsz = TEXT_SZ;
	ph->p_align = 0x1000;

	ph = phdr(1);
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_W;
	ph->p_offset = DATA_OFF;
	ph->p_vaddr = ph->p_paddr = DATA_VA;
	ph->p_filesz = DATA_FILESZ;
	ph->p_memsz = DATA_MEMSZ;
	ph->p_align = 0x1000;

	ph = phdr(2);
	ph->p_type = PT_GNU_STACK;
	ph->p_flags = PF_R | PF_W;
	ph->p_offset = 0xdeadbeef000ULL; /* nonsense: not a PT_LOAD, so ignored */
	ph->p_vaddr = 0x10;
	ph->p_filesz = 0x123456789ULL;
	ph->p_memsz = 0x10;

	for (unsigned i = 0; i < TEXT_SZ; i++)
		file.b[TEXT_OFF + i] = text_byte(i);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		file.b[DATA_OFF + i] = data_byte(i);
	file_len = FILE_SZ;
}

static int parse(void)
{
	memset(&img, 0xa5, sizeof(img));
	strcpy(err, "<untouched>");
	return vmm_elf_parse(file.b, file_len, &img, err, sizeof(err));
}

static void expect_ok(void)
{
	int ret = parse();

	cr_assert_eq(ret, 0, "parse failed with %d: %s", ret, err);
}

/* -ENOEXEC, and the message contains each of the given words. */
static void expect_fail(const char *what, const char *also)
{
	int ret = parse();

	cr_assert_eq(ret, -ENOEXEC, "expected -ENOEXEC (%s), got %d (err '%s')", what, ret, err);
	cr_assert_neq(strcmp(err, "<untouched>"), 0, "no error message for %s", what);
	cr_assert_eq(strchr(err, '\n'), NULL, "error message is not one line: '%s'", err);
	cr_assert_not_null(strstr(err, what), "error '%s' does not mention '%s'", err, what);
	if (also)
		cr_assert_not_null(strstr(err, also), "error '%s' does not mention '%s'", err, also);
}

/* ---- the valid image ---- */

Test(elf, valid_minimal)
{
	make_elf();
	expect_ok();
	cr_assert_eq(img.entry, ENTRY);
	cr_assert_eq(img.nr_segs, 2);
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(img.hi, 0x403000ULL, "hi = 0x%llx", (unsigned long long)img.hi);

	cr_assert_eq(img.segs[0].vaddr, TEXT_VA);
	cr_assert_eq(img.segs[0].memsz, TEXT_SZ);
	cr_assert_eq(img.segs[0].filesz, TEXT_SZ);
	cr_assert_eq(img.segs[0].offset, TEXT_OFF);
	cr_assert(img.segs[0].exec);
	cr_assert_not(img.segs[0].write);

	cr_assert_eq(img.segs[1].vaddr, DATA_VA);
	cr_assert_eq(img.segs[1].memsz, DATA_MEMSZ);
	cr_assert_eq(img.segs[1].filesz, DATA_FILESZ);
	cr_assert_eq(img.segs[1].offset, DATA_OFF);
	cr_assert(img.segs[1].write);
	cr_assert_not(img.segs[1].exec);
}

Test(elf, valid_rwx_segment_flags)
{
	make_elf();
	phdr(0)->p_flags = PF_R | PF_W | PF_X;
	phdr(1)->p_flags = PF_R;
	expect_ok();
	cr_assert(img.segs[0].write);
	cr_assert(img.segs[0].exec);
	cr_assert_not(img.segs[1].write);
	cr_assert_not(img.segs[1].exec);
}

Test(elf, valid_segments_in_reverse_order)
{
	/* lo/hi must be the span of all segments whatever their order */
	Elf64_Phdr tmp;

	make_elf();
	tmp = *phdr(0);
	*phdr(0) = *phdr(1);
	*phdr(1) = tmp;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(img.hi, 0x403000ULL);
	cr_assert_eq(img.segs[0].vaddr, DATA_VA);
	cr_assert_eq(img.segs[1].vaddr, TEXT_VA);
}

Test(elf, valid_unaligned_segment_rounds_span)
{
	make_elf();
	phdr(0)->p_vaddr = TEXT_VA + 0x8;   /* lo rounds down; entry still inside */
	phdr(1)->p_vaddr = DATA_VA + 0x10;  /* ends at 0x402810: hi rounds up */
	expect_ok();
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(img.hi, 0x403000ULL);
	cr_assert_eq(img.segs[0].vaddr, TEXT_VA + 0x8);
}

Test(elf, valid_at_top_of_window)
{
	/* a segment may end exactly at MV_IMAGE_GVA_MAX */
	make_elf();
	phdr(0)->p_vaddr = MV_IMAGE_GVA_MAX - 0x2000;
	phdr(1)->p_vaddr = MV_IMAGE_GVA_MAX - 0x1800;
	ehdr()->e_entry = MV_IMAGE_GVA_MAX - 0x2000;
	expect_ok();
	cr_assert_eq(img.hi, MV_IMAGE_GVA_MAX);
	cr_assert_eq(img.lo, MV_IMAGE_GVA_MAX - 0x2000);
}

Test(elf, valid_at_bottom_of_window)
{
	make_elf();
	cr_assert_eq(TEXT_VA, MV_IMAGE_GVA_MIN, "test assumes text at the window's start");
	ehdr()->e_entry = MV_IMAGE_GVA_MIN;
	expect_ok();
	cr_assert_eq(img.lo, MV_IMAGE_GVA_MIN);
}

Test(elf, error_message_truncated_safely)
{
	char small[8];

	make_elf();
	ehdr()->e_machine = EM_386;
	memset(small, 'x', sizeof(small));
	cr_assert_eq(vmm_elf_parse(file.b, file_len, &img, small, sizeof(small)), -ENOEXEC);
	cr_assert_eq(small[sizeof(small) - 1], '\0');
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(small, "not an ", 7), 0, "got '%s'", small);
}

/* ---- header ---- */

Test(elf, empty_buffer)
{
	strcpy(err, "<untouched>");
	cr_assert_eq(vmm_elf_parse(NULL, 0, &img, err, sizeof(err)), -ENOEXEC);
	cr_assert_not_null(strstr(err, "bad magic"), "err '%s'", err);

	make_elf();
	file_len = 0;
	expect_fail("bad magic", NULL);
}

Test(elf, short_buffer)
{
	make_elf();
	file_len = 4; /* the magic alone */
	expect_fail("bad magic", NULL);
	file_len = EI_NIDENT - 1;
	expect_fail("bad magic", NULL);
}

Test(elf, bad_magic)
{
	make_elf();
	ehdr()->e_ident[EI_MAG1] = 'X';
	expect_fail("bad magic", "not an ELF");

	make_elf();
	ehdr()->e_ident[EI_MAG0] = 0;
	expect_fail("bad magic", NULL);

	/* a text file */
	make_elf();
	memcpy(file.b, "root:x:0:0:root:/root:/bin/bash\n", 32);
	expect_fail("bad magic", NULL);
}

Test(elf, class_32bit)
{
	make_elf();
	ehdr()->e_ident[EI_CLASS] = ELFCLASS32;
	expect_fail("64-bit", "class 1");

	make_elf();
	ehdr()->e_ident[EI_CLASS] = ELFCLASSNONE;
	expect_fail("64-bit", "class 0");
}

Test(elf, truncated_header)
{
	make_elf();
	file_len = EI_NIDENT;
	expect_fail("truncated ELF header", "16 bytes");
	file_len = sizeof(Elf64_Ehdr) - 1;
	expect_fail("truncated ELF header", "63 bytes");
}

Test(elf, big_endian)
{
	make_elf();
	ehdr()->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_fail("little-endian", NULL);

	make_elf();
	ehdr()->e_ident[EI_DATA] = ELFDATANONE;
	expect_fail("little-endian", NULL);
}

Test(elf, bad_version)
{
	make_elf();
	ehdr()->e_version = 2;
	expect_fail("version", "2");

	make_elf();
	ehdr()->e_version = EV_NONE;
	expect_fail("version", NULL);

	make_elf();
	ehdr()->e_ident[EI_VERSION] = EV_NONE;
	expect_fail("version", NULL);
}

Test(elf, wrong_machine)
{
	make_elf();
	ehdr()->e_machine = EM_386;
	expect_fail("x86-64", "machine 3");

	make_elf();
	ehdr()->e_machine = EM_AARCH64;
	expect_fail("x86-64", "machine 183");
}

Test(elf, pie_refused)
{
	make_elf();
	ehdr()->e_type = ET_DYN;
	expect_fail("position-independent", "-no-pie");
}

Test(elf, other_type_refused)
{
	make_elf();
	ehdr()->e_type = ET_REL;
	expect_fail("not an executable", "type 1");

	make_elf();
	ehdr()->e_type = ET_CORE;
	expect_fail("not an executable", "type 4");

	make_elf();
	ehdr()->e_type = ET_NONE;
	expect_fail("not an executable", "type 0");
}

Test(elf, zero_phnum)
{
	make_elf();
	ehdr()->e_phnum = 0;
	expect_fail("no program headers", NULL);
}

Test(elf, bad_phentsize)
{
	make_elf();
	ehdr()->e_phentsize = sizeof(Elf32_Phdr);
	expect_fail("program header size", "32");

	make_elf();
	ehdr()->e_phentsize = sizeof(Elf64_Phdr) + 8;
	expect_fail("program header size", "64");

	make_elf();
	ehdr()->e_phentsize = 0;
	expect_fail("program header size", NULL);
}

Test(elf, phdrs_outside_file)
{
	/* phoff beyond the end */
	make_elf();
	ehdr()->e_phoff = FILE_SZ + 8;
	expect_fail("program headers lie outside the file", NULL);

	/* phoff exactly at the end */
	make_elf();
	ehdr()->e_phoff = FILE_SZ;
	expect_fail("program headers lie outside the file", NULL);

	/* starts inside, last header runs past the end */
	make_elf();
	ehdr()->e_phoff = FILE_SZ - 2 * sizeof(Elf64_Phdr);
	expect_fail("program headers lie outside the file", NULL);

	/* the file is cut short inside the table */
	make_elf();
	file_len = sizeof(Elf64_Ehdr) + NPH * sizeof(Elf64_Phdr) - 1;
	expect_fail("program headers lie outside the file", NULL);

	/* too many headers for the file */
	make_elf();
	ehdr()->e_phnum = 0xffff;
	expect_fail("program headers lie outside the file", NULL);
}

Test(elf, phdrs_exactly_fill_file)
{
	/* the table ending exactly at the end of the file is fine */
	make_elf();
	file_len = sizeof(Elf64_Ehdr) + NPH * sizeof(Elf64_Phdr);
	phdr(0)->p_offset = 0;
	phdr(0)->p_filesz = 0;
	phdr(1)->p_offset = 0;
	phdr(1)->p_filesz = 0;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
}

Test(elf, phdrs_offset_overflow)
{
	/* phoff + phnum*56 wraps around to a small value inside the file */
	make_elf();
	ehdr()->e_phoff = (uint64_t)0 - 0x80;
	cr_assert_lt(ehdr()->e_phoff + (uint64_t)NPH * sizeof(Elf64_Phdr), (uint64_t)FILE_SZ,
		     "test setup: the sum should wrap");
	expect_fail("program headers lie outside the file", NULL);

	make_elf();
	ehdr()->e_phoff = UINT64_MAX & ~7ULL;
	expect_fail("program headers lie outside the file", NULL);
}

Test(elf, phdrs_misaligned)
{
	const size_t off = sizeof(Elf64_Ehdr) + 4;

	make_elf();
	memmove(file.b + off, file.b + sizeof(Elf64_Ehdr), NPH * sizeof(Elf64_Phdr));
	ehdr()->e_phoff = off;
	expect_fail("misaligned program headers", NULL);

	/* the same table at an 8-aligned offset is fine */
	make_elf();
	memmove(file.b + 0x100, file.b + sizeof(Elf64_Ehdr), NPH * sizeof(Elf64_Phdr));
	ehdr()->e_phoff = 0x100;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
}

/* ---- segments ---- */

Test(elf, filesz_exceeds_memsz)
{
	make_elf();
	phdr(1)->p_filesz = DATA_MEMSZ + 1;
	phdr(1)->p_memsz = DATA_MEMSZ;
	expect_fail("segment 1: file size 0x1801 exceeds memory size 0x1800", NULL);
}

Test(elf, filesz_equal_memsz_ok)
{
	make_elf();
	phdr(1)->p_filesz = 0x1000;
	phdr(1)->p_memsz = 0x1000;
	expect_ok();
	cr_assert_eq(img.segs[1].filesz, 0x1000);
	cr_assert_eq(img.hi, 0x402000ULL);
}

Test(elf, segment_data_outside_file)
{
	make_elf();
	phdr(1)->p_offset = FILE_SZ + 0x1000;
	expect_fail("segment 1", "outside the file");

	/* one byte past the end */
	make_elf();
	phdr(1)->p_filesz = FILE_SZ - DATA_OFF + 1;
	phdr(1)->p_memsz = 0x2000;
	expect_fail("segment 1", "outside the file");

	/* file cut short in the middle of the data */
	make_elf();
	file_len = DATA_OFF + DATA_FILESZ - 1;
	expect_fail("segment 1", "outside the file");

	/* exactly up to the end is fine */
	make_elf();
	phdr(1)->p_filesz = FILE_SZ - DATA_OFF;
	expect_ok();

	make_elf();
	file_len = DATA_OFF + DATA_FILESZ;
	expect_ok();
}

Test(elf, segment_offset_overflow)
{
	/* offset + filesz wraps to a small value */
	make_elf();
	phdr(1)->p_offset = (uint64_t)0 - 0x40;
	cr_assert_lt(phdr(1)->p_offset + phdr(1)->p_filesz, (uint64_t)FILE_SZ);
	expect_fail("segment 1", "outside the file");

	/* filesz so large it wraps with a valid offset */
	make_elf();
	phdr(1)->p_filesz = UINT64_MAX - DATA_OFF + 1;
	phdr(1)->p_memsz = UINT64_MAX;
	cr_assert_eq(phdr(1)->p_offset + phdr(1)->p_filesz, 0);
	expect_fail("segment 1", "outside the file");
}

Test(elf, vaddr_below_window)
{
	make_elf();
	phdr(0)->p_vaddr = MV_IMAGE_GVA_MIN - 0x1000;
	ehdr()->e_entry = MV_IMAGE_GVA_MIN - 0x1000;
	expect_fail("segment 0", "outside the image window");

	make_elf();
	phdr(0)->p_vaddr = 0;
	ehdr()->e_entry = 0;
	expect_fail("segment 0", "outside the image window");

	/* one byte below */
	make_elf();
	phdr(0)->p_vaddr = MV_IMAGE_GVA_MIN - 1;
	expect_fail("segment 0", "outside the image window");
}

Test(elf, vaddr_above_window)
{
	make_elf();
	phdr(1)->p_vaddr = MV_IMAGE_GVA_MAX;
	expect_fail("segment 1", "outside the image window");

	/* starts inside, ends one byte past the top */
	make_elf();
	phdr(1)->p_vaddr = MV_IMAGE_GVA_MAX - DATA_MEMSZ + 1;
	expect_fail("segment 1", "outside the image window");

	/* in the VMM's own area and in guest RAM */
	make_elf();
	phdr(1)->p_vaddr = MV_BOOTINFO_GVA;
	expect_fail("segment 1", "outside the image window");

	make_elf();
	phdr(1)->p_vaddr = MV_RAM_GVA;
	expect_fail("segment 1", "outside the image window");

	/* memsz alone larger than the window */
	make_elf();
	phdr(1)->p_memsz = MV_IMAGE_GVA_MAX + 1;
	expect_fail("segment 1", "outside the image window");
}

Test(elf, vaddr_memsz_overflow)
{
	/* vaddr + memsz wraps past 2^64 to an address inside the window */
	make_elf();
	phdr(1)->p_vaddr = UINT64_MAX - 0xfff;
	phdr(1)->p_memsz = 0x401000;
	cr_assert_lt(phdr(1)->p_vaddr + phdr(1)->p_memsz, MV_IMAGE_GVA_MAX);
	expect_fail("segment 1", "outside the image window");

	/* vaddr inside the window, memsz huge so the sum wraps */
	make_elf();
	phdr(1)->p_memsz = (uint64_t)0 - DATA_VA + 0x2000;
	cr_assert_eq(phdr(1)->p_vaddr + phdr(1)->p_memsz, 0x2000);
	expect_fail("segment 1", "outside the image window");
}

Test(elf, overlapping_segments_refused)
{
	/* data starts inside the last 16 bytes of text */
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA + TEXT_SZ - 0x10;
	expect_fail("segments overlap", "0x4000f0");

	/* identical ranges */
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA;
	expect_fail("segments overlap", "program header 1");

	/* second segment entirely inside the first */
	make_elf();
	phdr(0)->p_memsz = 0x3000;
	phdr(1)->p_vaddr = TEXT_VA + 0x1000;
	phdr(1)->p_memsz = 0x100;
	phdr(1)->p_filesz = 0x80;
	expect_fail("segments overlap", NULL);

	/* second segment starts below and runs into the first */
	make_elf();
	phdr(0)->p_vaddr = DATA_VA;
	ehdr()->e_entry = DATA_VA;
	phdr(1)->p_vaddr = TEXT_VA;   /* [0x400000, 0x401800) overlaps [0x401000, 0x401100) */
	expect_fail("segments overlap", "0x401000");

	/* first segment entirely inside the second */
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA - 0x10 + 0x1000;
	phdr(0)->p_vaddr = TEXT_VA + 0x1000;
	ehdr()->e_entry = TEXT_VA + 0x1000;
	expect_fail("segments overlap", NULL);
}

Test(elf, segments_sharing_a_page_accepted)
{
	/* data begins at the byte right after text, in the same page */
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA + TEXT_SZ;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(img.hi, 0x402000ULL); /* 0x400100 + 0x1800 = 0x401900 */

	/* and the other way round: the later header is the lower segment, and
	 * its last byte is just before the first byte of the earlier one */
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA;                 /* [0x400000, 0x401800) */
	phdr(0)->p_vaddr = TEXT_VA + DATA_MEMSZ;    /* [0x401800, 0x401900) */
	ehdr()->e_entry = TEXT_VA + DATA_MEMSZ;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(img.hi, 0x402000ULL);
}

Test(elf, interp_refused)
{
	make_elf();
	phdr(2)->p_type = PT_INTERP;
	expect_fail("dynamically linked", "static");
}

Test(elf, dynamic_refused)
{
	make_elf();
	phdr(2)->p_type = PT_DYNAMIC;
	expect_fail("dynamically linked", "static");

	/* even as the first header, before any PT_LOAD */
	make_elf();
	phdr(0)->p_type = PT_DYNAMIC;
	expect_fail("dynamically linked", NULL);
}

Test(elf, no_pt_load)
{
	make_elf();
	phdr(0)->p_type = PT_NOTE;
	phdr(1)->p_type = PT_PHDR;
	expect_fail("no loadable segment", NULL);

	/* PT_LOADs that are all empty count as none */
	make_elf();
	phdr(0)->p_memsz = phdr(0)->p_filesz = 0;
	phdr(1)->p_memsz = phdr(1)->p_filesz = 0;
	expect_fail("no loadable segment", NULL);
}

/* Rewrite the image as n PT_LOADs of one 0x10-byte executable page each. */
static void make_many(unsigned n)
{
	make_elf();
	cr_assert_leq(n, MAX_PH);
	ehdr()->e_phnum = (Elf64_Half)n;
	ehdr()->e_entry = TEXT_VA;
	for (unsigned i = 0; i < n; i++) {
		Elf64_Phdr *ph = phdr(i);

		memset(ph, 0, sizeof(*ph));
		ph->p_type = PT_LOAD;
		ph->p_flags = PF_R | PF_X;
		ph->p_offset = TEXT_OFF;
		ph->p_vaddr = TEXT_VA + i * 0x1000ULL;
		ph->p_filesz = 0x10;
		ph->p_memsz = 0x10;
	}
}

Test(elf, max_segments_accepted)
{
	make_many(VMM_ELF_MAX_SEGS);
	cr_assert_leq(sizeof(Elf64_Ehdr) + VMM_ELF_MAX_SEGS * sizeof(Elf64_Phdr), TEXT_OFF);
	expect_ok();
	cr_assert_eq(img.nr_segs, VMM_ELF_MAX_SEGS);
	cr_assert_eq(img.hi, TEXT_VA + VMM_ELF_MAX_SEGS * 0x1000ULL);
	cr_assert_eq(img.segs[VMM_ELF_MAX_SEGS - 1].vaddr,
		     TEXT_VA + (VMM_ELF_MAX_SEGS - 1) * 0x1000ULL);
}

Test(elf, too_many_segments)
{
	make_many(VMM_ELF_MAX_SEGS + 1);
	expect_fail("more than 16 loadable segments", NULL);

	/* empty PT_LOADs do not count toward the limit */
	make_many(VMM_ELF_MAX_SEGS + 2);
	phdr(3)->p_memsz = phdr(3)->p_filesz = 0;
	phdr(9)->p_memsz = phdr(9)->p_filesz = 0;
	expect_ok();
	cr_assert_eq(img.nr_segs, VMM_ELF_MAX_SEGS);
}

Test(elf, image_span_too_large)
{
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA + VMM_IMAGE_MAX;
	phdr(1)->p_memsz = 0x1000;
	expect_fail("image spans", "limit is 64 MiB");

	/* one big bss segment */
	make_elf();
	phdr(1)->p_memsz = VMM_IMAGE_MAX;
	expect_fail("image spans", NULL);
}

Test(elf, image_span_at_limit_accepted)
{
	make_elf();
	phdr(1)->p_vaddr = TEXT_VA + VMM_IMAGE_MAX - 0x1000;
	phdr(1)->p_memsz = 0x1000;
	expect_ok();
	cr_assert_eq(img.hi - img.lo, VMM_IMAGE_MAX);
}

Test(elf, entry_outside_segments)
{
	make_elf();
	ehdr()->e_entry = 0x403000;
	expect_fail("entry point 0x403000", "not inside an executable segment");

	/* one past the end of text (the gap before data) */
	make_elf();
	ehdr()->e_entry = TEXT_VA + TEXT_SZ;
	expect_fail("entry point 0x400100", NULL);

	make_elf();
	ehdr()->e_entry = TEXT_VA - 1;
	expect_fail("entry point 0x3fffff", NULL);

	make_elf();
	ehdr()->e_entry = 0;
	expect_fail("entry point 0x0 ", NULL);

	/* the last byte of text is fine */
	make_elf();
	ehdr()->e_entry = TEXT_VA + TEXT_SZ - 1;
	expect_ok();
	cr_assert_eq(img.entry, TEXT_VA + TEXT_SZ - 1);
}

Test(elf, entry_in_nonexec_segment)
{
	make_elf();
	ehdr()->e_entry = DATA_VA;
	expect_fail("entry point 0x401000", "not inside an executable segment");

	/* inside data's bss */
	make_elf();
	ehdr()->e_entry = DATA_VA + 0x1000;
	expect_fail("entry point", "executable");

	/* text without PF_X */
	make_elf();
	phdr(0)->p_flags = PF_R;
	expect_fail("entry point", "executable");
}

Test(elf, zero_memsz_load_ignored)
{
	/* an empty PT_LOAD with nonsense addresses is skipped, not validated */
	make_elf();
	phdr(2)->p_type = PT_LOAD;
	phdr(2)->p_flags = PF_R | PF_W | PF_X;
	phdr(2)->p_vaddr = 0;
	phdr(2)->p_offset = 0xffffffff0000ULL;
	phdr(2)->p_filesz = 0;
	phdr(2)->p_memsz = 0;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(img.hi, 0x403000ULL);
	/* and it does not make a non-exec address an entry point */
	ehdr()->e_entry = DATA_VA;
	expect_fail("entry point", NULL);
}

Test(elf, zero_memsz_inside_other_segment_no_overlap)
{
	make_elf();
	phdr(2)->p_type = PT_LOAD;
	phdr(2)->p_vaddr = TEXT_VA + 0x20;
	phdr(2)->p_memsz = 0;
	expect_ok();
	cr_assert_eq(img.nr_segs, 2);
}

/* ---- loading ---- */

Test(elf, load_copies_and_zero_fills)
{
	uint8_t *dst;
	size_t span;

	make_elf();
	expect_ok();
	span = img.hi - img.lo;
	cr_assert_eq(span, 0x3000);
	dst = malloc(span);
	cr_assert_not_null(dst);
	memset(dst, 0xcc, span);
	vmm_elf_load(file.b, &img, dst);

	for (unsigned i = 0; i < TEXT_SZ; i++)
		cr_assert_eq(dst[i], text_byte(i), "text byte %u", i);
	for (size_t i = TEXT_SZ; i < DATA_VA - TEXT_VA; i++)
		cr_assert_eq(dst[i], 0, "gap byte 0x%zx = 0x%x", i, dst[i]);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		cr_assert_eq(dst[DATA_VA - TEXT_VA + i], data_byte(i), "data byte %u", i);
	for (size_t i = DATA_VA - TEXT_VA + DATA_FILESZ; i < span; i++)
		cr_assert_eq(dst[i], 0, "bss byte 0x%zx = 0x%x", i, dst[i]);
	free(dst);
}

Test(elf, load_unaligned_segments)
{
	/* segments not at page starts land at vaddr - lo */
	uint8_t *dst;
	size_t span;

	make_elf();
	phdr(0)->p_vaddr = TEXT_VA + 0x30;
	ehdr()->e_entry = TEXT_VA + 0x30;
	phdr(1)->p_vaddr = TEXT_VA + 0x30 + TEXT_SZ; /* shares text's page */
	expect_ok();
	span = img.hi - img.lo;
	cr_assert_eq(img.lo, TEXT_VA);
	cr_assert_eq(span, 0x2000);
	dst = malloc(span);
	cr_assert_not_null(dst);
	memset(dst, 0xcc, span);
	vmm_elf_load(file.b, &img, dst);

	for (unsigned i = 0; i < 0x30; i++)
		cr_assert_eq(dst[i], 0, "byte %u before text", i);
	for (unsigned i = 0; i < TEXT_SZ; i++)
		cr_assert_eq(dst[0x30 + i], text_byte(i), "text byte %u", i);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		cr_assert_eq(dst[0x30 + TEXT_SZ + i], data_byte(i), "data byte %u", i);
	for (size_t i = 0x30 + TEXT_SZ + DATA_FILESZ; i < span; i++)
		cr_assert_eq(dst[i], 0, "bss byte 0x%zx", i);
	free(dst);
}

/* ---- a real guest ---- */

Test(elf, real_guest_hello)
{
	const char *path = MV_BUILD_DIR "/guest/hello";
	void *buf = NULL;
	size_t len = 0;
	const Elf64_Ehdr *eh;
	bool exec = false;
	int ret;

	ret = vmm_image_read(path, &buf, &len, err, sizeof(err));
	cr_assert_eq(ret, 0, "vmm_image_read(%s): %d %s", path, ret, err);
	cr_assert_gt(len, sizeof(Elf64_Ehdr));
	eh = buf;

	ret = vmm_elf_parse(buf, len, &img, err, sizeof(err));
	cr_assert_eq(ret, 0, "%s does not parse: %s", path, err);
	cr_assert_eq(img.entry, eh->e_entry);
	cr_assert_geq(img.nr_segs, 1);
	cr_assert_leq(img.nr_segs, VMM_ELF_MAX_SEGS);
	cr_assert_geq(img.lo, MV_IMAGE_GVA_MIN);
	cr_assert_leq(img.hi, MV_IMAGE_GVA_MAX);
	cr_assert_lt(img.lo, img.hi);
	cr_assert_eq(img.lo % 4096, 0);
	cr_assert_eq(img.hi % 4096, 0);
	cr_assert_leq(img.hi - img.lo, VMM_IMAGE_MAX);
	cr_assert(img.entry >= img.lo && img.entry < img.hi);
	for (unsigned i = 0; i < img.nr_segs; i++) {
		const struct vmm_elf_segment *s = &img.segs[i];

		cr_assert_leq(s->filesz, s->memsz);
		cr_assert_leq(s->offset + s->filesz, len);
		if (s->exec && img.entry >= s->vaddr && img.entry < s->vaddr + s->memsz)
			exec = true;
	}
	cr_assert(exec, "entry is not in an executable segment");

	/* and it loads */
	{
		uint8_t *dst = malloc(img.hi - img.lo);

		cr_assert_not_null(dst);
		vmm_elf_load(buf, &img, dst);
		for (unsigned i = 0; i < img.nr_segs; i++) {
			const struct vmm_elf_segment *s = &img.segs[i];

			cr_assert_eq(memcmp(dst + (s->vaddr - img.lo),
					    (const uint8_t *)buf + s->offset, s->filesz), 0,
				     "segment %u differs after load", i);
		}
		free(dst);
	}
	free(buf);
}

Test(elf, real_file_not_elf)
{
	/* a file that exists but is not ELF: the build tree's build.ninja */
	const char *path = MV_BUILD_DIR "/build.ninja";
	void *buf = NULL;
	size_t len = 0;
	int ret;

	ret = vmm_image_read(path, &buf, &len, err, sizeof(err));
	cr_assert_eq(ret, 0, "vmm_image_read(%s): %d %s", path, ret, err);
	ret = vmm_elf_parse(buf, len, &img, err, sizeof(err));
	cr_assert_eq(ret, -ENOEXEC);
	cr_assert_not_null(strstr(err, "bad magic"), "err '%s'", err);
	free(buf);
}
