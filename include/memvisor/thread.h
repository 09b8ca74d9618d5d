/* SPDX-License-Identifier: MIT */
/* Helper threads and the signals that stop a run. */
#ifndef MEMVISOR_THREAD_H
#define MEMVISOR_THREAD_H

#include <signal.h>

/*
 * Called first by every thread memvisor starts (vCPUs, fault threads,
 * kswapd, zeroing): SIGINT, SIGTERM and SIGHUP go to the main thread alone,
 * whose handler ends the run in order, so that a signal never interrupts a
 * batch of reclaim or I/O halfway. SIGUSR1 (the vCPU kick) stays open.
 */
static inline void mv_block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

#endif
