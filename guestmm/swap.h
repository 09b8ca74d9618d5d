/* SPDX-License-Identifier: MIT */
/*
 * guestmm's side of swap: what it keeps per slot of the swap device (which
 * guest page a slot holds, which frame caches it, when it was evicted), the
 * software EPT entries of pages that are not simply present, and the
 * vmstat-like counters of reclaim and swap.
 */
#ifndef GUESTMM_SWAP_H
#define GUESTMM_SWAP_H

#include "ept/ept.h"
#include "swapd/swapd.h"
#include "memvisor/types.h"

/* Non-present EPT entries (software), besides 0 and swap entries. */
#define GMM_EPT_PENDING  (1ULL << 61)  /* a fault thread is installing the page */
#define GMM_EPT_ARMED    (1ULL << 60)  /* unmapped to watch for a refault; frame in bits 12..51 */
#define GMM_EPT_WB       (1ULL << 59)  /* being written to swap; frame in bits 12..51 */
#define GMM_EPT_ZMAP     (1ULL << 58)  /* read, never written: the host's zero page, write-protected */
#define GMM_SWP_FILE     0             /* swap entry types */
#define GMM_SWP_ZERO     1             /* an all-zero page: no slot, nothing written */

static inline bool gmm_ept_armed(uint64_t e) { return !ept_present(e) && (e & GMM_EPT_ARMED); }
static inline bool gmm_ept_wb(uint64_t e) { return !ept_present(e) && (e & GMM_EPT_WB); }
static inline bool gmm_ept_zmap(uint64_t e) { return e == GMM_EPT_ZMAP; }
static inline uint64_t gmm_ept_mk(uint64_t kind, pfn_t pfn) { return kind | (pfn << PAGE_SHIFT); }
static inline bool gmm_ept_zero(uint64_t e) { return ept_is_swp(e) && ept_swp_type(e) == GMM_SWP_ZERO; }
static inline bool gmm_ept_slot(uint64_t e) { return ept_is_swp(e) && ept_swp_type(e) == GMM_SWP_FILE; }

/* What guestmm knows of one slot (the swap-cache side is the frame's: its
 * swap field). Written by the owning guest's mm lock holder; owner and gpa
 * are also read (atomically) by other guests' read-ahead, which trusts
 * them only once its own EPT entry agrees. */
struct gmm_slot_info {
	uint32_t stamp;    /* nonresident age at eviction, for refault distance */
	uint16_t owner;    /* guest (mm slot + 1) whose page it holds */
	gpa_t gpa;
};

/* Counters in the spirit of /proc/vmstat, per pool. Only uint64_t fields:
 * each is written with gmm_count() (atomic) and read with gmm_vmstat_read(). */
struct gmm_vmstat {
	uint64_t pgmajfault;         /* faults that read from swap */
	uint64_t pgscan_kswapd, pgscan_direct;   /* inactive frames looked at */
	uint64_t pgsteal_kswapd, pgsteal_direct; /* frames freed */
	uint64_t pswpin, pswpout;    /* pages read from / written to swap */
	uint64_t swapcache_hit;      /* swap-ins found in memory */
	uint64_t clean_dropped;      /* evictions with no write: clean swap-cache pages */
	uint64_t zero_elided;        /* evictions of all-zero pages: no slot, no write */
	uint64_t armed;              /* pages unmapped to watch for a refault */
	uint64_t arm_moves;          /* ioctls that armed them (runs of neighbours) */
	uint64_t activate;           /* armed pages the guest touched again (minor refaults) */
	uint64_t deactivate;         /* active pages aged to inactive */
	uint64_t workingset_refault; /* swap-ins of evicted pages */
	uint64_t workingset_activate;/* of which recent enough to go straight to active */
	uint64_t readahead;          /* pages read with a swap-in they were not faulted for */
	uint64_t readahead_addr;     /* of which found by guest address (the rest by slot) */
	uint64_t readahead_used;     /* read-ahead pages touched when reclaim first saw them */
	uint64_t readahead_unused;   /* and not touched: evicted at once */
	uint64_t swap_full;          /* evictions given up: no free slot */
	uint64_t write_errors, read_errors;  /* read_errors: demand swap-ins that failed */
	uint64_t readahead_errors;   /* read-ahead reads that failed: dropped, the page stays on swap */
	uint64_t free_reported;      /* pages guests reported free (free-page reporting) */
	uint64_t free_returned;      /* frames that came back to the pool for them */
	uint64_t kswapd_wakeups, direct_reclaims, allocstall;
	uint64_t reclaim_ns;         /* CPU time spent reclaiming (thread CPU time) */
	uint64_t reclaim_prio_min;   /* the highest priority (lowest number) reclaim needed */
};

#define gmm_count(p, field, n) __atomic_add_fetch(&(p)->vm.field, (uint64_t)(n), __ATOMIC_RELAXED)

#endif
