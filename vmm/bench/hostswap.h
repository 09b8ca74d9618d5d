/* SPDX-License-Identifier: MIT */
/*
 * The kernel baseline for overcommit benchmarks: run a command (memvisor run
 * --host-mm ...) in a fresh memory cgroup limited to the pool size, with a
 * host swap file of its own, and report what Linux's reclaim did.
 */
#ifndef BENCH_HOSTSWAP_H
#define BENCH_HOSTSWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hostswap_spec {
	char *const *argv;        /* the command to run (argv[0] an absolute path), e.g. memvisor run --host-mm ... */
	uint64_t mem_limit;       /* bytes of memory the cgroup may use */
	uint64_t swap_size;       /* bytes of host swap file to create for the run */
	const char *swap_dir;     /* directory for the swap file (same filesystem as memvisor's swap) */
	bool quiet;               /* send the child's stdout/stderr to /dev/null */
	int out_fd;               /* > 0: the child's stdout goes here instead (its stderr as quiet says) */
	unsigned lock_wait_ms;    /* while another run holds the lock: wait this long for it (0: -EBUSY at once) */
	bool no_limit;            /* a floor: run it as it is, no cgroup, no swap file, no root needed
	                           * (mem_limit, swap_size and swap_dir are not used) */
};

struct hostswap_result {
	int status;               /* the child's exit status, or -1 if killed by a signal */
	double wall_s;            /* fork to exit */
	uint64_t majfault;        /* major faults of the child (from wait4's rusage ru_majflt) */
	uint64_t minfault;        /* and its minor faults (ru_minflt) */
	uint64_t pswpin, pswpout; /* pages, deltas of /proc/vmstat over the run (global: the machine is otherwise idle) */
	uint64_t read_bytes, write_bytes; /* swap I/O over the run: pswpin/pswpout * page size */
	uint64_t user_us, sys_us; /* child's CPU time (rusage) */
};

/*
 * Set up (swap file: fallocate, chmod 600, swap header, swapon; cgroup: a
 * fresh group named memvisor-bench-<pid>-<n>, with the limit), run argv in
 * the cgroup (the child joins it before exec), wait, collect, and always tear
 * down (rmdir the cgroup, swapoff, unlink), even on errors. 0, or -errno with
 * one line in err. With no_limit, only the run and what it cost. -EBUSY if a host swap device is already active or another
 * run is in progress: the numbers would mix with it.
 */
int hostswap_run(const struct hostswap_spec *spec, struct hostswap_result *res,
		     char *err, size_t errlen);

/*
 * Whether this machine can run it at all (root, a memory cgroup controller,
 * kernel swap support, no swap active); 0 or -errno with the reason in err.
 */
int hostswap_check(char *err, size_t errlen);

#endif
