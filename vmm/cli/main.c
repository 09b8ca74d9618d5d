// SPDX-License-Identifier: MIT
#include "cli.h"
#include "vmm/guest.h"
#include "vmm/image.h"

#include "version.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: memvisor run [options] GUEST [-- guest args]   run a guest (a built-in name or an ELF path)\n"
	"       memvisor guests                                  list built-in guests\n"
	"       memvisor bench NAME [--json] [options]           benchmarks, each beside its baseline\n"
	"       memvisor --help | --version\n"
	"\n"
	"'memvisor run --help' and 'memvisor bench --help' list their options.\n";

int vmm_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("memvisor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return VMM_EXIT_USAGE;
}

int vmm_cmd_guests(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return vmm_usage_error("'guests' takes no arguments");
	printf("Built-in guests (memvisor run NAME [options] [-- ARGS]):\n");
	for (const struct vmm_builtin *b = vmm_builtins; b->name; b++)
		printf("  %-8s %s\n  %-8s args: %s\n", b->name, b->summary, "", b->usage);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return VMM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("memvisor %s\n", MEMVISOR_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return vmm_cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "guests"))
		return vmm_cmd_guests(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bench"))
		return vmm_cmd_bench(argc - 1, argv + 1);
	return vmm_usage_error("unknown command '%s' (try 'memvisor --help')", argv[1]);
}
