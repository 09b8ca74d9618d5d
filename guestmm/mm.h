/* SPDX-License-Identifier: MIT */
/*
 * One guest's memory, as mm_struct is one process's: its VMAs over
 * guest-physical space, its EPT table (GPA -> frame), its counters, and the
 * userfaultfd through which it learns that the guest touched a page that has
 * no frame yet. The VMM hands it an ops struct for what it must ask of the
 * VMM (ending the guest); it never calls the VMM otherwise.
 */
#ifndef GUESTMM_MM_H
#define GUESTMM_MM_H

#include "pool.h"
#include "vma.h"
#include "ept/ept.h"

#include <pthread.h>

enum gmm_kill {
	GMM_KILL_OOM,    /* no memory to be had for it */
	GMM_KILL_FAULT,  /* it touched memory it does not have, or a fault failed */
};

struct gmm_guest_ops {
	/* End the guest with a one-line reason. Called from the fault thread. */
	void (*kill)(void *guest, enum gmm_kill why, const char *reason);
	/* KVM's dirty log of guest RAM (with manual protect): fill bitmap (one
	 * bit per RAM page) with the pages written since their bit was last
	 * cleared; clear and write-protect npages from gpa. NULL: no dirty log. */
	int (*dirty_get)(void *guest, uint64_t *bitmap);
	int (*dirty_clear)(void *guest, gpa_t gpa, uint64_t npages);
	/* The accessed bit of the guest PTEs of RAM pages: clear it for npages
	 * from gpa before they are put in ahead of use (swap read-ahead); test
	 * whether the guest touched one since. NULL: pages read ahead are not
	 * told from pages used. */
	void (*young_clear)(void *guest, gpa_t gpa, uint64_t npages);
	bool (*young_test)(void *guest, gpa_t gpa);
};


enum gmm_prefault {
	GMM_PREFAULT_NONE,  /* every page comes through the fault path */
	GMM_PREFAULT_ALL,   /* install all of RAM before the guest starts */
};

/* Per-guest limits, in frames, with memcg's semantics (memory.min, .low,
 * .high, .max): min is never reclaimed by global reclaim; low only once
 * nothing unprotected is left; over high the guest reclaims its own pages
 * in its fault path; max is hard: its own pages are reclaimed, then it is
 * killed as out of memory. 0 means none (for high and max: no limit). */
struct gmm_limits {
	uint64_t min, low, high, max;
};

/* As memory.events: how often each limit acted. Atomic adds, any thread. */
struct gmm_mm_events {
	uint64_t low;       /* reclaimed below its low protection */
	uint64_t high;      /* faults that found it over high: reclaimed its own */
	uint64_t max;       /* faults that found it at max: reclaimed its own */
	uint64_t oom;       /* max reached with nothing of its own to reclaim */
	uint64_t oom_kill;  /* killed for it */
};

struct gmm_mm_config {
	uint64_t ram_size;          /* RAM is GPA [0, ram_size) */
	uint8_t *ram_hva;           /* its host mapping, to be registered with userfaultfd */
	unsigned fault_around;      /* most pages one fault installs (power of two); 1: none */
	enum gmm_prefault prefault;
	/* a read of a page never written maps the host's zero page instead of a
	 * frame, while the pool is overcommitted (as Linux maps the zero page on
	 * a read fault of anonymous memory): zeropage.c */
	bool zero_reads;
	bool zero_reads_racy;       /* several vCPUs: one may write in the gap (zeropage.c) */
	struct gmm_limits limits;
	int oom_score_adj;          /* -1000 (never the OOM killer's choice) .. 1000 */
	const char *name;           /* for the OOM killer's report */
	const struct gmm_guest_ops *ops;
	void *guest;
};

/* Fault outcomes, a bitmask as Linux's VM_FAULT_* */
enum {
	GMM_FAULT_NOPAGE   = 1u << 0, /* installed: the faulting thread can go on */
	GMM_FAULT_SPURIOUS = 1u << 1, /* already installed (a racing fault won) */
	GMM_FAULT_SIGBUS   = 1u << 2, /* no VMA, or one that cannot be faulted */
	GMM_FAULT_OOM      = 1u << 3, /* no frame to be had */
	GMM_FAULT_ERROR    = 1u << 4, /* the install itself failed */
	GMM_FAULT_RETRY    = 1u << 5, /* no frame now: reclaim, then try again */
	GMM_FAULT_IOERR    = 1u << 6, /* reading it from swap failed */
	GMM_FAULT_AGAIN    = 1u << 7, /* waited for an I/O on the page: look again */
	GMM_FAULT_LIMIT    = 1u << 8, /* at its limit.max: reclaim its own pages first */
};

struct gmm_fault_stats {
	uint64_t faults;         /* page-fault events handled (pgfault) */
	uint64_t spurious;
	uint64_t installed;      /* pages installed by faults, fault-around included */
	uint64_t around;         /* of which were neighbours (fault-around) */
	uint64_t prefaulted;     /* pages installed before the guest ran */
	uint64_t swapins;        /* faults that read from swap (pgmajfault) */
	uint64_t refaults;       /* faults on armed pages: minor, no I/O */
	uint64_t zero_mapped;    /* pages a read mapped to the zero page (no frame) */
	uint64_t zero_cow;       /* writes to such a page: it got a frame then */
	uint64_t zero_raced;     /* written before it was protected: the kernel's copy became a frame */
	uint64_t install_calls;  /* UFFDIO_MOVE / UFFDIO_COPY ioctls */
	uint64_t retries;        /* ioctls retried after EAGAIN */
	uint64_t reported;       /* pages the guest reported free (gave back) */
	uint64_t returned;       /* frames that came back to the pool for them */
	/* the working-set estimate (workingset.c), in pages: the memory an LRU
	 * needs for 75% of the run's reuses to hit, and of its last 256 reuses */
	uint64_t wss_pages, wss_recent_pages;
	uint64_t wss_reuses;     /* sampled reuses seen */
	uint64_t wss_stride;     /* RAM pages per sample */
	uint64_t wss_arms;       /* samples the sampler armed (one move each) */
	uint64_t wss_faults;     /* of which the guest touched: its extra minor faults */
	/* handler CPU time by stage, summed (ns): find VMA + EPT, frames, the install ioctl */
	uint64_t ns_lookup, ns_alloc, ns_install, ns_handler;
};

/* A sequential stream of faults (one per vCPU walking its slice, say): where
 * its next fault would land and how large its window has grown. */
#define GMM_RA_STREAMS 8
struct gmm_ra_stream {
	gpa_t next;
	unsigned window;
	uint64_t last_use;
};

struct gmm_mm {
	struct gmm_mm_config cfg;
	struct gmm_pool *pool;         /* NULL: host-managed RAM (--host-mm) */
	bool committed;                /* its RAM is counted in pool->committed */
	bool registered;               /* its RAM is registered with the pool's userfaultfd */
	bool zero_reads;               /* cfg.zero_reads, and registered for write-protect faults too */
	int slot;                      /* its index in pool->mms, -1 if none */
	bool stopped;                  /* no more faults are routed to it */
	bool dying;                    /* being torn down: reclaim leaves it alone */
	bool oom_victim;               /* chosen by the OOM killer: no new frames (atomic) */
	bool oom_reaped;               /* and its memory given back (atomic) */
	pthread_cond_t wb_done;        /* an install, a swap read or a writeback of one of its pages finished (mm lock) */
	uint64_t *dirty;               /* dirty-log bitmap, read by reclaim (mm lock) */
	uint64_t dirty_batch;          /* the reclaim batch it was read for */
	uint64_t swapin_next;          /* the slot a sequential swap-in would read next */
	gpa_t swapin_next_gpa;         /* the GPA a swap-in continuing a stream would fault at */
	unsigned swapin_window;        /* swap readahead window, pages */
	/* pages read ahead that reclaim found used and unused (decaying), for
	 * the size of swap cluster read-ahead; swap-ins so far (mm lock) */
	uint64_t ra_used, ra_unused, swapin_nr;
	/* its LRU lists (Linux's per-memcg lruvec), linked through its frames:
	 * the pool lock, as every frame's links are */
	struct gmm_list lru[GMM_NR_LRU];
	struct gmm_mm_events events;
	struct gmm_wss *wss;           /* workingset.c's sampler, or NULL (mm lock; set at start) */

	pthread_mutex_t lock;          /* protects everything below (mmap_lock and ptl in one) */
	struct gmm_vma_tree vmas;
	struct ept_table ept;
	uint64_t total_vm, locked_vm;  /* bytes */
	uint64_t rss, hiwater_rss;     /* frames */
	uint64_t swap_ents;
	uint64_t charging;             /* frames taken for installs still in flight */
	struct gmm_fault_stats fs;
	struct gmm_ra_stream ra[GMM_RA_STREAMS]; /* fault-around: sequential streams */
	uint64_t ra_clock;

};

/* pool NULL: host-managed RAM, VMAs and counters only. -errno with err set. */
int gmm_mm_create(struct gmm_pool *pool, const struct gmm_mm_config *cfg,
		  struct gmm_mm **out, char *err, size_t errlen);
int gmm_mm_add_vma(struct gmm_mm *mm, const struct gmm_vma *vma);
/* Install all RAM now if the config asks (--prefault all), then let faults in. */
int gmm_mm_start(struct gmm_mm *mm, char *err, size_t errlen);
/* Once the vCPUs have stopped: wait for faults of this guest in hand to
 * finish, so that the counters are final, and take no more. */
void gmm_mm_stop(struct gmm_mm *mm);
/* Stop faults, give every frame back (the host pages are dropped,
 * so the frames are zero when next used), free tables. */
void gmm_mm_destroy(struct gmm_mm *mm);

/* A copy of the VMA containing gpa; false if none. Takes the mm lock. */
bool gmm_mm_vma_at(struct gmm_mm *mm, gpa_t gpa, struct gmm_vma *out);
/* The EPT entry for gpa (0 if none). Takes the mm lock. */
uint64_t gmm_mm_ept_entry(struct gmm_mm *mm, gpa_t gpa);

/* access.c: memvisor reading guest RAM (hypercall arguments). Pages with
 * no frame are faulted in, never touched through the userfaultfd. 0;
 * -EFAULT outside RAM; -ENOMEM no frame could be had (the guest should end
 * as out of memory); -EIO reading it from swap failed; -ESRCH the guest is
 * stopped; -EAGAIN reclaim kept taking the page. */
int gmm_mm_read(struct gmm_mm *mm, gpa_t gpa, void *buf, size_t len);

/* discard.c: the guest gave [gpa, +npages) back (free-page reporting):
 * frames to the pool, slots freed, entries empty; *returned frames came
 * back. Holds reclaim_lock, so not from a fault path. 0 or -EINVAL. */
int gmm_mm_discard(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *returned);

/* oom.c: no frame for mm's fault even after reclaim: choose the guest with
 * the highest badness (rss + swap entries + EPT table pages, adjusted by
 * oom_score_adj; -1000 never), end it, and give its frames and slots back
 * at once. Returns the victim (mm itself, possibly), or NULL if no guest
 * may be chosen. mms_lock held for reading, no mm lock. */
struct gmm_mm *gmm_oom_kill(struct gmm_pool *p, struct gmm_mm *mm, const char *cause);
/* A victim chosen (by another fault thread) is still being reaped: its
 * memory is on its way back, so a fault should try again, not fail, as
 * Linux's OOM killer waits for a victim it already chose. mms_lock held. */
bool gmm_oom_reaping(struct gmm_pool *p);
/* discard.c: give back every frame and slot of a victim now (the OOM
 * reaper). mms_lock held for reading. */
void gmm_mm_reap(struct gmm_mm *mm);

/* workingset.c: the guest's working-set estimate (pages it reused lately,
 * from sampled reuse distances; see the file). gmm_mm_wss: the estimate so
 * far (fs.wss_pages), at any time, from any thread; takes the mm lock.
 * gmm_wss_start (from gmm_mm_start) starts the sampler's tick thread,
 * gmm_wss_stop stops it (the estimate stays), gmm_wss_destroy frees it.
 * gmm_wss_fault: a fault on gpa (mm lock held) is seen as an access;
 * gmm_wss_refault: the armed page at gpa was armed by the sampler (then the
 * refault is the sampler's, not reclaim's). */
uint64_t gmm_mm_wss(struct gmm_mm *mm);
int gmm_wss_start(struct gmm_mm *mm);
void gmm_wss_stop(struct gmm_mm *mm);
void gmm_wss_destroy(struct gmm_mm *mm);
void gmm_wss_fault(struct gmm_mm *mm, gpa_t gpa);
bool gmm_wss_refault(struct gmm_mm *mm, gpa_t gpa);
/* A page mapped without a fault of the guest (swap read-ahead): a sample is
 * armed at once, or the guest's use of it would go unseen. mm lock held. */
void gmm_wss_installed(struct gmm_mm *mm, gpa_t gpa);
/* The same for the pages of [start, end) but skip (fault-around's
 * neighbours of the faulting page). mm lock held. */
void gmm_wss_installed_range(struct gmm_mm *mm, gpa_t start, gpa_t end, gpa_t skip);

/* describe.c: what an entry of this mm's EPT table means, in words */
void gmm_ept_describe(uint64_t e, char *buf, size_t len);

/* fault.c (mms_lock held for reading, as a fault thread holds it) */
unsigned gmm_handle_fault(struct gmm_mm *mm, gpa_t gpa, bool write);
/* limits.c: frames the guest may still take under its limit.max (mm lock
 * held); a fault at limit.max (0: try again, or the outcome), with no
 * frame anywhere (the OOM killer; 0: try again), over limit.high after it
 * (reclaim the excess). mm lock held, dropped around reclaim. */
uint64_t gmm_mm_headroom(const struct gmm_mm *mm);
unsigned gmm_fault_over_max(struct gmm_mm *mm, unsigned *stuck);
unsigned gmm_fault_oom(struct gmm_mm *mm);
void gmm_fault_over_high(struct gmm_mm *mm);
/* fault.c's parts that zeropage.c shares (mm lock held): the pages from gpa
 * (not beyond end) whose entries are empty, in a row; every entry of
 * [gpa, +npages) set to val; a fault on an empty page, with fault-around */
uint64_t gmm_fault_empty_run(struct gmm_mm *mm, gpa_t gpa, gpa_t end);
int gmm_fault_mark(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t val);
unsigned gmm_fault_anon(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa);
int gmm_fault_record(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t npages);
/* zeropage.c (mm lock held; dropped around the ioctls): does a read of an
 * empty page get the zero page; map it there (and after it); zap the
 * zero pages among [gpa, end) a window may fill, 0 or -errno */
bool gmm_zero_read(const struct gmm_mm *mm, bool write);
unsigned gmm_fault_zeromap(struct gmm_mm *mm, const struct gmm_vma *vma, gpa_t gpa);
int gmm_unzero_range(struct gmm_mm *mm, gpa_t gpa, gpa_t end);
/* swapin.c: faults on armed and swapped-out pages; mm lock held (may be dropped) */
unsigned gmm_fault_armed(struct gmm_mm *mm, gpa_t gpa, uint64_t *e);
unsigned gmm_fault_swapin(struct gmm_mm *mm, gpa_t gpa, uint64_t *e);
/* swapin.c: reclaim's verdict on a page read ahead: used or not. mm lock held. */
void gmm_swapin_ra_judged(struct gmm_mm *mm, bool used);
/* 2^order frames whose slots are empty, for pages that will not come from
 * the slots (owned by mm); GMM_NO_FRAME if none. mm lock held. */
pfn_t gmm_alloc_empty_frames(struct gmm_mm *mm, unsigned order);
int gmm_prefault_range(struct gmm_mm *mm, gpa_t start, gpa_t end);
/* uffd.c */
int gmm_uffd_register(struct gmm_mm *mm, char *err, size_t errlen);
void gmm_uffd_unregister(struct gmm_mm *mm);
/* install.c */
struct gmm_install_cost {
	uint64_t ns_install, calls, retries;
	bool timed;              /* read the clocks: a sampled fault (fault.c) */
};
/* UFFDIO_MOVE of len bytes from src to dst (page aligned, dst registered),
 * or UFFDIO_COPY (the kernel copies src into new pages at dst); resumed
 * after partial progress. Bytes done (maybe fewer than len), or -errno. */
int64_t gmm_uffd_move(struct gmm_pool *p, uint64_t dst, uint64_t src, uint64_t len);
int64_t gmm_uffd_copy(struct gmm_pool *p, uint64_t dst, uint64_t src, uint64_t len);
int64_t gmm_uffd_install(struct gmm_mm *mm, gpa_t gpa, pfn_t pfn, uint64_t npages, bool zeroed,
			 struct gmm_install_cost *cost);
/* Wake whoever waits for a page of [gpa, +npages) of guest RAM, to fault
 * again (an install that stopped short woke only the pages it put in).
 * 0 or -errno. */
int gmm_uffd_wake(struct gmm_mm *mm, gpa_t gpa, uint64_t npages);
/* Map the host's zero page, write-protected, at the empty pages [gpa,
 * +npages), then wake whoever waits there: a later write to one comes back
 * as a write-protect fault. Pages mapped (maybe fewer), or -errno. Pages a
 * write reached before the protection (the kernel gave them a private copy)
 * are left writable and their bits set in raced (npages bits, zeroed by
 * the caller), for the caller to give them frames. */
int64_t gmm_uffd_zeromap(struct gmm_mm *mm, gpa_t gpa, uint64_t npages, uint64_t *raced);
/* /proc/self/pagemap, opened once; -1 if it cannot be */
int gmm_pagemap_fd(void);

#endif
