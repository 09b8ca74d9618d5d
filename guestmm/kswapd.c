// SPDX-License-Identifier: MIT
/*
 * kswapd and the entry points of reclaim. kswapd wakes when free frames
 * fall below the low watermark and reclaims (vmscan.c) until they are above
 * the high one; after a round with no progress it looks again within 10 ms.
 * It works only while the pool is overcommitted: otherwise every guest's
 * RAM fits in it, no fault can want a frame that is not free, and the pages
 * it evicted would only fault back (gmm_kswapd_needed).
 * Direct reclaim is the same scan run by a fault that found no frame.
 */
#include "mm.h"
#include "vmscan.h"

#include "memvisor/cpu.h"
#include "memvisor/probes.h"
#include "memvisor/thread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t gmm_reclaim_direct(struct gmm_pool *p, uint64_t nr)
{
	if (!p->swap)
		return 0;
	gmm_count(p, direct_reclaims, 1);
	return gmm_shrink(p, NULL, nr, true);
}

uint64_t gmm_reclaim_mm(struct gmm_pool *p, struct gmm_mm *mm, uint64_t nr)
{
	if (!p->swap)
		return 0;
	gmm_count(p, direct_reclaims, 1);
	return gmm_shrink(p, mm, nr, true);
}

uint64_t gmm_reclaim_pool(struct gmm_pool *p, uint64_t nr)
{
	uint64_t freed;

	pthread_rwlock_rdlock(&p->mms_lock);
	freed = gmm_reclaim_direct(p, nr);
	pthread_rwlock_unlock(&p->mms_lock);
	return freed;
}

bool gmm_kswapd_needed(const struct gmm_pool *p)
{
	return gmm_pool_nr_free(p) < p->wmark_low && gmm_pool_overcommitted(p);
}

static void *kswapd_thread(void *arg)
{
	struct gmm_pool *p = arg;
	bool stuck = false;

	pthread_setname_np(pthread_self(), "mv-kswapd");
	mv_block_stop_signals();
	pthread_mutex_lock(&p->lock);
	while (!p->kswapd_stop) {
		if (!gmm_kswapd_needed(p) || stuck) {
			struct timespec ts;

			/* after a round without progress, look again in 10 ms at most */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (stuck)
				pthread_cond_timedwait(&p->kswapd_wake, &p->lock, &ts);
			else
				pthread_cond_wait(&p->kswapd_wake, &p->lock);
			stuck = false;
			continue;
		}
		gmm_count(p, kswapd_wakeups, 1);
		MV_PROBE(kswapd_wake, gmm_pool_nr_free(p), p->wmark_low, p->wmark_high);
		pthread_mutex_unlock(&p->lock);
		pthread_rwlock_rdlock(&p->mms_lock);
		while (!__atomic_load_n(&p->kswapd_stop, __ATOMIC_RELAXED) &&
		       gmm_pool_nr_free(p) < p->wmark_high && gmm_pool_overcommitted(p))
			if (!gmm_shrink(p, NULL, SWAP_CLUSTER_MAX, false)) {
				stuck = true;
				break;
			}
		pthread_rwlock_unlock(&p->mms_lock);
		MV_PROBE(kswapd_sleep, gmm_pool_nr_free(p), stuck);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	gmm_thread_io_exit();
	return NULL;
}

int gmm_pool_set_swap(struct gmm_pool *p, struct swapd *swap, int kswapd_cpu, char *err,
		      size_t errlen)
{
	int ret;

	if (!p->use_move) {
		snprintf(err, errlen, "swap needs UFFDIO_MOVE (Linux 6.8 or later) to age pages");
		return -ENOTSUP;
	}
	p->slots = malloc(swap->nr_slots * sizeof(*p->slots));
	if (!p->slots) {
		snprintf(err, errlen, "out of memory for %llu swap slots",
			 (unsigned long long)swap->nr_slots);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < swap->nr_slots; i++)
		p->slots[i] = (struct gmm_slot_info){ 0 };
	p->swap = swap;
	ret = pthread_create(&p->kswapd, NULL, kswapd_thread, p);
	if (ret) {
		snprintf(err, errlen, "cannot start kswapd: %s", strerror(ret));
		return -ret;
	}
	p->kswapd_running = true;
	mv_pin_thread(p->kswapd, kswapd_cpu);
	return 0;
}

void gmm_kswapd_stop(struct gmm_pool *p)
{
	if (p->kswapd_running) {
		pthread_mutex_lock(&p->lock);
		__atomic_store_n(&p->kswapd_stop, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&p->kswapd_wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->kswapd, NULL);
		p->kswapd_running = false;
	}
	free(p->slots);
	p->slots = NULL;
	p->swap = NULL;
}
