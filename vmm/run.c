// SPDX-License-Identifier: MIT
/* memvisor run: parse options, find and check the guest, run it, report. */
#include "cli.h"
#include "guest.h"
#include "image.h"
#include "parse.h"
#include "summary.h"

#include "memvisor/abi.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char run_usage[] =
	"usage: memvisor run [options] GUEST [-- guest args]\n"
	"  GUEST                   a built-in guest (see 'memvisor guests') or an ELF file path\n"
	"  -m, --mem SIZE          guest RAM (default 256M; K, M, G, T suffixes)\n"
	"  -c, --vcpus N           vCPUs, each running the guest (default 1)\n"
	"  -p, --pool SIZE         host frame pool for guest RAM (default: the guest's RAM)\n"
	"  -s, --swap FILE[,size=SIZE][,keep]\n"
	"                          swap to FILE (created 0600, fully allocated, removed at exit\n"
	"                          unless keep; default size: the guest's RAM)\n"
	"      --host-mm           plain anonymous RAM that the host kernel fills (a baseline)\n"
	"      --prefault MODE     none (default: every page through the fault path) or all\n"
	"      --fault-around N    most pages one fault installs, a power of two 1..512 (default 512)\n"
	"      --install MODE      auto (default), move (UFFDIO_MOVE) or copy (UFFDIO_COPY)\n"
	"      --walk GVA          after the run, show how GVA translates (repeatable)\n"
	"      --no-pin            leave vCPU and fault threads unpinned\n"
	"      --no-prezero        no pre-zeroing of free frames on a spare CPU\n"
	"  -t, --timeout DURATION  end the guest after DURATION (10, 2.5s, 500ms, 1m)\n"
	"      --summary-json FILE write the end-of-run summary as JSON to FILE\n"
	"  -q, --quiet             no summary on stderr\n"
	"  -h, --help              this text\n"
	"Exit status: the guest's own code; 120 crash, 121 failed guest assertion, 122 out of memory,\n"
	"124 timeout, 130 interrupted, 1 memvisor could not run it, 2 usage error.\n";

#define RUN_MAX_WALKS 8

struct run_opts {
	struct vmm_config cfg;
	const char *guest;
	const char *summary_json;
	bool quiet, host_mm, no_prezero;
	enum gmm_install install;
	const char *swap_path;
	uint64_t swap_size;
	bool swap_keep;
	uint64_t inject_write, inject_read; /* test-only: fail the nth swap write / read */
	uint64_t pool_size;
	gva_t walks[RUN_MAX_WALKS];
	unsigned nr_walks;
};

static int run_parse_walk(const char *arg, struct run_opts *o)
{
	char *end;

	if (o->nr_walks == RUN_MAX_WALKS)
		return vmm_usage_error("at most %d --walk options", RUN_MAX_WALKS);
	errno = 0;
	o->walks[o->nr_walks++] = strtoull(arg, &end, 0);
	if (errno || end == arg || *end)
		return vmm_usage_error("bad address '%s' for --walk: e.g. 0x8000001000", arg);
	return 0;
}

/* FILE[,size=SIZE][,keep] */
static int run_parse_swap(const char *arg, struct run_opts *o)
{
	static char path[4096];
	const char *comma = strchr(arg, ',');
	size_t len = comma ? (size_t)(comma - arg) : strlen(arg);

	if (len == 0 || len >= sizeof(path))
		return vmm_usage_error("bad --swap '%s': give a file path, e.g. /tmp/mv.swap,size=1G", arg);
	memcpy(path, arg, len);
	path[len] = '\0';
	o->swap_path = path;
	while (comma) {
		const char *opt = comma + 1;
		char one[64];

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		snprintf(one, sizeof(one), "%.*s", (int)len, opt);
		if (!strcmp(one, "keep"))
			o->swap_keep = true;
		else if (!strncmp(one, "size=", 5) && !vmm_parse_size(one + 5, &o->swap_size) &&
			 o->swap_size >= 2 * PAGE_SIZE && !(o->swap_size % PAGE_SIZE))
			continue;
		else
			return vmm_usage_error("bad --swap option '%s': use size=SIZE (a multiple of 4K, "
					       "at least 8K) or keep", one);
	}
	return 0;
}

/* write=N or read=N: the nth swap write / read fails (tests only) */
static int run_parse_inject(const char *arg, struct run_opts *o)
{
	uint64_t v;

	if (!strncmp(arg, "write=", 6) && !vmm_parse_uint(arg + 6, 1, UINT64_MAX, &v))
		o->inject_write = v;
	else if (!strncmp(arg, "read=", 5) && !vmm_parse_uint(arg + 5, 1, UINT64_MAX, &v))
		o->inject_read = v;
	else
		return vmm_usage_error("bad --inject-swap-error '%s': write=N or read=N", arg);
	return 0;
}

/* Options of the memory manager, shared with bench. 0 if handled, 1 if not ours, 2 on error. */
static int run_parse_mm(int c, const char *arg, struct run_opts *o)
{
	uint64_t v;

	switch (c) {
	case 'p':
		if (vmm_parse_size(arg, &v) || v < PAGE_SIZE || v % PAGE_SIZE || v > MV_RAM_MAX)
			return vmm_usage_error("bad size '%s' for --pool: a multiple of 4K up to %lluG, "
					       "e.g. 128M", arg, MV_RAM_MAX >> 30);
		o->pool_size = v;
		return 0;
	case 'H':
		o->host_mm = true;
		return 0;
	case 'P':
		if (strcmp(arg, "none") && strcmp(arg, "all"))
			return vmm_usage_error("bad --prefault '%s': use none or all", arg);
		o->cfg.prefault = strcmp(arg, "all") ? GMM_PREFAULT_NONE : GMM_PREFAULT_ALL;
		return 0;
	case 'F':
		if (vmm_parse_uint(arg, 1, VMM_FAULT_AROUND_DEFAULT, &v) || (v & (v - 1)))
			return vmm_usage_error("bad --fault-around '%s': a power of two from 1 to %d",
					       arg, VMM_FAULT_AROUND_DEFAULT);
		o->cfg.fault_around = (unsigned)v;
		return 0;
	case 'I':
		if (!strcmp(arg, "auto"))
			o->install = GMM_INSTALL_AUTO;
		else if (!strcmp(arg, "move"))
			o->install = GMM_INSTALL_MOVE;
		else if (!strcmp(arg, "copy"))
			o->install = GMM_INSTALL_COPY;
		else
			return vmm_usage_error("bad --install '%s': use auto, move or copy", arg);
		return 0;
	case 'N':
		o->cfg.no_pin = true;
		return 0;
	case 'Z':
		o->no_prezero = true;
		return 0;
	case 's':
		return run_parse_swap(arg, o);
	case 'E':
		return run_parse_inject(arg, o);
	}
	return 1;
}

/* Options of the guest and of the run. 0 if handled, 1 if not ours, 2 on error. */
static int run_parse_guest(int c, const char *arg, struct run_opts *o)
{
	uint64_t v;

	switch (c) {
	case 'm':
		if (vmm_parse_size(arg, &v))
			return vmm_usage_error("bad size '%s' for --mem: use a number with an "
					       "optional K, M, G or T suffix, e.g. 256M", arg);
		if (v == 0 || v % PAGE_SIZE || v > MV_RAM_MAX)
			return vmm_usage_error("--mem %s: guest RAM must be a multiple of 4K "
					       "between 4K and %lluG", arg, MV_RAM_MAX >> 30);
		o->cfg.mem_size = v;
		return 0;
	case 'c':
		if (vmm_parse_uint(arg, 1, MV_MAX_VCPUS, &v))
			return vmm_usage_error("bad vCPU count '%s': use a number from 1 to %d",
					       arg, MV_MAX_VCPUS);
		o->cfg.nr_vcpus = (unsigned)v;
		return 0;
	case 't':
		if (vmm_parse_duration(arg, &v) || v == 0)
			return vmm_usage_error("bad duration '%s' for --timeout: use e.g. 10, "
					       "2.5s, 500ms or 1m", arg);
		o->cfg.timeout_ns = v;
		return 0;
	case 'W':
		return run_parse_walk(arg, o);
	case 'J':
		o->summary_json = arg;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	}
	return 1;
}

/* Combinations that make no sense, once every option is known. */
static int run_check(const struct run_opts *o)
{
	if (o->host_mm && (o->pool_size || o->cfg.prefault || o->cfg.fault_around || o->install ||
			   o->no_prezero || o->swap_path))
		return vmm_usage_error("--host-mm leaves RAM to the host kernel: it does not go with "
				       "--pool, --swap, --prefault, --fault-around, --install or --no-prezero");
	if ((o->inject_write || o->inject_read) && !o->swap_path)
		return vmm_usage_error("--inject-swap-error needs --swap");
	if (o->swap_path && o->install == GMM_INSTALL_COPY)
		return vmm_usage_error("--swap needs --install move (reclaim moves pages back into frames)");
	return 0;
}

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "pool", required_argument, NULL, 'p' },
		{ "host-mm", no_argument, NULL, 'H' },
		{ "prefault", required_argument, NULL, 'P' },
		{ "fault-around", required_argument, NULL, 'F' },
		{ "install", required_argument, NULL, 'I' },
		{ "walk", required_argument, NULL, 'W' },
		{ "no-pin", no_argument, NULL, 'N' },
		{ "no-prezero", no_argument, NULL, 'Z' },
		{ "swap", required_argument, NULL, 's' },
		{ "inject-swap-error", required_argument, NULL, 'E' },
		{ "timeout", required_argument, NULL, 't' },
		{ "summary-json", required_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int dd = argc, c, ret;

	/* everything after "--" belongs to the guest; options may come after GUEST */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dd = i;
			break;
		}
	o->cfg.argc = dd < argc ? argc - dd - 1 : 0;
	o->cfg.argv = dd < argc ? argv + dd + 1 : NULL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(dd, argv, ":m:c:p:s:t:qh", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(run_usage, stdout);
			exit(0);
		}
		if (c == ':')
			return vmm_usage_error("option '%s' needs a value", argv[optind - 1]);
		ret = run_parse_mm(c, optarg, o);
		if (ret == 1)
			ret = run_parse_guest(c, optarg, o);
		if (ret == 1)
			return vmm_usage_error("unknown option '%s' (see 'memvisor run --help')",
					       argv[optind - 1]);
		if (ret)
			return ret;
	}
	ret = run_check(o);
	if (ret)
		return ret;
	if (optind >= dd)
		return vmm_usage_error("no guest given (see 'memvisor run --help')");
	if (optind + 1 < dd)
		return vmm_usage_error("unexpected argument '%s'; guest arguments go after '--'",
				       argv[optind + 1]);
	o->guest = argv[optind];
	return 0;
}

static struct vmm_guest *run_current;

static void run_on_signal(int sig)
{
	(void)sig;
	if (run_current)
		vmm_guest_interrupt(run_current);
}

static void run_report_end(const struct vmm_guest *g)
{
	if (g->end == VMM_END_DONE)
		return;
	fprintf(stderr, "memvisor: %s\n", g->reason);
	if (g->detail[0])
		fprintf(stderr, "%s\n", g->detail);
}

/* The swap device, attached to the pool (kswapd starts). 0, or 1 with a message. */
static int run_open_swap(struct run_opts *o, struct gmm_pool *pool, struct swapd *swap)
{
	char err[512];
	uint64_t size = o->swap_size;

	if (!size && access(o->swap_path, F_OK))
		size = o->cfg.mem_size; /* a new file: room for all of RAM */
	if (swapd_open(swap, o->swap_path, size, o->swap_keep ? SWAPD_KEEP : 0, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		return 1;
	}
	if (gmm_pool_set_swap(pool, swap, o->cfg.no_pin ? -1 : vmm_vcpu_cpu(o->cfg.nr_vcpus),
			      err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		swapd_close(swap);
		return 1;
	}
	if (o->inject_write)
		swapd_inject(swap, true, o->inject_write);
	if (o->inject_read)
		swapd_inject(swap, false, o->inject_read);
	return 0;
}

/* Pool first (kswapd stops), then the swap device (the file goes). */
static void run_close_pool(struct run_opts *o, struct gmm_pool *pool, struct swapd *swap)
{
	bool had_swap = o->cfg.pool && pool->swap;

	if (o->cfg.pool)
		gmm_pool_destroy(pool);
	if (had_swap)
		swapd_close(swap);
}

static int run_guest(struct run_opts *o, const void *elf, size_t len, FILE *json)
{
	struct vmm_kvm kvm;
	struct vmm_guest *g;
	struct gmm_pool pool;
	struct swapd swap;
	char err[512];
	int status;
	struct sigaction sa = { .sa_handler = run_on_signal };

	if (vmm_kvm_open(&kvm, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		return VMM_EXIT_RUNTIME;
	}
	if (!o->host_mm) {
		struct gmm_pool_config pc;

		vmm_pool_config(&pc, o->cfg.nr_vcpus, o->cfg.no_pin);
		pc.install = o->install;
		pc.prezero = !o->no_prezero && o->install != GMM_INSTALL_COPY;

		if (gmm_pool_init(&pool, o->pool_size ? o->pool_size : o->cfg.mem_size, &pc, err,
				  sizeof(err))) {
			fprintf(stderr, "memvisor: %s\n", err);
			vmm_kvm_close(&kvm);
			return VMM_EXIT_RUNTIME;
		}
		o->cfg.pool = &pool;
		if (o->swap_path && run_open_swap(o, &pool, &swap)) {
			gmm_pool_destroy(&pool);
			vmm_kvm_close(&kvm);
			return VMM_EXIT_RUNTIME;
		}
	}
	if (vmm_guest_create(&kvm, &o->cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s: %s\n", o->cfg.path, err);
		run_close_pool(o, &pool, &swap);
		vmm_kvm_close(&kvm);
		return VMM_EXIT_RUNTIME;
	}
	run_current = g;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	status = vmm_guest_run(g);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	run_current = NULL;
	fflush(stdout);
	run_report_end(g);
	for (unsigned i = 0; i < o->nr_walks; i++)
		vmm_walk_gva(g, o->walks[i], stdout);
	if (!o->quiet)
		vmm_summary_print(g, stderr);
	if (json)
		vmm_summary_json(g, json);
	vmm_guest_destroy(g);
	run_close_pool(o, &pool, &swap);
	vmm_kvm_close(&kvm);
	return status;
}

int vmm_cmd_run(int argc, char **argv)
{
	struct run_opts o = {
		.cfg = { .mem_size = 256ULL << 20, .nr_vcpus = 1, .console = stdout },
	};
	char path[4096], err[512];
	FILE *json = NULL;
	void *elf;
	size_t len;
	int ret;

	ret = run_parse(argc, argv, &o);
	if (ret)
		return ret;
	if (vmm_image_resolve(o.guest, path, sizeof(path), err, sizeof(err)))
		return vmm_usage_error("%s", err);
	if (vmm_image_read(path, &elf, &len, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		return VMM_EXIT_RUNTIME;
	}
	o.cfg.name = o.guest;
	o.cfg.path = path;
	if (o.summary_json) {
		json = fopen(o.summary_json, "w");
		if (!json) {
			free(elf);
			return vmm_usage_error("cannot write the summary to %s: %s", o.summary_json,
					       strerror(errno));
		}
	}
	ret = run_guest(&o, elf, len, json);
	free(elf);
	if (json && fclose(json)) {
		fprintf(stderr, "memvisor: writing %s failed: %s\n", o.summary_json, strerror(errno));
		if (!ret)
			ret = VMM_EXIT_RUNTIME;
	}
	return ret;
}
