// SPDX-License-Identifier: MIT
/* Paging policies under overcommit: swap read-ahead, and what it may never cost (data). */
#include "guest_util.h"

#include "memvisor/abi.h"

#define MIB (1ULL << 20)

/* A working set walked in address order that moves on through RAM: the
 * pages it comes back to went to swap in about, not exactly, address order
 * (interleaved with others in the slots), so read-ahead follows the stream
 * by guest address too and a major fault brings a window back. By slot
 * alone it was 4-5 pages a major fault here, 7-17 with it. */
Test(policy, swapins_in_address_order_read_ahead_by_address)
{
	struct outcome o;
	char *argv[] = { "--pattern=phased", "--passes=8" };
	struct run_spec r = { .path = BUILTIN("touch"), .mem = 64 * MIB, .vcpus = 1,
			      .pool = 16 * MIB, .swap_size = 64 * MIB, .argc = 2, .argv = argv };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
	cr_assert_gt(o.vm.pswpin, 16384, "pswpin %llu", (unsigned long long)o.vm.pswpin);
	cr_assert_geq(o.vm.pswpin, 6 * o.vm.pgmajfault,
		      "%llu pages in by %llu major faults: under 6 a fault",
		      (unsigned long long)o.vm.pswpin, (unsigned long long)o.vm.pgmajfault);
	cr_assert_eq(o.vm.readahead_errors + o.vm.read_errors, 0);
	/* the stream is followed by address: most of what is read ahead is
	 * found that way, and counted apart from what the slots give */
	cr_assert_gt(o.vm.readahead_addr, o.vm.readahead / 4, "%llu of %llu read ahead by address",
		     (unsigned long long)o.vm.readahead_addr, (unsigned long long)o.vm.readahead);
	cr_assert_leq(o.vm.readahead_addr, o.vm.readahead);
}

/* Read-ahead by address and by slot together, several vCPUs streaming
 * their own slices, pages going out and coming back many times: every
 * word reads back what was written. */
Test(policy, read_ahead_keeps_every_word)
{
	struct outcome o;
	char *argv[] = { "--passes=2" };
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 128 * MIB, .vcpus = 2,
			      .pool = 32 * MIB, .swap_size = 128 * MIB, .argc = 1, .argv = argv };
	uint64_t v;

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "status %d: %s\n%s", o.status, o.reason, o.console);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert(report_value(&o, i, "mismatches", &v));
		cr_assert_eq(v, 0, "vCPU %u: %llu mismatched words", i, (unsigned long long)v);
	}
	cr_assert_gt(o.vm.readahead, 1024, "readahead %llu", (unsigned long long)o.vm.readahead);
	cr_assert_leq(o.hiwater_rss, 8192);
}

/* touch writing with pattern over 64 MiB of RAM in a 16 MiB pool through
 * swap: it must finish, with enough major faults to judge read-ahead by. */
static void touch_through_swap(struct outcome *o, char *pattern, char *passes)
{
	char *argv[] = { pattern, passes };
	struct run_spec r = { .path = BUILTIN("touch"), .mem = 64 * MIB, .vcpus = 1,
			      .pool = 16 * MIB, .swap_size = 64 * MIB, .argc = 2, .argv = argv };

	run_spec(o, &r);
	cr_assert_eq(o->status, 0, "%s\n%s", o->reason, o->console);
	cr_assert_gt(o->vm.pgmajfault, 1000, "%llu major faults",
		     (unsigned long long)o->vm.pgmajfault);
	cr_assert_eq(o->vm.readahead_errors + o->vm.read_errors, 0);
}

/* Random writes over four times the pool: the pages evicted together were
 * written at about the same time, and come back at about the same time too.
 * Swap cluster read-ahead brings the slots after a faulting one back with
 * it once the pages it read ahead prove used (their guest PTEs' accessed
 * bits, when reclaim comes to them). Before, a swap-in that continued no
 * stream read its page alone: 1.0 page a major fault. */
Test(policy, random_swapins_read_their_clusters_once_read_ahead_proves_used)
{
	struct outcome o;

	touch_through_swap(&o, "--pattern=random", "--passes=2");
	cr_assert_geq(o.vm.pswpin, 3 * o.vm.pgmajfault, "%llu pages in by %llu major faults",
		      (unsigned long long)o.vm.pswpin, (unsigned long long)o.vm.pgmajfault);
	cr_assert_gt(o.vm.readahead_used, 2 * o.vm.readahead_unused, "%llu read ahead used, %llu not",
		     (unsigned long long)o.vm.readahead_used,
		     (unsigned long long)o.vm.readahead_unused);
}

/* A skewed set over four times the pool: a cold page's neighbours in the
 * slots are cold too, and reading them would push hot pages out (a cluster
 * of 8 for every swap-in read five times the pages and took a third longer
 * here). Read-ahead that is not used keeps to a probe. */
Test(policy, a_skewed_set_keeps_cluster_read_ahead_to_a_probe)
{
	struct outcome o;

	touch_through_swap(&o, "--pattern=zipf", "--passes=4");
	cr_assert_lt(o.vm.pswpin, 2 * o.vm.pgmajfault, "%llu pages in by %llu major faults",
		     (unsigned long long)o.vm.pswpin, (unsigned long long)o.vm.pgmajfault);
	cr_assert_gt(o.vm.readahead_unused, o.vm.readahead_used, "%llu read ahead used, %llu not",
		     (unsigned long long)o.vm.readahead_used,
		     (unsigned long long)o.vm.readahead_unused);
}
