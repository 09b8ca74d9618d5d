// SPDX-License-Identifier: MIT
/*
 * memvisor bench demand-paging, after Linux's KVM demand_paging_test: the
 * built-in touch guest writes every page of its RAM once, and reports how
 * many pages per second it managed. Three ways to back its RAM, interleaved
 * round by round so that machine noise hits them alike:
 *   memvisor      frames from the pool, installed by the userfaultfd fault path
 *   kernel        plain anonymous memory the host kernel fills on fault (--host-mm)
 *   prepopulated  the same, populated before the guest starts
 * Medians over the rounds, and the ratios memvisor/kernel and
 * memvisor/prepopulated; then where memvisor's time per fault goes.
 */
#include "bench.h"
#include "vmm/cli/cli.h"
#include "vmm/guest.h"
#include "vmm/image.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"

#include "memvisor/abi.h"

#include <stdlib.h>
#include <string.h>

enum { MODE_MEMVISOR, MODE_KERNEL, MODE_PREPOP, NR_MODES };
static const char *const mode_name[NR_MODES] = { "memvisor", "kernel", "prepopulated" };

struct paging_opts {
	uint64_t size;
	unsigned vcpus, runs;
	bool random, json;
};

struct paging_sample {
	double pps;                   /* pages per second, all vCPUs together */
	uint64_t pages, ns;
	struct gmm_fault_stats fs;
};

/* The guest's own figures: pages summed over vCPUs, time of the slowest. */
static void paging_collect(const struct vmm_guest *g, struct paging_sample *s)
{
	s->pages = s->ns = 0;
	for (unsigned i = 0; i < g->nr_reports; i++) {
		const struct vmm_report *r = &g->reports[i];

		if (!strcmp(r->key, "pages"))
			s->pages += r->value;
		else if (!strcmp(r->key, "ns") && r->value > s->ns)
			s->ns = r->value;
	}
	s->pps = s->ns ? s->pages * 1e9 / s->ns : 0;
	s->fs = g->mm->fs;
}

static int paging_run(struct cli_setup *setup, const struct paging_opts *o, int mode,
		      const char *path, const void *elf, size_t len, struct paging_sample *s)
{
	char *argv[] = { o->random ? "--pattern=random" : "--pattern=seq" };
	struct vmm_config cfg = {
		.name = "touch", .path = path, .mem_size = o->size, .nr_vcpus = o->vcpus,
		.argc = 1, .argv = argv, .populate = mode == MODE_PREPOP,
	};
	struct cli_pool_spec spec = { .bytes = o->size, .nr_vcpus = o->vcpus,
				      .prezero = CLI_PREZERO_SPARE_CPU };
	struct vmm_guest *g;
	char err[512];
	int status = -1;

	if (mode == MODE_MEMVISOR) {
		if (cli_setup_pool(setup, &spec, err, sizeof(err))) {
			fprintf(stderr, "memvisor: bench demand-paging: %s\n", err);
			return -1;
		}
		cfg.pool = cli_setup_pool_of(setup);
	}
	if (vmm_guest_create(&setup->kvm, &cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench demand-paging: %s\n", err);
	} else {
		status = vmm_guest_run(g);
		if (status)
			fprintf(stderr, "memvisor: bench demand-paging: touch (%s) ended with status %d: %s\n",
				mode_name[mode], status, g->reason);
		paging_collect(g, s);
		vmm_guest_destroy(g);
	}
	cli_setup_pool_close(setup);
	return status || !s->ns ? -1 : 0;
}

static int cmp_sample(const void *a, const void *b)
{
	double x = ((const struct paging_sample *)a)->pps, y = ((const struct paging_sample *)b)->pps;

	return x < y ? -1 : x > y;
}

static double us_per(uint64_t ns, uint64_t n) { return n ? ns / 1e3 / n : 0; }

static void paging_print_text(const struct paging_opts *o, const struct paging_sample *med)
{
	const struct gmm_fault_stats *fs = &med[MODE_MEMVISOR].fs;
	double a = med[MODE_MEMVISOR].pps, b = med[MODE_KERNEL].pps, c = med[MODE_PREPOP].pps;
	double guest_us = us_per(med[MODE_MEMVISOR].ns, fs->faults);
	char ram[32];

	cli_format_size(o->size, ram, sizeof(ram));
	printf("bench demand-paging: touch writes every page once, %s RAM, %u vCPU%s, %s order, "
	       "medians of %u rounds\n", ram, o->vcpus, o->vcpus == 1 ? "" : "s",
	       o->random ? "random" : "sequential", o->runs);
	bench_platform_text();
	printf("  (a) memvisor fault path (userfaultfd)  %10.0f pages/s  %6.2f us/page\n", a, 1e6 / a);
	printf("  (b) kernel-served faults (--host-mm)   %10.0f pages/s  %6.2f us/page\n", b, 1e6 / b);
	printf("  (c) prepopulated RAM                   %10.0f pages/s  %6.2f us/page\n", c, 1e6 / c);
	printf("  a/b %.2f (goal %s), a/c %.2f; memvisor cost per page is %.2fx the kernel's\n",
	       a / b, o->random ? "cost <= 4x the kernel's" : ">= 1.0", a / c, b / a);
	printf("  memvisor per fault: %.1f pages installed, %.1f us of handler CPU "
	       "(find %.1f, frames %.1f, install %.1f), %.1f us of guest time\n",
	       fs->faults ? (double)fs->installed / fs->faults : 0, us_per(fs->ns_handler, fs->faults),
	       us_per(fs->ns_lookup, fs->faults), us_per(fs->ns_alloc, fs->faults),
	       us_per(fs->ns_install, fs->faults), guest_us);
	printf("  the rest of the guest time per fault (%.1f us) is the round trip (exit, wake-ups of the\n"
	       "  fault thread and the vCPU) and the guest's own touches of the pages installed\n",
	       guest_us - us_per(fs->ns_handler, fs->faults));
}

static void paging_print_json(const struct paging_opts *o, const struct paging_sample *med)
{
	const struct gmm_fault_stats *fs = &med[MODE_MEMVISOR].fs;
	double a = med[MODE_MEMVISOR].pps, b = med[MODE_KERNEL].pps, c = med[MODE_PREPOP].pps;
	struct json j;

	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "bench", "demand-paging");
	bench_platform_json(&j);
	json_u64(&j, "ram_bytes", o->size);
	json_u64(&j, "vcpus", o->vcpus);
	json_str(&j, "pattern", o->random ? "random" : "seq");
	json_u64(&j, "runs", o->runs);
	json_f64(&j, "memvisor_pages_per_s", a);
	json_f64(&j, "kernel_pages_per_s", b);
	json_f64(&j, "prepopulated_pages_per_s", c);
	json_f64(&j, "ratio_vs_kernel", a / b);
	json_f64(&j, "ratio_vs_prepopulated", a / c);
	json_begin(&j, "memvisor_faults", '{');
	json_u64(&j, "faults", fs->faults);
	json_u64(&j, "pages_installed", fs->installed);
	json_f64(&j, "handler_us_per_fault", us_per(fs->ns_handler, fs->faults));
	json_f64(&j, "find_us_per_fault", us_per(fs->ns_lookup, fs->faults));
	json_f64(&j, "frames_us_per_fault", us_per(fs->ns_alloc, fs->faults));
	json_f64(&j, "install_us_per_fault", us_per(fs->ns_install, fs->faults));
	json_f64(&j, "guest_us_per_fault", us_per(med[MODE_MEMVISOR].ns, fs->faults));
	json_end(&j, '}');
	json_end(&j, '}');
}

static int paging_measure(const struct paging_opts *o)
{
	struct paging_sample *smp = calloc((size_t)o->runs * NR_MODES, sizeof(*smp));
	struct paging_sample med[NR_MODES], *col = calloc(o->runs, sizeof(*col));
	char path[4096];
	struct cli_setup setup = { .have_kvm = false };
	void *elf = NULL;
	size_t len;
	int ret = VMM_EXIT_RUNTIME;

	if (!smp || !col)
		goto out;
	if (bench_setup("demand-paging", "touch", path, sizeof(path), &elf, &len, &setup))
		goto out;
	for (unsigned r = 0; r < o->runs; r++)
		for (int m = 0; m < NR_MODES; m++)
			if (paging_run(&setup, o, m, path, elf, len, &smp[r * NR_MODES + m]))
				goto out;
	for (int m = 0; m < NR_MODES; m++) {
		for (unsigned r = 0; r < o->runs; r++)
			col[r] = smp[r * NR_MODES + m];
		qsort(col, o->runs, sizeof(*col), cmp_sample);
		med[m] = col[o->runs / 2];
	}
	if (o->json)
		paging_print_json(o, med);
	else
		paging_print_text(o, med);
	ret = 0;
out:
	cli_setup_close(&setup);
	free(elf);
	free(smp);
	free(col);
	return ret;
}

static int paging_option(int c, const char *arg, void *opts)
{
	struct paging_opts *o = opts;
	uint64_t v;

	switch (c) {
	case 'r':
		return bench_parse_runs(arg, 1000, &o->runs);
	case 's':
		if (cli_parse_size(arg, &v) || v < (1 << 20) || v % PAGE_SIZE || v > MV_RAM_MAX)
			return cli_usage_error("bad size '%s' for --size: 1M to %lluG", arg,
					       MV_RAM_MAX >> 30);
		o->size = v;
		return 0;
	case 'c':
		if (cli_parse_uint(arg, 1, MV_MAX_VCPUS, &v))
			return cli_usage_error("bad vCPU count '%s'", arg);
		o->vcpus = (unsigned)v;
		return 0;
	case 'P':
		if (strcmp(arg, "seq") && strcmp(arg, "random"))
			return cli_usage_error("bad --pattern '%s': seq or random", arg);
		o->random = !strcmp(arg, "random");
		return 0;
	}
	return -1;
}

int bench_paging(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "runs", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "pattern", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct paging_opts o = { .size = 256ULL << 20, .vcpus = 1, .runs = 3 };
	struct bench_args a = { .name = "demand-paging", .shortopts = "s:c:", .longopts = longopts,
				.json = &o.json, .option = paging_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);

	return ret ? ret : paging_measure(&o);
}
