// SPDX-License-Identifier: MIT
/*
 * Fuzz target: hypercall arguments, which are guest-virtual addresses that
 * memvisor follows through the guest's page tables (ept/gpt.c's walker and
 * vmm/gmem.c's copies). The guest here has 8 pages of RAM, a system page and
 * a ROM page; the input writes page-table entries anywhere in them (pointing
 * anywhere, with any flags, huge pages included) and then asks for walks,
 * buffer copies and string copies at fuzzed addresses. Each answer is held
 * to a reference walker written the plain way, byte by byte:
 *  - gpt_walk: same result, translation, levels, entries and rights;
 *  - vmm_copy_from_guest: -EFAULT exactly when some byte is not readable
 *    (not present, not user, or not at a GPA of guest memory), else the bytes;
 *  - vmm_strncpy_from_guest: the string's length, -ENAMETOOLONG with a
 *    terminated prefix, or -EFAULT, as the bytes up to the NUL say (and
 *    the rest of the page each is in, which it reads ahead).
 * Memory outside the guest's regions is never read (ASan would see it).
 */
#include "fuzz.h"

#include "memvisor/abi.h"
#include "vmm/guest.h"

#include <errno.h>

#define RAM_PAGES 8
#define NR_PAGES  (RAM_PAGES + 2)   /* RAM, then the system page, then the ROM page */

/* GPA of page i of the guest (RAM first). */
static gpa_t page_gpa(unsigned i)
{
	if (i < RAM_PAGES)
		return MV_RAM_GPA + i * PAGE_SIZE;
	return i == RAM_PAGES ? MV_SYS_GPA : MV_ROM_GPA;
}

/* The reference: [gpa, gpa + len) inside one region, else NULL. */
static const uint8_t *ref_host(struct vmm_guest *g, gpa_t gpa, uint64_t len)
{
	const gpa_t base[] = { MV_RAM_GPA, MV_SYS_GPA, MV_ROM_GPA };
	const uint8_t *host[] = { g->ram, g->sys, g->rom };
	const uint64_t size[] = { g->ram_size, g->sys_size, g->rom_size };

	for (unsigned r = 0; r < ARRAY_SIZE(base); r++) {
		uint64_t off = gpa - base[r];

		if (gpa >= base[r] && off <= size[r] && len <= size[r] - off)
			return host[r] + off;
	}
	return NULL;
}

static bool ref_canonical(gva_t gva)
{
	uint64_t top = gva >> 47;

	return top == 0 || top == 0x1ffff;
}

/* The reference walk, the plain way. */
static int ref_walk(struct vmm_guest *g, gpa_t cr3, gva_t gva, struct gpt_walk *w)
{
	gpa_t table = cr3 & GPT_ADDR;

	memset(w, 0, sizeof(*w));
	w->gva = gva;
	w->writable = w->user = true;
	if (!ref_canonical(gva))
		return -EINVAL;
	for (int level = 4, i = 0; level >= 1; level--, i++) {
		const uint8_t *t = ref_host(g, table, PAGE_SIZE);
		unsigned index = (unsigned)(gva >> (12 + 9 * (level - 1))) & 511;
		uint64_t e;

		if (!t) {
			w->failed_level = level;
			return -ERANGE;
		}
		memcpy(&e, t + 8 * index, 8);
		w->table[i] = table;
		w->entry[i] = e;
		w->levels = i + 1;
		if (!(e & GPT_P)) {
			w->failed_level = level;
			return -EFAULT;
		}
		w->writable = w->writable && (e & GPT_W);
		w->user = w->user && (e & GPT_U);
		w->nx = w->nx || (e & GPT_NX);
		if (level == 1 || (level <= 3 && (e & GPT_PS))) {
			w->page_size = 1ULL << (12 + 9 * (level - 1));
			w->gpa = (e & GPT_ADDR & ~(w->page_size - 1)) | (gva & (w->page_size - 1));
			return 0;
		}
		table = e & GPT_ADDR;
	}
	return -EFAULT;
}

/* The host byte behind gva for a hypercall, or NULL: mapped for user
 * access, and at a GPA inside guest memory. */
static const uint8_t *ref_byte(struct vmm_guest *g, gva_t gva, struct gpt_walk *w)
{
	if (ref_walk(g, g->gpt.root, gva, w) || !w->user)
		return NULL;
	return ref_host(g, w->gpa, 1);
}

static void check_walk(struct vmm_guest *g, gpa_t cr3, gva_t gva)
{
	struct gpt_walk got, want;
	int ret = gpt_walk(cr3, gva, vmm_gpa_host, g, &got);
	int ref = ref_walk(g, cr3, gva, &want);

	FZ_CHECK(ret == ref, "walk of 0x%llx from cr3 0x%llx: %d, the reference says %d",
		 FZ_ULL(gva), FZ_ULL(cr3), ret, ref);
	FZ_CHECK(got.levels == want.levels && got.failed_level == want.failed_level &&
		 !memcmp(got.entry, want.entry, sizeof(got.entry)) &&
		 !memcmp(got.table, want.table, sizeof(got.table)),
		 "walk of 0x%llx: levels %d/%d, failed level %d/%d", FZ_ULL(gva), got.levels,
		 want.levels, got.failed_level, want.failed_level);
	if (!ret)
		FZ_CHECK(got.gpa == want.gpa && got.page_size == want.page_size &&
			 got.writable == want.writable && got.user == want.user && got.nx == want.nx,
			 "walk of 0x%llx: gpa 0x%llx (want 0x%llx), size 0x%llx, w%d u%d nx%d",
			 FZ_ULL(gva), FZ_ULL(got.gpa), FZ_ULL(want.gpa), FZ_ULL(got.page_size),
			 got.writable, got.user, got.nx);
}

/* A copy succeeds when every byte is readable. (A run of bytes in one page
 * either is or is not wholly inside guest memory when one byte's reading
 * is checked: the regions are far apart, so no run reaches from one into
 * another.) */
static void check_copy(struct vmm_guest *g, gva_t gva, size_t len)
{
	uint8_t *got = malloc(len + 1), *want = malloc(len + 1);
	struct gpt_walk w;
	int ref = 0, ret;

	FZ_CHECK(got && want, "out of memory");
	for (size_t i = 0; i < len && !ref; i++) {
		const uint8_t *p = ref_byte(g, gva + i, &w);

		if (!p)
			ref = -EFAULT;
		else
			want[i] = *p;
	}
	ret = vmm_copy_from_guest(g, got, gva, len);
	FZ_CHECK(ret == ref, "copy of %zu bytes at 0x%llx: %d, the reference says %d", len,
		 FZ_ULL(gva), ret, ref);
	FZ_CHECK(ret || !memcmp(got, want, len), "copy of %zu bytes at 0x%llx: wrong bytes", len,
		 FZ_ULL(gva));
	free(got);
	free(want);
}

/* A string is read a page at a time, up to max: every byte from where the
 * reading enters a page to that page's end (or max) must be readable, even
 * past the NUL; then the string is the bytes up to its NUL. */
static void check_string(struct vmm_guest *g, gva_t gva, size_t max)
{
	char *got = malloc(max), *want = malloc(max);
	int ref = -ENAMETOOLONG, ret;
	struct gpt_walk w;

	FZ_CHECK(got && want, "out of memory");
	for (size_t n = 0; n < max && ref == -ENAMETOOLONG;) {
		const uint8_t *p = ref_byte(g, gva + n, &w);
		size_t chunk = p ? MIN(w.page_size - ((gva + n) & (w.page_size - 1)), max - n) : 0;

		if (!p || !ref_host(g, w.gpa, chunk)) {
			ref = -EFAULT;
			break;
		}
		for (size_t i = 0; i < chunk; i++, n++) {
			want[n] = (char)p[i];
			if (!p[i]) {
				ref = (int)n;
				break;
			}
		}
	}
	if (ref == -ENAMETOOLONG)
		want[max - 1] = '\0';
	ret = vmm_strncpy_from_guest(g, got, gva, max);
	FZ_CHECK(ret == ref, "string at 0x%llx (max %zu): %d, the reference says %d", FZ_ULL(gva),
		 max, ret, ref);
	if (ret >= 0)
		FZ_CHECK(!memcmp(got, want, (size_t)ret + 1), "string at 0x%llx differs", FZ_ULL(gva));
	else if (ret == -ENAMETOOLONG)
		FZ_CHECK(!memcmp(got, want, max), "truncated string at 0x%llx differs", FZ_ULL(gva));
	free(got);
	free(want);
}

#define RECENT 8

struct tables {
	gva_t recent[RECENT];   /* GVAs given a path of entries, for the checks to use */
	unsigned nr_recent;
};

/* Entry flags: mostly present and user, the rest even odds or rarer. */
static uint64_t fuzz_flags(struct fz *f)
{
	uint64_t v = fz_u16(f);

	return ((v & 7) ? GPT_P : 0) | ((v >> 3 & 7) ? GPT_U : 0) | (v >> 6 & 1 ? GPT_W : 0) |
	       ((v >> 7 & 7) ? 0 : GPT_PS) | ((v >> 10 & 3) ? 0 : GPT_NX) |
	       (v >> 12 & 1 ? GPT_A : 0) | (v >> 13 & 1 ? GPT_D : 0);
}

/* An entry: mostly a page of the guest with fuzzed flags, sometimes raw bits. */
static uint64_t fuzz_entry(struct fz *f)
{
	if (fz_below(f, 8) == 0)
		return fz_u64(f);
	return page_gpa((unsigned)fz_below(f, NR_PAGES)) | fuzz_flags(f);
}

/* A table index, mostly one of a few, so that entries and GVAs meet. */
static uint64_t fuzz_index(struct fz *f)
{
	static const uint64_t common[] = { 0, 1, 2, 256, 510, 511 };
	uint64_t i = fz_below(f, ARRAY_SIZE(common) + 2);

	return i < ARRAY_SIZE(common) ? common[i] : fz_below(f, 512);
}

/* A GVA: mostly built from four table indexes, sometimes raw. */
static gva_t fuzz_gva(struct fz *f)
{
	gva_t gva = 0;

	if (fz_below(f, 8) == 0)
		return fz_u64(f);
	for (int level = 4; level >= 1; level--)
		gva |= fuzz_index(f) << (12 + 9 * (level - 1));
	if (gva >> 47)
		gva |= 0xffff000000000000ULL; /* canonical */
	return gva | fz_below(f, PAGE_SIZE);
}

/* Write the entries that take a GVA from the root down to a page, each
 * pointing at a fuzzed page of the guest with fuzzed flags: full walks are
 * then common rather than a matter of luck. */
static void write_path(struct fz *f, struct vmm_guest *g, struct tables *tb)
{
	gva_t gva = fuzz_gva(f);
	gpa_t table = g->gpt.root & GPT_ADDR;

	for (int level = 4; level >= 1; level--) {
		uint8_t *t = (uint8_t *)ref_host(g, table, PAGE_SIZE);
		uint64_t e = fuzz_entry(f);

		if (!t)
			break;
		memcpy(t + 8 * ((gva >> (12 + 9 * (level - 1))) & 511), &e, 8);
		table = e & GPT_ADDR;
	}
	tb->recent[tb->nr_recent++ % RECENT] = gva;
}

static void write_entries(struct fz *f, struct vmm_guest *g, struct tables *tb)
{
	unsigned n = (unsigned)fz_below(f, 32);

	for (unsigned i = 0; i < n; i++) {
		if (fz_below(f, 4)) {
			write_path(f, g, tb);
		} else {
			gpa_t at = page_gpa((unsigned)fz_below(f, NR_PAGES)) + 8 * fuzz_index(f);
			uint64_t e = fuzz_entry(f);

			memcpy((void *)ref_host(g, at, 8), &e, 8);
		}
	}
}

/* Where a check looks: near a GVA given a path, or anywhere. */
static gva_t check_gva(struct fz *f, const struct tables *tb)
{
	if (tb->nr_recent && fz_bool(f))
		return tb->recent[fz_below(f, MIN(tb->nr_recent, RECENT))] + fz_below(f, 2 * PAGE_SIZE) -
		       PAGE_SIZE;
	return fuzz_gva(f);
}

static void *region(uint64_t size, uint8_t seed)
{
	uint8_t *p = aligned_alloc(PAGE_SIZE, size);

	FZ_CHECK(p, "out of memory");
	/* text with a NUL now and then, so that strings end */
	for (uint64_t i = 0; i < size; i++)
		p[i] = (i * 7 + seed) % 61 ? (uint8_t)('a' + (i + seed) % 26) : 0;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct vmm_guest *g = calloc(1, sizeof(*g));
	struct tables tb = { .nr_recent = 0 };
	char err[256];

	FZ_CHECK(g, "out of memory");
	g->ram_size = RAM_PAGES * PAGE_SIZE;
	g->sys_size = g->rom_size = PAGE_SIZE;
	g->ram = region(g->ram_size, 0);
	g->sys = region(g->sys_size, 1);
	g->rom = region(g->rom_size, 2);
	/* RAM is read through the memory manager: a host-managed one, no pool */
	struct gmm_mm_config mc = { .ram_size = g->ram_size, .ram_hva = g->ram };
	FZ_CHECK(!gmm_mm_create(NULL, &mc, &g->mm, err, sizeof(err)), "gmm_mm_create: %s", err);
	g->gpt.root = page_gpa((unsigned)fz_below(&f, NR_PAGES)) | (fz_u16(&f) & 0xfff);
	write_entries(&f, g, &tb);
	while (fz_more(&f)) {
		gva_t gva = check_gva(&f, &tb);

		switch (fz_below(&f, 3)) {
		case 0:
			check_walk(g, fz_bool(&f) ? g->gpt.root : fuzz_entry(&f), gva);
			break;
		case 1:
			check_copy(g, gva, fz_below(&f, 3 * PAGE_SIZE));
			break;
		default:
			check_string(g, gva, 1 + fz_below(&f, 2 * PAGE_SIZE));
			break;
		}
	}
	gmm_mm_destroy(g->mm);
	free(g->ram);
	free(g->sys);
	free(g->rom);
	free(g);
	return 0;
}
