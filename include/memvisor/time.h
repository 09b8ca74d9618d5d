/* SPDX-License-Identifier: MIT */
/* Clocks, in nanoseconds. */
#ifndef MEMVISOR_TIME_H
#define MEMVISOR_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC: wall time for intervals. */
uint64_t mv_now_ns(void);
/* CPU time of the calling thread: what a handler cost, not counting the
 * threads a wake-up let run on its CPU meanwhile. */
uint64_t mv_thread_ns(void);

#endif
