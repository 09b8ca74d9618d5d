/* SPDX-License-Identifier: MIT */
/* memvisor stat: the command (stat_client.c) and its rows (stat_rows.c). */
#ifndef CLI_STAT_CLIENT_H
#define CLI_STAT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

struct stat_opts {
	const char *target;         /* PATH or PID; NULL: the only one running */
	uint64_t interval_ns;       /* 0: one row */
	uint64_t count;             /* rows; 0: no limit */
	const char *guest;          /* --guest NAME */
	bool per_guest, json, maps;
	const char *translate;      /* --translate GVA */
};

/* One request to the socket at path: 0 with the reply, or 1 with a line. */
int stat_ask(const char *path, const char *req, char **reply);
/* The rows, once or every interval: memvisor's exit status. */
int stat_rows(const char *path, const struct stat_opts *o);

#endif
