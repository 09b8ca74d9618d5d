// SPDX-License-Identifier: MIT
/*
 * memvisor run --guest SPEC...: several guests on one frame pool. The pool,
 * its fault threads, kswapd and the swap device are set up once (setup.c),
 * as for one guest. Each guest has a thread of its own that waits out its
 * start delay, creates the guest (its VM, vCPUs and mm) and runs it, so a
 * guest that arrives late does so while the others run, and one that
 * crashes, is killed or times out ends only itself. The main thread waits
 * for all of them, then reports, then destroys them and the pool. A guest's
 * frames and swap slots go back to the pool as soon as it ends, however it
 * ends; its counters stay for the report.
 *
 * Signals: the guest threads are made while the main thread blocks the stop
 * signals, so they (and the vCPU and fault threads they make) never run the
 * handler; the main thread lets the signals through once they exist. A
 * signal interrupts every guest attached (run_attach) and keeps those not
 * yet created from starting.
 */
#include "cli.h"
#include "parse.h"
#include "run.h"
#include "summary.h"
#include "vmm/image.h"

#include "memvisor/abi.h"
#include "memvisor/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct multi_guest {
	const struct cli_guest_spec *spec;
	unsigned slot;
	const struct vmm_kvm *kvm;
	struct vmm_config cfg;
	char path[4096];
	void *elf;
	size_t len;
	struct vmm_guest *g;     /* NULL: never created (err says why) */
	pthread_t thread;
	bool have_thread;
	int status;
	char err[4096 + 600];   /* why it never ran */
};

static struct multi_guest multi_guests[CLI_MAX_GUESTS];
/* guests are created one at a time: set-up of one never races another's */
static pthread_mutex_t multi_create_lock = PTHREAD_MUTEX_INITIALIZER;

/* Sums over the guests, checked against what a pool can hold. */
static int multi_sums(struct run_opts *o, const struct cli_guest_spec *specs)
{
	uint64_t ram = 0;
	unsigned vcpus = 0;
	char pool[32], sum[32];

	for (unsigned i = 0; i < o->nr_specs; i++) {
		ram += specs[i].mem;
		vcpus += specs[i].vcpus;
	}
	cli_format_size(ram, sum, sizeof(sum));
	if (!o->pool_size && ram > MV_RAM_MAX)
		return cli_usage_error("the guests' RAM adds up to %s, more than a pool takes by "
				       "default: give --pool", sum);
	o->cfg.mem_size = ram;        /* the default pool and swap size */
	o->cfg.nr_vcpus = vcpus;      /* fault threads and pinning */
	if (!o->pool_size)
		o->pool_size = ram;
	cli_format_size(o->pool_size, pool, sizeof(pool));
	if (o->cfg.prefault == GMM_PREFAULT_ALL && o->pool_size < ram)
		return cli_usage_error("--prefault all installs all of each guest's RAM before it "
				       "starts: --pool (%s) must be at least the guests' RAM (%s)",
				       pool, sum);
	return 0;
}

/* Guest i's configuration from o's and its spec; its image found and read. */
static int multi_prepare(struct run_opts *o, unsigned i, const struct cli_guest_spec *spec)
{
	struct multi_guest *m = &multi_guests[i];
	char err[512];
	int ret;

	m->spec = spec;
	m->slot = i;
	m->cfg = o->cfg;
	m->cfg.name = spec->name;
	m->cfg.label = spec->name;
	m->cfg.path = m->path;
	m->cfg.mem_size = spec->mem;
	m->cfg.nr_vcpus = spec->vcpus;
	m->cfg.argc = spec->argc;
	m->cfg.argv = spec->argv;
	m->cfg.oom_score_adj = spec->oom_score_adj;
	m->cfg.limits = (struct gmm_limits){
		.min = spec->limit[CLI_LIMIT_MIN] >> PAGE_SHIFT,
		.low = spec->limit[CLI_LIMIT_LOW] >> PAGE_SHIFT,
		.high = spec->limit[CLI_LIMIT_HIGH] >> PAGE_SHIFT,
		.max = spec->limit[CLI_LIMIT_MAX] >> PAGE_SHIFT,
	};
	ret = run_check_guest_args(&m->cfg);
	if (ret)
		return ret;
	if (vmm_image_resolve(spec->image, m->path, sizeof(m->path), err, sizeof(err)))
		return cli_usage_error("--guest %s: %s", spec->name, err);
	if (vmm_image_read(m->path, &m->elf, &m->len, err, sizeof(err))) {
		fprintf(stderr, "memvisor: --guest %s: %s\n", spec->name, err);
		return VMM_EXIT_RUNTIME;
	}
	return 0;
}

static void multi_free_images(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(multi_guests[i].elf);
		multi_guests[i].elf = NULL;
	}
}

int run_multi_parse(struct run_opts *o, struct cli_guest_spec *specs)
{
	char err[1024];
	int ret;

	for (unsigned i = 0; i < o->nr_specs; i++)
		if (cli_parse_guest_spec(o->specs[i], i, &specs[i], err, sizeof(err)))
			return cli_usage_error("%s", err);
	ret = multi_sums(o, specs);
	if (ret)
		return ret;
	if (cli_check_guest_specs(specs, o->nr_specs, o->pool_size, err, sizeof(err)))
		return cli_usage_error("%s", err);
	for (unsigned i = 0; i < o->nr_specs; i++) {
		ret = multi_prepare(o, i, &specs[i]);
		if (ret) {
			multi_free_images(i + 1);
			return ret;
		}
	}
	return 0;
}

/* Wait out a start delay: true if a stop signal came first. */
static bool multi_delay(uint64_t ns)
{
	uint64_t end = mv_now_ns() + ns;

	while (!run_stopped()) {
		uint64_t now = mv_now_ns(), step;
		struct timespec ts;

		if (now >= end)
			return false;
		/* short steps: a signal cannot wake this thread (it blocks them) */
		step = MIN(end - now, 10000000ULL);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step;
		nanosleep(&ts, NULL);
	}
	return true;
}

static void *multi_thread(void *arg)
{
	struct multi_guest *m = arg;
	struct vmm_guest *g;
	char err[512];
	int ret;

	if (multi_delay(m->spec->start_ns)) {
		cli_watch_failed(m->slot);
		m->status = VMM_EXIT_INTERRUPTED;
		snprintf(m->err, sizeof(m->err), "interrupted by a signal before it started");
		return NULL;
	}
	pthread_mutex_lock(&multi_create_lock);
	ret = vmm_guest_create(m->kvm, &m->cfg, m->elf, m->len, &g, err, sizeof(err));
	pthread_mutex_unlock(&multi_create_lock);
	if (ret) {
		cli_watch_failed(m->slot);
		m->status = VMM_EXIT_RUNTIME;
		snprintf(m->err, sizeof(m->err), "not started: %s: %s", m->path, err);
		return NULL;
	}
	m->g = g;
	cli_watch_attach(m->slot, g);
	run_attach(m->slot, g);
	vmm_guest_run(g);
	m->status = cli_run_exit_status(g);
	/* done, crashed or killed: its frames and slots go back now, for the
	 * guests still running (global reclaim would otherwise swap a finished
	 * guest out for them); its counters stay for the summary */
	vmm_guest_release(g);
	return NULL;
}

/* Start every guest's thread, then let signals through, then wait. */
static void multi_run_all(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct multi_guest *m = &multi_guests[i];

		m->have_thread = !pthread_create(&m->thread, NULL, multi_thread, m);
		if (!m->have_thread) {
			m->status = VMM_EXIT_RUNTIME;
			snprintf(m->err, sizeof(m->err), "not started: no thread for it");
		}
	}
	run_unblock_signals();
	for (unsigned i = 0; i < n; i++)
		if (multi_guests[i].have_thread)
			pthread_join(multi_guests[i].thread, NULL);
}

/* "guest a: done, exit status 0", or the reason the guest ended, told
 * without its leading "guest a " (the line names it already). */
static void multi_report_end(const struct multi_guest *m)
{
	const struct vmm_guest *g = m->g;
	size_t nl = strlen(m->spec->name);
	const char *why;

	if (!g) {
		fprintf(stderr, "memvisor: guest %s: %s, exit status %d\n", m->spec->name, m->err,
			m->status);
		return;
	}
	why = g->end == VMM_END_DONE ? "done" : g->reason;
	if (!strncmp(why, "guest ", 6) && !strncmp(why + 6, m->spec->name, nl) && why[6 + nl] == ' ')
		why += 7 + nl;
	fprintf(stderr, "memvisor: guest %s: %s, exit status %d", m->spec->name, why, m->status);
	if (cli_exit_code_reserved(g))
		fprintf(stderr, " (its own exit code %d: memvisor keeps 120 and up)",
			g->exit_code & 0xff);
	fputc('\n', stderr);
	if (g->end != VMM_END_DONE && g->detail[0])
		fprintf(stderr, "%s\n", g->detail);
}

/* The ends, one line each in --guest order; the per-guest summaries; the
 * pool's part once (read through any guest: they share it); the JSON. */
static void multi_report(bool quiet, struct cli_summary_file *json, unsigned n, int status)
{
	struct cli_summary_guest sg[CLI_MAX_GUESTS];
	const struct vmm_guest *any = NULL;

	cli_watch_end(); /* the progress line gone, the last stats line written */
	fflush(stdout);
	for (unsigned i = 0; i < n; i++) {
		struct multi_guest *m = &multi_guests[i];

		multi_report_end(m);
		sg[i] = (struct cli_summary_guest){ .name = m->spec->name, .path = m->path,
			.g = m->g, .status = m->status, .reason = m->err };
		any = any ? any : m->g;
	}
	for (unsigned i = 0; i < n && !quiet; i++)
		if (multi_guests[i].g)
			cli_summary_print_guest(multi_guests[i].g, stderr);
	if (any && !quiet)
		cli_summary_print_pool(any, n, stderr);
	if (!quiet && cli_watch_socket_path())
		fprintf(stderr, "  stat socket: %s (gone at exit)\n", cli_watch_socket_path());
	if (json->f) {
		cli_summary_json_guests(sg, n, status, json->f);
		json->written = true;
	}
}

/* The run's status: the first non-zero one in --guest order, or 0. */
static int multi_status(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (multi_guests[i].status)
			return multi_guests[i].status;
	return 0;
}

int run_multi_guests(struct cli_setup *s, unsigned n)
{
	const char *names[CLI_MAX_GUESTS];

	for (unsigned i = 0; i < n; i++) {
		multi_guests[i].kvm = &s->kvm;
		multi_guests[i].cfg.pool = cli_setup_pool_of(s);
		names[i] = multi_guests[i].spec->name;
	}
	cli_watch_start(cli_setup_pool_of(s), n, names);
	multi_run_all(n);
	return multi_status(n);
}

const struct vmm_guest *run_multi_guest(unsigned i)
{
	return multi_guests[i].g;
}

void run_multi_end(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct multi_guest *m = &multi_guests[i];

		run_detach(i);
		cli_watch_detach(i);
		if (m->g)
			vmm_guest_destroy(m->g);
		m->g = NULL;
	}
	multi_free_images(n);
}

int run_multi(struct run_opts *o, struct cli_summary_file *json)
{
	struct cli_setup s = { .have_kvm = false };
	unsigned n = o->nr_specs;
	char err[512];
	int status = 0;

	if (cli_setup_kvm(&s, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		multi_free_images(n);
		return VMM_EXIT_RUNTIME;
	}
	if (run_signal_pending() || run_open_pool(o, &s) || run_signal_pending())
		status = run_signal_pending() ? VMM_EXIT_INTERRUPTED : VMM_EXIT_RUNTIME;
	if (status == VMM_EXIT_INTERRUPTED)
		fprintf(stderr, "memvisor: interrupted by a signal before the guests started\n");
	if (!status) {
		status = run_multi_guests(&s, n);
		multi_report(o->quiet, json, n, status);
	}
	run_multi_end(n);
	cli_setup_close(&s);
	return status;
}
