// SPDX-License-Identifier: MIT
/*
 * A guest's working-set estimate, from sampled reuse distances: SHARDS's
 * spatial sampling for miss-ratio curves, with DAMON's bounded sampled
 * access checks, and Linux's "unmap and watch" for want of accessed bits.
 *
 * Samples: one page in every block of `stride` pages of RAM (stratified: its
 * place in the block is hashed, so any range of pages holds its share of
 * samples to within one): one per WSS_PAGES_PER_SAMPLE pages, at least
 * WSS_MIN_SAMPLES and at most WSS_MAX_SAMPLES. Each sample costs the guest a
 * round trip (~40 us here) per reuse, so a pass over a small guest's RAM
 * that faults nothing else pays for all of them: 128 samples more than
 * tripled a 16 MiB guest's runtime (0.09 s against 0.03 s with 32), while
 * in a 512 MiB guest they are a few percent of its faults and give its
 * estimate a finer grain. memvisor sees an access
 * to a sample when it faults: a first touch, a swap-in, a refault of a page
 * reclaim armed, or of one armed here. So that mapped samples are seen too
 * (without reclaim nothing else unmaps them), samples the guest has mapped
 * and not touched just now are armed - moved back to their frames' slots,
 * as reclaim arms - by a tick thread every WSS_TICK_NS and by the fault
 * path after each sampled fault (the tick alone falls behind on a busy
 * host), from a budget of WSS_ARM_RATE arms a second. A swap read-ahead
 * that maps a sample arms it at once, or its use would go unseen.
 *
 * A sample seen again has a reuse distance: the distinct samples seen
 * since its last use, itself included, times the stride - the memory an
 * LRU needs to keep the page until it comes back (workingset.c's refault
 * distance, counted in distinct pages rather than evictions). It does not
 * depend on how fast the guest runs, which sampling and reclaim change.
 * The estimate (fs.wss_pages) is the distance WSS_PCT% of the run's reuses
 * are within: one point of the guest's miss-ratio curve, the memory that
 * makes 75% of its reuses hits. Not 90%: a sample armed only after the
 * guest had moved on (settling, the budget, a host that kept the tick off
 * its CPU) misses uses and reads as a reuse across most of RAM; those
 * censored reuses were over a tenth of all in small, fast guests (16 MiB
 * phased: estimates of 1472-3616 pages for a set of 1024 under ASan), and
 * stay well under a quarter. A set that moves but keeps its size keeps
 * it; pages used once (streaming, a guest that then idles) add nothing.
 * fs.wss_recent_pages is the same over the last WSS_RECENT reuses.
 *
 * Locks: all of it is under the guest's mm lock, but the tick thread's stop
 * flag (its own lock). The tick takes the mm lock alone (pool.h's order).
 */
#include "mm.h"

#include "memvisor/log.h"
#include "memvisor/thread.h"
#include "memvisor/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* samples aimed for (the stride is a power of two, at least WSS_MIN_STRIDE) */
#define WSS_PAGES_PER_SAMPLE 1024
#define WSS_MIN_SAMPLES    32
#define WSS_MAX_SAMPLES    128
#define WSS_MIN_STRIDE     8
#define WSS_TICK_NS        1000000ULL     /* 1 ms */
#define WSS_SETTLE_NS      500000ULL      /* a sample seen this recently is not re-armed */
#define WSS_ARM_RATE       10000          /* arms per second per guest, at most (docs/usage.md: its cost) */
#define WSS_ARM_BURST      64
#define WSS_ARMS_PER_FAULT 2
#define WSS_PCT            75             /* the estimate: the distance 75% of reuses are within */
#define WSS_RECENT         256            /* reuses in the recent estimate */
#define WSS_PUBLISH        32             /* the estimates are worked out every 32 reuses */
#define WSS_MIN_REUSES     16             /* fewer: no estimate */

struct gmm_wss {
	struct gmm_mm *mm;
	uint64_t stride;        /* pages per sample */
	uint32_t nr;            /* samples */
	uint32_t salt;
	uint32_t *last;         /* clock at its last seen access, 0: never seen */
	uint64_t *seen_ns;      /* when its last access was seen */
	uint8_t *armed;         /* armed by the sampler, not yet refaulted */
	uint32_t clock, cursor;
	uint64_t tokens, refill_ns; /* the arm budget: a token bucket */
	uint64_t *hist;             /* reuses of distance d samples, the run's (nr + 1) */
	uint64_t nr_reuses;
	uint32_t recent[WSS_RECENT];    /* the last reuses' distances, a ring */
	/* the tick thread: its own lock for stop */
	pthread_t thread;
	bool running, stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

/* The sample of block i: a page hashed within the block. */
static uint64_t wss_page(const struct gmm_wss *w, uint32_t i)
{
	uint64_t pages = w->mm->cfg.ram_size >> PAGE_SHIFT, first = (uint64_t)i * w->stride;
	uint64_t span = MIN(w->stride, pages - first);
	uint64_t h = ((uint64_t)i ^ w->salt) * 0x9e3779b97f4a7c15ULL;

	return first + (h >> 32) % span;
}

static int wss_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The distance WSS_PCT of the run's reuses are within, from its histogram. */
static uint32_t wss_hist_pct(const struct gmm_wss *w)
{
	uint64_t within = 0;

	for (uint32_t d = 0; d <= w->nr; d++) {
		within += w->hist[d];
		if (within * 100 >= w->nr_reuses * WSS_PCT)
			return d;
	}
	return w->nr;
}

/* Publish the estimates, in pages. mm lock held. */
static void wss_publish(struct gmm_wss *w)
{
	struct gmm_fault_stats *fs = &w->mm->fs;
	uint64_t pages = w->mm->cfg.ram_size >> PAGE_SHIFT;
	unsigned n = (unsigned)MIN(w->nr_reuses, (uint64_t)WSS_RECENT);
	uint32_t r[WSS_RECENT];

	if (w->nr_reuses < WSS_MIN_REUSES)
		return;
	memcpy(r, w->recent, n * sizeof(*r));
	qsort(r, n, sizeof(*r), wss_cmp);
	fs->wss_pages = MIN((uint64_t)wss_hist_pct(w) * w->stride, pages);
	fs->wss_recent_pages = MIN((uint64_t)r[(n - 1) * WSS_PCT / 100] * w->stride, pages);
}

/* Sample i was used: its reuse distance is the distinct samples seen since
 * its last use, itself included. mm lock held. */
static void wss_seen(struct gmm_wss *w, uint32_t i, uint64_t now)
{
	uint32_t prev = w->last[i], d = 1;

	w->last[i] = ++w->clock;
	w->seen_ns[i] = now;
	if (!prev)
		return; /* first use: no distance */
	for (uint32_t j = 0; j < w->nr; j++)
		d += w->last[j] && (int32_t)(w->last[j] - prev) > 0 && j != i;
	w->mm->fs.wss_reuses = ++w->nr_reuses;
	w->hist[d]++;
	w->recent[w->nr_reuses % WSS_RECENT] = d;
	if (w->nr_reuses % WSS_PUBLISH == 0)
		wss_publish(w);
}

/* The sample gpa is, or -1. */
static int64_t wss_index(const struct gmm_wss *w, gpa_t gpa)
{
	uint64_t page = gpa >> PAGE_SHIFT, i = page / w->stride;

	if (gpa >= w->mm->cfg.ram_size || wss_page(w, (uint32_t)i) != page)
		return -1;
	return (int64_t)i;
}

static void wss_rearm(struct gmm_wss *w, uint64_t now, unsigned max);

void gmm_wss_fault(struct gmm_mm *mm, gpa_t gpa)
{
	struct gmm_wss *w = mm->wss;
	uint64_t *e, now;
	int64_t i;

	if (!w || (i = wss_index(w, gpa)) < 0)
		return;
	e = ept_lookup(&mm->ept, gpa & ~(gpa_t)(PAGE_SIZE - 1));
	/* installed already, or being installed: the fault that will map it was seen */
	if (e && (ept_present(*e) || *e == GMM_EPT_PENDING))
		return;
	if (!e || !gmm_ept_armed(*e))
		w->armed[i] = 0; /* evicted since the sampler armed it */
	now = mv_now_ns();
	wss_seen(w, (uint32_t)i, now);
	/* the guest runs while it faults: re-arm from here too, not only from
	 * the tick thread, which a busy host may leave waiting */
	wss_rearm(w, now, WSS_ARMS_PER_FAULT);
}

bool gmm_wss_refault(struct gmm_mm *mm, gpa_t gpa)
{
	struct gmm_wss *w = mm->wss;
	int64_t i;

	if (!w || (i = wss_index(w, gpa)) < 0 || !w->armed[i])
		return false;
	w->armed[i] = 0;
	/* the sampler's fault, not the guest's demand: counted apart from pgfault */
	mm->fs.faults--;
	mm->fs.wss_faults++;
	return true;
}

static bool wss_arm(struct gmm_wss *w, uint32_t i, uint64_t now);

void gmm_wss_installed(struct gmm_mm *mm, gpa_t gpa)
{
	struct gmm_wss *w = mm->wss;
	int64_t i;

	/* the guest did not fault on it, and will touch it before a tick comes */
	if (w && (i = wss_index(w, gpa)) >= 0) {
		w->seen_ns[i] = 0;
		wss_arm(w, (uint32_t)i, mv_now_ns());
	}
}

void gmm_wss_installed_range(struct gmm_mm *mm, gpa_t start, gpa_t end, gpa_t skip)
{
	struct gmm_wss *w = mm->wss;
	uint64_t first, last, now;

	if (!w || start >= end)
		return;
	first = (start >> PAGE_SHIFT) / w->stride;
	last = ((end - 1) >> PAGE_SHIFT) / w->stride;
	now = mv_now_ns();
	for (uint64_t i = first; i <= last && i < w->nr; i++) {
		gpa_t page = wss_page(w, (uint32_t)i) << PAGE_SHIFT;

		if (page >= start && page < end && page != skip) {
			w->seen_ns[i] = 0;
			wss_arm(w, (uint32_t)i, now);
		}
	}
}

/* Was sample i seen long enough ago that the guest has made that access?
 * Its fault is served before the vCPU runs again: two later sightings, or
 * a long wait, say it has. */
static bool wss_settled(const struct gmm_wss *w, uint32_t i, uint64_t now)
{
	uint64_t age = now - w->seen_ns[i];

	if (!w->last[i])
		return true;
	return age >= 4 * WSS_SETTLE_NS || (age >= WSS_SETTLE_NS && w->clock - w->last[i] >= 2);
}

/* One arm from the budget, if any is left. */
static bool wss_take_token(struct gmm_wss *w, uint64_t now)
{
	uint64_t add = (now - w->refill_ns) * WSS_ARM_RATE / 1000000000ULL;

	if (add) {
		w->tokens = MIN(w->tokens + add, (uint64_t)WSS_ARM_BURST);
		w->refill_ns = now;
	}
	if (!w->tokens)
		return false;
	w->tokens--;
	return true;
}

/* Arm sample i if the guest has it mapped and has not just touched it:
 * its page goes back to the frame's slot, as reclaim arms. mm lock held. */
static bool wss_arm(struct gmm_wss *w, uint32_t i, uint64_t now)
{
	struct gmm_mm *mm = w->mm;
	gpa_t gpa = wss_page(w, i) << PAGE_SHIFT;
	uint64_t *e = ept_lookup(&mm->ept, gpa);
	pfn_t pfn;

	/* not mapped (none, armed, on swap, in flight): its next use faults anyway */
	if (!e || !ept_present(*e))
		return false;
	w->armed[i] = 0; /* mapped again without a fault (given back, then fault-around) */
	if (!wss_settled(w, i, now))
		return false;
	if (!wss_take_token(w, now))
		return false;
	pfn = ept_pfn(*e);
	if (gmm_uffd_move(mm->pool, (uintptr_t)gmm_pool_slot(mm->pool, pfn),
			  (uintptr_t)mm->cfg.ram_hva + gpa, PAGE_SIZE) != (int64_t)PAGE_SIZE)
		return false; /* it stays mapped; tried again later */
	*e = gmm_ept_mk(GMM_EPT_ARMED, pfn);
	w->armed[i] = 1;
	mm->fs.wss_arms++;
	return true;
}

/* Arm up to max samples the guest has mapped, round robin. mm lock held. */
static void wss_rearm(struct gmm_wss *w, uint64_t now, unsigned max)
{
	unsigned armed = 0;

	for (uint32_t k = 0; k < w->nr && armed < max; k++) {
		uint32_t i = (w->cursor + k) % w->nr;

		if (wss_arm(w, i, now) && ++armed == max)
			w->cursor = i + 1;
	}
}

static void wss_tick(struct gmm_wss *w)
{
	struct gmm_mm *mm = w->mm;

	if (__atomic_load_n(&mm->oom_victim, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&mm->lock);
	wss_rearm(w, mv_now_ns(), WSS_ARM_BURST);
	pthread_mutex_unlock(&mm->lock);
}

static void *wss_thread(void *arg)
{
	struct gmm_wss *w = arg;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "mv-wss");
	mv_block_stop_signals();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		ts.tv_nsec += WSS_TICK_NS;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&w->lock);
		wss_tick(w);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void wss_free(struct gmm_wss *w)
{
	free(w->last);
	free(w->seen_ns);
	free(w->armed);
	free(w->hist);
	free(w);
}

static struct gmm_wss *wss_alloc(struct gmm_mm *mm)
{
	uint64_t pages = mm->cfg.ram_size >> PAGE_SHIFT, stride = WSS_MIN_STRIDE;
	uint64_t want = MIN(MAX(pages / WSS_PAGES_PER_SAMPLE, (uint64_t)WSS_MIN_SAMPLES),
			    (uint64_t)WSS_MAX_SAMPLES);
	struct gmm_wss *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	while (stride * want < pages)
		stride *= 2;
	w->mm = mm;
	w->stride = stride;
	w->nr = (uint32_t)((pages + stride - 1) / stride);
	w->salt = (uint32_t)mv_now_ns();
	w->last = calloc(w->nr, sizeof(*w->last));
	w->seen_ns = calloc(w->nr, sizeof(*w->seen_ns));
	w->armed = calloc(w->nr, 1);
	w->hist = calloc(w->nr + 1, sizeof(*w->hist));
	if (!w->last || !w->seen_ns || !w->armed || !w->hist) {
		wss_free(w);
		return NULL;
	}
	return w;
}

int gmm_wss_start(struct gmm_mm *mm)
{
	struct gmm_wss *w;
	pthread_condattr_t ca;
	int ret;

	/* arming needs UFFDIO_MOVE, as reclaim's does */
	if (!mm->pool || !mm->pool->use_move || mm->cfg.ram_size < PAGE_SIZE)
		return 0;
	w = wss_alloc(mm);
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&mm->lock);
	mm->fs.wss_stride = w->stride;
	mm->wss = w;
	pthread_mutex_unlock(&mm->lock);
	ret = pthread_create(&w->thread, NULL, wss_thread, w);
	if (ret) {
		gmm_wss_destroy(mm);
		return -ret;
	}
	w->running = true;
	return 0;
}

void gmm_wss_stop(struct gmm_mm *mm)
{
	struct gmm_wss *w = mm->wss;

	if (!w || !w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = false;
	/* the reuses since the last publication count too */
	pthread_mutex_lock(&mm->lock);
	wss_publish(w);
	pthread_mutex_unlock(&mm->lock);
}

void gmm_wss_destroy(struct gmm_mm *mm)
{
	struct gmm_wss *w = mm->wss;

	if (!w)
		return;
	gmm_wss_stop(mm);
	pthread_mutex_lock(&mm->lock);
	mm->wss = NULL;
	pthread_mutex_unlock(&mm->lock);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	wss_free(w);
}

uint64_t gmm_mm_wss(struct gmm_mm *mm)
{
	uint64_t v;

	pthread_mutex_lock(&mm->lock);
	v = mm->fs.wss_pages;
	pthread_mutex_unlock(&mm->lock);
	return v;
}
