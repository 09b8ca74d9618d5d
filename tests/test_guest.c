// SPDX-License-Identifier: MIT
/* Guest tests: real guests on /dev/kvm, through the VMM library. */
#include "guest_util.h"

#include "memvisor/abi.h"

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

Test(guest, hello_greets)
{
	struct outcome o;
	char *argv[] = { "first", "second arg" };

	run_guest(&o, BUILTIN("hello"), 32 << 20, 1, 0, 2, argv);
	cr_assert_eq(o.status, 0, "status %d: %s", o.status, o.reason);
	cr_assert_eq(o.end, VMM_END_DONE);
	cr_assert(strstr(o.console, "Hello from memvisor guest on vCPU 0 of 1, 32 MiB of RAM\n"),
		  "console: %s", o.console);
	cr_assert(strstr(o.console, "arg 1: second arg\n"), "console: %s", o.console);
	cr_assert_eq(o.stats.hcalls[MV_HC_DONE], 1);
	cr_assert_geq(o.stats.exits[KVM_EXIT_IO], 2);
}

Test(guest, exit_code_propagates)
{
	struct outcome o;
	char *argv[] = { "--mode=exit", "--code=7" };

	run_guest(&o, TESTGUEST, 16 << 20, 1, 0, 2, argv);
	cr_assert_eq(o.end, VMM_END_DONE);
	cr_assert_eq(o.status, 7);
}

Test(guest, assert_reports_file_and_line)
{
	struct outcome o;

	run_test_mode(&o, "assert");
	cr_assert_eq(o.end, VMM_END_ASSERT);
	cr_assert_eq(o.status, VMM_EXIT_ASSERT);
	cr_assert(strstr(o.reason, "testguest.c:"), "reason: %s", o.reason);
	cr_assert(strstr(o.reason, "mv_ncpus() == 1000"), "reason: %s", o.reason);
	/* the line number is the MV_ASSERT's line in testguest.c */
	cr_assert(strstr(o.reason, ".c:4") || strstr(o.reason, ".c:5"), "reason: %s", o.reason);
	cr_assert(strstr(o.console, "about to fail\n"));
}

Test(guest, null_write_is_a_crash_report)
{
	struct outcome o;

	run_test_mode(&o, "null");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert_eq(o.status, VMM_EXIT_CRASH);
	cr_assert(strstr(o.reason, "triple fault"), "reason: %s", o.reason);
	cr_assert(strstr(o.reason, "at RIP 0x4"), "reason: %s", o.reason);
	cr_assert(strstr(o.detail, "CR2 0x10 "), "detail: %s", o.detail);
	cr_assert(strstr(o.detail, "null or small pointer"), "detail: %s", o.detail);
}

Test(guest, access_beyond_ram_is_clean)
{
	struct outcome o;

	run_test_mode(&o, "beyond");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.detail, "CR2 0x8001000000 "), "detail: %s", o.detail);
	cr_assert(strstr(o.detail, "beyond the end of guest RAM"), "detail: %s", o.detail);
}

Test(guest, write_to_rom_is_a_clean_report)
{
	struct outcome o;

	run_test_mode(&o, "rom");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.reason, "write of 1 bytes to ROM (the guest image's read-only pages) "
				   "at GPA 0x50"), "reason: %s", o.reason);
	cr_assert_eq(o.stats.exits[KVM_EXIT_MMIO], 1);
}

Test(guest, mmio_hole_is_a_clean_report)
{
	struct outcome o;

	run_test_mode(&o, "mmio");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.reason, "read of 8 bytes in the MMIO hole 'mmio-hole' at GPA 0x3fffe00040: "
				   "no device there"), "reason: %s", o.reason);
}

Test(guest, stack_overflow_hits_the_guard)
{
	struct outcome o;

	run_test_mode(&o, "stack");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.detail, "stack overflow"), "detail: %s", o.detail);
}

Test(guest, bad_hypercall_pointer_is_clean)
{
	struct outcome o;

	run_test_mode(&o, "badptr");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert_eq(o.status, VMM_EXIT_CRASH);
	cr_assert(strstr(o.reason, "hypercall write: buffer pointer 0x7000000000 is not guest memory"),
		  "reason: %s", o.reason);
}

Test(guest, bad_report_key_is_refused)
{
	struct outcome o;

	run_test_mode(&o, "badkey");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.reason, "key must be"), "reason: %s", o.reason);
	cr_assert_eq(o.nr_reports, 0);
}

Test(guest, unknown_port_and_hypercall)
{
	struct outcome o;

	run_test_mode(&o, "port");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.reason, "I/O port 0x80"), "reason: %s", o.reason);
	run_test_mode(&o, "hcall");
	cr_assert_eq(o.end, VMM_END_CRASH);
	cr_assert(strstr(o.reason, "unknown hypercall 99"), "reason: %s", o.reason);
}

Test(guest, timeout_ends_a_spinning_guest)
{
	struct outcome o;
	char *argv[] = { "--mode=spin" };

	run_guest(&o, TESTGUEST, 16 << 20, 2, 300ULL * 1000000, 1, argv);
	cr_assert_eq(o.end, VMM_END_TIMEOUT);
	cr_assert_eq(o.status, VMM_EXIT_TIMEOUT);
	cr_assert(strstr(o.console, "spinning\n"), "console: %s", o.console);
}

Test(guest, sync_stages_are_seen)
{
	struct outcome o;

	run_test_mode(&o, "sync");
	cr_assert_eq(o.status, 0);
	cr_assert_eq(o.stats.hcalls[MV_HC_SYNC], 3);
	cr_assert_eq(o.last_sync, 3);
}

Test(guest, partial_line_is_flushed_at_exit)
{
	struct outcome o;

	run_test_mode(&o, "partial");
	cr_assert_eq(o.status, 0);
	cr_assert_str_eq(o.console, "no newline\n");
}

Test(guest, smp_two_vcpus_see_their_index)
{
	struct outcome o;
	char *argv[] = { "--mode=smp" };
	uint64_t v0, v1;

	run_guest(&o, TESTGUEST, 16 << 20, 2, 10ULL * 1000000000ULL, 1, argv);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(report_value(&o, 0, "cpu", &v0) && report_value(&o, 1, "cpu", &v1));
	cr_assert_eq(v0, 0);
	cr_assert_eq(v1, 1);
	cr_assert(strstr(o.console, "vCPU 0 of 2 passed the barrier\n"));
	cr_assert(strstr(o.console, "vCPU 1 of 2 passed the barrier\n"));
	cr_assert_eq(o.stats.hcalls[MV_HC_DONE], 2);
}

Test(guest, memtest_64m_verifies_every_page)
{
	struct outcome o;
	uint64_t pages, bad;

	run_guest(&o, BUILTIN("memtest"), 64 << 20, 1, 0, 0, NULL);
	cr_assert_eq(o.status, 0, "status %d: %s\n%s", o.status, o.reason, o.console);
	cr_assert(report_value(&o, 0, "pages_checked", &pages));
	cr_assert(report_value(&o, 0, "mismatches", &bad));
	cr_assert_eq(pages, (64 << 20) / 4096);
	cr_assert_eq(bad, 0);
}

Test(guest, memtest_smp_splits_ram)
{
	struct outcome o;
	char *argv[] = { "--passes=2" };
	uint64_t p0, p1;

	run_guest(&o, BUILTIN("memtest"), 32 << 20, 2, 0, 1, argv);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(report_value(&o, 0, "pages_checked", &p0) &&
		  report_value(&o, 1, "pages_checked", &p1));
	cr_assert_eq(p0 + p1, 2 * (32 << 20) / 4096); /* two passes over all of RAM */
}

Test(guest, touch_reports_rates)
{
	struct outcome o;
	char *argv[] = { "--pattern=zipf", "--passes=2", "--read" };
	uint64_t pages, rate;

	run_guest(&o, BUILTIN("touch"), 16 << 20, 1, 0, 3, argv);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(report_value(&o, 0, "pages", &pages));
	cr_assert(report_value(&o, 0, "pages_per_s", &rate));
	cr_assert_eq(pages, 2 * (16 << 20) / 4096);
	cr_assert_gt(rate, 0);
}

Test(guest, guest_rejects_unknown_argument)
{
	struct outcome o;
	char *argv[] = { "--bogus" };

	run_guest(&o, BUILTIN("memtest"), 16 << 20, 1, 0, 1, argv);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.console, "unknown guest argument '--bogus'"), "%s", o.console);
}

/* A flag given a value (--verify=yes) was accepted and then ignored: the
 * run went on without the check asked for. */
Test(guest, guest_refuses_a_value_for_a_flag)
{
	struct outcome o;
	char *argv[] = { "--verify=yes" };

	run_guest(&o, BUILTIN("touch"), 16 << 20, 1, 0, 1, argv);
	cr_assert_eq(o.status, 2, "status %d", o.status);
	cr_assert(strstr(o.console, "guest argument '--verify=yes': --verify takes no value"), "%s",
		  o.console);
}

Test(guest, too_many_arguments_refused)
{
	struct vmm_kvm kvm;
	struct vmm_guest *g;
	char *argv[MV_ARGV_MAX + 1], err[256];
	void *elf;
	size_t len;

	need_kvm(&kvm);
	for (int i = 0; i <= MV_ARGV_MAX; i++)
		argv[i] = "x";
	cr_assert_eq(vmm_image_read(BUILTIN("hello"), &elf, &len, err, sizeof(err)), 0);
	struct vmm_config cfg = { .name = "hello", .mem_size = 1 << 20, .nr_vcpus = 1,
				  .argc = MV_ARGV_MAX + 1, .argv = argv };
	cr_assert_lt(vmm_guest_create(&kvm, &cfg, elf, len, &g, err, sizeof(err)), 0);
	cr_assert(strstr(err, "too many guest arguments"), "%s", err);
	free(elf);
	vmm_kvm_close(&kvm);
}

Test(guest, memtest_pool_equal_to_ram_goes_through_the_fault_path)
{
	struct outcome o;
	uint64_t pages, bad;

	run_guest(&o, BUILTIN("memtest"), 64 << 20, 1, 0, 0, NULL);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(report_value(&o, 0, "pages_checked", &pages) && report_value(&o, 0, "mismatches", &bad));
	cr_assert_eq(bad, 0);
	/* every page came through a fault: installed by the handler, none otherwise */
	cr_assert_eq(o.fs.installed, 16384);
	cr_assert_eq(o.rss, 16384);
	cr_assert_eq(o.hiwater_rss, 16384);
	cr_assert_eq(o.fs.prefaulted, 0);
	cr_assert_gt(o.fs.faults, 0);
	cr_assert_lt(o.fs.faults, 16384, "fault-around should batch sequential faults");
	cr_assert_eq(o.fs.installed - o.fs.around, o.fs.faults - o.fs.spurious);
}

Test(guest, memtest_without_fault_around_faults_every_page)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 8 << 20, .vcpus = 1,
			      .fault_around = 1 };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert_eq(o.fs.faults - o.fs.spurious, 2048);
	cr_assert_eq(o.fs.around, 0);
	cr_assert_eq(o.rss, 2048, "rss %llu", (unsigned long long)o.rss);
}

Test(guest, memtest_two_vcpus_race_on_shared_pages)
{
	struct outcome o;
	char *argv[] = { "--shared", "--passes=2" };
	uint64_t p0, p1, b0, b1;

	run_guest(&o, BUILTIN("memtest"), 32 << 20, 2, 0, 2, argv);
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
	cr_assert(report_value(&o, 0, "pages_checked", &p0) && report_value(&o, 1, "pages_checked", &p1));
	cr_assert(report_value(&o, 0, "mismatches", &b0) && report_value(&o, 1, "mismatches", &b1));
	cr_assert_eq(p0, 2 * 8192);
	cr_assert_eq(p1, 2 * 8192);
	cr_assert_eq(b0 + b1, 0);
	cr_assert_eq(o.rss, 8192); /* each page installed once, whoever faulted first */
}

Test(guest, memtest_by_copy_and_prefault_all)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 16 << 20, .vcpus = 1,
			      .install = GMM_INSTALL_COPY };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert_not(o.use_move);
	cr_assert_eq(o.rss, 4096);
	r.install = GMM_INSTALL_AUTO;
	r.prefault = GMM_PREFAULT_ALL;
	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert_eq(o.fs.prefaulted, 4096);
	cr_assert_eq(o.fs.faults, 0);
}

Test(guest, host_mm_baseline_runs)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 16 << 20, .vcpus = 1,
			      .host_mm = true };
	uint64_t bad;

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(report_value(&o, 0, "mismatches", &bad));
	cr_assert_eq(bad, 0);
	cr_assert_eq(o.fs.faults, 0);
}

Test(guest, frames_are_zero_when_the_next_guest_gets_them)
{
	struct gmm_pool pool;
	struct outcome o;
	char err[256];
	char *zero[] = { "--mode=zero" };
	uint64_t nonzero;

	struct gmm_pool_config pc;

	vmm_pool_config(&pc, 1, false);
	cr_assert_eq(gmm_pool_init(&pool, 8 << 20, &pc, err, sizeof(err)), 0, "%s", err);
	struct run_spec a = { .path = BUILTIN("memtest"), .mem = 8 << 20, .vcpus = 1, .shared = &pool };
	struct run_spec b = { .path = TESTGUEST, .mem = 8 << 20, .vcpus = 1, .shared = &pool,
			      .argc = 1, .argv = zero };

	run_spec(&o, &a); /* fills every frame with a non-zero pattern */
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert_eq(o.pool_used, 2048);
	run_spec(&o, &b); /* the same frames, another guest */
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(report_value(&o, 0, "nonzero_words", &nonzero));
	cr_assert_eq(nonzero, 0);
	cr_assert_eq(o.rss, 2048);
	gmm_pool_destroy(&pool);
}

Test(guest, pool_smaller_than_ram_is_a_clean_oom_kill)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 16 << 20, .vcpus = 1,
			      .pool = 4 << 20, .timeout_ns = 20ULL * 1000000000ULL };

	run_spec(&o, &r);
	cr_assert_eq(o.end, VMM_END_OOM, "end %d: %s", o.end, o.reason);
	cr_assert_eq(o.status, VMM_EXIT_OOM);
	cr_assert(strstr(o.reason, "killed: out of memory: no free frame in the pool"), "%s", o.reason);
	/* it held the whole pool; the OOM reaper gave it back at once */
	cr_assert_eq(o.hiwater_rss, 1024);
	cr_assert_eq(o.rss, 0);
	cr_assert_eq(o.events.oom_kill, 1);
}

Test(guest, walk_follows_both_levels)
{
	struct outcome o;
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 4 << 20, .vcpus = 1,
			      .walk = MV_RAM_GVA + 0x3000 };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(strstr(o.walk, "walk of GVA 0x8000003000"), "%s", o.walk);
	cr_assert(strstr(o.walk, "PML4[  1]"), "%s", o.walk);
	cr_assert(strstr(o.walk, "PT  [  3]"), "%s", o.walk);
	cr_assert(strstr(o.walk, "-> GPA 0x3000 (4 KiB page, writable)"), "%s", o.walk);
	cr_assert(strstr(o.walk, "VMA ram [0x0, 0x400000)"), "%s", o.walk);
	cr_assert(strstr(o.walk, ": frame "), "%s", o.walk);
	r.walk = MV_RAM_GVA + (4 << 20);
	run_spec(&o, &r);
	cr_assert(strstr(o.walk, "not mapped"), "%s", o.walk);
}

Test(guest, console_lines_carry_the_guest_label)
{
	struct outcome o;
	char *argv[] = { "--mode=smp" };
	struct run_spec r = { .path = TESTGUEST, .mem = 8 << 20, .vcpus = 2, .argc = 1, .argv = argv,
			      .label = "g1" };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s", o.reason);
	cr_assert(strstr(o.console, "[g1] vCPU 0 of 2 passed the barrier\n"), "%s", o.console);
	cr_assert(strstr(o.console, "[g1] vCPU 1 of 2 passed the barrier\n"), "%s", o.console);
}

/* memvisor reads a hypercall buffer itself; with the pool full and no swap
 * that read must end the guest as out of memory, never fault forever (reads
 * take frames here: --no-zero-pages). */
Test(guest, hypercall_buffer_in_untouched_ram_with_the_pool_full_is_an_oom_kill, .timeout = 60)
{
	struct outcome o;
	char *argv[] = { "--mode=hcall-untouched", "--touch=8M" };
	struct run_spec r = { .path = TESTGUEST, .mem = 64 << 20, .vcpus = 1, .pool = 8 << 20,
			      .timeout_ns = 5ULL * 1000000000ULL, .argc = 2, .argv = argv,
			      .no_zero_pages = true };

	run_spec(&o, &r);
	cr_assert_eq(o.end, VMM_END_OOM, "end %d: %s", o.end, o.reason);
	cr_assert_eq(o.status, VMM_EXIT_OOM);
	cr_assert(strstr(o.reason, "out of memory"), "%s", o.reason);
}

/* The same read where a read of untouched memory maps the zero page: it
 * needs no frame, and the buffer reads as zeros. */
Test(guest, hypercall_buffer_in_untouched_ram_with_the_pool_full_reads_zeros, .timeout = 60)
{
	struct outcome o;
	char *argv[] = { "--mode=hcall-untouched", "--touch=8M" };
	struct run_spec r = { .path = TESTGUEST, .mem = 64 << 20, .vcpus = 1, .pool = 8 << 20,
			      .timeout_ns = 5ULL * 1000000000ULL, .argc = 2, .argv = argv };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "status %d: %s", o.status, o.reason);
	cr_assert_geq(o.fs.zero_mapped, 1);
	/* the console shows a NUL as \x00 */
	cr_assert(!strncmp(o.console, "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
			   "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00", 64), "%s", o.console);
}

/* A fault thread that cannot read fault events ends the guests it serves,
 * each with the reason, instead of leaving their vCPUs asleep forever. */
Test(guest, a_fault_thread_that_fails_ends_its_guests, .timeout = 60)
{
	struct gmm_pool pool;
	struct gmm_pool_config pc;
	struct outcome o;
	char err[256];
	struct run_spec r = { .path = BUILTIN("memtest"), .mem = 16 << 20, .vcpus = 1, .shared = &pool };

	vmm_pool_config(&pc, 1, false);
	cr_assert_eq(gmm_pool_init(&pool, 16 << 20, &pc, err, sizeof(err)), 0, "%s", err);
	pool.inject_uffd_error = 1;
	run_spec(&o, &r);
	cr_assert_eq(o.end, VMM_END_CRASH, "end %d: %s", o.end, o.reason);
	cr_assert(strstr(o.reason, "fault thread stopped: reading fault events failed"), "%s", o.reason);
	gmm_pool_destroy(&pool);
}

/* guestmm says what its own entries mean; --walk prints that */
Test(guest, ept_entries_are_described_by_guestmm)
{
	static const struct { uint64_t e; const char *want; } cases[] = {
		{ 0, "empty: not faulted in yet" },
		{ GMM_EPT_PENDING, "pending: a fault thread is installing" },
		{ GMM_EPT_ARMED | (7ULL << PAGE_SHIFT), "armed: frame 7, unmapped by aging" },
		{ GMM_EPT_WB | (9ULL << PAGE_SHIFT), "under I/O: frame 9" },
		{ 0, "evicted all-zero page: no slot" },
		{ 0, "swapped out to slot 42" },
		{ 0, "mapped: frame 5, RWX, accessed" },
		{ GMM_EPT_ZMAP, "zero page: read, never written" },
	};
	char buf[160];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t e = cases[i].e;

		if (i == 4)
			e = ept_mk_swp(GMM_SWP_ZERO, 0);
		else if (i == 5)
			e = ept_mk_swp(GMM_SWP_FILE, 42);
		else if (i == 6)
			e = ept_mk_pte(5, EPT_RWX | EPT_A);
		gmm_ept_describe(e, buf, sizeof(buf));
		cr_assert(strstr(buf, cases[i].want), "entry 0x%llx: '%s', want '%s'",
			  (unsigned long long)e, buf, cases[i].want);
	}
}

struct balloon_check {
	uint64_t rss_written, rss_given_back;
};

static int balloon_at_stage(struct vmm_guest *g, unsigned vcpu, uint64_t stage, void *arg)
{
	struct balloon_check *c = arg;
	uint64_t rss;

	(void)vcpu;
	pthread_mutex_lock(&g->mm->lock);
	/* the vCPU runs on as soon as its page moved in; the fault thread
	 * records the install (rss) a moment later: wait for that */
	while (g->mm->charging)
		pthread_cond_wait(&g->mm->wb_done, &g->mm->lock);
	rss = g->mm->rss;
	pthread_mutex_unlock(&g->mm->lock);
	if (stage == 1)
		c->rss_written = rss;
	if (stage == 2)
		c->rss_given_back = rss;
	return 0;
}

/* Free-page reporting: the guest's rss falls by what it gave back, the
 * pages read zero when next touched, and the frames serve again. */
Test(guest, balloon_gives_memory_back)
{
	struct outcome o;
	struct balloon_check c = { 0 };
	char *argv[] = { "--phases=3" };
	struct run_spec r = { .path = BUILTIN("balloon"), .mem = 16 << 20, .vcpus = 1, .argc = 1,
			      .argv = argv, .on_sync = balloon_at_stage, .sync_arg = &c };
	uint64_t v;

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
	cr_assert(report_value(&o, 0, "reported_pages", &v));
	cr_assert_eq(v, 3 * 2048);
	cr_assert(report_value(&o, 0, "nonzero_after_free", &v));
	cr_assert_eq(v, 0);
	cr_assert_geq(c.rss_written, 4096, "rss %llu", (unsigned long long)c.rss_written);
	cr_assert_eq(c.rss_given_back, c.rss_written - 2048, "rss %llu after giving back 2048 of %llu",
		     (unsigned long long)c.rss_given_back, (unsigned long long)c.rss_written);
	cr_assert_eq(o.fs.reported, 3 * 2048);
	cr_assert_eq(o.fs.returned, 3 * 2048);
}

/* With swap, pages given back may be armed or swapped out: their frames
 * come back emptied and their slots are freed (run_spec checks every frame
 * and slot comes back, and the EPT table against the host). */
Test(guest, balloon_gives_back_swapped_pages)
{
	struct outcome o;
	char *argv[] = { "--phases=3" };
	struct run_spec r = { .path = BUILTIN("balloon"), .mem = 64 << 20, .vcpus = 1, .pool = 16 << 20,
			      .swap_size = 64 << 20, .argc = 1, .argv = argv };
	uint64_t v;

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
	cr_assert(report_value(&o, 0, "mismatches", &v));
	cr_assert_eq(v, 0);
	cr_assert(report_value(&o, 0, "nonzero_after_free", &v));
	cr_assert_eq(v, 0);
	cr_assert_eq(o.fs.reported, 3 * 8192);
	cr_assert_gt(o.vm.pswpout, 0);
	cr_assert_eq(o.vm.free_reported, 3 * 8192);
}

/* Every figure names the KVM it came from: the backend as the kernel's
 * modules say it, and the kernel release. */
Test(guest, kvm_backend_is_named)
{
	struct vmm_kvm kvm;
	struct utsname u;

	need_kvm(&kvm);
	cr_assert_eq(uname(&u), 0);
	cr_assert_str_eq(kvm.kernel, u.release);
	if (!access("/sys/module/kvm_pvm", F_OK)) {
		cr_assert_str_eq(kvm.backend, "PVM (shadow paging)");
		cr_assert(kvm.shadow_paging);
	} else {
		cr_assert(strstr(kvm.backend, "VT-x with ") || strstr(kvm.backend, "AMD-V with "),
			  "%s", kvm.backend);
	}
	vmm_kvm_close(&kvm);
}

/* A fault-around window (64 pages) of RAM the guest never touched, from the top. */
static gpa_t untouched_window(struct gmm_mm *mm)
{
	gpa_t base = mm->cfg.ram_size - (64 << PAGE_SHIFT);

	while (base) {
		uint64_t i = 0;

		while (i < 64 && !gmm_mm_ept_entry(mm, base + (i << PAGE_SHIFT)))
			i++;
		if (i == 64)
			break;
		base -= 64 << PAGE_SHIFT;
	}
	return base;
}

/* A guest gives back a range a fault-around is still filling. */
struct discard_race {
	struct gmm_mm *mm;
	gpa_t base, fault;
	bool started;
	pthread_t t;
	int ret, sync_ret;
	uint64_t returned, left;
};

static void *discard_race_give_back(void *arg)
{
	struct discard_race *c = arg;

	c->ret = gmm_mm_discard(c->mm, c->base, 64, &c->returned);
	return NULL;
}

/* The first block (the faulting page and above) is being installed: the
 * guest gives back the whole window, and its discard waits for that block.
 * Then the part below the faulting page is marked and installed slowly:
 * the discard, woken by the first block, must see it is busy too. */
static void install_slowly(struct gmm_pool *p, enum gmm_test_point pt, struct gmm_mm *mm,
			   gpa_t gpa, void *arg)
{
	struct discard_race *c = arg;

	(void)p;
	if (pt != GMM_TEST_INSTALL || mm != c->mm)
		return;
	if (gpa >= c->fault && !c->started) {
		c->started = true;
		cr_assert_eq(pthread_create(&c->t, NULL, discard_race_give_back, c), 0);
		usleep(30000); /* time for the discard to wait on this block */
	} else if (gpa < c->fault) {
		usleep(50000); /* time for a discard that does not look back to zap it */
	}
}

static int discard_while_installing(struct vmm_guest *g, unsigned vcpu, uint64_t stage, void *arg)
{
	struct discard_race *c = arg;
	struct gmm_pool *p = g->mm->pool;
	gpa_t base;

	(void)vcpu;
	if (stage != 1)
		return 0;
	base = untouched_window(g->mm);
	c->mm = g->mm;
	c->base = base;
	c->fault = base + PAGE_SIZE;
	p->test_arg = c;
	__atomic_store_n(&p->test_hook, install_slowly, __ATOMIC_RELEASE);
	pthread_rwlock_rdlock(&p->mms_lock); /* as a fault thread holds it */
	c->sync_ret = (int)gmm_handle_fault(g->mm, c->fault, true);
	pthread_rwlock_unlock(&p->mms_lock);
	if (c->started)
		pthread_join(c->t, NULL);
	__atomic_store_n(&p->test_hook, NULL, __ATOMIC_RELEASE);
	for (uint64_t i = 0; i < 64; i++)
		c->left += gmm_mm_ept_entry(g->mm, base + (i << PAGE_SHIFT)) != 0;
	return 0;
}

Test(guest, discard_waits_for_all_of_a_fault_around_window)
{
	struct outcome o;
	struct discard_race c = { 0 };
	char *argv[] = { "--mode=sync" };
	struct run_spec r = { .path = TESTGUEST, .mem = 16 << 20, .vcpus = 1, .argc = 1, .argv = argv,
			      .fault_around = 64, .on_sync = discard_while_installing, .sync_arg = &c };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
	cr_assert(c.started, "the fault installed nothing from 0x%llx", (unsigned long long)c.fault);
	cr_assert_eq(c.ret, 0);
	/* every page of the window was installed, then given back */
	cr_assert_eq(c.returned, 64, "returned %llu", (unsigned long long)c.returned);
	cr_assert_eq(c.left, 0, "%llu entries left", (unsigned long long)c.left);
}

/* An install that stops partway: a thread waiting on a page it did not reach. */
struct partial_install {
	struct gmm_mm *mm;
	gpa_t fault;
	bool started, fault_seen, woke;
	pthread_t t;
	volatile char *touch;
	int copy_err;
};

static void *partial_install_touch(void *arg)
{
	struct partial_install *c = arg;

	(void)*c->touch;
	return NULL;
}

/* Page 8 of the block is touched while the block is pending (a fault
 * thread takes the fault and waits for the install to be recorded), then
 * page 4 is filled behind the fault's back: the install stops there. */
static void install_stops_at_page_4(struct gmm_pool *p, enum gmm_test_point pt, struct gmm_mm *mm,
				    gpa_t gpa, void *arg)
{
	static uint8_t page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	struct partial_install *c = arg;
	uint64_t before, now = 0, hva = (uintptr_t)mm->cfg.ram_hva + c->fault;

	if (pt != GMM_TEST_INSTALL || mm != c->mm || gpa != c->fault || c->started)
		return;
	c->started = true;
	pthread_mutex_lock(&mm->lock);
	before = mm->fs.faults;
	pthread_mutex_unlock(&mm->lock);
	c->touch = (volatile char *)(uintptr_t)(hva + 8 * PAGE_SIZE);
	cr_assert_eq(pthread_create(&c->t, NULL, partial_install_touch, c), 0);
	for (int i = 0; i < 2000 && now <= before; i++) {
		usleep(1000);
		pthread_mutex_lock(&mm->lock);
		now = mm->fs.faults;
		pthread_mutex_unlock(&mm->lock);
	}
	c->fault_seen = now > before;
	struct uffdio_copy cp = { hva + 4 * PAGE_SIZE, (uintptr_t)page, PAGE_SIZE, 0, 0 };

	c->copy_err = ioctl(p->uffd, UFFDIO_COPY, &cp) ? errno : 0;
}

static int install_partly(struct vmm_guest *g, unsigned vcpu, uint64_t stage, void *arg)
{
	struct partial_install *c = arg;
	struct gmm_pool *p = g->mm->pool;
	gpa_t base;
	struct timespec ts;

	(void)vcpu;
	if (stage != 1)
		return 0;
	base = untouched_window(g->mm);
	c->mm = g->mm;
	c->fault = base + PAGE_SIZE;
	p->test_arg = c;
	__atomic_store_n(&p->test_hook, install_stops_at_page_4, __ATOMIC_RELEASE);
	pthread_rwlock_rdlock(&p->mms_lock); /* as a fault thread holds it */
	gmm_handle_fault(g->mm, c->fault, true);
	pthread_rwlock_unlock(&p->mms_lock);
	__atomic_store_n(&p->test_hook, NULL, __ATOMIC_RELEASE);
	if (!c->started)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	c->woke = pthread_timedjoin_np(c->t, NULL, &ts) == 0;
	if (!c->woke) { /* let it go, so that the run can end */
		struct uffdio_range r = { (uintptr_t)g->mm->cfg.ram_hva + base, 64 * PAGE_SIZE };

		ioctl(p->uffd, UFFDIO_WAKE, &r);
		pthread_join(c->t, NULL);
	}
	/* page 4 was filled behind memvisor's back: empty it again */
	madvise(g->mm->cfg.ram_hva + c->fault + 4 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
	return 0;
}

Test(guest, an_install_that_stops_partway_wakes_the_rest)
{
	struct outcome o;
	struct partial_install c = { 0 };
	char *argv[] = { "--mode=sync" };
	struct run_spec r = { .path = TESTGUEST, .mem = 16 << 20, .vcpus = 1, .argc = 1, .argv = argv,
			      .fault_around = 64, .on_sync = install_partly, .sync_arg = &c };

	run_spec(&o, &r);
	cr_assert(c.started, "the fault installed nothing from 0x%llx", (unsigned long long)c.fault);
	cr_assert(c.fault_seen, "the touch of a pending page never reached a fault thread");
	cr_assert_eq(c.copy_err, 0, "filling page 4: %s", strerror(c.copy_err));
	cr_assert(c.woke, "a thread waiting on a page the install did not reach was never woken");
	cr_assert_eq(o.status, 0, "%s\n%s", o.reason, o.console);
}
