// SPDX-License-Identifier: MIT
/*
 * memvisor plot's gnuplot script and data files: for each guest a row of two
 * panels, its memory (rss against its limits and the pool, and its swap, in
 * MiB) and its rates (faults and swap-ins per second, differences between
 * samples over their time apart). Limits are drawn only where set.
 */
#include "plot.h"

#include <math.h>

#define PAGES_TO_MIB (4096.0 / (1 << 20))

static void plot_num(FILE *f, double v)
{
	if (isnan(v))
		fputs(" NaN", f);
	else
		fprintf(f, " %.6g", v);
}

/* A rate between samples a and b, NaN where it has no meaning (no time
 * between them, or a counter that went down: a new guest of the same name). */
static double plot_rate(double a, double b, double ta, double tb)
{
	return tb > ta && b >= a ? (b - a) / (tb - ta) : NAN;
}

void plot_write_data(FILE *f, const struct plot_guest *g)
{
	fputs("# t rss swap pool min low high max (MiB) faults/s swapins/s\n", f);
	for (size_t i = 0; i < g->n; i++) {
		const struct plot_sample *s = &g->s[i], *p = i ? &g->s[i - 1] : NULL;

		fprintf(f, "%.6f", s->t);
		plot_num(f, s->rss * PAGES_TO_MIB);
		plot_num(f, s->swap * PAGES_TO_MIB);
		plot_num(f, s->pool ? s->pool * PAGES_TO_MIB : NAN);
		for (int l = 0; l < PLOT_NR_LIMITS; l++)
			plot_num(f, s->limit[l] ? s->limit[l] * PAGES_TO_MIB : NAN);
		plot_num(f, p ? plot_rate(p->faults, s->faults, p->t, s->t) : NAN);
		plot_num(f, p ? plot_rate(p->swapins, s->swapins, p->t, s->t) : NAN);
		fputc('\n', f);
	}
}

/* Does column col (4: pool, 5..8: limits, 9, 10: rates) have a value anywhere? */
static bool plot_has(const struct plot_guest *g, int col)
{
	for (size_t i = 0; i < g->n; i++) {
		const struct plot_sample *s = &g->s[i], *p = i ? &g->s[i - 1] : NULL;

		if (col == 4 && s->pool)
			return true;
		if (col >= 5 && col <= 8 && s->limit[col - 5])
			return true;
		if (col == 9 && p && !isnan(plot_rate(p->faults, s->faults, p->t, s->t)))
			return true;
		if (col == 10 && p && !isnan(plot_rate(p->swapins, s->swapins, p->t, s->t)))
			return true;
	}
	return false;
}

static void plot_memory_panel(FILE *f, const struct plot_guest *g, size_t i)
{
	static const char *const lim[PLOT_NR_LIMITS] = { "limit.min", "limit.low", "limit.high",
							 "limit.max" };
	static const char *const color[PLOT_NR_LIMITS] = { "#8c564b", "#ff7f0e", "#9467bd",
							   "#e377c2" };

	fprintf(f, "set title 'guest %s: memory'\nset ylabel 'MiB'\nset yrange [0:*]\nset offsets 0, 0, graph 0.05, 0\n", g->name);
	fprintf(f, "plot 'g%zu.dat' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'rss', "
		"'' using 1:3 with lines lw 2 lc rgb '#d62728' title 'swap'", i);
	if (plot_has(g, 4))
		fputs(", '' using 1:4 with lines dt 2 lc rgb 'black' title 'pool'", f);
	for (int l = 0; l < PLOT_NR_LIMITS; l++)
		if (plot_has(g, 5 + l))
			fprintf(f, ", '' using 1:%d with lines dt 3 lw 2 lc rgb '%s' title '%s'", 5 + l,
				color[l], lim[l]);
	fputc('\n', f);
}

static void plot_rate_panel(FILE *f, const struct plot_guest *g, size_t i)
{
	bool faults = plot_has(g, 9), swapins = plot_has(g, 10);

	fprintf(f, "set title 'guest %s: faults and swap-ins per second'\nset ylabel 'per second'\n",
		g->name);
	if (!faults && !swapins) {
		/* one sample: no difference to take */
		fputs("set label 1 'one sample: no rates' at graph 0.5, 0.5 center\n"
		      "plot [0:1] [0:1] -1 notitle\nunset label 1\n", f);
		return;
	}
	fprintf(f, "plot 'g%zu.dat' using 1:%d with lines lw 2 lc rgb '%s' title '%s'", i,
		faults ? 9 : 10, faults ? "#2ca02c" : "#9467bd",
		faults ? "faults/s" : "swap-ins/s");
	if (faults && swapins)
		fputs(", '' using 1:10 with lines lw 2 lc rgb '#9467bd' title 'swap-ins/s'", f);
	fputc('\n', f);
}

void plot_write_script(FILE *f, const struct plot_series *s, const char *out, const char *title)
{
	size_t rows = s->nr_guests;

	/* noenhanced: a '_' in a name is a '_', not a subscript */
	fprintf(f, "set terminal pngcairo size 1100,%zu noenhanced font 'sans,9'\n"
		"set output '%s'\nset datafile missing 'NaN'\n"
		"set key top left opaque box\nset grid\nset xlabel 'seconds'\n"
		"set multiplot layout %zu,2 title '%s'\n",
		70 + 290 * rows, out, rows, title);
	/* one time axis for every panel, so that guests line up */
	if (s->last_t > 0)
		fprintf(f, "set xrange [0:%.6g]\n", s->last_t);
	for (size_t i = 0; i < s->nr_guests; i++) {
		plot_memory_panel(f, &s->g[i], i);
		plot_rate_panel(f, &s->g[i], i);
	}
	fputs("unset multiplot\nset output\n", f);
}
