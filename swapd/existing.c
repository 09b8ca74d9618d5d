// SPDX-License-Identifier: MIT
/*
 * An existing swap file: whether it is ours to use, and making it ready.
 *
 * A file is at the path already, opened (swapfile.c) without following a
 * symbolic link and without waiting on a FIFO. It is used only if it is
 * plainly memvisor's to overwrite: a regular file, owned by the uid that
 * runs memvisor (root must not write guest memory into a file another user
 * can read, or that they chose for it), of mode exactly 0600 (a file that
 * others could read is refused rather than silently fixed: its contents may
 * have leaked already), and with a memvisor swap header (header.c), so that
 * a typo in -s cannot destroy somebody's file. Each refusal is one line that
 * names the file, says why and what to do. Nothing is written to it before
 * it passed all of that and is locked against other runs.
 *
 * A header that says "in use" is from a run that ended without
 * swapd_close(): its guest data is wiped before anything else happens.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG		SWAPD_PAGE_SIZE
#define seterr		mv_seterr

/* The checks an existing file must pass before it is locked, read or written. */
static int check_existing(const char *path, const struct stat *st, char *err, size_t errlen)
{
	unsigned mode = st->st_mode & 07777;

	if (S_ISDIR(st->st_mode))
		return seterr(err, errlen, -EISDIR, "swap file %s is a directory", path);
	if (!S_ISREG(st->st_mode))
		return seterr(err, errlen, -EINVAL, "swap file %s is not a regular file: refused; choose a new path",
			      path);
	if (st->st_uid != getuid())
		return seterr(err, errlen, -EPERM, "swap file %s belongs to uid %u, not to uid %u that runs memvisor: refused; use a file of your own",
			      path, (unsigned)st->st_uid, (unsigned)getuid());
	/* the hint is for a kept swap file whose mode was changed; any other
	 * file (say /etc/passwd) must not be chmod-ed on our say-so */
	if (mode & 077)
		return seterr(err, errlen, -EPERM, "swap file %s is accessible by others (mode %04o): refused; "
			      "chmod 600 it only if it is a memvisor swap file (made with ,keep), else choose a new path",
			      path, mode);
	if (mode != 0600)
		return seterr(err, errlen, -EPERM, "swap file %s has mode %04o, not 0600: chmod 600 it only if it is a "
			      "memvisor swap file (made with ,keep), else choose a new path", path, mode);
	return 0;
}

/* Check the file open at s->fd and lock it. */
static int check_and_lock(struct swapd *s, struct stat *st, char *err, size_t errlen)
{
	int ret, fl;

	if (fstat(s->fd, st))
		return seterr(err, errlen, -errno, "cannot stat swap file %s: %s", s->path, strerror(errno));
	ret = check_existing(s->path, st, err, errlen);
	if (!ret)
		ret = swapd_lock(s, err, errlen);
	if (ret)
		return ret;
	/* regular: O_NONBLOCK goes, as io_uring would turn it into -EAGAIN */
	fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK))
		return seterr(err, errlen, -errno, "cannot use swap file %s: %s", s->path, strerror(errno));
	return 0;
}

static int read_header(struct swapd *s, struct swapd_header *h, char *err, size_t errlen)
{
	int ret = swapd_header_read(s->fd, h);

	if (ret == -ENODATA)
		return seterr(err, errlen, -EEXIST, "%s is not a memvisor swap file (no header): refusing to overwrite it; remove it or choose a new path",
			      s->path);
	if (ret == -EPROTO)
		return seterr(err, errlen, ret, "swap file %s has a header of version %u, not %u: remove it or choose a new path",
			      s->path, h->version, SWAPD_HDR_VERSION);
	if (ret == -EUCLEAN)
		return seterr(err, errlen, ret, "swap file %s has a damaged header: remove it or choose a new path",
			      s->path);
	if (ret)
		return seterr(err, errlen, ret, "cannot read swap file %s: %s", s->path, strerror(-ret));
	return 0;
}

int swapd_existing_init(struct swapd *s, struct swapd_header *h, uint64_t *old_size,
			uint64_t req, uint64_t size, char *err, size_t errlen)
{
	struct stat st;
	uint64_t old;
	int ret;

	ret = check_and_lock(s, &st, err, errlen);
	if (!ret)
		ret = read_header(s, h, err, errlen);
	if (ret)
		return ret;
	old = (uint64_t)st.st_size;
	*old_size = old;
	/* a run ended without swapd_close: what it left goes before anything else */
	if (h->state == SWAPD_HDR_IN_USE) {
		uint64_t end = h->nr_slots < old / PG ? h->nr_slots : old / PG;

		ret = swapd_wipe(s->fd, 1, end);
		if (ret)
			return seterr(err, errlen, ret, "cannot wipe what an earlier run left in swap file %s: %s",
				      s->path, strerror(-ret));
	}
	if (!size)
		size = h->nr_slots * PG;
	if (size < SWAPD_MIN_SIZE)
		return seterr(err, errlen, -EINVAL, "swap size %llu bytes is too small: at least %llu",
			      (unsigned long long)req, (unsigned long long)SWAPD_MIN_SIZE);
	ret = swapd_allocate(s->fd, old, size);
	if (ret) {
		/* give the file back as it was (blocks allocated in holes stay) */
		if (size > old && ftruncate(s->fd, (off_t)old))
			return seterr(err, errlen, ret, "cannot extend swap file %s: %s, nor cut it back to %llu bytes",
				      s->path, strerror(-ret), (unsigned long long)old);
		return swapd_alloc_error(s->path, size, ret, err, errlen);
	}
	s->nr_slots = size / PG;
	return 0;
}
