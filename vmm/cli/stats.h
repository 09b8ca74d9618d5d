/* SPDX-License-Identifier: MIT */
/*
 * Watching a run while it goes on: the stats time series (--stats FILE,
 * stats_file.c), the stat socket that 'memvisor stat' reads (stat_server.c)
 * and the progress line on a terminal (progress.c). All three read the run's
 * guests through one registry (stats.c): a guest is in it from its creation
 * until just before it is destroyed, and every reader holds the registry's
 * lock while it looks at one, so none is ever read after it is gone. The
 * counters themselves are read as the summary reads them (summary_snap_take:
 * each under its own lock, or atomically), so reading never stops a guest
 * for longer than a copy.
 *
 * The line format (JSON Lines, one object per interval; docs/usage.md):
 * {"t": seconds since the run started, "pool": {...} or null, "vmstat": {...}
 *  or null, "swap": {...} or null, "guests": [{"guest", "state", "mm": {...}
 *  or null}]}, with the objects of --summary-json.
 */
#ifndef CLI_STATS_H
#define CLI_STATS_H

#include "vmm/guest.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_STATS_INTERVAL_NS 100000000ULL /* --stats-interval default: 100 ms */

/* Long options of memvisor run that are the watchers' (getopt values). */
enum {
	CLI_OPT_STATS = 0x100,      /* --stats FILE */
	CLI_OPT_STATS_INTERVAL,     /* --stats-interval DURATION */
	CLI_OPT_STAT_SOCKET,        /* --stat-socket PATH */
	CLI_OPT_NO_STAT_SOCKET,     /* --no-stat-socket */
};

struct cli_watch_opts {
	const char *stats_path;     /* NULL: no time series */
	uint64_t interval_ns;       /* 0: the default */
	const char *socket_path;    /* NULL: the default place */
	bool no_socket;
	bool quiet;                 /* -q: no progress line either */
};

/* One of the options above: 0, 1 if c is not one of them, or 2 with a line. */
int cli_watch_parse(int c, const char *arg, struct cli_watch_opts *o);

/*
 * The run's life, as run.c and run_multi.c call it:
 *  cli_watch_console  the stream guests' console lines go to (stdout, or one
 *                     that keeps them clear of the progress line)
 *  cli_watch_open     before the guests start: the stats file made, the
 *                     socket bound. 0, or 2 with one line (nothing started)
 *  cli_watch_start    the pool exists: threads started (with the stop
 *                     signals blocked, as every thread but the main one)
 *  cli_watch_attach   guest slot was created and is about to run
 *  cli_watch_failed   guest slot will never be created
 *  cli_watch_end      every guest ended: threads stopped, the progress line
 *                     gone, the last line written. Before the summary.
 *  cli_watch_detach   before guest slot is destroyed
 *  cli_watch_close    the socket removed (also at exit, whatever the path);
 *                     the run's status, or 1 if it was 0 and the stats file
 *                     could not be written (which the last line said)
 * The socket's path, if any, for the summary: cli_watch_socket_path.
 */
FILE *cli_watch_console(FILE *out, bool quiet);
int cli_watch_open(const struct cli_watch_opts *o);
void cli_watch_start(struct gmm_pool *pool, unsigned n, const char *const names[]);
void cli_watch_attach(unsigned slot, struct vmm_guest *g);
void cli_watch_failed(unsigned slot);
void cli_watch_end(void);
void cli_watch_detach(unsigned slot);
int cli_watch_close(int status);
const char *cli_watch_socket_path(void);
/* A benchmark's guest run, watched by the progress line only (no stats
 * file, no socket): cli_watch_bench_begin before vmm_guest_run, _end after. */
void cli_watch_bench_begin(struct gmm_pool *pool, const char *name, struct vmm_guest *g, bool quiet);
void cli_watch_bench_end(void);

/* stats.c: the registry and the line. */
void stats_reg_begin(struct gmm_pool *pool, unsigned n, const char *const names[]);
void stats_reg_set(unsigned slot, struct vmm_guest *g, bool failed);
/* Write one line of the time series to f (not flushed). */
void stats_write_line(FILE *f);
/* The line as a malloc'd string (NULL without memory). */
char *stats_line_string(size_t *len);
/* Seconds since stats_reg_begin. */
double stats_elapsed(void);

/* Sums for the progress line. */
struct stats_totals {
	double t;
	uint64_t rss, frames, free, swap_used, faults;
	unsigned running, guests;
};
void stats_totals(struct stats_totals *s);

/* Run fn(g, arg) on guest name (NULL: the only or first guest that exists)
 * with the registry locked: 0, or -ENOENT if there is no such guest. */
int stats_with_guest(const char *name, void (*fn)(struct vmm_guest *g, void *arg), void *arg);

/* stats_ticker.c: tick(arg) every interval_ns, the first after delay_ns,
 * on a thread of its own, until stopped (the last tick has returned when
 * stats_ticker_stop does). 0 or -errno (no thread). */
struct stats_ticker {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;       /* protects stop */
	pthread_cond_t cond;        /* CLOCK_MONOTONIC */
	bool stop;
	uint64_t delay_ns, interval_ns;
	void (*tick)(void *arg);
	void *arg;
};
int stats_ticker_start(struct stats_ticker *t, uint64_t delay_ns, uint64_t interval_ns,
		       void (*tick)(void *arg), void *arg);
void stats_ticker_stop(struct stats_ticker *t);

/* stats_file.c: --stats FILE */
int stats_file_open(const char *path);
void stats_file_start(uint64_t interval_ns);
void stats_file_end(void);   /* sampler stopped, the last line written */
bool stats_file_failed(void); /* a write failed (stats_file_end said so) */

/* stat_server.c: the socket at path (NULL: the default place). 0, or -1
 * with a line; a default one that cannot be made is a warning and 0. */
int stat_server_open(const char *path);
void stat_server_start(void);
void stat_server_close(void);
const char *stat_server_path(void);
/* The default directory of sockets (made 0700 if missing): 0 or -errno. */
int stat_socket_dir(char *buf, size_t len, bool create);

/* progress.c: the terminal's status line */
FILE *progress_console(FILE *out, bool quiet);
/* The line on, where stderr is a terminal and not quiet, for runs whose
 * guests print nothing (benchmarks); true if it will be drawn. */
bool progress_enable(bool quiet);
void progress_start(void);
void progress_end(void);

#endif
