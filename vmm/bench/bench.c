// SPDX-License-Identifier: MIT
/*
 * memvisor bench: each benchmark measures its figure and its baseline in the
 * same run and prints both with their ratio, because absolute times on these
 * machines are noisy. This file names them and holds what they share.
 */
#include "bench.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"
#include "vmm/guest.h"
#include "vmm/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Which KVM the figures come from, recorded by bench_setup: figures from a
 * shadow-paging backend and from hardware EPT/NPT differ tenfold. */
static char bench_backend[64] = "unknown KVM backend", bench_kernel[80] = "unknown";

void bench_platform_text(void)
{
	printf("  on KVM: %s, host kernel %s\n", bench_backend, bench_kernel);
}

void bench_platform_json(struct json *j)
{
	json_str(j, "kvm_backend", bench_backend);
	json_str(j, "kernel", bench_kernel);
}

int bench_setup(const char *bench, const char *guest, char *path, size_t pathlen,
		void **elf, size_t *len, struct cli_setup *s)
{
	char err[512];

	*elf = NULL;
	if (vmm_image_resolve(guest, path, pathlen, err, sizeof(err)) ||
	    vmm_image_read(path, elf, len, err, sizeof(err)) || cli_setup_kvm(s, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench %s: %s\n", bench, err);
		free(*elf);
		*elf = NULL;
		return -1;
	}
	snprintf(bench_backend, sizeof(bench_backend), "%s", s->kvm.backend);
	snprintf(bench_kernel, sizeof(bench_kernel), "%s", s->kvm.kernel);
	return 0;
}

int bench_getopt(int argc, char **argv, const struct bench_args *a)
{
	char shortopts[32];
	int c, ret;

	/* a leading ':' tells a missing value from an unknown option */
	snprintf(shortopts, sizeof(shortopts), ":%s", a->shortopts);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, a->longopts, NULL)) != -1) {
		if (c == ':')
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		if (c == 'j') {
			*a->json = true;
			continue;
		}
		ret = c == '?' ? -1 : a->option(c, optarg, a->opts);
		if (ret < 0)
			return cli_usage_error("unknown option '%s' for bench %s", argv[optind - 1],
					       a->name);
		if (ret)
			return ret;
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

int bench_parse_runs(const char *arg, unsigned max, unsigned *runs)
{
	uint64_t v;

	if (cli_parse_uint(arg, 1, max, &v))
		return cli_usage_error("bad run count '%s' (1..%u)", arg, max);
	*runs = (unsigned)v;
	return 0;
}

static const char bench_usage[] =
	"usage: memvisor bench NAME [--json] [options]\n"
	"  boot [--runs N] [-m SIZE]\n"
	"        median create-to-exit time of the hello guest, beside fork+exec of /bin/true\n"
	"  demand-paging [--size S] [--vcpus N] [--pattern seq|random] [--runs N]\n"
	"        pages/s of a guest touching all its RAM once: memvisor's fault path beside\n"
	"        kernel-served faults (--host-mm) and prepopulated RAM\n"
	"  overcommit [--pool SIZE] [--ratios N,N] [--seed N] [--quick]\n"
	"             [--workload zipf|phased|scan|random|mix|guests|all,..] [--dir DIR] [--no-kernel]\n"
	"        guests of 2x and 4x the pool paged to swap, beside Linux's reclaim of the same\n"
	"        guest in a memory cgroup with a host swap file\n"
	"  faultpath [--size S] [--runs N] [--dir DIR]\n"
	"        memvisor's fault service beside a bare userfaultfd round trip, and its reclaim\n"
	"        CPU and swap-out beside a raw io_uring write\n"
	"  probes [--size S] [--runs N]\n"
	"        the fault path in memvisor beside memvisor-noprobes (the same without its USDT\n"
	"        probes): what a probe costs when nobody listens\n"
	"  --json   one JSON object on stdout instead of text\n";

int bench_cmd(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("no benchmark named (available: boot, demand-paging, overcommit, "
				       "faultpath, probes)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(bench_usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "boot"))
		return bench_boot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "demand-paging"))
		return bench_paging(argc - 1, argv + 1);
	if (!strcmp(argv[1], "overcommit"))
		return bench_overcommit(argc - 1, argv + 1);
	if (!strcmp(argv[1], "faultpath"))
		return bench_faultpath(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probes"))
		return bench_probes(argc - 1, argv + 1);
	return cli_usage_error("unknown benchmark '%s' (available: boot, demand-paging, overcommit, "
			       "faultpath, probes)", argv[1]);
}
