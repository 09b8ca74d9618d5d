/* SPDX-License-Identifier: MIT */
/* Parsing of command-line values: sizes (K/M/G/T), durations, counts.
 * Pure, unit-tested. */
#ifndef CLI_PARSE_H
#define CLI_PARSE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* The longest duration --timeout takes: a year. The deadline is the monotonic
 * clock plus the timeout, in 64-bit nanoseconds, which hold 584 years. */
#define CLI_TIMEOUT_MAX_NS (365ULL * 24 * 3600 * 1000000000ULL)

/* "64M", "1G", "4096", "512k", "2GiB": binary units. -EINVAL or -ERANGE. */
int cli_parse_size(const char *s, uint64_t *out);
/* "10" (seconds), "1.5s", "500ms", "2m", "100us". -EINVAL or -ERANGE. */
int cli_parse_duration(const char *s, uint64_t *ns);
/* The same, in [min_ns, max_ns]: -EINVAL, or -ERANGE outside. */
int cli_parse_duration_in(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *ns);
/* A decimal count in [min, max]. -EINVAL or -ERANGE. */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* --swap FILE[,size=SIZE][,keep] */
#define CLI_SWAP_PATH_MAX 4096
struct cli_swap_spec {
	char path[CLI_SWAP_PATH_MAX];
	uint64_t size;     /* 0: not given */
	bool keep;
};
/* 0, or -EINVAL with one line in err (the whole option quoted, never cut). */
int cli_parse_swap_spec(const char *arg, struct cli_swap_spec *out, char *err, size_t errlen);
/* "64 MiB", "1.5 GiB" */
void cli_format_size(uint64_t bytes, char *buf, unsigned len);

#endif
