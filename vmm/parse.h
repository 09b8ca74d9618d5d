/* SPDX-License-Identifier: MIT */
/* Parsing of command-line values: sizes (K/M/G/T), durations, counts. Pure, unit-tested. */
#ifndef VMM_PARSE_H
#define VMM_PARSE_H

#include <stdint.h>

/* "64M", "1G", "4096", "512k", "2GiB": binary units. -EINVAL or -ERANGE. */
int vmm_parse_size(const char *s, uint64_t *out);
/* "10" (seconds), "1.5s", "500ms", "2m", "100us". -EINVAL or -ERANGE. */
int vmm_parse_duration(const char *s, uint64_t *ns);
/* A decimal count in [min, max]. -EINVAL or -ERANGE. */
int vmm_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "64 MiB", "1.5 GiB" */
void vmm_format_size(uint64_t bytes, char *buf, unsigned len);

#endif
