// SPDX-License-Identifier: MIT
/*
 * --stats FILE: a line of the time series every interval, written by a
 * sampler thread, and the last one once every guest ended. The file is
 * written as the run goes (so that it can be followed with tail -f), not
 * renamed into place as the summary is. It must be a regular file or not
 * exist: an existing symbolic link is refused rather than followed (O_NOFOLLOW,
 * so none can be put there between the check and the open), and the open is
 * non-blocking, so a FIFO put there cannot hold memvisor up either.
 */
#include "stats.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	FILE *f;                   /* the sampler's while it runs, then the main thread's */
	const char *path;
	struct stats_ticker ticker;
	int err;                   /* the first write error */
} sf;

static int stats_file_refuse(const char *path, const char *why)
{
	return cli_usage_error("cannot write the stats to %s: %s", path, why);
}

int stats_file_open(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return stats_file_refuse(path, "a symbolic link (give the file itself)");
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return stats_file_refuse(path, "not a regular file");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
	if (fd < 0)
		return stats_file_refuse(path, errno == ELOOP ? "a symbolic link" :
					 errno == ENXIO ? "not a regular file" : strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		close(fd);
		return stats_file_refuse(path, "not a regular file");
	}
	sf.f = fdopen(fd, "w");
	if (!sf.f) {
		close(fd);
		return stats_file_refuse(path, strerror(errno));
	}
	sf.path = path;
	return 0;
}

/* One line, flushed whole: a reader never sees half of one for long. */
static void stats_file_line(void *arg)
{
	(void)arg;
	stats_write_line(sf.f);
	if (fflush(sf.f) == EOF && !sf.err)
		sf.err = errno ? errno : EIO;
}

void stats_file_start(uint64_t interval_ns)
{
	stats_file_line(NULL); /* t = 0: where the run started from */
	if (stats_ticker_start(&sf.ticker, interval_ns, interval_ns, stats_file_line, NULL))
		fprintf(stderr, "memvisor: no sampler thread for --stats: only the first and last "
			"lines are written\n");
}

bool stats_file_failed(void)
{
	return sf.err != 0;
}

void stats_file_end(void)
{
	if (!sf.f)
		return;
	stats_ticker_stop(&sf.ticker);
	stats_file_line(NULL);
	if (fclose(sf.f) == EOF && !sf.err)
		sf.err = errno;
	sf.f = NULL;
	if (sf.err)
		fprintf(stderr, "memvisor: writing the stats to %s failed: %s\n", sf.path,
			strerror(sf.err));
}
