// SPDX-License-Identifier: MIT
/* memvisor: a table of commands, each handing back the exit status. */
#include "cli.h"
#include "vmm/bench/bench.h"
#include "vmm/guest.h"

#include "version.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: memvisor run [options] GUEST [-- guest args]   run a guest (a built-in name or an ELF path)\n"
	"       memvisor stat [options] [PATH|PID]               a running memvisor's counters, VMAs, walks\n"
	"       memvisor plot STATS.jsonl -o FILE.png            draw a --stats time series with gnuplot\n"
	"       memvisor guests                                  list built-in guests\n"
	"       memvisor bench NAME [--json] [options]           benchmarks, each beside its baseline\n"
	"       memvisor --help | --version\n"
	"\n"
	"'memvisor run --help', 'memvisor stat --help' and 'memvisor bench --help' list their options.\n";

static int main_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs(usage, stdout);
	return 0;
}

static int main_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("memvisor %s\n", MEMVISOR_VERSION);
	return 0;
}

static const struct {
	const char *name;
	int (*cmd)(int argc, char **argv); /* argv[0] is the command's name */
} main_commands[] = {
	{ "run", cli_cmd_run },
	{ "stat", cli_cmd_stat },
	{ "plot", cli_cmd_plot },
	{ "guests", cli_cmd_guests },
	{ "bench", bench_cmd },
	{ "--help", main_help }, { "-h", main_help }, { "help", main_help },
	{ "--version", main_version }, { "version", main_version },
	{ "counters", cli_cmd_counters }, /* not in the usage text: for docs/usage.md */
};

int main(int argc, char **argv)
{
	/* a file over the size limit (ulimit -f) is a write that fails with
	 * EFBIG, said in one line, not a death that skips the clean-up */
	signal(SIGXFSZ, SIG_IGN);
	if (argc < 2) {
		fputs(usage, stderr);
		return VMM_EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(main_commands); i++)
		if (!strcmp(argv[1], main_commands[i].name))
			return main_commands[i].cmd(argc - 1, argv + 1);
	return cli_usage_error("unknown command '%s' (try 'memvisor --help')", argv[1]);
}
