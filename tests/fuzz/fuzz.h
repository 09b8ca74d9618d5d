/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets: reading a fuzz input as a stream of
 * numbers and choices, and a failed check that libFuzzer records as a crash.
 *
 * Every reader returns 0 once the input is used up, so a target can read as
 * much as it likes and a short input is just a short run.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include "memvisor/types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_more(const struct fz *f)
{
	return f->n > 0;
}

static inline uint64_t fz_bytes(struct fz *f, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && f->n; i++, f->p++, f->n--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

static inline uint8_t fz_u8(struct fz *f) { return (uint8_t)fz_bytes(f, 1); }
static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)fz_bytes(f, 2); }
static inline uint32_t fz_u32(struct fz *f) { return (uint32_t)fz_bytes(f, 4); }
static inline uint64_t fz_u64(struct fz *f) { return fz_bytes(f, 8); }
static inline bool fz_bool(struct fz *f) { return fz_u8(f) & 1; }

/* A number in [0, n), n > 0, from as few bytes as n needs. */
static inline uint64_t fz_below(struct fz *f, uint64_t n)
{
	unsigned bytes = n <= 1ULL << 8 ? 1 : n <= 1ULL << 16 ? 2 : n <= 1ULL << 32 ? 4 : 8;

	return fz_bytes(f, bytes) % n;
}

/* A failed check: one line saying what, then abort(), which libFuzzer
 * reports with a stack and saves the input as crash-<sha1>. */
#define FZ_CHECK(cond, ...)                                                     \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,  \
				__LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

#define FZ_ULL(x) ((unsigned long long)(x))

#endif
