// SPDX-License-Identifier: MIT
#include "memvisor/log.h"

#include <stdarg.h>

enum mv_log_level mv_log_level = MV_LOG_INFO;

void mv_log(enum mv_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > mv_log_level)
		return;
	va_start(ap, fmt);
	fputs("memvisor: ", stderr);
	if (level == MV_LOG_WARN)
		fputs("warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
