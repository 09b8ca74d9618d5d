// SPDX-License-Identifier: MIT
/*
 * balloon: memory given back, as a guest with free-page reporting does.
 * Each phase writes a pattern to every page of its region, verifies it,
 * then reports the upper --free part of the region free (mv_free_pages); the
 * next phase first checks that those pages read zero, as a freshly given
 * page must. With
 * --phases N the region is written and half given back N times, so that the
 * host sees memory come and go. Reports: reported_pages (pages given back),
 * mismatches (pattern words wrong), nonzero_after_free (words not zero in
 * pages after they were given back). Between the steps of a phase it calls
 * sync(stage): 2p+1 after writing, 2p+2 after giving back (p from 0), so that
 * a test can look at the guest's memory from the host at each step.
 */
#include "mv.h"

static uint64_t write_and_check(volatile uint64_t *w, uint64_t words, uint64_t seed)
{
	uint64_t bad = 0;

	for (uint64_t i = 0; i < words; i += MV_PAGE_SIZE / 8)
		w[i] = mv_hash64(seed + i) | 1;
	for (uint64_t i = 0; i < words; i += MV_PAGE_SIZE / 8)
		bad += w[i] != (mv_hash64(seed + i) | 1);
	return bad;
}

static uint64_t nonzero_words(volatile uint64_t *w, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < words; i++)
		n += w[i] != 0;
	return n;
}

int main(int argc, char **argv)
{
	static const char *const known[] = { "size", "free", "phases", NULL };
	uint64_t size, free, phases, bad = 0, nonzero = 0, reported = 0;

	mv_opts_check(argc, argv, known);
	size = mv_opt_size(argc, argv, "size", mv_ram_size()) & ~(MV_PAGE_SIZE - 1);
	free = mv_opt_size(argc, argv, "free", size / 2) & ~(MV_PAGE_SIZE - 1);
	phases = mv_opt_u64(argc, argv, "phases", 2);
	if (mv_ncpus() != 1 || size > mv_ram_size() || free > size) {
		mv_printf("balloon: one vCPU, --size at most RAM (%lu MiB), --free at most --size\n",
			  mv_ram_size() >> 20);
		return 2;
	}
	uint8_t *base = mv_ram(), *gone = base + size - free;

	for (uint64_t p = 0; p < phases; p++) {
		/* pages given back read zero when next touched (not sooner: a
		 * read would bring them back before the host could see them gone) */
		if (p)
			nonzero += nonzero_words((volatile uint64_t *)gone, free / 8);
		bad += write_and_check((volatile uint64_t *)base, size / 8, p * 7919);
		mv_sync(2 * p + 1);
		mv_free_pages(gone, free);
		reported += free / MV_PAGE_SIZE;
		mv_sync(2 * p + 2);
	}
	mv_printf("balloon: %lu phases, %lu pages given back, %lu mismatches, %lu non-zero words "
		  "after giving back\n", phases, reported, bad, nonzero);
	mv_report("reported_pages", reported);
	mv_report("mismatches", bad);
	mv_report("nonzero_after_free", nonzero);
	return bad || nonzero;
}
