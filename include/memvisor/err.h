/* SPDX-License-Identifier: MIT */
/*
 * One line of error text for the caller to show, and the -errno to return,
 * in one statement: "return mv_seterr(err, errlen, -EINVAL, "bad %s", x);".
 */
#ifndef MEMVISOR_ERR_H
#define MEMVISOR_ERR_H

#include <stddef.h>

/* Format into err (if any room) and return ret. */
int mv_seterr(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same with ": strerror(errno)" appended, returning -errno; errno is read
 * first, before formatting can change it. */
int mv_seterr_errno(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
