// SPDX-License-Identifier: MIT
/*
 * memvisor-touch-host: the touch guest's accesses, made by a host process
 * over an anonymous mapping of the guest's RAM size (the Linux side of
 * memvisor bench overcommit: Linux managing the same accesses as process
 * memory). The patterns are the guest's own code (guest/lib/pattern.c), so
 * for a seed both sides touch the same pages in the same order; this is one
 * vCPU's walk (vCPU 0 of 1).
 *
 * Prints touch's line, then one "key value" line each: pages, ns (the walk
 * alone), minflt and majflt (this process's faults during the walk, from
 * getrusage), and checksum with --checksum.
 */
#include "pattern.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define TH_PAGE ((uint64_t)4096)

struct th_opts {
	uint64_t size, passes, seed;
	int kind;
	bool read, checksum;
};

static uint64_t th_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A number with an optional K/M/G suffix: 0, or -1. */
static int th_parse(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	}
	*out = v;
	return *end ? -1 : 0;
}

static int th_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "memvisor-touch-host: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: memvisor-touch-host --size SIZE [--pattern seq|random|zipf|phased|mix]"
		" [--passes N] [--seed N] [--read|--write] [--checksum]\n");
	return 2;
}

static int th_getopt(int argc, char **argv, struct th_opts *o)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' }, { "pattern", required_argument, NULL, 'p' },
		{ "passes", required_argument, NULL, 'n' }, { "seed", required_argument, NULL, 'S' },
		{ "read", no_argument, NULL, 'r' }, { "write", no_argument, NULL, 'w' },
		{ "checksum", no_argument, NULL, 'c' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if ((c == 's' && th_parse(optarg, &o->size)) || (c == 'n' && th_parse(optarg, &o->passes)) ||
		    (c == 'S' && th_parse(optarg, &o->seed)))
			return th_usage("bad number '%s'", optarg);
		if (c == 'p' && (o->kind = pat_parse(optarg)) < 0)
			return th_usage("unknown pattern '%s' (seq, random, zipf, phased or mix)", optarg);
		o->read = c == 'r' ? true : c == 'w' ? false : o->read;
		o->checksum |= c == 'c';
		if (c == '?')
			return th_usage("%s", "bad option");
	}
	if (optind < argc)
		return th_usage("unexpected argument '%s'", argv[optind]);
	if (o->size < TH_PAGE)
		return th_usage("%s", "--size must be 4K or more");
	return 0;
}

/* The walk itself, as touch does it; the checksum only if asked. */
static uint64_t th_walk(const struct th_opts *o, volatile uint64_t *base, uint64_t n,
			uint64_t *touches)
{
	struct pat pat;
	struct pat_touch t;
	uint64_t sum = 0, check = 0;

	pat_init(&pat, (enum pat_kind)o->kind, o->read, n, o->passes, o->seed, 0);
	while (pat_next(&pat, &t)) {
		volatile uint64_t *w = base + t.page * (TH_PAGE / 8);

		if (t.write)
			*w = t.i + 1;
		else
			sum += *w;
		if (o->checksum)
			check = pat_sum(check, &t);
		(*touches)++;
	}
	(void)sum;
	return check;
}

int main(int argc, char **argv)
{
	struct th_opts o = { .passes = 1, .seed = 1, .kind = PAT_SEQ };
	struct rusage r0, r1;
	uint64_t n, t0, ns, touches = 0, check;
	void *ram;
	int ret = th_getopt(argc, argv, &o);

	if (ret)
		return ret;
	n = o.size / TH_PAGE;
	ram = mmap(NULL, n * TH_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		fprintf(stderr, "memvisor-touch-host: mmap of %" PRIu64 " bytes: %s\n", n * TH_PAGE,
			strerror(errno));
		return 1;
	}
	getrusage(RUSAGE_SELF, &r0);
	t0 = th_ns();
	check = th_walk(&o, ram, n, &touches);
	ns = th_ns() - t0;
	getrusage(RUSAGE_SELF, &r1);
	printf("touch: host: %" PRIu64 " pages, %s %s, %" PRIu64 " pass%s: %" PRIu64 " pages/s\n", n,
	       pat_name((enum pat_kind)o.kind), o.kind == PAT_MIX ? "read-mostly" : o.read ? "read" : "write",
	       o.passes, o.passes == 1 ? "" : "es", ns ? touches * UINT64_C(1000000000) / ns : 0);
	printf("pages %" PRIu64 "\nns %" PRIu64 "\nminflt %ld\nmajflt %ld\n", touches, ns,
	       r1.ru_minflt - r0.ru_minflt, r1.ru_majflt - r0.ru_majflt);
	if (o.checksum)
		printf("checksum %" PRIu64 "\n", check);
	return 0;
}
