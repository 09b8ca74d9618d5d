// SPDX-License-Identifier: MIT
/*
 * Per-thread swap I/O resources: io_uring rings are not shared between
 * threads, so each thread that reads or writes swap (the fault threads,
 * kswapd, a vCPU thread reading a hypercall buffer back) keeps its own ring
 * and bounce buffer, set up on first use and released when it ends.
 */
#include "pool.h"

#include <stdlib.h>

/* What a thread doing swap I/O keeps: its own io_uring (rings are not
 * shared between threads) and a bounce buffer for reads. Released by
 * gmm_thread_io_exit() when the thread ends. */
static __thread struct swapd_ring thread_ring;
static __thread uint8_t *thread_bounce;

struct swapd_ring *gmm_thread_ring(void)
{
	if (!thread_ring.ready && swapd_ring_init(&thread_ring, 64))
		return NULL;
	return &thread_ring;
}

uint8_t *gmm_thread_bounce(void)
{
	if (!thread_bounce && posix_memalign((void **)&thread_bounce, PAGE_SIZE,
					     GMM_BOUNCE_PAGES * PAGE_SIZE))
		thread_bounce = NULL;
	return thread_bounce;
}

void gmm_thread_io_exit(void)
{
	swapd_ring_exit(&thread_ring);
	free(thread_bounce);
	thread_bounce = NULL;
}
