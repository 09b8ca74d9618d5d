/* SPDX-License-Identifier: MIT */
/*
 * The stat socket's requests, one line each (at most STAT_REQ_MAX bytes):
 *   stats                     the stats line (JSON, as --stats writes)
 *   maps [GUEST]              a guest's VMAs, as /proc/PID/maps, with rss and swap
 *   translate GVA [GUEST]     a walk of GVA, as memvisor run --walk shows it
 * GUEST defaults to the first guest that exists. Every reply ends with a
 * newline; a failed request gets one line "error: ...".
 */
#ifndef CLI_STAT_PROTO_H
#define CLI_STAT_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#define STAT_REQ_MAX 256

/* The reply to request req (len bytes, NUL-ended; too_long: cut off at
 * STAT_REQ_MAX), malloc'd; NULL without memory. */
char *stat_reply(const char *req, size_t len, bool too_long, size_t *outlen);

/* The client's side: send req to the socket at path and read the whole
 * reply (malloc'd, NUL-ended) within timeout_ms. 0 or -errno. */
int stat_request(const char *path, const char *req, int timeout_ms, char **reply);

#endif
