// SPDX-License-Identifier: MIT
/*
 * Watching a run: the --stats time series against the summary, the stat
 * socket and 'memvisor stat' on live runs (rows, --json, --maps,
 * --translate), who may connect, hostile clients, the socket's removal,
 * the progress line on a terminal. Each run gets a socket directory of its
 * own (XDG_RUNTIME_DIR), so other memvisors on the machine never interfere.
 */
#include "vmm/cli/stat_json.h"
#include "vmm/cli/stat_proto.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "need_kvm.h"

#define MEMVISOR MV_BUILD_DIR "/memvisor"
#define CLI_GUESTS_MAX_TEST 4

static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

static void read_path(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	slurp(fd, buf, len);
	close(fd);
}

/* A private directory for one test's sockets and files. */
static void private_dir(char *dir)
{
	strcpy(dir, "/tmp/mvstat-XXXXXX");
	cr_assert(mkdtemp(dir));
}

struct proc {
	pid_t pid;
	char out[65536], err[65536];
	int fo, fe;
	int status;
};

/* A file size limit for the next start()'s child (RLIMIT_FSIZE; 0: none). */
static rlim_t start_fsize;

/* Start memvisor with argv, XDG_RUNTIME_DIR=xdg (NULL: unset), output to files. */
static void start(struct proc *p, const char *xdg, char *const argv[])
{
	char out[] = "/tmp/mvstat-out-XXXXXX", err[] = "/tmp/mvstat-err-XXXXXX";

	p->fo = mkstemp(out);
	p->fe = mkstemp(err);
	cr_assert(p->fo >= 0 && p->fe >= 0);
	unlink(out);
	unlink(err);
	p->pid = fork();
	cr_assert(p->pid >= 0);
	if (p->pid == 0) {
		dup2(p->fo, 1);
		dup2(p->fe, 2);
		if (start_fsize)
			setrlimit(RLIMIT_FSIZE, &(struct rlimit){ start_fsize, start_fsize });
		if (xdg)
			setenv("XDG_RUNTIME_DIR", xdg, 1);
		else
			unsetenv("XDG_RUNTIME_DIR");
		execv(MEMVISOR, argv);
		_exit(127);
	}
}

/* Wait for it (killed after ms), then read what it wrote. */
static void finish(struct proc *p, int ms)
{
	int waited = 0;

	while (waitpid(p->pid, &p->status, WNOHANG) == 0) {
		if (waited++ >= ms) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			cr_assert_fail("memvisor still running after %d ms", ms);
		}
		usleep(1000);
	}
	cr_assert(WIFEXITED(p->status), "memvisor died by a signal");
	p->status = WEXITSTATUS(p->status);
	lseek(p->fo, 0, SEEK_SET);
	lseek(p->fe, 0, SEEK_SET);
	slurp(p->fo, p->out, sizeof(p->out));
	slurp(p->fe, p->err, sizeof(p->err));
	close(p->fo);
	close(p->fe);
}

static void run(struct proc *p, const char *xdg, char *const argv[])
{
	start(p, xdg, argv);
	finish(p, 240000);
}

static void wait_for_path(const char *path)
{
	for (int i = 0; access(path, F_OK); i++) {
		cr_assert(i < 20000, "%s never appeared", path);
		usleep(1000);
	}
}

/* --------------------------------------------------------------- JSON */

Test(stat_json, reader)
{
	const char *j = "{\"t\":1.5,\"a\":{\"b\":[1,{\"c\":\"x\\\"y\"},3]},\"n\":null,\"z\":18446744073709551615}";
	char buf[16];
	uint64_t v;
	double d;
	char deep[300];

	cr_assert(sjson_valid(j));
	cr_assert(sjson_f64(j, "t", &d) && d == 1.5);
	cr_assert(sjson_u64(j, "a.b[0]", &v) && v == 1);
	cr_assert(sjson_u64(j, "a.b[2]", &v) && v == 3);
	cr_assert(sjson_str(j, "a.b[1].c", buf, sizeof(buf)) && !strcmp(buf, "x\"y"), "%s", buf);
	cr_assert(sjson_u64(j, "z", &v) && v == UINT64_MAX);
	cr_assert_eq(sjson_len(j, "a.b"), 3);
	cr_assert(!sjson_u64(j, "n", &v));
	cr_assert(!sjson_find(j, "a.b[3]"));
	cr_assert(!sjson_find(j, "a.x"));
	cr_assert(!sjson_find(j, "t.x"));
	cr_assert(!sjson_valid("{\"a\":1"));
	cr_assert(!sjson_valid("{\"a\":1} x"));
	cr_assert(!sjson_valid("{\"a\" 1}"));
	cr_assert(!sjson_valid("[1,]"));
	cr_assert(!sjson_valid("\"ab"));
	cr_assert(!sjson_valid("tru"));
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	cr_assert(!sjson_valid(deep)); /* refused, not a stack overflow */
}

/* Random bytes and mutations of a real line: the reader never reads past
 * the end or recurses without bound (ASan and UBSan builds check), and
 * requests never crash the server's parser. A cheap, deterministic fuzz. */
Test(stat_json, random_input_is_refused_or_read_safely)
{
	static const char seed[] = "{\"t\":0.5,\"pool\":null,\"guests\":[{\"guest\":\"a\","
				   "\"state\":\"running\",\"mm\":{\"rss_pages\":12,\"x\":[1,2,{}]}}]}";
	char buf[sizeof(seed) + 8], out[32];
	unsigned state = 12345;
	uint64_t v;

	for (int i = 0; i < 200000; i++) {
		size_t len = sizeof(seed) - 1;

		memcpy(buf, seed, sizeof(seed));
		for (int k = 0; k < 1 + i % 4; k++) {
			state = state * 1103515245u + 12345u;
			buf[(state >> 8) % len] = (char)(state >> 16);
		}
		state = state * 1103515245u + 12345u;
		buf[(state >> 8) % (len + 1)] = '\0'; /* cut short too */
		(void)sjson_valid(buf);
		(void)sjson_u64(buf, "guests[0].mm.rss_pages", &v);
		(void)sjson_str(buf, "guests[0].state", out, sizeof(out));
		(void)sjson_len(buf, "guests[0].mm.x");
	}
}

Test(stat_proto, bad_requests_get_one_error_line)
{
	static const char *const bad[] = { "", "hello", "stats extra", "maps a b", "translate",
					   "translate zz", "translate 0x1000 a b", "\x01\x02", "st\x7f" "ats",
					   "maps \x1b[2J" };
	size_t len;
	char *r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		r = stat_reply(bad[i], strlen(bad[i]), false, &len);
		cr_assert(r && len == strlen(r) && !strncmp(r, "error: ", 7) && strchr(r, '\n') == r + len - 1,
			  "request %zu: %s", i, r);
		cr_assert(!strchr(r, '\x1b') && !strchr(r, '\x7f'), "request %zu echoed a control byte", i);
		free(r);
	}
	r = stat_reply("stats", 3, false, &len); /* a NUL inside the line */
	cr_assert(r && !strncmp(r, "error: ", 7), "%s", r);
	free(r);
	r = stat_reply("maps", 4, false, &len); /* no guest in this process */
	cr_assert_str_eq(r, "error: no guest is running\n");
	free(r);
	r = stat_reply("xxxx", 4, true, &len);
	cr_assert_str_eq(r, "error: request longer than 256 bytes\n");
	free(r);
}

/* ----------------------------------------------------- --stats FILE */

/* The text of the value at path, as a string of its own. */
static void json_text(const char *json, const char *path, char *buf, size_t len)
{
	const char *p = sjson_find(json, path), *end = sjson_skip_value(p);

	cr_assert(p && end, "no %s in %s", path, json);
	cr_assert((size_t)(end - p) < len);
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
}

/* Counters that only ever grow, and the paths to them in a line. */
static const char *const cumulative[] = {
	"mm.pgfault", "mm.installed", "mm.swapins", "mm.refaults", "mm.install_calls",
	"mm.hiwater_rss_pages", "mm.handler_ns.total",
};
static const char *const cumulative_pool[] = {
	"vmstat.pgmajfault", "vmstat.pswpin", "vmstat.pswpout", "vmstat.pgscan_kswapd",
	"vmstat.pgsteal_kswapd", "vmstat.kswapd_wakeups", "swap.pages_written", "swap.pages_read",
	"pool.populated_pages",
};

/* Every line valid JSON; t grows; no cumulative counter ever goes down. */
static char *check_lines(char *text, unsigned nr_guests, int *nlines)
{
	char *line, *save = NULL, *last = NULL, path[96];
	double t, last_t = -1;
	uint64_t prev[CLI_GUESTS_MAX_TEST][16] = { { 0 } }, prevp[16] = { 0 }, v;

	*nlines = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cr_assert(sjson_valid(line), "line %d is not JSON: %s", *nlines + 1, line);
		cr_assert(sjson_f64(line, "t", &t) && t > last_t, "t did not grow: %s", line);
		cr_assert_eq(sjson_len(line, "guests"), (int)nr_guests, "%s", line);
		for (unsigned g = 0; g < nr_guests; g++)
			for (size_t k = 0; k < sizeof(cumulative) / sizeof(*cumulative); k++) {
				snprintf(path, sizeof(path), "guests[%u].%s", g, cumulative[k]);
				if (!sjson_u64(line, path, &v))
					continue; /* not created yet */
				cr_assert(v >= prev[g][k], "%s went down at t=%g", path, t);
				prev[g][k] = v;
			}
		for (size_t k = 0; k < sizeof(cumulative_pool) / sizeof(*cumulative_pool); k++) {
			cr_assert(sjson_u64(line, cumulative_pool[k], &v), "no %s", cumulative_pool[k]);
			cr_assert(v >= prevp[k], "%s went down at t=%g", cumulative_pool[k], t);
			prevp[k] = v;
		}
		last_t = t;
		last = line;
		++*nlines;
	}
	return last;
}

/* The last line's objects are the summary's, figure for figure. */
static void check_last_line(const char *last, const char *sum, const char *sum_guest0, unsigned n)
{
	static char a[16384], b[16384];
	static const char *const pool_keys[] = { "frames", "free", "frames_lost", "wmark_min",
						 "wmark_low", "wmark_high" };
	char path[64];
	uint64_t x, y;

	for (unsigned g = 0; g < n; g++) {
		snprintf(path, sizeof(path), "guests[%u].mm", g);
		json_text(last, path, a, sizeof(a));
		if (sum_guest0)
			json_text(sum, "mm", b, sizeof(b));
		else {
			snprintf(path, sizeof(path), "guests[%u].mm", g);
			json_text(sum, path, b, sizeof(b));
		}
		cr_assert_str_eq(a, b, "guest %u's last line and summary differ", g);
		snprintf(path, sizeof(path), "guests[%u].state", g);
		cr_assert(sjson_str(last, path, a, 32) && !strcmp(a, "done"), "%s", a);
	}
	json_text(last, "vmstat", a, sizeof(a));
	json_text(sum, "vmstat", b, sizeof(b));
	cr_assert_str_eq(a, b);
	json_text(last, "swap", a, sizeof(a));
	json_text(sum, "swap", b, sizeof(b));
	cr_assert_str_eq(a, b);
	/* pre-zeroing may go on after the guests end: the pool's other figures */
	for (size_t k = 0; k < sizeof(pool_keys) / sizeof(*pool_keys); k++) {
		snprintf(path, sizeof(path), "pool.%s", pool_keys[k]);
		cr_assert(sjson_u64(last, path, &x) && sjson_u64(sum, path, &y));
		cr_assert_eq(x, y, "%s: %llu in the last line, %llu in the summary", path,
			     (unsigned long long)x, (unsigned long long)y);
	}
}

static char lines[1 << 22], sum[65536];

/* memvisor run -q -s SWAP --stats FILE --stats-interval 10ms --summary-json
 * JSON, then args (NULL-ended, at most 12); the lines and the summary read
 * into lines and sum. */
static void stats_run(char *const args[])
{
	char dir[64], stats[96], json[96], swap[96];
	char *argv[32] = { "memvisor", "run", "-q", "-s", swap, "--stats", stats, "--stats-interval",
			   "10ms", "--summary-json", json };
	struct proc p;
	int n = 11;

	need_kvm();
	private_dir(dir);
	snprintf(stats, sizeof(stats), "%s/stats.jsonl", dir);
	snprintf(json, sizeof(json), "%s/summary.json", dir);
	snprintf(swap, sizeof(swap), "%s/swap", dir);
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	run(&p, dir, argv);
	cr_assert_eq(p.status, 0, "%s", p.err);
	read_path(stats, lines, sizeof(lines));
	read_path(json, sum, sizeof(sum));
}

Test(stat, stats_file_every_line_and_the_last_agrees_with_the_summary, .timeout = 240)
{
	int n;

	stats_run((char *[]){ "memtest", "-m", "64M", "-p", "32M", NULL });
	check_last_line(check_lines(lines, 1, &n), sum, sum, 1);
	cr_assert(n >= 5, "only %d lines in a run with swap", n);
}

Test(stat, stats_file_with_several_guests, .timeout = 240)
{
	char state[32];
	int n;

	stats_run((char *[]){ "-p", "48M", "--guest", "name=a,image=memtest,mem=32M",
			      "--guest", "name=b,image=memtest,mem=32M,start=300ms", NULL });
	cr_assert(sjson_str(lines, "guests[1].state", state, sizeof(state)));
	cr_assert_str_eq(state, "waiting"); /* the first line: b starts 300 ms later */
	cr_assert(sjson_str(lines, "guests[1].guest", state, sizeof(state)));
	cr_assert_str_eq(state, "b");
	check_last_line(check_lines(lines, 2, &n), sum, NULL, 2);
}

/* One line, status 2, and the guest never ran. */
static void expect_refused(const char *dir, const char *path, const char *why)
{
	struct proc p;

	run(&p, dir, (char *[]){ "memvisor", "run", "--stats", (char *)path, "hello", NULL });
	cr_assert_eq(p.status, 2, "%s: status %d: %s", path, p.status, p.err);
	cr_assert_str_eq(p.out, "", "the guest ran");
	cr_assert(strstr(p.err, why) && strchr(p.err, '\n') == p.err + strlen(p.err) - 1,
		  "expected one line with '%s': %s", why, p.err);
}

Test(stat, stats_file_refused_before_the_guest_starts)
{
	char dir[64], fifo[96], link[96], target[96];

	need_kvm();
	private_dir(dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(target, sizeof(target), "%s/target", dir);
	cr_assert(!mkfifo(fifo, 0600));
	cr_assert(!symlink(target, link));
	expect_refused(dir, fifo, "not a regular file");
	expect_refused(dir, link, "symbolic link");
	expect_refused(dir, "/nonexistent-dir/stats", "No such file or directory");
	expect_refused(dir, dir, "not a regular file");
	cr_assert(access(target, F_OK), "the link was followed");
}

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* A stats file that fills up (here: the file size limit) fails the run
 * with one line and status 1 once the guest is done, rather than a run that
 * says nothing wrong (before: memvisor was killed by SIGXFSZ). */
Test(stat, a_stats_file_that_cannot_be_written_fails_the_run, .timeout = 120)
{
	char dir[64], path[96];
	struct proc p;

	need_kvm();
	private_dir(dir);
	snprintf(path, sizeof(path), "%s/stats.jsonl", dir);
	start_fsize = 8192;
	run(&p, dir, (char *[]){ "memvisor", "run", "-q", "--no-stat-socket", "--stats", path,
				 "--stats-interval", "1ms", "memtest", "-m", "16M", "--", "--passes",
				 "20", NULL });
	start_fsize = 0;
	cr_assert_eq(p.status, 1, "status %d: %s", p.status, p.err);
	cr_assert(strstr(p.err, "writing the stats to") && strstr(p.err, "File too large"), "%s",
		  p.err);
	cr_assert(strstr(p.out, "0 mismatched words"), "%s", p.out); /* the guest ran its course */
}

/* A swap file larger than the file size limit is one line, not a death. */
Test(stat, a_swap_file_over_the_file_size_limit_is_one_line, .timeout = 120)
{
	char dir[64], path[96];
	struct proc p;

	need_kvm();
	private_dir(dir);
	snprintf(path, sizeof(path), "%s/swap", dir);
	start_fsize = 1 << 20;
	run(&p, dir, (char *[]){ "memvisor", "run", "-q", "-p", "16M", "-s", path, "memtest", "-m",
				 "64M", NULL });
	start_fsize = 0;
	cr_assert_eq(p.status, 1, "status %d: %s", p.status, p.err);
	cr_assert(count_char(p.err, '\n') == 1 && strstr(p.err, "File too large"), "%s", p.err);
	cr_assert(access(path, F_OK), "a swap file was left behind");
}

/* ------------------------------------------------- the socket, live */

/* A guest that runs for about secs seconds with faults and swap throughout. */
static void start_long(struct proc *p, const char *dir, const char *sock, const char *secs)
{
	static char swap[128];

	snprintf(swap, sizeof(swap), "%s/swap", dir);
	if (sock)
		start(p, dir, (char *[]){ "memvisor", "run", "-q", "-t", (char *)secs, "memtest", "-m",
					  "64M", "-p", "32M", "-s", swap, "--stat-socket",
					  (char *)sock, "--", "--passes", "100000", NULL });
	else
		start(p, dir, (char *[]){ "memvisor", "run", "-q", "-t", (char *)secs, "memtest", "-m",
					  "64M", "-p", "32M", "-s", swap, "--", "--passes", "100000",
					  NULL });
}

/* memvisor stat argv with XDG_RUNTIME_DIR=dir: its output and status. */
static void stat_cmd(struct proc *p, const char *dir, char *const argv[])
{
	run(p, dir, argv);
}


Test(stat, memvisor_stat_reads_a_live_run, .timeout = 120)
{
	char dir[64], sock[96];
	struct proc p, s;

	need_kvm();
	private_dir(dir);
	snprintf(sock, sizeof(sock), "%s/live.sock", dir);
	start_long(&p, dir, sock, "4s");
	wait_for_path(sock);
	usleep(300000);

	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", sock, NULL });
	cr_assert_eq(s.status, 0, "%s", s.err);
	cr_assert(strstr(s.out, "flt/s") && strstr(s.out, "steal/s"), "%s", s.out);
	cr_assert_eq(count_char(s.out, '\n'), 2, "header and one row: %s", s.out);
	cr_assert(strstr(s.out, "1/1"), "one guest running: %s", s.out);

	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", "-i", "200ms", "-n", "3", "-g", sock, NULL });
	cr_assert_eq(s.status, 0, "%s", s.err);
	cr_assert_eq(count_char(s.out, '\n'), 4, "header and three rows: %s", s.out);
	cr_assert(strstr(s.out, "memtest          running"), "%s", s.out);

	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", "--json", sock, NULL });
	cr_assert_eq(s.status, 0, "%s", s.err);
	cr_assert(sjson_valid(s.out), "%s", s.out);
	cr_assert(sjson_find(s.out, "guests[0].mm.rss_pages"), "%s", s.out);

	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", "--maps", "-g", "memtest", sock, NULL });
	cr_assert_eq(s.status, 0, "%s", s.err);
	cr_assert(strstr(s.out, "0000000000000000-0000000004000000 rwxp ram  Rss:"), "%s", s.out);
	cr_assert(strstr(s.out, " sys  Rss:") && strstr(s.out, "[locked]"), "%s", s.out);

	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", "--translate", "0x8000001000", sock, NULL });
	cr_assert_eq(s.status, 0, "%s", s.err);
	cr_assert(strstr(s.out, "walk of GVA 0x8000001000") && strstr(s.out, "-> GPA 0x1000"),
		  "%s", s.out);
	cr_assert(strstr(s.out, "EPT entry 0x"), "%s", s.out);

	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", "--maps", "-g", "nosuch", sock, NULL });
	cr_assert_eq(s.status, 1);
	cr_assert(strstr(s.err, "no guest 'nosuch'"), "%s", s.err);

	finish(&p, 60000);
	cr_assert_eq(p.status, 124, "%s", p.err);
	cr_assert(access(sock, F_OK) && errno == ENOENT, "the socket outlived the run");
}

/* The default place, found by PID and alone; gone after SIGTERM. */
Test(stat, default_socket_by_pid_and_removed_on_a_signal, .timeout = 120)
{
	char dir[64], sock[128], pid[16];
	struct proc p, s;

	need_kvm();
	private_dir(dir);
	start_long(&p, dir, NULL, "30s");
	snprintf(sock, sizeof(sock), "%s/memvisor/%d.sock", dir, (int)p.pid);
	snprintf(pid, sizeof(pid), "%d", (int)p.pid);
	wait_for_path(sock);
	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", pid, NULL });
	cr_assert_eq(s.status, 0, "%s", s.err);
	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", NULL }); /* the only one there */
	cr_assert_eq(s.status, 0, "%s", s.err);
	kill(p.pid, SIGTERM);
	finish(&p, 60000);
	cr_assert_eq(p.status, 130, "%s", p.err);
	cr_assert(access(sock, F_OK) && errno == ENOENT, "the socket outlived the run");
	stat_cmd(&s, dir, (char *[]){ "memvisor", "stat", pid, NULL });
	cr_assert_eq(s.status, 1);
	cr_assert(strstr(s.err, "no such socket"), "%s", s.err);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

/* In a child of another user: what connecting and reading gives. */
static int other_user_reads(const char *sock, char *buf, size_t len)
{
	int pipefd[2], status;
	pid_t pid;

	cr_assert(!pipe(pipefd));
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd;

		close(pipefd[0]);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534)) {
			dprintf(pipefd[1], "setresuid: %s", strerror(errno));
			_exit(3);
		}
		fd = connect_to(sock);
		if (fd < 0) {
			dprintf(pipefd[1], "connect: %s", strerror(-fd));
			_exit(1);
		}
		if (send(fd, "stats\n", 6, MSG_NOSIGNAL) != 6) {
			/* refused already: read what it said */
		}
		slurp(fd, buf, len);
		dprintf(pipefd[1], "%s", buf);
		_exit(0);
	}
	close(pipefd[1]);
	slurp(pipefd[0], buf, len);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 3, "could not become another user: "
		  "status 0x%x: %s", status, buf);
	return WEXITSTATUS(status);
}

Test(stat, another_user_cannot_connect, .timeout = 120)
{
	char dir[64], sock[96], buf[4096];
	struct proc p;

	need_kvm();
	if (geteuid() != 0)
		cr_skip_test("needs root to become another user");
	private_dir(dir);
	chmod(dir, 0755); /* let the other user reach the socket: its own mode must hold */
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	start_long(&p, dir, sock, "30s");
	wait_for_path(sock);
	usleep(200000);
	cr_assert_eq(other_user_reads(sock, buf, sizeof(buf)), 1, "%s", buf);
	cr_assert(strstr(buf, "Permission denied"), "%s", buf);
	/* modes opened up: SO_PEERCRED still says no */
	cr_assert(!chmod(sock, 0666));
	cr_assert_eq(other_user_reads(sock, buf, sizeof(buf)), 0, "%s", buf);
	cr_assert_str_eq(buf, "error: this memvisor belongs to another user\n");
	kill(p.pid, SIGINT);
	finish(&p, 60000);
	cr_assert_eq(p.status, 130, "%s", p.err);
	cr_assert(access(sock, F_OK) && errno == ENOENT, "the socket outlived the run");
}

/* Send req raw; what comes back before the server closes. */
static void ask_raw(const char *sock, const void *req, size_t len, char *buf, size_t buflen)
{
	int fd = connect_to(sock);

	cr_assert(fd >= 0, "connect: %s", strerror(-fd));
	if (len)
		cr_assert_eq(write(fd, req, len), (ssize_t)len);
	shutdown(fd, SHUT_WR);
	slurp(fd, buf, buflen);
	close(fd);
}

Test(stat, hostile_clients_get_one_error_line_and_never_block_others, .timeout = 120)
{
	static const char *const bad[] = { "", "\n", "hello\n", "stats extra\n", "maps a b c\n",
					   "translate\n", "translate zz\n", "\x01\x02\xff\n",
					   "stats\0x\n", "maps \x1b[2J\n" };
	static const size_t bad_len[] = { 0, 1, 6, 12, 11, 10, 13, 4, 8, 10 };
	char dir[64], sock[96], buf[8192], big[1000];
	struct proc p;
	int silent[10];

	need_kvm();
	private_dir(dir);
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	start_long(&p, dir, sock, "30s");
	wait_for_path(sock);
	/* clients that connect and say nothing, more than the server serves at once */
	for (int i = 0; i < 10; i++)
		silent[i] = connect_to(sock);
	for (size_t i = 1; i < sizeof(bad) / sizeof(*bad); i++) {
		ask_raw(sock, bad[i], bad_len[i], buf, sizeof(buf));
		cr_assert(!strncmp(buf, "error: ", 7) && count_char(buf, '\n') == 1,
			  "request %zu: %s", i, buf);
		cr_assert(!strchr(buf, '\x1b'), "request %zu echoed a control byte", i);
	}
	memset(big, 'A', sizeof(big));
	ask_raw(sock, big, sizeof(big), buf, sizeof(buf));
	cr_assert_str_eq(buf, "error: request longer than 256 bytes\n");
	/* the silent ones gave way to the askers, and stats still answer */
	ask_raw(sock, "stats\n", 6, buf, sizeof(buf));
	cr_assert(sjson_valid(buf), "%s", buf);
	for (int i = 0; i < 10; i++)
		if (silent[i] >= 0)
			close(silent[i]);
	kill(p.pid, SIGTERM);
	finish(&p, 60000);
	cr_assert_eq(p.status, 130, "%s", p.err);
}

/* A client that finds the path connects: the path appears only once the
 * socket listens (CI failed once with "Connection refused" right after
 * the path appeared, between bind and listen). */
Test(stat, the_socket_listens_as_soon_as_its_path_is_there, .timeout = 240)
{
	char dir[64], sock[96];
	unsigned refused = 0;

	need_kvm();
	private_dir(dir);
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	for (int i = 0; i < 300; i++) {
		struct proc p;
		int fd, spins = 0;

		start(&p, dir, (char *[]){ "memvisor", "run", "-q", "-t", "30s", "memtest", "-m",
					   "16M", "--stat-socket", sock, "--", "--passes",
					   "100000", NULL });
		while (access(sock, F_OK))
			cr_assert(++spins < 100000000, "%s never appeared", sock);
		fd = connect_to(sock);
		if (fd == -ECONNREFUSED)
			refused++;
		else
			cr_assert(fd >= 0, "connect: %s", strerror(-fd));
		if (fd >= 0)
			close(fd);
		kill(p.pid, SIGTERM);
		finish(&p, 60000);
		cr_assert_eq(p.status, 130, "%s", p.err);
	}
	cr_assert_eq(refused, 0, "%u of 300 clients were refused by a path that was there", refused);
}

Test(stat, socket_path_refused_before_the_guest_starts)
{
	char dir[64], sock[200];
	struct proc p;

	need_kvm();
	private_dir(dir);
	memset(sock, 'x', sizeof(sock) - 1);
	sock[0] = '/';
	sock[sizeof(sock) - 1] = '\0';
	run(&p, dir, (char *[]){ "memvisor", "run", "--stat-socket", sock, "hello", NULL });
	cr_assert_eq(p.status, 2, "%s", p.err);
	cr_assert(strstr(p.err, "too long") && count_char(p.err, '\n') == 1, "%s", p.err);
	cr_assert_str_eq(p.out, "");
	run(&p, dir, (char *[]){ "memvisor", "run", "--stat-socket", "/nonexistent-dir/s", "hello",
				 NULL });
	cr_assert_eq(p.status, 2, "%s", p.err);
	cr_assert(strstr(p.err, "stat socket") && count_char(p.err, '\n') == 1, "%s", p.err);
	run(&p, dir, (char *[]){ "memvisor", "run", "--no-stat-socket", "hello", NULL });
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(!strstr(p.err, "stat socket"), "%s", p.err);
}

/* Something planted at the socket's temporary name (PATH.new) is never
 * followed or replaced, and the line says what is in the way (before: it
 * said "another memvisor listens there"). */
Test(stat, a_file_at_the_sockets_temporary_name_is_named_and_left_alone)
{
	char dir[64], sock[96], tmp[112], target[96];
	struct proc p;

	need_kvm();
	private_dir(dir);
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", sock);
	snprintf(target, sizeof(target), "%s/target", dir);
	cr_assert(!symlink(target, tmp));
	run(&p, dir, (char *[]){ "memvisor", "run", "--stat-socket", sock, "hello", NULL });
	cr_assert_eq(p.status, 2, "%s", p.err);
	cr_assert(strstr(p.err, "temporary name") && count_char(p.err, '\n') == 1, "%s", p.err);
	cr_assert(access(target, F_OK) && access(sock, F_OK), "the link was followed or replaced");
}

/* The default socket only warns when it cannot be made: nobody asked for it. */
Test(stat, default_socket_that_cannot_be_made_is_only_a_warning)
{
	char dir[64], blocker[96];
	struct proc p;
	int fd;

	need_kvm();
	private_dir(dir);
	snprintf(blocker, sizeof(blocker), "%s/memvisor", dir);
	fd = open(blocker, O_WRONLY | O_CREAT, 0600); /* a file where the directory would be */
	cr_assert(fd >= 0);
	close(fd);
	run(&p, dir, (char *[]){ "memvisor", "run", "hello", NULL });
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(strstr(p.out, "Hello from memvisor"), "%s", p.out);
	cr_assert(strstr(p.err, "memvisor: warning: no stat socket (") &&
		  strstr(p.err, "Not a directory"), "%s", p.err);
	cr_assert(!strstr(p.err, "stat socket: "), "%s", p.err);
}

/* ----------------------------------------------------- progress line */

/* Run argv on a pseudo-terminal (stdout and stderr): all it wrote. */
static int run_on_pty(char *const argv[], char *buf, size_t len)
{
	int master, status;
	size_t n = 0;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);

	cr_assert(pid >= 0, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		setenv("TERM", "xterm", 1);
		execv(MEMVISOR, argv);
		_exit(127);
	}
	for (;;) {
		ssize_t r = n < len - 1 ? read(master, buf + n, len - 1 - n) : 0;

		if (r <= 0)
			break; /* EIO once the child is gone */
		n += (size_t)r;
	}
	buf[n] = '\0';
	close(master);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(stat, progress_line_on_a_terminal_only, .timeout = 120)
{
	static char buf[1 << 20];
	char dir[64], swap[96], *line;
	struct proc p;

	need_kvm();
	private_dir(dir);
	snprintf(swap, sizeof(swap), "%s/swap", dir);
	cr_assert_eq(run_on_pty((char *[]){ "memvisor", "run", "--no-stat-socket", "-t", "2500ms",
					    "memtest", "-m", "64M", "-p", "32M", "-s", swap, "--",
					    "--passes", "1000", NULL }, buf, sizeof(buf)), 124, "%s", buf);
	line = strstr(buf, "\r\033[Kmemvisor ");
	cr_assert(line && strstr(line, "faults/s"), "no progress line: %s", buf);
	cr_assert(strstr(line, "  rss ") && strstr(line, " MiB/32 MiB  swap "), "%s", line);
	/* cleared before the summary: the summary starts on a clean line */
	cr_assert(strstr(buf, "\r\033[Kmemvisor: guest memtest timed out") ||
		  strstr(buf, "\r\033[Kmemvisor: "), "%s", buf);
	cr_assert_eq(run_on_pty((char *[]){ "memvisor", "run", "-q", "--no-stat-socket", "-t",
					    "2500ms", "memtest", "-m", "64M", "-p", "32M", "-s", swap,
					    "--", "--passes", "1000", NULL }, buf, sizeof(buf)), 124);
	cr_assert(!strstr(buf, "faults/s"), "a progress line with -q: %s", buf);
	run(&p, dir, (char *[]){ "memvisor", "run", "--no-stat-socket", "-t", "2500ms", "memtest", "-m",
				 "64M", "-p", "32M", "-s", swap, "--", "--passes", "1000", NULL });
	cr_assert_eq(p.status, 124, "%s", p.err);
	cr_assert(!strstr(p.err, "faults/s") && !strchr(p.err, '\r'), "%s", p.err);
}

/* Guest console lines never land on the status line: it is cleared before
 * each one, so each starts at the left edge of a clean line. Guest b says
 * hello 1.5 s in, while the status line is up. */
Test(stat, progress_line_keeps_clear_of_guest_lines, .timeout = 120)
{
	static char buf[1 << 20];
	const char *hello, *start, *status;

	need_kvm();
	cr_assert_eq(run_on_pty((char *[]){ "memvisor", "run", "--no-stat-socket", "-t", "3s",
					    "--guest", "name=a,image=memtest,mem=32M,args=--passes 100000",
					    "--guest", "name=b,image=hello,mem=4M,start=1500ms", NULL },
				buf, sizeof(buf)), 124, "%s", buf);
	hello = strstr(buf, "[b] ");
	status = strstr(buf, "\r\033[Kmemvisor ");
	cr_assert(hello && status && status < hello, "no status line before b's: %s", buf);
	for (start = hello; start > buf && start[-1] != '\n'; start--)
		;
	cr_assert(start == hello || (hello - start >= 4 && !strncmp(hello - 4, "\r\033[K", 4)),
		  "b's line shares a line with something: %.*s", (int)(hello - start + 20), start);
}

/* A benchmark's guest runs show the line too on a terminal (phased 4x in a
 * 16 MiB pool runs for seconds; -q and no terminal are the run's tests). */
Test(stat, progress_line_in_a_benchmark_on_a_terminal, .timeout = 240)
{
	static char buf[1 << 20];
	char *line;

	need_kvm();
	cr_assert_eq(run_on_pty((char *[]){ "memvisor", "bench", "overcommit", "--pool", "16M",
					    "--ratios", "4", "--workload", "phased", "--no-kernel",
					    NULL }, buf, sizeof(buf)), 0, "%s", buf);
	line = strstr(buf, "\r\033[Kmemvisor ");
	cr_assert(line && strstr(line, " MiB/16 MiB  swap "), "no progress line: %s", buf);
}
