// SPDX-License-Identifier: MIT
/*
 * memvisor plot: a stats series drawn into a PNG; malformed, empty and
 * hostile stats files refused with one line and status 2; the output file
 * replaced only when complete, never through anything but a regular file;
 * no temporary directory left behind; gnuplot missing said in one line.
 */
#include "vmm/cli/plot.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEMVISOR MV_BUILD_DIR "/memvisor"

struct res {
	int status;
	char err[4096];
};

/* A private directory for one test: files, TMPDIR of the memvisor it runs. */
static char dir[64];

static const char *in_dir(const char *name)
{
	static char path[4][128];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvplot-test-XXXXXX");
	cr_assert(mkdtemp(dir));
	cr_assert(mkdir(in_dir("tmp"), 0700) == 0);
}

static void teardown_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* memvisor plot STATS -o OUT with TMPDIR in the test's directory; path
 * replaces PATH when not NULL. Stderr kept. */
static void plot(struct res *r, const char *stats, const char *out, const char *path)
{
	char errf[128];
	int fd, status;
	pid_t pid;

	snprintf(errf, sizeof(errf), "%s/stderr", dir);
	fd = open(errf, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(fd, 2);
		setenv("TMPDIR", in_dir("tmp"), 1);
		if (path)
			setenv("PATH", path, 1);
		execl(MEMVISOR, "memvisor", "plot", stats, "-o", out, (char *)NULL);
		_exit(127);
	}
	alarm(60);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	alarm(0);
	cr_assert(WIFEXITED(status), "memvisor plot died by signal %d", WTERMSIG(status));
	r->status = WEXITSTATUS(status);
	memset(r->err, 0, sizeof(r->err));
	cr_assert(pread(fd, r->err, sizeof(r->err) - 1, 0) >= 0);
	close(fd);
}

static int lines_of(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* TMPDIR must be empty again: the private directory went. */
static void expect_no_leftovers(void)
{
	DIR *d = opendir(in_dir("tmp"));
	struct dirent *e;

	cr_assert(d);
	while ((e = readdir(d)))
		cr_expect(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
			  "left behind: %s", e->d_name);
	closedir(d);
}

static void expect_png(const char *path)
{
	unsigned char sig[8];
	struct stat st;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(read(fd, sig, sizeof(sig)), 8);
	cr_expect(!memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "not a PNG");
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_gt(st.st_size, 5000, "a PNG of %lld bytes", (long long)st.st_size);
	close(fd);
}

/* A series in the format of --stats: two guests, limits on one, swap growing. */
static void write_fixture(const char *path, int nr_lines)
{
	FILE *f = fopen(path, "w");

	cr_assert(f);
	for (int i = 0; i < nr_lines; i++)
		fprintf(f, "{\"t\": %.3f, \"pool\": {\"frames\": 4096, \"free\": %d}, \"vmstat\": "
			"{\"pswpin\": %d}, \"swap\": null, \"guests\": [{\"guest\": \"a\", \"state\": "
			"\"running\", \"mm\": {\"rss_pages\": %d, \"swap_ents\": %d, \"pgfault\": %d, "
			"\"swapins\": %d, \"refaults\": 0, \"wss_pages\": 10, \"limits\": {\"min\": 0, "
			"\"low\": 0, \"high\": 2048, \"max\": 3072}}}, {\"guest\": \"b\", \"state\": "
			"\"running\", \"mm\": {\"rss_pages\": %d, \"swap_ents\": 0, \"pgfault\": %d, "
			"\"swapins\": 0, \"limits\": {\"min\": 0, \"low\": 0, \"high\": 0, \"max\": 0}}}]}\n",
			i * 0.1, 100, i * 3, i < 30 ? i * 100 : 3000, i < 30 ? 0 : (i - 30) * 50,
			i * 200, i > 30 ? (i - 30) * 20 : 0, i * 50, i * 60);
	cr_assert_eq(fclose(f), 0);
}

TestSuite(plot, .init = setup_dir, .fini = teardown_dir, .timeout = 120);

Test(plot, fixture_png)
{
	struct res r;

	write_fixture(in_dir("stats.jsonl"), 50);
	plot(&r, in_dir("stats.jsonl"), in_dir("out.png"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_str_empty(r.err);
	expect_png(in_dir("out.png"));
	expect_no_leftovers();
}

/* One sample: no rates to draw, and still a picture. */
Test(plot, one_sample)
{
	struct res r;

	write_fixture(in_dir("stats.jsonl"), 1);
	plot(&r, in_dir("stats.jsonl"), in_dir("out.png"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	expect_png(in_dir("out.png"));
}

static const struct {
	const char *what, *text;
} bad[] = {
	{ "empty", "" },
	{ "blank lines", "\n\n\n" },
	{ "not JSON", "hello\n" },
	{ "truncated", "{\"t\": 1, \"guests\": [{\"guest\": \"a\", \"mm\": {\"rss_p" },
	{ "an array", "[1, 2]\n" },
	{ "no t", "{\"guests\": []}\n" },
	{ "no guests", "{\"t\": 1}\n" },
	{ "no guest in any line", "{\"t\": 1, \"guests\": []}\n" },
	{ "negative t", "{\"t\": -1, \"guests\": [{\"guest\": \"a\", \"mm\": {\"rss_pages\": 1}}]}\n" },
	{ "t backwards", "{\"t\": 2, \"guests\": [{\"guest\": \"a\", \"mm\": {\"rss_pages\": 1}}]}\n"
			 "{\"t\": 1, \"guests\": [{\"guest\": \"a\", \"mm\": {\"rss_pages\": 1}}]}\n" },
	{ "huge count", "{\"t\": 1, \"guests\": [{\"guest\": \"a\", \"mm\": {\"rss_pages\": 1e300}}]}\n" },
	{ "string count", "{\"t\": 1, \"guests\": [{\"guest\": \"a\", \"mm\": {\"rss_pages\": \"9\"}}]}\n" },
	{ "nameless guest", "{\"t\": 1, \"guests\": [{\"mm\": {\"rss_pages\": 1}}]}\n" },
	{ "hex number", "{\"t\": 0x10, \"guests\": []}\n" },
	{ "nan", "{\"t\": NaN, \"guests\": []}\n" },
	{ "leading zero", "{\"t\": 01, \"guests\": []}\n" },
	{ "control byte", "{\"t\": 1, \"guests\": [{\"guest\": \"a\x01\", \"mm\": {}}]}\n" },
	{ "bad escape", "{\"t\": 1, \"guests\": [{\"guest\": \"a\\x\", \"mm\": {}}]}\n" },
	{ "trailing bytes", "{\"t\": 1, \"guests\": []} x\n" },
	{ "NUL byte", "{\"t\": 1,\0 \"guests\": []}\n" },
};

Test(plot, bad_stats_one_line_status_2)
{
	struct res r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].text);

		if (!strcmp(bad[i].what, "NUL byte"))
			len = sizeof("{\"t\": 1,\0 \"guests\": []}\n") - 1;
		write_file(in_dir("bad.jsonl"), bad[i].text, len);
		plot(&r, in_dir("bad.jsonl"), in_dir("out.png"), NULL);
		cr_expect_eq(r.status, 2, "%s: status %d: %s", bad[i].what, r.status, r.err);
		cr_expect_eq(lines_of(r.err), 1, "%s: not one line: %s", bad[i].what, r.err);
		cr_expect(!strncmp(r.err, "memvisor: plot: ", 16), "%s: %s", bad[i].what, r.err);
		cr_expect(access(in_dir("out.png"), F_OK), "%s: an output was made", bad[i].what);
	}
	expect_no_leftovers();
}

/* Deep nesting, a very long line, a name made to break out of the script. */
Test(plot, hostile_stats)
{
	static char text[300000];
	struct res r;
	size_t n;

	memset(text, '[', 200000);
	text[200000] = '\n';
	write_file(in_dir("deep.jsonl"), text, 200001);
	plot(&r, in_dir("deep.jsonl"), in_dir("out.png"), NULL);
	cr_expect_eq(r.status, 2, "deep: %s", r.err);
	cr_expect_eq(lines_of(r.err), 1, "deep: %s", r.err);

	n = (size_t)snprintf(text, sizeof(text), "{\"t\": 1, \"guests\": [{\"guest\": \"a'\\n"
			     "system('touch %s')\", \"mm\": {\"rss_pages\": 5}}]}\n", in_dir("pwned"));
	write_file(in_dir("evil.jsonl"), text, n);
	plot(&r, in_dir("evil.jsonl"), in_dir("out.png"), NULL);
	cr_expect_eq(r.status, 0, "evil name: %s", r.err);
	cr_expect(access(in_dir("pwned"), F_OK), "a guest name ran a gnuplot command");
	expect_png(in_dir("out.png"));
	expect_no_leftovers();
}

Test(plot, output_rules)
{
	struct res r;
	struct stat st;

	write_fixture(in_dir("stats.jsonl"), 10);
	/* a directory or a FIFO is never written (nor opened: a FIFO would block) */
	plot(&r, in_dir("stats.jsonl"), dir, NULL);
	cr_expect_eq(r.status, 2, "%s", r.err);
	cr_assert_eq(mkfifo(in_dir("fifo"), 0600), 0);
	plot(&r, in_dir("stats.jsonl"), in_dir("fifo"), NULL);
	cr_expect_eq(r.status, 2, "%s", r.err);
	cr_expect(strstr(r.err, "not a regular file"), "%s", r.err);

	/* a bad stats file leaves an existing output as it was */
	write_file(in_dir("old.png"), "old", 3);
	write_file(in_dir("bad.jsonl"), "{", 1);
	plot(&r, in_dir("bad.jsonl"), in_dir("old.png"), NULL);
	cr_expect_eq(r.status, 2);
	cr_assert_eq(stat(in_dir("old.png"), &st), 0);
	cr_expect_eq(st.st_size, 3);

	/* a link stays a link: its target is replaced, whole */
	cr_assert_eq(symlink(in_dir("old.png"), in_dir("link.png")), 0);
	plot(&r, in_dir("stats.jsonl"), in_dir("link.png"), NULL);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(lstat(in_dir("link.png"), &st), 0);
	cr_expect(S_ISLNK(st.st_mode));
	expect_png(in_dir("old.png"));
}

Test(plot, no_gnuplot)
{
	struct res r;

	write_fixture(in_dir("stats.jsonl"), 10);
	plot(&r, in_dir("stats.jsonl"), in_dir("out.png"), "/nonexistent");
	cr_expect_eq(r.status, 1, "%s", r.err);
	cr_expect_eq(lines_of(r.err), 1, "%s", r.err);
	cr_expect(strstr(r.err, "gnuplot-nox"), "%s", r.err);
	cr_expect(access(in_dir("out.png"), F_OK), "an output was made");
	expect_no_leftovers();
}

/* The parser itself: rates and names, as the data file has them. */
Test(plot, parse_and_data)
{
	struct plot_series *s = calloc(1, sizeof(*s));
	char err[256], buf[1024];
	const char *l1 = "{\"t\": 0.5, \"pool\": {\"frames\": 256}, \"guests\": [{\"guest\": \"x y\", "
			 "\"mm\": {\"rss_pages\": 256, \"pgfault\": 10, \"swapins\": 0, "
			 "\"limits\": {\"max\": 512}}}]}";
	const char *l2 = "{\"t\": 1.5, \"pool\": {\"frames\": 256}, \"guests\": [{\"guest\": \"x y\", "
			 "\"mm\": {\"rss_pages\": 512, \"pgfault\": 110, \"swapins\": 4}}]}";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	cr_assert(s && f);
	const char *l0 = "{\"t\": 0, \"guests\": [{\"guest\": \"x y\", \"state\": \"waiting\", "
			 "\"mm\": null}]}";

	/* a guest not started yet has "mm": null, and no sample */
	cr_assert_eq(plot_parse_line(s, l0, strlen(l0), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plot_parse_line(s, l1, strlen(l1), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plot_parse_line(s, l2, strlen(l2), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(s->nr_guests, 1);
	cr_expect_str_eq(s->g[0].name, "x_y");
	plot_write_data(f, &s->g[0]);
	fclose(f);
	/* 1 MiB rss then 2; the pool 1 MiB; limit.max 2 MiB, then unset; 100 faults/s, 4 swap-ins/s */
	cr_expect(strstr(buf, "\n0.500000 1 0 1 NaN NaN NaN 2 NaN NaN\n"), "%s", buf);
	cr_expect(strstr(buf, "\n1.500000 2 0 1 NaN NaN NaN NaN 100 4\n"), "%s", buf);
	plot_series_free(s);
	free(s);
}

/* A real run's --stats file, drawn, once memvisor run has --stats. */
Test(plot, real_run)
{
	char cmd[1024], swap[128];
	struct res r;
	FILE *p;
	bool has_stats = false;

	p = popen(MEMVISOR " run --help", "r");
	cr_assert(p);
	while (fgets(cmd, sizeof(cmd), p))
		has_stats |= strstr(cmd, "--stats FILE") != NULL;
	pclose(p);
	if (!has_stats)
		cr_skip_test("memvisor run has no --stats yet");
	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	snprintf(swap, sizeof(swap), "%s", in_dir("swap"));
	snprintf(cmd, sizeof(cmd), MEMVISOR " run -q -m 32M -p 16M -s %s --stats %s --stats-interval 20ms "
		 "touch -- --passes 3 >/dev/null", swap, in_dir("stats.jsonl"));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	plot(&r, in_dir("stats.jsonl"), in_dir("out.png"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	expect_png(in_dir("out.png"));
}
