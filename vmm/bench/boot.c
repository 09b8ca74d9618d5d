// SPDX-License-Identifier: MIT
/*
 * memvisor bench boot: the median time from creating a frame pool and a
 * guest to its exit and teardown for the built-in hello, in this process,
 * beside a fork+exec of /bin/true; also the whole command (fork+exec of
 * "memvisor run hello").
 */
#include "bench.h"
#include "vmm/cli/cli.h"
#include "vmm/guest.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"

#include "memvisor/abi.h"
#include "memvisor/time.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct boot_opts {
	bool json;
	unsigned runs;
	uint64_t mem_size;
};

/* percentile p (0..100) of n samples, sorting them in place */
static double boot_pct(uint64_t *v, unsigned n, unsigned p)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	return v[(n - 1) * p / 100] / 1e6;
}

/* fork+exec argv with stdout and stderr to /dev/null; ns, or 0 on failure */
static uint64_t boot_spawn(char *const argv[])
{
	uint64_t t0 = mv_now_ns();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 0;
	return mv_now_ns() - t0;
}

static int boot_once(struct cli_setup *s, const struct vmm_config *cfg, const void *elf,
		     size_t len, uint64_t *ns)
{
	/* what "memvisor run hello" does: a pool as large as RAM, then the guest */
	struct cli_pool_spec spec = { .bytes = cfg->mem_size, .nr_vcpus = cfg->nr_vcpus,
				      .prezero = CLI_PREZERO_SPARE_CPU };
	struct vmm_config c = *cfg;
	struct vmm_guest *g;
	char err[512];
	uint64_t t0 = mv_now_ns();
	int status;

	if (cli_setup_pool(s, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench boot: %s\n", err);
		return -1;
	}
	c.pool = cli_setup_pool_of(s);
	if (vmm_guest_create(&s->kvm, &c, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench boot: %s\n", err);
		cli_setup_pool_close(s);
		return -1;
	}
	status = vmm_guest_run(g);
	vmm_guest_destroy(g);
	cli_setup_pool_close(s);
	*ns = mv_now_ns() - t0;
	if (status) {
		fprintf(stderr, "memvisor: bench boot: hello ended with status %d\n", status);
		return -1;
	}
	return 0;
}

static void boot_print(const struct boot_opts *o, double boot, double p90, double tru,
			     double exec)
{
	char ram[32];

	if (o->json) {
		struct json j;

		json_init(&j, stdout);
		json_begin(&j, NULL, '{');
		json_str(&j, "bench", "boot");
		json_str(&j, "guest", "hello");
		bench_platform_json(&j);
		json_u64(&j, "runs", o->runs);
		json_u64(&j, "ram_bytes", o->mem_size);
		json_f64(&j, "median_ms", boot);
		json_f64(&j, "p90_ms", p90);
		json_f64(&j, "true_median_ms", tru);
		json_f64(&j, "ratio", boot / tru);
		json_f64(&j, "exec_median_ms", exec);
		json_f64(&j, "exec_ratio", exec / tru);
		json_end(&j, '}');
		return;
	}
	cli_format_size(o->mem_size, ram, sizeof(ram));
	printf("bench boot: guest hello, %s RAM, 1 vCPU, %u runs of each, medians\n", ram, o->runs);
	bench_platform_text();
	printf("  memvisor: create, run to exit, tear down   %8.3f ms   (p90 %.3f ms)\n", boot, p90);
	printf("  baseline: fork+exec /bin/true              %8.3f ms\n", tru);
	printf("  ratio memvisor / baseline                  %8.2fx\n", boot / tru);
	printf("  whole command: memvisor run hello          %8.3f ms   (%.2fx baseline)\n",
	       exec, exec / tru);
}

static int boot_measure(const struct boot_opts *o)
{
	struct vmm_config cfg = { .name = "hello", .mem_size = o->mem_size, .nr_vcpus = 1 };
	char path[4096], self[4096];
	uint64_t *boot = calloc(o->runs, sizeof(uint64_t)), *tru = calloc(o->runs, sizeof(uint64_t));
	uint64_t *exec = calloc(o->runs, sizeof(uint64_t));
	char mem[32];
	struct cli_setup s = { .have_kvm = false };
	void *elf = NULL;
	size_t len;
	int ret = VMM_EXIT_RUNTIME;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	snprintf(mem, sizeof(mem), "%lluK", (unsigned long long)(o->mem_size >> 10));
	char *true_argv[] = { "/bin/true", NULL };
	char *exec_argv[] = { self, "run", "-q", "-m", mem, "hello", NULL };

	if (!boot || !tru || !exec || n <= 0)
		goto out;
	self[n] = '\0';
	if (bench_setup("boot", "hello", path, sizeof(path), &elf, &len, &s))
		goto out;
	cfg.path = path;
	/* interleave the three so that machine noise hits them alike */
	for (unsigned i = 0; i < o->runs; i++) {
		if (boot_once(&s, &cfg, elf, len, &boot[i]))
			goto out;
		tru[i] = boot_spawn(true_argv);
		exec[i] = boot_spawn(exec_argv);
		if (!tru[i] || !exec[i]) {
			fprintf(stderr, "memvisor: bench boot: a baseline run failed\n");
			goto out;
		}
	}
	double p90 = boot_pct(boot, o->runs, 90);
	boot_print(o, boot_pct(boot, o->runs, 50), p90, boot_pct(tru, o->runs, 50),
			 boot_pct(exec, o->runs, 50));
	ret = 0;
out:
	cli_setup_close(&s);
	free(elf);
	free(boot);
	free(tru);
	free(exec);
	return ret;
}

static int boot_option(int c, const char *arg, void *opts)
{
	struct boot_opts *o = opts;
	uint64_t v;

	switch (c) {
	case 'r':
		return bench_parse_runs(arg, 100000, &o->runs);
	case 'm':
		if (cli_parse_size(arg, &v) || v == 0 || v % PAGE_SIZE || v > MV_RAM_MAX)
			return cli_usage_error("bad size '%s' for --mem", arg);
		o->mem_size = v;
		return 0;
	}
	return -1;
}

int bench_boot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "runs", required_argument, NULL, 'r' },
		{ "mem", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct boot_opts o = { .runs = 50, .mem_size = 256ULL << 20 };
	struct bench_args a = { .name = "boot", .shortopts = "m:", .longopts = longopts,
				.json = &o.json, .option = boot_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);

	return ret ? ret : boot_measure(&o);
}
