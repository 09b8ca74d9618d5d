/* SPDX-License-Identifier: MIT */
/* Parsing of command-line values: sizes (K/M/G/T), durations, counts; and guest
 * text made safe to show. Pure, unit-tested. */
#ifndef VMM_PARSE_H
#define VMM_PARSE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* The longest duration --timeout takes: a year. The deadline is the monotonic
 * clock plus the timeout, in 64-bit nanoseconds, which hold 584 years. */
#define VMM_TIMEOUT_MAX_NS (365ULL * 24 * 3600 * 1000000000ULL)

/* "64M", "1G", "4096", "512k", "2GiB": binary units. -EINVAL or -ERANGE. */
int vmm_parse_size(const char *s, uint64_t *out);
/* "10" (seconds), "1.5s", "500ms", "2m", "100us". -EINVAL or -ERANGE. */
int vmm_parse_duration(const char *s, uint64_t *ns);
/* The same, in [min_ns, max_ns]: -EINVAL, or -ERANGE outside. */
int vmm_parse_duration_in(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *ns);
/* A decimal count in [min, max]. -EINVAL or -ERANGE. */
int vmm_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* --swap FILE[,size=SIZE][,keep] */
#define VMM_SWAP_PATH_MAX 4096
struct vmm_swap_spec {
	char path[VMM_SWAP_PATH_MAX];
	uint64_t size;     /* 0: not given */
	bool keep;
};
/* 0, or -EINVAL with one line in err (the whole option quoted, never cut). */
int vmm_parse_swap_spec(const char *arg, struct vmm_swap_spec *out, char *err, size_t errlen);
/* "64 MiB", "1.5 GiB" */
void vmm_format_size(uint64_t bytes, char *buf, unsigned len);

/*
 * Guest text (console lines, assertion file and message) made safe for the
 * user's terminal: printable ASCII, tab and well-formed UTF-8 of U+00A0 and up
 * pass; every other byte is written as \xNN (two lowercase hex digits). That
 * covers newline and carriage return, the other C0 controls, DEL, the 8-bit
 * C1 controls 0x80-0x9f and their UTF-8 form (\xc2\x80-\xc2\x9f), and bytes
 * of malformed UTF-8, so guest text can neither start a line (and forge a
 * "memvisor:" line) nor send a terminal control sequence. A backslash the
 * guest wrote stays as it is: the form is for reading, not for decoding.
 * Writes at most size - 1 characters and a NUL, never part of an escape or of
 * a UTF-8 character; returns the length written. size must be at least 1.
 */
size_t vmm_escape_text(char *dst, size_t size, const char *src, size_t len);
/* Room that escaping len bytes may need, with the NUL. */
#define VMM_ESCAPED_SIZE(len) (4 * (len) + 1)

#endif
