// SPDX-License-Identifier: MIT
/*
 * The touch patterns (guest/lib/pattern.c): their shape, and that the
 * freestanding guest and memvisor-touch-host, both built from that source,
 * make the same accesses for a seed (the checksum both report).
 */
#include "pattern.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MEMVISOR MV_BUILD_DIR "/memvisor"
#define TOUCH_HOST MV_BUILD_DIR "/guest/memvisor-touch-host"

Test(pattern, random_is_a_permutation_each_pass)
{
	enum { N = 1000 };
	static unsigned char seen[2][N];
	struct pat p;
	struct pat_touch t;
	unsigned count = 0;

	pat_init(&p, PAT_RANDOM, false, N, 2, 5, 0);
	while (pat_next(&p, &t)) {
		cr_assert_lt(t.page, N);
		seen[count / N][t.page]++;
		count++;
	}
	cr_assert_eq(count, 2 * N);
	for (unsigned i = 0; i < N; i++)
		cr_assert(seen[0][i] == 1 && seen[1][i] == 1, "page %u", i);
}

Test(pattern, mix_writes_one_touch_in_five_on_zipf_pages)
{
	struct pat p;
	struct pat_touch t;
	uint64_t writes = 0, touches = 0, hot = 0;

	pat_init(&p, PAT_MIX, true, 4096, 4, 1, 0);
	while (pat_next(&p, &t)) {
		writes += t.write;
		hot += t.page == 0; /* rank 0 is page 0, the hottest */
		touches++;
	}
	cr_assert_eq(touches, 4 * 4096);
	cr_assert(writes > touches / 6 && writes < touches / 4, "%lu writes of %lu", writes, touches);
	/* P(rank 0) = log2(2) / log2(4097) ~ 1/12 */
	cr_assert(hot > touches / 20 && hot < touches / 8, "page 0: %lu of %lu", hot, touches);
}

Test(pattern, phased_walks_a_quarter_four_times_then_moves)
{
	struct pat p;
	struct pat_touch t;
	uint64_t k = 0;

	pat_init(&p, PAT_PHASED, false, 64, 2, 1, 0);
	while (pat_next(&p, &t)) {
		uint64_t pass = k / 64, i = k % 16;

		cr_assert_eq(t.page, (pass * 32 + i) % 64, "touch %lu", k);
		k++;
	}
	cr_assert_eq(k, 128);
}

/* The checksum line a command prints (after prefix), or 0. */
static uint64_t checksum_of(const char *cmd, const char *prefix)
{
	char line[512];
	uint64_t sum = 0;
	FILE *f = popen(cmd, "r");

	cr_assert(f, "%s", cmd);
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, prefix);

		if (at)
			sum = strtoull(at + strlen(prefix), NULL, 10);
	}
	cr_assert_eq(pclose(f), 0, "%s failed", cmd);
	return sum;
}

Test(pattern, guest_and_host_program_make_the_same_accesses, .timeout = 120)
{
	static const char *const pats[] = { "seq", "random", "zipf", "phased", "mix" };
	int fd = open("/dev/kvm", O_RDWR);
	char cmd[1024];

	if (fd < 0)
		cr_skip_test("needs /dev/kvm");
	close(fd);
	for (unsigned k = 0; k < 5; k++) {
		snprintf(cmd, sizeof(cmd), "%s run -m 6M touch -- --pattern=%s --passes=3 --seed=11 "
			 "--checksum 2>&1", MEMVISOR, pats[k]);
		uint64_t guest = checksum_of(cmd, "report: checksum = ");

		snprintf(cmd, sizeof(cmd), "%s --size 6M --pattern %s --passes 3 --seed 11 --checksum",
			 TOUCH_HOST, pats[k]);
		uint64_t host = checksum_of(cmd, "checksum ");

		cr_assert(guest != 0, "%s: no checksum from the guest", pats[k]);
		cr_assert_eq(guest, host, "%s: guest %lu, host %lu", pats[k], guest, host);
	}
}
