/* SPDX-License-Identifier: MIT */
/*
 * swapd: the swap device. A host file that memvisor owns (made 0600 and
 * fully allocated up front, or an existing memvisor swap file), a slot map in the spirit of
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
	SWAPD_KEEP     = 1u << 0, /* a new file gets a name and a header, and stays */
	SWAPD_BUFFERED = 1u << 1, /* do not try O_DIRECT */
	SWAPD_NO_TMPFILE = 1u << 2, /* test-only: as if the filesystem had no O_TMPFILE */
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
	bool created;            /* made by this open, not an existing file */
	bool unlinked;           /* made without a name (no KEEP): it dies with the fd */
	bool direct;             /* O_DIRECT in use (else buffered, and reported) */
	unsigned flags;
	uint64_t nr_slots;       /* size in use / 4 KiB; slot 0 unused */

	pthread_mutex_t lock;    /* protects the slot map, clusters, counters */
	uint8_t *swap_map;       /* per-slot use count; SWAPD_MAP_BAD = retired */
	uint64_t inuse;          /* slots with a count > 0 (retired ones included) */
	uint64_t *cluster_free;  /* free slots per cluster */
	uint64_t nr_clusters;
	uint64_t cur_cluster;    /* where the next allocation looks first */
	struct swapd_stats stats;
	/* a bit per slot a write was sent to, wiped at close; NULL when the
	 * file dies with the fd (unlinked) */
	uint64_t *written;
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

/*
 * Open or make path as a swap device of size bytes (rounded down to 4 KiB).
 * Guest memory goes into it, and memvisor runs as root, so:
 *
 *  - path, when it exists, is used only if it is a regular file (not a
 *    symbolic link, which is never followed, nor a FIFO or device, which
 *    are never waited on), owned by the caller's uid, of mode exactly 0600,
 *    with the header of a memvisor swap file and not in use by another run.
 *    size 0 means the size its header gives; a larger size extends it, a
 *    smaller one uses only the start. A file a run left with guest data in
 *    it (killed before swapd_close) is wiped before it is used.
 *  - path, when it does not exist, needs size (at least 2 slots). A new file
 *    is made without a name (O_TMPFILE, or a fresh name removed at once),
 *    0600 whatever the umask, fully allocated. Without SWAPD_KEEP it never
 *    gets one: it dies with the descriptor, however the process ends. With
 *    SWAPD_KEEP it gets a header and is linked at path, whole, as the last
 *    step; should a file appear at path meanwhile, that one is used as an
 *    existing file instead (and is then most likely in use).
 *  - the file is locked (an OFD lock, whole file) before anything is written
 *    to it, until swapd_close().
 *
 * 0, or -errno with one line in err naming path: -ELOOP a symbolic link;
 * -EISDIR a directory; -EINVAL not a regular file, or too small; -EPERM
 * another owner or a mode other than 0600; -EEXIST a file without a
 * memvisor header; -EPROTO, -EUCLEAN a header of another version, or
 * damaged; -EBUSY in use by another run; -ENOENT no file and no size, or no
 * directory; -ENOSPC, -EDQUOT, -EFBIG no room for size; -EAGAIN a file kept
 * appearing at path and going again; else the errno of the step that
 * failed. On failure nothing is left: a new file is gone, an existing one
 * is cut back to its old size (only a run's leftover guest data, wiped,
 * stays wiped).
 */
int swapd_open(struct swapd *s, const char *path, uint64_t size, unsigned flags,
	       char *err, size_t errlen);
/* Close. A file that outlives the run (kept or existing) has every slot
 * that was written to punched out (or zeroed) and its header marked clean,
 * so that no guest data stays on disk; should that fail, the header still
 * says in use and the next swapd_open() wipes every slot. A file without a
 * name just goes with the descriptor. Safe to call twice. */
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
