// SPDX-License-Identifier: MIT
/*
 * memvisor bench overcommit --workload guests: two guests with different
 * limits and access patterns share one pool and one swap file, as under
 * memvisor run --guest (run_multi.c runs them), and each is also run alone
 * in a pool of the same size with the same limits: the baseline, so each
 * guest's figure is its runtime shared over its runtime alone.
 *   a  touch, RAM 2x the pool, zipf over all of it, limit.max half the pool:
 *      capped, it reclaims its own pages shared or alone;
 *   b  memtest, RAM the pool, limit.min half the pool: alone it nearly fits,
 *      shared it gives way to a down to its protection and no further.
 * Per guest: runtime, rss and hiwater, swap entries, faults and swap-ins,
 * its memory.events; for the run: wall time against the alone runs one
 * after the other, swap traffic, frames reclaimed and by whom, OOM kills.
 */
#include "bench.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/run.h"
#include "vmm/guest.h"

#include "memvisor/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OCG_NR 2

/* One guest's figures from one run. */
struct ocg_guest {
	bool ran;
	int status;
	const char *end;                  /* vmm_end_name */
	double s;                         /* create to end */
	uint64_t rss, hiwater, swap_ents; /* frames, at its end */
	uint64_t faults, swapins, refaults;
	uint64_t mismatches;              /* memtest's own check */
	bool checked;                     /* it reported mismatches */
	struct gmm_mm_events ev;
};

/* One run: the guests given, together or one alone. */
struct ocg_run {
	double wall_s;                    /* first start to last end */
	uint64_t pswpin, pswpout, steal_kswapd, steal_direct, oom_kills;
	struct ocg_guest g[OCG_NR];
};

struct bench_oc_guests {
	uint64_t pool;
	char spec[OCG_NR][256];           /* --guest SPEC of each, as run */
	struct cli_guest_spec parsed[OCG_NR];
	struct ocg_run shared, alone[OCG_NR];
};

/* The specs, sized from the pool (a multiple of 4K, 4M or more). */
static void ocg_specs(struct bench_oc_guests *r)
{
	unsigned long long k = r->pool >> 10, half = (r->pool / 2 & ~(uint64_t)(PAGE_SIZE - 1)) >> 10;

	snprintf(r->spec[0], sizeof(r->spec[0]),
		 "name=a,image=touch,mem=%lluK,limit.max=%lluK,args=--pattern=zipf --passes=4",
		 2 * k, half);
	snprintf(r->spec[1], sizeof(r->spec[1]),
		 "name=b,image=memtest,mem=%lluK,limit.min=%lluK,args=--passes=2", k, half);
}

static void ocg_collect_guest(const struct vmm_guest *g, int status, struct ocg_guest *out)
{
	const struct gmm_mm *mm = g->mm;

	*out = (struct ocg_guest){
		.ran = true, .status = status, .end = vmm_end_name(g->end),
		.s = (g->t_end_ns - g->t_create_ns) / 1e9, .hiwater = mm->hiwater_rss,
		.faults = mm->fs.faults, .swapins = mm->fs.swapins,
		.refaults = mm->fs.refaults, .ev = mm->events,
	};
	/* run_multi gave its memory back when it ended: what it held then */
	vmm_guest_mem_at_end(g, &out->rss, &out->swap_ents);
	for (unsigned i = 0; i < g->nr_reports; i++)
		if (!strcmp(g->reports[i].key, "mismatches")) {
			out->mismatches += g->reports[i].value;
			out->checked = true;
		}
}

/* Each guest's figures (slot[i]: where guest i's go), then the pool's. */
static void ocg_collect(struct cli_setup *s, unsigned n, const int *slot, struct ocg_run *out)
{
	struct gmm_vmstat vm;

	for (unsigned i = 0; i < n; i++) {
		const struct vmm_guest *g = run_multi_guest(i);

		if (g) {
			ocg_collect_guest(g, vmm_guest_exit_status(g), &out->g[slot[i]]);
			out->oom_kills += g->mm->events.oom_kill;
		}
	}
	gmm_vmstat_read(&s->pool, &vm);
	out->pswpin = vm.pswpin;
	out->pswpout = vm.pswpout;
	out->steal_kswapd = vm.pgsteal_kswapd;
	out->steal_direct = vm.pgsteal_direct;
}

/* A guest that did not end well, in one line: no figure is given then. */
static void ocg_report_failed(const char *name, const struct vmm_guest *g, unsigned n)
{
	int status = g ? vmm_guest_exit_status(g) : -1;

	if (!status)
		return;
	fprintf(stderr, "memvisor: bench overcommit: guests %s: guest %s: ", n > 1 ? "together" : "alone",
		name);
	if (!g)
		fprintf(stderr, "never started\n");
	else if (g->end == VMM_END_DONE)
		fprintf(stderr, "exit status %d\n", status);
	else
		fprintf(stderr, "%s\n", g->reason);
}

/* The guests of specs (slot[i]: guest i's place in out) on a fresh pool of
 * r->pool with a swap file in dir, through memvisor run --guest's own
 * code: 0, or -1 with one line printed. */
static int ocg_run(struct bench_oc_guests *r, struct cli_setup *s, const char *dir,
		   const char *const *specs, const int *slot, unsigned n, struct ocg_run *out)
{
	static struct cli_guest_spec parsed[CLI_MAX_GUESTS];
	char swap_path[4096];
	struct run_opts o = { .quiet = true, .pool_size = r->pool, .swap_path = swap_path,
			      .nr_specs = n, .cfg = { .timeout_ns = 600ULL * 1000000000ULL } };
	uint64_t t0;
	int status;

	snprintf(swap_path, sizeof(swap_path), "%s/memvisor-bench-guests-%d.swap", dir, (int)getpid());
	for (unsigned i = 0; i < n; i++)
		o.specs[i] = specs[i];
	if (run_multi_parse(&o, parsed))
		return -1;
	for (unsigned i = 0; i < n; i++)
		r->parsed[slot[i]] = parsed[i];
	if (run_open_pool(&o, s)) {
		run_multi_end(n);
		return -1;
	}
	t0 = mv_now_ns();
	status = run_multi_guests(s, n);
	out->wall_s = (mv_now_ns() - t0) / 1e9;
	ocg_collect(s, n, slot, out);
	for (unsigned i = 0; i < n && status; i++)
		ocg_report_failed(parsed[i].name, run_multi_guest(i), n);
	run_multi_end(n);
	cli_setup_pool_close(s);
	return status ? -1 : 0;
}

struct bench_oc_guests *bench_oc_guests_run(struct cli_setup *s, uint64_t pool, const char *dir)
{
	struct bench_oc_guests *r = calloc(1, sizeof(*r));
	static const int both[OCG_NR] = { 0, 1 };

	if (!r) {
		fprintf(stderr, "memvisor: bench overcommit: out of memory\n");
		return NULL;
	}
	r->pool = pool;
	ocg_specs(r);
	const char *specs[OCG_NR] = { r->spec[0], r->spec[1] };

	for (int i = 0; i < OCG_NR; i++)
		if (ocg_run(r, s, dir, &specs[i], &both[i], 1, &r->alone[i]))
			goto fail;
	if (ocg_run(r, s, dir, specs, both, OCG_NR, &r->shared))
		goto fail;
	return r;
fail:
	free(r);
	return NULL;
}

void bench_oc_guests_free(struct bench_oc_guests *r)
{
	free(r);
}

static double ocg_mib(uint64_t frames)
{
	return (double)(frames << PAGE_SHIFT) / (1 << 20);
}

static double ocg_alone_s(const struct bench_oc_guests *r)
{
	double sum = 0;

	for (int i = 0; i < OCG_NR; i++)
		sum += r->alone[i].wall_s;
	return sum;
}

/* "limit.max 32 MiB" for each limit given, or "no limits". */
static void ocg_limits_text(const struct cli_guest_spec *sp, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int l = 0; l < CLI_NR_LIMITS && at < len; l++)
		if (sp->limits_given & (1u << l)) {
			char size[32];

			cli_format_size(sp->limit[l], size, sizeof(size));
			at += (size_t)snprintf(buf + at, len - at, "%s%s %s", at ? ", " : "",
					       cli_limit_key((enum cli_limit)l), size);
		}
	if (!at)
		snprintf(buf, len, "no limits");
}

static void ocg_row_text(const char *name, const char *run, const struct ocg_guest *g, double ratio)
{
	printf("  %-5s %-6s %7.2f ", name, run, g->s);
	if (ratio > 0)
		printf("%6.2fx", ratio);
	else
		printf("%7s", "");
	printf(" %7.1f %7.1f %7.1f %8llu %8llu   %llu/%llu/%llu/%llu/%llu   %s", ocg_mib(g->hiwater),
	       ocg_mib(g->rss), ocg_mib(g->swap_ents), (unsigned long long)g->faults,
	       (unsigned long long)g->swapins, (unsigned long long)g->ev.low,
	       (unsigned long long)g->ev.high, (unsigned long long)g->ev.max,
	       (unsigned long long)g->ev.oom, (unsigned long long)g->ev.oom_kill, g->end);
	if (g->checked)
		printf(", %llu mismatches", (unsigned long long)g->mismatches);
	putchar('\n');
}

static void ocg_run_text(const char *what, const struct ocg_run *run)
{
	printf("  %s: swapped out %.1f MiB, in %.1f MiB; frames reclaimed %llu by kswapd, %llu in "
	       "faults (direct); OOM kills %llu\n", what, ocg_mib(run->pswpout), ocg_mib(run->pswpin),
	       (unsigned long long)run->steal_kswapd, (unsigned long long)run->steal_direct,
	       (unsigned long long)run->oom_kills);
}

/* What each guest's limits did in the shared run: limit.max against its
 * hiwater (memory.max is hard), limit.min and limit.low against its rss at
 * its end (what the other guest's pressure left it). */
static void ocg_limits_check(const struct bench_oc_guests *r)
{
	for (int i = 0; i < OCG_NR; i++) {
		const struct cli_guest_spec *sp = &r->parsed[i];
		const struct ocg_guest *g = &r->shared.g[i];
		uint64_t max = sp->limit[CLI_LIMIT_MAX] >> PAGE_SHIFT;
		uint64_t prot = MAX(sp->limit[CLI_LIMIT_MIN], sp->limit[CLI_LIMIT_LOW]) >> PAGE_SHIFT;

		if (sp->limits_given & (1u << CLI_LIMIT_MAX))
			printf("  %s shared: hiwater %.1f MiB, limit.max %.1f MiB: %s\n", sp->name,
			       ocg_mib(g->hiwater), ocg_mib(max), g->hiwater <= max ? "held" : "EXCEEDED");
		if (prot)
			printf("  %s shared: rss %.1f MiB at its end, protected %.1f MiB (limit.min/low)\n",
			       sp->name, ocg_mib(g->rss), ocg_mib(prot));
	}
}

void bench_oc_guests_text(const struct bench_oc_guests *r, bool platform)
{
	char pool[32], lim[160];
	double alone = ocg_alone_s(r);

	cli_format_size(r->pool, pool, sizeof(pool));
	printf("bench overcommit, guests: two guests sharing a pool of %s and a swap file, beside "
	       "each alone in such a pool\n", pool);
	if (platform)
		bench_platform_text();
	for (int i = 0; i < OCG_NR; i++) {
		ocg_limits_text(&r->parsed[i], lim, sizeof(lim));
		printf("  --guest %s  (%s)\n", r->spec[i], lim);
	}
	printf("  %-5s %-6s %7s %7s %7s %7s %7s %8s %8s   %-13s %s\n", "guest", "run", "time s",
	       "shared/", "hiwater", "rss MiB", "swap", "faults", "swapins", "events", "end");
	printf("  %-5s %-6s %7s %7s %7s %7s %7s %8s %8s   %-13s\n", "", "", "", "alone", "MiB", "",
	       "MiB", "", "", "l/h/m/o/kill");
	for (int i = 0; i < OCG_NR; i++) {
		const struct ocg_guest *sh = &r->shared.g[i], *al = &r->alone[i].g[i];

		ocg_row_text(r->parsed[i].name, "alone", al, 0);
		ocg_row_text(r->parsed[i].name, "shared", sh, al->s > 0 ? sh->s / al->s : 0);
	}
	ocg_limits_check(r);
	printf("  together %.2f s, alone one after the other %.2f s: %.2fx\n", r->shared.wall_s, alone,
	       alone > 0 ? r->shared.wall_s / alone : 0);
	ocg_run_text("together", &r->shared);
	for (int i = 0; i < OCG_NR; i++) {
		snprintf(lim, sizeof(lim), "%s alone", r->parsed[i].name);
		ocg_run_text(lim, &r->alone[i]);
	}
}

static void ocg_guest_json(struct json *j, const char *key, const struct ocg_guest *g)
{
	json_begin(j, key, '{');
	json_str(j, "end", g->end);
	json_i64(j, "exit_status", g->status);
	json_f64(j, "s", g->s);
	json_u64(j, "rss_bytes", g->rss << PAGE_SHIFT);
	json_u64(j, "hiwater_bytes", g->hiwater << PAGE_SHIFT);
	json_u64(j, "swap_bytes", g->swap_ents << PAGE_SHIFT);
	json_u64(j, "faults", g->faults);
	json_u64(j, "swapins", g->swapins);
	json_u64(j, "refaults", g->refaults);
	if (g->checked)
		json_u64(j, "mismatches", g->mismatches);
	json_begin(j, "events", '{');
	json_u64(j, "low", g->ev.low);
	json_u64(j, "high", g->ev.high);
	json_u64(j, "max", g->ev.max);
	json_u64(j, "oom", g->ev.oom);
	json_u64(j, "oom_kill", g->ev.oom_kill);
	json_end(j, '}');
	json_end(j, '}');
}

static void ocg_run_json(struct json *j, const char *key, const struct ocg_run *run)
{
	json_begin(j, key, '{');
	json_f64(j, "wall_s", run->wall_s);
	json_u64(j, "pswpin", run->pswpin);
	json_u64(j, "pswpout", run->pswpout);
	json_u64(j, "pgsteal_kswapd", run->steal_kswapd);
	json_u64(j, "pgsteal_direct", run->steal_direct);
	json_u64(j, "oom_kills", run->oom_kills);
	json_end(j, '}');
}

static void ocg_each_json(struct json *j, const struct bench_oc_guests *r, int i)
{
	const struct cli_guest_spec *sp = &r->parsed[i];
	const struct ocg_guest *sh = &r->shared.g[i], *al = &r->alone[i].g[i];

	json_begin(j, NULL, '{');
	json_str(j, "guest", sp->name);
	json_str(j, "spec", r->spec[i]);
	json_u64(j, "ram_bytes", sp->mem);
	json_begin(j, "limits", '{');
	for (int l = 0; l < CLI_NR_LIMITS; l++)
		if (sp->limits_given & (1u << l))
			json_u64(j, cli_limit_key((enum cli_limit)l) + strlen("limit."), sp->limit[l]);
	json_end(j, '}');
	ocg_guest_json(j, "shared", sh);
	ocg_guest_json(j, "alone", al);
	json_f64(j, "shared_to_alone", al->s > 0 ? sh->s / al->s : 0);
	json_end(j, '}');
}

void bench_oc_guests_json(const struct bench_oc_guests *r, struct json *j)
{
	double alone = ocg_alone_s(r);

	json_begin(j, "guests", '{');
	json_u64(j, "pool_bytes", r->pool);
	json_begin(j, "each", '[');
	for (int i = 0; i < OCG_NR; i++)
		ocg_each_json(j, r, i);
	json_end(j, ']');
	ocg_run_json(j, "together", &r->shared);
	json_begin(j, "alone", '[');
	for (int i = 0; i < OCG_NR; i++)
		ocg_run_json(j, NULL, &r->alone[i]);
	json_end(j, ']');
	json_f64(j, "alone_wall_s", alone);
	json_f64(j, "together_to_alone", alone > 0 ? r->shared.wall_s / alone : 0);
	json_end(j, '}');
}
