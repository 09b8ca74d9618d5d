// SPDX-License-Identifier: MIT
/* The watchers' options and their part in a run's life: see stats.h. */
#include "stats.h"
#include "cli.h"
#include "parse.h"

#include <errno.h>
#include <stdlib.h>

static struct {
	bool stats, socket, progress;  /* which watchers this run has */
	uint64_t interval_ns;
	bool started, ended;
} watch;

int cli_watch_parse(int c, const char *arg, struct cli_watch_opts *o)
{
	int ret;

	switch (c) {
	case CLI_OPT_STATS:
		o->stats_path = arg;
		return 0;
	case CLI_OPT_STATS_INTERVAL:
		/* 1 ms to an hour: a line per ms is already more than anyone plots */
		ret = cli_parse_duration_in(arg, 1000000ULL, 3600ULL * 1000000000ULL, &o->interval_ns);
		if (ret)
			return cli_usage_error("bad --stats-interval '%s': a duration from 1ms to 1h, "
					       "e.g. 100ms or 1s", arg);
		return 0;
	case CLI_OPT_STAT_SOCKET:
		o->socket_path = arg;
		return 0;
	case CLI_OPT_NO_STAT_SOCKET:
		o->no_socket = true;
		return 0;
	}
	return 1;
}

FILE *cli_watch_console(FILE *out, bool quiet)
{
	return progress_console(out, quiet);
}

static void cli_watch_atexit(void)
{
	cli_watch_close(0);
}

int cli_watch_open(const struct cli_watch_opts *o)
{
	if (o->interval_ns && !o->stats_path)
		return cli_usage_error("--stats-interval needs --stats FILE");
	if (o->no_socket && o->socket_path)
		return cli_usage_error("--stat-socket and --no-stat-socket: choose one");
	watch.interval_ns = o->interval_ns ? o->interval_ns : CLI_STATS_INTERVAL_NS;
	if (o->stats_path && stats_file_open(o->stats_path))
		return VMM_EXIT_USAGE;
	watch.stats = o->stats_path != NULL;
	if (!o->no_socket) {
		atexit(cli_watch_atexit); /* exit() from anywhere still removes the socket */
		if (stat_server_open(o->socket_path))
			return VMM_EXIT_USAGE;
		watch.socket = stat_server_path() != NULL;
	}
	return 0;
}

void cli_watch_start(struct gmm_pool *pool, unsigned n, const char *const names[])
{
	stats_reg_begin(pool, n, names);
	watch.started = true;
	watch.ended = false; /* a benchmark starts one run after another */
	if (watch.stats)
		stats_file_start(watch.interval_ns);
	if (watch.socket)
		stat_server_start();
	progress_start();
}

void cli_watch_attach(unsigned slot, struct vmm_guest *g)
{
	stats_reg_set(slot, g, false);
}

void cli_watch_failed(unsigned slot)
{
	stats_reg_set(slot, NULL, true);
}

void cli_watch_end(void)
{
	if (!watch.started || watch.ended)
		return;
	watch.ended = true;
	progress_end();
	if (watch.stats)
		stats_file_end();
}

void cli_watch_detach(unsigned slot)
{
	stats_reg_set(slot, NULL, false);
}

int cli_watch_close(int status)
{
	stat_server_close();
	return !status && stats_file_failed() ? VMM_EXIT_RUNTIME : status;
}

const char *cli_watch_socket_path(void)
{
	return watch.socket ? stat_server_path() : NULL;
}

void cli_watch_bench_begin(struct gmm_pool *pool, const char *name, struct vmm_guest *g, bool quiet)
{
	static const char *names[1];

	if (!progress_enable(quiet))
		return;
	names[0] = name;
	cli_watch_start(pool, 1, names);
	cli_watch_attach(0, g);
}

void cli_watch_bench_end(void)
{
	cli_watch_end();
	cli_watch_detach(0);
}
