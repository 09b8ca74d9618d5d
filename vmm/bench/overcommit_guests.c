// SPDX-License-Identifier: MIT
/*
 * memvisor bench overcommit --workload guests: several guests sharing one
 * pool and swap file. (Being written: for now it runs nothing.)
 */
#include "bench.h"

#include <stdlib.h>

struct bench_oc_guests {
	unsigned nr;
};

struct bench_oc_guests *bench_oc_guests_run(struct cli_setup *s, uint64_t pool, const char *dir)
{
	(void)s;
	(void)pool;
	(void)dir;
	return calloc(1, sizeof(struct bench_oc_guests));
}

void bench_oc_guests_text(const struct bench_oc_guests *r, bool platform)
{
	(void)r;
	(void)platform;
}

void bench_oc_guests_json(const struct bench_oc_guests *r, struct json *j)
{
	(void)r;
	(void)j;
}

void bench_oc_guests_free(struct bench_oc_guests *r)
{
	free(r);
}
