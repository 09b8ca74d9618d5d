// SPDX-License-Identifier: MIT
#include "memvisor/cpu.h"

#include <sched.h>

int mv_pin_thread(pthread_t t, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(t, sizeof(set), &set);
}
