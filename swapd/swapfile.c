// SPDX-License-Identifier: MIT
/*
 * Opening and closing the swap file.
 *
 * Guest memory goes into this file and memvisor runs as root, so the file
 * is treated like a private key, in the spirit of swapon and mkstemp. The
 * path is resolved once, to its directory and a name in it, and the name is
 * never followed: a symbolic link there (planted in /tmp to make root write
 * over a file of its choice) is refused, dangling or not. It is opened
 * O_NONBLOCK, so that a FIFO there cannot hang us before it is refused. An
 * existing file is used only if it is plainly ours to overwrite
 * (existing.c): regular, ours, 0600, with a memvisor swap header.
 *
 * A new file never appears half-made. It is made without a name
 * (O_TMPFILE in the target's directory; where the filesystem has none, a
 * fresh random name made O_EXCL and removed at once), fchmod()ed to 0600
 * whatever the umask and fully allocated. Not to be kept, it never gets a
 * name: it dies with the descriptor, so a kill at any point leaves nothing
 * on disk, and two runs given one new path get a file each. To be kept, it
 * gets its header and is linkat()ed at the path as the very last step:
 * atomic, and should another run have put a file there first (EEXIST), that
 * file is opened as an existing one instead.
 *
 * Every file is locked with an OFD lock over its whole length before
 * anything is written to it, for as long as it is open: two runs that share
 * a swap file overwrite each other's pages, so the second is refused.
 *
 * The whole size is allocated up front (fallocate, or zeros written where
 * the filesystem cannot fallocate) so that running out of disk shows up
 * here, as one clear error, and not as a failed eviction under memory
 * pressure later. For an existing file the same fallocate fills any holes
 * (those the wipe at the last close punched, say) and extends it to the
 * size asked for; the fallback only writes zeros past its end, never over
 * what is there.
 *
 * O_DIRECT keeps swapped-out guest pages from being cached a second time in
 * the host page cache. Not every filesystem takes it (tmpfs, some FUSE), so
 * it is probed: set on the descriptor itself with F_SETFL (no reopen by
 * path, which a file without a name does not have and which could reach
 * another file), and one aligned page is read. If either fails the
 * descriptor goes back to buffered and s->direct says so for the caller.
 *
 * At close, a file that outlives the run has every slot written to wiped
 * (header.c): no guest data stays on disk after memvisor ends.
 *
 * Every failure leaves one line in err and undoes what was done: a new file
 * goes (it never had a name, or loses its temporary one), an existing file
 * that was being extended is cut back to its old size.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG		SWAPD_PAGE_SIZE
#define MIN_SIZE	SWAPD_MIN_SIZE
#define RACED		1	/* a file appeared at the path while we made ours */
#define seterr		mv_seterr

/* What swapd_open works with, and what it must undo should it fail. */
struct opening {
	int dirfd;              /* the directory of the path */
	const char *name;       /* the file's name in it */
	char tmpname[32];       /* a new file's temporary name (no O_TMPFILE), until it goes */
	uint64_t old_size;      /* an existing file's size before it was extended */
	struct swapd_header hdr;
};

/* Back [0, size) with blocks; old is the file's current size. */
int swapd_allocate(int fd, uint64_t old, uint64_t size)
{
	int ret;

	do
		ret = fallocate(fd, 0, 0, (off_t)size) ? -errno : 0;
	while (ret == -EINTR);
	if (ret != -EOPNOTSUPP && ret != -ENOSYS)
		return ret;
	/* only past the end: zeros over an existing file's data would lose it */
	return size > old ? swapd_write_zeros(fd, old, size) : 0;
}

int swapd_alloc_error(const char *path, uint64_t size, int ret, char *err, size_t errlen)
{
	if (ret == -ENOSPC || ret == -EDQUOT)
		return seterr(err, errlen, ret, "no space for a %llu-byte swap file at %s",
			      (unsigned long long)size, path);
	if (ret == -EFBIG) {
		struct rlimit fsize;

		if (!getrlimit(RLIMIT_FSIZE, &fsize) && fsize.rlim_cur != RLIM_INFINITY &&
		    size > fsize.rlim_cur)
			return seterr(err, errlen, ret, "swap size %llu bytes is over the file size "
				      "limit of %llu bytes (ulimit -f) for %s: File too large",
				      (unsigned long long)size, (unsigned long long)fsize.rlim_cur, path);
		return seterr(err, errlen, ret, "swap size %llu bytes is too large for the filesystem of %s",
			      (unsigned long long)size, path);
	}
	return seterr(err, errlen, ret, "cannot allocate swap file %s: %s", path, strerror(-ret));
}

/* The whole file, for as long as this descriptor is open, or -EBUSY. */
int swapd_lock(struct swapd *s, char *err, size_t errlen)
{
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (!fcntl(s->fd, F_OFD_SETLK, &l))
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return seterr(err, errlen, -EBUSY, "swap file %s is in use by another memvisor run", s->path);
	return seterr(err, errlen, -errno, "cannot lock swap file %s: %s", s->path, strerror(errno));
}

static int open_existing_error(const struct swapd *s, int e, char *err, size_t errlen)
{
	if (e == ELOOP)
		return seterr(err, errlen, -e, "swap file %s is a symbolic link: refused", s->path);
	if (e == EISDIR)
		return seterr(err, errlen, -e, "swap file %s is a directory", s->path);
	return seterr(err, errlen, -e, "cannot open swap file %s: %s", s->path, strerror(e));
}

/* A fresh random name in the directory, made O_EXCL: the fallback of O_TMPFILE. */
static int make_named(struct opening *at)
{
	unsigned long long r;
	int fd = -1;

	for (unsigned i = 0; i < 16; i++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -1;
		snprintf(at->tmpname, sizeof(at->tmpname), ".memvisor-swap-%016llx", r);
		fd = openat(at->dirfd, at->tmpname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		at->tmpname[0] = '\0';
	return fd;
}

/* A new file without a name (or, without O_TMPFILE and to be kept, a temporary one). */
static int make_new(struct swapd *s, struct opening *at)
{
	bool keep = s->flags & SWAPD_KEEP;

	if (!(s->flags & SWAPD_NO_TMPFILE)) {
		s->fd = openat(at->dirfd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
		if (s->fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
			goto made;
	}
	s->fd = make_named(at);
	if (s->fd >= 0 && !keep) {
		if (unlinkat(at->dirfd, at->tmpname, 0))
			return -errno; /* the undo tries again */
		at->tmpname[0] = '\0';
	}
made:
	if (s->fd < 0)
		return -errno;
	s->created = true;
	s->unlinked = !keep;
	return 0;
}

/* A new file: exactly 0600, locked, then every block of it. */
static int init_new(struct swapd *s, struct opening *at, uint64_t size, char *err, size_t errlen)
{
	struct stat st;
	int ret = make_new(s, at);

	if (ret == -ENOENT)
		return seterr(err, errlen, ret, "cannot create swap file %s: its directory does not exist",
			      s->path);
	if (ret)
		return seterr(err, errlen, ret, "cannot create swap file %s: %s", s->path, strerror(-ret));
	if (fchmod(s->fd, 0600) || fstat(s->fd, &st))
		return seterr(err, errlen, -errno, "cannot set mode 0600 on swap file %s: %s",
			      s->path, strerror(errno));
	if ((st.st_mode & 07777) != 0600)
		return seterr(err, errlen, -EPERM, "swap file %s has mode %04o, not 0600",
			      s->path, (unsigned)(st.st_mode & 07777));
	ret = swapd_lock(s, err, errlen);
	if (ret)
		return ret;
	ret = swapd_allocate(s->fd, 0, size);
	if (ret)
		return swapd_alloc_error(s->path, size, ret, err, errlen);
	s->nr_slots = size / PG;
	return 0;
}

/* Use the file at the name if there is one, else make one when the size allows. */
static int open_file(struct swapd *s, struct opening *at, uint64_t req, uint64_t size,
		     char *err, size_t errlen)
{
	/* never following a symbolic link; O_NONBLOCK: a FIFO is refused, not waited on */
	s->fd = openat(at->dirfd, at->name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (s->fd >= 0)
		return swapd_existing_init(s, &at->hdr, &at->old_size, req, size, err, errlen);
	if (errno != ENOENT)
		return open_existing_error(s, errno, err, errlen);
	if (!size)
		return seterr(err, errlen, -ENOENT, "swap file %s does not exist and no size was given to create it",
			      s->path);
	if (size < MIN_SIZE)
		return seterr(err, errlen, -EINVAL, "swap size %llu bytes is too small: at least %llu",
			      (unsigned long long)req, (unsigned long long)MIN_SIZE);
	return init_new(s, at, size, err, errlen);
}

/*
 * Switch the descriptor to O_DIRECT if this filesystem serves it. F_SETFL
 * on the descriptor itself: a file without a name has no path to reopen,
 * and a path could by now lead to another file. Slot 0 holds no guest data,
 * so reading it is harmless.
 */
static void probe_direct(struct swapd *s)
{
	void *buf = NULL;
	int fl = fcntl(s->fd, F_GETFL);
	bool ok;

	if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_DIRECT))
		return;
	ok = !posix_memalign(&buf, PG, PG) && pread(s->fd, buf, PG, 0) == (ssize_t)PG;
	free(buf);
	if (ok)
		s->direct = true;
	else
		(void)fcntl(s->fd, F_SETFL, fl); /* the flags it had a moment ago */
}

/* The slot map, and for a file that outlives the run the record of what to wipe. */
static int set_up(struct swapd *s, char *err, size_t errlen)
{
	int ret;

	if (!(s->flags & SWAPD_BUFFERED))
		probe_direct(s);
	ret = swapd_slots_init(s);
	if (!ret && !s->unlinked) {
		s->written = calloc((s->nr_slots + 63) / 64, sizeof(*s->written));
		ret = s->written ? 0 : -ENOMEM;
	}
	if (ret)
		return seterr(err, errlen, ret, "cannot set up the slot map of %llu slots: %s",
			      (unsigned long long)s->nr_slots, strerror(-ret));
	return 0;
}

/* A link to the file without a name, at the name: linkat(AT_EMPTY_PATH) needs
 * CAP_DAC_READ_SEARCH, /proc/self/fd does not. */
static int link_unnamed(int fd, struct opening *at)
{
	char proc[32];

	if (!linkat(fd, "", at->dirfd, at->name, AT_EMPTY_PATH))
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, at->dirfd, at->name, AT_SYMLINK_FOLLOW) ? -errno : 0;
}

/*
 * The last step, the one that shows the file: a new file to be kept gets
 * its header (in use: guest data comes next) on disk, then its name; an
 * existing file's header says in use, with its new size. RACED if a file
 * appeared at the name meanwhile.
 */
static int commit(struct swapd *s, struct opening *at, char *err, size_t errlen)
{
	int ret = 0;

	if (s->unlinked)
		return 0;
	if (s->created)
		ret = swapd_header_init(&at->hdr, s->nr_slots);
	else if (s->nr_slots > at->hdr.nr_slots)
		at->hdr.nr_slots = s->nr_slots;
	at->hdr.state = SWAPD_HDR_IN_USE;
	if (!ret)
		ret = swapd_header_write(s->fd, &at->hdr);
	if (ret)
		return seterr(err, errlen, ret, "cannot write the header of swap file %s: %s",
			      s->path, strerror(-ret));
	if (!s->created)
		return 0;
	if (at->tmpname[0])
		ret = linkat(at->dirfd, at->tmpname, at->dirfd, at->name, 0) ? -errno : 0;
	else
		ret = link_unnamed(s->fd, at);
	if (ret == -EEXIST)
		return RACED;
	if (ret)
		return seterr(err, errlen, ret, "cannot link swap file %s into its directory: %s",
			      s->path, strerror(-ret));
	/* in place; the temporary name is only a second name of the same file now */
	if (at->tmpname[0] && !unlinkat(at->dirfd, at->tmpname, 0))
		at->tmpname[0] = '\0';
	return 0;
}

static void drop(struct swapd *s)
{
	if (s->fd >= 0)
		close(s->fd);
	swapd_slots_fini(s);
	free(s->written);
	s->written = NULL;
	s->fd = -1;
	s->nr_slots = 0;
	s->created = s->unlinked = s->direct = false;
}

/* What a failed (or raced) open did, undone: the file as it was, or gone. */
static void undo(struct swapd *s, struct opening *at)
{
	if (s->fd >= 0 && !s->created && s->nr_slots * PG > at->old_size)
		(void)ftruncate(s->fd, (off_t)at->old_size);
	if (at->tmpname[0])
		unlinkat(at->dirfd, at->tmpname, 0);
	at->tmpname[0] = '\0';
	drop(s);
}

/* The directory of the path, and the name in it ("." after a final '/'). */
static int open_dir(struct swapd *s, struct opening *at, char *err, size_t errlen)
{
	char *slash = strrchr(s->path, '/');
	char *dir = slash ? strndup(s->path, slash == s->path ? 1 : (size_t)(slash - s->path)) : NULL;

	if (slash && !dir)
		return seterr(err, errlen, -ENOMEM, "out of memory");
	at->name = !slash ? s->path : slash[1] ? slash + 1 : ".";
	at->dirfd = open(dir ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (at->dirfd >= 0)
		return 0;
	if (errno == ENOENT)
		return seterr(err, errlen, -ENOENT, "cannot use swap file %s: its directory does not exist",
			      s->path);
	return seterr(err, errlen, -errno, "cannot open the directory of swap file %s: %s",
		      s->path, strerror(errno));
}

/* Use or make the file, set it up, show it: 0, RACED or -errno with err. */
static int attempt(struct swapd *s, struct opening *at, uint64_t req, uint64_t size,
		   char *err, size_t errlen)
{
	int ret = open_file(s, at, req, size, err, errlen);

	if (!ret)
		ret = set_up(s, err, errlen);
	return ret ? ret : commit(s, at, err, errlen);
}

int swapd_open(struct swapd *s, const char *path, uint64_t size, unsigned flags,
	       char *err, size_t errlen)
{
	struct opening at = { .dirfd = -1 };
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
	s->path = strdup(path);
	if (!s->path)
		return seterr(err, errlen, -ENOMEM, "out of memory");
	ret = open_dir(s, &at, err, errlen);
	if (!ret)
		ret = attempt(s, &at, size, size & ~(uint64_t)(PG - 1), err, errlen);
	if (ret == RACED) {
		/* another run linked a file at the name first: that is the file now */
		undo(s, &at);
		ret = attempt(s, &at, size, size & ~(uint64_t)(PG - 1), err, errlen);
	}
	if (ret == RACED)
		ret = seterr(err, errlen, -EAGAIN, "swap file %s appeared and went while it was being made: try again",
			     s->path);
	if (ret)
		undo(s, &at);
	if (at.dirfd >= 0)
		close(at.dirfd);
	if (ret) {
		free(s->path);
		s->path = NULL;
	}
	return ret;
}

void swapd_close(struct swapd *s)
{
	if (!s->path)
		return; /* never opened (fd may be a zeroed 0), or closed already */
	if (s->written)
		swapd_wipe_close(s);
	drop(s);
	free(s->path);
	s->path = NULL;
}
