// SPDX-License-Identifier: MIT
/* memvisor run: parse options, find and check the guest, run it, report. */
#include "cli.h"
#include "vmm/guest.h"
#include "vmm/image.h"
#include "parse.h"
#include "run.h"
#include "setup.h"
#include "summary.h"
#include "summary_file.h"

#include "memvisor/abi.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* getopt values of long options with no short one (the watchers' are 0x100 on) */
#define RUN_OPT_NO_ZERO_PAGES 0x180

static const char run_usage[] =
	"usage: memvisor run [options] GUEST [-- guest args]\n"
	"       memvisor run [options] --guest SPEC [--guest SPEC...]\n"
	"  GUEST                   a built-in guest (see 'memvisor guests') or an ELF file path\n"
	"  -m, --mem SIZE          guest RAM (default 256M; K, M, G, T suffixes)\n"
	"  -c, --vcpus N           vCPUs, each running the guest (default 1)\n"
	"      --guest SPEC        one of several guests sharing the pool (repeatable, at most 16):\n"
	"                          name=N,image=GUEST,mem=SIZE,vcpus=N,args=\"A B\",start=DURATION,\n"
	"                          limit.min|low|high|max=SIZE (as memcg's memory.*),\n"
	"                          oom_score_adj=-1000..1000; image is required. Not with GUEST,\n"
	"                          -m or -c. Exit status: the first guest's non-zero status, in\n"
	"                          --guest order, or 0 if every guest's is 0\n"
	"  -p, --pool SIZE         host frame pool for guest RAM (default: the guest's RAM)\n"
	"  -s, --swap FILE[,size=SIZE][,keep]\n"
	"                          swap to a new FILE (0600, fully allocated, never in its\n"
	"                          directory, gone at exit; default size: the guest's RAM);\n"
	"                          keep: put it in place with a memvisor header for later runs.\n"
	"                          An existing FILE must be such a file, yours, mode 0600\n"
	"                          and not in use; slots written are wiped at exit\n"
	"      --host-mm           plain anonymous RAM that the host kernel fills (a baseline)\n"
	"      --prefault MODE     none (default: every page through the fault path) or all\n"
	"      --fault-around N    most pages one fault installs, a power of two 1..512 (default 512)\n"
	"      --install MODE      auto (default), move (UFFDIO_MOVE) or copy (UFFDIO_COPY)\n"
	"      --walk GVA          after the run, show how GVA translates (repeatable)\n"
	"      --no-pin            leave vCPU and fault threads unpinned\n"
	"      --no-prezero        no pre-zeroing of free frames on a spare CPU\n"
	"      --no-zero-pages     a read of never-written memory gets a frame, as a write does\n"
	"                          (default, while the pool is overcommitted: the host's zero\n"
	"                          page, write-protected, and no frame)\n"
	"  -t, --timeout DURATION  end the guest after DURATION (10, 2.5s, 500ms, 1m; at most a year)\n"
	"      --summary-json FILE write the end-of-run summary as JSON to FILE (a regular file,\n"
	"                          replaced once the summary is complete; untouched if the run fails)\n"
	"      --stats FILE        the counters every --stats-interval as JSON Lines to FILE\n"
	"                          (a regular file, or new; the last line agrees with the summary)\n"
	"      --stats-interval DURATION  between --stats lines (default 100ms; 1ms to 1h)\n"
	"      --stat-socket PATH  where 'memvisor stat' asks (default: $XDG_RUNTIME_DIR/memvisor/\n"
	"                          PID.sock, or /tmp/memvisor-UID/PID.sock; 0600, removed at exit)\n"
	"      --no-stat-socket    no stat socket\n"
	"  -q, --quiet             no summary on stderr, no progress line on a terminal\n"
	"  -h, --help              this text\n"
	"Exit status: the guest's own code 0-119; 120 crash, 121 failed guest assertion,\n"
	"122 out of memory, 124 timeout, 125 guest exit code out of range (the guest's code was\n"
	"120-255: the summary shows it), 130 interrupted (SIGINT, SIGTERM, SIGHUP), 1 memvisor could\n"
	"not run it (or, the guest's status 0, could not write --stats or --summary-json),\n"
	"2 usage error.\n"
	"Guest text (console, assertion messages) is shown with control bytes, DEL, C1 controls and\n"
	"malformed UTF-8 as \\xNN.\n";

static int run_parse_walk(const char *arg, struct run_opts *o)
{
	char *end;

	if (o->nr_walks == RUN_MAX_WALKS)
		return cli_usage_error("at most %d --walk options", RUN_MAX_WALKS);
	errno = 0;
	o->walks[o->nr_walks++] = strtoull(arg, &end, 0);
	if (errno || end == arg || *end)
		return cli_usage_error("bad address '%s' for --walk: e.g. 0x8000001000", arg);
	return 0;
}

/* FILE[,size=SIZE][,keep] */
static int run_parse_swap(const char *arg, struct run_opts *o)
{
	static struct cli_swap_spec spec;
	char err[512];

	if (cli_parse_swap_spec(arg, &spec, err, sizeof(err)))
		return cli_usage_error("%s", err);
	o->swap_path = spec.path;
	o->swap_size = spec.size;
	o->swap_keep = spec.keep;
	return 0;
}

/* write=N or read=N: the nth swap write / read fails (tests only) */
static int run_parse_inject(const char *arg, struct run_opts *o)
{
	uint64_t v;

	if (!strncmp(arg, "write=", 6) && !cli_parse_uint(arg + 6, 1, UINT64_MAX, &v))
		o->inject_write = v;
	else if (!strncmp(arg, "read=", 5) && !cli_parse_uint(arg + 5, 1, UINT64_MAX, &v))
		o->inject_read = v;
	else
		return cli_usage_error("bad --inject-swap-error '%s': write=N or read=N", arg);
	return 0;
}

/* Options of the memory manager, shared with bench. 0 if handled, 1 if not ours, 2 on error. */
static int run_parse_mm(int c, const char *arg, struct run_opts *o)
{
	uint64_t v;

	switch (c) {
	case 'p':
		if (cli_parse_size(arg, &v) || v < PAGE_SIZE || v % PAGE_SIZE || v > MV_RAM_MAX)
			return cli_usage_error("bad size '%s' for --pool: a multiple of 4K up to %lluG, "
					       "e.g. 128M", arg, MV_RAM_MAX >> 30);
		o->pool_size = v;
		return 0;
	case 'H':
		o->host_mm = true;
		return 0;
	case 'P':
		if (strcmp(arg, "none") && strcmp(arg, "all"))
			return cli_usage_error("bad --prefault '%s': use none or all", arg);
		o->cfg.prefault = strcmp(arg, "all") ? GMM_PREFAULT_NONE : GMM_PREFAULT_ALL;
		return 0;
	case 'F':
		if (cli_parse_uint(arg, 1, VMM_FAULT_AROUND_DEFAULT, &v) || (v & (v - 1)))
			return cli_usage_error("bad --fault-around '%s': a power of two from 1 to %d",
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
			return cli_usage_error("bad --install '%s': use auto, move or copy", arg);
		return 0;
	case 'N':
		o->cfg.no_pin = true;
		return 0;
	case 'Z':
		o->no_prezero = true;
		return 0;
	case RUN_OPT_NO_ZERO_PAGES:
		o->cfg.no_zero_pages = true;
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
	int ret;

	switch (c) {
	case 'm':
		if (cli_parse_size(arg, &v))
			return cli_usage_error("bad size '%s' for --mem: use a number with an "
					       "optional K, M, G or T suffix, e.g. 256M", arg);
		if (v == 0 || v % PAGE_SIZE || v > MV_RAM_MAX)
			return cli_usage_error("--mem %s: guest RAM must be a multiple of 4K "
					       "between 4K and %lluG", arg, MV_RAM_MAX >> 30);
		o->cfg.mem_size = v;
		o->mem_given = true;
		return 0;
	case 'c':
		if (cli_parse_uint(arg, 1, MV_MAX_VCPUS, &v))
			return cli_usage_error("bad vCPU count '%s': use a number from 1 to %d",
					       arg, MV_MAX_VCPUS);
		o->cfg.nr_vcpus = (unsigned)v;
		o->vcpus_given = true;
		return 0;
	case 't':
		ret = cli_parse_duration_in(arg, 1, CLI_TIMEOUT_MAX_NS, &v);
		if (ret == -ERANGE)
			return cli_usage_error("--timeout %s: a duration must be above 0 and at most a "
					       "year (%llus)", arg, CLI_TIMEOUT_MAX_NS / 1000000000ULL);
		if (ret)
			return cli_usage_error("bad duration '%s' for --timeout: use e.g. 10, "
					       "2.5s, 500ms or 1m", arg);
		o->cfg.timeout_ns = v;
		return 0;
	case 'W':
		return run_parse_walk(arg, o);
	case 'J':
		o->summary_json = arg;
		return 0;
	case 'G':
		if (o->nr_specs == CLI_MAX_GUESTS)
			return cli_usage_error("too many --guest options: at most %d guests",
					       CLI_MAX_GUESTS);
		o->specs[o->nr_specs++] = arg;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	}
	return 1;
}

/* The guest's arguments fit the boot-info page (as vmm/layout.c fills it). */
int run_check_guest_args(const struct vmm_config *cfg)
{
	size_t room = MV_BOOTINFO_SIZE - sizeof(struct mv_bootinfo), used = 0;

	if (cfg->argc > MV_ARGV_MAX)
		return cli_usage_error("too many guest arguments (%d; at most %d)", cfg->argc,
				       MV_ARGV_MAX);
	for (int i = 0; i < cfg->argc; i++) {
		used += strlen(cfg->argv[i]) + 1;
		if (used > room)
			return cli_usage_error("guest arguments too long (at most %zu bytes in all, "
					       "counting a NUL after each)", room);
	}
	return 0;
}

/* Combinations that make no sense, once every option is known. */
static int run_check(const struct run_opts *o)
{
	if (o->host_mm && (o->pool_size || o->cfg.prefault || o->cfg.fault_around || o->install ||
			   o->no_prezero || o->swap_path || o->cfg.no_zero_pages))
		return cli_usage_error("--host-mm leaves RAM to the host kernel: it does not go with "
				       "--pool, --swap, --prefault, --fault-around, --install, "
				       "--no-prezero or --no-zero-pages");
	if ((o->inject_write || o->inject_read) && !o->swap_path)
		return cli_usage_error("--inject-swap-error needs --swap");
	if (o->swap_path && o->install == GMM_INSTALL_COPY)
		return cli_usage_error("--swap needs --install move (reclaim moves pages back into frames)");
	if (o->nr_specs)
		return 0; /* the rest is each guest's: run_multi_parse */
	if (o->cfg.prefault == GMM_PREFAULT_ALL && o->pool_size && o->pool_size < o->cfg.mem_size) {
		char pool[32], ram[32];

		cli_format_size(o->pool_size, pool, sizeof(pool));
		cli_format_size(o->cfg.mem_size, ram, sizeof(ram));
		return cli_usage_error("--prefault all installs all of guest RAM before it starts: "
				       "--pool (%s) must be at least --mem (%s)", pool, ram);
	}
	return run_check_guest_args(&o->cfg);
}

/* --guest takes the place of GUEST, its arguments, -m and -c. */
static int run_check_multi(const struct run_opts *o, int optind_, int dd, int argc)
{
	if (optind_ < dd || dd < argc)
		return cli_usage_error("--guest does not go with a GUEST or guest arguments after "
				       "'--': give image= and args= in each --guest");
	if (o->mem_given || o->vcpus_given)
		return cli_usage_error("--guest does not go with --mem or --vcpus: give mem= and "
				       "vcpus= in each --guest");
	if (o->host_mm)
		return cli_usage_error("--guest shares one frame pool: it does not go with --host-mm");
	if (o->nr_walks)
		return cli_usage_error("--walk shows one guest's translation: it does not go with "
				       "--guest");
	return 0;
}

static const struct option run_longopts[] = {
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
	{ "no-zero-pages", no_argument, NULL, RUN_OPT_NO_ZERO_PAGES },
	{ "swap", required_argument, NULL, 's' },
	{ "inject-swap-error", required_argument, NULL, 'E' },
	{ "timeout", required_argument, NULL, 't' },
	{ "summary-json", required_argument, NULL, 'J' },
	{ "guest", required_argument, NULL, 'G' },
	{ "stats", required_argument, NULL, CLI_OPT_STATS },
	{ "stats-interval", required_argument, NULL, CLI_OPT_STATS_INTERVAL },
	{ "stat-socket", required_argument, NULL, CLI_OPT_STAT_SOCKET },
	{ "no-stat-socket", no_argument, NULL, CLI_OPT_NO_STAT_SOCKET },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Everything after "--" belongs to the guest (options may come after
 * GUEST): the guest's arguments, and where memvisor's end. */
static int run_split_guest_args(int argc, char **argv, struct run_opts *o)
{
	int dd = argc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dd = i;
			break;
		}
	o->cfg.argc = dd < argc ? argc - dd - 1 : 0;
	o->cfg.argv = dd < argc ? argv + dd + 1 : NULL;
	return dd;
}

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	int dd = run_split_guest_args(argc, argv, o), c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(dd, argv, ":m:c:p:s:t:qh", run_longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(run_usage, stdout);
			exit(0);
		}
		if (c == ':')
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		ret = cli_watch_parse(c, optarg, &o->watch);
		if (ret == 1)
			ret = run_parse_mm(c, optarg, o);
		if (ret == 1)
			ret = run_parse_guest(c, optarg, o);
		if (ret == 1)
			return cli_usage_error("unknown option '%s' (see 'memvisor run --help')",
					       argv[optind - 1]);
		if (ret)
			return ret;
	}
	ret = run_check(o);
	if (ret)
		return ret;
	if (o->nr_specs)
		return run_check_multi(o, optind, dd, argc);
	if (optind >= dd)
		return cli_usage_error("no guest given (see 'memvisor run --help')");
	if (optind + 1 < dd)
		return cli_usage_error("unexpected argument '%s'; guest arguments go after '--'",
				       argv[optind + 1]);
	o->guest = argv[optind];
	return 0;
}

/* A signal held during set-up ends the run before the guest starts: one
 * line and 130. 0 if none is held. */
static int run_signal_held(const struct run_opts *o)
{
	if (!run_signal_pending())
		return 0;
	fprintf(stderr, "memvisor: guest %s interrupted by a signal before it started\n", o->guest);
	return VMM_EXIT_INTERRUPTED;
}

/* Run g. The signals are let through once it can be stopped: one held since
 * set-up is delivered here and stops it at once. An inherited mask that
 * blocked them is undone too: nothing may make a guest unstoppable. */
static int run_attached(struct vmm_guest *g)
{
	run_attach(0, g);
	run_unblock_signals();
	vmm_guest_run(g);
	run_detach(0);
	return cli_run_exit_status(g);
}

static void run_report_end(const struct vmm_guest *g)
{
	if (cli_exit_code_reserved(g))
		fprintf(stderr, "memvisor: guest %s exited with code %d; memvisor keeps 120 and up for "
			"its own statuses: exit status %d\n", g->cfg.name, g->exit_code & 0xff,
			CLI_EXIT_GUEST_RANGE);
	if (g->end == VMM_END_DONE)
		return;
	fprintf(stderr, "memvisor: %s\n", g->reason);
	if (g->detail[0])
		fprintf(stderr, "%s\n", g->detail);
}

/* Everything said after the run: why it ended, walks, the summary, the JSON. */
static void run_report(const struct run_opts *o, struct vmm_guest *g, struct cli_summary_file *json)
{
	fflush(stdout);
	cli_watch_end(); /* the progress line gone, the last stats line written */
	run_report_end(g);
	for (unsigned i = 0; i < o->nr_walks; i++)
		vmm_walk_gva(g, o->walks[i], stdout);
	if (!o->quiet)
		cli_summary_print(g, stderr);
	if (!o->quiet && cli_watch_socket_path())
		fprintf(stderr, "  stat socket: %s (gone at exit)\n", cli_watch_socket_path());
	if (json->f) {
		cli_summary_json(g, json->f);
		json->written = true;
	}
}

/* The frame pool and its swap device, unless --host-mm. 0, or 1 with a message. */
int run_open_pool(struct run_opts *o, struct cli_setup *s)
{
	struct cli_pool_spec spec = {
		.bytes = o->pool_size ? o->pool_size : o->cfg.mem_size,
		.nr_vcpus = o->cfg.nr_vcpus, .no_pin = o->cfg.no_pin, .install = o->install,
		.prezero = o->no_prezero ? CLI_PREZERO_OFF : CLI_PREZERO_ON,
		.swap_path = o->swap_path, .swap_size = o->swap_size,
		.swap_flags = o->swap_keep ? SWAPD_KEEP : 0,
		.inject_write = o->inject_write, .inject_read = o->inject_read,
	};
	char err[512];

	if (o->host_mm)
		return 0;
	if (o->swap_path && !spec.swap_size && access(o->swap_path, F_OK))
		spec.swap_size = o->cfg.mem_size; /* a new file: room for all of RAM */
	if (cli_setup_pool(s, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		return 1;
	}
	o->cfg.pool = cli_setup_pool_of(s);
	return 0;
}

static int run_guest(struct run_opts *o, const void *elf, size_t len, struct cli_summary_file *json)
{
	struct cli_setup s = { .have_kvm = false };
	struct vmm_guest *g;
	char err[512];
	int status;

	if (cli_setup_kvm(&s, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		return VMM_EXIT_RUNTIME;
	}
	status = run_signal_held(o);
	if (!status && run_open_pool(o, &s))
		status = VMM_EXIT_RUNTIME;
	if (!status)
		status = run_signal_held(o);
	if (!status && vmm_guest_create(&s.kvm, &o->cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s: %s\n", o->cfg.path, err);
		status = VMM_EXIT_RUNTIME;
	}
	if (!status) {
		cli_watch_attach(0, g); /* first: the first stats line has it */
		cli_watch_start(o->cfg.pool, 1, &o->cfg.name);
		status = run_attached(g);
		run_report(o, g, json);
		cli_watch_detach(0);
		vmm_guest_destroy(g);
	}
	cli_setup_close(&s);
	return status;
}

/* memvisor run --guest ... */
static int run_cmd_multi(struct run_opts *o)
{
	static struct cli_guest_spec specs[CLI_MAX_GUESTS];
	struct cli_summary_file json = { .f = NULL };
	int ret = run_multi_parse(o, specs);

	if (ret)
		return ret;
	if (o->summary_json && cli_summary_file_open(o->summary_json, &json))
		return VMM_EXIT_USAGE;
	ret = cli_watch_open(&o->watch);
	if (!ret)
		ret = run_multi(o, &json);
	ret = cli_watch_close(ret);
	return cli_summary_file_finish(&json, o->summary_json, ret);
}

int cli_cmd_run(int argc, char **argv)
{
	struct run_opts o = {
		.cfg = { .mem_size = 256ULL << 20, .nr_vcpus = 1, .console = stdout },
	};
	struct cli_summary_file json = { .f = NULL };
	char path[4096], err[512];
	void *elf;
	size_t len;
	int ret;

	run_catch_signals(); /* first: from here on SIGINT and SIGTERM end the run as interrupted */
	ret = run_parse(argc, argv, &o);
	if (ret)
		return ret;
	o.cfg.console = cli_watch_console(stdout, o.quiet);
	if (o.nr_specs)
		return run_cmd_multi(&o);
	if (vmm_image_resolve(o.guest, path, sizeof(path), err, sizeof(err)))
		return cli_usage_error("%s", err);
	if (vmm_image_read(path, &elf, &len, err, sizeof(err))) {
		fprintf(stderr, "memvisor: %s\n", err);
		return VMM_EXIT_RUNTIME;
	}
	o.cfg.name = o.guest;
	o.cfg.path = path;
	if (o.summary_json && cli_summary_file_open(o.summary_json, &json)) {
		free(elf);
		return VMM_EXIT_USAGE;
	}
	ret = cli_watch_open(&o.watch);
	if (!ret)
		ret = run_guest(&o, elf, len, &json);
	ret = cli_watch_close(ret);
	free(elf);
	return cli_summary_file_finish(&json, o.summary_json, ret);
}
