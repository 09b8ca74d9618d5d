// SPDX-License-Identifier: MIT
/*
 * Batched swap I/O through io_uring.
 *
 * A batch of page I/Os is pushed through the ring a window at a time: at
 * most r->depth of them are in flight, so a batch larger than the ring goes
 * in chunks, each freed place being refilled as completions come back. The
 * call returns only once every I/O it submitted has completed: the buffers
 * are the caller's and the kernel must be done with them.
 *
 * A completion is not always the end of its I/O. A short transfer is
 * resubmitted for the rest of the page, and -EAGAIN/-EINTR for the whole of
 * what is left; only a real error or the full 4 KiB finishes it. While an
 * I/O is in the ring its res holds 1 + the bytes done so far, so that
 * res > 0 always means "still ours to finish" and no side table is needed;
 * when the call returns res is 0 or -errno as the header says.
 *
 * Checks and fault injection come first, under s->lock: an I/O with a bad
 * slot or buffer, or the one picked by swapd_inject(), fails without
 * reaching the file, and the rest of the batch goes ahead. A write that
 * passes marks its slot in s->written, for the wipe at close. The counters are
 * added up at the end, under the lock again, since several threads may do
 * I/O on one device, each with its own ring.
 *
 * Neither io_uring call ends a batch early by itself: both are retried on
 * -EINTR (a signal to the thread), a short submission leaves the rest of
 * the sqes in the SQ ring for the next one (and only what the kernel took
 * is waited for), and -EAGAIN/-EBUSY from a full ring waits for some
 * completions first. This holds on both paths, the vectored one below and
 * the page-by-page one.
 *
 * Should the ring itself fail (io_uring_submit or io_uring_wait_cqe with an
 * error that no retry helps), what is already in the kernel is still waited
 * for, everything else fails with that error, and the ring is torn down
 * (ready false): later batches on it fail at once with -EINVAL, and the
 * thread may set it up again with swapd_ring_init().
 */
#include "internal.h"

#include "memvisor/probes.h"
#include "memvisor/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct batch {
	struct swapd *s;
	struct swapd_ring *r;
	struct swapd_io *io;
	unsigned n;
	unsigned next;      /* first io not yet taken into the ring */
	unsigned inflight;  /* taken and not finished, queued ones included */
	unsigned queued;    /* prepared sqes not yet submitted */
	int err;            /* the ring broke: fail instead of (re)submitting */
	bool write;
};

int swapd_ring_init(struct swapd_ring *r, unsigned depth)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (!depth)
		return -EINVAL;
	ret = io_uring_queue_init(depth, &r->ring, 0);
	if (ret)
		return ret;
	r->depth = depth;
	r->ready = true;
	return 0;
}

void swapd_ring_exit(struct swapd_ring *r)
{
	if (r->ready)
		io_uring_queue_exit(&r->ring);
	r->ready = false;
}

/*
 * io_uring_submit(), or what the test hooks of swapd_ring_inject() make of
 * it: a short one publishes every queued sqe, as io_uring_submit() does,
 * but asks the kernel to take one, which leaves the rest in the SQ ring for
 * the next submission, as a real short submission does.
 */
static int ring_submit(struct swapd_ring *r)
{
	struct io_uring_sq *sq = &r->ring.sq;
	long ret;

	if (r->inject_eintr) {
		r->inject_eintr--;
		return -EINTR;
	}
	if (!r->inject_short || io_uring_sq_ready(&r->ring) < 2)
		return io_uring_submit(&r->ring);
	r->inject_short--;
	sq->sqe_head = sq->sqe_tail;
	io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	ret = syscall(__NR_io_uring_enter, r->ring.ring_fd, 1, 0, 0, NULL, 0);
	return ret < 0 ? -errno : (int)ret;
}

void swapd_ring_inject(struct swapd_ring *r, unsigned eintr, unsigned shorts)
{
	r->inject_eintr = eintr;
	r->inject_short = shorts;
}

/* Each io either fails here (res < 0) or is made pending (res = 1). */
static void precheck(struct batch *b)
{
	struct swapd *s = b->s;
	uint64_t *inject = b->write ? &s->inject_write : &s->inject_read;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < b->n; i++) {
		struct swapd_io *io = &b->io[i];

		if (!io->slot || io->slot >= s->nr_slots || !io->buf ||
		    ((uintptr_t)io->buf & (SWAPD_PAGE_SIZE - 1))) {
			io->res = -EINVAL;
		} else if (*inject && !--*inject) {
			io->res = -EIO; /* the n-th page op: never reaches the file */
			s->stats.injected++;
		} else {
			io->res = 1;
			/* whatever becomes of it, the slot may hold data now */
			if (b->write && s->written)
				s->written[io->slot / 64] |= 1ULL << (io->slot % 64);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static void finish(struct batch *b, struct swapd_io *io, int res)
{
	io->res = res;
	b->inflight--;
}

/* Prepare an sqe for what is left of io's page. */
static void queue(struct batch *b, struct swapd_io *io)
{
	struct io_uring_sqe *sqe;
	unsigned done = (unsigned)io->res - 1;
	uint64_t off = io->slot * SWAPD_PAGE_SIZE + done;
	char *buf = (char *)io->buf + done;

	if (b->err) {
		finish(b, io, b->err);
		return;
	}
	/* never NULL: in flight + queued stays within depth <= the SQ size */
	sqe = io_uring_get_sqe(&b->r->ring);
	if (!sqe) {
		finish(b, io, -EBUSY);
		return;
	}
	if (b->write)
		io_uring_prep_write(sqe, b->s->fd, buf, SWAPD_PAGE_SIZE - done, off);
	else
		io_uring_prep_read(sqe, b->s->fd, buf, SWAPD_PAGE_SIZE - done, off);
	io_uring_sqe_set_data(sqe, io);
	b->queued++;
}

/* Take ios of the batch into the ring while it has room. */
static void fill(struct batch *b)
{
	while (b->next < b->n && b->inflight < b->r->depth) {
		struct swapd_io *io = &b->io[b->next++];

		if (io->res <= 0)
			continue; /* failed its precheck */
		if (b->err) {
			io->res = b->err;
			continue;
		}
		b->inflight++;
		queue(b, io);
	}
}

static void complete(struct batch *b, struct swapd_io *io, int res)
{
	if (res == -EAGAIN || res == -EINTR) {
		queue(b, io); /* nothing was transferred: the same again */
	} else if (res < 0) {
		finish(b, io, res);
	} else if (res == 0) {
		finish(b, io, -EIO); /* end of file: no progress to resume from */
	} else {
		io->res += res;
		if ((unsigned)io->res - 1 >= SWAPD_PAGE_SIZE)
			finish(b, io, 0);
		else
			queue(b, io); /* short: the rest of the page */
	}
}

/* Wait for at least one completion, then take all that are there. */
static int reap(struct batch *b)
{
	struct io_uring *ring = &b->r->ring;
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	if (ret)
		return ret;
	do {
		struct swapd_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(ring, cqe);
		complete(b, io, res);
	} while (!io_uring_peek_cqe(ring, &cqe));
	return 0;
}

/* Submit what is queued; -errno only when the ring cannot go on. */
static int submit(struct batch *b)
{
	while (b->queued) {
		int ret = ring_submit(b->r);

		if (ret > 0) {
			b->queued -= (unsigned)ret < b->queued ? (unsigned)ret : b->queued;
			continue;
		}
		if (ret == -EINTR)
			continue;
		/* out of request memory or CQ backlog: make room, try again */
		if ((ret == -EAGAIN || ret == -EBUSY) && b->inflight > b->queued) {
			ret = reap(b);
			if (!ret)
				continue;
		}
		return ret ? ret : -EIO;
	}
	return 0;
}

/* Fail every io still pending (res > 0) with err. */
static void fail_pending(struct batch *b, int err)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->io[i].res > 0)
			b->io[i].res = err;
}

/*
 * The ring failed with err: wait for what the kernel already has (its
 * buffers are in use until then), fail the rest, queued sqes included,
 * since they will never be submitted now, and tear the ring down.
 */
static void abandon(struct batch *b, int err)
{
	b->err = err;
	while (b->inflight > b->queued)
		if (reap(b))
			break;
	fail_pending(b, err);
	b->inflight = b->queued = 0;
	swapd_ring_exit(b->r);
}

static void run(struct batch *b)
{
	int ret;

	while (b->next < b->n || b->inflight) {
		fill(b);
		ret = submit(b);
		if (!ret && b->inflight)
			ret = reap(b);
		if (ret) {
			abandon(b, ret);
			return;
		}
	}
}

/*
 * Runs of neighbouring slots go out first as one vectored request each: one
 * doorbell of the virtual disk and one larger transfer instead of one per
 * page (the doorbell is a trap to the hypervisor here, and the costliest part
 * of a 4 KiB request). A run that does not complete whole is left pending for
 * the page-by-page path, which redoes it: the same bytes to the same place.
 */
#define VEC_RUN_MAX 64

struct vec_run {
	unsigned first, count;
	struct iovec iov[VEC_RUN_MAX];
};

static unsigned vec_find_runs(struct batch *b, struct vec_run *runs, unsigned max)
{
	unsigned nr = 0;

	for (unsigned i = 0; i < b->n && nr < max;) {
		unsigned j = i + 1;

		if (b->io[i].res != 1) {
			i++;
			continue;
		}
		while (j < b->n && j - i < VEC_RUN_MAX && b->io[j].res == 1 &&
		       b->io[j].slot == b->io[j - 1].slot + 1)
			j++;
		if (j - i >= 2) {
			runs[nr].first = i;
			runs[nr].count = j - i;
			for (unsigned k = i; k < j; k++)
				runs[nr].iov[k - i] = (struct iovec){ b->io[k].buf, SWAPD_PAGE_SIZE };
			nr++;
		}
		i = j;
	}
	return nr;
}

/* Wait for one vectored completion (a signal is no reason to stop) and take it. */
static int vec_reap(struct batch *b)
{
	struct io_uring_cqe *cqe;
	struct vec_run *run;
	int ret;

	do
		ret = io_uring_wait_cqe(&b->r->ring, &cqe);
	while (ret == -EINTR);
	if (ret)
		return ret;
	run = io_uring_cqe_get_data(cqe);
	if (cqe->res == (int)(run->count * SWAPD_PAGE_SIZE))
		for (unsigned k = 0; k < run->count; k++)
			b->io[run->first + k].res = 0;
	io_uring_cqe_seen(&b->r->ring, cqe);
	return 0;
}

/*
 * Submit the nr runs queued and wait for them. The kernel may take fewer
 * sqes than are queued (the rest stay in the SQ ring for the next call),
 * and a signal may interrupt either call: neither ends the batch, and only
 * what was taken is waited for. -errno if the ring broke, once whatever the
 * kernel took has completed: the buffers are in its hands until then.
 */
static int vec_submit_wait(struct batch *b, unsigned nr)
{
	unsigned sent = 0, got = 0;
	int ret = 0;

	while (got < nr) {
		if (sent < nr) {
			ret = ring_submit(b->r);
			if (ret > 0) {
				sent = sent + (unsigned)ret < nr ? sent + (unsigned)ret : nr;
				continue;
			}
			if (ret == -EINTR)
				continue;
			/* out of request memory or CQ backlog: room comes with completions */
			if ((ret != -EAGAIN && ret != -EBUSY) || got == sent)
				break;
		}
		ret = vec_reap(b);
		if (ret)
			break;
		got++;
	}
	if (got == nr)
		return 0;
	while (got < sent && !vec_reap(b))
		got++;
	return ret ? ret : -EIO;
}

static void vectored(struct batch *b)
{
	struct vec_run *runs = malloc(b->r->depth * sizeof(*runs));
	unsigned nr = runs ? vec_find_runs(b, runs, b->r->depth) : 0, left = nr;
	int ret;

	for (unsigned i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&b->r->ring);
		uint64_t off = b->io[runs[i].first].slot * SWAPD_PAGE_SIZE;

		if (!sqe) {
			left = i;
			break;
		}
		if (b->write)
			io_uring_prep_writev(sqe, b->s->fd, runs[i].iov, runs[i].count, off);
		else
			io_uring_prep_readv(sqe, b->s->fd, runs[i].iov, runs[i].count, off);
		io_uring_sqe_set_data(sqe, &runs[i]);
	}
	ret = left ? vec_submit_wait(b, left) : 0;
	free(runs);
	/* the ring is broken: the batch fails as on the page path (the runs
	 * still queued go with the ring) */
	if (ret)
		abandon(b, ret);
}

static unsigned account(struct batch *b)
{
	struct swapd_stats *st = &b->s->stats;
	unsigned failed = 0;

	for (unsigned i = 0; i < b->n; i++)
		failed += b->io[i].res != 0;
	pthread_mutex_lock(&b->s->lock);
	if (b->write) {
		st->writes += b->n - failed;
		st->write_batches++;
		st->write_errors += failed;
	} else {
		st->reads += b->n - failed;
		st->read_batches++;
		st->read_errors += failed;
	}
	pthread_mutex_unlock(&b->s->lock);
	return failed;
}

static unsigned do_io(struct swapd *s, struct swapd_ring *r, struct swapd_io *io,
		      unsigned n, bool write)
{
	struct batch b = { .s = s, .r = r, .io = io, .n = n, .write = write };

	if (!n || !io)
		return 0;
	uint64_t t0 = mv_now_ns();
	unsigned failed;

	MV_PROBE(swap_submit, write, n, io[0].slot);
	precheck(&b);
	if (r->ready)
		vectored(&b);
	if (r->ready)
		run(&b);
	else
		fail_pending(&b, -EINVAL); /* never set up, or torn down when it broke */
	failed = account(&b);
	MV_PROBE(swap_complete, write, n, failed, mv_now_ns() - t0);
	/* wall time with the batch in flight: what throughput is measured by */
	pthread_mutex_lock(&s->lock);
	*(write ? &s->stats.write_ns : &s->stats.read_ns) += mv_now_ns() - t0;
	pthread_mutex_unlock(&s->lock);
	return failed;
}

unsigned swapd_write(struct swapd *s, struct swapd_ring *r, struct swapd_io *io, unsigned n)
{
	return do_io(s, r, io, n, true);
}

unsigned swapd_read(struct swapd *s, struct swapd_ring *r, struct swapd_io *io, unsigned n)
{
	return do_io(s, r, io, n, false);
}

void swapd_inject(struct swapd *s, bool write, uint64_t nth)
{
	pthread_mutex_lock(&s->lock);
	if (write)
		s->inject_write = nth;
	else
		s->inject_read = nth;
	pthread_mutex_unlock(&s->lock);
}
