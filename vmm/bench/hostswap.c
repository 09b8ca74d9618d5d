// SPDX-License-Identifier: MIT
/*
 * The host-kernel baseline for "memvisor bench overcommit".
 *
 * memvisor overcommits guest RAM with its own reclaim and swap. The honest
 * thing to compare that with is the same guest under Linux's reclaim: the
 * memvisor process run with --host-mm (plain anonymous RAM) in a memory
 * cgroup limited to the pool size, swapping to a host swap file of the same
 * size on the same filesystem as memvisor's own swap file. This file sets
 * that up, runs the command, collects what it cost (wall and CPU time, major
 * faults, pages swapped in and out) and tears everything down again.
 *
 * The swap file is the only swap on the machine for the run: we refuse to run
 * beside an active swap device, because the kernel would spread the guest's
 * pages over both and the global pswpin/pswpout counters would mix with
 * whatever else swaps there. A lock file keeps two runs from racing between
 * that check and swapon.
 *
 * Both cgroup versions: v2 (memory.max; memory.swap.max left unlimited) where
 * the unified hierarchy has the memory controller, else v1
 * (memory.limit_in_bytes; memory.memsw.* is left alone and may be absent).
 */
#include "hostswap.h"

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

#define HS_LOCK_PATH	"/run/memvisor-hostswap.lock"
#define HS_MIN_PAGES	10	/* what mkswap accepts: the header and a little room */

struct hs_run {
	const struct hostswap_spec *spec;
	uint64_t page;
	int lock_fd;
	bool cg_v2, cg_made, swap_made, swap_on;
	char cg_root[PATH_MAX];		/* mount point of the memory hierarchy */
	char cg_path[PATH_MAX];		/* our group in it */
	char swap_path[PATH_MAX];
};

/* What the child sends up its close-on-exec pipe if it never gets to exec. */
struct hs_child_err {
	int stage;			/* 0: joining the cgroup, 1: exec, 2: /dev/null */
	int err;
};

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
static int hs_path(char *path, const char *dir, const char *name)
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

static int hs_vmstat(uint64_t *pswpin, uint64_t *pswpout)
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
static int hs_check(struct hs_run *r, char *err, size_t errlen)
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

static int hs_cg_setup(struct hs_run *r, char *err, size_t errlen)
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

static int hs_swap_setup(struct hs_run *r, char *err, size_t errlen)
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

/* ---- the run ---- */

/* Tell the parent why the child never got to exec, and end it. */
static void __attribute__((noreturn)) hs_child_fail(int pipe_fd, int stage, int e)
{
	struct hs_child_err ce = { stage, e };
	ssize_t n = write(pipe_fd, &ce, sizeof(ce));

	(void)n;	/* nothing more to do if even that fails: 127 says it */
	_exit(127);
}

/* After fork: join the cgroup, redirect, exec. Only async-signal-safe calls. */
static void __attribute__((noreturn))
hs_child(const struct hs_run *r, int procs_fd, int null_fd, int pipe_fd)
{
	sigset_t none;

	/* "0" is the writer itself, in both cgroup versions */
	if (write(procs_fd, "0", 1) != 1)
		hs_child_fail(pipe_fd, 0, errno);
	/* the mask survives exec; the caller's (e.g. a vCPU thread's) is not the child's */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (r->spec->quiet && (dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0))
		hs_child_fail(pipe_fd, 2, errno);
	execv(r->spec->argv[0], r->spec->argv);
	hs_child_fail(pipe_fd, 1, errno);
}

/* Fork the child; 0 when it has exec'd (it runs in the group), else -errno. */
static int hs_spawn(struct hs_run *r, pid_t *pid, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct hs_child_err ce;
	int p[2], procs_fd, null_fd, ret = 0;

	if (hs_path(path, r->cg_path, "cgroup.procs"))
		return mv_seterr(err, errlen, -ENAMETOOLONG, "%s: path too long", r->cg_path);
	/* opened here: the child should not need anything but system calls */
	procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (procs_fd < 0)
		return mv_seterr(err, errlen, -errno, "%s: %s", path, strerror(errno));
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0 || pipe2(p, O_CLOEXEC)) {
		ret = mv_seterr(err, errlen, -errno, "%s: %s", null_fd < 0 ? "/dev/null" : "pipe",
			      strerror(errno));
		goto out;
	}
	*pid = fork();
	if (*pid == 0)
		hs_child(r, procs_fd, null_fd, p[1]);
	if (*pid < 0)
		ret = mv_seterr(err, errlen, -errno, "fork: %s", strerror(errno));
	close(p[1]);
	/* EOF: exec closed the pipe; a message: the child failed before exec */
	if (*pid > 0 && read(p[0], &ce, sizeof(ce)) == sizeof(ce)) {
		waitpid(*pid, NULL, 0);
		ret = mv_seterr(err, errlen, -ce.err, "%s: %s",
			      ce.stage == 0 ? path : ce.stage == 1 ? r->spec->argv[0] : "/dev/null",
			      strerror(ce.err));
	}
	close(p[0]);
out:
	close(procs_fd);
	if (null_fd >= 0)
		close(null_fd);
	return ret;
}

static int hs_collect(struct hs_run *r, struct hostswap_result *res, char *err, size_t errlen)
{
	uint64_t in0, out0, in1, out1, t0;
	struct rusage ru;
	int ret, status;
	pid_t pid = -1;

	ret = hs_vmstat(&in0, &out0);
	if (ret)
		return mv_seterr(err, errlen, ret, "/proc/vmstat: %s", strerror(-ret));
	t0 = mv_now_ns();
	ret = hs_spawn(r, &pid, err, errlen);
	if (ret)
		return ret;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno == EINTR)
			continue;
		ret = mv_seterr(err, errlen, -errno, "wait4: %s", strerror(errno));
		/* not left running in a group about to be removed */
		kill(pid, SIGKILL);
		return ret;
	}
	res->wall_s = (mv_now_ns() - t0) / 1e9;
	hs_vmstat(&in1, &out1);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	res->majfault = ru.ru_majflt;
	res->user_us = ru.ru_utime.tv_sec * 1000000ULL + ru.ru_utime.tv_usec;
	res->sys_us = ru.ru_stime.tv_sec * 1000000ULL + ru.ru_stime.tv_usec;
	res->pswpin = in1 - in0;
	res->pswpout = out1 - out0;
	/*
	 * The swap file shares its disk with the filesystem, so the disk's own
	 * counters would include unrelated I/O; these count just swap's pages.
	 */
	res->read_bytes = res->pswpin * r->page;
	res->write_bytes = res->pswpout * r->page;
	return 0;
}

/* v2 may report the group busy for a moment after its last task is reaped. */
static int hs_rmdir_cg(const char *path)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		usleep(10000);
	}
	return -errno;
}

/* Undo whatever setup got done; keeps the first error (ret) but for swapoff's. */
static int hs_teardown(struct hs_run *r, int ret, char *err, size_t errlen)
{
	int e;

	if (r->cg_made && (e = hs_rmdir_cg(r->cg_path)) && !ret)
		ret = mv_seterr(err, errlen, e, "rmdir %s: %s", r->cg_path, strerror(-e));
	if (r->swap_on && swapoff(r->swap_path)) {
		/* over any earlier error: the machine is left swapping, someone must know */
		ret = mv_seterr(err, errlen, -errno, "swapoff %s failed: %s (still active)",
			      r->swap_path, strerror(errno));
		/* unlinking an active swap file would leave it unreachable by name */
		r->swap_made = false;
	}
	if (r->swap_made && unlink(r->swap_path) && !ret)
		ret = mv_seterr(err, errlen, -errno, "unlink %s: %s", r->swap_path, strerror(errno));
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	return ret;
}

static int hs_validate(const struct hostswap_spec *spec, uint64_t page, char *err, size_t errlen)
{
	if (!spec->argv || !spec->argv[0] || spec->argv[0][0] != '/')
		return mv_seterr(err, errlen, -EINVAL, "the command needs an absolute path");
	if (spec->mem_limit < page)
		return mv_seterr(err, errlen, -EINVAL, "memory limit of %" PRIu64 " bytes is under a page",
			       spec->mem_limit);
	if (spec->swap_size / page < HS_MIN_PAGES || spec->swap_size / page > UINT32_MAX)
		return mv_seterr(err, errlen, -EINVAL, "swap size of %" PRIu64 " bytes out of range "
			       "(%d pages to 16 TiB)", spec->swap_size, HS_MIN_PAGES);
	if (!spec->swap_dir || !*spec->swap_dir)
		return mv_seterr(err, errlen, -EINVAL, "no directory for the swap file");
	return 0;
}

/* Only one run at a time: the "no swap active" check must hold until swapon. */
static int hs_lock(struct hs_run *r, char *err, size_t errlen)
{
	r->lock_fd = open(HS_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lock_fd < 0)
		return mv_seterr(err, errlen, -errno, "%s: %s", HS_LOCK_PATH, strerror(errno));
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB))
		return mv_seterr(err, errlen, errno == EWOULDBLOCK ? -EBUSY : -errno,
			       "another host-swap baseline run is in progress (%s)", HS_LOCK_PATH);
	return 0;
}

int hostswap_run(const struct hostswap_spec *spec, struct hostswap_result *res,
		     char *err, size_t errlen)
{
	struct hs_run r = { .spec = spec, .page = sysconf(_SC_PAGESIZE), .lock_fd = -1 };
	int ret;

	memset(res, 0, sizeof(*res));
	if (errlen)
		err[0] = '\0';
	ret = hs_validate(spec, r.page, err, errlen);
	if (ret)
		return ret;
	if (geteuid() != 0)
		return mv_seterr(err, errlen, -EPERM, "needs root (swapon and cgroups)");
	ret = hs_lock(&r, err, errlen);
	if (!ret)
		ret = hs_check(&r, err, errlen);
	if (!ret)
		ret = hs_cg_setup(&r, err, errlen);
	if (!ret)
		ret = hs_swap_setup(&r, err, errlen);
	if (!ret)
		ret = hs_collect(&r, res, err, errlen);
	return hs_teardown(&r, ret, err, errlen);
}

int hostswap_check(char *err, size_t errlen)
{
	struct hs_run r = { .lock_fd = -1 };

	if (errlen)
		err[0] = '\0';
	return hs_check(&r, err, errlen);
}
