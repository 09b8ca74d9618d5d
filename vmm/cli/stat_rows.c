// SPDX-License-Identifier: MIT
/*
 * memvisor stat's rows, as vmstat's: sizes as they are now, events as rates
 * per second (over the interval, or for the first row since the run began),
 * the header again every STAT_HEADER_EVERY rows. All from the stats line.
 */
#include "parse.h"
#include "stat_client.h"
#include "stat_json.h"
#include "stat_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STAT_HEADER_EVERY 20

/* The counter at path in cur less its value in prev (NULL: 0), per second. */
static double stat_rate(const char *cur, const char *prev, const char *path, double dt)
{
	uint64_t a = 0, b = 0;

	sjson_u64(cur, path, &a);
	if (prev)
		sjson_u64(prev, path, &b);
	return dt > 0 && a >= b ? (double)(a - b) / dt : 0;
}

static uint64_t stat_guest_sum(const char *line, const char *key)
{
	int n = sjson_len(line, "guests");
	uint64_t sum = 0, v;
	char path[96];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "guests[%d].mm.%s", i, key);
		if (sjson_u64(line, path, &v))
			sum += v;
	}
	return sum;
}

static double stat_guest_rate(const char *cur, const char *prev, const char *key, double dt)
{
	uint64_t a = stat_guest_sum(cur, key), b = prev ? stat_guest_sum(prev, key) : 0;

	return dt > 0 && a >= b ? (double)(a - b) / dt : 0;
}

/* pages at path as a size, "-" if there are none to show */
static void stat_size(const char *line, const char *path, bool zero_is_none, char *buf,
		      unsigned len)
{
	uint64_t v;

	if (!sjson_u64(line, path, &v) || (zero_is_none && !v))
		snprintf(buf, len, "-");
	else
		cli_format_size(v << 12, buf, len);
}

static unsigned stat_running(const char *line, int n)
{
	unsigned running = 0;
	char path[64], state[32];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "guests[%d].state", i);
		running += sjson_str(line, path, state, sizeof(state)) && !strcmp(state, "running");
	}
	return running;
}

static void stat_row_run(const char *cur, const char *prev, double t, double dt)
{
	char free_[16], rss[16], swap[16], run[16];
	int n = sjson_len(cur, "guests");

	stat_size(cur, "pool.free", false, free_, sizeof(free_));
	cli_format_size(stat_guest_sum(cur, "rss_pages") << 12, rss, sizeof(rss));
	stat_size(cur, "swap.slots_in_use", false, swap, sizeof(swap));
	snprintf(run, sizeof(run), "%u/%d", stat_running(cur, n), n);
	printf("%8.1f %5s %10s %10s %10s %8.0f %7.0f %7.0f %7.0f %7.0f %8.0f %8.0f\n", t, run, free_,
	       rss, swap, stat_guest_rate(cur, prev, "pgfault", dt),
	       stat_rate(cur, prev, "vmstat.pgmajfault", dt), stat_guest_rate(cur, prev, "refaults", dt),
	       stat_rate(cur, prev, "vmstat.pswpin", dt), stat_rate(cur, prev, "vmstat.pswpout", dt),
	       stat_rate(cur, prev, "vmstat.pgscan_kswapd", dt) +
	       stat_rate(cur, prev, "vmstat.pgscan_direct", dt),
	       stat_rate(cur, prev, "vmstat.pgsteal_kswapd", dt) +
	       stat_rate(cur, prev, "vmstat.pgsteal_direct", dt));
}

static const char stat_head_run[] =
	"    time   run       free        rss       swap    flt/s   maj/s   ref/s    si/s    so/s"
	"   scan/s  steal/s\n";
static const char stat_head_guest[] =
	"    time guest            state             rss       swap    flt/s   maj/s   ref/s"
	"       high        max oom_kill\n";

/* Guest i's row; false if it is not one to show. */
static bool stat_row_guest(const char *cur, const char *prev, int i, const char *only, double t,
			   double dt)
{
	char name[40], state[32], path[96], rss[16], swap[16], high[16], max[16];
	char k[3][64];
	uint64_t swap_ents = 0, kills = 0;

	snprintf(path, sizeof(path), "guests[%d].guest", i);
	if (!sjson_str(cur, path, name, sizeof(name)) || (only && strcmp(only, name)))
		return false;
	snprintf(path, sizeof(path), "guests[%d].state", i);
	sjson_str(cur, path, state, sizeof(state));
	snprintf(path, sizeof(path), "guests[%d].mm.rss_pages", i);
	stat_size(cur, path, false, rss, sizeof(rss));
	snprintf(path, sizeof(path), "guests[%d].mm.swap_ents", i);
	sjson_u64(cur, path, &swap_ents);
	cli_format_size(swap_ents << 12, swap, sizeof(swap));
	snprintf(path, sizeof(path), "guests[%d].mm.limits.high", i);
	stat_size(cur, path, true, high, sizeof(high));
	snprintf(path, sizeof(path), "guests[%d].mm.limits.max", i);
	stat_size(cur, path, true, max, sizeof(max));
	snprintf(path, sizeof(path), "guests[%d].mm.events.oom_kill", i);
	sjson_u64(cur, path, &kills);
	snprintf(k[0], sizeof(k[0]), "guests[%d].mm.pgfault", i);
	snprintf(k[1], sizeof(k[1]), "guests[%d].mm.swapins", i);
	snprintf(k[2], sizeof(k[2]), "guests[%d].mm.refaults", i);
	printf("%8.1f %-16s %-12s %10s %10s %8.0f %7.0f %7.0f %10s %10s %8llu\n", t, name, state,
	       rss, swap, stat_rate(cur, prev, k[0], dt), stat_rate(cur, prev, k[1], dt),
	       stat_rate(cur, prev, k[2], dt), high, max, (unsigned long long)kills);
	return true;
}

/* The rows of one sample; the header first when it is due. */
static void stat_print(const char *cur, const char *prev, const struct stat_opts *o,
		       unsigned *rows)
{
	double t = 0, t0 = 0;
	int n = sjson_len(cur, "guests");

	sjson_f64(cur, "t", &t);
	if (prev)
		sjson_f64(prev, "t", &t0);
	if (!o->per_guest && !o->guest) {
		if (*rows % STAT_HEADER_EVERY == 0)
			fputs(stat_head_run, stdout);
		stat_row_run(cur, prev, t, t - t0);
		++*rows;
		return;
	}
	for (int i = 0; i < n; i++) {
		if (*rows % STAT_HEADER_EVERY == 0)
			fputs(stat_head_guest, stdout);
		*rows += stat_row_guest(cur, prev, i, o->guest, t, t - t0);
	}
}

static void stat_sleep_until(struct timespec *next, uint64_t ns)
{
	ns += (uint64_t)next->tv_nsec;
	next->tv_sec += (time_t)(ns / 1000000000ULL);
	next->tv_nsec = (long)(ns % 1000000000ULL);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
}

int stat_rows(const char *path, const struct stat_opts *o)
{
	char *cur, *prev = NULL;
	unsigned rows = 0;
	struct timespec next;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t samples = 0;; samples++) {
		/* the first through stat_ask, which says why it failed */
		ret = samples ? stat_request(path, "stats", 5000, &cur) : stat_ask(path, "stats", &cur);
		if (samples && (ret == -ENOENT || ret == -ECONNREFUSED)) {
			fprintf(stderr, "memvisor: the run ended\n");
			ret = 0;
			break;
		}
		if (ret < 0)
			fprintf(stderr, "memvisor: %s: %s\n", path, strerror(-ret));
		if (ret)
			break;
		if (o->json)
			fputs(cur, stdout);
		else
			stat_print(cur, prev, o, &rows);
		fflush(stdout);
		free(prev);
		prev = cur;
		if (!o->interval_ns || (o->count && samples + 1 >= o->count))
			break;
		stat_sleep_until(&next, o->interval_ns);
	}
	free(prev);
	return ret ? 1 : 0;
}
