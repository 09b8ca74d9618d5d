/* SPDX-License-Identifier: MIT */
/*
 * memvisor run --guest SPEC: one guest of several sharing a frame pool.
 * SPEC is key=value pairs separated by commas:
 *   name=a,image=touch,mem=256M,vcpus=1,args="--pattern zipf",start=2s,
 *   limit.min=..,limit.low=..,limit.high=..,limit.max=..,oom_score_adj=N
 * Pure, unit-tested (tests/test_parse.c); nothing here touches KVM.
 */
#ifndef CLI_GUEST_SPEC_H
#define CLI_GUEST_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_MAX_GUESTS      16   /* --guest options in one run */
#define CLI_GUEST_NAME_MAX  32   /* name's bytes, NUL included */
#define CLI_GUEST_IMAGE_MAX 4096
#define CLI_GUEST_ARGS_MAX  1024 /* args' bytes, NUL included */
#define CLI_GUEST_ARGC_MAX  64   /* MV_ARGV_MAX */

/* The four limits, in the order they must keep: min <= low <= high <= max. */
enum cli_limit { CLI_LIMIT_MIN, CLI_LIMIT_LOW, CLI_LIMIT_HIGH, CLI_LIMIT_MAX, CLI_NR_LIMITS };

struct cli_guest_spec {
	char name[CLI_GUEST_NAME_MAX];    /* default g1, g2... by position */
	char image[CLI_GUEST_IMAGE_MAX];  /* a built-in guest or an ELF path */
	uint64_t mem;                     /* bytes; default 256M */
	unsigned vcpus;                   /* default 1 */
	uint64_t start_ns;                /* delay before it starts; default 0 */
	uint64_t limit[CLI_NR_LIMITS];    /* bytes, multiples of 4K; see given */
	unsigned limits_given;            /* bit (1 << enum cli_limit) */
	int oom_score_adj;                /* -1000..1000; default 0 */
	char args[CLI_GUEST_ARGS_MAX];    /* the arguments, NULs between them */
	char *argv[CLI_GUEST_ARGC_MAX + 1];
	int argc;
};

/* One SPEC, the index-th --guest (from 0, for the default name). 0, or
 * -EINVAL with one line in err naming the key and what it takes. Checks
 * each key and value and the order of the limits given; whatever needs
 * the other guests or the pool is cli_check_guest_specs. */
int cli_parse_guest_spec(const char *arg, unsigned index, struct cli_guest_spec *out,
			 char *err, size_t errlen);
/* All of them together: names unique, no limit above the pool (pool_bytes).
 * 0, or -EINVAL with one line in err. */
int cli_check_guest_specs(const struct cli_guest_spec *specs, unsigned n, uint64_t pool_bytes,
			  char *err, size_t errlen);
/* "limit.max" and so on. */
const char *cli_limit_key(enum cli_limit l);

#endif
