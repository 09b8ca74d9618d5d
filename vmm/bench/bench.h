/* SPDX-License-Identifier: MIT */
/* memvisor bench and what the benchmarks share. Each returns memvisor's exit
 * status and prints its own errors. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memvisor bench NAME ...: argv[0] is "bench". */
int bench_cmd(int argc, char **argv);

/* One benchmark each: argv[0] is its name. */
int bench_boot(int argc, char **argv);
int bench_paging(int argc, char **argv);
int bench_overcommit(int argc, char **argv);
int bench_faultpath(int argc, char **argv);
int bench_probes(int argc, char **argv);

/* A benchmark's options, for bench_getopt. */
struct bench_args {
	const char *name;                /* "boot": messages say "for bench boot" */
	const char *shortopts;           /* getopt's, e.g. "m:" */
	const struct option *longopts;   /* { "json", no_argument, NULL, 'j' } among them */
	bool *json;                      /* set by --json */
	/* One option of the benchmark's own: 0, cli_usage_error's status, or
	 * -1 for one it does not know. */
	int (*option)(int c, const char *arg, void *opts);
	void *opts;
};
/* The getopt loop of every benchmark: --json, a missing value, an unknown
 * option and a stray argument handled alike. 0, or the usage status with one
 * line printed. */
int bench_getopt(int argc, char **argv, const struct bench_args *a);

/* --runs N, N from 1 to max: 0, or the usage status with one line. */
int bench_parse_runs(const char *arg, unsigned max, unsigned *runs);

int bench_cmp_u64(const void *a, const void *b);

/* The KVM backend and host kernel the figures come from (set by
 * bench_setup): one text line, or two JSON keys (kvm_backend, kernel). */
struct json;
void bench_platform_text(void);
void bench_platform_json(struct json *j);
/* The built-in guest a benchmark runs, read, and /dev/kvm opened in s (a
 * zeroed struct cli_setup; cli_setup_close ends it): 0, or -1 with one line
 * printed. */
struct cli_setup;
int bench_setup(const char *bench, const char *guest, char *path, size_t pathlen,
		void **elf, size_t *len, struct cli_setup *s);

/* bench overcommit's multi-guest workload (overcommit_guests.c): guests
 * with different limits sharing one pool of pool bytes and a swap file in
 * dir, each also run alone in such a pool; s has /dev/kvm open and no pool.
 * NULL with one line printed if a run failed; else print it with
 * bench_oc_guests_text (platform: name the KVM backend too) or _json (one
 * key, "guests") and end it with bench_oc_guests_free (NULL is fine). */
struct bench_oc_guests;
struct bench_oc_guests *bench_oc_guests_run(struct cli_setup *s, uint64_t pool, const char *dir);
void bench_oc_guests_text(const struct bench_oc_guests *r, bool platform);
void bench_oc_guests_json(const struct bench_oc_guests *r, struct json *j);
void bench_oc_guests_free(struct bench_oc_guests *r);

#endif
