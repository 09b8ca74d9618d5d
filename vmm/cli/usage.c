// SPDX-License-Identifier: MIT
/* The one line every usage error gets. */
#include "cli.h"
#include "vmm/guest.h"

#include <stdarg.h>
#include <stdio.h>

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("memvisor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return VMM_EXIT_USAGE;
}
