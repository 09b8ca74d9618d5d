/* SPDX-License-Identifier: MIT */
/* Pinning threads to CPUs: vCPUs, their fault threads, kswapd, zeroing. */
#ifndef MEMVISOR_CPU_H
#define MEMVISOR_CPU_H

#include <pthread.h>

/* Pin thread t to cpu; cpu < 0 leaves it where it is. 0 or -errno: callers
 * may ignore it, pinning being a hint for speed, never needed for being right. */
int mv_pin_thread(pthread_t t, int cpu);
static inline int mv_pin_self(int cpu)
{
	return mv_pin_thread(pthread_self(), cpu);
}

#endif
