// SPDX-License-Identifier: MIT
/*
 * bench overcommit, memvisor's side (see overcommit.c): the touch guest in
 * an in-process pool with a swap file, or its floor, and what it cost.
 */
#include "overcommit.h"
#include "bench.h"
#include "vmm/guest.h"
#include "vmm/cli/setup.h"
#include "vmm/cli/stats.h"

#include "memvisor/abi.h"
#include "swapd/swapd.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The guest's own figures: touches summed over vCPUs, time of the slowest. */
static void oc_guest_reports(const struct vmm_guest *g, struct oc_mv *m)
{
	uint64_t ns = 0;

	for (unsigned i = 0; i < g->nr_reports; i++) {
		const struct vmm_report *rep = &g->reports[i];

		if (!strcmp(rep->key, "pages"))
			m->touches += rep->value;
		else if (!strcmp(rep->key, "ns") && rep->value > ns)
			ns = rep->value;
	}
	m->wall_s = (g->t_end_ns - g->t_create_ns) / 1e9;
	/* no TSC rate known to the guest: create to teardown is the next best */
	m->s = ns ? ns / 1e9 : m->wall_s;
}

static void oc_guest_counters(const struct vmm_guest *g, const struct cli_setup *s, struct oc_mv *m)
{
	const struct gmm_fault_stats *fs = &g->mm->fs;
	const struct gmm_pool *pool = &s->pool;

	m->faults = fs->faults + fs->wss_faults; /* round trips, the sampler's too */
	m->wss_faults = fs->wss_faults;
	m->refaults = fs->refaults;
	m->swapins = fs->swapins;
	m->new_faults = fs->faults > fs->refaults + fs->swapins ? fs->faults - fs->refaults - fs->swapins : 0;
	m->installed = fs->installed;
	m->handler_ns = fs->ns_handler;
	m->swap_out = s->swap.stats.writes;
	m->swap_in = s->swap.stats.reads;
	m->write_ns = s->swap.stats.write_ns;
	m->freed = pool->vm.pgsteal_kswapd + pool->vm.pgsteal_direct;
	m->reclaim_ns = pool->vm.reclaim_ns;
	m->arm_moves = pool->vm.arm_moves;
	m->scanned = pool->vm.pgscan_kswapd + pool->vm.pgscan_direct;
}

void oc_touch_args(const struct oc_opts *o, const struct oc_run *r, struct oc_args *a)
{
	snprintf(a->pat, sizeof(a->pat), "--pattern=%s", r->w->pattern);
	snprintf(a->passes, sizeof(a->passes), "--passes=%u", r->w->passes);
	snprintf(a->seed, sizeof(a->seed), "--seed=%llu", (unsigned long long)o->seed);
}

/* The guest of RAM ratio x pool in an in-process pool; floor: pool = RAM, all
 * of it prefaulted, no swap. 0, or -1 with one line printed. */
int oc_guest(struct cli_setup *s, const struct oc_opts *o, const struct oc_run *r, bool floor,
		    const struct oc_image *img, struct oc_mv *m)
{
	char swap_path[4096], err[512];
	struct oc_args a;
	char *argv[] = { a.pat, a.passes, a.seed };
	uint64_t ram = o->pool * r->ratio;
	struct vmm_config cfg = { .name = "touch", .path = img->path, .mem_size = ram, .nr_vcpus = 1,
				  .argc = 3, .argv = argv,
				  .prefault = floor ? GMM_PREFAULT_ALL : GMM_PREFAULT_NONE };
	struct cli_pool_spec spec = { .bytes = floor ? ram : o->pool, .nr_vcpus = 1,
				      .prezero = CLI_PREZERO_SPARE_CPU,
				      .swap_path = floor ? NULL : swap_path, .swap_size = ram };
	struct vmm_guest *g;
	int status = -1;

	oc_touch_args(o, r, &a);
	snprintf(swap_path, sizeof(swap_path), "%s/memvisor-bench-%d.swap", o->dir, (int)getpid());
	if (cli_setup_pool(s, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: %s\n", err);
		return -1;
	}
	cfg.pool = cli_setup_pool_of(s);
	if (vmm_guest_create(&s->kvm, &cfg, img->elf, img->len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: %s\n", err);
	} else {
		cli_watch_bench_begin(cfg.pool, r->w->name, g, o->json);
		status = vmm_guest_run(g);
		cli_watch_bench_end();
		oc_guest_reports(g, m);
		oc_guest_counters(g, s, m);
		if (status)
			fprintf(stderr, "memvisor: bench overcommit: %s at %ux%s ended with status %d: %s\n",
				r->w->name, r->ratio, floor ? " (floor)" : "", status, g->reason);
		vmm_guest_destroy(g);
	}
	cli_setup_pool_close(s);
	return status ? -1 : 0;
}
