// SPDX-License-Identifier: MIT
/*
 * memtest: write a pattern derived from each word's guest-physical address
 * and a seed to every page of RAM, then read all of it back and compare. Run
 * under memory pressure, this is the proof that paging loses no byte. With
 * several vCPUs each takes an equal slice. Exits 1 on any mismatch.
 * --read-first reads each pass's pages before writing them: all zero in the
 * first pass (memory never written), the last pass's pattern after; so
 * reads of never-written memory come first, as in a program that reads
 * its fresh heap before filling it.
 */
#include "mv.h"

static uint64_t expect(uint64_t gpa, uint64_t seed)
{
	return mv_hash64(gpa ^ (seed * 0x9e3779b97f4a7c15ULL));
}

static void fill(uint64_t *w, uint64_t gpa, uint64_t seed)
{
	for (unsigned i = 0; i < MV_PAGE_SIZE / 8; i++)
		w[i] = expect(gpa + i * 8, seed);
}

static uint64_t check(const uint64_t *w, uint64_t gpa, uint64_t seed, uint64_t *shown)
{
	uint64_t bad = 0;

	for (unsigned i = 0; i < MV_PAGE_SIZE / 8; i++) {
		uint64_t want = expect(gpa + i * 8, seed);

		if (w[i] == want)
			continue;
		if ((*shown)++ < 8)
			mv_printf("memtest: mismatch at GPA 0x%lx: read 0x%016lx, wrote 0x%016lx\n",
				  gpa + i * 8, w[i], want);
		bad++;
	}
	return bad;
}

/* a page never written reads as zeros */
static uint64_t check_zero(const uint64_t *w, uint64_t gpa, uint64_t *shown)
{
	uint64_t bad = 0;

	for (unsigned i = 0; i < MV_PAGE_SIZE / 8; i++) {
		if (!w[i])
			continue;
		if ((*shown)++ < 8)
			mv_printf("memtest: mismatch at GPA 0x%lx: read 0x%016lx from memory never "
				  "written\n", gpa + i * 8, w[i]);
		bad++;
	}
	return bad;
}

static volatile uint64_t arrived;

/* --shared: nobody checks a pass before everyone has written it */
static void barrier(uint64_t *generation)
{
	uint64_t target = ++*generation * mv_ncpus();

	__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < target)
		mv_pause();
}

int main(int argc, char **argv)
{
	static const char *const known[] = { "size", "passes", "seed", "!shared", "!read-first",
					     NULL };
	unsigned cpu = mv_cpu(), ncpu = mv_ncpus();

	mv_opts_check(argc, argv, known);
	uint64_t size = mv_opt_size(argc, argv, "size", mv_ram_size());
	uint64_t passes = mv_opt_u64(argc, argv, "passes", 1);
	uint64_t seed = mv_opt_u64(argc, argv, "seed", 1);

	if (size < MV_PAGE_SIZE || size > mv_ram_size() || passes == 0) {
		mv_printf("memtest: --size must be between 4K and the guest RAM (%lu MiB), "
			  "--passes at least 1\n", mv_ram_size() >> 20);
		return 2;
	}
	uint64_t pages = size / MV_PAGE_SIZE;
	bool shared = mv_flag(argc, argv, "shared"), read_first = mv_flag(argc, argv, "read-first");
	uint64_t first = shared ? 0 : pages * cpu / ncpu;
	uint64_t n = shared ? pages : pages * (cpu + 1) / ncpu - first;
	uint64_t gpa0 = mv_boot()->ram_gpa + first * MV_PAGE_SIZE;
	uint8_t *base = mv_ram() + first * MV_PAGE_SIZE;
	uint64_t bad = 0, shown = 0, checked = 0, t0 = mv_ns(), generation = 0;

	for (uint64_t p = 0; p < passes; p++) {
		for (uint64_t i = 0; read_first && i < n; i++) {
			const uint64_t *w = (const uint64_t *)(base + i * MV_PAGE_SIZE);
			uint64_t gpa = gpa0 + i * MV_PAGE_SIZE;

			bad += p ? check(w, gpa, seed + p - 1, &shown) : check_zero(w, gpa, &shown);
		}
		if (read_first && shared)
			barrier(&generation); /* read before anyone writes */
		for (uint64_t i = 0; i < n; i++)
			fill((uint64_t *)(base + i * MV_PAGE_SIZE), gpa0 + i * MV_PAGE_SIZE, seed + p);
		mv_sync(2 * p + 1);
		if (shared)
			barrier(&generation);
		for (uint64_t i = 0; i < n; i++)
			bad += check((const uint64_t *)(base + i * MV_PAGE_SIZE),
				     gpa0 + i * MV_PAGE_SIZE, seed + p, &shown);
		mv_sync(2 * p + 2);
		if (shared)
			barrier(&generation);
		checked += n;
	}
	uint64_t ms = (mv_ns() - t0) / 1000000;

	mv_printf("memtest: vCPU %u: %lu pages (%lu MiB) x %lu pass%s written and verified in %lu ms, "
		  "%lu mismatched words\n", cpu, n, (uint64_t)(n * MV_PAGE_SIZE >> 20), passes,
		  passes == 1 ? "" : "es", ms, bad);
	mv_report("pages_checked", checked);
	mv_report("mismatches", bad);
	return bad ? 1 : 0;
}
