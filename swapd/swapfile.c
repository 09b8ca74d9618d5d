// SPDX-License-Identifier: MIT
/*
 * Opening and closing the swap file.
 *
 * Guest memory goes into this file, so it is treated like a private key: a
 * new file is created O_EXCL (never someone else's file, nor a symlink they
 * planted) and fchmod()ed to 0600 whatever the umask, and an existing file
 * that group or others can access in any way is refused rather than
 * silently fixed, since its contents may already have leaked.
 *
 * The whole size is allocated up front (fallocate, or zeros written where
 * the filesystem cannot fallocate) so that running out of disk shows up
 * here, as one clear error, and not as a failed eviction under memory
 * pressure later. For an existing file the same fallocate fills any holes
 * and extends it to the size asked for; the fallback only writes zeros past
 * its end, never over what is there.
 *
 * O_DIRECT keeps swapped-out guest pages from being cached a second time in
 * the host page cache. Not every filesystem takes it (tmpfs, some FUSE), so
 * it is probed: the file is reopened with O_DIRECT and one aligned page is
 * read. If either fails the buffered descriptor is kept and s->direct says
 * so for the caller to report.
 *
 * Every failure leaves one line in err and undoes what was done: a file
 * created here is removed (even with SWAPD_KEEP: it was never in use), an
 * existing file that was being extended is cut back to its old size.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_SIZE	(2 * (uint64_t)SWAPD_PAGE_SIZE)	/* slot 0 and one usable slot */

__attribute__((format(printf, 4, 5)))
static int seterr(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Write zeros over [from, to): the fallback where fallocate is unsupported. */
static int write_zeros(int fd, uint64_t from, uint64_t to)
{
	enum { CHUNK = 1 << 20 };
	char *zero = calloc(1, CHUNK);
	int ret = 0;

	if (!zero)
		return -ENOMEM;
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

/* Back [0, size) with blocks; old is the file's current size. */
static int allocate(int fd, uint64_t old, uint64_t size)
{
	int ret;

	do
		ret = fallocate(fd, 0, 0, (off_t)size) ? -errno : 0;
	while (ret == -EINTR);
	if (ret != -EOPNOTSUPP && ret != -ENOSYS)
		return ret;
	/* only past the end: zeros over an existing file's data would lose it */
	return size > old ? write_zeros(fd, old, size) : 0;
}

static int alloc_error(const char *path, uint64_t size, int ret, char *err, size_t errlen)
{
	if (ret == -ENOSPC || ret == -EDQUOT)
		return seterr(err, errlen, ret, "no space for a %llu-byte swap file at %s",
			      (unsigned long long)size, path);
	if (ret == -EFBIG)
		return seterr(err, errlen, ret, "swap size %llu bytes is too large for the filesystem of %s",
			      (unsigned long long)size, path);
	return seterr(err, errlen, ret, "cannot allocate swap file %s: %s", path, strerror(-ret));
}

/* A file just created here: exactly 0600, then every block of it. */
static int init_new(struct swapd *s, uint64_t size, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (fchmod(s->fd, 0600) || fstat(s->fd, &st))
		return seterr(err, errlen, -errno, "cannot set mode 0600 on swap file %s: %s",
			      s->path, strerror(errno));
	if ((st.st_mode & 07777) != 0600)
		return seterr(err, errlen, -EPERM, "swap file %s has mode %04o, not 0600",
			      s->path, (unsigned)(st.st_mode & 07777));
	ret = allocate(s->fd, 0, size);
	if (ret)
		return alloc_error(s->path, size, ret, err, errlen);
	s->nr_slots = size / SWAPD_PAGE_SIZE;
	return 0;
}

static int open_existing_error(const char *path, uint64_t size, int e, char *err, size_t errlen)
{
	if (e == EISDIR)
		return seterr(err, errlen, -e, "swap file %s is a directory", path);
	if (e == ENOENT && !size)
		return seterr(err, errlen, -e, "swap file %s does not exist and no size was given to create it",
			      path);
	if (e == ENOENT)
		return seterr(err, errlen, -EINVAL, "swap size %llu bytes is too small: at least %llu",
			      (unsigned long long)size, (unsigned long long)MIN_SIZE);
	return seterr(err, errlen, -e, "cannot open swap file %s: %s", path, strerror(e));
}

/* The checks an existing file must pass before anything is written to it. */
static int check_existing(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (S_ISDIR(st->st_mode))
		return seterr(err, errlen, -EISDIR, "swap file %s is a directory", path);
	if (!S_ISREG(st->st_mode))
		return seterr(err, errlen, -EINVAL, "swap file %s is not a regular file", path);
	if (st->st_mode & 077)
		return seterr(err, errlen, -EPERM, "swap file %s is accessible by others (mode %04o): chmod 600 it",
			      path, (unsigned)(st->st_mode & 07777));
	return 0;
}

/*
 * Open an existing file and check it before anything is written to it.
 * O_NONBLOCK so that a FIFO or a device at the path cannot hang the open
 * before it is refused; it goes once the file is known to be regular, as
 * io_uring would turn it into -EAGAIN on every read and write.
 */
static int open_existing(struct swapd *s, uint64_t req, struct stat *st, char *err, size_t errlen)
{
	int ret, fl;

	s->fd = open(s->path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0)
		return open_existing_error(s->path, req, errno, err, errlen);
	if (fstat(s->fd, st))
		return seterr(err, errlen, -errno, "cannot stat swap file %s: %s", s->path, strerror(errno));
	ret = check_existing(s->path, st, err, errlen);
	if (ret)
		return ret;
	fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK))
		return seterr(err, errlen, -errno, "cannot use swap file %s: %s", s->path, strerror(errno));
	return 0;
}

/* An existing file: size 0 takes its size; a larger size extends it. */
static int init_existing(struct swapd *s, uint64_t req, uint64_t size, char *err, size_t errlen)
{
	struct stat st;
	uint64_t old;
	int ret;

	ret = open_existing(s, req, &st, err, errlen);
	if (ret)
		return ret;
	old = (uint64_t)st.st_size;
	if (!size)
		size = old & ~(uint64_t)(SWAPD_PAGE_SIZE - 1);
	if (size < MIN_SIZE && req)
		return seterr(err, errlen, -EINVAL, "swap size %llu bytes is too small: at least %llu",
			      (unsigned long long)req, (unsigned long long)MIN_SIZE);
	if (size < MIN_SIZE)
		return seterr(err, errlen, -EINVAL, "swap file %s is too small: %llu bytes, at least %llu",
			      s->path, (unsigned long long)old, (unsigned long long)MIN_SIZE);
	ret = allocate(s->fd, old, size);
	if (ret) {
		/* give the file back as it was (blocks allocated in holes stay) */
		if (size > old && ftruncate(s->fd, (off_t)old))
			return seterr(err, errlen, ret, "cannot extend swap file %s: %s, nor cut it back to %llu bytes",
				      s->path, strerror(-ret), (unsigned long long)old);
		return alloc_error(s->path, size, ret, err, errlen);
	}
	s->nr_slots = size / SWAPD_PAGE_SIZE;
	return 0;
}

static int create_error(const char *path, int e, char *err, size_t errlen)
{
	if (e == ENOENT)
		return seterr(err, errlen, -e, "cannot create swap file %s: its directory does not exist",
			      path);
	return seterr(err, errlen, -e, "cannot create swap file %s: %s", path, strerror(e));
}

/* Create the file when the size allows it, else (or if it exists) use it. */
static int open_file(struct swapd *s, uint64_t req, uint64_t size, char *err, size_t errlen)
{
	if (size >= MIN_SIZE) {
		s->fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (s->fd >= 0) {
			s->created = true;
			return init_new(s, size, err, errlen);
		}
		if (errno != EEXIST)
			return create_error(s->path, errno, err, errlen);
	}
	return init_existing(s, req, size, err, errlen);
}

/*
 * Switch to an O_DIRECT descriptor if this filesystem serves one. The reopen
 * goes by path, so it must still be the same file (st_dev/st_ino) that was
 * checked; slot 0 is never used, so reading it is harmless.
 */
static void probe_direct(struct swapd *s)
{
	struct stat a, b;
	void *buf = NULL;
	bool ok;
	int fd;

	fd = open(s->path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return;
	ok = !fstat(fd, &a) && !fstat(s->fd, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
	     !posix_memalign(&buf, SWAPD_PAGE_SIZE, SWAPD_PAGE_SIZE) &&
	     pread(fd, buf, SWAPD_PAGE_SIZE, 0) == (ssize_t)SWAPD_PAGE_SIZE;
	free(buf);
	if (!ok) {
		close(fd);
		return;
	}
	close(s->fd);
	s->fd = fd;
	s->direct = true;
}

static void release(struct swapd *s, bool remove)
{
	if (s->fd >= 0)
		close(s->fd);
	if (remove && s->path && !s->unlinked)
		unlink(s->path);
	swapd_slots_fini(s);
	free(s->path);
	s->fd = -1;
	s->path = NULL;
	s->created = s->unlinked = false;
}

int swapd_open(struct swapd *s, const char *path, uint64_t size, unsigned flags,
	       char *err, size_t errlen)
{
	uint64_t req = size;
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->flags = flags;
	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path)
		return seterr(err, errlen, -EINVAL, "no swap file path given");
	if (size > INT64_MAX) /* off_t */
		return seterr(err, errlen, -EFBIG, "swap size %llu bytes is too large",
			      (unsigned long long)size);
	size &= ~(uint64_t)(SWAPD_PAGE_SIZE - 1);
	s->path = strdup(path);
	if (!s->path)
		return seterr(err, errlen, -ENOMEM, "out of memory");
	ret = open_file(s, req, size, err, errlen);
	if (ret)
		goto fail;
	if (!(flags & SWAPD_BUFFERED))
		probe_direct(s);
	ret = swapd_slots_init(s);
	if (ret) {
		seterr(err, errlen, ret, "cannot set up the slot map of %llu slots: %s",
		       (unsigned long long)s->nr_slots, strerror(-ret));
		goto fail;
	}
	/* a file of ours that is not to be kept leaves its directory now: its
	 * blocks live as long as the descriptor, so guest data on disk dies with
	 * memvisor however it ends, kill -9 included */
	if (s->created && !(flags & SWAPD_KEEP) && unlink(s->path) == 0)
		s->unlinked = true;
	return 0;
fail:
	release(s, s->created); /* never handed out, so not kept either */
	return ret;
}

void swapd_close(struct swapd *s)
{
	if (!s->path)
		return; /* never opened (fd may be a zeroed 0), or closed already */
	release(s, s->created && !(s->flags & SWAPD_KEEP));
}
