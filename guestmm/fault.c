// SPDX-License-Identifier: MIT
/*
 * The fault handler, handle_mm_fault for guests: find the VMA, read the EPT
 * entry, take frames from the pool, install them, record them in the EPT
 * table and the counters.
 *
 * Fault-around. A round trip through userspace costs ~40 us here against
 * ~1 us to install a page that nobody waits for, so one fault installs a
 * window of neighbours too, when frames are plentiful. The window doubles
 * while faults land where the last window ended (sequential access, up to
 * cfg.fault_around pages) and falls back to a small aligned block around the
 * fault otherwise (only the faulting page when the pool is overcommitted).
 * Several streams are followed at once (GMM_RA_STREAMS), so vCPUs walking
 * their own slices each keep their window. When the pool is overcommitted
 * (the guests' RAM adds up to more than the pool) a window shrinks to the
 * faulting page alone as free frames approach the min watermark. Frames
 * come as buddy blocks, so a window is usually one block and one ioctl.
 * Reads of pages never written may get the zero page instead: zeropage.c.
 */
#include "mm.h"
#include "vmscan.h"

#include "debug.h"
#include "memvisor/log.h"
#include "memvisor/probes.h"
#include "memvisor/time.h"

#include <errno.h>
#include <string.h>

/* pages around a non-sequential fault: frames are plentiful unless the pool
 * is overcommitted, and a round trip costs as much as ~200 page moves; with
 * the pool overcommitted, a neighbour nobody uses costs an eviction, and
 * only sequential streams earn a window (Linux does no fault-around for
 * anonymous memory at all) */
#define FAULT_AROUND_BASE        64
#define FAULT_AROUND_BASE_TIGHT  1

/*
 * The stage times (fs.ns_*) come from a sample of faults: a thread's CPU
 * clock is a syscall (~1 us here), and the eight reads a fault took cost
 * more than its own work outside the ioctl. A fault thread times each of its
 * first FAULT_TIMED_ALL faults, then one in FAULT_TIMED_EVERY at random (not
 * every nth: strides in guest access patterns and buddy blocks would bias
 * it), which counts that many times over: the sums estimate the totals
 * (exact in short runs).
 */
#define FAULT_TIMED_ALL    64
#define FAULT_TIMED_EVERY  16

static __thread uint64_t fault_nr;     /* faults this thread has handled */
static __thread uint64_t fault_rng;    /* an LCG: which faults are timed */
static __thread uint64_t fault_weight; /* its current fault's: 0 (not timed), 1, or EVERY */

static void fault_pick_timed(void)
{
	fault_rng = fault_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	if (++fault_nr <= FAULT_TIMED_ALL)
		fault_weight = 1;
	else /* the top bits: an LCG's low ones repeat with short periods */
		fault_weight = fault_rng >> 60 == 0 ? FAULT_TIMED_EVERY : 0;
}

static uint64_t fault_clock(void)
{
	return fault_weight ? mv_thread_ns() : 0;
}

static unsigned fault_floor_pow2(uint64_t n)
{
	unsigned order = 0;

	while ((2ULL << order) <= n)
		order++;
	return order;
}

/* The stream this fault continues, or the least recently used one to reuse. */
static struct gmm_ra_stream *fault_stream(struct gmm_mm *mm, gpa_t gpa, bool *seq)
{
	struct gmm_ra_stream *lru = &mm->ra[0];

	mm->ra_clock++;
	for (int i = 0; i < GMM_RA_STREAMS; i++) {
		struct gmm_ra_stream *st = &mm->ra[i];

		if (st->window && st->next == gpa) {
			*seq = true;
			st->last_use = mm->ra_clock;
			return st;
		}
		if (st->last_use < lru->last_use)
			lru = st;
	}
	*seq = false;
	lru->last_use = mm->ra_clock;
	lru->window = 0;
	return lru;
}

/* Frames that may go to neighbours. mm lock held. */
static uint64_t fault_spare(const struct gmm_pool *p)
{
	uint64_t free = gmm_pool_nr_free(p);

	/* with the pool overcommitted, frames above the min watermark may go to
	 * neighbours (kswapd refills, and unused neighbours are the first evicted);
	 * otherwise every guest's RAM fits and none can starve */
	if (gmm_pool_overcommitted(p))
		return free > p->wmark_min ? free - p->wmark_min : 0;
	return free;
}

/* The window for a fault at gpa in RAM vma: [*start, *end). mm lock held. */
static void fault_window(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa,
			 gpa_t *start, gpa_t *end)
{
	uint64_t max = mm->cfg.fault_around ? mm->cfg.fault_around : 1;
	uint64_t spare = fault_spare(mm->pool), window;
	bool seq;
	struct gmm_ra_stream *st = fault_stream(mm, gpa, &seq);

	if (seq)
		window = MIN((uint64_t)st->window * 2, max);
	else
		window = MIN(gmm_pool_overcommitted(mm->pool) ? (uint64_t)FAULT_AROUND_BASE_TIGHT :
			     (uint64_t)FAULT_AROUND_BASE, max);
	if (window > spare)
		window = spare ? 1ULL << fault_floor_pow2(spare) : 1;
	if (seq) {
		*start = gpa;
	} else {
		*start = ALIGN_DOWN(gpa, window << PAGE_SHIFT);
		if (*start < vma->start)
			*start = vma->start;
	}
	*end = MIN(*start + (window << PAGE_SHIFT), vma->end);
	st->window = (unsigned)window;
	st->next = *end;
}

/* Pages from gpa (not beyond end) whose EPT entries are empty, in a row. */
uint64_t gmm_fault_empty_run(struct gmm_mm *mm, gpa_t gpa, gpa_t end)
{
	uint64_t n = 0;

	for (; gpa < end; gpa += PAGE_SIZE, n++) {
		uint64_t *e = ept_lookup(&mm->ept, gpa);

		/* a zero entry is an evicted all-zero page: a new page again */
		if (e && !ept_none(*e) && !gmm_ept_zero(*e))
			break;
	}
	return n;
}

/* Mark [gpa, +npages) as being installed, so that a fault handled meanwhile
 * on another fault thread neither installs it again nor fails; or clear the
 * marks after a failed install. mm lock held. */
int gmm_fault_mark(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t val)
{
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t *e = ept_lookup_alloc(&mm->ept, gpa + (i << PAGE_SHIFT));

		if (!e)
			return -ENOMEM;
		*e = val;
	}
	return 0;
}

/* Record npages installed at gpa from pfn; they join the active list. mm lock held. */
int gmm_fault_record(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t npages)
{
	struct gmm_pool *p = mm->pool;

	for (uint64_t i = 0; i < npages; i++) {
		int ret = ept_map(&mm->ept, gpa + (i << PAGE_SHIFT), pfn + i, EPT_RWX | EPT_A);

		if (ret)
			return ret;
		GMM_BUG_ON(p->frames[pfn + i].owner != mm->slot + 1);
		p->frames[pfn + i].gpa = gpa + (i << PAGE_SHIFT);
	}
	pthread_mutex_lock(&p->lock);
	for (uint64_t i = 0; i < npages; i++)
		gmm_lru_add(p, pfn + i, GMM_LRU_ACTIVE);
	pthread_mutex_unlock(&p->lock);
	mm->rss += npages;
	if (mm->rss > mm->hiwater_rss)
		mm->hiwater_rss = mm->rss;
	return 0;
}

/* A block of up to npages frames (a power of two), the largest the pool
 * has; GMM_NO_FRAME if none. Charged to the guest until recorded. mm lock held. */
static pfn_t fault_alloc_block(struct gmm_mm *mm, uint64_t npages, unsigned *order, bool *zeroed)
{
	uint64_t t0 = fault_clock();
	pfn_t pfn;

	*order = MIN(fault_floor_pow2(npages), (unsigned)GMM_MAX_ORDER);
	for (;; (*order)--) {
		pfn = gmm_pool_alloc(mm->pool, *order, (uint16_t)(mm->slot + 1), mm->pool->use_move,
				     zeroed);
		if (pfn != GMM_NO_FRAME || *order == 0)
			break;
	}
	mm->fs.ns_alloc += (fault_clock() - t0) * fault_weight;
	if (pfn != GMM_NO_FRAME)
		mm->charging += 1ULL << *order;
	return pfn;
}

/*
 * An install of npages at gpa from pfn stopped after done pages (or failed,
 * done < 0): what did get in is the guest's; the rest goes back, its
 * entries emptied. The kernel woke only the pages that moved, but a vCPU
 * whose fault on one of the rest found it pending was answered as spurious
 * and waits for this install's wake: wake it, to fault again (now on an
 * empty entry). mm lock held.
 */
static void fault_install_short(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t npages,
				int64_t done)
{
	uint64_t ok = (uint64_t)MAX(done, (int64_t)0), rest = npages - ok;
	gpa_t at = gpa + (ok << PAGE_SHIFT);
	int ret;

	mv_warn("installing %llu pages at GPA 0x%llx stopped after %llu: %s",
		(unsigned long long)npages, (unsigned long long)gpa, (unsigned long long)ok,
		strerror(done < 0 ? (int)-done : EIO));
	gmm_fault_mark(mm, at, rest, 0);
	/* their slots may hold the zeroed pages that did not move */
	gmm_pool_release(mm->pool, pfn + ok, rest);
	ret = gmm_uffd_wake(mm, at, rest);
	if (ret)
		mv_warn("cannot wake the vCPUs waiting at GPA 0x%llx: %s",
			(unsigned long long)at, strerror(-ret));
	pthread_cond_broadcast(&mm->wb_done);
}

/*
 * Install up to npages at gpa as one buddy block (smaller if the pool has
 * no block that big). Returns pages installed, 0 if no frame, -errno.
 * Called with the mm lock held; drops it around the ioctl.
 */
static int64_t fault_install_block(struct gmm_mm *mm, gpa_t gpa, uint64_t npages)
{
	uint64_t room = gmm_mm_headroom(mm);
	struct gmm_install_cost c = { .timed = fault_weight != 0 };
	unsigned order;
	gmm_test_hook_fn *hook;
	bool zeroed;
	int64_t done;
	pfn_t pfn;
	int ret;

	if (!room)
		return -EDQUOT; /* at its limit.max */
	pfn = fault_alloc_block(mm, MIN(npages, room), &order, &zeroed);
	if (pfn == GMM_NO_FRAME)
		return 0;
	npages = 1ULL << order;
	ret = gmm_fault_mark(mm, gpa, npages, GMM_EPT_PENDING);
	if (ret) {
		gmm_fault_mark(mm, gpa, npages, 0);
		mm->charging -= npages;
		gmm_pool_release(mm->pool, pfn, npages);
		return ret;
	}
	pthread_mutex_unlock(&mm->lock);
	hook = __atomic_load_n(&mm->pool->test_hook, __ATOMIC_ACQUIRE);
	if (hook)
		hook(mm->pool, GMM_TEST_INSTALL, mm, gpa, mm->pool->test_arg);
	done = gmm_uffd_install(mm, gpa, pfn, npages, zeroed, &c);
	pthread_mutex_lock(&mm->lock);
	mm->charging -= npages;
	mm->fs.ns_install += c.ns_install * fault_weight;
	mm->fs.install_calls += c.calls;
	mm->fs.retries += c.retries;
	if (done < (int64_t)npages) {
		fault_install_short(mm, gpa, pfn, npages, done);
		if (done <= 0)
			return done < 0 ? done : -EIO;
		npages = (uint64_t)done;
	}
	ret = gmm_fault_record(mm, gpa, pfn, npages);
	MV_PROBE(install, mm->slot, gpa, pfn, npages);
	/* the pages are no longer pending: wake whoever waits for that */
	pthread_cond_broadcast(&mm->wb_done);
	return ret ? ret : (int64_t)npages;
}

/* Install the empty pages of [gpa, end) in blocks; stops at the first page
 * already there or when frames run out. Returns pages installed or -errno.
 * The run is measured again after every block: installing drops the lock,
 * and another fault thread may fill the rest meanwhile. */
static int64_t fault_install_range(struct gmm_mm *mm, gpa_t gpa, gpa_t end)
{
	int64_t done = 0;
	uint64_t run;

	while ((run = gmm_fault_empty_run(mm, gpa, end)) > 0) {
		int64_t n = fault_install_block(mm, gpa, run);

		if (n <= 0)
			return done ? done : n;
		done += n;
		gpa += (uint64_t)n << PAGE_SHIFT;
	}
	return done;
}

/* A fault on a page with no entry (or a zero entry, or a zero-page mapping
 * written): new zeroed pages, with fault-around. mm lock held. */
unsigned gmm_fault_anon(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa)
{
	struct gmm_vma ram = *vma; /* the tree may not be touched while unlocked */
	gpa_t start, end;
	int64_t n;

	fault_window(mm, &ram, gpa, &start, &end);
	/* a guest that never had a zero page mapped has none to look for */
	if (mm->fs.zero_mapped && gmm_unzero_range(mm, gpa, end))
		return GMM_FAULT_ERROR;
	/* the faulting page first, then what lies after it, then before */
	n = fault_install_range(mm, gpa, end);
	if (n <= 0)
		return n == 0 ? GMM_FAULT_RETRY : n == -EDQUOT ? GMM_FAULT_LIMIT : GMM_FAULT_ERROR;
	mm->fs.installed += (uint64_t)n;
	mm->fs.around += (uint64_t)n - 1;
	/* the guest will touch neighbours without a fault: samples among them
	 * are armed now, or their first use goes unseen */
	gmm_wss_installed_range(mm, gpa, gpa + ((uint64_t)n << PAGE_SHIFT), gpa);
	if (start < gpa) {
		n = fault_install_range(mm, start, gpa);
		if (n > 0) {
			mm->fs.installed += (uint64_t)n;
			mm->fs.around += (uint64_t)n;
			gmm_wss_installed_range(mm, start, start + ((uint64_t)n << PAGE_SHIFT), gpa);
		}
	}
	return GMM_FAULT_NOPAGE;
}

/* Dispatch on what the EPT entry says, as handle_pte_fault does. mm lock held. */
static unsigned fault_entry(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa, bool write)
{
	uint64_t *e = ept_lookup(&mm->ept, gpa);

	if (!e || ept_none(*e) || gmm_ept_zero(*e))
		return gmm_zero_read(mm, write) ? gmm_fault_zeromap(mm, vma, gpa) :
						    gmm_fault_anon(mm, vma, gpa);
	if (gmm_ept_zmap(*e)) {
		if (write)
			return gmm_fault_anon(mm, vma, gpa); /* zaps it first */
		mm->fs.spurious++; /* mapped since the event was queued */
		return GMM_FAULT_SPURIOUS;
	}
	if (ept_present(*e)) {
		mm->fs.spurious++; /* installed since the event was queued */
		return GMM_FAULT_SPURIOUS;
	}
	if (*e == GMM_EPT_PENDING) {
		/* another fault thread is putting the page in, our lock dropped
		 * around its ioctls: wait for it to record what it did, then look
		 * again. Its ioctl wakes a vCPU that faulted before it, but not
		 * one that faults after it and before the record: a write to a
		 * zero page just mapped, protected and woken (zeropage.c) */
		pthread_cond_wait(&mm->wb_done, &mm->lock);
		return GMM_FAULT_AGAIN;
	}
	if (gmm_ept_armed(*e))
		return gmm_fault_armed(mm, gpa, e);
	if (gmm_ept_wb(*e)) {
		/* being written to or read from swap: wait, then look again */
		pthread_cond_wait(&mm->wb_done, &mm->lock);
		return GMM_FAULT_AGAIN;
	}
	if (gmm_ept_slot(*e))
		return gmm_fault_swapin(mm, gpa, e);
	return GMM_FAULT_SIGBUS;
}

/* What a fault did, for the fault_exit probe, from its counters before
 * (installed, refaults, swapins): 3 swap-in, 2 refault, 1 new pages, 0 none. */
static unsigned fault_kind(const struct gmm_mm *mm, const uint64_t seen[3])
{
	if (mm->fs.swapins != seen[2])
		return 3;
	if (mm->fs.refaults != seen[1])
		return 2;
	return mm->fs.installed != seen[0];
}

unsigned gmm_handle_fault(struct gmm_mm *mm, gpa_t gpa, bool write)
{
	fault_pick_timed();
	uint64_t t0 = fault_clock();
	struct gmm_vma *vma;
	unsigned ret, stuck = 0;
	uint64_t seen[3]; /* counters before, for the fault_exit probe: what it did, how many pages */
	uint64_t wss0, lookup = 0;

	MV_PROBE(fault_entry, mm->slot, gpa);
	pthread_mutex_lock(&mm->lock);
	mm->fs.faults++;
	gmm_wss_fault(mm, gpa); /* an access, if gpa is a working-set sample */
	wss0 = mm->fs.wss_faults;
	seen[0] = mm->fs.installed;
	seen[1] = mm->fs.refaults;
	seen[2] = mm->fs.swapins;
	for (int tries = 0;; tries++) {
		if (__atomic_load_n(&mm->oom_victim, __ATOMIC_RELAXED)) {
			ret = GMM_FAULT_OOM; /* being killed: no more frames for it */
			break;
		}
		vma = gmm_vma_find(&mm->vmas, gpa);
		if (!vma || vma->kind != GMM_VMA_RAM) {
			ret = GMM_FAULT_SIGBUS;
			break;
		}
		if (tries == 0) {
			uint64_t ns = (fault_clock() - t0) * fault_weight;

			lookup += ns;
			mm->fs.ns_lookup += ns;
		}
		ret = fault_entry(mm, vma, gpa, write);
		if (ret & GMM_FAULT_AGAIN)
			continue; /* an I/O on the page ended: look again */
		if (ret & GMM_FAULT_LIMIT) {
			ret = gmm_fault_over_max(mm, &stuck);
			if (ret)
				break;
			continue;
		}
		if (!(ret & GMM_FAULT_RETRY))
			break;
		if (mm->pool->swap && tries < 64) {
			/* no frame: reclaim without our lock (reclaim takes guests' locks) */
			pthread_mutex_unlock(&mm->lock);
			uint64_t freed = gmm_reclaim_direct(mm->pool, 32);

			pthread_mutex_lock(&mm->lock);
			if (freed || tries < 8)
				continue;
		}
		ret = gmm_fault_oom(mm);
		if (ret)
			break;
		tries = 0; /* another guest's memory came back: try again */
	}
	if (ret & GMM_FAULT_NOPAGE)
		gmm_fault_over_high(mm);
	if (mm->fs.wss_faults == wss0)
		mm->fs.ns_handler += (fault_clock() - t0) * fault_weight;
	else /* the working-set sampler's fault: its cost (wss_faults), not the guest's */
		mm->fs.ns_lookup -= lookup;
	MV_PROBE(fault_exit, mm->slot, gpa, ret, fault_kind(mm, seen),
		 mm->fs.installed - seen[0] + mm->fs.refaults - seen[1] + mm->fs.swapins - seen[2]);
	pthread_mutex_unlock(&mm->lock);
	return ret;
}

int gmm_prefault_range(struct gmm_mm *mm, gpa_t start, gpa_t end)
{
	int64_t n = 0;

	fault_weight = 1; /* each block timed: prefaulting installs few, large ones */
	pthread_mutex_lock(&mm->lock);
	for (gpa_t gpa = start; gpa < end; gpa += (uint64_t)n << PAGE_SHIFT) {
		n = fault_install_range(mm, gpa, end);
		if (n <= 0)
			break;
		mm->fs.prefaulted += (uint64_t)n;
	}
	pthread_mutex_unlock(&mm->lock);
	return n < 0 ? (int)n : n == 0 ? -ENOMEM : 0;
}
