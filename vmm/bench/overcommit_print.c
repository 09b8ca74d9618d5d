// SPDX-License-Identifier: MIT
/*
 * bench overcommit's figures (see overcommit.c): the goals of issue 11
 * from a set of runs, and the text and JSON of it all.
 */
#include "overcommit.h"
#include "bench.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"

#include "memvisor/abi.h"
#include "memvisor/types.h"

#include <math.h>
#include <stdio.h>

static double oc_per_k(uint64_t n, uint64_t touches) { return oc_div(n * 1000.0, touches); }
static uint64_t oc_lx_faults(const struct oc_linux *l) { return l->minflt + l->majflt; }

/* Did the run have to swap? More than 1% of the pool went out on either side. */
static bool oc_must_swap(const struct oc_opts *o, const struct oc_run *r)
{
	uint64_t pages = o->pool / PAGE_SIZE / 100;

	return r->mv.swap_out > pages || r->lx.swap_out > pages;
}

static void oc_gm_add(struct oc_gm *g, double x)
{
	if (x <= 0)
		return;
	g->log_sum += log(x);
	g->min = g->n ? fmin(g->min, x) : x;
	g->max = fmax(g->max, x);
	g->n++;
}

static double oc_gm(const struct oc_gm *g) { return g->n ? exp(g->log_sum / g->n) : 0; }

void oc_goals(const struct oc_opts *o, const struct oc_run *runs, unsigned n,
		     struct oc_goals *g)
{
	for (unsigned i = 0; i < n; i++) {
		const struct oc_run *r = &runs[i];
		bool lx = r->lx.s > 0;

		if (oc_must_swap(o, r) && lx)
			oc_gm_add(&g->swap_speed, r->lx.s / r->mv.s);
		if (!oc_must_swap(o, r) && r->mv_floor.s > 0)
			oc_gm_add(&g->fit_floor, r->mv.s / r->mv_floor.s);
		if (lx && oc_lx_faults(&r->lx))
			oc_gm_add(&g->trips, oc_div(r->mv.faults, oc_lx_faults(&r->lx)));
		if (lx && r->lx.swap_out)
			oc_gm_add(&g->written, (double)r->mv.swap_out / r->lx.swap_out);
		if (lx && r->lx.swap_in)
			oc_gm_add(&g->read, (double)r->mv.swap_in / r->lx.swap_in);
	}
}

/* ---- text ---- */

static void oc_print_runtimes(const struct oc_run *r, unsigned n)
{
	printf("  runtime, s     RAM   memvisor  its floor     Linux  its floor  Linux/memvisor  "
	       "KVM guest in the cgroup\n");
	for (unsigned i = 0; i < n; i++, r++) {
		printf("  %-12s %4ux  %9.3f  %9.3f  ", r->w->name, r->ratio, r->mv.s, r->mv_floor.s);
		if (r->lx.s > 0)
			printf("%8.3f  ", r->lx.s);
		else
			printf("%8s  ", "-");
		if (r->lx_floor.s > 0)
			printf("%9.3f  ", r->lx_floor.s);
		else
			printf("%9s  ", "-");
		if (r->lx.s > 0)
			printf("%14.2f  ", r->lx.s / r->mv.s);
		else
			printf("%14s  ", "-");
		if (r->kvm_s >= 0)
			printf("%.3f s\n", r->kvm_s);
		else
			printf("%s\n", r->kvm_note);
		if (r->lx.s <= 0)
			printf("  %-17s Linux: %s\n", "", r->lx.note);
		if (r->lx_floor.s <= 0)
			printf("  %-17s Linux floor: %s\n", "", r->lx_floor.note);
	}
}

static void oc_print_faults(const struct oc_run *r, unsigned n)
{
	printf("  %-19s | %-39s | %-24s | %-8s | %s\n", "per 1000 touches", "memvisor's faults",
	       "Linux's faults", "", "pages to and from swap");
	printf("  %-12s %6s | %8s %6s %8s %6s %7s | %10s %6s %6s | %8s | %9s %9s %9s %9s\n", "",
	       "RAM", "all", "new", "refault", "swapin", "sampler", "all", "minor", "major",
	       "mv/Linux", "mv out", "mv in", "Linux out", "Linux in");
	for (unsigned i = 0; i < n; i++, r++) {
		uint64_t t = r->mv.touches;

		printf("  %-12s %5ux | %8.1f %6.1f %8.1f %6.1f %7.1f | ", r->w->name, r->ratio,
		       oc_per_k(r->mv.faults, t), oc_per_k(r->mv.new_faults, t),
		       oc_per_k(r->mv.refaults, t), oc_per_k(r->mv.swapins, t),
		       oc_per_k(r->mv.wss_faults, t));
		if (r->lx.s > 0)
			printf("%10.1f %6.1f %6.1f | %8.2f |", oc_per_k(oc_lx_faults(&r->lx), r->lx.touches),
			       oc_per_k(r->lx.minflt, r->lx.touches), oc_per_k(r->lx.majflt, r->lx.touches),
			       oc_div(r->mv.faults, oc_lx_faults(&r->lx)));
		else
			printf("%10s %6s %6s | %8s |", "-", "-", "-", "-");
		printf(" %9llu %9llu %9llu %9llu\n", (unsigned long long)r->mv.swap_out,
		       (unsigned long long)r->mv.swap_in, (unsigned long long)r->lx.swap_out,
		       (unsigned long long)r->lx.swap_in);
	}
}

/* Where memvisor's time goes: its faults and what it spends above its floor. */
static void oc_print_time(const struct oc_run *r, unsigned n)
{
	printf("  memvisor's time    RAM   faults  pages/fault  handler us/fault  above floor: s  "
	       "us/fault | Linux above floor, s\n");
	for (unsigned i = 0; i < n; i++, r++) {
		double above = r->mv.s - r->mv_floor.s;

		printf("  %-15s %5ux %8llu %12.1f %17.1f %15.3f %9.1f | ", r->w->name, r->ratio,
		       (unsigned long long)r->mv.faults,
		       oc_div(r->mv.installed, r->mv.faults - r->mv.wss_faults),
		       oc_div(r->mv.handler_ns / 1e3, r->mv.faults - r->mv.wss_faults), above,
		       oc_div(above * 1e6, r->mv.faults));
		if (r->lx.s > 0 && r->lx_floor.s > 0)
			printf("%.3f\n", r->lx.s - r->lx_floor.s);
		else
			printf("-\n");
	}
	printf("  the guest's time blocked in faults is not measured: its vCPU waits inside KVM_RUN\n"
	       "  and vcpu.c does not time that; \"above floor\" (runtime minus the prefaulted run's)\n"
	       "  bounds it from above\n");
}

static void oc_goal_gm(const char *figure, const struct oc_gm *g, const char *goal)
{
	char measured[64];

	if (!g->n)
		snprintf(measured, sizeof(measured), "no run to judge");
	else
		snprintf(measured, sizeof(measured), "gm %.2f, least %.2f (%u run%s)", oc_gm(g), g->min,
			 g->n, g->n == 1 ? "" : "s");
	printf("  | %-66s | %-30s | %-28s |\n", figure, measured, goal);
}

static void oc_print_goals(const struct oc_goals *g)
{
	char measured[64];

	printf("  goals, from this run:\n  | %-66s | %-30s | %-28s |\n", "figure", "measured", "goal");
	oc_goal_gm("workloads that must swap: runtime, Linux process / memvisor", &g->swap_speed,
		   "gm >= 1.5, none below 1.0");
	snprintf(measured, sizeof(measured), g->fit_floor.n ? "worst %.2f (%u of the runs)" : "no run fits",
		 g->fit_floor.max, g->fit_floor.n);
	printf("  | %-66s | %-30s | %-28s |\n", "workloads that fit the pool: memvisor / its own floor",
	       measured, "<= 1.5");
	oc_goal_gm("userspace round trips per touch / Linux's faults per touch", &g->trips, "<= 0.25");
	oc_goal_gm("pages written to swap / Linux's", &g->written, "<= 0.5");
	oc_goal_gm("pages read from swap / Linux's", &g->read, "<= 0.5");
	printf("  | %-66s | %-30s | %-28s |\n", "memvisor fault service / bare round-trip floor",
	       "see bench faultpath", "<= 1.1");
	if (g->cpu_us > 0 && g->raw_cpu_us > 0)
		snprintf(measured, sizeof(measured), "%.2f (%.1f us / %.1f us)", g->cpu_us / g->raw_cpu_us,
			 g->cpu_us, g->raw_cpu_us);
	else
		snprintf(measured, sizeof(measured), "nothing reclaimed");
	printf("  | %-66s | %-30s | %-28s |\n", "reclaim CPU per page / raw io_uring write CPU per page",
	       measured, "<= 1.5");
	snprintf(measured, sizeof(measured), g->swapout_frac > 0 ? "%.2f" : "nothing written",
		 g->swapout_frac);
	printf("  | %-66s | %-30s | %-28s |\n", "swap-out throughput / raw io_uring write", measured,
	       ">= 0.9");
	printf("  | %-66s | %-30s | %-28s |\n", "demand paging: memvisor / prepopulated, / kernel",
	       "see bench demand-paging", ">= 1.0");
}

void oc_print_text(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			  const struct oc_goals *g)
{
	char pool[32];

	cli_format_size(o->pool, pool, sizeof(pool));
	printf("bench overcommit: touch, pool %s, seed %llu, swap files in %s; memvisor beside Linux "
	       "running the same accesses as a process in a memory cgroup of the pool's size\n",
	       pool, (unsigned long long)o->seed, o->dir);
	bench_platform_text();
	oc_print_runtimes(r, n);
	oc_print_faults(r, n);
	oc_print_time(r, n);
	oc_print_goals(g);
	printf("  reclaim CPU is the reclaim threads' CPU time (I/O waits excluded) per reclaimed page; the\n"
	       "  raw write's is its thread's CPU per 4 KiB page at queue depth 32 in the same directory\n");
}

/* ---- JSON ---- */

static void oc_json_mv(struct json *j, const struct oc_run *r)
{
	const struct oc_mv *m = &r->mv;

	json_begin(j, "memvisor", '{');
	json_f64(j, "s", m->s);
	json_f64(j, "wall_s", m->wall_s);
	json_u64(j, "touches", m->touches);
	json_u64(j, "faults", m->faults);
	json_u64(j, "new_page_faults", m->new_faults);
	json_u64(j, "refaults", m->refaults);
	json_u64(j, "swapins", m->swapins);
	json_u64(j, "sampler_faults", m->wss_faults);
	json_f64(j, "faults_per_1000_touches", oc_per_k(m->faults, m->touches));
	json_u64(j, "pages_installed", m->installed);
	json_f64(j, "handler_us_per_fault", oc_div(m->handler_ns / 1e3, m->faults - m->wss_faults));
	json_u64(j, "swap_pages_written", m->swap_out);
	json_u64(j, "swap_pages_read", m->swap_in);
	json_u64(j, "pages_reclaimed", m->freed);
	json_u64(j, "pages_scanned", m->scanned);
	json_u64(j, "arm_moves", m->arm_moves);
	json_f64(j, "reclaim_cpu_us_per_page", oc_div(m->reclaim_ns / 1e3, m->freed));
	json_str(j, "blocked_in_faults_s", NULL); /* not measured: see the text */
	json_f64(j, "above_floor_s", m->s - r->mv_floor.s);
	json_f64(j, "floor_s", r->mv_floor.s);
	json_end(j, '}');
}

static void oc_json_linux(struct json *j, const char *key, const struct oc_linux *l, bool floor)
{
	json_begin(j, key, '{');
	if (l->s > 0)
		json_f64(j, "s", l->s);
	else
		json_str(j, "s", NULL);
	json_str(j, "note", l->s > 0 ? NULL : l->note);
	json_f64(j, "wall_s", l->wall_s);
	json_u64(j, "touches", l->touches);
	json_u64(j, "minflt", l->minflt);
	json_u64(j, "majflt", l->majflt);
	json_f64(j, "faults_per_1000_touches", oc_per_k(oc_lx_faults(l), l->touches));
	if (!floor) {
		json_u64(j, "swap_pages_written", l->swap_out);
		json_u64(j, "swap_pages_read", l->swap_in);
	}
	json_end(j, '}');
}

static void oc_json_run(struct json *j, const struct oc_opts *o, const struct oc_run *r)
{
	json_begin(j, NULL, '{');
	json_str(j, "workload", r->w->name);
	json_u64(j, "ram_to_pool", r->ratio);
	json_bool(j, "must_swap", oc_must_swap(o, r));
	oc_json_mv(j, r);
	oc_json_linux(j, "linux", &r->lx, false);
	oc_json_linux(j, "linux_floor", &r->lx_floor, true);
	if (r->lx.s > 0) {
		json_f64(j, "linux_over_memvisor", r->lx.s / r->mv.s);
		json_f64(j, "faults_memvisor_over_linux", oc_div(r->mv.faults, oc_lx_faults(&r->lx)));
	} else {
		json_str(j, "linux_over_memvisor", NULL);
		json_str(j, "faults_memvisor_over_linux", NULL);
	}
	if (r->kvm_s >= 0)
		json_f64(j, "kvm_cgroup_s", r->kvm_s);
	else
		json_str(j, "kvm_cgroup_s", NULL);
	json_str(j, "kvm_cgroup_note", r->kvm_s >= 0 ? NULL : r->kvm_note);
	json_end(j, '}');
}

static void oc_json_gm(struct json *j, const char *key, const struct oc_gm *g)
{
	json_begin(j, key, '{');
	if (g->n) {
		json_f64(j, "geomean", oc_gm(g));
		json_f64(j, "least", g->min);
		json_f64(j, "most", g->max);
	} else {
		json_str(j, "geomean", NULL);
	}
	json_u64(j, "runs", g->n);
	json_end(j, '}');
}

void oc_print_json(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			  const struct oc_goals *g, const struct bench_oc_guests *guests)
{
	struct json j;

	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "bench", "overcommit");
	bench_platform_json(&j);
	json_u64(&j, "pool_bytes", o->pool);
	json_u64(&j, "seed", o->seed);
	json_begin(&j, "runs", '[');
	for (unsigned i = 0; i < n; i++)
		oc_json_run(&j, o, &r[i]);
	json_end(&j, ']');
	json_begin(&j, "goals", '{');
	oc_json_gm(&j, "must_swap_linux_over_memvisor", &g->swap_speed);
	oc_json_gm(&j, "fits_memvisor_over_floor", &g->fit_floor);
	oc_json_gm(&j, "faults_memvisor_over_linux", &g->trips);
	oc_json_gm(&j, "swap_written_memvisor_over_linux", &g->written);
	oc_json_gm(&j, "swap_read_memvisor_over_linux", &g->read);
	json_end(&j, '}');
	json_f64(&j, "swapout_vs_raw_write", g->swapout_frac);
	json_f64(&j, "cpu_us_per_reclaimed_page", g->cpu_us);
	json_f64(&j, "raw_write_cpu_us_per_page", g->raw_cpu_us);
	if (guests)
		bench_oc_guests_json(guests, &j);
	json_end(&j, '}');
}
