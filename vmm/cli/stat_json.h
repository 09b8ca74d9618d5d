/* SPDX-License-Identifier: MIT */
/*
 * Reading the stats line back (memvisor stat, and the tests): a validator
 * and a lookup by path, straight over the text, no tree built. A path is
 * keys and indexes, "guests[1].mm.rss_pages", "pool.free".
 */
#ifndef CLI_STAT_JSON_H
#define CLI_STAT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s (up to its NUL) is one JSON value and nothing but white space after it. */
bool sjson_valid(const char *s);
/* The first character of the value at path, or NULL (no such member, or
 * not JSON). "" is the whole value. */
const char *sjson_find(const char *json, const char *path);
/* Past the value that starts at p, or NULL if none does. */
const char *sjson_skip_value(const char *p);
/* The number at path; false if there is none (or it is null). */
bool sjson_u64(const char *json, const char *path, uint64_t *v);
bool sjson_f64(const char *json, const char *path, double *v);
/* The string at path, unescaped as far as \" and \\ (others kept as
 * written), cut to len - 1 bytes; false if there is none. */
bool sjson_str(const char *json, const char *path, char *buf, size_t len);
/* The number of elements of the array at path; -1 if it is not one. */
int sjson_len(const char *json, const char *path);

#endif
