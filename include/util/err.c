// SPDX-License-Identifier: MIT
#include "memvisor/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mv_seterr(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int mv_seterr_errno(char *err, size_t errlen, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	size_t off;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		off = strlen(err);
		snprintf(err + off, errlen - off, ": %s", strerror(e));
	}
	return -e;
}
