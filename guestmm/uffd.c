// SPDX-License-Identifier: MIT
/*
 * The userfaultfd side of the fault path. One userfaultfd serves every guest
 * of a pool, as one kernel serves all processes: each guest's RAM is
 * registered for MISSING faults, so when a vCPU touches a page that has no
 * host page, KVM's fault on the memslot's host address sleeps in the kernel
 * and a fault thread reads the event, finds the guest whose RAM holds the
 * address, and hands it to gmm_handle_fault(); the install (UFFDIO_MOVE of
 * pool pages, or UFFDIO_COPY) wakes the vCPU. The pool's own slots are
 * registered too (write-protect mode, never armed), because UFFDIO_MOVE only
 * moves into registered ranges and reclaim moves guest pages back into them.
 *
 * There is one fault thread per CPU that runs vCPUs, pinned there: on these
 * machines a round trip costs ~40 us with the handler on the vCPU's CPU and
 * twice that elsewhere (docs/platform.md). The threads read the same descriptor;
 * EPT entries marked pending keep two of them from installing one page.
 *
 * The descriptor is blocking and the threads sleep in read(), with no poll
 * before it: a syscall costs ~0.3-0.8 us here, a twentieth of a fault's
 * handling. To stop them, the closing thread reads, one at a time, pages of
 * a small registered region that is never filled (stop_pages): each such
 * fault wakes one thread, which answers it and ends.
 */
#include "mm.h"
#include "uffdio.h"

#include "memvisor/cpu.h"
#include "memvisor/log.h"
#include "memvisor/time.h"
#include "memvisor/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>


static int uffd_api(struct gmm_pool *p, enum gmm_install install, char *err, size_t errlen)
{
	struct uffdio_api api = { .api = UFFD_API };
	bool want_move = install != GMM_INSTALL_COPY;

	/* ask for MOVE; a kernel without it refuses the feature, then retry without */
	api.features = want_move ? UFFD_FEATURE_MOVE : 0;
	if (ioctl(p->uffd, UFFDIO_API, &api) == 0) {
		p->use_move = want_move;
		return 0;
	}
	if (!want_move || install == GMM_INSTALL_MOVE) {
		int e = errno;

		snprintf(err, errlen, "userfaultfd API handshake failed%s: %s",
			 want_move ? " (UFFDIO_MOVE asked for)" : "", strerror(e));
		return -e;
	}
	/* a failed UFFDIO_API leaves the descriptor unusable: start again */
	close(p->uffd);
	p->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	api = (struct uffdio_api){ .api = UFFD_API };
	if (p->uffd < 0 || ioctl(p->uffd, UFFDIO_API, &api)) {
		int e = errno;

		snprintf(err, errlen, "userfaultfd API handshake failed: %s", strerror(e));
		return -e;
	}
	p->use_move = false;
	return 0;
}

static int uffd_register(struct gmm_pool *p, void *start, uint64_t len, uint64_t mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)start, .len = len }, .mode = mode,
	};

	return ioctl(p->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

static int uffd_start_threads(struct gmm_pool *p, const struct gmm_pool_config *cfg);

/* A page per fault thread, registered for missing pages and never filled. */
static int uffd_stop_pages(struct gmm_pool *p)
{
	uint64_t len = GMM_MAX_FAULT_THREADS * PAGE_SIZE;
	void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return -errno;
	p->stop_pages = m;
	return uffd_register(p, m, len, UFFDIO_REGISTER_MODE_MISSING);
}

/* A fault on a stop page: answer it (which wakes the closing thread) and
 * say that this thread should end. */
static bool uffd_stop_fault(struct gmm_pool *p, uint64_t addr)
{
	struct uffdio_zeropage z = { .range = { ALIGN_DOWN(addr, PAGE_SIZE), PAGE_SIZE } };

	if (addr - (uintptr_t)p->stop_pages >= GMM_MAX_FAULT_THREADS * PAGE_SIZE)
		return false;
	if (ioctl(p->uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST)
		mv_warn("cannot answer a fault thread's stop: %s", strerror(errno));
	return true;
}

int gmm_uffd_open(struct gmm_pool *p, const struct gmm_pool_config *cfg, char *err, size_t errlen)
{
	int ret;

	/* no UFFD_USER_MODE_ONLY: KVM's faults come from the kernel */
	p->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (p->uffd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot create a userfaultfd: %s%s", strerror(e),
			 e == EPERM ? " (needs root or vm.unprivileged_userfaultfd=1)" : "");
		return -e;
	}
	ret = uffd_api(p, cfg->install, err, errlen);
	if (ret)
		return ret;
	if (p->use_move) {
		ret = uffd_register(p, p->base, p->nr_frames << PAGE_SHIFT, UFFDIO_REGISTER_MODE_WP);
		if (ret) {
			snprintf(err, errlen, "cannot register the frame pool with userfaultfd: %s",
				 strerror(-ret));
			return ret;
		}
	}
	ret = uffd_stop_pages(p);
	if (ret) {
		snprintf(err, errlen, "cannot set up the fault threads' stop pages: %s", strerror(-ret));
		return ret;
	}
	ret = uffd_start_threads(p, cfg);
	if (ret)
		snprintf(err, errlen, "cannot start the fault threads: %s", strerror(-ret));
	return ret;
}

int gmm_uffd_register(struct gmm_mm *mm, char *err, size_t errlen)
{
	struct gmm_pool *p = mm->pool;
	int ret = __atomic_load_n(&p->fault_error, __ATOMIC_RELAXED);

	if (ret) {
		snprintf(err, errlen, "the frame pool's fault thread has stopped: %s", strerror(ret));
		return -ret;
	}
	/* zero pages for reads need write-protect faults (and MOVE, to put a
	 * frame where one was); without them, reads get frames as writes do */
	mm->zero_reads = mm->cfg.zero_reads && p->use_move &&
			 !uffd_register(p, mm->cfg.ram_hva, mm->cfg.ram_size,
					UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP);
	ret = mm->zero_reads ? 0 : uffd_register(p, mm->cfg.ram_hva, mm->cfg.ram_size,
						 UFFDIO_REGISTER_MODE_MISSING);
	if (ret) {
		snprintf(err, errlen, "cannot register guest RAM with userfaultfd: %s", strerror(-ret));
		return ret;
	}
	mm->registered = true;
	pthread_rwlock_wrlock(&p->mms_lock);
	for (int i = 0; i < GMM_MAX_GUESTS && mm->slot < 0; i++)
		if (!p->mms[i]) {
			p->mms[i] = mm;
			mm->slot = i;
		}
	pthread_rwlock_unlock(&p->mms_lock);
	if (mm->slot < 0) {
		snprintf(err, errlen, "a pool serves at most %d guests", GMM_MAX_GUESTS);
		return -EBUSY;
	}
	return 0;
}

void gmm_uffd_unregister(struct gmm_mm *mm)
{
	struct gmm_pool *p = mm->pool;

	/* the write lock waits for every fault of this guest in hand */
	if (mm->slot >= 0) {
		pthread_rwlock_wrlock(&p->mms_lock);
		p->mms[mm->slot] = NULL;
		pthread_rwlock_unlock(&p->mms_lock);
		mm->slot = -1;
	}
	if (mm->registered) {
		struct uffdio_range r = { .start = (uintptr_t)mm->cfg.ram_hva, .len = mm->cfg.ram_size };

		/* harmless if it fails: the range is unmapped next, which ends the
		 * registration; but it should not, so say so */
		if (ioctl(p->uffd, UFFDIO_UNREGISTER, &r))
			mv_warn("cannot unregister guest RAM from userfaultfd: %s", strerror(errno));
		mm->registered = false;
	}
}

/* The guest whose RAM holds addr. mms_lock held. */
static struct gmm_mm *uffd_route(struct gmm_pool *p, uint64_t addr)
{
	for (int i = 0; i < GMM_MAX_GUESTS; i++) {
		struct gmm_mm *mm = p->mms[i];

		if (mm && !mm->stopped && addr - (uintptr_t)mm->cfg.ram_hva < mm->cfg.ram_size)
			return mm;
	}
	return NULL;
}

/* Serve one event. false: it was a stop, and this thread ends. */
static bool uffd_handle(struct gmm_pool *p, const struct uffd_msg *msg)
{
	uint64_t addr = msg->arg.pagefault.address;
	char reason[256];
	struct gmm_mm *mm;
	gpa_t gpa;
	unsigned ret;

	if (msg->event != UFFD_EVENT_PAGEFAULT)
		return true;
	pthread_rwlock_rdlock(&p->mms_lock);
	mm = uffd_route(p, addr);
	if (!mm) {
		/* a guest being torn down (its vCPUs are gone), or a stop */
		pthread_rwlock_unlock(&p->mms_lock);
		return !uffd_stop_fault(p, addr);
	}
	gpa = ALIGN_DOWN(addr - (uintptr_t)mm->cfg.ram_hva, PAGE_SIZE);
	ret = gmm_handle_fault(mm, gpa, msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
	if (!(ret & (GMM_FAULT_NOPAGE | GMM_FAULT_SPURIOUS))) {
		char limit[160];

		snprintf(limit, sizeof(limit), "out of memory: at its limit.max of %llu KiB, and none of "
			 "its own pages could be reclaimed, for a fault",
			 (unsigned long long)(mm->cfg.limits.max << (PAGE_SHIFT - 10)));
		/* the OOM killer counted and ended its own victims */
		if ((ret & GMM_FAULT_OOM) && !__atomic_load_n(&mm->oom_victim, __ATOMIC_RELAXED))
			__atomic_add_fetch(&mm->events.oom_kill, 1, __ATOMIC_RELAXED);
		snprintf(reason, sizeof(reason), "%s at GPA 0x%llx",
			 ret & GMM_FAULT_LIMIT ? limit :
			 ret & GMM_FAULT_OOM ? (p->swap ? "out of memory: no frame could be freed, "
						 "and swap is full, for a fault" :
						 "out of memory: no free frame in the pool for a fault") :
			 ret & GMM_FAULT_IOERR ? "reading its page back from swap failed (I/O error)" :
			 ret & GMM_FAULT_SIGBUS ? "a fault outside guest memory" :
						  "installing a page failed",
			 (unsigned long long)gpa);
		/* the kick ends the vCPU's (interruptible) wait for the page */
		mm->cfg.ops->kill(mm->cfg.guest, ret & GMM_FAULT_OOM ? GMM_KILL_OOM : GMM_KILL_FAULT,
				  reason);
	}
	pthread_rwlock_unlock(&p->mms_lock);
	return true;
}

/*
 * The fault thread cannot read fault events any more: every guest it serves
 * would sleep forever in a fault. End them all, each with the reason, and
 * take no more guests (gmm_uffd_register refuses them).
 */
static void uffd_fatal(struct gmm_pool *p, const char *what, int err)
{
	char reason[256];

	/* no stop page is read for this thread any more: before the guests
	 * end, or their teardown might close the pool and wait for it */
	__atomic_sub_fetch(&p->fault_alive, 1, __ATOMIC_RELAXED);
	snprintf(reason, sizeof(reason), "memvisor's fault thread stopped: %s failed (%s)", what,
		 strerror(err));
	pthread_rwlock_rdlock(&p->mms_lock);
	__atomic_store_n(&p->fault_error, err, __ATOMIC_RELAXED);
	for (int i = 0; i < GMM_MAX_GUESTS; i++) {
		struct gmm_mm *mm = p->mms[i];

		if (mm && !mm->stopped)
			mm->cfg.ops->kill(mm->cfg.guest, GMM_KILL_FAULT, reason);
	}
	pthread_rwlock_unlock(&p->mms_lock);
}

/* read() of fault events, or -errno. The test-only injection fails the nth
 * read that brought events (the read blocks until one does): a stop among
 * them is still answered, or the pool's teardown would wait for it. */
static ssize_t uffd_read(struct gmm_pool *p, struct uffd_msg *msgs, size_t len)
{
	ssize_t n = read(p->uffd, msgs, len);

	if (n < 0)
		return -errno;
	if (__atomic_load_n(&p->inject_uffd_error, __ATOMIC_RELAXED) &&
	    __atomic_sub_fetch(&p->inject_uffd_error, 1, __ATOMIC_RELAXED) == 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
			uffd_stop_fault(p, msgs[i].arg.pagefault.address);
		return -EIO;
	}
	return n;
}

struct uffd_thread_arg {
	struct gmm_pool *p;
	int cpu;
};

static void *uffd_thread(void *arg)
{
	struct uffd_thread_arg a = *(struct uffd_thread_arg *)arg;
	struct gmm_pool *p = a.p;
	struct uffd_msg msgs[16];
	bool go_on = true;

	free(arg);
	pthread_setname_np(pthread_self(), "mv-fault");
	mv_block_stop_signals();
	mv_pin_self(a.cpu); /* best effort: a hint, not a need */
	while (go_on) {
		ssize_t n = uffd_read(p, msgs, sizeof(msgs));

		if (n == -EAGAIN || n == -EINTR)
			continue; /* another fault thread took the events */
		if (n < 0) {
			uffd_fatal(p, "reading fault events", (int)-n);
			break;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
			go_on &= uffd_handle(p, &msgs[i]);
	}
	gmm_thread_io_exit();
	return NULL;
}

static int uffd_start_threads(struct gmm_pool *p, const struct gmm_pool_config *cfg)
{
	unsigned n = MAX(1u, MIN(cfg->nr_fault_threads, (unsigned)GMM_MAX_FAULT_THREADS));

	for (unsigned i = 0; i < n; i++) {
		struct uffd_thread_arg *a = malloc(sizeof(*a));
		int ret;

		if (!a)
			return -ENOMEM;
		a->p = p;
		a->cpu = cfg->fault_cpu[i];
		__atomic_add_fetch(&p->fault_alive, 1, __ATOMIC_RELAXED);
		ret = pthread_create(&p->fault_thread[i], NULL, uffd_thread, a);
		if (ret) {
			__atomic_sub_fetch(&p->fault_alive, 1, __ATOMIC_RELAXED);
			free(a);
			return -ret;
		}
		p->nr_fault_threads++;
	}
	return 0;
}

void gmm_uffd_close(struct gmm_pool *p)
{
	/* one stop page read per live thread, each read waiting until a thread
	 * has answered it (and ended); a thread that failed counted itself out */
	for (unsigned i = 0; i < p->nr_fault_threads && p->stop_pages &&
	     __atomic_load_n(&p->fault_alive, __ATOMIC_RELAXED); i++) {
		(void)*(volatile uint8_t *)(p->stop_pages + i * PAGE_SIZE);
		__atomic_sub_fetch(&p->fault_alive, 1, __ATOMIC_RELAXED);
	}
	for (unsigned i = 0; i < p->nr_fault_threads; i++)
		pthread_join(p->fault_thread[i], NULL);
	p->nr_fault_threads = 0;
	if (p->stop_pages)
		munmap(p->stop_pages, GMM_MAX_FAULT_THREADS * PAGE_SIZE);
	p->stop_pages = NULL;
	if (p->uffd >= 0)
		close(p->uffd);
	p->uffd = -1;
}
