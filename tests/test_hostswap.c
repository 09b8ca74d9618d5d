// SPDX-License-Identifier: MIT
/*
 * Tests for the host-kernel overcommit baseline (vmm/bench/hostswap.c): a small
 * program, compiled here, that overfills a memory cgroup must be swapped out
 * and in through the run's own swap file; failures and OOM kills are reported
 * as statuses; and every run leaves no swap, swap file or cgroup behind.
 *
 * They need root, a memory cgroup controller and no active swap; otherwise
 * they are skipped with hostswap_check()'s reason. They swapon and
 * swapoff machine-wide, so they take a lock and run one at a time.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "vmm/bench/hostswap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB		(1ULL << 20)
#define TEST_LOCK	"/tmp/memvisor-test-hostswap.lock"

/*
 * The workload: checks that it runs in a memvisor-bench group (exit 4), then
 * writes every page of <MiB> MiB twice and reads the second values back
 * (exit 6 if swap lost one), so that a limit below <MiB> forces swap-out in
 * the first pass and swap-in in the second.
 */
static const char hog_src[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	size_t len = strtoul(argc > 1 ? argv[1] : \"192\", NULL, 0) << 20, i;\n"
	"	FILE *f = fopen(\"/proc/self/cgroup\", \"r\");\n"
	"	char line[512];\n"
	"	int in = 0, pass;\n"
	"	volatile char *p;\n"
	"	while (f && fgets(line, sizeof(line), f))\n"
	"		in |= strstr(line, \"memvisor-bench-\") != NULL;\n"
	"	if (!in)\n"
	"		return 4;\n"
	"	p = malloc(len);\n"
	"	if (!p)\n"
	"		return 5;\n"
	"	for (pass = 0; pass < 2; pass++)\n"
	"		for (i = 0; i < len; i += 4096)\n"
	"			p[i] = (char)(pass + i / 4096);\n"
	"	for (i = 0; i < len; i += 4096)\n"
	"		if (p[i] != (char)(1 + i / 4096))\n"
	"			return 6;\n"
	"	return 0;\n"
	"}\n";

static char dir[PATH_MAX];	/* the swap directory: must be empty after each run */
static char hog[PATH_MAX];	/* the compiled workload */
static char reason[512];	/* why the machine cannot run these, or "" */
static char err[512];

/* One test at a time: each swapons, and one wants swap on that others refuse. */
static void serialize(void)
{
	int fd = open(TEST_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	/* held until this test's process exits */
	if (fd < 0 || flock(fd, LOCK_EX))
		cr_log_warn("%s: %s: tests may overlap", TEST_LOCK, strerror(errno));
}

static void setup(void)
{
	serialize();
	if (hostswap_check(reason, sizeof(reason)))
		cr_assert_neq(reason[0], '\0', "check failed without a reason");
	dir[0] = hog[0] = '\0';
}

static void teardown(void)
{
	char src[PATH_MAX + 4];

	if (hog[0]) {
		snprintf(src, sizeof(src), "%s.c", hog);
		unlink(src);
		unlink(hog);
	}
	if (dir[0])
		rmdir(dir);
}

TestSuite(hostswap, .init = setup, .fini = teardown, .timeout = 240);

/* ---- helpers ---- */

/* A skipped test gets no .fini: clean up first. */
static void skip(const char *why)
{
	teardown();
	cr_skip_test("%s", why);
}

/* Made only once the test is known to run, for the same reason. */
static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/memvisor-test-hostswap.XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void need_machine(void)
{
	if (reason[0])
		cr_skip_test("%s", reason);
	make_dir();
}

static void build_hog(void)
{
	char cmd[3 * PATH_MAX], src[PATH_MAX + 4];
	FILE *f;

	cr_assert_lt(snprintf(hog, sizeof(hog), "%s-hog", dir), (int)sizeof(hog));
	snprintf(src, sizeof(src), "%s.c", hog);
	f = fopen(src, "w");
	cr_assert_not_null(f, "%s: %s", src, strerror(errno));
	fputs(hog_src, f);
	cr_assert_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "cc -O1 -o %s %s", hog, src);
	if (system(cmd) != 0)
		skip("cannot compile the workload with cc");
}

static unsigned count_swaps(void)
{
	char line[PATH_MAX];
	unsigned n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n ? n - 1 : 0;	/* the header line */
}

static unsigned count_entries(const char *path, const char *prefix)
{
	struct dirent *d;
	unsigned n = 0;
	DIR *dp = opendir(path);

	if (!dp)
		return 0;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
		    !strncmp(d->d_name, prefix, strlen(prefix)))
			n++;
	closedir(dp);
	return n;
}

/* This process's memvisor-bench-<pid>-* groups in every cgroup hierarchy. */
static unsigned count_our_cgroups(void)
{
	char line[4096], mnt[PATH_MAX], fstype[64], prefix[64];
	unsigned n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	cr_assert_not_null(f);
	snprintf(prefix, sizeof(prefix), "memvisor-bench-%d-", (int)getpid());
	while (fgets(line, sizeof(line), f)) {
		const char *tail = strstr(line, " - ");

		if (tail && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    sscanf(tail, " - %63s", fstype) == 1 && !strncmp(fstype, "cgroup", 6))
			n += count_entries(mnt, prefix);
	}
	fclose(f);
	return n;
}

/* After every run, failed or not: no swap, no swap file, no cgroup. */
static void assert_clean(void)
{
	cr_assert_eq(count_swaps(), 0, "a swap device is still active");
	cr_assert_eq(count_entries(dir, ""), 0, "the swap file is still in %s", dir);
	cr_assert_eq(count_our_cgroups(), 0, "the cgroup is still there");
}

static int run(char *const *argv, uint64_t limit, uint64_t swap, struct hostswap_result *res)
{
	struct hostswap_spec spec = {
		.argv = argv, .mem_limit = limit, .swap_size = swap, .swap_dir = dir, .quiet = true,
	};

	return hostswap_run(&spec, res, err, sizeof(err));
}

/* ---- tests ---- */

Test(hostswap, check_gives_a_reason)
{
	int ret = hostswap_check(err, sizeof(err));

	cr_assert(ret == 0 || (ret < 0 && err[0]), "ret %d, err '%s'", ret, err);
	cr_log_info("check: %d %s", ret, err);
}

Test(hostswap, rejects_bad_specs)
{
	char *rel[] = { "sh", "-c", "true", NULL };
	char *abs[] = { "/bin/true", NULL };
	struct hostswap_result res;

	make_dir();
	cr_assert_eq(run(rel, 64 * MiB, 64 * MiB, &res), -EINVAL);
	cr_assert(strstr(err, "absolute"), "err: %s", err);
	cr_assert_eq(run(abs, 0, 64 * MiB, &res), -EINVAL);
	cr_assert_eq(run(abs, 64 * MiB, 4096, &res), -EINVAL);
	cr_assert_eq(count_entries(dir, ""), 0);
	cr_assert_eq(count_our_cgroups(), 0);
}

Test(hostswap, swaps_192m_through_a_64m_limit)
{
	char *argv[] = { hog, "192", NULL };
	struct hostswap_result res;
	int ret;

	need_machine();
	build_hog();
	ret = run(argv, 64 * MiB, 256 * MiB, &res);
	cr_assert_eq(ret, 0, "run: %d %s", ret, err);
	cr_log_info("192 MiB in 64 MiB: status %d, %.3f s, majflt %llu, pswpin %llu, pswpout %llu, "
		    "read %llu MiB, written %llu MiB, user %.3f s, sys %.3f s",
		    res.status, res.wall_s, (unsigned long long)res.majfault,
		    (unsigned long long)res.pswpin, (unsigned long long)res.pswpout,
		    (unsigned long long)(res.read_bytes / MiB),
		    (unsigned long long)(res.write_bytes / MiB), res.user_us / 1e6, res.sys_us / 1e6);
	cr_assert_eq(res.status, 0, "workload status %d (4: not in the cgroup, 6: bad data)",
		     res.status);
	cr_assert_gt(res.wall_s, 0);
	/* at least what does not fit went out */
	cr_assert_geq(res.pswpout * 4096, 128 * MiB - 16 * MiB, "pswpout %llu",
		      (unsigned long long)res.pswpout);
	cr_assert(res.majfault > 0 || res.pswpin > 0, "nothing came back from swap");
	cr_assert_eq(res.write_bytes, res.pswpout * (uint64_t)sysconf(_SC_PAGESIZE));
	assert_clean();
}

Test(hostswap, reports_exit_status)
{
	char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	struct hostswap_result res;
	int ret;

	need_machine();
	ret = run(argv, 64 * MiB, 16 * MiB, &res);
	cr_assert_eq(ret, 0, "run: %d %s", ret, err);
	cr_assert_eq(res.status, 3);
	cr_assert_gt(res.wall_s, 0);
	assert_clean();
}

Test(hostswap, oom_kill_without_enough_swap)
{
	char *argv[] = { hog, "192", NULL };
	struct hostswap_result res;
	int ret;

	need_machine();
	build_hog();
	ret = run(argv, 32 * MiB, 16 * MiB, &res);
	cr_assert_eq(ret, 0, "run: %d %s", ret, err);
	cr_log_info("192 MiB in 32 MiB + 16 MiB swap: status %d after %.3f s", res.status,
		    res.wall_s);
	cr_assert(res.status == -1 || res.status == 137, "status %d: not killed", res.status);
	assert_clean();
}

Test(hostswap, exec_failure_is_an_error)
{
	char *argv[] = { "/nonexistent/memvisor", NULL };
	struct hostswap_result res;

	need_machine();
	cr_assert_eq(run(argv, 64 * MiB, 16 * MiB, &res), -ENOENT, "err: %s", err);
	cr_assert(strstr(err, "/nonexistent/memvisor"), "err: %s", err);
	assert_clean();
}

/* quiet sends the child's output to /dev/null; otherwise it is ours. */
static size_t output_of(bool quiet)
{
	char *argv[] = { "/bin/echo", "hostswap-output", NULL };
	struct hostswap_spec spec = {
		.argv = argv, .mem_limit = 64 * MiB, .swap_size = 16 * MiB, .swap_dir = dir,
		.quiet = quiet,
	};
	struct hostswap_result res;
	char path[PATH_MAX + 8];
	struct stat st;
	int fd, saved, ret;

	snprintf(path, sizeof(path), "%s.out", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	ret = hostswap_run(&spec, &res, err, sizeof(err));
	dup2(saved, 1);
	close(saved);
	fstat(fd, &st);
	close(fd);
	unlink(path);
	cr_assert_eq(ret, 0, "run: %d %s", ret, err);
	cr_assert_eq(res.status, 0);
	return st.st_size;
}

Test(hostswap, quiet_silences_the_child)
{
	need_machine();
	cr_assert_eq(output_of(true), 0);
	cr_assert_eq(output_of(false), strlen("hostswap-output\n"));
	assert_clean();
}

/* The floor of bench overcommit: no cgroup, no swap, no root; stdout kept. */
Test(hostswap, no_limit_runs_outside_any_group_and_keeps_its_output)
{
	char *argv[] = { "/bin/sh", "-c", "grep -c memvisor-bench- /proc/self/cgroup; exit 3", NULL };
	struct hostswap_spec spec = { .argv = argv, .no_limit = true, .quiet = true };
	struct hostswap_result res;
	char out[64] = "";
	FILE *f = tmpfile();

	cr_assert_not_null(f);
	spec.out_fd = fileno(f);
	cr_assert_eq(hostswap_run(&spec, &res, err, sizeof(err)), 0, "run: %s", err);
	cr_assert_eq(res.status, 3);
	rewind(f);
	cr_assert_not_null(fgets(out, sizeof(out), f));
	fclose(f);
	cr_assert_str_eq(out, "0\n", "in a group: %s", out);
	cr_assert_gt(res.minfault, 0);
	cr_assert_eq(res.pswpout, 0);
	cr_assert_eq(count_our_cgroups(), 0);
}

/* swapon a file of our own (made by mkswap, not by the code under test) */
static int other_swap_on(const char *path)
{
	char cmd[3 * PATH_MAX + 128];

	int n = snprintf(cmd, sizeof(cmd), "fallocate -l 16M %s && chmod 600 %s && "
			 "/usr/sbin/mkswap %s >/dev/null 2>&1", path, path, path);

	if (n >= (int)sizeof(cmd) || system(cmd) != 0)
		return -1;
	return swapon(path, 0) ? -errno : 0;
}

Test(hostswap, refuses_beside_active_swap)
{
	char *argv[] = { "/bin/true", NULL };
	char other[PATH_MAX + 8];
	struct hostswap_result res;
	int on, ret, off;

	need_machine();
	if (access("/usr/sbin/mkswap", X_OK))
		skip("no /usr/sbin/mkswap to make the other swap file");
	snprintf(other, sizeof(other), "%s.other", dir);
	on = other_swap_on(other);
	ret = on ? 0 : run(argv, 64 * MiB, 16 * MiB, &res);
	/* take the other swap away before any assertion can end the test */
	off = on ? 0 : swapoff(other);
	unlink(other);
	cr_assert_eq(on, 0, "could not swapon %s: %d", other, on);
	cr_assert_eq(off, 0, "swapoff %s: %s", other, strerror(errno));
	cr_assert_eq(ret, -EBUSY, "run: %d %s", ret, err);
	cr_assert(strstr(err, other), "err names the active swap: %s", err);
	assert_clean();
}

/* A second run (say, another memvisor bench) must not race this one to swapon. */
Test(hostswap, refuses_while_another_run_holds_the_lock)
{
	char *argv[] = { "/bin/true", NULL };
	struct hostswap_result res;
	int fd, ret;

	need_machine();
	fd = open("/run/memvisor-hostswap.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	ret = run(argv, 64 * MiB, 16 * MiB, &res);
	close(fd);
	cr_assert_eq(ret, -EBUSY, "run: %d %s", ret, err);
	cr_assert(strstr(err, "in progress"), "err: %s", err);
	assert_clean();
}

/* tmpfs takes no swap files: swapon fails after the file and the group exist. */
/* bench overcommit beside another helper's run: it waits its turn if asked. */
Test(hostswap, waits_for_the_lock_when_asked)
{
	char *argv[] = { "/bin/true", NULL };
	struct hostswap_spec spec = { .argv = argv, .mem_limit = 64 * MiB, .swap_size = 16 * MiB,
				      .quiet = true, .lock_wait_ms = 10000 };
	struct hostswap_result res;
	int p[2], ret;
	char c;
	pid_t pid;

	need_machine();
	spec.swap_dir = dir;
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open("/run/memvisor-hostswap.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0 || flock(fd, LOCK_EX) || write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(300000);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the child could not take the lock");
	ret = hostswap_run(&spec, &res, err, sizeof(err));
	waitpid(pid, NULL, 0);
	cr_assert_eq(ret, 0, "run: %d %s", ret, err);
	cr_assert_eq(res.status, 0);
	assert_clean();
}

Test(hostswap, swapon_failure_cleans_up)
{
	char *argv[] = { "/bin/true", NULL };
	char shm[] = "/dev/shm/memvisor-test-hostswap.XXXXXX";
	struct hostswap_spec spec = {
		.argv = argv, .mem_limit = 64 * MiB, .swap_size = 16 * MiB, .swap_dir = shm,
	};
	struct hostswap_result res;
	unsigned left;
	int ret;

	need_machine();
	if (!mkdtemp(shm))
		skip("no /dev/shm");
	ret = hostswap_run(&spec, &res, err, sizeof(err));
	left = count_entries(shm, "");
	rmdir(shm);
	cr_assert_lt(ret, 0, "swapon on tmpfs worked?");
	cr_assert(strstr(err, "swapon") && strstr(err, "failed"), "err: %s", err);
	cr_assert_eq(left, 0, "the swap file is still in %s", shm);
	assert_clean();
}

Test(hostswap, missing_swap_dir_cleans_up)
{
	char *argv[] = { "/bin/true", NULL };
	struct hostswap_spec spec = {
		.argv = argv, .mem_limit = 64 * MiB, .swap_size = 16 * MiB,
		.swap_dir = "/nonexistent/memvisor-swap",
	};
	struct hostswap_result res;

	need_machine();
	cr_assert_eq(hostswap_run(&spec, &res, err, sizeof(err)), -ENOENT, "err: %s", err);
	cr_assert(strstr(err, "/nonexistent/memvisor-swap"), "err: %s", err);
	assert_clean();
}
