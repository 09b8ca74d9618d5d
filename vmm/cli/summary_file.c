// SPDX-License-Identifier: MIT
/* --summary-json FILE: see summary_file.h for what is promised and why. */
#include "summary_file.h"
#include "cli.h"
#include "vmm/guest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is the link at file one the kernel's protected_symlinks would not follow:
 * in a sticky, world-writable directory, owned by neither us nor the
 * directory's owner? That is how another user aims root's output at a file
 * of root's; the sysctl is off on some machines, so memvisor asks itself. */
static bool output_link_planted(const char *file, const struct stat *link)
{
	const char *slash = strrchr(file, '/');
	char dir[PATH_MAX];
	struct stat ds;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == file ? 1 : (int)(slash - file), file);
	if (stat(dir, &ds))
		return true;
	if (!(ds.st_mode & S_ISVTX) || !(ds.st_mode & S_IWOTH))
		return false;
	return link->st_uid != geteuid() && link->st_uid != ds.st_uid;
}

int cli_output_target(const char *what, const char *file, char *path, size_t len, mode_t *mode)
{
	struct stat st, lst, rst;
	mode_t mask;

	if (lstat(file, &lst) == 0 && S_ISLNK(lst.st_mode) && output_link_planted(file, &lst))
		return cli_usage_error("cannot write the %s to %s: a symbolic link of another user in "
				       "a shared directory, not followed", what, file);
	if (stat(file, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return cli_usage_error("cannot write the %s to %s: not a regular file", what, file);
		if (len < PATH_MAX || !realpath(file, path))
			return cli_usage_error("cannot write the %s to %s: %s", what, file,
					       strerror(len < PATH_MAX ? ENAMETOOLONG : errno));
		/* the file resolved is the one judged, not one swapped in since */
		if (stat(path, &rst) || rst.st_dev != st.st_dev || rst.st_ino != st.st_ino)
			return cli_usage_error("cannot write the %s to %s: it changed while memvisor "
					       "looked at it", what, file);
		*mode = st.st_mode & 07777;
		return 0;
	}
	if (errno != ENOENT)
		return cli_usage_error("cannot write the %s to %s: %s", what, file, strerror(errno));
	if ((size_t)snprintf(path, len, "%s", file) >= len)
		return cli_usage_error("cannot write the %s to %s: the name is too long", what, file);
	mask = umask(0); /* no other thread yet: reading the umask this way is safe */
	umask(mask);
	*mode = 0666 & ~mask;
	return 0;
}

int cli_summary_file_open(const char *file, struct cli_summary_file *j)
{
	const char *slash;
	mode_t mode = 0600;
	int fd, n, e;

	if (cli_output_target("summary", file, j->path, sizeof(j->path), &mode))
		return VMM_EXIT_USAGE;
	slash = strrchr(j->path, '/');
	if (slash)
		n = snprintf(j->tmp, sizeof(j->tmp), "%.*s/.%s.XXXXXX", (int)(slash - j->path),
			     j->path, slash + 1);
	else
		n = snprintf(j->tmp, sizeof(j->tmp), ".%s.XXXXXX", j->path);
	if (n < 0 || (size_t)n >= sizeof(j->tmp))
		return cli_usage_error("cannot write the summary to %s: the name is too long", file);
	fd = mkostemp(j->tmp, O_CLOEXEC);
	if (fd < 0)
		return cli_usage_error("cannot write the summary to %s: %s", file, strerror(errno));
	if (fchmod(fd, mode) == 0 && (j->f = fdopen(fd, "w")))
		return 0;
	e = errno;
	close(fd);
	unlink(j->tmp);
	return cli_usage_error("cannot write the summary to %s: %s", file, strerror(e));
}

int cli_summary_file_finish(struct cli_summary_file *j, const char *file, int status)
{
	int e = 0;

	if (!j->f)
		return status;
	errno = 0;
	if (j->written && (fflush(j->f) == EOF || ferror(j->f) || fsync(fileno(j->f))))
		e = errno ? errno : EIO;
	if (fclose(j->f) == EOF && j->written && !e)
		e = errno;
	if (j->written && !e && rename(j->tmp, j->path))
		e = errno;
	if (!j->written || e)
		unlink(j->tmp);
	if (!e)
		return status;
	fprintf(stderr, "memvisor: writing the summary to %s failed: %s\n", file, strerror(e));
	return status ? status : VMM_EXIT_RUNTIME;
}
