// SPDX-License-Identifier: MIT
/*
 * hostswap's host set-up (see hostswap.c for the whole): what the machine
 * has (swap active? where is the memory controller?), the memory cgroup of
 * a run and its limit, and the host swap file (fallocate, a swap header as
 * mkswap writes it, swapon).
 */
#include "hostswap_int.h"

#include "memvisor/err.h"
#include "memvisor/time.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned int hs_seq;

static int hs_write_str(const char *path, const char *s)
{
	ssize_t n, len = strlen(s);
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n != len) {
		int ret = n < 0 ? -errno : -EIO;

		close(fd);
		return ret;
	}
	return close(fd) ? -errno : 0;
}

/* Read a small file into buf (NUL-terminated); bytes read or -errno. */
static ssize_t hs_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* Whether word occurs in list as a whole item separated by any of seps. */
static bool hs_has_word(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p) {
		size_t l = strcspn(p, seps);

		if (l == wl && !strncmp(p, word, wl))
			return true;
		p += l;
		p += strspn(p, seps);
	}
	return false;
}

/* dir/name into path (PATH_MAX bytes): 0, or -ENAMETOOLONG, never a cut path */
int hs_path(char *path, const char *dir, const char *name)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", dir, name);

	return n >= 0 && n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

static bool hs_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	return !hs_path(path, dir, name) && access(path, F_OK) == 0;
}

/* ---- what is there ---- */

/*
 * The first active swap device's name into dev: 1 if there is one, 0 if none,
 * -errno if /proc/swaps cannot be read (-ENOENT: no swap in this kernel).
 */
static int hs_swap_active(char *dev, size_t len)
{
	char line[PATH_MAX];	/* a longer name is cut: only its presence matters */
	int ret = 0;
	FILE *f = fopen("/proc/swaps", "re");

	if (!f)
		return -errno;
	/* the first line is the column header */
	if (fgets(line, sizeof(line), f) && fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\n")] = '\0';
		snprintf(dev, len, "%s", line);
		ret = 1;
	}
	fclose(f);
	return ret;
}

/* Is this mountinfo entry a hierarchy with the memory controller? */
static bool hs_memcg_mount(const char *mnt, const char *fstype, const char *opts, bool *v2)
{
	char path[PATH_MAX], ctl[512];

	if (!strcmp(fstype, "cgroup")) {
		*v2 = false;
		return hs_has_word(opts, "memory", ",");
	}
	if (strcmp(fstype, "cgroup2"))
		return false;
	*v2 = true;
	/* mounted is not enough: v2 lists only controllers v1 has not taken */
	return !hs_path(path, mnt, "cgroup.controllers") &&
	       hs_read_str(path, ctl, sizeof(ctl)) > 0 && hs_has_word(ctl, "memory", " \n");
}

/* Find where the memory controller is mounted: 0, or -ENOENT. */
static int hs_find_memcg(char *root, size_t len, bool *v2)
{
	char line[4096], mnt[PATH_MAX], fstype[64], opts[1024];
	int ret = -ENOENT;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	/* "id parent maj:min root mountpoint opts [tags] - fstype source superopts" */
	while (ret && fgets(line, sizeof(line), f)) {
		const char *tail = strstr(line, " - ");

		if (!tail || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(tail, " - %63s %*s %1023s", fstype, opts) != 2)
			continue;
		if (hs_memcg_mount(mnt, fstype, opts, v2)) {
			snprintf(root, len, "%s", mnt);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

int hs_vmstat(uint64_t *pswpin, uint64_t *pswpout)
{
	char name[64];
	unsigned long long v;
	FILE *f = fopen("/proc/vmstat", "re");

	if (!f)
		return -errno;
	*pswpin = *pswpout = 0;
	while (fscanf(f, "%63s %llu", name, &v) == 2) {
		if (!strcmp(name, "pswpin"))
			*pswpin = v;
		else if (!strcmp(name, "pswpout"))
			*pswpout = v;
	}
	fclose(f);
	return 0;
}

/* The checks both entry points share; fills r->cg_root and r->cg_v2. */
int hs_check(struct hs_run *r, char *err, size_t errlen)
{
	char dev[PATH_MAX];
	int ret;

	if (geteuid() != 0)
		return mv_seterr(err, errlen, -EPERM, "needs root (swapon and cgroups)");
	ret = hs_swap_active(dev, sizeof(dev));
	if (ret == -ENOENT)
		return mv_seterr(err, errlen, -ENOSYS, "this kernel has no swap support (no /proc/swaps)");
	if (ret < 0)
		return mv_seterr(err, errlen, ret, "/proc/swaps: %s", strerror(-ret));
	if (ret > 0)
		return mv_seterr(err, errlen, -EBUSY,
			       "host swap already active (%s): swapoff it first, the numbers would mix",
			       dev);
	ret = hs_find_memcg(r->cg_root, sizeof(r->cg_root), &r->cg_v2);
	if (ret)
		return mv_seterr(err, errlen, ret, "no memory cgroup controller mounted");
	return 0;
}

/* ---- the cgroup ---- */

/* v2 children only get memory.* files if the parent delegates the controller. */
static int hs_cg_v2_enable(struct hs_run *r, char *err, size_t errlen)
{
	char path[PATH_MAX], buf[512];
	int ret;

	ret = hs_path(path, r->cg_root, "cgroup.subtree_control");
	if (ret)
		return mv_seterr(err, errlen, ret, "%s: path too long", r->cg_root);
	ret = hs_read_str(path, buf, sizeof(buf));
	if (ret >= 0 && hs_has_word(buf, "memory", " \n"))
		return 0;
	/* left enabled afterwards: other groups may have come to rely on it */
	ret = hs_write_str(path, "+memory");
	if (ret)
		return mv_seterr(err, errlen, ret, "%s: +memory: %s", path, strerror(-ret));
	return 0;
}

static int hs_cg_set(struct hs_run *r, const char *file, const char *val, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	ret = hs_path(path, r->cg_path, file);
	if (!ret)
		ret = hs_write_str(path, val);
	if (ret)
		return mv_seterr(err, errlen, ret, "%s: writing %s: %s", path, val, strerror(-ret));
	return 0;
}

/* Set the limit and read it back: a limit that did not take is no baseline. */
static int hs_cg_limit(struct hs_run *r, char *err, size_t errlen)
{
	const char *file = r->cg_v2 ? "memory.max" : "memory.limit_in_bytes";
	uint64_t want = r->spec->mem_limit / r->page * r->page;	/* the kernel keeps whole pages */
	char val[32], path[PATH_MAX], buf[64];
	int ret;

	snprintf(val, sizeof(val), "%" PRIu64, r->spec->mem_limit);
	ret = hs_cg_set(r, file, val, err, errlen);
	if (ret)
		return ret;
	ret = hs_path(path, r->cg_path, file);
	if (!ret)
		ret = hs_read_str(path, buf, sizeof(buf));
	if (ret < 0)
		return mv_seterr(err, errlen, ret, "%s: %s", path, strerror(-ret));
	if (strtoull(buf, NULL, 10) != want)
		return mv_seterr(err, errlen, -EIO, "%s reads back %.*s, not %" PRIu64, path,
			       (int)strcspn(buf, "\n"), buf, want);
	return 0;
}

int hs_cg_setup(struct hs_run *r, char *err, size_t errlen)
{
	char name[64];
	int ret;

	if (r->cg_v2 && (ret = hs_cg_v2_enable(r, err, errlen)))
		return ret;
	snprintf(name, sizeof(name), "memvisor-bench-%d-%u", (int)getpid(),
		 __atomic_fetch_add(&hs_seq, 1, __ATOMIC_RELAXED));
	ret = hs_path(r->cg_path, r->cg_root, name);
	if (ret)
		return mv_seterr(err, errlen, ret, "%s: path too long", r->cg_root);
	if (mkdir(r->cg_path, 0755))
		return mv_seterr(err, errlen, -errno, "mkdir %s: %s", r->cg_path, strerror(errno));
	r->cg_made = true;
	ret = hs_cg_limit(r, err, errlen);
	if (ret)
		return ret;
	/* the swap file bounds swap use; no second, cgroup-level bound */
	if (r->cg_v2 && hs_exists(r->cg_path, "memory.swap.max"))
		return hs_cg_set(r, "memory.swap.max", "max", err, errlen);
	/* the default, set because a v1 group inherits its parent's */
	if (!r->cg_v2 && hs_exists(r->cg_path, "memory.swappiness"))
		return hs_cg_set(r, "memory.swappiness", "60", err, errlen);
	return 0;
}

/* ---- the swap file ---- */

/* The v1 swap header mkswap writes (union swap_header in linux/swap.h). */
static int hs_swap_header(int fd, uint64_t page, uint64_t pages)
{
	uint32_t info[3] = {
		1,			/* version */
		(uint32_t)(pages - 1),	/* last_page */
		0,			/* nr_badpages */
	};

	/* info sits after 1024 bytes of boot bits; the magic ends the first page */
	errno = EIO;			/* for a short write */
	if (pwrite(fd, info, sizeof(info), 1024) != sizeof(info) ||
	    pwrite(fd, "SWAPSPACE2", 10, page - 10) != 10 || fsync(fd))
		return -errno;
	return 0;
}

/*
 * A fully allocated file (swapon refuses holes), 0600 (swapon warns about
 * anything looser), with a header, synced: swapon refuses extents whose
 * metadata is not yet on disk.
 */
static int hs_swap_file(struct hs_run *r, char *err, size_t errlen)
{
	uint64_t pages = r->spec->swap_size / r->page;
	int fd, ret = 0;

	fd = open(r->swap_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return mv_seterr(err, errlen, -errno, "%s: %s", r->swap_path, strerror(errno));
	r->swap_made = true;
	if (fallocate(fd, 0, 0, pages * r->page) || fchmod(fd, 0600))
		ret = mv_seterr(err, errlen, -errno, "%s: allocating %" PRIu64 " MiB: %s",
			      r->swap_path, pages * r->page >> 20, strerror(errno));
	else if ((ret = hs_swap_header(fd, r->page, pages)))
		ret = mv_seterr(err, errlen, ret, "%s: writing the swap header: %s",
			      r->swap_path, strerror(-ret));
	if (close(fd) && !ret)
		ret = mv_seterr(err, errlen, -errno, "%s: %s", r->swap_path, strerror(errno));
	return ret;
}

int hs_swap_setup(struct hs_run *r, char *err, size_t errlen)
{
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "memvisor-hostswap-%d-%u.swap", (int)getpid(),
		 __atomic_fetch_add(&hs_seq, 1, __ATOMIC_RELAXED));
	ret = hs_path(r->swap_path, r->spec->swap_dir, name);
	if (ret)
		return mv_seterr(err, errlen, ret, "%s: path too long", r->spec->swap_dir);
	ret = hs_swap_file(r, err, errlen);
	if (ret)
		return ret;
	if (swapon(r->swap_path, 0))
		return mv_seterr(err, errlen, -errno, "swapon %s failed: %s", r->swap_path,
			       strerror(errno));
	r->swap_on = true;
	return 0;
}
