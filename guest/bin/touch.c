// SPDX-License-Identifier: MIT
/*
 * touch: one access per page over a range of guest RAM, in a pattern, for N
 * passes; reports pages/s. With several vCPUs each takes an equal slice.
 *   seq     pages in address order
 *   random  every page once per pass, in a pseudo-random order (a keyed
 *           permutation: a Feistel network over the next power of two,
 *           cycle-walking past the end)
 *   zipf    pages drawn with probability ~ 1/(rank+1) (Zipf, s = 1); ranks
 *           are scattered over the range by a hash so the hot set is not contiguous
 *   phased  a working set of a quarter of the range, walked 4 times, then
 *           moved on: each pass is one phase, the set advancing by 1/passes
 *           of the range (so over the passes it moves through all of RAM)
 */
#include "mv.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

enum pattern { SEQ, RANDOM, ZIPF, PHASED };

struct perm {
	unsigned half;     /* bits per Feistel half */
	uint64_t key[4];
};

static void perm_init(struct perm *p, uint64_t n, struct mv_rng *rng)
{
	unsigned bits = 2;

	while ((1ULL << bits) < n)
		bits++;
	p->half = (bits + 1) / 2;
	for (int r = 0; r < 4; r++)
		p->key[r] = mv_rng_next(rng);
}

/* a bijection on [0, 2^(2*half)); cycle-walking keeps it inside [0, n) */
static uint64_t perm_apply(const struct perm *p, uint64_t x, uint64_t n)
{
	uint64_t mask = (1ULL << p->half) - 1;

	do {
		uint64_t l = x >> p->half, r = x & mask;

		for (int k = 0; k < 4; k++) {
			uint64_t t = l ^ (mv_hash64(r ^ p->key[k]) & mask);

			l = r;
			r = t;
		}
		x = (l << p->half) | r;
	} while (x >= n);
	return x;
}

static struct perm perms[MV_MAX_VCPUS]; /* one per vCPU: each permutes its own slice */

static uint64_t pick(enum pattern pat, uint64_t i, uint64_t n, struct mv_rng *rng, double log2n)
{
	switch (pat) {
	case SEQ:
		return i;
	case RANDOM:
		return perm_apply(&perms[mv_cpu()], i, n);
	default: {
		/* rank = (n+1)^u - 1 for uniform u: P(rank = k) ~ 1/(k+1) */
		double u = (double)(mv_rng_next(rng) >> 11) / 9007199254740992.0;
		uint64_t rank = (uint64_t)mv_exp2(u * log2n) - 1;

		if (rank >= n)
			rank = n - 1;
		return rank == 0 ? 0 : mv_hash64(rank) % n;
	}
	}
}

static enum pattern parse_pattern(const char *s)
{
	if (!s || !strcmp(s, "seq"))
		return SEQ;
	if (!strcmp(s, "random"))
		return RANDOM;
	if (!strcmp(s, "zipf"))
		return ZIPF;
	if (!strcmp(s, "phased"))
		return PHASED;
	mv_printf("touch: unknown pattern '%s' (seq, random, zipf or phased)\n", s);
	mv_done(2);
}

int main(int argc, char **argv)
{
	static const char *const known[] = { "size", "pattern", "!read", "!write", "passes",
					     "seed", NULL };
	static const char *const names[] = { "seq", "random", "zipf", "phased" };
	unsigned cpu = mv_cpu(), ncpu = mv_ncpus();

	mv_opts_check(argc, argv, known);
	uint64_t size = mv_opt_size(argc, argv, "size", mv_ram_size());
	uint64_t passes = mv_opt_u64(argc, argv, "passes", 1);
	enum pattern pat = parse_pattern(mv_opt(argc, argv, "pattern"));
	bool rd = mv_flag(argc, argv, "read");
	struct mv_rng rng;

	if (size < MV_PAGE_SIZE || size > mv_ram_size()) {
		mv_printf("touch: --size must be between 4K and the guest RAM (%lu MiB)\n",
			  mv_ram_size() >> 20);
		return 2;
	}
	mv_rng_seed(&rng, mv_opt_u64(argc, argv, "seed", 1) * 1000 + cpu);
	uint64_t pages = size / MV_PAGE_SIZE;
	uint64_t first = pages * cpu / ncpu, n = pages * (cpu + 1) / ncpu - first;
	volatile uint64_t *base = (volatile uint64_t *)(mv_ram() + first * MV_PAGE_SIZE);
	double log2n = mv_log2((double)n + 1);

	if (pat == RANDOM)
		perm_init(&perms[cpu], n, &rng);
	uint64_t sum = 0, t0 = mv_ns();

	uint64_t touches = 0;

	for (uint64_t p = 0; p < passes; p++) {
		/* phased: 4 walks over a quarter of the slice, starting p/passes in */
		uint64_t ws = pat == PHASED ? MAX(n / 4, 1ULL) : n, rounds = pat == PHASED ? 4 : 1;
		uint64_t start = pat == PHASED ? n * p / passes : 0;

		for (uint64_t r = 0; r < rounds; r++) {
			for (uint64_t i = 0; i < ws; i++) {
				uint64_t page = pat == PHASED ? (start + i) % n : pick(pat, i, n, &rng, log2n);
				volatile uint64_t *w = base + page * (MV_PAGE_SIZE / 8);

				if (rd)
					sum += *w;
				else
					*w = i + 1;
			}
			touches += ws;
		}
	}
	uint64_t ns = mv_ns() - t0;
	uint64_t rate = ns ? touches * 1000000000ULL / ns : 0;

	mv_printf("touch: vCPU %u: %lu pages, %s %s, %lu pass%s: %lu pages/s\n", cpu, n, names[pat],
		  rd ? "read" : "write", passes, passes == 1 ? "" : "es", rate);
	mv_report("pages", touches);
	mv_report("ns", ns);
	mv_report("pages_per_s", rate);
	(void)sum;
	return 0;
}
