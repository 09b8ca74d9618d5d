// SPDX-License-Identifier: MIT
/*
 * The working-set estimate (guestmm/workingset.c) against guests whose
 * working set is known: touch --pattern phased walks a quarter of its RAM
 * four times before it moves on, so its working set is RAM/4 whatever the
 * pool, the passes or the vCPUs; seq over all of RAM reuses all of it; a
 * guest that touched its pages once and waits reuses nothing.
 */
#include "guest_util.h"

#include <stdio.h>
#include <time.h>

#define MIB (1ULL << 20)

struct wss_case {
	uint64_t mem, pool, swap;
	unsigned vcpus, passes;
	const char *pattern;
};

static void wss_run(struct outcome *o, const struct wss_case *c)
{
	char pattern[32], passes[32];
	char *argv[] = { pattern, passes };
	struct run_spec r = { .path = BUILTIN("touch"), .mem = c->mem, .vcpus = c->vcpus,
			      .pool = c->pool, .swap_size = c->swap, .argc = 2, .argv = argv,
			      .timeout_ns = 120ULL * 1000000000ULL };

	struct timespec t0, t1;

	snprintf(pattern, sizeof(pattern), "--pattern=%s", c->pattern);
	snprintf(passes, sizeof(passes), "--passes=%u", c->passes);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_spec(o, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (unsigned v = 0; v < c->vcpus; v++) {
		uint64_t ns = 0;

		report_value(o, v, "ns", &ns);
		cr_log_info("vCPU %u: %.1f ms", v, ns / 1e6);
	}
	cr_assert_eq(o->status, 0, "status %d: %s\n%s", o->status, o->reason, o->console);
	cr_log_info("%s, %llu MiB RAM, pool %llu MiB, %u vCPU(s), %u passes: estimate %llu pages "
		    "(recent %llu), %llu reuses, stride %llu, %llu arms, %llu sampler faults of %llu, "
		    "%.1f ms with set-up", c->pattern, (unsigned long long)(c->mem / MIB),
		    (unsigned long long)((c->pool ? c->pool : c->mem) / MIB), c->vcpus, c->passes,
		    (unsigned long long)o->fs.wss_pages, (unsigned long long)o->fs.wss_recent_pages,
		    (unsigned long long)o->fs.wss_reuses, (unsigned long long)o->fs.wss_stride,
		    (unsigned long long)o->fs.wss_arms, (unsigned long long)o->fs.wss_faults,
		    (unsigned long long)o->fs.faults,
		    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

/* The estimate is within 25% of want pages. */
static void expect_near(const struct outcome *o, uint64_t want)
{
	uint64_t got = o->fs.wss_pages;

	cr_assert(got * 4 >= want * 3 && got * 4 <= want * 5,
		  "working-set estimate %llu pages, want %llu +-25%% (recent %llu, %llu reuses, "
		  "stride %llu)", (unsigned long long)got, (unsigned long long)want,
		  (unsigned long long)o->fs.wss_recent_pages, (unsigned long long)o->fs.wss_reuses,
		  (unsigned long long)o->fs.wss_stride);
}

static void expect_phased(const struct wss_case *c)
{
	struct outcome o;

	wss_run(&o, c);
	expect_near(&o, c->mem / PAGE_SIZE / 4);
	/* the sampling's cost is bounded: at most one arm per sample per tick */
	cr_assert_leq(o.fs.wss_faults, o.fs.wss_arms);
}

Test(wss, phased_without_pressure)
{
	struct wss_case c = { .mem = 64 * MIB, .vcpus = 1, .passes = 8, .pattern = "phased" };
	struct outcome o;

	/* pool = RAM, no swap: reclaim never arms a page, only the sampler does */
	wss_run(&o, &c);
	expect_near(&o, c.mem / PAGE_SIZE / 4);
	/* its faults (some 3 for each of the guest's own here) are its cost,
	 * not in the guest's fault count nor in its per-fault handler times */
	cr_assert_gt(o.fs.wss_faults, 2 * o.fs.faults, "wss_faults %llu faults %llu", (unsigned long long)o.fs.wss_faults, (unsigned long long)o.fs.faults);
	cr_assert_lt(o.fs.ns_lookup, o.fs.faults * 20000, "finding a fault's VMA and entry took "
		     "%.1f us a fault", o.fs.ns_lookup / 1e3 / o.fs.faults);
}

Test(wss, phased_256m_disjoint_phases)
{
	expect_phased(&(struct wss_case){ .mem = 256 * MIB, .vcpus = 1, .passes = 4,
					  .pattern = "phased" });
}

Test(wss, phased_small_guest)
{
	expect_phased(&(struct wss_case){ .mem = 16 * MIB, .vcpus = 1, .passes = 16,
					  .pattern = "phased" });
}

Test(wss, phased_two_vcpus)
{
	struct wss_case c = { .mem = 128 * MIB, .vcpus = 2, .passes = 4, .pattern = "phased" };
	uint64_t quarter = c.mem / PAGE_SIZE / 4, got;
	struct outcome o;

	/*
	 * Each vCPU walks a quarter of its half: a quarter of RAM together while
	 * they run side by side. On a busy host they may run by turns, each
	 * walking its set alone for many rounds: an LRU then needs one vCPU's
	 * set only, and so says the estimate (docs/usage.md). It lies between.
	 */
	wss_run(&o, &c);
	got = o.fs.wss_pages;
	cr_assert(got * 8 >= quarter * 3 && got * 4 <= quarter * 5,
		  "working-set estimate %llu pages, want %llu (side by side) down to %llu (by turns)",
		  (unsigned long long)got, (unsigned long long)quarter,
		  (unsigned long long)quarter / 2);
}

Test(wss, phased_under_reclaim)
{
	/* the set (32 MiB) fits the pool, the rest of RAM does not */
	expect_phased(&(struct wss_case){ .mem = 128 * MIB, .pool = 64 * MIB, .swap = 128 * MIB,
					  .vcpus = 1, .passes = 8, .pattern = "phased" });
}

Test(wss, phased_thrashing)
{
	/* the set (32 MiB) does not fit the pool: every round refaults */
	expect_phased(&(struct wss_case){ .mem = 128 * MIB, .pool = 24 * MIB, .swap = 128 * MIB,
					  .vcpus = 1, .passes = 2, .pattern = "phased" });
}

Test(wss, seq_reuses_all_of_ram)
{
	struct outcome o;

	wss_run(&o, &(struct wss_case){ .mem = 64 * MIB, .vcpus = 1, .passes = 4,
					 .pattern = "seq" });
	expect_near(&o, 64 * MIB / PAGE_SIZE);
}

Test(wss, seq_once_reuses_nothing)
{
	struct outcome o;

	/* streaming: every page used once, none kept in use */
	wss_run(&o, &(struct wss_case){ .mem = 64 * MIB, .vcpus = 1, .passes = 1,
					 .pattern = "seq" });
	/* (a vCPU kept off its CPU past the settling time may fault twice on a
	 * page: a few short distances, never a large one) */
	cr_assert_leq(o.fs.wss_pages, 64 * MIB / PAGE_SIZE / 8,
		      "estimate %llu pages for a guest that reused nothing",
		      (unsigned long long)o.fs.wss_pages);
}

/* At stage 1 the guest has written all its RAM once and waits in the
 * hypercall: while it waits the sampler watches its pages, and the
 * estimate, read live as memvisor stat reads it, must stay low. */
struct idle_seen {
	uint64_t wss, arms, stride;
};

static int idle_on_sync(struct vmm_guest *g, unsigned vcpu, uint64_t stage, void *arg)
{
	struct idle_seen *seen = arg;
	struct timespec ts = { .tv_nsec = 200 * 1000000L };

	(void)vcpu;
	if (stage != 1)
		return 0;
	nanosleep(&ts, NULL);
	seen->wss = gmm_mm_wss(g->mm);
	pthread_mutex_lock(&g->mm->lock);
	seen->arms = g->mm->fs.wss_arms;
	seen->stride = g->mm->fs.wss_stride;
	pthread_mutex_unlock(&g->mm->lock);
	return 0;
}

Test(wss, idle_guest_estimates_low_then_rereads)
{
	struct outcome o;
	struct idle_seen seen = { 0 };
	char *argv[] = { "--mode=stages" };
	uint64_t pages = 32 * MIB / PAGE_SIZE;
	struct run_spec r = { .path = TESTGUEST, .mem = 32 * MIB, .vcpus = 1, .argc = 1,
			      .argv = argv, .timeout_ns = 30ULL * 1000000000ULL,
			      .on_sync = idle_on_sync, .sync_arg = &seen };

	run_spec(&o, &r);
	cr_assert_eq(o.status, 0, "status %d: %s\n%s", o.status, o.reason, o.console);
	cr_log_info("idle: estimate %llu pages while waiting, %llu samples armed by then; "
		    "after the re-read %llu pages", (unsigned long long)seen.wss,
		    (unsigned long long)seen.arms, (unsigned long long)o.fs.wss_pages);
	/* every sample was armed while it waited, and nothing counted as reused */
	cr_assert_geq(seen.arms, pages / seen.stride, "only %llu samples armed while idle",
		      (unsigned long long)seen.arms);
	cr_assert_leq(seen.wss, pages / 8, "estimate %llu pages while the guest waited",
		      (unsigned long long)seen.wss);
	/* then it read all of its RAM again: one reuse of everything */
	expect_near(&o, pages);
}


struct wss_bg {
	struct vmm_guest *g;
	int status;
	bool done;
};

static void *wss_bg_run(void *arg)
{
	struct wss_bg *b = arg;

	b->status = vmm_guest_run(b->g);
	__atomic_store_n(&b->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static struct vmm_guest *phased_on(struct vmm_kvm *kvm, struct gmm_pool *pool, const void *elf,
				   size_t len, const char *name, uint64_t mem, char **argv, FILE *con)
{
	struct vmm_config cfg = {
		.name = name, .path = BUILTIN("touch"), .mem_size = mem, .nr_vcpus = 1,
		.timeout_ns = 120ULL * 1000000000ULL, .argc = 2, .argv = argv, .console = con,
		.pool = pool, .label = name,
	};
	struct vmm_guest *g;
	char err[512];

	cr_assert_eq(vmm_guest_create(kvm, &cfg, elf, len, &g, err, sizeof(err)), 0, "%s", err);
	return g;
}

/* Two guests on one pool under reclaim, each with its own estimate, read
 * while they run (as memvisor stat reads it) and at the end. */
Test(wss, two_guests_each_their_own)
{
	static char *argv_a[] = { "--pattern=phased", "--passes=8" };
	static char *argv_b[] = { "--pattern=phased", "--passes=4" };
	struct gmm_pool pool;
	struct swapd swap;
	char path[] = "/tmp/mvtest-swap-XXXXXX", err[512];
	struct vmm_kvm kvm;
	struct wss_bg run[2];
	pthread_t t[2];
	FILE *con = fopen("/dev/null", "w");
	uint64_t live = 0;
	void *elf;
	size_t len;

	need_kvm(&kvm);
	cr_assert_eq(vmm_image_read(BUILTIN("touch"), &elf, &len, err, sizeof(err)), 0, "%s", err);
	shared_pool_init(&pool, &swap, path, 96 * MIB, 256 * MIB);
	run[0] = (struct wss_bg){ .g = phased_on(&kvm, &pool, elf, len, "a", 64 * MIB, argv_a, con) };
	run[1] = (struct wss_bg){ .g = phased_on(&kvm, &pool, elf, len, "b", 128 * MIB, argv_b, con) };
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, wss_bg_run, &run[i]), 0);
	while (!__atomic_load_n(&run[0].done, __ATOMIC_ACQUIRE) ||
	       !__atomic_load_n(&run[1].done, __ATOMIC_ACQUIRE)) {
		struct timespec ts = { .tv_nsec = 5 * 1000000L };

		live = MAX(live, gmm_mm_wss(run[1].g->mm));
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 2; i++) {
		struct outcome o;

		pthread_join(t[i], NULL);
		o.fs = run[i].g->mm->fs;
		cr_assert_eq(run[i].status, 0, "%s: %s", run[i].g->cfg.name, run[i].g->reason);
		cr_log_info("guest %s: estimate %llu pages of %llu RAM pages", run[i].g->cfg.name,
			    (unsigned long long)o.fs.wss_pages,
			    (unsigned long long)(run[i].g->ram_size / PAGE_SIZE));
		expect_near(&o, run[i].g->ram_size / PAGE_SIZE / 4);
	}
	cr_assert_gt(live, 0, "no estimate of b could be read while it ran");
	for (int i = 0; i < 2; i++)
		vmm_guest_destroy(run[i].g);
	shared_pool_destroy(&pool, &swap);
	vmm_kvm_close(&kvm);
	fclose(con);
	free(elf);
}
