// SPDX-License-Identifier: MIT
/*
 * What a swap file that outlives the run holds besides guest pages: the
 * header in slot 0, and nothing at all where guest pages were.
 *
 * The header is what makes a file memvisor's to overwrite, as mkswap's
 * signature is for swapon: an existing file without one is somebody's data
 * (a typo in -s), never swap. It also says whether a run may still have
 * guest pages in the file: SWAPD_HDR_IN_USE is on disk before the first
 * guest page can be, and goes back to SWAPD_HDR_CLEAN only once every slot
 * written to has been wiped and that has reached the disk. A run that ends
 * without swapd_close() (kill -9, a crash) leaves IN_USE behind, and the
 * next open wipes every slot before it uses the file.
 *
 * Wiping punches the slots out of the file (the blocks go back to the
 * filesystem; the next open allocates them again) or, where punching is not
 * supported, writes zeros over them. The header's page and the buffer of
 * zeros are page-aligned so that both work on an O_DIRECT descriptor.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define PG SWAPD_PAGE_SIZE

static const char magic[sizeof(((struct swapd_header *)0)->magic)] = SWAPD_HDR_MAGIC;

int swapd_header_init(struct swapd_header *h, uint64_t nr_slots)
{
	ssize_t n;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, magic, sizeof(h->magic));
	h->version = SWAPD_HDR_VERSION;
	h->page_size = PG;
	h->nr_slots = nr_slots;
	h->state = SWAPD_HDR_IN_USE;
	do
		n = getrandom(h->uuid, sizeof(h->uuid), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(h->uuid) ? 0 : -EIO;
}

static int check(const struct swapd_header *h)
{
	if (memcmp(h->magic, magic, sizeof(h->magic)))
		return -ENODATA;
	if (h->version != SWAPD_HDR_VERSION)
		return -EPROTO;
	if (h->page_size != PG || h->nr_slots < 2 || h->nr_slots > INT64_MAX / PG ||
	    (h->state != SWAPD_HDR_CLEAN && h->state != SWAPD_HDR_IN_USE))
		return -EUCLEAN;
	return 0;
}

int swapd_header_read(int fd, struct swapd_header *h)
{
	void *page = NULL;
	ssize_t n;

	if (posix_memalign(&page, PG, PG))
		return -ENOMEM;
	do
		n = pread(fd, page, PG, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		free(page);
		return (int)n;
	}
	memset(h, 0, sizeof(*h));
	memcpy(h, page, (size_t)n < sizeof(*h) ? (size_t)n : sizeof(*h));
	free(page);
	return (size_t)n < sizeof(*h) ? -ENODATA : check(h);
}

int swapd_header_write(int fd, const struct swapd_header *h)
{
	void *page = NULL;
	ssize_t n;

	if (posix_memalign(&page, PG, PG))
		return -ENOMEM;
	memset(page, 0, PG);
	memcpy(page, h, sizeof(*h));
	do
		n = pwrite(fd, page, PG, 0);
	while (n < 0 && errno == EINTR);
	free(page);
	if (n != (ssize_t)PG)
		return n < 0 ? -errno : -EIO;
	return fdatasync(fd) ? -errno : 0;
}

int swapd_write_zeros(int fd, uint64_t from, uint64_t to)
{
	enum { CHUNK = 1 << 20 };
	char *zero = aligned_alloc(PG, CHUNK);
	int ret = 0;

	if (!zero)
		return -ENOMEM;
	memset(zero, 0, CHUNK);
	while (from < to) {
		size_t len = to - from < CHUNK ? to - from : CHUNK;
		ssize_t n = pwrite(fd, zero, len, (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		from += (uint64_t)n;
	}
	free(zero);
	return ret;
}

int swapd_wipe(int fd, uint64_t first, uint64_t end)
{
	off_t off = (off_t)(first * PG), len = (off_t)((end - first) * PG);
	int ret;

	if (end <= first)
		return 0;
	do
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) ? -errno : 0;
	while (ret == -EINTR);
	if (ret != -EOPNOTSUPP && ret != -ENOSYS)
		return ret;
	return swapd_write_zeros(fd, (uint64_t)off, (uint64_t)(off + len));
}

static bool written(const struct swapd *s, uint64_t slot)
{
	return s->written[slot / 64] & (1ULL << (slot % 64));
}

/* Every run of slots written to, wiped; the caller holds no lock (I/O is over). */
int swapd_wipe_written(struct swapd *s)
{
	uint64_t slot = 1, end;
	int ret;

	while (slot < s->nr_slots) {
		if (!s->written[slot / 64]) {
			slot = (slot / 64 + 1) * 64; /* a word of slots never written */
			continue;
		}
		if (!written(s, slot)) {
			slot++;
			continue;
		}
		for (end = slot + 1; end < s->nr_slots && written(s, end); end++)
			;
		ret = swapd_wipe(s->fd, slot, end);
		if (ret)
			return ret;
		slot = end;
	}
	return 0;
}

void swapd_wipe_close(struct swapd *s)
{
	struct swapd_header h;

	/* the wipe on disk before the header says so, or a crash could leave
	 * "clean" over guest data */
	if (swapd_wipe_written(s) || fdatasync(s->fd) || swapd_header_read(s->fd, &h))
		return;
	h.state = SWAPD_HDR_CLEAN;
	(void)swapd_header_write(s->fd, &h);
}
