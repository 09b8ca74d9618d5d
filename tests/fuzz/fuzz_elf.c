// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the guest ELF loader (vmm/elfimg.c). The input is a file
 * handed to "memvisor run". A refusal must be -ENOEXEC with one line of
 * reason; an accepted image must keep every promise of elfimg.h (segments in
 * the image window, inside the file, not overlapping, the entry in an
 * executable one), and loading it must lay each segment's bytes at its
 * address with zeros after them, without touching memory outside the image.
 */
#include "fuzz.h"

#include "memvisor/abi.h"
#include "vmm/elfimg.h"

#include <errno.h>

static void check_refusal(int ret, const char *err, size_t errlen)
{
	size_t len = strnlen(err, errlen);

	FZ_CHECK(ret == -ENOEXEC, "refused with %d, not -ENOEXEC", ret);
	FZ_CHECK(len > 0 && len < errlen, "refusal without a reason (%zu bytes)", len);
	FZ_CHECK(!strchr(err, '\n'), "reason is not one line: %s", err);
}

static void check_segment(const struct vmm_elf_image *img, unsigned i, size_t size)
{
	const struct vmm_elf_segment *s = &img->segs[i];

	FZ_CHECK(s->memsz > 0 && s->filesz <= s->memsz, "segment %u: filesz 0x%llx memsz 0x%llx",
		 i, FZ_ULL(s->filesz), FZ_ULL(s->memsz));
	FZ_CHECK(s->offset <= size && s->filesz <= size - s->offset,
		 "segment %u: data 0x%llx+0x%llx outside a file of %zu bytes", i,
		 FZ_ULL(s->offset), FZ_ULL(s->filesz), size);
	FZ_CHECK(s->vaddr >= MV_IMAGE_GVA_MIN && s->vaddr + s->memsz <= MV_IMAGE_GVA_MAX &&
		 s->vaddr + s->memsz > s->vaddr, "segment %u: 0x%llx+0x%llx outside the window",
		 i, FZ_ULL(s->vaddr), FZ_ULL(s->memsz));
	FZ_CHECK(s->vaddr >= img->lo && s->vaddr + s->memsz <= img->hi,
		 "segment %u outside the image span", i);
	for (unsigned j = 0; j < i; j++) {
		const struct vmm_elf_segment *o = &img->segs[j];

		FZ_CHECK(s->vaddr >= o->vaddr + o->memsz || o->vaddr >= s->vaddr + s->memsz,
			 "segments %u and %u overlap", j, i);
	}
}

static void check_image(const struct vmm_elf_image *img, size_t size)
{
	bool entry_ok = false;

	FZ_CHECK(img->nr_segs >= 1 && img->nr_segs <= VMM_ELF_MAX_SEGS, "%u segments", img->nr_segs);
	FZ_CHECK(img->lo % PAGE_SIZE == 0 && img->hi % PAGE_SIZE == 0 && img->lo < img->hi,
		 "span 0x%llx-0x%llx", FZ_ULL(img->lo), FZ_ULL(img->hi));
	FZ_CHECK(img->hi - img->lo <= VMM_IMAGE_MAX, "span of %llu bytes", FZ_ULL(img->hi - img->lo));
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct vmm_elf_segment *s = &img->segs[i];

		check_segment(img, i, size);
		entry_ok |= s->exec && img->entry >= s->vaddr && img->entry < s->vaddr + s->memsz;
	}
	FZ_CHECK(entry_ok, "entry 0x%llx outside every executable segment", FZ_ULL(img->entry));
}

/* The loaded image: each segment's file bytes, then zeros; zeros between segments. */
static void check_load(const uint8_t *data, const struct vmm_elf_image *img)
{
	size_t span = img->hi - img->lo;
	uint8_t *mem = malloc(span), *want = calloc(1, span);

	FZ_CHECK(mem && want, "out of memory for a %zu-byte image", span);
	memset(mem, 0xa5, span); /* the loader must clear what it does not copy */
	vmm_elf_load(data, img, mem);
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct vmm_elf_segment *s = &img->segs[i];

		memcpy(want + (s->vaddr - img->lo), data + s->offset, s->filesz);
	}
	FZ_CHECK(!memcmp(mem, want, span), "loaded image differs from the segments' bytes");
	free(mem);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_elf_image img;
	char err[256];
	int ret;

	memset(err, 0, sizeof(err));
	ret = vmm_elf_parse(data, size, &img, err, sizeof(err));
	if (ret) {
		check_refusal(ret, err, sizeof(err));
		return 0;
	}
	check_image(&img, size);
	/* a large span with little data is legal; loading it only costs time */
	if (img.hi - img.lo <= (4ULL << 20))
		check_load(data, &img);
	return 0;
}
