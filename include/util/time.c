// SPDX-License-Identifier: MIT
#include "memvisor/time.h"

#include <time.h>

static uint64_t time_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t mv_now_ns(void)
{
	return time_ns(CLOCK_MONOTONIC);
}

uint64_t mv_thread_ns(void)
{
	return time_ns(CLOCK_THREAD_CPUTIME_ID);
}
