// SPDX-License-Identifier: MIT
/*
 * Pre-zeroing, as Windows' zero-page thread does: free frames whose slots
 * are empty cost the fault path a page allocation and a clear (~1.5 us a page
 * here) before they can be moved into a guest. A thread on another CPU takes
 * blocks from the buddy allocator, populates their slots (the kernel hands
 * out zeroed pages) and keeps them on per-order ready lists, so that a fault
 * finds frames ready to move. Ready frames are free frames: they count in
 * the pool's free total and go first to any allocation. The thread starts
 * with the first allocation, keeps at most ready_target frames ready and
 * sleeps until allocations drain them.
 */
#include "pool.h"

#include "memvisor/cpu.h"
#include "memvisor/thread.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>

#define PREZERO_ORDER 9 /* 2 MiB at a time */

static void ready_push(struct gmm_pool *p, pfn_t pfn, unsigned order)
{
	p->frames[pfn].next = p->ready[order];
	p->frames[pfn].order = (uint8_t)order;
	p->ready[order] = (uint32_t)pfn;
	p->nr_ready += 1ULL << order;
}

/* A pre-zeroed block of 2^order frames, split from a larger one if need be;
 * GMM_NO_FRAME if none. Pool lock held. */
pfn_t gmm_ready_take(struct gmm_pool *p, unsigned order)
{
	unsigned j = order;
	pfn_t pfn;

	while (j < GMM_READY_ORDERS && p->ready[j] == GMM_NIL)
		j++;
	if (j >= GMM_READY_ORDERS)
		return GMM_NO_FRAME;
	pfn = p->ready[j];
	p->ready[j] = p->frames[pfn].next;
	p->nr_ready -= 1ULL << j;
	/* the upper halves stay ready, as the buddy's expand() does */
	while (j > order) {
		j--;
		ready_push(p, pfn + (1ULL << j), j);
	}
	return pfn;
}

/* Is there work for the thread? Allocations and frees wake it only then:
 * each wake-up for nothing costs the waker a futex call and the thread a
 * context switch (on every fault, once the pool is down to its reserve).
 * Pool lock held. */
bool gmm_prezero_has_work(const struct gmm_pool *p)
{
	/* nothing before the first allocation: a guest that never touches its
	 * RAM (most CI guests) should cost no zeroing; and an overcommitted pool
	 * keeps its free frames for reclaim to refill */
	return p->ready_hits + p->ready_misses > 0 && p->nr_ready < p->ready_target &&
	       p->buddy.nr_free > p->wmark_high;
}

/* The largest block it may take: never so much that the buddy drops below
 * the high watermark on its account. Pool lock held. */
static unsigned zerod_order(const struct gmm_pool *p)
{
	uint64_t spare = p->buddy.nr_free - p->wmark_high;
	unsigned order = 0;

	while (order < PREZERO_ORDER && (2ULL << order) <= spare)
		order++;
	return MIN(order, (unsigned)gmm_buddy_max_free_order(&p->buddy));
}

static void *zerod_thread(void *arg)
{
	struct gmm_pool *p = arg;

	pthread_setname_np(pthread_self(), "mv-zerod");
	mv_block_stop_signals();
	mv_pin_self(p->zerod_cpu);
	pthread_mutex_lock(&p->lock);
	while (!p->zerod_stop) {
		if (!gmm_prezero_has_work(p)) {
			pthread_cond_wait(&p->zerod_wake, &p->lock);
			p->zerod_wakeups++;
			continue;
		}
		unsigned order = zerod_order(p);
		pfn_t pfn = gmm_buddy_alloc(&p->buddy, order);

		if (pfn == GMM_NO_FRAME)
			continue;
		p->nr_zeroing = 1ULL << order;
		gmm_pool_sync_free(p);
		pthread_mutex_unlock(&p->lock);
		int ret = madvise(gmm_pool_slot(p, pfn), PAGE_SIZE << order, MADV_POPULATE_WRITE);
		pthread_mutex_lock(&p->lock);
		p->nr_zeroing = 0;
		if (ret)
			gmm_buddy_free(&p->buddy, pfn, order);
		else
			ready_push(p, pfn, order);
		gmm_pool_sync_free(p);
		p->prezeroed_pages += ret ? 0 : 1ULL << order;
		pthread_cond_broadcast(&p->zerod_done);
		if (ret)
			break; /* the host is short of memory: leave it to the fault path */
	}
	p->zerod_exited = true;
	pthread_cond_broadcast(&p->zerod_done);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int gmm_prezero_start(struct gmm_pool *p, int cpu)
{
	int ret;

	p->zerod_cpu = cpu;
	/* enough that a fault stream doubling up to 2 MiB windows never waits */
	p->ready_target = MIN(p->nr_frames / 4, (uint64_t)16384);
	ret = pthread_create(&p->zerod, NULL, zerod_thread, p);
	if (ret)
		return -ret;
	p->zerod_running = true;
	return 0;
}

void gmm_prezero_stop(struct gmm_pool *p)
{
	if (!p->zerod_running)
		return;
	pthread_mutex_lock(&p->lock);
	p->zerod_stop = true;
	pthread_cond_signal(&p->zerod_wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->zerod, NULL);
	p->zerod_running = false;
}
