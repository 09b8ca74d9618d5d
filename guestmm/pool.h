/* SPDX-License-Identifier: MIT */
/*
 * The frame pool: memvisor's "physical RAM". nr_frames host pages at base,
 * one 32-byte descriptor each, handed out by the buddy allocator, shared by
 * all guests. A frame's page lives in its pool slot while free (zeroed by
 * the kernel when populated) and is moved into a guest's RAM when installed
 * (UFFDIO_MOVE), so that host memory for guest pages never exceeds the pool.
 */
#ifndef GUESTMM_POOL_H
#define GUESTMM_POOL_H

#include "buddy.h"
#include "lru.h"
#include "swap.h"

#include <pthread.h>

#define GMM_ZERO_BYTES ((uint64_t)PAGE_SIZE << GMM_MAX_ORDER)
#define GMM_READY_ORDERS 10          /* pre-zeroed blocks of order 0..9 (up to 2 MiB) */

#define GMM_MAX_FAULT_THREADS 8
#define GMM_MAX_GUESTS        64

enum gmm_install {
	GMM_INSTALL_AUTO,   /* UFFDIO_MOVE where the kernel has it, else UFFDIO_COPY */
	GMM_INSTALL_MOVE,
	GMM_INSTALL_COPY,
};

struct gmm_pool_config {
	bool prezero;                /* run the pre-zeroing thread */
	int prezero_cpu;             /* pin it here; -1: no pinning */
	enum gmm_install install;
	unsigned nr_fault_threads;   /* 1..GMM_MAX_FAULT_THREADS */
	int fault_cpu[GMM_MAX_FAULT_THREADS]; /* pin fault thread i here; -1: no pinning */
};

struct gmm_mm;
struct gmm_pool;

/* Test-only: points where a test may act in the middle of reclaim or a fault. */
enum gmm_test_point {
	GMM_TEST_WRITEBACK,   /* a page is queued for writing, no lock held but reclaim_lock */
	GMM_TEST_INSTALL,     /* a fault's block is marked pending, about to be installed; no lock held */
	GMM_TEST_ZEROMAP,     /* zero pages mapped at gpa, not yet write-protected; no lock held */
};
typedef void gmm_test_hook_fn(struct gmm_pool *p, enum gmm_test_point pt, struct gmm_mm *mm,
			      gpa_t gpa, void *arg);

/*
 * Lock order, outermost first (as mm/rmap.c writes Linux's):
 *
 *   mms_lock (read; write only to add, stop or remove a guest)
 *     reclaim_lock        (one reclaimer at a time: kswapd, direct reclaim, teardown)
 *       mm->lock          (one guest's VMAs, EPT table, counters)
 *         p->lock         (buddy, ready lists, LRU, frame flags)
 *           swapd->lock   (the slot map)
 *
 * A fault holds mms_lock for reading from the moment its event is routed
 * until it is handled, so direct reclaim, called from a fault, never takes
 * mms_lock again: it runs under the reader's hold it already has (a
 * writer queued in between would otherwise deadlock a writer-preferring
 * rwlock). kswapd takes mms_lock, then reclaim_lock, in that order too.
 */
struct gmm_pool {
	uint8_t *base;            /* slot of frame i: base + i * PAGE_SIZE (set at init) */
	uint8_t *zero;            /* GMM_ZERO_BYTES never written: the source of UFFDIO_COPY */
	uint64_t nr_frames;
	struct gmm_frame *frames; /* see struct gmm_frame for who may change what */
	/* watermarks in free frames, as in Linux's zone watermarks (set at init) */
	uint64_t wmark_min, wmark_low, wmark_high;

	pthread_mutex_t lock;     /* protects buddy, ready lists, LRU, frame flags and owner,
				   * and the fields below up to committed */
	struct gmm_buddy buddy;   /* free frames whose slots are empty */
	/* free frames whose slots hold zeroed pages: blocks taken from the buddy
	 * by the pre-zeroing thread, linked through frames[].next, by order */
	uint32_t ready[GMM_READY_ORDERS];
	uint64_t nr_ready;        /* frames on the ready lists */
	uint64_t nr_zeroing;      /* frames the thread is populating right now (still free) */
	uint64_t ready_target;    /* the pre-zeroing thread fills up to this */
	uint64_t ready_hits, ready_misses; /* allocations served pre-zeroed, or not */
	uint64_t prezeroed_pages; /* pages the thread populated */
	/* written under the lock, read without it (atomic): free frames of every
	 * kind (buddy + ready + zeroing), as Linux's NR_FREE_PAGES */
	uint64_t nr_free_pages;
	uint64_t populated_pages; /* pages zero-filled on the fault path, not pre-zeroed (atomic) */
	uint64_t committed;       /* frames of guest RAM the pool backs, all guests (atomic) */
	uint64_t frames_lost;     /* frames that could not be emptied, never reused (atomic) */

	/* one userfaultfd for every guest of the pool, as one kernel serves all
	 * processes: guest RAM registered for missing pages, the pool's own
	 * slots for write-protect (never armed: registered only so that
	 * UFFDIO_MOVE may move guest pages back into them) */
	int uffd;                   /* blocking: the fault threads sleep in read() */
	uint8_t *stop_pages;        /* registered, never filled: reading one stops a fault thread */
	unsigned fault_alive;       /* fault threads still reading (atomic) */
	bool use_move;
	pthread_t fault_thread[GMM_MAX_FAULT_THREADS];
	unsigned nr_fault_threads;
	uint64_t inject_uffd_error; /* test-only: the nth read of fault events fails (atomic) */
	int fault_error;            /* a fault thread stopped on this errno: no new guests (atomic) */
	pthread_rwlock_t mms_lock;  /* protects mms[] and each mm's stopped/dying */
	struct gmm_mm *mms[GMM_MAX_GUESTS];

	/* reclaim: the swap device and slot info (set before any guest runs),
	 * kswapd; the LRU lists are each guest's own (struct gmm_mm) */
	unsigned reclaim_next;         /* the guest global reclaim starts with: reclaim_lock */
	struct swapd *swap;            /* NULL: no swap, nothing to reclaim to */
	struct gmm_slot_info *slots;   /* per swap slot: the mm lock of the owning guest */
	uint64_t nonresident_age;      /* evictions + activations, for refault distance (atomic) */
	uint64_t reclaim_batches;      /* pool lock */
	struct gmm_vmstat vm;          /* every field atomic: gmm_count(), gmm_vmstat_read() */
	pthread_mutex_t reclaim_lock;  /* one reclaimer at a time (kswapd, direct, teardown) */
	gmm_test_hook_fn *test_hook;   /* test-only; a test may set it while guests run:
					 * atomic store (release, test_arg before), atomic load */
	void *test_arg;
	pthread_t kswapd;
	pthread_cond_t kswapd_wake;    /* with the pool lock */
	bool kswapd_running, kswapd_stop; /* kswapd_stop: pool lock */

	pthread_t zerod;
	pthread_cond_t zerod_wake;
	pthread_cond_t zerod_done; /* a block went from zeroing to ready */
	bool zerod_running, zerod_stop, zerod_exited; /* stop, exited: pool lock */
	uint64_t zerod_wakeups;   /* times it woke to look for work: pool lock */
	int zerod_cpu;
};

/* gmm.c: a pool of bytes (rounded down to pages), its userfaultfd and fault
 * threads, and pre-zeroing if cfg asks. cfg NULL: frames only (tests of the
 * allocator). -errno with err set. */
int gmm_pool_init(struct gmm_pool *p, uint64_t bytes, const struct gmm_pool_config *cfg,
		  char *err, size_t errlen);
void gmm_pool_destroy(struct gmm_pool *p);

/* pool.c: the frames alone (memory, descriptors, buddy, locks), and back. */
int gmm_frames_init(struct gmm_pool *p, uint64_t bytes, char *err, size_t errlen);
void gmm_frames_fini(struct gmm_pool *p);

/* 2^order frames for owner, or GMM_NO_FRAME; *zeroed tells whether their
 * slots already hold zeroed pages. want_zeroed: the caller will move the
 * slots' pages into a guest (pre-zeroed frames first); otherwise it will copy
 * data in and the slots should be empty (pre-zeroed frames last, since their
 * pages must then be dropped). Takes the pool lock. */
pfn_t gmm_pool_alloc(struct gmm_pool *p, unsigned order, uint16_t owner, bool want_zeroed,
		     bool *zeroed);
/* Give back 2^order frames starting at pfn; their slots must be empty
 * (the pages went to a guest and were dropped there), and the caller must
 * own them (fresh, or mapped and taken off the guest under its mm lock).
 * Takes the pool lock. */
void gmm_pool_free(struct gmm_pool *p, pfn_t pfn, unsigned order);
/* gmm_pool_free() of n single frames under one hold of the pool lock (each
 * round trip of it may wake a fault thread waiting for it). */
void gmm_pool_free_many(struct gmm_pool *p, const pfn_t *pfn, unsigned n);
/* Empty the slots of n frames from pfn (their pages, a guest's data, are
 * dropped), then free them: for frames whose pages are in their slots
 * (armed, or pre-zeroed and never installed). If the slots cannot be
 * emptied the frames are never reused (frames_lost) and -errno returned. */
int gmm_pool_release(struct gmm_pool *p, pfn_t pfn, uint64_t n);
/* Publish the free count for lock-free readers. Pool lock held. */
void gmm_pool_sync_free(struct gmm_pool *p);

/* kswapd.c: attach a swap device and start kswapd; -errno with err set */
int gmm_pool_set_swap(struct gmm_pool *p, struct swapd *swap, int kswapd_cpu, char *err,
		      size_t errlen);
void gmm_kswapd_stop(struct gmm_pool *p);
/* The most pages one swap-in reads, read-ahead included: a window of 64
 * takes a stream's major faults down by a third against 16 with no more
 * pages read, for 256 KiB of bounce buffer per thread that swaps in */
#define GMM_BOUNCE_PAGES 64
struct swapd_ring *gmm_thread_ring(void);
uint8_t *gmm_thread_bounce(void);   /* swapio.c: GMM_BOUNCE_PAGES page-aligned pages */
void gmm_thread_io_exit(void);      /* a thread that did swap I/O ends */
/* Reclaim up to nr frames now (direct reclaim); returns frames freed. The
 * caller holds mms_lock for reading (a fault does); gmm_reclaim_pool takes
 * it, for callers outside a fault (tests acting between guest stages). */
uint64_t gmm_reclaim_direct(struct gmm_pool *p, uint64_t nr);
uint64_t gmm_reclaim_pool(struct gmm_pool *p, uint64_t nr);
/* Should kswapd reclaim now: free frames below the low watermark, and the
 * pool overcommitted (the guests' RAM is more than the pool)? */
bool gmm_kswapd_needed(const struct gmm_pool *p);
bool gmm_pool_overcommitted(const struct gmm_pool *p);
/* Reclaim up to nr frames of one guest, for its own limit (high or max),
 * ignoring its protections, as memcg limit reclaim does. mms_lock held. */
uint64_t gmm_reclaim_mm(struct gmm_pool *p, struct gmm_mm *mm, uint64_t nr);
/* A consistent-enough copy of the counters (each read atomically). */
void gmm_vmstat_read(struct gmm_pool *p, struct gmm_vmstat *out);
/* lru.c: put a frame on its owner's LRU list / take it off (pool lock held). */
void gmm_lru_add(struct gmm_pool *p, pfn_t pfn, enum gmm_lru_list lru);
void gmm_lru_del(struct gmm_pool *p, pfn_t pfn);

/* uffd.c */
int gmm_uffd_open(struct gmm_pool *p, const struct gmm_pool_config *cfg, char *err, size_t errlen);
void gmm_uffd_close(struct gmm_pool *p);

/* prezero.c */
int gmm_prezero_start(struct gmm_pool *p, int cpu);
bool gmm_prezero_has_work(const struct gmm_pool *p);
void gmm_prezero_stop(struct gmm_pool *p);
pfn_t gmm_ready_take(struct gmm_pool *p, unsigned order);

static inline void *gmm_pool_slot(const struct gmm_pool *p, pfn_t pfn)
{
	return p->base + (pfn << PAGE_SHIFT);
}

/* Free frames, pre-zeroed or not. The locked variant takes the pool lock. */
static inline uint64_t gmm_pool_nr_free(const struct gmm_pool *p)
{
	return __atomic_load_n(&p->nr_free_pages, __ATOMIC_RELAXED);
}
uint64_t gmm_pool_free_frames(struct gmm_pool *p);
/* What the pool's counters say, read under its lock: for summaries. */
struct gmm_pool_stats {
	uint64_t frames, free, free_prezeroed; /* free: buddy + ready + being zeroed */
	uint64_t wmark_min, wmark_low, wmark_high;
	uint64_t free_blocks[GMM_NR_ORDERS], allocs[GMM_NR_ORDERS];
	uint64_t splits, merges;
	uint64_t populated_pages, prezeroed_pages, allocs_prezeroed, allocs_not_prezeroed;
	uint64_t frames_lost;
};
void gmm_pool_stats_read(struct gmm_pool *p, struct gmm_pool_stats *out);

/* The buddy's consistency check plus the ready lists'. Takes the pool lock. */
int gmm_pool_check(struct gmm_pool *p);

#endif
