// SPDX-License-Identifier: MIT
/*
 * Guest ELF validation. Every field that the loader will trust is checked
 * here, with overflow-safe arithmetic, and each refusal names what is wrong
 * in one line, so that "memvisor run /etc/passwd" says why it is not a guest.
 */
#include "elfimg.h"

#include "memvisor/abi.h"
#include "memvisor/err.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...) mv_seterr(err, errlen, -ENOEXEC, __VA_ARGS__)

static int elf_check_header(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (len < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return FAIL("not an ELF file (bad magic)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return FAIL("not a 64-bit ELF file (class %u)", eh->e_ident[EI_CLASS]);
	if (len < sizeof(*eh))
		return FAIL("truncated ELF header (%zu bytes)", len);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return FAIL("not a little-endian ELF file");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT)
		return FAIL("unknown ELF version %u in the identification bytes", eh->e_ident[EI_VERSION]);
	if (eh->e_version != EV_CURRENT)
		return FAIL("unknown ELF version %u", eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return FAIL("not an x86-64 program (machine %u)", eh->e_machine);
	if (eh->e_type == ET_DYN)
		return FAIL("position-independent executable; guests are linked -static -no-pie");
	if (eh->e_type != ET_EXEC)
		return FAIL("not an executable (ELF type %u)", eh->e_type);
	if (eh->e_phnum == 0)
		return FAIL("no program headers");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return FAIL("bad program header size %u", eh->e_phentsize);
	if (eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return FAIL("program headers lie outside the file");
	if (eh->e_phoff % 8)
		return FAIL("misaligned program headers");
	return 0;
}

static int elf_check_segment(const Elf64_Phdr *ph, unsigned i, size_t len,
			     char *err, size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz)
		return FAIL("segment %u: file size 0x%llx exceeds memory size 0x%llx", i,
			    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return FAIL("segment %u: data at offset 0x%llx+0x%llx lies outside the file", i,
			    (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz);
	if (ph->p_vaddr < MV_IMAGE_GVA_MIN || ph->p_memsz > MV_IMAGE_GVA_MAX ||
	    ph->p_vaddr > MV_IMAGE_GVA_MAX - ph->p_memsz)
		return FAIL("segment %u: addresses 0x%llx+0x%llx outside the image window "
			    "[0x%llx, 0x%llx)", i, (unsigned long long)ph->p_vaddr,
			    (unsigned long long)ph->p_memsz, MV_IMAGE_GVA_MIN, MV_IMAGE_GVA_MAX);
	return 0;
}

static int elf_add_segment(struct vmm_elf_image *img, const Elf64_Phdr *ph, unsigned i,
			   char *err, size_t errlen)
{
	gva_t lo = ph->p_vaddr, hi = ph->p_vaddr + ph->p_memsz;

	for (unsigned j = 0; j < img->nr_segs; j++) {
		const struct vmm_elf_segment *s = &img->segs[j];

		/* sharing a page is fine (permissions are merged); sharing bytes is not */
		if (lo < s->vaddr + s->memsz && s->vaddr < hi)
			return FAIL("segments overlap at 0x%llx (program header %u)",
				    (unsigned long long)MAX(lo, s->vaddr), i);
	}
	if (img->nr_segs == VMM_ELF_MAX_SEGS)
		return FAIL("more than %d loadable segments", VMM_ELF_MAX_SEGS);
	img->segs[img->nr_segs++] = (struct vmm_elf_segment){
		.vaddr = lo, .memsz = ph->p_memsz, .filesz = ph->p_filesz,
		.offset = ph->p_offset, .write = !!(ph->p_flags & PF_W),
		.exec = !!(ph->p_flags & PF_X),
	};
	if (img->nr_segs == 1 || lo < img->lo)
		img->lo = ALIGN_DOWN(lo, PAGE_SIZE);
	if (img->nr_segs == 1 || hi > img->hi)
		img->hi = ALIGN_UP(hi, PAGE_SIZE);
	return 0;
}

static bool elf_entry_ok(const struct vmm_elf_image *img)
{
	for (unsigned j = 0; j < img->nr_segs; j++) {
		const struct vmm_elf_segment *s = &img->segs[j];

		if (s->exec && img->entry >= s->vaddr && img->entry < s->vaddr + s->memsz)
			return true;
	}
	return false;
}

int vmm_elf_parse(const void *buf, size_t len, struct vmm_elf_image *img,
		  char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = buf;
	int ret = elf_check_header(eh, len, err, errlen);

	if (ret)
		return ret;
	memset(img, 0, sizeof(*img));
	img->entry = eh->e_entry;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, (const uint8_t *)buf + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
			return FAIL("dynamically linked; guests must be static");
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		ret = elf_check_segment(&ph, i, len, err, errlen);
		if (!ret)
			ret = elf_add_segment(img, &ph, i, err, errlen);
		if (ret)
			return ret;
	}
	if (img->nr_segs == 0)
		return FAIL("no loadable segment");
	if (img->hi - img->lo > VMM_IMAGE_MAX)
		return FAIL("image spans %llu KiB; the limit is %llu MiB",
			    (unsigned long long)((img->hi - img->lo) >> 10), VMM_IMAGE_MAX >> 20);
	if (!elf_entry_ok(img))
		return FAIL("entry point 0x%llx is not inside an executable segment",
			    (unsigned long long)img->entry);
	return 0;
}

void vmm_elf_load(const void *buf, const struct vmm_elf_image *img, void *dst)
{
	memset(dst, 0, img->hi - img->lo);
	for (unsigned j = 0; j < img->nr_segs; j++) {
		const struct vmm_elf_segment *s = &img->segs[j];

		memcpy((uint8_t *)dst + (s->vaddr - img->lo),
		       (const uint8_t *)buf + s->offset, s->filesz);
	}
}
