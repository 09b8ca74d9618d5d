// SPDX-License-Identifier: MIT
/*
 * memvisor bench overcommit: guests whose RAM is 2x and 4x the pool, paged
 * to a swap file, beside the same guest under Linux's own reclaim (plain
 * anonymous guest RAM, the memvisor process in a memory cgroup limited to
 * the pool size, a host swap file of the same size on the same filesystem;
 * see hostswap.c). Workloads, all the built-in touch guest writing:
 *   zipf    4 passes of Zipf-distributed touches over all of RAM
 *   phased  8 phases of a working set of RAM/4 walked 4 times, moving on
 *   scan    3 sequential passes over all of RAM
 * Printed per run: runtime, major faults and swap bytes for both sides and
 * the speedup kernel/memvisor; then swap-out throughput against a raw
 * io_uring write of the same size to a file in the same directory, and
 * memvisor's host CPU per reclaimed page (reclaim threads' CPU time, so I/O
 * waits are not in it).
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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct oc_workload {
	const char *name;
	const char *args[2];
};

static const struct oc_workload oc_workloads[] = {
	{ "zipf", { "--pattern=zipf", "--passes=4" } },
	{ "phased", { "--pattern=phased", "--passes=8" } },
	{ "scan", { "--pattern=seq", "--passes=3" } },
};
/* the workload_mask bit of the multi-guest workload (overcommit_guests.c) */
#define OC_GUESTS (1u << ARRAY_SIZE(oc_workloads))

struct oc_opts {
	uint64_t pool;
	const char *dir;
	bool json, no_kernel;
	unsigned workload_mask;
};

struct oc_run {
	const char *workload;
	unsigned ratio;
	double memvisor_s, kernel_s;     /* kernel_s < 0: no figure (see kernel_note) */
	uint64_t mv_majflt, mv_read, mv_written, mv_freed, mv_reclaim_ns, mv_write_ns;
	uint64_t mv_faults, mv_arm_moves, mv_scanned;
	uint64_t k_majflt, k_read, k_written;
	char kernel_note[600];
};

/* memvisor's side: an in-process guest with a pool and a swap file. */
static int oc_memvisor(struct cli_setup *s, const struct oc_opts *o, const struct oc_workload *w,
		       unsigned ratio, const void *elf, size_t len, const char *path, struct oc_run *r)
{
	struct vmm_config cfg = { .name = "touch", .path = path, .mem_size = o->pool * ratio,
				  .nr_vcpus = 1, .argc = 2, .argv = (char *const *)w->args };
	char swap_path[4096], err[512];
	struct cli_pool_spec spec = { .bytes = o->pool, .nr_vcpus = 1, .prezero = CLI_PREZERO_SPARE_CPU,
				      .swap_path = swap_path, .swap_size = cfg.mem_size };
	const struct gmm_pool *pool = &s->pool;
	const struct swapd *swap = &s->swap;
	struct vmm_guest *g;
	int status = -1;

	snprintf(swap_path, sizeof(swap_path), "%s/memvisor-bench-%d.swap", o->dir, (int)getpid());
	if (cli_setup_pool(s, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: %s\n", err);
		return -1;
	}
	cfg.pool = cli_setup_pool_of(s);
	if (vmm_guest_create(&s->kvm, &cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench overcommit: %s\n", err);
	} else {
		status = vmm_guest_run(g);
		r->memvisor_s = (g->t_end_ns - g->t_create_ns) / 1e9;
		r->mv_faults = g->mm->fs.faults;
		vmm_guest_destroy(g);
	}
	r->mv_majflt = pool->vm.pgmajfault;
	r->mv_read = swap->stats.reads * PAGE_SIZE;
	r->mv_written = swap->stats.writes * PAGE_SIZE;
	r->mv_freed = pool->vm.pgsteal_kswapd + pool->vm.pgsteal_direct;
	r->mv_reclaim_ns = pool->vm.reclaim_ns;
	r->mv_write_ns = swap->stats.write_ns;
	r->mv_arm_moves = pool->vm.arm_moves;
	r->mv_scanned = pool->vm.pgscan_kswapd + pool->vm.pgscan_direct;
	cli_setup_pool_close(s);
	if (status)
		fprintf(stderr, "memvisor: bench overcommit: %s at %ux ended with status %d\n",
			w->name, ratio, status);
	return status ? -1 : 0;
}

/* The kernel's side: memvisor --host-mm in a memory cgroup with host swap. */
static void oc_kernel(const struct oc_opts *o, const struct oc_workload *w, unsigned ratio,
		      const char *self, struct oc_run *r)
{
	char mem[32], err[512];
	char *argv[] = { (char *)self, "run", "-q", "--host-mm", "-m", mem, "touch", "--",
			 (char *)w->args[0], (char *)w->args[1], NULL };
	struct hostswap_spec spec = {
		.argv = argv, .mem_limit = o->pool, .swap_size = o->pool * ratio,
		.swap_dir = o->dir, .quiet = true,
	};
	struct hostswap_result res;

	r->kernel_s = -1;
	snprintf(mem, sizeof(mem), "%lluK", (unsigned long long)(o->pool * ratio >> 10));
	if (hostswap_run(&spec, &res, err, sizeof(err))) {
		snprintf(r->kernel_note, sizeof(r->kernel_note), "not run: %s", err);
		return;
	}
	r->k_majflt = res.majfault;
	r->k_read = res.read_bytes;
	r->k_written = res.write_bytes;
	if (res.status != 0) {
		snprintf(r->kernel_note, sizeof(r->kernel_note), "%s after %.2f s",
			 res.status < 0 ? "killed (the cgroup's OOM killer)" : "failed", res.wall_s);
		return;
	}
	r->kernel_s = res.wall_s;
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

/* Where a goal is missed, what bounds it. */
static void oc_print_bounds(const struct oc_run *r, unsigned n, double cpu_us)
{
	uint64_t faults = 0, arms = 0, scanned = 0, freed = 0;
	double mv_s = 0;

	for (unsigned i = 0; i < n; i++) {
		faults += r[i].mv_faults;
		arms += r[i].mv_arm_moves;
		scanned += r[i].mv_scanned;
		freed += r[i].mv_freed;
		mv_s += r[i].memvisor_s;
	}
	printf("  what bounds memvisor here: %llu faults, each a userfaultfd round trip (~40 us on this "
	       "machine, against ~4 us for a fault the kernel serves), %.1f us of run time per fault\n",
	       (unsigned long long)faults, faults ? mv_s * 1e6 / faults : 0.0);
	if (cpu_us > 2 && freed)
		printf("  reclaim CPU: %.2f unmapping ioctls and %.2f pages scanned per reclaimed page; each "
		       "unmapping (aging by unmap-and-watch) zaps KVM's shadow MMU and flushes TLBs by IPI\n",
		       (double)arms / freed, (double)scanned / freed);
}

static void oc_print_text(const struct oc_opts *o, const struct oc_run *r, unsigned n,
			  double swapout_frac, double cpu_us)
{
	char pool[32];

	cli_format_size(o->pool, pool, sizeof(pool));
	printf("bench overcommit: touch guest, pool %s, guest RAM 2x and 4x the pool, swap file in %s\n",
	       pool, o->dir);
	bench_platform_text();
	printf("  %-7s %5s  %10s %9s %9s %9s   %10s %9s %9s %9s  %8s\n", "", "RAM", "memvisor s",
	       "majflt", "read MiB", "wrote MiB", "kernel s", "majflt", "read MiB", "wrote MiB", "speedup");
	for (unsigned i = 0; i < n; i++) {
		printf("  %-7s %4ux  %10.2f %9llu %9llu %9llu   ", r[i].workload, r[i].ratio,
		       r[i].memvisor_s, (unsigned long long)r[i].mv_majflt,
		       (unsigned long long)(r[i].mv_read >> 20), (unsigned long long)(r[i].mv_written >> 20));
		if (r[i].kernel_s >= 0)
			printf("%10.2f %9llu %9llu %9llu  %7.2fx\n", r[i].kernel_s,
			       (unsigned long long)r[i].k_majflt, (unsigned long long)(r[i].k_read >> 20),
			       (unsigned long long)(r[i].k_written >> 20), r[i].kernel_s / r[i].memvisor_s);
		else
			printf("kernel: %s\n", r[i].kernel_note);
	}
	printf("  swap-out throughput: %.2f of a raw io_uring write of the same size (goal >= 0.8)\n",
	       swapout_frac);
	printf("  host CPU per reclaimed page: %.2f us, I/O waits excluded (goal <= 2 us)\n", cpu_us);
	printf("  goals: speedup >= 1.5x on zipf and phased, >= 1.0x on scan\n");
	oc_print_bounds(r, n, cpu_us);
}

static void oc_print_json(const struct oc_run *r, unsigned n, double swapout_frac, double cpu_us,
			  const struct bench_oc_guests *guests)
{
	struct json j;

	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "bench", "overcommit");
	bench_platform_json(&j);
	json_begin(&j, "runs", '[');
	for (unsigned i = 0; i < n; i++) {
		json_begin(&j, NULL, '{');
		json_str(&j, "workload", r[i].workload);
		json_u64(&j, "ram_to_pool", r[i].ratio);
		json_f64(&j, "memvisor_s", r[i].memvisor_s);
		json_u64(&j, "memvisor_majflt", r[i].mv_majflt);
		json_u64(&j, "memvisor_read_bytes", r[i].mv_read);
		json_u64(&j, "memvisor_written_bytes", r[i].mv_written);
		if (r[i].kernel_s >= 0) {
			json_f64(&j, "kernel_s", r[i].kernel_s);
			json_f64(&j, "speedup", r[i].kernel_s / r[i].memvisor_s);
		} else {
			json_str(&j, "kernel_s", NULL);
			json_str(&j, "speedup", NULL);
			json_str(&j, "kernel_note", r[i].kernel_note);
		}
		json_u64(&j, "kernel_majflt", r[i].k_majflt);
		json_u64(&j, "kernel_read_bytes", r[i].k_read);
		json_u64(&j, "kernel_written_bytes", r[i].k_written);
		json_end(&j, '}');
	}
	json_end(&j, ']');
	json_f64(&j, "swapout_vs_raw_write", swapout_frac);
	json_f64(&j, "cpu_us_per_reclaimed_page", cpu_us);
	if (guests)
		bench_oc_guests_json(guests, &j);
	json_end(&j, '}');
}

static int oc_measure(const struct oc_opts *o)
{
	struct oc_run runs[ARRAY_SIZE(oc_workloads) * 2], *r = runs;
	uint64_t written = 0, write_ns = 0, freed = 0, reclaim_ns = 0, biggest = 0;
	char path[4096], self[4096];
	struct cli_setup setup = { .have_kvm = false };
	struct bench_oc_guests *guests = NULL;
	void *elf = NULL;
	size_t len;
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int ret = VMM_EXIT_RUNTIME;

	if (sl <= 0) {
		fprintf(stderr, "memvisor: bench overcommit: cannot find my own executable\n");
		return ret;
	}
	if (bench_setup("overcommit", "touch", path, sizeof(path), &elf, &len, &setup))
		return ret;
	self[sl] = '\0';
	for (unsigned w = 0; w < ARRAY_SIZE(oc_workloads); w++)
		for (unsigned ratio = 2; (o->workload_mask & (1u << w)) && ratio <= 4; ratio *= 2, r++) {
			memset(r, 0, sizeof(*r));
			r->workload = oc_workloads[w].name;
			r->ratio = ratio;
			if (oc_memvisor(&setup, o, &oc_workloads[w], ratio, elf, len, path, r))
				goto out;
			if (o->no_kernel) {
				snprintf(r->kernel_note, sizeof(r->kernel_note), "not run (--no-kernel)");
				r->kernel_s = -1;
			} else {
				oc_kernel(o, &oc_workloads[w], ratio, self, r);
			}
			written += r->mv_written;
			write_ns += r->mv_write_ns;
			freed += r->mv_freed;
			reclaim_ns += r->mv_reclaim_ns;
			biggest = MAX(biggest, r->mv_written);
		}
	if ((o->workload_mask & OC_GUESTS) && !(guests = bench_oc_guests_run(&setup, o->pool, o->dir)))
		goto out;
	double raw = oc_raw_write(o->dir, MAX(biggest, 64ULL << 20));
	double swapout = write_ns ? written / (write_ns / 1e9) : 0;
	double frac = raw > 0 ? swapout / raw : 0, cpu = freed ? reclaim_ns / 1e3 / freed : 0;

	if (o->json)
		oc_print_json(runs, (unsigned)(r - runs), frac, cpu, guests);
	else if (r > runs)
		oc_print_text(o, runs, (unsigned)(r - runs), frac, cpu);
	if (guests && !o->json)
		bench_oc_guests_text(guests, r == runs);
	ret = 0;
out:
	bench_oc_guests_free(guests);
	cli_setup_close(&setup);
	free(elf);
	return ret;
}

static int oc_option(int c, const char *arg, void *opts)
{
	struct oc_opts *o = opts;

	switch (c) {
	case 'p':
		if (cli_parse_size(arg, &o->pool) || o->pool < (4 << 20) || o->pool % PAGE_SIZE ||
		    o->pool * 4 > MV_RAM_MAX)
			return cli_usage_error("bad --pool '%s': 4M or more, e.g. 64M", arg);
		return 0;
	case 'd':
		o->dir = arg;
		return 0;
	case 'w':
		o->workload_mask = 0;
		for (unsigned w = 0; w < ARRAY_SIZE(oc_workloads); w++)
			if (!strcmp(arg, oc_workloads[w].name) || !strcmp(arg, "all"))
				o->workload_mask |= 1u << w;
		if (!strcmp(arg, "guests") || !strcmp(arg, "all"))
			o->workload_mask |= OC_GUESTS;
		if (!o->workload_mask)
			return cli_usage_error("bad --workload '%s': zipf, phased, scan, guests or all", arg);
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
		{ "no-kernel", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct oc_opts o = { .pool = 64ULL << 20, .dir = "/tmp", .workload_mask = 7 | OC_GUESTS };
	struct bench_args a = { .name = "overcommit", .shortopts = "p:", .longopts = longopts,
				.json = &o.json, .option = oc_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);

	return ret ? ret : oc_measure(&o);
}
