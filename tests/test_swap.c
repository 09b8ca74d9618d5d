// SPDX-License-Identifier: MIT
/* Overcommit: guests whose RAM is several times the pool, paged to a swap file. */
#include "guest_util.h"

#include "memvisor/abi.h"

#define MIB (1ULL << 20)

static void expect_memtest_ok(const struct outcome *o, unsigned vcpus, uint64_t pages_each)
{
	uint64_t v;

	cr_assert_eq(o->status, 0, "status %d: %s\n%s", o->status, o->reason, o->console);
	for (unsigned i = 0; i < vcpus; i++) {
		cr_assert(report_value(o, i, "mismatches", &v));
		cr_assert_eq(v, 0, "vCPU %u: %llu mismatched words", i, (unsigned long long)v);
		cr_assert(report_value(o, i, "pages_checked", &v));
		cr_assert_eq(v, pages_each);
	}
}

Test(swap, memtest_256m_in_64m_pool_after_turnovers)
{
	struct outcome o;
	char *argv[] = { "--passes=2" };
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 256 * MIB, .vcpus = 1,
			      .pool = 64 * MIB, .swap_size = 256 * MIB, .argc = 1, .argv = argv };

	run_spec(&o, &r);
	expect_memtest_ok(&o, 1, 2 * 65536);
	/* each pass writes 4 pools' worth: it all went out and came back */
	cr_assert_gt(o.vm.pswpout, 2 * 49152, "pswpout %llu", (unsigned long long)o.vm.pswpout);
	cr_assert_gt(o.vm.pswpin, 49152, "pswpin %llu", (unsigned long long)o.vm.pswpin);
	cr_assert_eq(o.vm.pswpout, o.swap.writes);
	cr_assert_eq(o.vm.write_errors + o.vm.read_errors, 0);
	cr_assert_leq(o.hiwater_rss, 16384);
}

Test(swap, two_vcpus_while_kswapd_reclaims)
{
	struct outcome o;
	char *argv[] = { "--passes=2" };
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 128 * MIB, .vcpus = 2,
			      .pool = 32 * MIB, .swap_size = 128 * MIB, .argc = 1, .argv = argv };

	run_spec(&o, &r);
	expect_memtest_ok(&o, 2, 2 * 16384);
	cr_assert_gt(o.vm.kswapd_wakeups, 0);
	cr_assert_gt(o.vm.pgsteal_kswapd, 0);
	cr_assert_gt(o.vm.pswpin, 0);
}

Test(swap, zero_pages_never_reach_the_file)
{
	struct outcome o;
	char *argv[] = { "--read", "--passes=3" };
	struct run_spec r = { .path = BUILTIN("touch"), .mem = 64 * MIB, .vcpus = 1,
			      .pool = 16 * MIB, .swap_size = 64 * MIB, .argc = 2, .argv = argv };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert_gt(o.vm.zero_elided, 4096, "zero_elided %llu", (unsigned long long)o.vm.zero_elided);
	cr_assert_eq(o.vm.pswpout, 0);
	cr_assert_eq(o.swap.writes, 0);
	cr_assert_eq(o.vm.pswpin, 0);
}

Test(swap, clean_pages_are_dropped_without_a_second_write)
{
	struct outcome o;
	char *argv[] = { "--mode=cleanread", "--passes=3" };
	struct run_spec r = { .path = TESTGUEST, .mem = 64 * MIB, .vcpus = 1, .pool = 16 * MIB,
			      .swap_size = 64 * MIB, .argc = 2, .argv = argv };
	uint64_t bad;

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
	cr_assert(report_value(&o, 0, "mismatches", &bad));
	cr_assert_eq(bad, 0);
	/* written once (16384 pages, most evicted), then read three times:
	 * the read passes bring pages back clean and drop them again */
	cr_assert_gt(o.vm.clean_dropped, 8192, "clean_dropped %llu",
		     (unsigned long long)o.vm.clean_dropped);
	cr_assert_lt(o.vm.pswpout, 16384 + 4096, "pswpout %llu: clean pages were written again",
		     (unsigned long long)o.vm.pswpout);
	cr_assert_gt(o.vm.pswpin, 2 * 12288);
}

Test(swap, full_swap_is_a_clean_oom_kill)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 64 * MIB, .vcpus = 1,
			      .pool = 16 * MIB, .swap_size = 8 * MIB, .timeout_ns = 50ULL * 1000000000 };

	run_spec(&o, &r);
	cr_assert_eq(o.end, VMM_END_OOM, "end %d: %s", o.end, o.reason);
	cr_assert_eq(o.status, VMM_EXIT_OOM);
	cr_assert(strstr(o.reason, "swap is full"), "%s", o.reason);
	cr_assert_gt(o.vm.swap_full, 0);
}

Test(swap, a_write_error_keeps_the_page_and_retires_the_slot)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 64 * MIB, .vcpus = 1,
			      .pool = 16 * MIB, .swap_size = 64 * MIB, .inject_write = 100 };

	run_spec(&o, &r);
	expect_memtest_ok(&o, 1, 16384);
	cr_assert_eq(o.vm.write_errors, 1);
	cr_assert_eq(o.swap.injected, 1);
	cr_assert_eq(o.swap_retired, 1);
}

Test(swap, a_read_error_stops_the_guest_naming_the_gpa)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 64 * MIB, .vcpus = 1,
			      .pool = 16 * MIB, .swap_size = 64 * MIB, .inject_read = 1 };

	run_spec(&o, &r);
	cr_assert_eq(o.end, VMM_END_CRASH, "end %d: %s", o.end, o.reason);
	cr_assert(strstr(o.reason, "reading its page back from swap failed (I/O error) at GPA 0x"),
		  "%s", o.reason);
	cr_assert_geq(o.vm.read_errors, 1);
}
