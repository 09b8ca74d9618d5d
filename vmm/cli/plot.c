// SPDX-License-Identifier: MIT
/*
 * memvisor plot STATS.jsonl -o FILE.png: the stats time series of a run
 * drawn with gnuplot. The data files and the script go to a private
 * directory (mkdtemp, 0700) that is removed afterwards; gnuplot draws there,
 * and the picture then replaces FILE the way --summary-json replaces its
 * file: FILE must be a regular file or absent, the new one is made beside it
 * with O_EXCL and renamed over it only once complete.
 */
#include "cli.h"
#include "plot.h"
#include "summary_file.h"
#include "vmm/guest.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct plot_dir {
	char path[64];
	size_t nr_files;
};

static const char plot_usage[] =
	"usage: memvisor plot STATS.jsonl -o FILE.png\n"
	"  draws, per guest over time, rss against its limits and the pool, swap, and the\n"
	"  fault and swap-in rates, from a stats file of memvisor run --stats, with gnuplot\n"
	"  -o, --output FILE   the PNG to write (a regular file, replaced once complete)\n"
	"  -h, --help          this text\n";

/* Write one file of the private directory: 0 or -errno. */
static int plot_dir_write(struct plot_dir *d, const char *name, const struct plot_series *s,
			  size_t guest, const char *title)
{
	char path[128];
	FILE *f;
	int fd, e = 0;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (title)
		plot_write_script(f, s, "plot.png", title);
	else
		plot_write_data(f, &s->g[guest]);
	if (ferror(f))
		e = EIO;
	if (fclose(f) && !e)
		e = errno;
	return -e;
}

static void plot_dir_remove(struct plot_dir *d, const struct plot_series *s)
{
	char path[128];

	for (size_t i = 0; i < s->nr_guests; i++) {
		snprintf(path, sizeof(path), "%s/g%zu.dat", d->path, i);
		unlink(path);
	}
	for (const char *const *n = (const char *const[]){ "plot.gp", "plot.png", "gnuplot.err", NULL };
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", d->path, *n);
		unlink(path);
	}
	rmdir(d->path);
}

/* gnuplot run in the directory on plot.gp: 0, or 1 with one line printed. */
static int plot_gnuplot(const struct plot_dir *d)
{
	char *argv[] = { "gnuplot", "plot.gp", NULL }, err[128], line[256] = "";
	posix_spawn_file_actions_t fa;
	int ret, status;
	FILE *f;
	pid_t pid;

	snprintf(err, sizeof(err), "%s/gnuplot.err", d->path);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addchdir_np(&fa, d->path);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "gnuplot.err", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ret = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret == ENOENT) {
		fprintf(stderr, "memvisor: plot: gnuplot is not installed (Debian: apt-get install "
			"gnuplot-nox)\n");
		return VMM_EXIT_RUNTIME;
	}
	if (ret || waitpid(pid, &status, 0) != pid) {
		fprintf(stderr, "memvisor: plot: cannot run gnuplot: %s\n", strerror(ret ? ret : errno));
		return VMM_EXIT_RUNTIME;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	f = fopen(err, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	fprintf(stderr, "memvisor: plot: gnuplot failed%s%s\n", line[0] ? ": " : "", line);
	return VMM_EXIT_RUNTIME;
}

/* Copy fd's bytes to a new file made beside path, then rename it over path. */
static int plot_install(int in, const char *path, mode_t mode)
{
	char tmp[PATH_MAX + 16], buf[65536];
	const char *slash = strrchr(path, '/');
	ssize_t n = 0;
	int out, e = 0;

	if (slash)
		snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
	else
		snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", path);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0)
		return -errno;
	if (fchmod(out, mode))
		e = errno;
	while (!e && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			e = errno ? errno : EIO;
	if (!e && (n < 0 || fsync(out)))
		e = errno;
	if (close(out) && !e)
		e = errno;
	if (!e && rename(tmp, path))
		e = errno;
	if (e)
		unlink(tmp);
	return -e;
}

/* Data, script, gnuplot, and the picture into place. */
static int plot_draw(const struct plot_series *s, const char *title, const char *file)
{
	char target[PATH_MAX], png[96];
	struct plot_dir d;
	const char *tmpdir = getenv("TMPDIR");
	mode_t mode = 0600;
	int ret = 0, in;

	if (cli_output_target("plot", file, target, sizeof(target), &mode))
		return VMM_EXIT_USAGE;
	/* a TMPDIR that is long or odd is not worth a quoting scheme: /tmp then */
	if (!tmpdir || !*tmpdir || strlen(tmpdir) > 40 || strpbrk(tmpdir, "'\"\\\n"))
		tmpdir = "/tmp";
	snprintf(d.path, sizeof(d.path), "%s/memvisor-plot-XXXXXX", tmpdir);
	if (!mkdtemp(d.path)) {
		fprintf(stderr, "memvisor: plot: cannot make a directory in %s: %s\n", tmpdir,
			strerror(errno));
		return VMM_EXIT_RUNTIME;
	}
	for (size_t i = 0; i < s->nr_guests && !ret; i++) {
		char name[32];

		snprintf(name, sizeof(name), "g%zu.dat", i);
		ret = plot_dir_write(&d, name, s, i, NULL);
	}
	if (!ret)
		ret = plot_dir_write(&d, "plot.gp", s, 0, title);
	if (ret) {
		fprintf(stderr, "memvisor: plot: cannot write in %s: %s\n", d.path, strerror(-ret));
		ret = VMM_EXIT_RUNTIME;
	} else {
		ret = plot_gnuplot(&d);
	}
	snprintf(png, sizeof(png), "%s/plot.png", d.path);
	if (!ret && (in = open(png, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		int e = plot_install(in, target, mode);

		close(in);
		if (e) {
			fprintf(stderr, "memvisor: plot: cannot write %s: %s\n", file, strerror(-e));
			ret = VMM_EXIT_RUNTIME;
		}
	} else if (!ret) {
		fprintf(stderr, "memvisor: plot: gnuplot drew no picture (%s)\n", strerror(errno));
		ret = VMM_EXIT_RUNTIME;
	}
	plot_dir_remove(&d, s);
	return ret;
}

static int plot_read(const char *stats, struct plot_series *s)
{
	char err[320];
	FILE *f = strcmp(stats, "-") ? fopen(stats, "r") : stdin;
	struct stat st;
	int ret;

	if (!f)
		return cli_usage_error("plot: cannot read %s: %s", stats, strerror(errno));
	/* a FIFO or a device would do, a directory would read as an error later */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return cli_usage_error("plot: %s is a directory, not a stats file", stats);
	}
	ret = plot_parse_file(f, s, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	if (ret == -ENOMEM) {
		fprintf(stderr, "memvisor: plot: out of memory reading %s\n", stats);
		return VMM_EXIT_RUNTIME;
	}
	if (ret)
		return cli_usage_error("plot: %s: %s", stats, err);
	return 0;
}

int cli_cmd_plot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct plot_series *s;
	const char *out = NULL, *base;
	char title[128];
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(plot_usage, stdout);
			return 0;
		}
		if (c == ':')
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return cli_usage_error("unknown option '%s' for plot", argv[optind - 1]);
		out = optarg;
	}
	if (optind != argc - 1)
		return cli_usage_error(optind >= argc ? "plot: no stats file given (usage: memvisor plot "
				       "STATS.jsonl -o FILE.png)" : "plot: one stats file at a time");
	if (!out)
		return cli_usage_error("plot: no output file: -o FILE.png");
	s = calloc(1, sizeof(*s));
	if (!s)
		return VMM_EXIT_RUNTIME;
	ret = plot_read(argv[optind], s);
	if (!ret) {
		base = strrchr(argv[optind], '/');
		base = base ? base + 1 : argv[optind];
		memcpy(title, "memvisor: ", 10);
		plot_safe_name(title + 10, sizeof(title) - 10, base, strlen(base));
		ret = plot_draw(s, title, out);
	}
	plot_series_free(s);
	free(s);
	return ret;
}
