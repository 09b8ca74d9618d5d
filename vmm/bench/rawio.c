// SPDX-License-Identifier: MIT
/*
 * A raw io_uring write (see rawio.h): the cycle get_sqe -> prep -> submit ->
 * wait -> seen of the liburing examples, nothing else, timed in wall time and
 * in the thread's CPU time.
 */
#include "rawio.h"

#include "memvisor/time.h"
#include "memvisor/types.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Wait for at least one completion and take all there are: the number taken,
 * or -errno (a failed or short write counts as -EIO). */
static int raw_reap(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int n = 0, bad = 0, ret;

	do
		ret = io_uring_submit_and_wait(ring, 1);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		bad |= cqe->res != (int)PAGE_SIZE;
		io_uring_cqe_seen(ring, cqe);
		n++;
	}
	return bad ? -EIO : n;
}

static int raw_loop(struct io_uring *ring, int fd, uint64_t off, uint64_t pages, unsigned depth,
		    bool window, const uint8_t *buf)
{
	uint64_t next = 0, done = 0;

	while (done < pages) {
		/* a batch refills only once the last one is all back */
		bool refill = window || next == done;

		for (; refill && next < pages && next - done < depth; next++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			io_uring_prep_write(sqe, fd, buf + (next % depth) * PAGE_SIZE, PAGE_SIZE,
					    off + next * PAGE_SIZE);
		}
		int n = raw_reap(ring);

		if (n < 0)
			return n;
		done += (uint64_t)n;
	}
	return 0;
}

int bench_raw_write(int fd, uint64_t off, uint64_t pages, unsigned depth, bool window,
		    struct bench_rawio *out)
{
	struct io_uring ring;
	uint8_t *buf = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!depth || !pages)
		return -EINVAL;
	if (posix_memalign((void **)&buf, PAGE_SIZE, (size_t)depth * PAGE_SIZE))
		return -ENOMEM;
	ret = io_uring_queue_init(depth, &ring, 0);
	if (ret) {
		free(buf);
		return ret;
	}
	/* not zeros, which a file system or disk might elide */
	memset(buf, 0x5a, (size_t)depth * PAGE_SIZE);
	uint64_t t0 = mv_now_ns(), c0 = mv_thread_ns();

	ret = raw_loop(&ring, fd, off, pages, depth, window, buf);
	out->cpu_ns = mv_thread_ns() - c0;
	out->wall_ns = mv_now_ns() - t0;
	out->pages = ret ? 0 : pages;
	io_uring_queue_exit(&ring);
	free(buf);
	return ret;
}

int bench_raw_write_dir(const char *dir, uint64_t bytes, unsigned depth, bool window,
			struct bench_rawio *out)
{
	char path[4096];
	int fd, ret;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/memvisor-bench-raw-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlink(path);
	ret = fallocate(fd, 0, 0, (off_t)bytes) ? -errno : 0;
	if (!ret)
		ret = bench_raw_write(fd, 0, bytes / PAGE_SIZE, depth, window, out);
	close(fd);
	return ret;
}
