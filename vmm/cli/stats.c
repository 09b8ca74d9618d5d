// SPDX-License-Identifier: MIT
/* The registry of the run's guests and the stats line: see stats.h. */
#include "stats.h"
#include "guest_spec.h"
#include "json.h"
#include "summary.h"
#include "summary_table.h"

#include "memvisor/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct {
	pthread_mutex_t lock;           /* protects everything below */
	struct gmm_pool *pool;          /* NULL: --host-mm */
	unsigned n;
	uint64_t t0;
	struct {
		const char *name;
		struct vmm_guest *g;    /* NULL: not (or no longer) there */
		bool failed;            /* never created */
	} guests[CLI_MAX_GUESTS];
} stats_reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

void stats_reg_begin(struct gmm_pool *pool, unsigned n, const char *const names[])
{
	pthread_mutex_lock(&stats_reg.lock);
	stats_reg.pool = pool;
	stats_reg.n = MIN(n, (unsigned)CLI_MAX_GUESTS);
	for (unsigned i = 0; i < stats_reg.n; i++)
		stats_reg.guests[i].name = names[i];
	stats_reg.t0 = mv_now_ns();
	pthread_mutex_unlock(&stats_reg.lock);
}

/* Once this returns with g NULL, no reader looks at the old guest again. */
void stats_reg_set(unsigned slot, struct vmm_guest *g, bool failed)
{
	if (slot >= CLI_MAX_GUESTS)
		return;
	pthread_mutex_lock(&stats_reg.lock);
	stats_reg.guests[slot].g = g;
	stats_reg.guests[slot].failed |= failed;
	pthread_mutex_unlock(&stats_reg.lock);
}

static double stats_elapsed_locked(void)
{
	return stats_reg.t0 ? (mv_now_ns() - stats_reg.t0) / 1e9 : 0;
}

double stats_elapsed(void)
{
	double t;

	pthread_mutex_lock(&stats_reg.lock);
	t = stats_elapsed_locked();
	pthread_mutex_unlock(&stats_reg.lock);
	return t;
}

/* waiting, running, or how it ended (done, oom, crash...); registry locked */
static const char *stats_state(unsigned slot)
{
	struct vmm_guest *g = stats_reg.guests[slot].g;
	enum vmm_end end;

	if (!g)
		return stats_reg.guests[slot].failed ? "not started" : "waiting";
	pthread_mutex_lock(&g->lock);
	end = g->end;
	pthread_mutex_unlock(&g->lock);
	return vmm_end_name(end);
}

static void stats_write_guests(struct json *j)
{
	json_begin(j, "guests", '[');
	for (unsigned i = 0; i < stats_reg.n; i++) {
		json_begin(j, NULL, '{');
		json_str(j, "guest", stats_reg.guests[i].name);
		json_str(j, "state", stats_state(i));
		if (stats_reg.guests[i].g)
			cli_summary_json_mm(stats_reg.guests[i].g, j);
		else
			json_str(j, "mm", NULL);
		json_end(j, '}');
	}
	json_end(j, ']');
}

void stats_write_line(FILE *f)
{
	struct gmm_pool *p;
	struct json j;

	pthread_mutex_lock(&stats_reg.lock);
	p = stats_reg.pool;
	/* t with microseconds, however long the run: json_f64's six digits
	 * would make lines of a run past 10000 s share a t */
	fprintf(f, "{\"t\":%.6f", stats_elapsed_locked());
	json_init(&j, f);
	j.depth = 1;
	j.need_comma[1] = true;
	if (!p)
		json_str(&j, "pool", NULL);
	cli_summary_json_pool(p, &j);
	if (!p || !p->swap) {
		json_str(&j, "vmstat", NULL);
		json_str(&j, "swap", NULL);
	}
	stats_write_guests(&j);
	json_end(&j, '}');
	pthread_mutex_unlock(&stats_reg.lock);
}

char *stats_line_string(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	stats_write_line(f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

void stats_totals(struct stats_totals *t)
{
	struct summary_snap s;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&stats_reg.lock);
	t->t = stats_elapsed_locked();
	t->guests = stats_reg.n;
	for (unsigned i = 0; i < stats_reg.n; i++) {
		if (!stats_reg.guests[i].g)
			continue;
		summary_snap_take(stats_reg.guests[i].g, &s);
		/* an ended guest's memory is back in the pool: its snapshot
		 * tells what it held at its end, which the pool holds no more */
		if (!__atomic_load_n(&stats_reg.guests[i].g->released, __ATOMIC_ACQUIRE))
			t->rss += s.mmc.rss;
		t->faults += s.fs.faults;
		t->running += !strcmp(stats_state(i), "running");
	}
	memset(&s, 0, sizeof(s));
	summary_snap_take_pool(stats_reg.pool, &s);
	pthread_mutex_unlock(&stats_reg.lock);
	t->frames = s.ps.frames;
	t->free = s.ps.free;
	t->swap_used = s.sw_inuse;
}

int stats_with_guest(const char *name, void (*fn)(struct vmm_guest *g, void *arg), void *arg)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&stats_reg.lock);
	for (unsigned i = 0; i < stats_reg.n && ret; i++) {
		struct vmm_guest *g = stats_reg.guests[i].g;

		if (!g || (name && strcmp(name, stats_reg.guests[i].name)))
			continue;
		fn(g, arg);
		ret = 0;
	}
	pthread_mutex_unlock(&stats_reg.lock);
	return ret;
}
