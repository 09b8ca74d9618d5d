// SPDX-License-Identifier: MIT
/*
 * memvisor bench faultpath: memvisor's fault service beside the least a
 * userfaultfd fault can cost on this machine, and its swap-out beside the
 * least a write of the same pages can cost.
 *
 * The floor: the built-in touch guest writes every page of its RAM once,
 * in order, on host-managed RAM (--host-mm) that this file registers with a
 * userfaultfd of its own; one thread, pinned where memvisor pins its fault
 * thread, answers each fault with a single one-page ioctl and nothing else:
 * UFFDIO_ZEROPAGE, UFFDIO_COPY of a zero page, or UFFDIO_MOVE of a page
 * populated before the run (as memvisor's pre-zeroed frames are). The
 * cheapest of the three is the floor. memvisor: the same guest on a pool as
 * large as its RAM, fault-around off, so one page per fault and no reclaim.
 * All four in every round, interleaved, the order rotated round by round.
 *
 * Reclaim: the same guest on a pool of half its RAM with a swap file; its
 * reclaim CPU per page freed and its swap-out throughput, beside a raw
 * io_uring write (rawio.c) of as many pages, in the reclaim's average batch
 * size, to an unused part of the same swap file, in the same round.
 */
#include "bench.h"
#include "faultpath.h"
#include "rawio.h"
#include "vmm/cli/cli.h"
#include "vmm/guest.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/setup.h"
#include "guestmm/uffdio.h" /* definitions only: UFFDIO_MOVE is newer than the headers */

#include "memvisor/abi.h"
#include "memvisor/cpu.h"
#include "memvisor/time.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

const char *const fp_mode_name[FP_NR_MODES] = {
	"UFFDIO_ZEROPAGE", "UFFDIO_COPY", "UFFDIO_MOVE", "memvisor",
};

/* The floor's answering thread and what it counts. */
struct fp_floor {
	int mode, uffd, err;
	uint8_t *ram, *src;
	uint64_t ram_size;
	pthread_t thread;
	atomic_bool stop, exited;
	uint64_t faults, cpu_ns;
};

static int fp_answer(struct fp_floor *f, uint64_t addr)
{
	int ret;

	if (f->mode == FP_ZEROPAGE) {
		struct uffdio_zeropage z = { .range = { addr, PAGE_SIZE } };

		ret = ioctl(f->uffd, UFFDIO_ZEROPAGE, &z);
	} else if (f->mode == FP_COPY) {
		struct uffdio_copy c = { .dst = addr, .src = (uintptr_t)f->src, .len = PAGE_SIZE };

		ret = ioctl(f->uffd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_move m = { .dst = addr, .src = (uintptr_t)f->src + (addr - (uintptr_t)f->ram),
					 .len = PAGE_SIZE };

		ret = ioctl(f->uffd, UFFDIO_MOVE, &m);
	}
	/* EEXIST: a fault queued twice for one page, already served */
	return ret && errno != EEXIST && errno != EAGAIN ? -errno : 0;
}

/* The minimal loop: a blocking read of one event, one ioctl. A kick
 * (SIGUSR1, whose handler does not restart) ends the read once stop is set. */
static void *fp_floor_thread(void *arg)
{
	struct fp_floor *f = arg;
	uint64_t c0 = mv_thread_ns();
	struct uffd_msg m;

	mv_pin_self(vmm_vcpu_cpu(0)); /* where memvisor pins the fault thread of vCPU 0 */
	while (!atomic_load(&f->stop)) {
		ssize_t n = read(f->uffd, &m, sizeof(m));

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n != sizeof(m)) {
			f->err = n < 0 ? errno : EIO;
			break;
		}
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		f->err = -fp_answer(f, m.arg.pagefault.address & PAGE_MASK);
		f->faults++;
		if (f->err)
			break;
	}
	f->cpu_ns = mv_thread_ns() - c0;
	atomic_store(&f->exited, true);
	return NULL;
}

/* A userfaultfd over the guest's RAM, and the page(s) the answers come from. */
static int fp_floor_open(struct fp_floor *f, char *err, size_t errlen)
{
	struct uffdio_api api = { .api = UFFD_API, .features = f->mode == FP_MOVE ? UFFD_FEATURE_MOVE : 0 };
	struct uffdio_register reg = { .range = { (uintptr_t)f->ram, f->ram_size },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	uint64_t src_len = f->mode == FP_MOVE ? f->ram_size : PAGE_SIZE;

	f->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC); /* blocking: no poll needed */
	if (f->uffd < 0 || ioctl(f->uffd, UFFDIO_API, &api) || ioctl(f->uffd, UFFDIO_REGISTER, &reg)) {
		snprintf(err, errlen, "the floor's userfaultfd (%s): %s", fp_mode_name[f->mode],
			 strerror(errno));
		return -1;
	}
	if (f->mode == FP_ZEROPAGE)
		return 0;
	f->src = mmap(NULL, src_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* MOVE takes populated pages: filled before the run, as pre-zeroing does */
	if (f->src == MAP_FAILED || madvise(f->src, src_len, MADV_POPULATE_WRITE)) {
		snprintf(err, errlen, "the floor's source pages: %s", strerror(errno));
		if (f->src != MAP_FAILED)
			munmap(f->src, src_len);
		f->src = NULL;
		return -1;
	}
	return 0;
}

static void fp_floor_close(struct fp_floor *f)
{
	if (f->thread) {
		atomic_store(&f->stop, true);
		/* a kick can land before the read begins: repeat until it is out */
		while (!atomic_load(&f->exited)) {
			pthread_kill(f->thread, SIGUSR1);
			usleep(1000);
		}
		pthread_join(f->thread, NULL);
	}
	if (f->src)
		munmap(f->src, f->mode == FP_MOVE ? f->ram_size : PAGE_SIZE);
	if (f->uffd >= 0)
		close(f->uffd);
}

/* The guest's own figures: pages touched and the time it took. */
static void fp_guest_figures(const struct vmm_guest *g, struct fp_sample *s, uint64_t *ns)
{
	*ns = 0;
	for (unsigned i = 0; i < g->nr_reports; i++) {
		if (!strcmp(g->reports[i].key, "pages"))
			s->pages = g->reports[i].value;
		else if (!strcmp(g->reports[i].key, "ns"))
			*ns = g->reports[i].value;
	}
}

static int fp_run_guest(struct vmm_guest *g, int mode, struct fp_sample *s, uint64_t *ns)
{
	int status = vmm_guest_run(g);

	if (status)
		fprintf(stderr, "memvisor: bench faultpath: touch (%s) ended with status %d: %s\n",
			fp_mode_name[mode], status, g->reason);
	fp_guest_figures(g, s, ns);
	return status || !*ns ? -1 : 0;
}

static int fp_floor_run(struct cli_setup *setup, const struct vmm_config *cfg, int mode,
			const void *elf, size_t len, struct fp_sample *s)
{
	struct fp_floor f = { .mode = mode, .uffd = -1 };
	struct vmm_guest *g;
	char err[512];
	uint64_t ns = 0;
	int ret = -1;

	if (vmm_guest_create(&setup->kvm, cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench faultpath: %s\n", err);
		return -1;
	}
	f.ram = g->ram;
	f.ram_size = g->ram_size;
	if (fp_floor_open(&f, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench faultpath: %s\n", err);
	} else if ((errno = pthread_create(&f.thread, NULL, fp_floor_thread, &f))) {
		fprintf(stderr, "memvisor: bench faultpath: cannot start the floor's thread: %s\n",
			strerror(errno));
		f.thread = 0;
	} else {
		ret = fp_run_guest(g, mode, s, &ns);
	}
	fp_floor_close(&f);
	if (!ret && f.err) {
		fprintf(stderr, "memvisor: bench faultpath: %s failed: %s\n", fp_mode_name[mode],
			strerror(f.err));
		ret = -1;
	}
	s->faults = f.faults;
	s->guest_us = f.faults ? ns / 1e3 / f.faults : 0;
	s->host_cpu_us = f.faults ? f.cpu_ns / 1e3 / f.faults : 0;
	vmm_guest_destroy(g);
	return ret;
}

/* CPU time of the pool's fault threads so far: they started with it, idle. */
static uint64_t fp_fault_threads_ns(const struct gmm_pool *p)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < p->nr_fault_threads; i++) {
		clockid_t clk;
		struct timespec ts;

		if (!pthread_getcpuclockid(p->fault_thread[i], &clk) && !clock_gettime(clk, &ts))
			sum += (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	return sum;
}

static int fp_memvisor_run(struct cli_setup *setup, const struct vmm_config *base,
			   const void *elf, size_t len, struct fp_sample *s)
{
	struct cli_pool_spec spec = { .bytes = base->mem_size, .nr_vcpus = 1,
				      .prezero = CLI_PREZERO_SPARE_CPU };
	struct vmm_config cfg = *base;
	struct vmm_guest *g;
	char err[512];
	uint64_t ns = 0;
	int ret = -1;

	if (cli_setup_pool(setup, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench faultpath: %s\n", err);
		return -1;
	}
	cfg.pool = cli_setup_pool_of(setup);
	cfg.fault_around = 1; /* one page per fault, as the floor */
	if (vmm_guest_create(&setup->kvm, &cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench faultpath: %s\n", err);
	} else {
		ret = fp_run_guest(g, FP_MEMVISOR, s, &ns);
		s->fs = g->mm->fs;
		vmm_guest_destroy(g);
	}
	s->faults = s->fs.faults;
	s->guest_us = s->faults ? ns / 1e3 / s->faults : 0;
	s->host_cpu_us = s->faults ? fp_fault_threads_ns(&setup->pool) / 1e3 / s->faults : 0;
	cli_setup_pool_close(setup);
	return ret;
}

/* The raw write beside a reclaim run: as many pages as it wrote, in its
 * average batch, to the far end of the same swap file (which the run, at
 * most half the file, left unused). */
static void fp_raw_beside(const struct swapd *swap, struct fp_reclaim *r)
{
	uint64_t pages = r->written ? r->written : 1024;
	uint64_t off = (swap->nr_slots - pages) * PAGE_SIZE;

	r->batch = r->batches ? (unsigned)((r->written + r->batches / 2) / r->batches) : 32;
	r->batch = MAX(1u, MIN(r->batch, 64u)); /* swapd's rings are 64 deep */
	r->direct = swap->direct;
	if (bench_raw_write(swap->fd, off, pages, r->batch, false, &r->raw))
		memset(&r->raw, 0, sizeof(r->raw));
}

static int fp_reclaim_run(struct cli_setup *s, const struct fp_opts *o, const struct vmm_config *base,
			  const void *elf, size_t len, struct fp_reclaim *r)
{
	char swap_path[4096], err[512];
	/* twice RAM: the run writes at most RAM, the raw write goes past it */
	struct cli_pool_spec spec = { .bytes = o->size / 2, .nr_vcpus = 1,
				      .prezero = CLI_PREZERO_SPARE_CPU, .swap_path = swap_path,
				      .swap_size = 2 * o->size };
	struct vmm_guest *g;
	uint64_t ns;
	struct fp_sample smp;
	int ret = -1;

	snprintf(swap_path, sizeof(swap_path), "%s/memvisor-bench-fp-%d.swap", o->dir, (int)getpid());
	if (cli_setup_pool(s, &spec, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench faultpath: %s\n", err);
		return -1;
	}
	struct vmm_config cfg = *base;

	cfg.pool = cli_setup_pool_of(s);
	if (vmm_guest_create(&s->kvm, &cfg, elf, len, &g, err, sizeof(err))) {
		fprintf(stderr, "memvisor: bench faultpath: %s\n", err);
	} else {
		ret = fp_run_guest(g, FP_MEMVISOR, &smp, &ns);
		vmm_guest_destroy(g);
	}
	r->freed = s->pool.vm.pgsteal_kswapd + s->pool.vm.pgsteal_direct;
	r->reclaim_ns = s->pool.vm.reclaim_ns;
	r->written = s->swap.stats.writes;
	r->write_ns = s->swap.stats.write_ns;
	r->batches = s->swap.stats.write_batches;
	if (!ret)
		fp_raw_beside(&s->swap, r);
	cli_setup_pool_close(s);
	return ret;
}

/* One round: the four ways of serving faults, starting at a different one
 * each round, then reclaim and its raw write. */
static int fp_round(struct cli_setup *s, const struct fp_opts *o, const struct vmm_config *cfg,
		    const void *elf, size_t len, unsigned round, struct fp_sample *row,
		    struct fp_reclaim *rc)
{
	for (int i = 0; i < FP_NR_MODES; i++) {
		int m = (int)((round + (unsigned)i) % FP_NR_MODES);
		int ret = m == FP_MEMVISOR ? fp_memvisor_run(s, cfg, elf, len, &row[m]) :
			  fp_floor_run(s, cfg, m, elf, len, &row[m]);

		if (ret)
			return ret;
	}
	return fp_reclaim_run(s, o, cfg, elf, len, rc);
}

static int fp_measure(const struct fp_opts *o)
{
	struct fp_sample *smp = calloc((size_t)o->runs * FP_NR_MODES, sizeof(*smp));
	struct fp_reclaim *rc = calloc(o->runs, sizeof(*rc));
	struct cli_setup setup = { .have_kvm = false };
	static char *const argv[] = { "--pattern=seq", "--passes=1" };
	struct fp_result res = { .floor = 0 };
	char path[4096];
	void *elf = NULL;
	size_t len;
	int ret = VMM_EXIT_RUNTIME;

	if (!smp || !rc || bench_setup("faultpath", "touch", path, sizeof(path), &elf, &len, &setup))
		goto out;
	struct vmm_config cfg = { .name = "touch", .path = path, .mem_size = o->size, .nr_vcpus = 1,
				  .argc = 2, .argv = argv };

	for (unsigned r = 0; r < o->runs; r++)
		if (fp_round(&setup, o, &cfg, elf, len, r, &smp[r * FP_NR_MODES], &rc[r]))
			goto out;
	fp_figures(smp, rc, o->runs, &res);
	if (o->json)
		fp_print_json(o, &res);
	else
		fp_print_text(o, &res);
	ret = 0;
out:
	cli_setup_close(&setup);
	free(elf);
	free(smp);
	free(rc);
	return ret;
}

static int fp_option(int c, const char *arg, void *opts)
{
	struct fp_opts *o = opts;
	uint64_t v;

	switch (c) {
	case 'r':
		return bench_parse_runs(arg, 1000, &o->runs);
	case 's':
		if (cli_parse_size(arg, &v) || v < (4 << 20) || v % (2 * PAGE_SIZE) || v > MV_RAM_MAX)
			return cli_usage_error("bad size '%s' for --size: 4M to %lluG", arg,
					       MV_RAM_MAX >> 30);
		o->size = v;
		return 0;
	case 'd':
		o->dir = arg;
		return 0;
	}
	return -1;
}

int bench_faultpath(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "runs", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct fp_opts o = { .size = 64ULL << 20, .runs = 5, .dir = "/tmp" };
	struct bench_args a = { .name = "faultpath", .shortopts = "s:", .longopts = longopts,
				.json = &o.json, .option = fp_option, .opts = &o };
	int ret = bench_getopt(argc, argv, &a);

	return ret ? ret : fp_measure(&o);
}
