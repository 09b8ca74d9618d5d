/* SPDX-License-Identifier: MIT */
/*
 * memvisor plot: a stats time series (--stats FILE, JSON Lines) read into
 * one series of samples per guest, and drawn with gnuplot.
 */
#ifndef CLI_PLOT_H
#define CLI_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { PLOT_LIM_MIN, PLOT_LIM_LOW, PLOT_LIM_HIGH, PLOT_LIM_MAX, PLOT_NR_LIMITS };

/* One line's figures for one guest; pages and cumulative counters. */
struct plot_sample {
	double t;                       /* seconds since the run started */
	double rss, swap, pool;         /* pages: its rss, its swap entries, the pool's frames */
	double limit[PLOT_NR_LIMITS];   /* pages, 0: not set */
	double faults, swapins;         /* cumulative */
};

struct plot_guest {
	char name[48];                  /* safe to print: [A-Za-z0-9._-] only, others '_' */
	struct plot_sample *s;
	size_t n, cap;
};

#define PLOT_MAX_GUESTS 64
#define PLOT_MAX_LINE   (1u << 20)

struct plot_series {
	struct plot_guest g[PLOT_MAX_GUESTS];
	size_t nr_guests;
	size_t lines;
	double last_t;
};

/* One JSON Lines object (line, len bytes, no newline) added to s: 0, or
 * -EINVAL with err saying what is wrong (the caller adds the line number),
 * -ENOMEM. Any input is safe. */
int plot_parse_line(struct plot_series *s, const char *line, size_t len, char *err, size_t errlen);
/* A whole stats file: 0, or -errno with err set ("line N: ..."). An empty
 * file is an error: there is nothing to draw. */
int plot_parse_file(FILE *f, struct plot_series *s, char *err, size_t errlen);
void plot_series_free(struct plot_series *s);

/* The gnuplot script (data files g0.dat... in the same directory) for s,
 * drawing into out (a name in that directory); title is printed as given
 * and must be safe (see plot_safe_name). */
void plot_write_script(FILE *f, const struct plot_series *s, const char *out, const char *title);
/* Guest i's data file: t, rss, swap, pool, 4 limits (MiB, NaN where unset),
 * faults/s, swap-ins/s (NaN for the first sample). */
void plot_write_data(FILE *f, const struct plot_guest *g);
/* src with every byte outside [A-Za-z0-9._-] replaced by '_', at most len - 1 bytes. */
void plot_safe_name(char *dst, size_t len, const char *src, size_t srclen);

#endif
