// SPDX-License-Identifier: MIT
/*
 * memvisor bench overcommit: the touch guest with RAM 2x and 4x the pool
 * (--ratios), paged to a swap file, beside Linux managing the very same
 * accesses as process memory: memvisor-touch-host, built from the guest's
 * own pattern source, over an anonymous mapping of RAM's size, in a memory
 * cgroup limited to the pool with a host swap file of RAM's size on the same
 * filesystem (hostswap.c). Interleaved for every workload and ratio:
 *   memvisor        the guest, pool and swap file as memvisor runs them
 *   Linux           the host program in the cgroup, with host swap
 *   memvisor floor  the same guest with pool = RAM, all of it prefaulted
 *   Linux floor     the host program with no memory limit
 *   KVM in cgroup   memvisor --host-mm in the cgroup: Linux reclaiming a KVM
 *                   guest, where it completes (usually the cgroup's OOM
 *                   killer ends it on this shadow-paging backend)
 * Workloads (touch patterns, guest/lib/pattern.c):
 *   zipf    4 passes of Zipf-distributed writes over all of RAM
 *   phased  8 phases of a working set of RAM/4 walked 4 times, moving on
 *   scan    3 sequential passes of writes over all of RAM
 *   random  2 passes, each writing every page once in a random order
 *   mix     4 passes of zipf draws, 80% reads and 20% writes
 * Per run, both sides: runtime (the walk, as the guest and the host program
 * time it), faults per 1000 touches, pages written to and read from swap;
 * then the goals of issue 11 filled from the run, swap-out throughput
 * against a raw io_uring write, and memvisor's host CPU per reclaimed page.
 */
#include "bench.h"
#include "vmm/cli/cli.h"
#include "vmm/guest.h"
#include "hostswap.h"
#include "vmm/image.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"

#include "memvisor/abi.h"
#include "memvisor/time.h"
#include "swapd/swapd.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct oc_workload {
	const char *name, *pattern;
	unsigned passes;
};

static const struct oc_workload oc_workloads[] = {
	{ "zipf", "zipf", 4 },
	{ "phased", "phased", 8 },
	{ "scan", "seq", 3 },
	{ "random", "random", 2 },
	{ "mix", "mix", 4 },
};
/* the workload_mask bit of the multi-guest workload (overcommit_guests.c) */
#define OC_GUESTS (1u << ARRAY_SIZE(oc_workloads))
#define OC_MAX_RATIOS 4
#define OC_NOTE 600

struct oc_opts {
	uint64_t pool, seed;
	const char *dir;
	bool json, no_kernel, quick, pool_set, ratios_set;
	unsigned workload_mask;
	unsigned ratios[OC_MAX_RATIOS], nr_ratios;
};

/* memvisor's side of a run (or its floor: pool = RAM, prefaulted). */
struct oc_mv {
	double s, wall_s;           /* the walk as the guest timed it; create to teardown */
	uint64_t touches;
	uint64_t faults, new_faults, refaults, swapins, installed, handler_ns;
	uint64_t swap_out, swap_in; /* pages */
	uint64_t freed, reclaim_ns, write_ns, arm_moves, scanned;
};

/* Linux's side (or its floor: no limit): memvisor-touch-host. */
struct oc_linux {
	double s, wall_s;           /* s < 0: no figure, note says why */
	uint64_t touches, minflt, majflt;
	uint64_t swap_out, swap_in; /* pages: /proc/vmstat pswpout, pswpin over the run */
	char note[OC_NOTE];
};

struct oc_run {
	const struct oc_workload *w;
	unsigned ratio;
	struct oc_mv mv, mv_floor;
	struct oc_linux lx, lx_floor;
	double kvm_s;               /* KVM guest in the cgroup; < 0: see kvm_note */
	char kvm_note[OC_NOTE];
};

static double oc_div(double a, double b) { return b > 0 ? a / b : 0; }

/* ---- memvisor's side ---- */

/* The guest's own figures: touches summed over vCPUs, time of the slowest. */
static void oc_guest_reports(const struct vmm_guest *g, struct oc_mv *m)
{
	uint64_t ns = 0;

	for (unsigned i = 0; i < g->nr_reports; i++) {
		const struct vmm_report *rep = &g->reports[i];

		if (!strcmp(rep->key, "pages"))
			m->touches += rep->value;
		else if (!strcmp(rep->key, "ns") && rep->value > ns)
			ns = rep->value;
	}
	m->wall_s = (g->t_end_ns - g->t_create_ns) / 1e9;
	/* no TSC rate known to the guest: create to teardown is the next best */
	m->s = ns ? ns / 1e9 : m->wall_s;
}

static void oc_guest_counters(const struct vmm_guest *g, const struct cli_setup *s, struct oc_mv *m)
{
	const struct gmm_fault_stats *fs = &g->mm->fs;
	const struct gmm_pool *pool = &s->pool;

	m->faults = fs->faults;
	m->refaults = fs->refaults;
	m->swapins = fs->swapins;
	m->new_faults = fs->faults > fs->refaults + fs->swapins ? fs->faults - fs->refaults - fs->swapins : 0;
	m->installed = fs->installed;
	m->handler_ns = fs->ns_handler;
	m->swap_out = s->swap.stats.writes;
	m->swap_in = s->swap.stats.reads;
	m->write_ns = s->swap.stats.write_ns;
	m->freed = pool->vm.pgsteal_kswapd + pool->vm.pgsteal_direct;
	m->reclaim_ns = pool->vm.reclaim_ns;
	m->arm_moves = pool->vm.arm_moves;
	m->scanned = pool->vm.pgscan_kswapd + pool->vm.pgscan_direct;
}

/* touch's arguments for a run's workload and seed */
struct oc_args {
	char pat[64], passes[32], seed[48];
};

static void oc_touch_args(const struct oc_opts *o, const struct oc_run *r, struct oc_args *a)
{
	snprintf(a->pat, sizeof(a->pat), "--pattern=%s", r->w->pattern);
	snprintf(a->passes, sizeof(a->passes), "--passes=%u", r->w->passes);
	snprintf(a->seed, sizeof(a->seed), "--seed=%llu", (unsigned long long)o->seed);
}

struct oc_image {
	void *elf;
	size_t len;
	char path[4096];     /* the touch guest */
	char host[4096];     /* memvisor-touch-host */
	char self[4096];     /* memvisor, for the KVM-in-cgroup run */
};

/* The guest of RAM ratio x pool in an in-process pool; floor: pool = RAM, all
 * of it prefaulted, no swap. 0, or -1 with one line printed. */
static int oc_guest(struct cli_setup *s, const struct oc_opts *o, const struct oc_run *r, bool floor,
		    const struct oc_image *img, struct oc_mv *m)
{
	char swap_path[4096], err[512];
	struct oc_args a;
	char *argv[] = { a.pat, a.passes, a.seed };
	uint64_t ram = o->pool * r->ratio;
	struct vmm_config cfg = { .name = "touch", .path = img->path, .mem_size = ram, .nr_vcpus = 1,
				  .argc = 3, .argv = argv,
				  .prefault = floor ? GMM_PREFAULT_ALL : GMM_PREFAULT_NONE };
	struct cli_pool_spec spec = { .bytes = floor ? ram : o->pool, .nr_vcpus = 1,
				      .prezero = CLI_PREZERO_SPARE_CPU,
				      .swap_path = floor ? NULL : swap_path, .swap_size = ram };
	struct vmm_guest *g;
	int status = -1;

	oc_touch_args(o, r, &a);
	snprintf(swap_path, sizeof(swap_path), "%s/memvisor-bench-%d.swap", o->dir, (int)getpid());
	if (cli_setup_pool(s, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: %s\n", err);
		return -1;
	}
	cfg.pool = cli_setup_pool_of(s);
	if (vmm_guest_create(&s->kvm, &cfg, img->elf, img->len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: %s\n", err);
	} else {
		status = vmm_guest_run(g);
		oc_guest_reports(g, m);
		oc_guest_counters(g, s, m);
		if (status)
			fprintf(stderr, "memvisor: bench overcommit: %s at %ux%s ended with status %d: %s\n",
				r->w->name, r->ratio, floor ? " (floor)" : "", status, g->reason);
		vmm_guest_destroy(g);
	}
	cli_setup_pool_close(s);
	return status ? -1 : 0;
}

/* ---- Linux's side ---- */

/* memvisor-touch-host's "key value" lines into l. */
static void oc_host_output(int fd, struct oc_linux *l)
{
	char buf[4096], key[32];
	unsigned long long v;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (sscanf(line, "%31s %llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "ns"))
			l->s = v / 1e9;
		else if (!strcmp(key, "pages"))
			l->touches = v;
		else if (!strcmp(key, "minflt"))
			l->minflt = v;
		else if (!strcmp(key, "majflt"))
			l->majflt = v;
	}
}

/* The same accesses as a host process: in a cgroup limited to the pool with
 * a host swap file of RAM's size, or (floor) with no limit at all. */
static void oc_linux(const struct oc_opts *o, const struct oc_run *r, bool floor,
		     const struct oc_image *img, struct oc_linux *l)
{
	char size[32], passes[16], seed[24], err[512];
	char *argv[] = { (char *)img->host, "--size", size, "--pattern", (char *)r->w->pattern,
			 "--passes", passes, "--seed", seed, NULL };
	struct hostswap_spec spec = { .argv = argv, .mem_limit = o->pool, .swap_size = o->pool * r->ratio,
				      .swap_dir = o->dir, .quiet = true, .no_limit = floor };
	struct hostswap_result res;
	int ret;

	l->s = -1;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)(o->pool * r->ratio));
	snprintf(passes, sizeof(passes), "%u", r->w->passes);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)o->seed);
	spec.out_fd = memfd_create("memvisor-touch-host", MFD_CLOEXEC);
	if (spec.out_fd < 0) {
		snprintf(l->note, sizeof(l->note), "not run: memfd_create: %s", strerror(errno));
		return;
	}
	ret = hostswap_run(&spec, &res, err, sizeof(err));
	if (ret)
		snprintf(l->note, sizeof(l->note), "not run: %s", err);
	else if (res.status != 0)
		snprintf(l->note, sizeof(l->note), "%s after %.2f s",
			 res.status < 0 ? "killed (the cgroup's OOM killer)" : "failed", res.wall_s);
	else
		oc_host_output(spec.out_fd, l);
	close(spec.out_fd);
	l->wall_s = res.wall_s;
	l->swap_out = res.pswpout;
	l->swap_in = res.pswpin;
	if (!ret && !res.status && l->s < 0)
		snprintf(l->note, sizeof(l->note), "memvisor-touch-host printed no time");
}

/* Linux reclaiming a KVM guest: memvisor --host-mm in the cgroup. */
static void oc_kvm_cgroup(const struct oc_opts *o, struct oc_run *r, const struct oc_image *img)
{
	char mem[32], limit[32], err[512];
	struct oc_args a;
	char *argv[] = { (char *)img->self, "run", "-q", "--host-mm", "-m", mem, "--timeout", limit,
			 "touch", "--", a.pat, a.passes, a.seed, NULL };
	/* a thrashing KVM guest can take minutes to finish: the bench gives it
	 * three times memvisor's time (at least 5 s), and says so if it is cut */
	double secs = fmax(5, 3 * r->mv.wall_s);
	struct hostswap_spec spec = { .argv = argv, .mem_limit = o->pool, .swap_size = o->pool * r->ratio,
				      .swap_dir = o->dir, .quiet = true };
	struct hostswap_result res;

	r->kvm_s = -1;
	snprintf(mem, sizeof(mem), "%lluK", (unsigned long long)(o->pool * r->ratio >> 10));
	snprintf(limit, sizeof(limit), "%.0fms", secs * 1e3);
	oc_touch_args(o, r, &a);
	if (hostswap_run(&spec, &res, err, sizeof(err)))
		snprintf(r->kvm_note, sizeof(r->kvm_note), "not run: %s", err);
	else if (res.status == VMM_EXIT_TIMEOUT)
		snprintf(r->kvm_note, sizeof(r->kvm_note), "not done in %.1f s (3x memvisor's time)", secs);
	else if (res.status != 0)
		snprintf(r->kvm_note, sizeof(r->kvm_note), "%s after %.2f s",
			 res.status < 0 ? "killed (the cgroup's OOM killer)" : "failed", res.wall_s);
	else
		r->kvm_s = res.wall_s;
}
/* A raw io_uring write of bytes to a fresh file in dir: 4 KiB O_DIRECT writes
 * at queue depth 32, as swap-out batches are. Bytes per second, or 0. */
static double oc_raw_write(const char *dir, uint64_t bytes)
{
	char path[4096];
	struct io_uring ring;
	void *buf = NULL;
	uint64_t t0, pages = bytes / PAGE_SIZE, next = 0, done = 0;
	double bps = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/memvisor-bench-raw-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
	if (fd < 0)
		return 0;
	unlink(path);
	if (fallocate(fd, 0, 0, (off_t)bytes) || posix_memalign(&buf, PAGE_SIZE, 32 * PAGE_SIZE) ||
	    io_uring_queue_init(32, &ring, 0)) {
		free(buf);
		close(fd);
		return 0;
	}
	memset(buf, 0x5a, 32 * PAGE_SIZE);
	t0 = mv_now_ns();
	while (done < pages) {
		struct io_uring_cqe *cqe;

		for (unsigned q = 0; next < pages && next - done < 32; q++, next++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_write(sqe, fd, (char *)buf + (next % 32) * PAGE_SIZE, PAGE_SIZE,
					    next * PAGE_SIZE);
		}
		io_uring_submit_and_wait(&ring, 1);
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			if (cqe->res != (int)PAGE_SIZE)
				pages = 0; /* give up: no figure rather than a wrong one */
			io_uring_cqe_seen(&ring, cqe);
			done++;
		}
	}
	if (pages)
		bps = bytes / ((mv_now_ns() - t0) / 1e9);
	io_uring_queue_exit(&ring);
	free(buf);
	close(fd);
	return bps;
}

/* ---- the figures ---- */

static double oc_per_k(uint64_t n, uint64_t touches) { return oc_div(n * 1000.0, touches); }
static uint64_t oc_lx_faults(const struct oc_linux *l) { return l->minflt + l->majflt; }

/* Did the run have to swap? More than 1% of the pool went out on either side. */
static bool oc_must_swap(const struct oc_opts *o, const struct oc_run *r)
{
	uint64_t pages = o->pool / PAGE_SIZE / 100;

	return r->mv.swap_out > pages || r->lx.swap_out > pages;
}

/* A geometric mean and the least, of the ratios given. */
struct oc_gm {
	double log_sum, min, max;
	unsigned n;
};

static void oc_gm_add(struct oc_gm *g, double x)
{
	if (x <= 0)
		return;
	g->log_sum += log(x);
	g->min = g->n ? fmin(g->min, x) : x;
	g->max = fmax(g->max, x);
	g->n++;
}

static double oc_gm(const struct oc_gm *g) { return g->n ? exp(g->log_sum / g->n) : 0; }

struct oc_goals {
	struct oc_gm swap_speed;    /* must swap: Linux s / memvisor s */
	struct oc_gm fit_floor;     /* fits: memvisor s / its floor's */
	struct oc_gm trips;         /* memvisor faults per touch / Linux's */
	struct oc_gm written, read; /* memvisor's swap pages / Linux's */
	double swapout_frac, cpu_us;
};

static void oc_goals(const struct oc_opts *o, const struct oc_run *runs, unsigned n,
		     struct oc_goals *g)
{
	for (unsigned i = 0; i < n; i++) {
		const struct oc_run *r = &runs[i];
		bool lx = r->lx.s > 0;

		if (oc_must_swap(o, r) && lx)
			oc_gm_add(&g->swap_speed, r->lx.s / r->mv.s);
		if (!oc_must_swap(o, r) && r->mv_floor.s > 0)
			oc_gm_add(&g->fit_floor, r->mv.s / r->mv_floor.s);
		if (lx && oc_lx_faults(&r->lx))
			oc_gm_add(&g->trips, oc_div(r->mv.faults, oc_lx_faults(&r->lx)));
		if (lx && r->lx.swap_out)
			oc_gm_add(&g->written, (double)r->mv.swap_out / r->lx.swap_out);
		if (lx && r->lx.swap_in)
			oc_gm_add(&g->read, (double)r->mv.swap_in / r->lx.swap_in);
	}
}

/* ---- text ---- */

static void oc_print_runtimes(const struct oc_run *r, unsigned n)
{
	printf("  runtime, s     RAM   memvisor  its floor     Linux  its floor  Linux/memvisor  "
	       "KVM guest in the cgroup\n");
	for (unsigned i = 0; i < n; i++, r++) {
		printf("  %-12s %4ux  %9.3f  %9.3f  ", r->w->name, r->ratio, r->mv.s, r->mv_floor.s);
		if (r->lx.s > 0)
			printf("%8.3f  ", r->lx.s);
		else
			printf("%8s  ", "-");
		if (r->lx_floor.s > 0)
			printf("%9.3f  ", r->lx_floor.s);
		else
			printf("%9s  ", "-");
		if (r->lx.s > 0)
			printf("%14.2f  ", r->lx.s / r->mv.s);
		else
			printf("%14s  ", "-");
		if (r->kvm_s >= 0)
			printf("%.3f s\n", r->kvm_s);
		else
			printf("%s\n", r->kvm_note);
		if (r->lx.s <= 0)
			printf("  %-17s Linux: %s\n", "", r->lx.note);
		if (r->lx_floor.s <= 0)
			printf("  %-17s Linux floor: %s\n", "", r->lx_floor.note);
	}
}

static void oc_print_faults(const struct oc_run *r, unsigned n)
{
	printf("  %-19s | %-31s | %-24s | %-8s | %s\n", "per 1000 touches", "memvisor's faults",
	       "Linux's faults", "", "pages to and from swap");
	printf("  %-12s %6s | %8s %6s %8s %6s | %10s %6s %6s | %8s | %9s %9s %9s %9s\n", "", "RAM",
	       "all", "new", "refault", "swapin", "all", "minor", "major", "mv/Linux", "mv out",
	       "mv in", "Linux out", "Linux in");
	for (unsigned i = 0; i < n; i++, r++) {
		uint64_t t = r->mv.touches;

		printf("  %-12s %5ux | %8.1f %6.1f %8.1f %6.1f | ", r->w->name, r->ratio,
		       oc_per_k(r->mv.faults, t), oc_per_k(r->mv.new_faults, t),
		       oc_per_k(r->mv.refaults, t), oc_per_k(r->mv.swapins, t));
		if (r->lx.s > 0)
			printf("%10.1f %6.1f %6.1f | %8.2f |", oc_per_k(oc_lx_faults(&r->lx), r->lx.touches),
			       oc_per_k(r->lx.minflt, r->lx.touches), oc_per_k(r->lx.majflt, r->lx.touches),
			       oc_div(r->mv.faults, oc_lx_faults(&r->lx)));
		else
			printf("%10s %6s %6s | %8s |", "-", "-", "-", "-");
		printf(" %9llu %9llu %9llu %9llu\n", (unsigned long long)r->mv.swap_out,
		       (unsigned long long)r->mv.swap_in, (unsigned long long)r->lx.swap_out,
		       (unsigned long long)r->lx.swap_in);
	}
}

/* Where memvisor's time goes: its faults and what it spends above its floor. */
static void oc_print_time(const struct oc_run *r, unsigned n)
{
	printf("  memvisor's time    RAM   faults  pages/fault  handler us/fault  above floor: s  "
	       "us/fault | Linux above floor, s\n");
	for (unsigned i = 0; i < n; i++, r++) {
		double above = r->mv.s - r->mv_floor.s;

		printf("  %-15s %5ux %8llu %12.1f %17.1f %15.3f %9.1f | ", r->w->name, r->ratio,
		       (unsigned long long)r->mv.faults, oc_div(r->mv.installed, r->mv.faults),
		       oc_div(r->mv.handler_ns / 1e3, r->mv.faults), above,
		       oc_div(above * 1e6, r->mv.faults));
		if (r->lx.s > 0 && r->lx_floor.s > 0)
			printf("%.3f\n", r->lx.s - r->lx_floor.s);
		else
			printf("-\n");
	}
	printf("  the guest's time blocked in faults is not measured: its vCPU waits inside KVM_RUN\n"
	       "  and vcpu.c does not time that; \"above floor\" (runtime minus the prefaulted run's)\n"
	       "  bounds it from above\n");
}

static void oc_goal_gm(const char *figure, const struct oc_gm *g, const char *goal, bool with_min)
{
	char measured[64];

	if (!g->n)
		snprintf(measured, sizeof(measured), "no run to judge");
	else if (with_min)
		snprintf(measured, sizeof(measured), "gm %.2f, least %.2f (%u runs)", oc_gm(g), g->min, g->n);
	else
		snprintf(measured, sizeof(measured), "gm %.2f (%u runs)", oc_gm(g), g->n);
	printf("  | %-66s | %-30s | %-28s |\n", figure, measured, goal);
}

static void oc_print_goals(const struct oc_goals *g)
{
	char measured[64];

	printf("  goals, from this run:\n  | %-66s | %-30s | %-28s |\n", "figure", "measured", "goal");
	oc_goal_gm("workloads that must swap: runtime, Linux process / memvisor", &g->swap_speed,
		   "gm >= 1.5, none below 1.0", true);
	snprintf(measured, sizeof(measured), g->fit_floor.n ? "worst %.2f (%u runs)" : "no run fits",
		 g->fit_floor.max, g->fit_floor.n);
	printf("  | %-66s | %-30s | %-28s |\n", "workloads that fit the pool: memvisor / its own floor",
	       measured, "<= 1.5");
	oc_goal_gm("userspace round trips per touch / Linux's faults per touch", &g->trips, "<= 0.25",
		   true);
	oc_goal_gm("pages written to swap / Linux's", &g->written, "<= 0.5", true);
	oc_goal_gm("pages read from swap / Linux's", &g->read, "<= 0.5", true);
	printf("  | %-66s | %-30s | %-28s |\n", "memvisor fault service / bare round-trip floor",
	       "see bench faultpath", "<= 1.1");
	printf("  | %-66s | %-30s | %-28s |\n", "reclaim CPU per page / raw io_uring write CPU per page",
	       "see bench faultpath", "<= 1.5");
	snprintf(measured, sizeof(measured), g->swapout_frac > 0 ? "%.2f" : "nothing written",
		 g->swapout_frac);
	printf("  | %-66s | %-30s | %-28s |\n", "swap-out throughput / raw io_uring write", measured,
	       ">= 0.9");
	printf("  | %-66s | %-30s | %-28s |\n", "demand paging: memvisor / prepopulated, / kernel",
	       "see bench demand-paging", ">= 1.0");
}

static void oc_print_text(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			  const struct oc_goals *g)
{
	char pool[32];

	cli_format_size(o->pool, pool, sizeof(pool));
	printf("bench overcommit: touch, pool %s, seed %llu, swap files in %s; memvisor beside Linux "
	       "running the same accesses as a process in a memory cgroup of the pool's size\n",
	       pool, (unsigned long long)o->seed, o->dir);
	bench_platform_text();
	oc_print_runtimes(r, n);
	oc_print_faults(r, n);
	oc_print_time(r, n);
	oc_print_goals(g);
	printf("  host CPU per reclaimed page: %.2f us, I/O waits excluded\n", g->cpu_us);
}

/* ---- JSON ---- */

static void oc_json_mv(struct json *j, const struct oc_run *r)
{
	const struct oc_mv *m = &r->mv;

	json_begin(j, "memvisor", '{');
	json_f64(j, "s", m->s);
	json_f64(j, "wall_s", m->wall_s);
	json_u64(j, "touches", m->touches);
	json_u64(j, "faults", m->faults);
	json_u64(j, "new_page_faults", m->new_faults);
	json_u64(j, "refaults", m->refaults);
	json_u64(j, "swapins", m->swapins);
	json_f64(j, "faults_per_1000_touches", oc_per_k(m->faults, m->touches));
	json_u64(j, "pages_installed", m->installed);
	json_f64(j, "handler_us_per_fault", oc_div(m->handler_ns / 1e3, m->faults));
	json_u64(j, "swap_pages_written", m->swap_out);
	json_u64(j, "swap_pages_read", m->swap_in);
	json_str(j, "blocked_in_faults_s", NULL); /* not measured: see the text */
	json_f64(j, "above_floor_s", m->s - r->mv_floor.s);
	json_f64(j, "floor_s", r->mv_floor.s);
	json_end(j, '}');
}

static void oc_json_linux(struct json *j, const char *key, const struct oc_linux *l, bool floor)
{
	json_begin(j, key, '{');
	if (l->s > 0)
		json_f64(j, "s", l->s);
	else
		json_str(j, "s", NULL);
	json_str(j, "note", l->s > 0 ? NULL : l->note);
	json_f64(j, "wall_s", l->wall_s);
	json_u64(j, "touches", l->touches);
	json_u64(j, "minflt", l->minflt);
	json_u64(j, "majflt", l->majflt);
	json_f64(j, "faults_per_1000_touches", oc_per_k(oc_lx_faults(l), l->touches));
	if (!floor) {
		json_u64(j, "swap_pages_written", l->swap_out);
		json_u64(j, "swap_pages_read", l->swap_in);
	}
	json_end(j, '}');
}

static void oc_json_run(struct json *j, const struct oc_opts *o, const struct oc_run *r)
{
	json_begin(j, NULL, '{');
	json_str(j, "workload", r->w->name);
	json_u64(j, "ram_to_pool", r->ratio);
	json_bool(j, "must_swap", oc_must_swap(o, r));
	oc_json_mv(j, r);
	oc_json_linux(j, "linux", &r->lx, false);
	oc_json_linux(j, "linux_floor", &r->lx_floor, true);
	if (r->lx.s > 0) {
		json_f64(j, "linux_over_memvisor", r->lx.s / r->mv.s);
		json_f64(j, "faults_memvisor_over_linux", oc_div(r->mv.faults, oc_lx_faults(&r->lx)));
	} else {
		json_str(j, "linux_over_memvisor", NULL);
		json_str(j, "faults_memvisor_over_linux", NULL);
	}
	if (r->kvm_s >= 0)
		json_f64(j, "kvm_cgroup_s", r->kvm_s);
	else
		json_str(j, "kvm_cgroup_s", NULL);
	json_str(j, "kvm_cgroup_note", r->kvm_s >= 0 ? NULL : r->kvm_note);
	json_end(j, '}');
}

static void oc_json_gm(struct json *j, const char *key, const struct oc_gm *g)
{
	json_begin(j, key, '{');
	if (g->n) {
		json_f64(j, "geomean", oc_gm(g));
		json_f64(j, "least", g->min);
		json_f64(j, "most", g->max);
	} else {
		json_str(j, "geomean", NULL);
	}
	json_u64(j, "runs", g->n);
	json_end(j, '}');
}

static void oc_print_json(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			  const struct oc_goals *g, const struct bench_oc_guests *guests)
{
	struct json j;

	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "bench", "overcommit");
	bench_platform_json(&j);
	json_u64(&j, "pool_bytes", o->pool);
	json_u64(&j, "seed", o->seed);
	json_begin(&j, "runs", '[');
	for (unsigned i = 0; i < n; i++)
		oc_json_run(&j, o, &r[i]);
	json_end(&j, ']');
	json_begin(&j, "goals", '{');
	oc_json_gm(&j, "must_swap_linux_over_memvisor", &g->swap_speed);
	oc_json_gm(&j, "fits_memvisor_over_floor", &g->fit_floor);
	oc_json_gm(&j, "faults_memvisor_over_linux", &g->trips);
	oc_json_gm(&j, "swap_written_memvisor_over_linux", &g->written);
	oc_json_gm(&j, "swap_read_memvisor_over_linux", &g->read);
	json_end(&j, '}');
	json_f64(&j, "swapout_vs_raw_write", g->swapout_frac);
	json_f64(&j, "cpu_us_per_reclaimed_page", g->cpu_us);
	if (guests)
		bench_oc_guests_json(guests, &j);
	json_end(&j, '}');
}

/* ---- the runs ---- */

static int oc_images(struct oc_image *img, struct cli_setup *setup)
{
	char err[512];
	ssize_t sl = readlink("/proc/self/exe", img->self, sizeof(img->self) - 1);

	if (sl <= 0) {
		fprintf(stderr, "memvisor: bench overcommit: cannot find my own executable\n");
		return -1;
	}
	img->self[sl] = '\0';
	if (vmm_image_resolve("memvisor-touch-host", img->host, sizeof(img->host), err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: memvisor-touch-host is not installed beside "
			"the built-in guests (build it with memvisor: ninja -C <build dir>)\n");
		return -1;
	}
	return bench_setup("overcommit", "touch", img->path, sizeof(img->path), &img->elf, &img->len,
			   setup);
}

/* One workload at one ratio: the four figures and the KVM one, interleaved. */
static int oc_one(struct cli_setup *s, const struct oc_opts *o, const struct oc_image *img,
		  struct oc_run *r)
{
	if (oc_guest(s, o, r, false, img, &r->mv))
		return -1;
	if (o->no_kernel) {
		r->lx.s = -1;
		snprintf(r->lx.note, sizeof(r->lx.note), "not run (--no-kernel)");
	} else {
		oc_linux(o, r, false, img, &r->lx);
	}
	if (oc_guest(s, o, r, true, img, &r->mv_floor))
		r->mv_floor.s = -1;
	oc_linux(o, r, true, img, &r->lx_floor);
	r->kvm_s = -1;
	if (o->no_kernel || o->quick)
		snprintf(r->kvm_note, sizeof(r->kvm_note), "not run (--%s)",
			 o->no_kernel ? "no-kernel" : "quick");
	else
		oc_kvm_cgroup(o, r, img);
	return 0;
}

/* Swap-out throughput against a raw write, and reclaim CPU per page. */
static void oc_swap_figures(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			    struct oc_goals *g)
{
	uint64_t written = 0, write_ns = 0, freed = 0, reclaim_ns = 0, biggest = 0;

	for (unsigned i = 0; i < n; i++) {
		written += r[i].mv.swap_out * PAGE_SIZE;
		write_ns += r[i].mv.write_ns;
		freed += r[i].mv.freed;
		reclaim_ns += r[i].mv.reclaim_ns;
		biggest = MAX(biggest, r[i].mv.swap_out * PAGE_SIZE);
	}
	double raw = oc_raw_write(o->dir, MAX(biggest, 64ULL << 20));
	double swapout = write_ns ? written / (write_ns / 1e9) : 0;

	g->swapout_frac = raw > 0 ? swapout / raw : 0;
	g->cpu_us = freed ? reclaim_ns / 1e3 / freed : 0;
}

static int oc_measure(const struct oc_opts *o)
{
	struct oc_run runs[ARRAY_SIZE(oc_workloads) * OC_MAX_RATIOS], *r = runs;
	struct cli_setup setup = { .have_kvm = false };
	struct bench_oc_guests *guests = NULL;
	struct oc_image img = { .elf = NULL };
	struct oc_goals g = { .swapout_frac = 0 };
	int ret = VMM_EXIT_RUNTIME;

	if (oc_images(&img, &setup))
		goto out;
	for (unsigned w = 0; w < ARRAY_SIZE(oc_workloads); w++)
		for (unsigned k = 0; (o->workload_mask & (1u << w)) && k < o->nr_ratios; k++, r++) {
			memset(r, 0, sizeof(*r));
			r->w = &oc_workloads[w];
			r->ratio = o->ratios[k];
			if (oc_one(&setup, o, &img, r))
				goto out;
		}
	if ((o->workload_mask & OC_GUESTS) && !(guests = bench_oc_guests_run(&setup, o->pool, o->dir)))
		goto out;
	oc_swap_figures(o, runs, (unsigned)(r - runs), &g);
	oc_goals(o, runs, (unsigned)(r - runs), &g);
	if (o->json)
		oc_print_json(o, runs, (unsigned)(r - runs), &g, guests);
	else if (r > runs)
		oc_print_text(o, runs, (unsigned)(r - runs), &g);
	if (guests && !o->json)
		bench_oc_guests_text(guests, r == runs);
	ret = 0;
out:
	bench_oc_guests_free(guests);
	cli_setup_close(&setup);
	free(img.elf);
	return ret;
}

/* --workload: names, comma-separated, or all. */
static int oc_parse_workloads(const char *arg, unsigned *mask)
{
	char buf[128], *save = NULL;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned before = *mask;

		for (unsigned w = 0; w < ARRAY_SIZE(oc_workloads); w++)
			if (!strcmp(t, oc_workloads[w].name) || !strcmp(t, "all"))
				*mask |= 1u << w;
		if (!strcmp(t, "guests") || !strcmp(t, "all"))
			*mask |= OC_GUESTS;
		if (*mask == before)
			return cli_usage_error("bad --workload '%s': zipf, phased, scan, random, mix, "
					       "guests or all, comma-separated", arg);
	}
	return *mask ? 0 : cli_usage_error("bad --workload '%s': name one", arg);
}

/* --ratios: RAM / pool, e.g. 2,4. */
static int oc_parse_ratios(const char *arg, struct oc_opts *o)
{
	const char *p = arg;
	char *end;

	o->nr_ratios = 0;
	do {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v < 1 || v > 64 || (*end && *end != ',') || o->nr_ratios == OC_MAX_RATIOS)
			return cli_usage_error("bad --ratios '%s': up to %d of 1..64, e.g. 2,4", arg,
					       OC_MAX_RATIOS);
		o->ratios[o->nr_ratios++] = (unsigned)v;
		p = end + 1;
	} while (*end);
	o->ratios_set = true;
	return 0;
}

static int oc_option(int c, const char *arg, void *opts)
{
	struct oc_opts *o = opts;

	switch (c) {
	case 'p':
		if (cli_parse_size(arg, &o->pool) || o->pool < (4 << 20) || o->pool % PAGE_SIZE)
			return cli_usage_error("bad --pool '%s': 4M or more, e.g. 64M", arg);
		o->pool_set = true;
		return 0;
	case 'd':
		o->dir = arg;
		return 0;
	case 'w':
		return oc_parse_workloads(arg, &o->workload_mask);
	case 'r':
		return oc_parse_ratios(arg, o);
	case 's':
		if (cli_parse_uint(arg, 0, 1000000000000ULL, &o->seed))
			return cli_usage_error("bad --seed '%s': a number", arg);
		return 0;
	case 'q':
		o->quick = true;
		return 0;
	case 'n':
		o->no_kernel = true;
		return 0;
	}
	return -1;
}

int bench_overcommit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pool", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "workload", required_argument, NULL, 'w' },
		{ "ratios", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-kernel", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct oc_opts o = { .pool = 64ULL << 20, .seed = 1, .dir = "/tmp",
			     .workload_mask = (OC_GUESTS << 1) - 1, .ratios = { 2, 4 }, .nr_ratios = 2 };
	struct bench_args a = { .name = "overcommit", .shortopts = "p:", .longopts = longopts,
				.json = &o.json, .option = oc_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);
	unsigned most = 0;

	if (ret)
		return ret;
	/* --quick: a smaller pool and 2x only, unless given */
	if (o.quick && !o.pool_set)
		o.pool = 16ULL << 20;
	if (o.quick && !o.ratios_set)
		o.nr_ratios = 1;
	for (unsigned k = 0; k < o.nr_ratios; k++)
		most = MAX(most, o.ratios[k]);
	if (o.pool * most > MV_RAM_MAX)
		return cli_usage_error("--pool times the largest ratio is past the most guest RAM (%llu GiB)",
				       MV_RAM_MAX >> 30);
	return oc_measure(&o);
}
