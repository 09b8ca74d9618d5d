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
 * faults, pages swapped in and out) and tears everything down again. The
 * checks of the host, the cgroup and the swap file are in hostswap_host.c.
 *
 * The swap file is the only swap on the machine for the run: we refuse to run
 * beside an active swap device, because the kernel would spread the guest's
 * pages over both and the global pswpin/pswpout counters would mix with
 * whatever else swaps there. A lock file keeps two runs from racing between
 * that check and swapon.
 *
 * With no_limit, the same run and the same figures without any of it: the
 * floor of a baseline (Linux with memory to spare), needing no root.
 *
 * Both cgroup versions: v2 (memory.max; memory.swap.max left unlimited) where
 * the unified hierarchy has the memory controller, else v1
 * (memory.limit_in_bytes; memory.memsw.* is left alone and may be absent).
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

#define HS_LOCK_PATH	"/run/memvisor-hostswap.lock"

/* What the child sends up its close-on-exec pipe if it never gets to exec. */
struct hs_child_err {
	int stage;			/* 0: joining the cgroup, 1: exec, 2: /dev/null */
	int err;
};

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
	if (procs_fd >= 0 && write(procs_fd, "0", 1) != 1)
		hs_child_fail(pipe_fd, 0, errno);
	/* the mask survives exec; the caller's (e.g. a vCPU thread's) is not the child's */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (r->spec->out_fd > 0 && dup2(r->spec->out_fd, 1) < 0)
		hs_child_fail(pipe_fd, 2, errno);
	if (r->spec->quiet && ((r->spec->out_fd <= 0 && dup2(null_fd, 1) < 0) || dup2(null_fd, 2) < 0))
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
	procs_fd = r->spec->no_limit ? -1 : open(path, O_WRONLY | O_CLOEXEC);
	if (procs_fd < 0 && !r->spec->no_limit)
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
	if (procs_fd >= 0)
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
	res->minfault = ru.ru_minflt;
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
	if (spec->no_limit)
		return 0;
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
	/* polled rather than a blocking flock: a wait that never ends is no answer */
	for (unsigned waited = 0;; waited += 50) {
		if (!flock(r->lock_fd, LOCK_EX | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK || waited >= r->spec->lock_wait_ms)
			break;
		usleep(50000);
	}
	return mv_seterr(err, errlen, errno == EWOULDBLOCK ? -EBUSY : -errno,
		       "another host-swap baseline run is in progress (%s)", HS_LOCK_PATH);
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
	/* the floor: nothing to set up, and no swap to keep others from */
	if (spec->no_limit)
		return hs_collect(&r, res, err, errlen);
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
