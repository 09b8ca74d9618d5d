// SPDX-License-Identifier: MIT
/*
 * memvisor bench overcommit: the touch guest with RAM 2x and 4x the pool
 * (--ratios), paged to a swap file, beside Linux managing the very same
 * accesses as process memory: memvisor-touch-host, built from the guest's
 * own pattern source, over an anonymous mapping of RAM's size, in a memory
 * cgroup limited to the pool with a host swap file of RAM's size on the same
 * filesystem (hostswap.c). Interleaved for every workload and ratio:
 *   memvisor        the guest, pool and swap file as memvisor runs them
 *   Linux           the host program in the cgroup, with host swap
 *   memvisor floor  the same guest with pool = RAM, all of it prefaulted
 *   Linux floor     the host program with no memory limit
 *   KVM in cgroup   memvisor --host-mm in the cgroup: Linux reclaiming a KVM
 *                   guest, where it completes (usually the cgroup's OOM
 *                   killer ends it on this shadow-paging backend)
 * Workloads (touch patterns, guest/lib/pattern.c):
 *   zipf    4 passes of Zipf-distributed writes over all of RAM
 *   phased  8 phases of a working set of RAM/4 walked 4 times, moving on
 *   scan    3 sequential passes of writes over all of RAM
 *   random  2 passes, each writing every page once in a random order
 *   mix     4 passes of zipf draws, 80% reads and 20% writes
 * Per run, both sides: runtime (the walk, as the guest and the host program
 * time it), faults per 1000 touches, pages written to and read from swap;
 * then the goals of issue 11 filled from the run, swap-out throughput
 * against a raw io_uring write, and memvisor's host CPU per reclaimed page.
 */
#include "bench.h"
#include "overcommit.h"
#include "rawio.h"
#include "vmm/cli/cli.h"
#include "vmm/guest.h"
#include "vmm/image.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"

#include "memvisor/abi.h"
#include "memvisor/time.h"
#include "swapd/swapd.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct oc_workload oc_workloads[] = {
	{ "zipf", "zipf", 4 },
	{ "phased", "phased", 8 },
	{ "scan", "seq", 3 },
	{ "random", "random", 2 },
	{ "mix", "mix", 4 },
};
/* the workload_mask bit of the multi-guest workload (overcommit_guests.c) */
#define OC_GUESTS (1u << ARRAY_SIZE(oc_workloads))

/* ---- the runs ---- */

static int oc_images(struct oc_image *img, struct cli_setup *setup)
{
	char err[512];
	ssize_t sl = readlink("/proc/self/exe", img->self, sizeof(img->self) - 1);

	if (sl <= 0) {
		fprintf(stderr, "memvisor: bench overcommit: cannot find my own executable\n");
		return -1;
	}
	img->self[sl] = '\0';
	if (vmm_image_resolve("memvisor-touch-host", img->host, sizeof(img->host), err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: memvisor-touch-host is not installed beside "
			"the built-in guests (build it with memvisor: ninja -C <build dir>)\n");
		return -1;
	}
	return bench_setup("overcommit", "touch", img->path, sizeof(img->path), &img->elf, &img->len,
			   setup);
}

/* Both floors, each the faster of two runs: noise on a shared machine only
 * ever adds time, and a floor is the least the accesses cost. */
static void oc_floors(struct cli_setup *s, const struct oc_opts *o, const struct oc_image *img,
		      struct oc_run *r)
{
	r->mv_floor.s = -1;
	for (int k = 0; k < 2; k++) {
		struct oc_mv m = { .s = -1 };
		struct oc_linux l = { .s = -1 };

		if (!oc_guest(s, o, r, true, img, &m) && (r->mv_floor.s < 0 || m.s < r->mv_floor.s))
			r->mv_floor = m;
		oc_linux(o, r, true, img, &l);
		if (k == 0 || (l.s > 0 && (r->lx_floor.s <= 0 || l.s < r->lx_floor.s)))
			r->lx_floor = l;
	}
}

/* One workload at one ratio: the four figures and the KVM one, interleaved. */
static int oc_one(struct cli_setup *s, const struct oc_opts *o, const struct oc_image *img,
		  struct oc_run *r)
{
	if (oc_guest(s, o, r, false, img, &r->mv))
		return -1;
	if (o->no_kernel) {
		r->lx.s = -1;
		snprintf(r->lx.note, sizeof(r->lx.note), "not run (--no-kernel)");
	} else {
		oc_linux(o, r, false, img, &r->lx);
	}
	oc_floors(s, o, img, r);
	r->kvm_s = -1;
	if (o->no_kernel || o->quick)
		snprintf(r->kvm_note, sizeof(r->kvm_note), "not run (--%s)",
			 o->no_kernel ? "no-kernel" : "quick");
	else
		oc_kvm_cgroup(o, r, img);
	return 0;
}

/* Swap-out throughput against a raw write, and reclaim CPU per page. */
static void oc_swap_figures(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			    struct oc_goals *g)
{
	uint64_t written = 0, write_ns = 0, freed = 0, reclaim_ns = 0, biggest = 0;

	for (unsigned i = 0; i < n; i++) {
		written += r[i].mv.swap_out * PAGE_SIZE;
		write_ns += r[i].mv.write_ns;
		freed += r[i].mv.freed;
		reclaim_ns += r[i].mv.reclaim_ns;
		biggest = MAX(biggest, r[i].mv.swap_out * PAGE_SIZE);
	}
	/* the raw write memvisor's swap-out is judged against: a steady queue
	 * depth of 32, as swap-out batches go; no figure rather than a wrong one */
	struct bench_rawio raw;

	if (bench_raw_write_dir(o->dir, MAX(biggest, 64ULL << 20), 32, true, &raw))
		memset(&raw, 0, sizeof(raw));
	double swapout = write_ns ? written / (write_ns / 1e9) : 0;

	g->swapout_frac = oc_div(swapout, bench_rawio_bps(&raw));
	g->cpu_us = freed ? reclaim_ns / 1e3 / freed : 0;
	g->raw_cpu_us = raw.pages ? raw.cpu_ns / 1e3 / raw.pages : 0;
}

static int oc_measure(const struct oc_opts *o)
{
	struct oc_run runs[ARRAY_SIZE(oc_workloads) * OC_MAX_RATIOS], *r = runs;
	struct cli_setup setup = { .have_kvm = false };
	struct bench_oc_guests *guests = NULL;
	struct oc_image img = { .elf = NULL };
	struct oc_goals g = { .swapout_frac = 0 };
	int ret = VMM_EXIT_RUNTIME;

	if (oc_images(&img, &setup))
		goto out;
	for (unsigned w = 0; w < ARRAY_SIZE(oc_workloads); w++)
		for (unsigned k = 0; (o->workload_mask & (1u << w)) && k < o->nr_ratios; k++, r++) {
			memset(r, 0, sizeof(*r));
			r->w = &oc_workloads[w];
			r->ratio = o->ratios[k];
			if (oc_one(&setup, o, &img, r))
				goto out;
		}
	if ((o->workload_mask & OC_GUESTS) && !(guests = bench_oc_guests_run(&setup, o->pool, o->dir)))
		goto out;
	oc_swap_figures(o, runs, (unsigned)(r - runs), &g);
	oc_goals(o, runs, (unsigned)(r - runs), &g);
	if (o->json)
		oc_print_json(o, runs, (unsigned)(r - runs), &g, guests);
	else if (r > runs)
		oc_print_text(o, runs, (unsigned)(r - runs), &g);
	if (guests && !o->json)
		bench_oc_guests_text(guests, r == runs);
	ret = 0;
out:
	bench_oc_guests_free(guests);
	cli_setup_close(&setup);
	free(img.elf);
	return ret;
}

/* --workload: names, comma-separated, or all. */
static int oc_parse_workloads(const char *arg, unsigned *mask)
{
	char buf[128], *save = NULL;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned before = *mask;

		for (unsigned w = 0; w < ARRAY_SIZE(oc_workloads); w++)
			if (!strcmp(t, oc_workloads[w].name) || !strcmp(t, "all"))
				*mask |= 1u << w;
		if (!strcmp(t, "guests") || !strcmp(t, "all"))
			*mask |= OC_GUESTS;
		if (*mask == before)
			return cli_usage_error("bad --workload '%s': zipf, phased, scan, random, mix, "
					       "guests or all, comma-separated", arg);
	}
	return *mask ? 0 : cli_usage_error("bad --workload '%s': name one", arg);
}

/* --ratios: RAM / pool, e.g. 2,4. */
static int oc_parse_ratios(const char *arg, struct oc_opts *o)
{
	const char *p = arg;
	char *end;

	o->nr_ratios = 0;
	do {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v < 1 || v > 64 || (*end && *end != ',') || o->nr_ratios == OC_MAX_RATIOS)
			return cli_usage_error("bad --ratios '%s': up to %d of 1..64, e.g. 2,4", arg,
					       OC_MAX_RATIOS);
		o->ratios[o->nr_ratios++] = (unsigned)v;
		p = end + 1;
	} while (*end);
	o->ratios_set = true;
	return 0;
}

static int oc_option(int c, const char *arg, void *opts)
{
	struct oc_opts *o = opts;

	switch (c) {
	case 'p':
		if (cli_parse_size(arg, &o->pool) || o->pool < (4 << 20) || o->pool % PAGE_SIZE)
			return cli_usage_error("bad --pool '%s': 4M or more, e.g. 64M", arg);
		o->pool_set = true;
		return 0;
	case 'd':
		o->dir = arg;
		return 0;
	case 'w':
		return oc_parse_workloads(arg, &o->workload_mask);
	case 'r':
		return oc_parse_ratios(arg, o);
	case 's':
		if (cli_parse_uint(arg, 0, 1000000000000ULL, &o->seed))
			return cli_usage_error("bad --seed '%s': a number", arg);
		return 0;
	case 'q':
		o->quick = true;
		return 0;
	case 'n':
		o->no_kernel = true;
		return 0;
	}
	return -1;
}

int bench_overcommit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pool", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "workload", required_argument, NULL, 'w' },
		{ "ratios", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-kernel", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct oc_opts o = { .pool = 64ULL << 20, .seed = 1, .dir = "/tmp",
			     .workload_mask = (OC_GUESTS << 1) - 1, .ratios = { 2, 4 }, .nr_ratios = 2 };
	struct bench_args a = { .name = "overcommit", .shortopts = "p:", .longopts = longopts,
				.json = &o.json, .option = oc_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);
	unsigned most = 0;

	if (ret)
		return ret;
	/* --quick: a smaller pool and 2x only, unless given */
	if (o.quick && !o.pool_set)
		o.pool = 16ULL << 20;
	if (o.quick && !o.ratios_set)
		o.nr_ratios = 1;
	for (unsigned k = 0; k < o.nr_ratios; k++)
		most = MAX(most, o.ratios[k]);
	if (o.pool * most > MV_RAM_MAX)
		return cli_usage_error("--pool times the largest ratio is past the most guest RAM (%llu GiB)",
				       MV_RAM_MAX >> 30);
	return oc_measure(&o);
}
