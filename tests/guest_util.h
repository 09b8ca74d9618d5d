/* SPDX-License-Identifier: MIT */
/* Shared by the guest tests: boot a guest through the library and collect how it ended. */
#ifndef TESTS_GUEST_UTIL_H
#define TESTS_GUEST_UTIL_H

#include "vmm/guest.h"
#include "vmm/image.h"
#include "vmm/cli/setup.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTGUEST MV_BUILD_DIR "/tests/guests/testguest"
#define BUILTIN(n) MV_BUILD_DIR "/guest/" n

struct outcome {
	struct gmm_vmstat vm;       /* reclaim and swap counters of the pool */
	struct swapd_stats swap;
	uint64_t swap_retired;
	int status;
	struct gmm_fault_stats fs;
	struct gmm_mm_events events;
	uint64_t rss, hiwater_rss, pool_used, resident, nr_frames;
	bool use_move;
	char walk[4096];
	enum vmm_end end;
	char reason[512];
	char detail[1024];
	char console[8192];
	struct vmm_report reports[VMM_MAX_REPORTS];
	unsigned nr_reports;
	struct vmm_stats stats;
	uint64_t last_sync;
};

/* Skip (not fail) where this machine has no usable /dev/kvm. */
static inline void need_kvm(struct vmm_kvm *kvm)
{
	char err[256];

	if (vmm_kvm_open(kvm, err, sizeof(err)))
		cr_skip_test("needs /dev/kvm: %s", err);
}

struct run_spec {
	const char *path;
	uint64_t mem;
	unsigned vcpus;
	uint64_t timeout_ns;
	int argc;
	char **argv;
	uint64_t pool;              /* 0: the guest's RAM */
	bool host_mm;
	struct gmm_pool *shared;    /* a pool the caller owns, or NULL */
	enum gmm_prefault prefault;
	enum gmm_install install;
	unsigned fault_around;
	gva_t walk;                 /* 0: none */
	bool no_prezero;
	bool no_zero_pages;         /* reads get frames too (--no-zero-pages) */
	uint64_t swap_size;         /* non-zero: swap to a fresh file of this size */
	uint64_t inject_write, inject_read;
	const char *label;          /* console prefix, as when several guests share a terminal */
	int (*on_sync)(struct vmm_guest *g, unsigned vcpu, uint64_t stage, void *arg);
	void *sync_arg;
	struct gmm_limits limits;   /* frames */
};

/* Host pages resident in [p, p + len): mincore, one byte a page. */
static inline uint64_t resident_pages(const void *p, uint64_t len)
{
	uint64_t n = len >> PAGE_SHIFT, count = 0;
	unsigned char *vec = malloc(n);

	cr_assert(vec && mincore((void *)p, len, vec) == 0);
	for (uint64_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/* The page at hva is mapped by this process alone (pagemap's "exclusively
 * mapped" bit): never so for the zero page, which every process shares. */
static inline bool host_page_exclusive(int pagemap, const void *hva)
{
	uint64_t pm = 0;

	cr_assert_eq(pread(pagemap, &pm, 8, (off_t)((uintptr_t)hva >> PAGE_SHIFT) * 8), 8);
	return pm >> 56 & 1;
}

/* Every guest page the host holds is one the EPT table maps (a frame, or
 * the zero page there for a read), and every mapped entry has its page in
 * guest RAM: a page the guest can reach without a frame would be memory
 * outside the pool (mm lock held). */
static inline void check_ept_matches_host(struct vmm_guest *g)
{
	uint64_t n = g->ram_size >> PAGE_SHIFT, bad = 0, first = 0, entry = 0;
	unsigned char *vec = malloc(n);
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	cr_assert(pagemap >= 0 && vec && mincore(g->ram, g->ram_size, vec) == 0);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t *e = ept_lookup(&g->mm->ept, i << PAGE_SHIFT);
		bool zmap = e && gmm_ept_zmap(*e), present = e && (ept_present(*e) || zmap);

		/* a zero-page entry over a page of its own: a write the kernel served */
		if ((present != (bool)(vec[i] & 1) ||
		     (zmap && host_page_exclusive(pagemap, g->ram + (i << PAGE_SHIFT)))) && !bad++) {
			first = i;
			entry = e ? *e : 0;
		}
	}
	close(pagemap);
	free(vec);
	cr_assert_eq(bad, 0, "%llu guest pages where the host and the EPT table disagree, first GPA "
		     "0x%llx: entry 0x%llx", (unsigned long long)bad, (unsigned long long)(first << PAGE_SHIFT),
		     (unsigned long long)entry);
}

/* Entries that map the zero page (mm lock held): resident, but no memory
 * of the guest's own (check_ept_matches_host checks they are that page). */
static inline uint64_t zero_mapped_pages(struct vmm_guest *g)
{
	uint64_t n = 0;

	for (gpa_t gpa = 0; gpa < g->ram_size; gpa += PAGE_SIZE) {
		uint64_t *e = ept_lookup(&g->mm->ept, gpa);

		n += e && gmm_ept_zmap(*e);
	}
	return n;
}

/* The pool's books must balance against the guest: frames in use = rss. */
static inline void check_pool(struct outcome *o, struct vmm_guest *g, struct gmm_pool *pool)
{
	/* kswapd may still be reclaiming this guest: take a snapshot under its
	 * lock, which every change of its frames holds */
	pthread_mutex_lock(&g->mm->lock);
	o->pool_used = pool->nr_frames - gmm_pool_free_frames(pool);
	o->nr_frames = pool->nr_frames;
	o->resident = resident_pages(g->ram, g->ram_size) - zero_mapped_pages(g) +
		      resident_pages(pool->base, pool->nr_frames << PAGE_SHIFT);
	o->rss = g->mm->rss;
	check_ept_matches_host(g);
	pthread_mutex_unlock(&g->mm->lock);
	cr_assert_eq(o->pool_used, o->rss, "pool frames in use %llu != guest rss %llu",
		     (unsigned long long)o->pool_used, (unsigned long long)o->rss);
	cr_assert_leq(o->resident, pool->nr_frames, "host pages for guest memory %llu > pool %llu",
		      (unsigned long long)o->resident, (unsigned long long)pool->nr_frames);
	cr_assert_eq(gmm_pool_check(pool), 0);
}

/* A fresh name for a swap file (path a mkstemp template): swapd makes the
 * file, 0600. */
static inline void swap_name(char *path)
{
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	unlink(path);
}

/* The swap file is private: never in its directory while in use, mode 0600. */
static inline void check_swap_private(const struct swapd *swap, const char *path)
{
	struct stat st;

	cr_assert(access(path, F_OK) != 0, "swap file still in its directory while in use");
	cr_assert_eq(fstat(swap->fd, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "swap file mode %o", st.st_mode & 0777);
}

/* A pool of pool_bytes with a swap file of swap_bytes, for guests run in turn or together. */
static inline void shared_pool_init(struct gmm_pool *pool, struct swapd *swap, char *path,
				    uint64_t pool_bytes, uint64_t swap_bytes)
{
	struct cli_pool_spec spec = { .bytes = pool_bytes, .nr_vcpus = 1,
				      .prezero = CLI_PREZERO_SPARE_CPU, .swap_path = path,
				      .swap_size = swap_bytes, .kswapd_unpinned = true };
	char err[512];

	swap_name(path);
	cr_assert_eq(cli_pool_open(pool, swap, &spec, err, sizeof(err)), 0, "%s", err);
	check_swap_private(swap, path);
}

static inline void shared_pool_destroy(struct gmm_pool *pool, struct swapd *swap)
{
	cr_assert_eq(swap->inuse, swap->stats.retired, "%llu slots still in use after the guests",
		     (unsigned long long)(swap->inuse - swap->stats.retired));
	cli_pool_close(pool, swap);
}

/* /dev/kvm (or skip), and unless the caller brings one or the guest's RAM is
 * the host's, a pool of its own, with swap_size a swap file at swap_path. */
static inline void run_spec_setup(struct cli_setup *s, const struct run_spec *r, char *swap_path)
{
	struct cli_pool_spec spec = {
		.bytes = r->pool ? r->pool : r->mem, .nr_vcpus = r->vcpus, .install = r->install,
		.prezero = r->no_prezero ? CLI_PREZERO_OFF : CLI_PREZERO_ON,
		.swap_path = r->swap_size ? swap_path : NULL, .swap_size = r->swap_size,
		.kswapd_unpinned = true, .inject_write = r->inject_write, .inject_read = r->inject_read,
	};
	char err[512];

	if (cli_setup_kvm(s, err, sizeof(err)))
		cr_skip_test("needs /dev/kvm: %s", err);
	if (r->shared || r->host_mm)
		return;
	if (r->swap_size)
		swap_name(swap_path);
	cr_assert_eq(cli_setup_pool(s, &spec, err, sizeof(err)), 0, "%s", err);
	if (r->swap_size)
		check_swap_private(&s->swap, swap_path);
}

/* How the guest ended and what it counted, before it goes. */
static inline void run_spec_collect(struct outcome *o, struct vmm_guest *g, const struct run_spec *r,
				    struct gmm_pool *pool)
{
	o->end = g->end;
	memcpy(o->reason, g->reason, sizeof(o->reason));
	memcpy(o->detail, g->detail, sizeof(o->detail));
	memcpy(o->reports, g->reports, sizeof(o->reports));
	o->nr_reports = g->nr_reports;
	o->last_sync = g->vcpus[0].last_sync;
	o->fs = g->mm->fs;
	o->events = g->mm->events;
	o->rss = g->mm->rss;
	o->hiwater_rss = g->mm->hiwater_rss;
	o->use_move = pool && pool->use_move;
	vmm_guest_stats(g, &o->stats);
	if (r->walk) {
		FILE *w = fmemopen(o->walk, sizeof(o->walk) - 1, "w");

		vmm_walk_gva(g, r->walk, w);
		fclose(w);
	}
	if (pool)
		check_pool(o, g, pool);
}

/* Once the guest is gone: every frame back, and the allocator sound. */
static inline void check_pool_empty(struct gmm_pool *pool)
{
	for (uint64_t f = 0; f < pool->nr_frames && gmm_pool_free_frames(pool) != pool->nr_frames; f++)
		if ((pool->frames[f].flags & GMM_PG_ALLOC) && pool->frames[f].owner)
			cr_log_error("frame %llu still held: owner %u gpa 0x%llx flags 0x%x swap %llu",
				     (unsigned long long)f, pool->frames[f].owner,
				     (unsigned long long)pool->frames[f].gpa, pool->frames[f].flags,
				     (unsigned long long)pool->frames[f].swap);
	cr_assert_eq(gmm_pool_free_frames(pool), pool->nr_frames);
	cr_assert_eq(gmm_pool_check(pool), 0);
}

/* The swap counters, every slot given back, then the pool, the swap file
 * (which must be gone) and /dev/kvm. */
static inline void run_spec_teardown(struct outcome *o, struct cli_setup *s, const char *swap_path)
{
	bool had_swap = s->have_pool && s->pool.swap;

	if (had_swap) {
		gmm_vmstat_read(&s->pool, &o->vm);
		o->swap = s->swap.stats;
		o->swap_retired = s->swap.stats.retired;
		/* every slot given back (retired ones stay out of use) */
		cr_assert_eq(s->swap.inuse, s->swap.stats.retired, "%llu slots still in use after exit",
			     (unsigned long long)(s->swap.inuse - s->swap.stats.retired));
	}
	cli_setup_close(s);
	if (had_swap)
		cr_assert(access(swap_path, F_OK) != 0, "swap file %s left behind", swap_path);
}

static inline void run_spec(struct outcome *o, const struct run_spec *r)
{
	struct cli_setup s = { .have_kvm = false };
	char swap_path[] = "/tmp/mvtest-swap-XXXXXX";
	struct gmm_pool *pool;
	struct vmm_guest *g;
	char err[512];
	void *elf;
	size_t len;
	FILE *con = fmemopen(o->console, sizeof(o->console) - 1, "w");

	memset(o, 0, sizeof(*o));
	run_spec_setup(&s, r, swap_path);
	pool = r->shared ? r->shared : cli_setup_pool_of(&s);
	cr_assert_eq(vmm_image_read(r->path, &elf, &len, err, sizeof(err)), 0, "%s", err);
	struct vmm_config cfg = {
		.name = "test", .path = r->path, .mem_size = r->mem, .nr_vcpus = r->vcpus,
		.timeout_ns = r->timeout_ns, .argc = r->argc, .argv = r->argv, .console = con,
		.pool = pool, .prefault = r->prefault, .label = r->label,
		.fault_around = r->fault_around, .no_zero_pages = r->no_zero_pages, .on_sync = r->on_sync, .sync_arg = r->sync_arg,
		.limits = r->limits,
	};
	cr_assert_eq(vmm_guest_create(&s.kvm, &cfg, elf, len, &g, err, sizeof(err)), 0, "%s", err);
	o->status = vmm_guest_run(g);
	run_spec_collect(o, g, r, pool);
	vmm_guest_destroy(g);
	if (pool)
		check_pool_empty(pool);
	run_spec_teardown(o, &s, swap_path);
	fclose(con);
	free(elf);
}

static inline void run_guest(struct outcome *o, const char *path, uint64_t mem, unsigned vcpus,
			     uint64_t timeout_ns, int argc, char **argv)
{
	struct run_spec r = { .path = path, .mem = mem, .vcpus = vcpus, .timeout_ns = timeout_ns,
			      .argc = argc, .argv = argv };

	run_spec(o, &r);
}

static inline void run_test_mode(struct outcome *o, const char *mode)
{
	char arg[64];
	char *argv[] = { arg };

	snprintf(arg, sizeof(arg), "--mode=%s", mode);
	run_guest(o, TESTGUEST, 16 << 20, 1, 10ULL * 1000000000ULL, 1, argv);
}

static inline bool report_value(const struct outcome *o, unsigned vcpu, const char *key,
				uint64_t *v)
{
	for (unsigned i = 0; i < o->nr_reports; i++)
		if (o->reports[i].vcpu == vcpu && !strcmp(o->reports[i].key, key)) {
			*v = o->reports[i].value;
			return true;
		}
	return false;
}

#endif
