// SPDX-License-Identifier: MIT
/*
 * touch: one access per page over a range of guest RAM, in a pattern, for N
 * passes; reports pages/s. With several vCPUs each takes an equal slice.
 * The patterns (seq, random, zipf, phased, mix) are in lib/pattern.c, shared
 * with memvisor-touch-host, which makes the same accesses as a host process.
 * --checksum also reports a checksum of the accesses made (pat_sum), for a
 * test that both sides made the same ones. --verify checks at every access
 * that the page holds what this vCPU last wrote there (0 if it never did),
 * from a table of those values kept in RAM too, at the end of its slice,
 * and reports the mismatches: a test that the host lost no write, whatever
 * the order of the accesses.
 */
#include "mv.h"
#include "pattern.h"

static enum pat_kind parse_pattern(const char *s)
{
	int k = s ? pat_parse(s) : PAT_SEQ;

	if (k < 0) {
		mv_printf("touch: unknown pattern '%s' (seq, random, zipf, phased or mix)\n", s);
		mv_done(2);
	}
	return (enum pat_kind)k;
}

int main(int argc, char **argv)
{
	static const char *const known[] = { "size", "pattern", "!read", "!write", "passes",
					     "seed", "!checksum", "!verify", NULL };
	unsigned cpu = mv_cpu(), ncpu = mv_ncpus();

	mv_opts_check(argc, argv, known);
	uint64_t size = mv_opt_size(argc, argv, "size", mv_ram_size());
	uint64_t passes = mv_opt_u64(argc, argv, "passes", 1);
	enum pat_kind kind = parse_pattern(mv_opt(argc, argv, "pattern"));
	bool rd = mv_flag(argc, argv, "read"), want_sum = mv_flag(argc, argv, "checksum");
	bool verify = mv_flag(argc, argv, "verify");
	struct pat pat;
	struct pat_touch t;

	if (size < MV_PAGE_SIZE || size > mv_ram_size()) {
		mv_printf("touch: --size must be between 4K and the guest RAM (%lu MiB)\n",
			  mv_ram_size() >> 20);
		return 2;
	}
	uint64_t pages = size / MV_PAGE_SIZE;
	uint64_t first = pages * cpu / ncpu, n = pages * (cpu + 1) / ncpu - first;
	volatile uint64_t *base = (volatile uint64_t *)(mv_ram() + first * MV_PAGE_SIZE);
	volatile uint64_t *last = NULL; /* --verify: what each page should hold */
	uint64_t mismatches = 0;

	if (verify) {
		uint64_t table = (n * 8 + MV_PAGE_SIZE - 1) / MV_PAGE_SIZE;

		if (n <= table) {
			mv_printf("touch: --verify needs more than %lu pages a vCPU\n", table);
			return 2;
		}
		n -= table;
		last = base + n * (MV_PAGE_SIZE / 8);
	}
	pat_init(&pat, kind, rd, n, passes, mv_opt_u64(argc, argv, "seed", 1), cpu);
	uint64_t sum = 0, check = 0, touches = 0, t0 = mv_ns();

	while (pat_next(&pat, &t)) {
		volatile uint64_t *w = base + t.page * (MV_PAGE_SIZE / 8);

		if (last && *w != last[t.page] && mismatches++ < 4)
			mv_printf("touch: vCPU %u: page %lu holds %lu, not the %lu last written\n", cpu,
				  t.page, *w, last[t.page]);
		if (t.write) {
			*w = t.i + 1;
			if (last)
				last[t.page] = t.i + 1;
		} else {
			sum += *w;
		}
		if (want_sum)
			check = pat_sum(check, &t);
		touches++;
	}
	uint64_t ns = mv_ns() - t0;
	uint64_t rate = ns ? touches * 1000000000ULL / ns : 0;

	mv_printf("touch: vCPU %u: %lu pages, %s %s, %lu pass%s: %lu pages/s\n", cpu, n, pat_name(kind),
		  kind == PAT_MIX ? "read-mostly" : rd ? "read" : "write", passes,
		  passes == 1 ? "" : "es", rate);
	mv_report("pages", touches);
	mv_report("ns", ns);
	mv_report("pages_per_s", rate);
	if (want_sum)
		mv_report("checksum", check);
	if (last)
		mv_report("mismatches", mismatches);
	(void)sum;
	return 0;
}
