/* SPDX-License-Identifier: MIT */
/*
 * The raw io_uring write the swap figures are judged against: the least a
 * swap-out of the same pages could cost on the same file, with no reclaim,
 * no slot map and no vectoring around it. Shared by bench overcommit and
 * bench faultpath.
 */
#ifndef BENCH_RAWIO_H
#define BENCH_RAWIO_H

#include <stdbool.h>
#include <stdint.h>

struct bench_rawio {
	uint64_t pages;          /* written in full */
	uint64_t wall_ns;        /* first submission to last completion */
	uint64_t cpu_ns;         /* the writing thread's CPU time over the same span */
};

/*
 * Write pages 4 KiB pages (fd should be O_DIRECT, off 4 KiB-aligned), one
 * sqe each, at most depth in flight. window: refill the ring as completions
 * come (a steady queue depth); otherwise submit depth writes together and
 * wait for all of them before the next batch, as a reclaim batch goes
 * through swapd_write. 0, or -errno (a short or failed write: no figure
 * rather than a wrong one).
 */
int bench_raw_write(int fd, uint64_t off, uint64_t pages, unsigned depth, bool window,
		    struct bench_rawio *out);

/* The same to a fresh file in dir (O_DIRECT, fallocated, unlinked at once). */
int bench_raw_write_dir(const char *dir, uint64_t bytes, unsigned depth, bool window,
			struct bench_rawio *out);

static inline double bench_rawio_bps(const struct bench_rawio *r)
{
	return r->wall_ns ? r->pages * 4096.0 / (r->wall_ns / 1e9) : 0;
}

#endif
