// SPDX-License-Identifier: MIT
/*
 * memvisor bench probes: what the USDT probes cost when nobody listens. The
 * same fault-path workload (the touch guest writing every page of its RAM
 * once, one page per fault: --fault-around 1, so that the probes of every
 * fault fire as often as they can) runs in memvisor, built with its probes,
 * and in memvisor-noprobes, built from the same sources without them, one
 * after the other, in ABBA order round by round so that drift hits both
 * alike. Each run is a child process (bench probes --child) that prints its
 * figures: the guest's time per page and the handler's CPU per fault.
 * Printed: the medians of both and their ratio (1.00: no cost).
 */
#include "bench.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"
#include "vmm/guest.h"
#include "vmm/image.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WITH, WITHOUT, NR_BINS };
static const char *const bin_name[NR_BINS] = { "memvisor", "memvisor-noprobes" };

struct probes_opts {
	uint64_t size;
	unsigned runs;
	bool json, child;
};

struct probes_sample {
	double ns_per_page;      /* guest time (its TSC) per page written */
	double handler_ns;       /* fault handler CPU per fault */
	uint64_t faults;
};

/* The child: one run of the workload in this process, its figures on stdout. */
static int probes_child(const struct probes_opts *o)
{
	char *argv[] = { "--pattern=seq" };
	struct vmm_config cfg = { .name = "touch", .mem_size = o->size, .nr_vcpus = 1,
				  .argc = 1, .argv = argv, .fault_around = 1 };
	struct cli_pool_spec spec = { .bytes = o->size, .nr_vcpus = 1,
				      .prezero = CLI_PREZERO_SPARE_CPU };
	struct cli_setup setup = { .have_kvm = false };
	uint64_t pages = 0, ns = 0;
	struct vmm_guest *g;
	char path[4096], err[512];
	void *elf = NULL;
	size_t len;
	int status = VMM_EXIT_RUNTIME;

	if (bench_setup("probes", "touch", path, sizeof(path), &elf, &len, &setup))
		return VMM_EXIT_RUNTIME;
	cfg.path = path;
	if (cli_setup_pool(&setup, &spec, err, sizeof(err)) ||
	    (cfg.pool = cli_setup_pool_of(&setup),
	     vmm_guest_create(&setup.kvm, &cfg, elf, len, &g, err, sizeof(err)))) {
		fprintf(stderr, "memvisor: bench probes: %s\n", err);
		goto out;
	}
	status = vmm_guest_run(g);
	for (unsigned i = 0; i < g->nr_reports; i++) {
		if (!strcmp(g->reports[i].key, "pages"))
			pages += g->reports[i].value;
		else if (!strcmp(g->reports[i].key, "ns"))
			ns = g->reports[i].value;
	}
	if (status || !pages)
		fprintf(stderr, "memvisor: bench probes: touch ended with status %d: %s\n", status,
			g->reason);
	else
		printf("%llu %llu %llu %llu\n", (unsigned long long)pages, (unsigned long long)ns,
		       (unsigned long long)g->mm->fs.faults, (unsigned long long)g->mm->fs.ns_handler);
	status = status || !pages ? VMM_EXIT_RUNTIME : 0;
	vmm_guest_destroy(g);
out:
	cli_setup_pool_close(&setup);
	cli_setup_close(&setup);
	free(elf);
	return status;
}

/* bin bench probes --child: one sample read from its stdout. 0 or -1 (said). */
static int probes_run(const char *bin, const struct probes_opts *o, struct probes_sample *s)
{
	char size[32], out[256] = "";
	char *argv[] = { (char *)bin, "bench", "probes", "--child", "--size", size, NULL };
	unsigned long long pages, ns, faults, handler;
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	snprintf(size, sizeof(size), "%llu", (unsigned long long)o->size);
	fflush(stdout);
	if (pipe(fd) || (pid = fork()) < 0) {
		fprintf(stderr, "memvisor: bench probes: cannot start %s: %s\n", bin, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(bin, argv);
		fprintf(stderr, "memvisor: bench probes: cannot run %s: %s\n", bin, strerror(errno));
		_exit(VMM_EXIT_RUNTIME);
	}
	close(fd[1]);
	n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	out[n > 0 ? n : 0] = '\0';
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) ||
	    sscanf(out, "%llu %llu %llu %llu", &pages, &ns, &faults, &handler) != 4 || !faults) {
		fprintf(stderr, "memvisor: bench probes: %s gave no figures\n", bin);
		return -1;
	}
	*s = (struct probes_sample){ .ns_per_page = (double)ns / pages,
				     .handler_ns = (double)handler / faults, .faults = faults };
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* memvisor and memvisor-noprobes: beside this program, as meson builds them. */
static int probes_bins(char bins[NR_BINS][PATH_MAX])
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	for (int b = 0; b < NR_BINS; b++) {
		snprintf(bins[b], PATH_MAX, "%.*s/%s", PATH_MAX - 32, self, bin_name[b]);
		if (access(bins[b], X_OK)) {
			fprintf(stderr, "memvisor: bench probes: no %s beside this memvisor (meson builds "
				"it with -Dprobes=true, the default)\n", bins[b]);
			return -1;
		}
	}
	return 0;
}

struct probes_result {
	double page[NR_BINS], handler[NR_BINS];   /* medians, ns */
	uint64_t faults;
};

static void probes_print(const struct probes_opts *o, const struct probes_result *r)
{
	char ram[32];
	struct json j;

	if (!o->json) {
		cli_format_size(o->size, ram, sizeof(ram));
		printf("bench probes: touch writes every page of %s once, one page per fault (%llu "
		       "faults), medians of %u rounds, ABBA\n", ram, (unsigned long long)r->faults,
		       o->runs);
		bench_platform_text();
		printf("                        guest us/page   handler us/fault\n");
		for (int b = 0; b < NR_BINS; b++)
			printf("  %-20s  %13.2f   %16.2f\n", bin_name[b], r->page[b] / 1e3,
			       r->handler[b] / 1e3);
		printf("  with/without probes   %13.3f   %16.3f   (1.000: the probes cost nothing)\n",
		       r->page[WITH] / r->page[WITHOUT], r->handler[WITH] / r->handler[WITHOUT]);
		return;
	}
	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "bench", "probes");
	bench_platform_json(&j);
	json_u64(&j, "ram_bytes", o->size);
	json_u64(&j, "runs", o->runs);
	json_u64(&j, "faults", r->faults);
	json_f64(&j, "probes_us_per_page", r->page[WITH] / 1e3);
	json_f64(&j, "noprobes_us_per_page", r->page[WITHOUT] / 1e3);
	json_f64(&j, "probes_handler_us_per_fault", r->handler[WITH] / 1e3);
	json_f64(&j, "noprobes_handler_us_per_fault", r->handler[WITHOUT] / 1e3);
	json_f64(&j, "ratio_per_page", r->page[WITH] / r->page[WITHOUT]);
	json_f64(&j, "ratio_handler", r->handler[WITH] / r->handler[WITHOUT]);
	json_end(&j, '}');
}

static int probes_measure(const struct probes_opts *o)
{
	/* per binary, one column of runs: page times, then handler times */
	double *page = calloc(2 * NR_BINS * (size_t)o->runs, sizeof(double));
	double *handler = page ? page + NR_BINS * o->runs : NULL;
	char bins[NR_BINS][PATH_MAX], path[4096];
	struct cli_setup setup = { .have_kvm = false };
	struct probes_result r = { .faults = 0 };
	struct probes_sample s;
	void *elf = NULL;
	size_t len;
	int ret = VMM_EXIT_RUNTIME;

	if (!page || probes_bins(bins))
		goto out;
	/* only to name the KVM backend in the output: the children do the work */
	if (bench_setup("probes", "touch", path, sizeof(path), &elf, &len, &setup))
		goto out;
	cli_setup_close(&setup);
	for (unsigned i = 0; i < o->runs; i++)
		for (int k = 0; k < NR_BINS; k++) {
			int b = (i % 2) ^ k; /* ABBA: each binary first in every other round */

			if (probes_run(bins[b], o, &s))
				goto out;
			page[b * o->runs + i] = s.ns_per_page;
			handler[b * o->runs + i] = s.handler_ns;
			r.faults = s.faults;
		}
	for (int b = 0; b < NR_BINS; b++) {
		r.page[b] = median(page + b * o->runs, o->runs);
		r.handler[b] = median(handler + b * o->runs, o->runs);
	}
	probes_print(o, &r);
	ret = 0;
out:
	free(elf);
	free(page);
	return ret;
}

static int probes_option(int c, const char *arg, void *opts)
{
	struct probes_opts *o = opts;
	uint64_t v;

	switch (c) {
	case 'r':
		return bench_parse_runs(arg, 1000, &o->runs);
	case 's':
		if (cli_parse_size(arg, &v) || v < (1 << 20) || v % PAGE_SIZE || v > (4ULL << 30))
			return cli_usage_error("bad size '%s' for --size: 1M to 4G", arg);
		o->size = v;
		return 0;
	case 'C':
		o->child = true;
		return 0;
	}
	return -1;
}

int bench_probes(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "runs", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "child", no_argument, NULL, 'C' }, /* one run, for the parent to read */
		{ NULL, 0, NULL, 0 },
	};
	struct probes_opts o = { .size = 64ULL << 20, .runs = 10 };
	struct bench_args a = { .name = "probes", .shortopts = "s:", .longopts = longopts,
				.json = &o.json, .option = probes_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);

	if (ret)
		return ret;
	return o.child ? probes_child(&o) : probes_measure(&o);
}
