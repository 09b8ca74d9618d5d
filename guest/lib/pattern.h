/* SPDX-License-Identifier: MIT */
/*
 * The access patterns of the touch guest, in portable C: compiled into the
 * freestanding guest runtime and into memvisor-touch-host, the host process
 * that runs the same accesses over an anonymous mapping (the Linux side of
 * bench overcommit). Both sides draw the same page indices, in the same
 * order, for the same seed: the generator, the hash and the floating point
 * the Zipf draw needs are all here, never taken from a libc or libm.
 *   seq     pages in address order
 *   random  every page once per pass, in a pseudo-random order (a keyed
 *           permutation: a Feistel network over the next power of two,
 *           cycle-walking past the end)
 *   zipf    pages drawn with probability ~ 1/(rank+1) (Zipf, s = 1); ranks
 *           are scattered over the range by a hash so the hot set is not contiguous
 *   phased  a working set of a quarter of the range, walked 4 times, then
 *           moved on: each pass is one phase, the set advancing by 1/passes
 *           of the range (so over the passes it moves through all of RAM)
 *   mix     read-mostly: the zipf draws, each touch a read with probability
 *           4/5 and a write with 1/5 (a hot set that is mostly read: where
 *           clean pages and never-written pages cost nothing to drop)
 */
#ifndef MV_PATTERN_H
#define MV_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

enum pat_kind { PAT_SEQ, PAT_RANDOM, PAT_ZIPF, PAT_PHASED, PAT_MIX, PAT_NR };

/* xorshift64* seeded through splitmix64 (the guest's mv_rng, the same numbers) */
struct pat_rng { uint64_t s; };
void pat_rng_seed(struct pat_rng *r, uint64_t seed);
uint64_t pat_rng_next(struct pat_rng *r);
uint64_t pat_hash64(uint64_t x); /* splitmix64's finalizer: a bijection */
double pat_log2(double x);
double pat_exp2(double y);

struct pat_perm {
	unsigned half;     /* bits per Feistel half */
	uint64_t key[4];
};

/* One walker over a slice of n pages (one per vCPU in the guest). */
struct pat {
	enum pat_kind kind;
	bool read;              /* --read: every touch reads (mix decides per touch) */
	uint64_t n, passes;
	struct pat_rng rng;
	struct pat_perm perm;
	double log2n;
	uint64_t pass, round, i;  /* where the walk is */
	uint64_t ws, rounds, start; /* this pass's window (phased) */
};

/* One access: a page index in [0, n), whether it writes, and i, its index in
 * its walk (touch writes i + 1 into the page). */
struct pat_touch {
	uint64_t page, i;
	bool write;
};

/* "seq", "random", "zipf", "phased", "mix" -> kind, or -1. */
int pat_parse(const char *name);
const char *pat_name(enum pat_kind kind);
/* The walk of vCPU cpu's slice of n pages; its generator is seeded with
 * seed * 1000 + cpu, so each vCPU draws its own sequence. */
void pat_init(struct pat *p, enum pat_kind kind, bool read, uint64_t n, uint64_t passes,
	      uint64_t seed, unsigned cpu);
/* The next access; false when every pass is done. */
bool pat_next(struct pat *p, struct pat_touch *t);

/* A running checksum of the accesses (page and direction, in order): both
 * sides report it, so a test can tell they made the same accesses. */
static inline uint64_t pat_sum(uint64_t sum, const struct pat_touch *t)
{
	return pat_hash64(sum ^ (t->page << 1 | t->write));
}

#endif
