/* SPDX-License-Identifier: MIT */
/*
 * swapd: the swap device. A host file that memvisor owns (created 0600 and
 * fully allocated up front, or an existing one), a slot map in the spirit of
 * Linux's swap_map (a use count per 4 KiB slot, slots grouped in clusters so
 * that a batch of evictions lands in neighbouring slots), and batched I/O
 * through io_uring. Slots and I/O only: which page goes where is guestmm's
 * policy. Slot 0 is never handed out (as Linux keeps the header page), so a
 * slot number is never 0.
 */
#ifndef SWAPD_SWAPD_H
#define SWAPD_SWAPD_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWAPD_PAGE_SIZE      4096u
#define SWAPD_CLUSTER_SLOTS  256u      /* as Linux's SWAPFILE_CLUSTER */
#define SWAPD_MAP_BAD        0xff      /* swap_map value of a retired slot */
#define SWAPD_MAP_MAX        0xfe      /* highest use count */

enum {
	SWAPD_KEEP    = 1u << 0, /* leave the file in place at close */
	SWAPD_BUFFERED = 1u << 1, /* do not try O_DIRECT */
};

struct swapd_stats {
	uint64_t writes, reads;            /* pages done (successfully) */
	uint64_t write_batches, read_batches; /* submissions: calls with n > 0 */
	uint64_t write_errors, read_errors; /* pages failed (invalid, injected included) */
	uint64_t retired;                  /* slots retired after a write error */
	uint64_t injected;                 /* errors that were injected */
	uint64_t write_ns, read_ns;        /* wall time spent in swapd_write / swapd_read */
};

struct swapd {
	int fd;
	char *path;
	bool created;            /* we made the file (and remove it unless KEEP) */
	bool unlinked;           /* removed from its directory at open: it dies with the fd */
	bool direct;             /* O_DIRECT in use (else buffered, and reported) */
	unsigned flags;
	uint64_t nr_slots;       /* file size / 4 KiB; slot 0 unused */

	pthread_mutex_t lock;    /* protects the slot map, clusters, counters */
	uint8_t *swap_map;       /* per-slot use count; SWAPD_MAP_BAD = retired */
	uint64_t inuse;          /* slots with a count > 0 (retired ones included) */
	uint64_t *cluster_free;  /* free slots per cluster */
	uint64_t nr_clusters;
	uint64_t cur_cluster;    /* where the next allocation looks first */
	struct swapd_stats stats;
	/* test-only fault injection: fail the n-th next write / read (1-based; 0 = off) */
	uint64_t inject_write, inject_read;
};

/* One page of I/O: slot <-> a page-aligned 4 KiB buffer. res is 0 or -errno. */
struct swapd_io {
	uint64_t slot;
	void *buf;
	int res;
};

/* An io_uring for one thread's swap I/O (rings are not shared between threads). */
struct swapd_ring {
	struct io_uring ring;
	unsigned depth;
	bool ready;
	/* test-only: submissions to fail with -EINTR, or to let take one sqe */
	unsigned inject_eintr, inject_short;
};

/* Open or create path as a swap device of size bytes (rounded down to 4 KiB;
 * for an existing file 0 means its size). A new file is created 0600 and
 * fully allocated (fallocate, else written); an existing file must be a
 * regular file of at least 2 slots and not readable by others. -errno with
 * one line in err. */
int swapd_open(struct swapd *s, const char *path, uint64_t size, unsigned flags,
	       char *err, size_t errlen);
/* Close; remove the file if created here and not SWAPD_KEEP (such a file
 * is unlinked at open already, so that nothing outlives the process). */
void swapd_close(struct swapd *s);

/* Allocate n slots with count 1, preferring neighbours in the current
 * cluster, then a free cluster, then any free slot. Returns how many were
 * allocated (< n when the device is full). */
unsigned swapd_slot_alloc(struct swapd *s, uint64_t *slots, unsigned n);
/* Add or drop a use of a slot; at count 0 the slot is free again. A retired
 * slot stays retired (put returns 0, get -EINVAL). -EINVAL for slot 0, out
 * of range or a free slot; get of a count at SWAPD_MAP_MAX gives -EOVERFLOW. */
int swapd_slot_get(struct swapd *s, uint64_t slot);
int swapd_slot_put(struct swapd *s, uint64_t slot);
/* Take a slot out of use for good (a write to it failed): it stays counted
 * in inuse, never free again. The caller retires; swapd_write() never does. */
void swapd_slot_retire(struct swapd *s, uint64_t slot);
/* The use count; SWAPD_MAP_BAD if retired; 0 for slot 0 and out of range. */
unsigned swapd_slot_count(struct swapd *s, uint64_t slot);
uint64_t swapd_free_slots(struct swapd *s);

int swapd_ring_init(struct swapd_ring *r, unsigned depth);
void swapd_ring_exit(struct swapd_ring *r);
/* Submit every io of the batch on r and wait for all of them; each io gets
 * its own res (short transfers are resumed; -EAGAIN retried). Returns the
 * number that failed. A bad slot or buffer fails that io alone (-EINVAL);
 * a ring not set up fails them all. Should the ring itself fail, it is torn
 * down (ready false) and may be set up again. */
unsigned swapd_write(struct swapd *s, struct swapd_ring *r, struct swapd_io *io, unsigned n);
unsigned swapd_read(struct swapd *s, struct swapd_ring *r, struct swapd_io *io, unsigned n);

/* Test-only: make the nth next write (or read) fail with -EIO; 0 turns it off. */
void swapd_inject(struct swapd *s, bool write, uint64_t nth);
/* Test-only: the next eintr submissions on r fail with -EINTR before they
 * reach the kernel, and the next shorts let the kernel take only one of the
 * sqes queued (as it may); 0, 0 turns it off. */
void swapd_ring_inject(struct swapd_ring *r, unsigned eintr, unsigned shorts);

#endif
