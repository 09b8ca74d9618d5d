/* SPDX-License-Identifier: MIT */
/*
 * The frame descriptor, memvisor's struct page: one per pool frame, and the
 * rules for who may change it. Every part of guestmm that touches a frame
 * follows them; GMM_BUG_ON (debug.h) checks them.
 */
#ifndef GUESTMM_FRAME_H
#define GUESTMM_FRAME_H

#include "memvisor/types.h"

#define GMM_NO_FRAME  ((pfn_t)UINT32_MAX)
#define GMM_NIL       UINT32_MAX   /* list end */

/* Frame flags, in the spirit of Linux's page flags. */
enum {
	GMM_PG_BUDDY     = 1u << 0, /* free, the head of a buddy block of 2^order frames */
	GMM_PG_ALLOC     = 1u << 1, /* handed out by the allocator */
	GMM_PG_LRU       = 1u << 2, /* on an LRU list */
	GMM_PG_ACTIVE    = 1u << 3, /* on the active list */
	GMM_PG_ISOLATED  = 1u << 9, /* taken off the LRU by reclaim, being worked on */
	GMM_PG_REFERENCED = 1u << 11, /* refaulted while isolated: put back active */
	/* read ahead from swap with its guest PTE's accessed bit clear, on the
	 * inactive list, not yet looked at by reclaim: never on the active
	 * list (gmm_lru_add clears it) */
	GMM_PG_AHEAD     = 1u << 12,
	/* armed and writeback are states of the EPT entry, not of the frame;
	 * a frame is in the swap cache while frame->swap (a slot, never 0) is set */
};

/*
 * One per pool frame: 32 bytes. Who may change what, as Linux writes beside
 * struct page. A frame is always in exactly one of these states, and its
 * owner in that state is the only one who may move it to the next:
 *
 *   free      on the buddy's free_area (GMM_PG_BUDDY) or a ready list:
 *             the pool lock. Its slot is empty, or (ready lists only) holds
 *             a zeroed page: a free frame never holds a guest's data.
 *   fresh     just allocated (GMM_PG_ALLOC, not on the LRU): the caller of
 *             gmm_pool_alloc, until it installs the page (-> mapped) or
 *             gives the frame back.
 *   mapped    installed in a guest (its EPT entry present, this pfn) and
 *   armed     or unmapped to watch for a refault (entry GMM_EPT_ARMED, the
 *             page back in the slot): the guest's mm lock for gpa, swap and
 *             the entry; the pool lock for the LRU links and flags.
 *   isolated  taken off the LRU by reclaim (GMM_PG_ISOLATED): the reclaimer
 *             alone, which puts it back, or frees it once its page is
 *             written or dropped. A refault meanwhile only sets
 *             GMM_PG_REFERENCED; teardown excludes reclaimers (reclaim_lock).
 *
 * Every write of flags, next, prev and order is made under the pool lock
 * (flags is one word: two lock holders may not both write its bits).
 * owner is set by the allocator and cleared by gmm_pool_free (pool lock);
 * gpa and swap by the mm lock of the owner. GMM_BUG_ON checks these rules
 * at every transition in debug builds.
 */
struct gmm_frame {
	uint32_t flags;    /* GMM_PG_*: pool lock */
	uint16_t owner;    /* guest (mm slot + 1), 0 for none: pool lock */
	uint8_t order;     /* block order while GMM_PG_BUDDY or on a ready list: pool lock */
	uint8_t spare;
	uint32_t next;     /* a free list while free, an LRU list while in use: pool lock */
	uint32_t prev;
	gpa_t gpa;         /* where it is installed in its owner: owner's mm lock */
	uint64_t swap;     /* the slot it was read from and still matches (swap cache), or 0:
			    * owner's mm lock */
};

#endif
