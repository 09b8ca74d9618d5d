// SPDX-License-Identifier: MIT
#include "image.h"
#include "elfimg.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct vmm_builtin vmm_builtins[] = {
	{ "hello", "greets, tells its vCPU and RAM, echoes its arguments", "[ARGS...]" },
	{ "touch", "touches guest RAM and reports pages/s",
	  "[--size S] [--pattern seq|random|zipf|phased] [--read|--write] [--passes N] [--seed N]" },
	{ "memtest", "writes a pattern to every page of RAM, verifies it, reports mismatches",
	  "[--size S] [--passes N] [--seed N] [--shared]" },
	{ "balloon", "writes its RAM, gives part of it back (free-page reporting), in phases",
	  "[--size S] [--free S] [--phases N]" },
	{ NULL, NULL, NULL },
};

static bool image_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool image_try(const char *dir, const char *name, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s", dir, name);

	return n > 0 && (size_t)n < len && image_exists(path);
}

int vmm_image_resolve(const char *guest, char *path, size_t len, char *err, size_t errlen)
{
	char exe[PATH_MAX], dir[PATH_MAX + 64];
	const char *env = getenv("MEMVISOR_GUEST_DIR");
	ssize_t n;

	if (strchr(guest, '/')) {
		snprintf(path, len, "%s", guest);
		return 0;
	}
	if (!*guest || strcmp(guest, ".") == 0 || strcmp(guest, "..") == 0)
		goto unknown;
	if (env && *env && image_try(env, guest, path, len))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		const char *bindir = dirname(exe);

		snprintf(dir, sizeof(dir), "%s/guest", bindir);
		if (image_try(dir, guest, path, len))
			return 0;
		snprintf(dir, sizeof(dir), "%s/../libexec/memvisor", bindir);
		if (image_try(dir, guest, path, len))
			return 0;
	}
unknown:
	snprintf(err, errlen, "unknown guest '%s': not a built-in guest (see 'memvisor guests'); "
		 "give a path such as ./%s for a file", guest, guest);
	return -ENOENT;
}

/*
 * Only a regular file is a guest image. stat refuses anything else before it
 * is opened (opening a device can have effects of its own); the open is
 * O_NONBLOCK, so that if the path changes to a FIFO in between, open returns
 * at once instead of waiting for a writer, and fstat refuses it. O_NOCTTY: a
 * terminal never becomes memvisor's.
 */
static int image_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	return fd;
}

int vmm_image_read(const char *path, void **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	void *data = NULL;
	int fd = image_open(path, err, errlen);
	int ret = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	/* an image is at most VMM_IMAGE_MAX in memory; allow symbols and padding on top */
	if ((uint64_t)st.st_size > 4 * VMM_IMAGE_MAX) {
		snprintf(err, errlen, "%s: %lld bytes is too large for a guest image", path,
			 (long long)st.st_size);
		ret = -EFBIG;
		goto out;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!data) {
		snprintf(err, errlen, "out of memory reading %s", path);
		ret = -ENOMEM;
		goto out;
	}
	for (size_t got = 0; got < (size_t)st.st_size;) {
		ssize_t r = read(fd, (char *)data + got, (size_t)st.st_size - got);

		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: read failed: %s", path,
				 r < 0 ? strerror(-ret) : "file shrank");
			free(data);
			data = NULL;
			goto out;
		}
		got += (size_t)r;
	}
	*buf = data;
	*len = (size_t)st.st_size;
out:
	close(fd);
	return ret;
}
