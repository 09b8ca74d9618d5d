// SPDX-License-Identifier: MIT
/*
 * The progress line: on a terminal, one status line on stderr (elapsed
 * time, rss against the pool, swap in use, faults per second, guests running), redrawn in
 * place every PROGRESS_MS once the run has gone on for PROGRESS_DELAY_MS.
 * None when stderr is not a terminal, with -q, or with TERM=dumb.
 *
 * Guests' console lines go to stdout, often the same terminal: they would
 * land after the status line and leave bits of it behind. So when stdout is
 * a terminal too, guests get a stream of ours (fopencookie) that, for each
 * line, clears the status line, writes the guest's line and lets the next
 * tick draw the status again. console.c writes a line whole under the
 * stream's lock and flushes it, so each line reaches us in one piece.
 */
#include "stats.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_MS       500
#define PROGRESS_DELAY_MS 1000

static struct {
	bool active;
	FILE *out;                 /* the guests' real stdout */
	pthread_mutex_t lock;      /* protects shown and the terminal's line */
	bool shown;
	struct stats_ticker ticker;
	uint64_t last_faults;      /* the ticker's */
	double last_t;
} pg = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* lock held */
static void progress_clear(void)
{
	if (!pg.shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	pg.shown = false;
}

static ssize_t progress_console_write(void *cookie, const char *buf, size_t len)
{
	size_t n;

	(void)cookie;
	pthread_mutex_lock(&pg.lock);
	progress_clear();
	n = fwrite(buf, 1, len, pg.out);
	fflush(pg.out);
	pthread_mutex_unlock(&pg.lock);
	if (n < len && n == 0)
		return -1;
	return (ssize_t)n;
}

bool progress_enable(bool quiet)
{
	const char *term = getenv("TERM");

	pg.active = !quiet && isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb"));
	return pg.active;
}

FILE *progress_console(FILE *out, bool quiet)
{
	cookie_io_functions_t io = { .write = progress_console_write };
	FILE *f;

	progress_enable(quiet);
	pg.out = out;
	if (!pg.active || !isatty(fileno(out)))
		return out;
	f = fopencookie(NULL, "w", io);
	if (!f)
		return out;
	setvbuf(f, NULL, _IOFBF, 4 * VMM_LINE_MAX + 64); /* a whole escaped line and its label */
	return f;
}

/* pg.lock held; t taken without it (its reads take guests' locks, which a
 * console line holds when it comes to us) */
static void progress_draw(const struct stats_totals *tp)
{
	struct stats_totals t = *tp;
	struct winsize ws;
	char line[256], rss[16], pool[16], swap[16];
	double rate;
	int n, width = 80;

	rate = t.t > pg.last_t ? (t.faults - pg.last_faults) / (t.t - pg.last_t) : 0;
	pg.last_t = t.t;
	pg.last_faults = t.faults;
	cli_format_size(t.rss << PAGE_SHIFT, rss, sizeof(rss));
	cli_format_size(t.frames << PAGE_SHIFT, pool, sizeof(pool));
	cli_format_size(t.swap_used << PAGE_SHIFT, swap, sizeof(swap));
	/* what fits in 80 columns: swap's total is in the summary */
	n = snprintf(line, sizeof(line), "memvisor %.1fs  rss %s/%s  swap %s  %.0f faults/s",
		     t.t, rss, pool, swap, rate);
	if (t.guests > 1)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  %u/%u running", t.running,
			      t.guests);
	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 1)
		width = ws.ws_col;
	/* never as wide as the terminal: a full line would wrap and scroll */
	fprintf(stderr, "\r\033[K%.*s", MIN(n, width - 1), line);
	fflush(stderr);
	pg.shown = true;
}

static void progress_tick(void *arg)
{
	struct stats_totals t;

	(void)arg;
	stats_totals(&t);
	pthread_mutex_lock(&pg.lock);
	progress_draw(&t);
	pthread_mutex_unlock(&pg.lock);
}

void progress_start(void)
{
	if (pg.active && !pg.ticker.running)
		stats_ticker_start(&pg.ticker, PROGRESS_DELAY_MS * 1000000ULL, PROGRESS_MS * 1000000ULL,
				   progress_tick, NULL);
}

void progress_end(void)
{
	stats_ticker_stop(&pg.ticker);
	pthread_mutex_lock(&pg.lock);
	progress_clear();
	pthread_mutex_unlock(&pg.lock);
}
