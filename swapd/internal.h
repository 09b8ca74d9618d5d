/* SPDX-License-Identifier: MIT */
/*
 * swapd internals shared between its files and nowhere else: swapfile.c
 * opens the file (existing.c vets one that is there already) and then hands
 * the sized device to slots.c, which owns the slot map, the clusters and
 * the lock; header.c reads and writes the header of a file that outlives the
 * run and wipes guest data out of it.
 */
#ifndef SWAPD_INTERNAL_H
#define SWAPD_INTERNAL_H

#include "swapd.h"

#include "memvisor/err.h"

#define SWAPD_MIN_SIZE (2 * (uint64_t)SWAPD_PAGE_SIZE) /* slot 0 and one usable slot */

/*
 * The header in slot 0 of a file that outlives the run, in host byte order,
 * the rest of its page zero. A file is memvisor's swap file only with it.
 */
#define SWAPD_HDR_MAGIC    "memvisor swap\0\0"  /* 16 bytes with the final NUL */
#define SWAPD_HDR_VERSION  1u

enum {
	SWAPD_HDR_CLEAN  = 1, /* no guest data in the file */
	SWAPD_HDR_IN_USE = 2, /* a run may have left guest data in it */
};

struct swapd_header {
	char magic[16];
	uint32_t version;
	uint32_t page_size;
	uint64_t nr_slots;   /* the file's slots, slot 0 (this page) included */
	uint8_t uuid[16];    /* from getrandom() when the file was made */
	uint32_t state;      /* SWAPD_HDR_* */
	uint32_t reserved;
};

/* swapfile.c */

/* Back bytes [0, size) of fd with blocks; old is its current size. */
int swapd_allocate(int fd, uint64_t old, uint64_t size);
/* The line for a failed swapd_allocate(); returns ret. */
int swapd_alloc_error(const char *path, uint64_t size, int ret, char *err, size_t errlen);
/* An OFD write lock on the whole of s->fd; -EBUSY if another run holds it. */
int swapd_lock(struct swapd *s, char *err, size_t errlen);

/* existing.c: a file open at s->fd (O_NONBLOCK) checked, locked, its header
 * read into h, what a killed run left wiped, size allocated (0: the header's
 * size). *old_size is its size before, for the caller's undo. 0 or -errno
 * with one line in err. */
int swapd_existing_init(struct swapd *s, struct swapd_header *h, uint64_t *old_size,
			uint64_t req, uint64_t size, char *err, size_t errlen);

/* slots.c */

/* Set up the slot map for s->nr_slots slots, all free but slot 0. */
int swapd_slots_init(struct swapd *s);
/* Free what swapd_slots_init set up; safe on a device it never reached. */
void swapd_slots_fini(struct swapd *s);

/* header.c */

/* A new header for nr_slots: IN_USE, a fresh UUID. -errno from getrandom. */
int swapd_header_init(struct swapd_header *h, uint64_t nr_slots);
/* Read and check the header of fd. 0; -ENODATA no header (no magic, or the
 * file is shorter than one); -EPROTO another version (h->version says which);
 * -EUCLEAN a field out of range; other -errno from the read. */
int swapd_header_read(int fd, struct swapd_header *h);
/* Write h into slot 0 and fdatasync: it is on disk when this returns 0. */
int swapd_header_write(int fd, const struct swapd_header *h);
/* Zeros over bytes [from, to); from and to page-aligned on an O_DIRECT fd. */
int swapd_write_zeros(int fd, uint64_t from, uint64_t to);
/* Slots [first, end) punched out of the file, or zeros written over them. */
int swapd_wipe(int fd, uint64_t first, uint64_t end);
/* swapd_wipe() of every slot s->written has a bit for; no I/O may be running. */
int swapd_wipe_written(struct swapd *s);
/* At close: every slot written to wiped, then the header marked clean; should
 * either fail, the header still says in use and the next open wipes it all. */
void swapd_wipe_close(struct swapd *s);

#endif
