// SPDX-License-Identifier: MIT
/* A thread that calls a function at a steady pace until stopped: the
 * --stats sampler's and the progress line's. */
#include "stats.h"

#include <errno.h>
#include <time.h>

static void ticker_add(struct timespec *ts, uint64_t ns)
{
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

static void *ticker_thread(void *arg)
{
	struct stats_ticker *t = arg;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	ticker_add(&next, t->delay_ns);
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		if (pthread_cond_timedwait(&t->cond, &t->lock, &next) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&t->lock);
		t->tick(t->arg);
		pthread_mutex_lock(&t->lock);
		/* from the last deadline, not from now: the ticks keep their pace */
		ticker_add(&next, t->interval_ns);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int stats_ticker_start(struct stats_ticker *t, uint64_t delay_ns, uint64_t interval_ns,
		       void (*tick)(void *arg), void *arg)
{
	pthread_condattr_t ca;
	int ret;

	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	t->stop = false;
	t->delay_ns = delay_ns;
	t->interval_ns = interval_ns;
	t->tick = tick;
	t->arg = arg;
	ret = pthread_create(&t->thread, NULL, ticker_thread, t);
	t->running = !ret;
	return -ret;
}

void stats_ticker_stop(struct stats_ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = false;
}
