// SPDX-License-Identifier: MIT
/*
 * Unit tests for the swap device (swapd/): opening and creating the file
 * (mode, allocation, refusals and their messages, O_DIRECT), the slot map
 * (neighbours, clusters, a full device, counts, retired slots), batched
 * io_uring I/O checked byte for byte against the file itself (signals and
 * short submissions included), fault injection, whose file it is and what
 * stays on disk (symbolic links, owners, headers, locks, runs racing and
 * killed, the wipe at close), and a randomized run of the slot map against a
 * model.
 *
 * Every test works in its own mkdtemp() directory under /tmp, which the
 * suite's fini removes whatever the test left in it.
 */
#include <criterion/criterion.h>

#include "swapd/swapd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG	SWAPD_PAGE_SIZE
#define CL	SWAPD_CLUSTER_SLOTS

static char dir[64];
static char err[256];
static struct swapd s, s2;

static void setup(void)
{
	strcpy(dir, "/tmp/swapd-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	s.fd = -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static void teardown(void)
{
	if (s.path)
		swapd_close(&s);
	if (s2.path)
		swapd_close(&s2);
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(swapd, .init = setup, .fini = teardown);

static const char *path(const char *name)
{
	static char buf[2][128];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static bool exists(const char *p)
{
	struct stat st;

	return !stat(p, &st);
}

/* An existing file of size bytes (byte i = i * 7), with the given mode. */
static void make_file(const char *p, size_t size, mode_t mode)
{
	unsigned char *data = malloc(size);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);

	cr_assert(fd >= 0 && data);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 7);
	cr_assert_eq(write(fd, data, size), (ssize_t)size);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	free(data);
}

static void open_ok(const char *p, uint64_t size, unsigned flags)
{
	int ret = swapd_open(&s, p, size, flags, err, sizeof(err));

	cr_assert_eq(ret, 0, "swapd_open(%s): %d: %s", p, ret, err);
}

/* A refusal: the error, one line, naming the path and saying what. */
static void open_refused_with(const char *p, uint64_t size, unsigned flags, int want, const char *what)
{
	int ret = swapd_open(&s, p, size, flags, err, sizeof(err));

	cr_assert_eq(ret, want, "swapd_open(%s) = %d, want %d (%s)", p, ret, want, err);
	cr_assert_not_null(strstr(err, what), "message \"%s\" lacks \"%s\"", err, what);
	cr_assert_null(strchr(err, '\n'), "message is not one line: %s", err);
	cr_assert_eq(s.path, NULL);
	cr_assert_eq(s.fd, -1);
}

static void open_refused(const char *p, uint64_t size, int want, const char *what)
{
	open_refused_with(p, size, 0, want, what);
}

/* A swap file as memvisor keeps it: made with SWAPD_KEEP and closed. */
static void make_kept(const char *p, uint64_t size)
{
	struct swapd k;
	int ret = swapd_open(&k, p, size, SWAPD_KEEP, err, sizeof(err));

	cr_assert_eq(ret, 0, "swapd_open(%s, keep): %d: %s", p, ret, err);
	swapd_close(&k);
}

/* The whole file at p; *len its size. */
static unsigned char *slurp_file(const char *p, size_t *len)
{
	struct stat st;
	unsigned char *data;
	int fd = open(p, O_RDONLY | O_NOFOLLOW);

	cr_assert(fd >= 0, "open %s: %s", p, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	data = malloc(st.st_size + 1);
	cr_assert_not_null(data);
	cr_assert_eq(pread(fd, data, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return data;
}

static void assert_file_is(const char *p, const unsigned char *want, size_t len)
{
	size_t got_len;
	unsigned char *got = slurp_file(p, &got_len);

	cr_assert_eq(got_len, len, "%s: %zu bytes, was %zu", p, got_len, len);
	cr_assert_eq(memcmp(got, want, len), 0, "%s was changed", p);
	free(got);
}

/* Names in the test directory, " a b" (empty when there are none). */
static const char *dir_names(void)
{
	static char names[1024];
	struct dirent *e;
	DIR *d = opendir(dir);

	cr_assert_not_null(d);
	names[0] = '\0';
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s", e->d_name);
	closedir(d);
	return names;
}

/* Every byte of the file at p from offset from on is zero. */
static void assert_zero_from(const char *p, size_t from)
{
	size_t len;
	unsigned char *data = slurp_file(p, &len);

	for (size_t i = from; i < len; i++)
		cr_assert_eq(data[i], 0, "%s: byte %zu (slot %zu) is 0x%02x: guest data left on disk",
			     p, i, i / PG, data[i]);
	free(data);
}

/* --- the file --- */

static void assert_created(const char *p, uint64_t size)
{
	struct stat st;

	/* not to be kept: gone from the directory already, alive through the fd */
	cr_assert_not(exists(p));
	cr_assert(s.unlinked);
	cr_assert_eq(fstat(s.fd, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_assert_eq((uint64_t)st.st_size, size);
	cr_assert_geq((uint64_t)st.st_blocks * 512, size, "only %llu bytes allocated",
		      (unsigned long long)st.st_blocks * 512);
	cr_assert(s.created);
	cr_assert_eq(s.nr_slots, size / PG);
}

Test(swapd, create_mode_0600_umask_0)
{
	umask(0);
	open_ok(path("swap"), 1 << 20, 0);
	assert_created(path("swap"), 1 << 20);
}

Test(swapd, create_mode_0600_strict_umask)
{
	/* 0600 & ~0277 would be 0400: the fchmod must put write back */
	umask(0277);
	open_ok(path("swap"), 1 << 20, 0);
	assert_created(path("swap"), 1 << 20);
}

Test(swapd, create_rounds_size_down)
{
	open_ok(path("swap"), (1 << 20) + 4095, 0);
	assert_created(path("swap"), 1 << 20);
	cr_assert_eq(s.nr_slots, 256);
	cr_assert_eq(s.nr_clusters, 1);
	cr_assert_eq(swapd_free_slots(&s), 255);
}

Test(swapd, removed_at_close)
{
	open_ok(path("swap"), 64 << 10, 0);
	cr_assert_not(exists(path("swap"))); /* unlinked at open: a crash leaves nothing */
	swapd_close(&s);
	cr_assert_not(exists(path("swap")));
	cr_assert_eq(s.fd, -1);
	swapd_close(&s); /* a second close does nothing */
}

Test(swapd, kept_with_keep_then_reused)
{
	struct stat st;

	open_ok(path("swap"), 64 << 10, SWAPD_KEEP);
	swapd_close(&s);
	cr_assert_eq(stat(path("swap"), &st), 0);
	cr_assert_eq(st.st_size, 64 << 10);
	cr_assert_eq(st.st_mode & 07777, 0600);

	open_ok(path("swap"), 0, 0); /* exists now: used, not created */
	cr_assert_not(s.created);
	cr_assert_eq(s.nr_slots, 16);
	swapd_close(&s);
	cr_assert(exists(path("swap")));
}

/* A kept file of size bytes whose slots 1.. hold byte i = i * 7 (as make_file). */
static void make_kept_with_data(const char *p, size_t size)
{
	unsigned char *data = malloc(size);
	int fd;

	make_kept(p, size);
	cr_assert_not_null(data);
	for (size_t i = PG; i < size; i++)
		data[i] = (unsigned char)(i * 7);
	fd = open(p, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, data + PG, size - PG, PG), (ssize_t)(size - PG));
	close(fd);
	free(data);
}

Test(swapd, existing_used_and_not_removed)
{
	struct swapd_ring r;
	unsigned char *buf = aligned_alloc(PG, PG);
	struct swapd_io io = { .slot = 3, .buf = buf };

	make_kept_with_data(path("swap"), 40960);
	open_ok(path("swap"), 0, 0);
	cr_assert_not(s.created);
	cr_assert_eq(s.nr_slots, 10);
	cr_assert_eq(swapd_free_slots(&s), 9);
	/* its contents are there to read: nothing overwrote them */
	cr_assert_eq(swapd_ring_init(&r, 4), 0);
	cr_assert_eq(swapd_read(&s, &r, &io, 1), 0);
	cr_assert_eq(io.res, 0);
	for (size_t i = 0; i < PG; i++)
		cr_assert_eq(buf[i], (unsigned char)((3 * PG + i) * 7), "byte %zu", i);
	swapd_ring_exit(&r);
	swapd_close(&s);
	cr_assert(exists(path("swap")));
	free(buf);
}

Test(swapd, existing_extended_to_size)
{
	struct stat st;
	unsigned char b;
	int fd;

	make_kept_with_data(path("swap"), 16384);
	open_ok(path("swap"), 65536, 0);
	cr_assert_not(s.created);
	cr_assert_eq(s.nr_slots, 16);
	swapd_close(&s);
	cr_assert_eq(stat(path("swap"), &st), 0);
	cr_assert_eq(st.st_size, 65536);
	cr_assert_geq(st.st_blocks * 512, 65536);
	fd = open(path("swap"), O_RDONLY);
	cr_assert_eq(pread(fd, &b, 1, 16383), 1);
	cr_assert_eq(b, (unsigned char)(16383 * 7)); /* old data kept */
	cr_assert_eq(pread(fd, &b, 1, 40000), 1);
	cr_assert_eq(b, 0);
	close(fd);
	/* the header has the new size */
	open_ok(path("swap"), 0, 0);
	cr_assert_eq(s.nr_slots, 16);
}

Test(swapd, existing_smaller_size_uses_part)
{
	struct stat st;

	make_kept(path("swap"), 65536);
	open_ok(path("swap"), 16384, 0);
	cr_assert_eq(s.nr_slots, 4);
	swapd_close(&s);
	cr_assert_eq(stat(path("swap"), &st), 0);
	cr_assert_eq(st.st_size, 65536);
	open_ok(path("swap"), 0, 0); /* the header kept its size */
	cr_assert_eq(s.nr_slots, 16);
}

Test(swapd, refuses_directory)
{
	open_refused(dir, 1 << 20, -EISDIR, "is a directory");
	cr_assert_not_null(strstr(err, dir));
	open_refused(dir, 0, -EISDIR, "is a directory");
	cr_assert(exists(dir));
}

Test(swapd, refuses_file_others_can_access)
{
	static const mode_t bad[] = { 0644, 0604, 0620, 0601, 0610 };
	struct stat st;

	make_kept(path("swap"), 65536);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(chmod(path("swap"), bad[i]), 0);
		open_refused(path("swap"), 0, -EPERM, "chmod 600");
		cr_assert_not_null(strstr(err, path("swap")), "%s", err);
		cr_assert_not_null(strstr(err, "accessible by others"), "%s", err);
		/* never advice to chmod a file that may not be ours to change */
		cr_assert_not_null(strstr(err, "only if it is a memvisor swap file"), "%s", err);
		/* refused, not fixed behind the user's back, nor removed */
		cr_assert_eq(stat(path("swap"), &st), 0);
		cr_assert_eq(st.st_mode & 07777, bad[i]);
	}
}

Test(swapd, refuses_too_small)
{
	/* an existing file used in part, but not in a part too small */
	make_kept(path("small"), 64 * PG);
	open_refused(path("small"), 4096, -EINVAL, "too small");
	cr_assert_not_null(strstr(err, "4096"), "%s", err);
	cr_assert(exists(path("small")));
	/* a new file below two slots is not created at all */
	open_refused(path("new"), 8191, -EINVAL, "too small");
	cr_assert_not_null(strstr(err, "8191"), "%s", err);
	cr_assert_not(exists(path("new")));
	open_refused(path("new"), 0, -ENOENT, "no size");
	cr_assert_not(exists(path("new")));
}

Test(swapd, refuses_missing_parent)
{
	open_refused(path("nope/swap"), 1 << 20, -ENOENT, "directory does not exist");
	cr_assert_not_null(strstr(err, path("nope/swap")), "%s", err);
}

Test(swapd, refuses_fifo_without_hanging)
{
	struct timespec t0, t1;

	cr_assert_eq(mkfifo(path("fifo"), 0600), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	open_refused(path("fifo"), 1 << 20, -EINVAL, "not a regular file");
	cr_assert_not_null(strstr(err, path("fifo")), "%s", err);
	open_refused_with(path("fifo"), 0, SWAPD_KEEP, -EINVAL, "not a regular file");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 2, "took %lld s", (long long)(t1.tv_sec - t0.tv_sec));
}

Test(swapd, too_large_removes_partial_file)
{
	/* past any ext4/tmpfs file size limit, so fallocate fails at once */
	int ret = swapd_open(&s, path("swap"), 1ULL << 60, 0, err, sizeof(err));

	cr_assert(ret == -EFBIG || ret == -ENOSPC, "%d: %s", ret, err);
	cr_assert_not_null(strstr(err, ret == -EFBIG ? "too large" : "no space"), "%s", err);
	cr_assert_not(exists(path("swap")));
	open_refused(path("swap"), UINT64_MAX, -EFBIG, "too large");
}

Test(swapd, direct_io_probed)
{
	struct statfs fs;

	cr_assert_eq(statfs(dir, &fs), 0);
	if (fs.f_type == TMPFS_MAGIC)
		cr_skip_test("%s is tmpfs, which may not take O_DIRECT", dir);
	open_ok(path("swap"), 1 << 20, 0);
	cr_assert(s.direct, "O_DIRECT should work on this filesystem");
	cr_assert(fcntl(s.fd, F_GETFL) & O_DIRECT);
	swapd_close(&s);

	open_ok(path("swap"), 1 << 20, SWAPD_BUFFERED);
	cr_assert_not(s.direct);
	cr_assert_not(fcntl(s.fd, F_GETFL) & O_DIRECT);
}

/* --- slots --- */

static void alloc_exact(uint64_t first, unsigned n)
{
	uint64_t *slots = calloc(n, sizeof(*slots));

	cr_assert_eq(swapd_slot_alloc(&s, slots, n), n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(slots[i], first + i, "slot %u is %llu, want %llu", i,
			     (unsigned long long)slots[i], (unsigned long long)(first + i));
	free(slots);
}

Test(swapd, slot_batch_neighbours)
{
	uint64_t slots[3];

	open_ok(path("swap"), 1024 * PG, 0);
	cr_assert_eq(s.nr_clusters, 4);
	cr_assert_eq(swapd_free_slots(&s), 1023);
	alloc_exact(1, 8); /* never slot 0 */
	alloc_exact(9, 4);
	cr_assert_eq(swapd_free_slots(&s), 1023 - 12);
	cr_assert_eq(s.inuse, 12);
	cr_assert_eq(s.cluster_free[0], 255 - 12);
	/* holes left by puts in the current cluster are filled first */
	cr_assert_eq(swapd_slot_put(&s, 3), 0);
	cr_assert_eq(swapd_slot_put(&s, 5), 0);
	cr_assert_eq(swapd_slot_alloc(&s, slots, 3), 3);
	cr_assert_eq(slots[0], 3);
	cr_assert_eq(slots[1], 5);
	cr_assert_eq(slots[2], 13);
	cr_assert_eq(swapd_slot_alloc(&s, slots, 0), 0);
	cr_assert_eq(swapd_slot_alloc(&s, NULL, 3), 0);
}

Test(swapd, slot_batch_across_clusters)
{
	open_ok(path("swap"), 1024 * PG, 0);
	alloc_exact(1, 300);
	cr_assert_eq(s.cur_cluster, 1);
	cr_assert_eq(s.cluster_free[0], 0);
	cr_assert_eq(s.cluster_free[1], CL - 45);
}

Test(swapd, slot_clusters_prefer_free_cluster)
{
	uint64_t slot;

	open_ok(path("swap"), 1024 * PG, 0);
	alloc_exact(1, 255);       /* all of cluster 0 */
	alloc_exact(256, 1);       /* on into cluster 1 */
	cr_assert_eq(swapd_slot_put(&s, 10), 0);
	alloc_exact(257, 255);     /* cluster 1 first, though 10 is free */
	alloc_exact(512, 1);       /* a fully free cluster before a hole */
	alloc_exact(513, 511);     /* clusters 2 and 3 */
	cr_assert_eq(swapd_free_slots(&s), 1);
	cr_assert_eq(swapd_slot_alloc(&s, &slot, 1), 1);
	cr_assert_eq(slot, 10);    /* only then the hole */
	cr_assert_eq(swapd_free_slots(&s), 0);
}

Test(swapd, slot_clusters_scan_on_from_current)
{
	uint64_t slot;

	open_ok(path("swap"), 1024 * PG, 0);
	alloc_exact(1, 1023);
	cr_assert_eq(s.cur_cluster, 3);
	cr_assert_eq(swapd_slot_put(&s, 10), 0);
	for (uint64_t i = 256; i < 512; i++)
		cr_assert_eq(swapd_slot_put(&s, i), 0);
	cr_assert_eq(swapd_slot_put(&s, 600), 0);
	/* the scan from cluster 3 wraps to 0 first, but 1 is wholly free */
	alloc_exact(256, 1);
	alloc_exact(257, 255);
	/* no free cluster left: the next hole on from cluster 1, not slot 10 */
	cr_assert_eq(swapd_slot_alloc(&s, &slot, 1), 1);
	cr_assert_eq(slot, 600);
	cr_assert_eq(swapd_slot_alloc(&s, &slot, 1), 1);
	cr_assert_eq(slot, 10);
	cr_assert_eq(swapd_slot_alloc(&s, &slot, 1), 0);
}

Test(swapd, slot_full_device)
{
	uint64_t *slots = calloc(1000, sizeof(*slots));
	uint8_t seen[600] = { 0 };

	open_ok(path("swap"), 600 * PG, 0); /* the last cluster is short */
	cr_assert_eq(s.nr_clusters, 3);
	cr_assert_eq(s.cluster_free[2], 600 - 2 * CL);
	cr_assert_eq(swapd_slot_alloc(&s, slots, 1000), 599);
	for (unsigned i = 0; i < 599; i++) {
		cr_assert(slots[i] >= 1 && slots[i] < 600);
		cr_assert_not(seen[slots[i]], "slot %llu twice", (unsigned long long)slots[i]);
		seen[slots[i]] = 1;
	}
	cr_assert_eq(swapd_free_slots(&s), 0);
	cr_assert_eq(s.inuse, 599);
	cr_assert_eq(swapd_slot_alloc(&s, slots, 1), 0);
	cr_assert_eq(swapd_slot_put(&s, 417), 0);
	cr_assert_eq(swapd_free_slots(&s), 1);
	cr_assert_eq(swapd_slot_alloc(&s, slots, 5), 1);
	cr_assert_eq(slots[0], 417);
	free(slots);
}

Test(swapd, slot_get_put_counts)
{
	open_ok(path("swap"), 64 * PG, 0);
	alloc_exact(1, 2);
	cr_assert_eq(swapd_slot_count(&s, 1), 1);
	cr_assert_eq(swapd_slot_get(&s, 1), 0);
	cr_assert_eq(swapd_slot_get(&s, 1), 0);
	cr_assert_eq(swapd_slot_count(&s, 1), 3);
	cr_assert_eq(s.inuse, 2);
	cr_assert_eq(swapd_slot_put(&s, 1), 0);
	cr_assert_eq(swapd_slot_put(&s, 1), 0);
	cr_assert_eq(swapd_slot_count(&s, 1), 1);
	cr_assert_eq(swapd_free_slots(&s), 61);
	cr_assert_eq(swapd_slot_put(&s, 1), 0); /* the last use: free again */
	cr_assert_eq(swapd_slot_count(&s, 1), 0);
	cr_assert_eq(swapd_free_slots(&s), 62);
	cr_assert_eq(s.inuse, 1);
	cr_assert_eq(swapd_slot_put(&s, 1), -EINVAL); /* double put */
	cr_assert_eq(swapd_slot_get(&s, 1), -EINVAL); /* no use to share */
	cr_assert_eq(swapd_slot_get(&s, 3), -EINVAL);
	/* the count saturates at SWAPD_MAP_MAX rather than reaching BAD */
	for (unsigned c = 1; c < SWAPD_MAP_MAX; c++)
		cr_assert_eq(swapd_slot_get(&s, 2), 0);
	cr_assert_eq(swapd_slot_count(&s, 2), SWAPD_MAP_MAX);
	cr_assert_eq(swapd_slot_get(&s, 2), -EOVERFLOW);
	cr_assert_eq(swapd_slot_count(&s, 2), SWAPD_MAP_MAX);
}

Test(swapd, slot_invalid)
{
	open_ok(path("swap"), 64 * PG, 0);
	alloc_exact(1, 63);
	cr_assert_eq(swapd_slot_get(&s, 0), -EINVAL);
	cr_assert_eq(swapd_slot_put(&s, 0), -EINVAL);
	cr_assert_eq(swapd_slot_get(&s, 64), -EINVAL);
	cr_assert_eq(swapd_slot_put(&s, 64), -EINVAL);
	cr_assert_eq(swapd_slot_put(&s, UINT64_MAX), -EINVAL);
	cr_assert_eq(swapd_slot_count(&s, 0), 0);
	cr_assert_eq(swapd_slot_count(&s, 64), 0);
	swapd_slot_retire(&s, 0);
	swapd_slot_retire(&s, 64);
	cr_assert_eq(s.stats.retired, 0);
	cr_assert_eq(s.inuse, 63);
}

Test(swapd, slot_retire)
{
	uint64_t slots[16];

	open_ok(path("swap"), 16 * PG, 0);
	alloc_exact(1, 4);
	swapd_slot_retire(&s, 2);                      /* in use: its write failed */
	cr_assert_eq(swapd_slot_count(&s, 2), SWAPD_MAP_BAD);
	cr_assert_eq(s.inuse, 4);                      /* out of use for good */
	cr_assert_eq(swapd_free_slots(&s), 11);
	swapd_slot_retire(&s, 9);                      /* free: leaves the pool */
	cr_assert_eq(swapd_free_slots(&s), 10);
	cr_assert_eq(s.inuse, 5);
	swapd_slot_retire(&s, 9);                      /* twice counts once */
	cr_assert_eq(s.stats.retired, 2);
	cr_assert_eq(s.inuse, 5);
	cr_assert_eq(swapd_slot_put(&s, 2), 0);        /* the use retiring dropped */
	cr_assert_eq(swapd_slot_count(&s, 2), SWAPD_MAP_BAD);
	cr_assert_eq(swapd_slot_get(&s, 2), -EINVAL);
	cr_assert_eq(swapd_free_slots(&s), 10);
	cr_assert_eq(s.inuse, 5);
	/* every use put back: only the retired slots stay in use */
	for (uint64_t slot = 1; slot <= 4; slot++)
		if (slot != 2)
			cr_assert_eq(swapd_slot_put(&s, slot), 0);
	cr_assert_eq(s.inuse, s.stats.retired);
	/* the rest of the device, and never a retired slot */
	cr_assert_eq(swapd_slot_alloc(&s, slots, 16), 13);
	for (unsigned i = 0; i < 13; i++)
		cr_assert(slots[i] != 2 && slots[i] != 9, "retired slot %llu reused",
			  (unsigned long long)slots[i]);
	cr_assert_eq(swapd_free_slots(&s), 0);
	cr_assert_eq(s.inuse, 15);
}

/* --- I/O --- */

/* xorshift64*: page contents that differ in every word and every page */
static _Thread_local uint64_t rng_state; /* per worker thread */

static void rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void fill_page(void *page, uint64_t seed)
{
	uint64_t *w = page;

	rng_seed(seed);
	for (unsigned i = 0; i < PG / 8; i++)
		w[i] = rng();
}

static void *pages(unsigned n)
{
	void *p = aligned_alloc(PG, (size_t)n * PG);

	cr_assert_not_null(p);
	return p;
}

static void *page_of(void *bufs, unsigned i)
{
	return (char *)bufs + (size_t)i * PG;
}

/* Check the file itself (not swapd) holds want at slot. */
static void assert_slot_holds(uint64_t slot, const void *want)
{
	static char got[PG];
	char proc[64];
	int fd;

	/* the file is unlinked while open: reach the same inode anew */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s.fd);
	fd = open(proc, O_RDONLY);

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, got, PG, (off_t)(slot * PG)), (ssize_t)PG);
	close(fd);
	cr_assert_eq(memcmp(got, want, PG), 0, "slot %llu differs", (unsigned long long)slot);
}

/* Write n pattern pages to scattered slots at depth, read them back at rdepth. */
static void write_read_back(unsigned n, unsigned depth, unsigned rdepth)
{
	struct swapd_ring r;
	struct swapd_io *io = calloc(n, sizeof(*io));
	void *out = pages(n), *in = pages(n);

	open_ok(path("swap"), 1024 * PG, 0);
	cr_assert_lt(n, 1024u);
	for (unsigned i = 0; i < n; i++) {
		/* 37 is prime to 1023: distinct slots all over the file */
		io[i] = (struct swapd_io){ .slot = 1 + (i * 37ULL) % 1023, .buf = page_of(out, i), .res = 99 };
		fill_page(io[i].buf, io[i].slot);
	}
	cr_assert_eq(swapd_ring_init(&r, depth), 0);
	cr_assert_eq(swapd_write(&s, &r, io, n), 0);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(io[i].res, 0, "write %u: %d", i, io[i].res);
		assert_slot_holds(io[i].slot, io[i].buf);
	}
	swapd_ring_exit(&r);

	memset(in, 0xa5, (size_t)n * PG);
	cr_assert_eq(swapd_ring_init(&r, rdepth), 0);
	for (unsigned i = 0; i < n; i++)
		io[n - 1 - i] = (struct swapd_io){ .slot = 1 + (i * 37ULL) % 1023, .buf = page_of(in, i), .res = 99 };
	cr_assert_eq(swapd_read(&s, &r, io, n), 0);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(io[i].res, 0, "read %u: %d", i, io[i].res);
		cr_assert_eq(memcmp(page_of(in, i), page_of(out, i), PG), 0, "page %u differs", i);
	}
	swapd_ring_exit(&r);
	cr_assert_eq(s.stats.writes, n);
	cr_assert_eq(s.stats.reads, n);
	cr_assert_eq(s.stats.write_batches, 1);
	cr_assert_eq(s.stats.read_batches, 1);
	cr_assert_eq(s.stats.write_errors + s.stats.read_errors, 0);
	free(io);
	free(out);
	free(in);
}

Test(swapd, io_write_read_scattered)
{
	write_read_back(32, 32, 32);
}

Test(swapd, io_batch_larger_than_ring)
{
	write_read_back(200, 8, 3);
}

Test(swapd, io_many_pages_depth_one)
{
	write_read_back(1000, 64, 1);
}

Test(swapd, io_invalid_ios_fail_alone)
{
	struct swapd_ring r;
	char *bufs = pages(6);
	struct swapd_io io[6] = {
		{ .slot = 5, .buf = bufs },
		{ .slot = 0, .buf = bufs + PG },           /* the header slot */
		{ .slot = 64, .buf = bufs + 2 * PG },      /* past the end */
		{ .slot = 6, .buf = bufs + 3 * PG + 512 }, /* not page-aligned */
		{ .slot = 7, .buf = NULL },
		{ .slot = 63, .buf = bufs + 5 * PG },
	};

	open_ok(path("swap"), 64 * PG, 0);
	fill_page(bufs, 1);
	fill_page(bufs + 5 * PG, 2);
	cr_assert_eq(swapd_ring_init(&r, 4), 0);
	cr_assert_eq(swapd_write(&s, &r, io, 6), 4);
	cr_assert_eq(io[0].res, 0);
	for (unsigned i = 1; i < 5; i++)
		cr_assert_eq(io[i].res, -EINVAL, "io %u: %d", i, io[i].res);
	cr_assert_eq(io[5].res, 0);
	assert_slot_holds(5, bufs);
	assert_slot_holds(63, bufs + 5 * PG);
	cr_assert_eq(s.stats.writes, 2);
	cr_assert_eq(s.stats.write_errors, 4);
	cr_assert_eq(s.stats.injected, 0);
	cr_assert_eq(swapd_write(&s, &r, io, 0), 0);
	cr_assert_eq(s.stats.write_batches, 1);
	swapd_ring_exit(&r);
	swapd_ring_exit(&r); /* twice is harmless */
	free(bufs);
}

Test(swapd, io_ring_not_ready)
{
	struct swapd_ring r;
	char *buf = pages(1);
	struct swapd_io io = { .slot = 1, .buf = buf };

	open_ok(path("swap"), 64 * PG, 0);
	cr_assert_eq(swapd_ring_init(&r, 0), -EINVAL);
	cr_assert_not(r.ready);
	cr_assert_eq(swapd_read(&s, &r, &io, 1), 1);
	cr_assert_eq(io.res, -EINVAL);
	cr_assert_eq(s.stats.read_errors, 1);
	free(buf);
}

/* A ring whose io_uring_enter() fails: the batch fails, the ring goes. */
Test(swapd, io_broken_ring_torn_down)
{
	struct swapd_ring r;
	char *bufs = pages(3);
	struct swapd_io io[3] = {
		{ .slot = 1, .buf = bufs }, { .slot = 2, .buf = bufs + PG }, { .slot = 3, .buf = bufs + 2 * PG },
	};

	open_ok(path("swap"), 64 * PG, 0);
	memset(bufs, 0x3c, 3 * PG);
	cr_assert_eq(swapd_ring_init(&r, 2), 0);
	close(r.ring.ring_fd); /* nothing opens in between to take the number */
	cr_assert_eq(swapd_write(&s, &r, io, 3), 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(io[i].res, -EBADF, "io %u: %d", i, io[i].res);
	cr_assert_not(r.ready);
	cr_assert_eq(swapd_write(&s, &r, io, 3), 3);
	cr_assert_eq(io[0].res, -EINVAL);
	cr_assert_eq(s.stats.write_errors, 6);
	/* set up again, it works */
	cr_assert_eq(swapd_ring_init(&r, 2), 0);
	cr_assert_eq(swapd_write(&s, &r, io, 3), 0);
	assert_slot_holds(3, bufs + 2 * PG);
	swapd_ring_exit(&r);
	free(bufs);
}

/* Write 8 pages to slots 1..8 with the nth failing by injection. */
static void inject_write_batch(struct swapd_ring *r, void *bufs, struct swapd_io *io)
{
	for (unsigned i = 0; i < 8; i++) {
		io[i] = (struct swapd_io){ .slot = 1 + i, .buf = page_of(bufs, i) };
		fill_page(io[i].buf, 100 + i);
	}
	cr_assert_eq(swapd_write(&s, r, io, 8), 1);
}

Test(swapd, inject_write_fails_exactly_nth)
{
	static const char zero[PG];
	struct swapd_ring r;
	struct swapd_io io[8];
	void *bufs = pages(8);

	open_ok(path("swap"), 64 * PG, 0);
	cr_assert_eq(swapd_ring_init(&r, 4), 0);
	swapd_inject(&s, true, 3);
	inject_write_batch(&r, bufs, io);
	for (unsigned i = 0; i < 8; i++) {
		cr_assert_eq(io[i].res, i == 2 ? -EIO : 0, "io %u: %d", i, io[i].res);
		assert_slot_holds(io[i].slot, i == 2 ? zero : io[i].buf);
	}
	cr_assert_eq(s.stats.injected, 1);
	cr_assert_eq(s.stats.write_errors, 1);
	cr_assert_eq(s.stats.writes, 7);
	cr_assert_eq(s.inject_write, 0);
	/* spent: the next batch goes through whole */
	cr_assert_eq(swapd_write(&s, &r, io, 8), 0);
	/* the count runs across batches: the 10th next op is the 2nd of batch two */
	swapd_inject(&s, true, 10);
	cr_assert_eq(swapd_write(&s, &r, io, 8), 0);
	inject_write_batch(&r, bufs, io);
	cr_assert_eq(io[1].res, -EIO);
	cr_assert_eq(s.stats.injected, 2);
	cr_assert_eq(s.stats.write_errors, 2);
	cr_assert_eq(s.stats.writes, 7 + 8 + 8 + 7);
	cr_assert_eq(s.stats.read_errors + s.stats.reads, 0);
	swapd_ring_exit(&r);
	free(bufs);
}

Test(swapd, inject_read_fails_exactly_nth)
{
	struct swapd_ring r;
	struct swapd_io io[8];
	void *out = pages(8), *in = pages(8);

	open_ok(path("swap"), 64 * PG, 0);
	cr_assert_eq(swapd_ring_init(&r, 2), 0);
	for (unsigned i = 0; i < 8; i++) {
		io[i] = (struct swapd_io){ .slot = 20 + 3 * i, .buf = page_of(out, i) };
		fill_page(io[i].buf, 7 * i);
	}
	cr_assert_eq(swapd_write(&s, &r, io, 8), 0);
	swapd_inject(&s, false, 6);
	swapd_inject(&s, true, 0);
	memset(in, 0x5a, 8 * PG);
	for (unsigned i = 0; i < 8; i++)
		io[i].buf = page_of(in, i);
	cr_assert_eq(swapd_read(&s, &r, io, 8), 1);
	for (unsigned i = 0; i < 8; i++) {
		cr_assert_eq(io[i].res, i == 5 ? -EIO : 0, "io %u: %d", i, io[i].res);
		if (i != 5)
			cr_assert_eq(memcmp(page_of(in, i), page_of(out, i), PG), 0);
	}
	/* the failed read never touched its buffer */
	for (unsigned j = 0; j < PG; j++)
		cr_assert_eq(((unsigned char *)page_of(in, 5))[j], 0x5a);
	cr_assert_eq(s.stats.injected, 1);
	cr_assert_eq(s.stats.read_errors, 1);
	cr_assert_eq(s.stats.reads, 7);
	cr_assert_eq(s.stats.write_errors, 0);
	cr_assert_eq(swapd_read(&s, &r, io, 8), 0);
	cr_assert_eq(s.stats.reads, 15);
	swapd_ring_exit(&r);
	free(out);
	free(in);
}

/*
 * Short transfers only happen on a regular file in odd cases (a signal, a
 * file size limit), so for reads a pipe stands in for the file: io_uring
 * hands back what the pipe holds, and the rest must be asked for again.
 * Offsets mean nothing to a pipe, so the slot does not matter here.
 */
struct trickle {
	int fd;
	unsigned char *data;
};

/* Feed a pipe in pieces, pausing so that the reader sees each one alone. */
static void *trickle_in(void *arg)
{
	struct trickle *t = arg;
	size_t cut[] = { 1500, 7, 1589 }; /* after the 1000 already there */
	size_t off = 1000;

	for (unsigned i = 0; i < 3; i++) {
		usleep(20000);
		if (write(t->fd, t->data + off, cut[i]) != (ssize_t)cut[i])
			abort();
		off += cut[i];
	}
	return NULL;
}

Test(swapd, io_short_read_resumed)
{
	struct swapd_ring r;
	unsigned char *want = pages(1), *got = pages(1);
	struct swapd_io io = { .slot = 1, .buf = got };
	struct trickle t;
	pthread_t th;
	int p[2], fd;

	open_ok(path("swap"), 64 * PG, 0);
	fill_page(want, 42);
	memset(got, 0, PG);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], want, 1000), 1000);
	t = (struct trickle){ .fd = p[1], .data = want };
	cr_assert_eq(pthread_create(&th, NULL, trickle_in, &t), 0);
	fd = s.fd;
	s.fd = p[0];
	cr_assert_eq(swapd_ring_init(&r, 2), 0);
	cr_assert_eq(swapd_read(&s, &r, &io, 1), 0);
	s.fd = fd;
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(io.res, 0);
	cr_assert_eq(memcmp(got, want, PG), 0);
	cr_assert_eq(s.stats.reads, 1);
	swapd_ring_exit(&r);
	close(p[0]);
	close(p[1]);
	free(want);
	free(got);
}

/*
 * io_uring completes writes to a pipe whole, so a short write comes from
 * RLIMIT_FSIZE instead: with the limit inside slot 1 the write stops at
 * it, and the rest, resubmitted, starts at the limit and gets -EFBIG. The
 * page is then part written, which only an error may report.
 */
Test(swapd, io_short_write_resumed)
{
	struct rlimit rl;
	struct swapd_ring r;
	unsigned char *src = pages(1), *back = pages(1);
	struct swapd_io io = { .slot = 1, .buf = src };
	int fd;

	open_ok(path("swap"), 64 * PG, SWAPD_BUFFERED); /* O_DIRECT: 904 is unaligned */
	fill_page(src, 43);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = PG + 904;
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	cr_assert_eq(swapd_ring_init(&r, 2), 0);
	cr_assert_eq(swapd_write(&s, &r, &io, 1), 1);
	cr_assert_eq(io.res, -EFBIG);
	cr_assert_eq(s.stats.write_errors, 1);
	fd = dup(s.fd); /* the file is unlinked while open */
	cr_assert_eq(pread(fd, back, PG, PG), (ssize_t)PG);
	close(fd);
	cr_assert_eq(memcmp(back, src, 904), 0);
	for (unsigned i = 904; i < PG; i++)
		cr_assert_eq(back[i], 0, "byte %u", i);
	swapd_ring_exit(&r);
	free(src);
	free(back);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Interrupt the thread waiting on the ring, then give it what it waits for. */
struct poke {
	pthread_t target;
	int fd;
	unsigned char *data;
};

static void *interrupt_then_feed(void *arg)
{
	struct poke *p = arg;

	usleep(50000);
	pthread_kill(p->target, SIGUSR1);
	usleep(50000);
	if (write(p->fd, p->data, 2 * PG) != 2 * PG)
		abort();
	return NULL;
}

/*
 * A signal while the vectored path waits for its completion: the wait gives
 * -EINTR, which must be waited again, not taken for a broken ring. A pipe
 * stands in for the file, as in io_short_read_resumed, so that the read is
 * still waiting when the signal comes; the two neighbouring slots make it
 * one vectored read of both pages.
 */
Test(swapd, io_vectored_wait_interrupted)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	unsigned char *want = pages(2), *got = pages(2);
	struct swapd_io io[2] = { { .slot = 1, .buf = got }, { .slot = 2, .buf = got + PG } };
	struct swapd_ring r;
	struct poke p;
	pthread_t th;
	int pfd[2], fd;

	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	open_ok(path("swap"), 64 * PG, 0);
	fill_page(want, 1);
	fill_page(want + PG, 2);
	cr_assert_eq(pipe(pfd), 0);
	p = (struct poke){ .target = pthread_self(), .fd = pfd[1], .data = want };
	fd = s.fd;
	s.fd = pfd[0];
	cr_assert_eq(swapd_ring_init(&r, 4), 0);
	cr_assert_eq(pthread_create(&th, NULL, interrupt_then_feed, &p), 0);
	cr_assert_eq(swapd_read(&s, &r, io, 2), 0, "%d %d", io[0].res, io[1].res);
	s.fd = fd;
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(memcmp(got, want, 2 * PG), 0);
	cr_assert(r.ready);
	swapd_ring_exit(&r);
	close(pfd[0]);
	close(pfd[1]);
	free(want);
	free(got);
}

/* 6 pages in three runs of neighbours (three vectored requests), or apart. */
static void three_runs(struct swapd_io *io, void *bufs, bool apart)
{
	static const uint64_t runs[6] = { 1, 2, 5, 6, 9, 10 };

	for (unsigned i = 0; i < 6; i++) {
		io[i] = (struct swapd_io){ .slot = runs[i] + (apart ? 10 * i : 0), .buf = page_of(bufs, i) };
		fill_page(io[i].buf, io[i].slot);
	}
}

/*
 * The kernel may take fewer sqes than were queued: the rest stay in the
 * ring and must be submitted again before their completions are waited
 * for. Without that the batch waits for ever: the alarm ends the test then.
 */
Test(swapd, io_short_submit_finished)
{
	struct swapd_ring r;
	struct swapd_io io[6];
	void *bufs = pages(6);

	alarm(10);
	open_ok(path("swap"), 128 * PG, 0);
	cr_assert_eq(swapd_ring_init(&r, 8), 0);
	for (unsigned apart = 0; apart < 2; apart++) {
		three_runs(io, bufs, apart);
		swapd_ring_inject(&r, 0, 2); /* the next two submissions take one sqe each */
		cr_assert_eq(swapd_write(&s, &r, io, 6), 0);
		for (unsigned i = 0; i < 6; i++) {
			cr_assert_eq(io[i].res, 0, "io %u: %d", i, io[i].res);
			assert_slot_holds(io[i].slot, io[i].buf);
		}
		cr_assert_eq(r.inject_short, 0, "the short submissions did not happen");
	}
	cr_assert(r.ready);
	alarm(0);
	swapd_ring_exit(&r);
	free(bufs);
}

/* io_uring_submit() interrupted: submitted again, the batch unharmed. */
Test(swapd, io_submit_interrupted_retried)
{
	struct swapd_ring r;
	struct swapd_io io[6];
	void *bufs = pages(6);

	alarm(10);
	open_ok(path("swap"), 128 * PG, 0);
	cr_assert_eq(swapd_ring_init(&r, 8), 0);
	for (unsigned apart = 0; apart < 2; apart++) {
		three_runs(io, bufs, apart);
		swapd_ring_inject(&r, 3, 0);
		cr_assert_eq(swapd_write(&s, &r, io, 6), 0, "%d", io[0].res);
		for (unsigned i = 0; i < 6; i++)
			assert_slot_holds(io[i].slot, io[i].buf);
		cr_assert_eq(r.inject_eintr, 0);
	}
	cr_assert(r.ready);
	alarm(0);
	swapd_ring_exit(&r);
	free(bufs);
}

/* Two threads, a ring each, one device: the counters must add up. */
struct worker {
	unsigned first;
	unsigned failed;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct swapd_ring r;
	struct swapd_io io[16];
	void *bufs = aligned_alloc(PG, 16 * PG);

	if (!bufs || swapd_ring_init(&r, 4))
		abort();
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < 16; i++) {
			io[i] = (struct swapd_io){ .slot = w->first + i, .buf = page_of(bufs, i) };
			fill_page(io[i].buf, round * 1000 + w->first + i);
		}
		w->failed += swapd_write(&s, &r, io, 16);
		w->failed += swapd_read(&s, &r, io, 16);
	}
	swapd_ring_exit(&r);
	free(bufs);
	return NULL;
}

Test(swapd, io_two_threads)
{
	struct worker w[2] = { { .first = 1 }, { .first = 100 } };
	pthread_t t[2];

	open_ok(path("swap"), 256 * PG, 0);
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	cr_assert_eq(w[0].failed + w[1].failed, 0);
	cr_assert_eq(s.stats.writes, 2 * 20 * 16);
	cr_assert_eq(s.stats.reads, 2 * 20 * 16);
	cr_assert_eq(s.stats.write_batches, 40);
	cr_assert_eq(s.stats.read_batches, 40);
}

/* --- whose file it is, and what stays on disk --- */

/* Write n pages of pattern (seed + i) to slots first.., through swapd. */
static void write_slots(struct swapd *d, uint64_t first, unsigned n, uint64_t seed)
{
	struct swapd_ring r;
	struct swapd_io io[16];
	void *bufs = pages(n);

	cr_assert_leq(n, 16u);
	for (unsigned i = 0; i < n; i++) {
		io[i] = (struct swapd_io){ .slot = first + i, .buf = page_of(bufs, i) };
		fill_page(io[i].buf, seed + i);
	}
	cr_assert_eq(swapd_ring_init(&r, 4), 0);
	cr_assert_eq(swapd_write(d, &r, io, n), 0);
	swapd_ring_exit(&r);
	free(bufs);
}

Test(swapd, refuses_symlink_to_a_file)
{
	static const unsigned flags[] = { 0, SWAPD_KEEP };
	static const uint64_t sizes[] = { 0, 1 << 20 };
	size_t len;
	unsigned char *before;

	make_file(path("victim"), 65536, 0600);
	before = slurp_file(path("victim"), &len);
	cr_assert_eq(symlink(path("victim"), path("swap")), 0);
	for (unsigned f = 0; f < 2; f++)
		for (unsigned z = 0; z < 2; z++) {
			open_refused_with(path("swap"), sizes[z], flags[f], -ELOOP,
					  "is a symbolic link: refused");
			cr_assert_not_null(strstr(err, path("swap")), "%s", err);
		}
	/* not a byte of what it points to was touched */
	assert_file_is(path("victim"), before, len);
	free(before);
}

Test(swapd, refuses_dangling_symlink)
{
	const char *p = path("swap");
	uint64_t size = 0;

	cr_assert_eq(symlink(path("nowhere"), p), 0);
	/* what vmm/run.c does: no file there, so a size to create one */
	if (!size && access(p, F_OK))
		size = 64 << 20;
	open_refused_with(p, size, SWAPD_KEEP, -ELOOP, "is a symbolic link: refused");
	cr_assert_not_null(strstr(err, p), "%s", err);
	cr_assert_null(strstr(err, "too small"), "%s", err);
	open_refused(p, 0, -ELOOP, "is a symbolic link: refused");
	cr_assert_not(exists(path("nowhere")), "created through the symlink");
}

Test(swapd, refuses_file_of_another_user)
{
	size_t len;
	unsigned char *before;

	make_kept(path("swap"), 64 * PG);
	cr_assert_eq(chown(path("swap"), 65534, 65534), 0);
	before = slurp_file(path("swap"), &len);
	open_refused(path("swap"), 0, -EPERM, "belongs to uid 65534");
	cr_assert_not_null(strstr(err, path("swap")), "%s", err);
	open_refused(path("swap"), 128 * PG, -EPERM, "belongs to uid 65534");
	assert_file_is(path("swap"), before, len);
	free(before);
}

Test(swapd, refuses_file_without_header)
{
	size_t len;
	unsigned char *before;

	/* a typo in -s: an ordinary private file */
	make_file(path("notes"), 65536, 0600);
	before = slurp_file(path("notes"), &len);
	open_refused(path("notes"), 0, -EEXIST, "is not a memvisor swap file (no header)");
	cr_assert_not_null(strstr(err, path("notes")), "%s", err);
	cr_assert_not_null(strstr(err, "remove it or choose a new path"), "%s", err);
	open_refused_with(path("notes"), 1 << 20, SWAPD_KEEP, -EEXIST, "not a memvisor swap file");
	assert_file_is(path("notes"), before, len);
	free(before);
	/* an empty one (what a killed set-up used to leave) too */
	close(open(path("empty"), O_WRONLY | O_CREAT | O_EXCL, 0600));
	open_refused(path("empty"), 1 << 20, -EEXIST, "not a memvisor swap file");
	free(slurp_file(path("empty"), &len));
	cr_assert_eq(len, 0);
}

Test(swapd, refuses_mode_not_exactly_0600)
{
	static const mode_t bad[] = { 0700, 0400, 0200, 01600, 04600, 02600 };
	struct stat st;

	make_kept(path("swap"), 64 * PG);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(chmod(path("swap"), bad[i]), 0);
		open_refused(path("swap"), 0, -EPERM, "not 0600: chmod 600 it");
		cr_assert_not_null(strstr(err, path("swap")), "%s", err);
		cr_assert_eq(stat(path("swap"), &st), 0);
		cr_assert_eq(st.st_mode & 07777, bad[i]);
	}
}

Test(swapd, kept_file_in_use_by_another_run)
{
	make_kept(path("swap"), 64 * PG);
	open_ok(path("swap"), 0, 0);
	cr_assert_eq(swapd_open(&s2, path("swap"), 0, 0, err, sizeof(err)), -EBUSY, "%s", err);
	cr_assert_not_null(strstr(err, "is in use by another memvisor run"), "%s", err);
	cr_assert_not_null(strstr(err, path("swap")), "%s", err);
	cr_assert_eq(swapd_open(&s2, path("swap"), 128 * PG, SWAPD_KEEP, err, sizeof(err)), -EBUSY,
		     "%s", err);
	cr_assert_eq(s2.path, NULL);
	swapd_close(&s);
	/* free again once the first run is done */
	cr_assert_eq(swapd_open(&s2, path("swap"), 0, 0, err, sizeof(err)), 0, "%s", err);
	swapd_close(&s2);
	/* a new kept file is locked from the moment it appears */
	open_ok(path("new"), 64 * PG, SWAPD_KEEP);
	cr_assert_eq(swapd_open(&s2, path("new"), 0, 0, err, sizeof(err)), -EBUSY, "%s", err);
}

/* Two runs that start at the same moment on one path. */
struct racer {
	struct swapd d;
	const char *path;
	unsigned flags;
	pthread_barrier_t *go;
	int ret;
	char err[256];
};

static void *racer_open(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->ret = swapd_open(&r->d, r->path, 64 * PG, r->flags, r->err, sizeof(r->err));
	return NULL;
}

static void race(struct racer *r, unsigned flags)
{
	pthread_barrier_t go;
	pthread_t t[2];

	cr_assert_eq(pthread_barrier_init(&go, NULL, 2), 0);
	for (unsigned i = 0; i < 2; i++) {
		r[i] = (struct racer){ .path = path("swap"), .flags = flags, .go = &go };
		cr_assert_eq(pthread_create(&t[i], NULL, racer_open, &r[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&go);
}

Test(swapd, concurrent_new_path_two_private_files)
{
	static char zero[PG];
	char got[PG];

	for (unsigned round = 0; round < 20; round++) {
		struct racer r[2];
		struct stat a, b;

		race(r, 0);
		cr_assert_eq(r[0].ret, 0, "round %u: %s", round, r[0].err);
		cr_assert_eq(r[1].ret, 0, "round %u: %s", round, r[1].err);
		cr_assert_eq(fstat(r[0].d.fd, &a), 0);
		cr_assert_eq(fstat(r[1].d.fd, &b), 0);
		cr_assert(a.st_ino != b.st_ino, "round %u: both runs got one file", round);
		/* what one writes never shows in the other */
		write_slots(&r[0].d, 5, 2, round);
		cr_assert_eq(pread(r[1].d.fd, got, PG, 5 * PG), (ssize_t)PG);
		cr_assert_eq(memcmp(got, zero, PG), 0, "round %u", round);
		cr_assert_str_empty(dir_names(), "round %u: left in the directory:%s", round, dir_names());
		swapd_close(&r[0].d);
		swapd_close(&r[1].d);
		cr_assert_str_empty(dir_names(), "round %u: left behind:%s", round, dir_names());
	}
}

Test(swapd, concurrent_new_kept_path_one_run_wins)
{
	for (unsigned round = 0; round < 20; round++) {
		struct racer r[2];
		unsigned loser;

		race(r, SWAPD_KEEP);
		cr_assert((r[0].ret == 0) != (r[1].ret == 0), "round %u: %d (%s), %d (%s)", round,
			  r[0].ret, r[0].err, r[1].ret, r[1].err);
		loser = r[0].ret == 0;
		cr_assert_eq(r[loser].ret, -EBUSY, "round %u: %s", round, r[loser].err);
		cr_assert_not_null(strstr(r[loser].err, "in use by another memvisor run"), "%s",
				   r[loser].err);
		swapd_close(&r[!loser].d);
		cr_assert_str_eq(dir_names(), " swap");
		cr_assert_eq(unlink(path("swap")), 0);
	}
}

/* An inotify watch on the test directory: what happened in it, by name. */
static int watch_dir(void)
{
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	cr_assert(in >= 0);
	cr_assert(inotify_add_watch(in, dir, IN_ALL_EVENTS & ~(IN_ACCESS | IN_OPEN |
			IN_CLOSE_NOWRITE)) >= 0);
	return in;
}

static const char *event_name(uint32_t mask)
{
	static const struct { uint32_t mask; const char *name; } names[] = {
		{ IN_CREATE, "CREATE" }, { IN_DELETE, "DELETE" }, { IN_MODIFY, "MODIFY" },
		{ IN_ATTRIB, "ATTRIB" }, { IN_MOVED_TO, "MOVED_TO" }, { IN_MOVED_FROM, "MOVED_FROM" },
		{ IN_CLOSE_WRITE, "CLOSE_WRITE" },
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mask & names[i].mask)
			return names[i].name;
	return "OTHER";
}

/*
 * The events seen, "CREATE:swap MODIFY:swap ...", but those of a file made
 * O_TMPFILE: inotify names its dentry "#inode", which is no name in the
 * directory (no one can open it there).
 */
static const char *dir_events(int in)
{
	static char out[4096];
	char buf[8192] __attribute__((aligned(8)));
	ssize_t n;

	out[0] = '\0';
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			p += sizeof(*e) + e->len;
			if (e->len && e->name[0] == '#')
				continue;
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s:%s",
				 out[0] ? " " : "", event_name(e->mask), e->len ? e->name : "");
		}
	return out;
}

Test(swapd, new_file_never_in_directory)
{
	int in = watch_dir();
	const char *ev;

	open_ok(path("swap"), 1 << 20, 0);
	/* not for a moment, half-made or whole */
	ev = dir_events(in);
	cr_assert_str_empty(ev, "the directory saw: %s", ev);
	cr_assert_str_empty(dir_names(), "left in the directory:%s", dir_names());
	cr_assert_eq(fcntl(s.fd, F_GETFL) & O_TMPFILE, O_TMPFILE, "not made with O_TMPFILE");
	swapd_close(&s);
	cr_assert_str_empty(dir_events(in));
	close(in);
}

Test(swapd, kept_new_file_appears_complete)
{
	int in = watch_dir();
	const char *ev;

	open_ok(path("swap"), 1 << 20, SWAPD_KEEP);
	/* one event: its name appeared, with nothing done to it afterwards */
	ev = dir_events(in);
	cr_assert_str_eq(ev, "CREATE:swap", "the directory saw: %s", ev);
	cr_assert_str_eq(dir_names(), " swap");
	swapd_close(&s);
	open_ok(path("swap"), 0, 0); /* it has its header */
	cr_assert_eq(s.nr_slots, 256);
	close(in);
}

/* Drop CAP_DAC_READ_SEARCH from this process's effective set. */
static void drop_dac_read_search(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	cr_assert_eq(syscall(SYS_capget, &h, d), 0);
	d[CAP_DAC_READ_SEARCH / 32].effective &= ~(1u << (CAP_DAC_READ_SEARCH % 32));
	cr_assert_eq(syscall(SYS_capset, &h, d), 0);
}

/*
 * A kept file made without CAP_DAC_READ_SEARCH, as by a user other than
 * root. Before Linux 6.10 linkat(AT_EMPTY_PATH) then fails and the link goes
 * through /proc/self/fd; since, the opener of the file may link it itself.
 */
Test(swapd, kept_file_linked_without_cap_dac_read_search)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		drop_dac_read_search();
		if (swapd_open(&s, path("swap"), 64 * PG, SWAPD_KEEP, err, sizeof(err)))
			_exit(1);
		swapd_close(&s);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
	cr_assert_str_eq(dir_names(), " swap");
	open_ok(path("swap"), 0, 0);
	cr_assert_eq(s.nr_slots, 64);
}

/* Where the filesystem has no O_TMPFILE: a fresh name, removed at once. */
Test(swapd, without_tmpfile_new_file_never_at_path)
{
	int in = watch_dir();
	void *want = pages(1);
	const char *ev;

	open_ok(path("swap"), 1 << 20, SWAPD_NO_TMPFILE);
	cr_assert_neq(fcntl(s.fd, F_GETFL) & O_TMPFILE, O_TMPFILE);
	cr_assert(s.created && s.unlinked);
	ev = dir_events(in);
	cr_assert_null(strstr(ev, ":swap"), "the path was used: %s", ev);
	cr_assert_not_null(strstr(ev, "DELETE:.memvisor-swap-"), "%s", ev);
	cr_assert_str_empty(dir_names(), "left in the directory:%s", dir_names());
	write_slots(&s, 1, 2, 70);
	fill_page(want, 71);
	assert_slot_holds(2, want); /* the I/O works on it */
	free(want);
	swapd_close(&s);
	cr_assert_str_empty(dir_names());
	close(in);
}

Test(swapd, without_tmpfile_kept_file_appears_complete)
{
	int in = watch_dir();
	const char *ev;

	open_ok(path("swap"), 1 << 20, SWAPD_KEEP | SWAPD_NO_TMPFILE);
	ev = dir_events(in);
	cr_assert_not_null(strstr(ev, "CREATE:swap"), "%s", ev);
	cr_assert_null(strstr(strstr(ev, "CREATE:swap"), "MODIFY"), "changed once in place: %s", ev);
	cr_assert_str_eq(dir_names(), " swap", "in the directory:%s", dir_names());
	write_slots(&s, 1, 2, 80);
	swapd_close(&s);
	assert_zero_from(path("swap"), PG);
	open_ok(path("swap"), 0, 0);
	cr_assert_eq(s.nr_slots, 256);
	close(in);
}

/* A header this memvisor cannot read is refused, and the file left alone. */
Test(swapd, refuses_other_header_version_or_damaged)
{
	uint32_t v = 99;
	uint64_t slots = 1;
	int fd;

	make_kept(path("swap"), 64 * PG);
	fd = open(path("swap"), O_WRONLY);
	cr_assert_eq(pwrite(fd, &v, sizeof(v), 16), (ssize_t)sizeof(v)); /* the version */
	open_refused(path("swap"), 0, -EPROTO, "has a header of version 99, not 1");
	cr_assert_not_null(strstr(err, "remove it or choose a new path"), "%s", err);
	v = 1;
	cr_assert_eq(pwrite(fd, &v, sizeof(v), 16), (ssize_t)sizeof(v));
	cr_assert_eq(pwrite(fd, &slots, sizeof(slots), 24), (ssize_t)sizeof(slots)); /* nr_slots 1 */
	open_refused(path("swap"), 0, -EUCLEAN, "has a damaged header");
	close(fd);
}

/* A run killed at any point of its set-up leaves nothing in the directory. */
Test(swapd, killed_setup_leaves_nothing)
{
	srand(getpid());
	for (unsigned round = 0; round < 30; round++) {
		int status;
		pid_t pid = fork();

		cr_assert(pid >= 0);
		if (pid == 0) {
			for (;;) {
				if (swapd_open(&s, path("swap"), 64 << 20, 0, err, sizeof(err)))
					_exit(1);
				swapd_close(&s);
			}
		}
		usleep(1000 + rand() % 20000);
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status), "round %u: the child failed: %d", round, status);
		cr_assert_str_empty(dir_names(), "round %u: left behind:%s", round, dir_names());
	}
}

Test(swapd, kept_file_wiped_at_close)
{
	struct stat st;

	open_ok(path("swap"), 64 * PG, SWAPD_KEEP);
	write_slots(&s, 1, 4, 10);  /* one vectored run */
	write_slots(&s, 9, 1, 20);
	write_slots(&s, 63, 1, 30); /* the last slot */
	swapd_close(&s);
	cr_assert_eq(stat(path("swap"), &st), 0);
	cr_assert_eq(st.st_size, 64 * PG);
	assert_zero_from(path("swap"), PG);
	/* the header stays: used again, and wiped again */
	open_ok(path("swap"), 0, 0);
	cr_assert_eq(s.nr_slots, 64);
	write_slots(&s, 30, 8, 40);
	swapd_close(&s);
	assert_zero_from(path("swap"), PG);
	open_ok(path("swap"), 0, SWAPD_KEEP);
	swapd_close(&s);
}

/* A kept run killed before swapd_close: the next open wipes what it left. */
Test(swapd, killed_kept_run_wiped_at_next_open)
{
	int status;
	pid_t pid;

	make_kept(path("swap"), 64 * PG);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (swapd_open(&s, path("swap"), 0, 0, err, sizeof(err)))
			_exit(1);
		write_slots(&s, 1, 8, 50);
		write_slots(&s, 40, 3, 60);
		_exit(0); /* as if killed: no swapd_close */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
	open_ok(path("swap"), 0, 0);
	assert_zero_from(path("swap"), PG);
}

/* --- the slot map against a model --- */

#define MODEL_SLOTS 700 /* three clusters, the last one short */

static uint8_t model[MODEL_SLOTS];

static uint64_t model_free(void)
{
	uint64_t n = 0;

	for (unsigned i = 1; i < MODEL_SLOTS; i++)
		n += !model[i];
	return n;
}

/* Retired slots count as in use: they are never free again. */
static uint64_t model_inuse(void)
{
	uint64_t n = 0;

	for (unsigned i = 1; i < MODEL_SLOTS; i++)
		n += model[i] != 0;
	return n;
}

/* A slot in the state wanted (0 free, 1 in use, 2 retired) from a random start. */
static uint64_t model_pick(int want)
{
	uint64_t start = 1 + rng() % (MODEL_SLOTS - 1);

	for (uint64_t k = 0; k < MODEL_SLOTS - 1; k++) {
		uint64_t slot = 1 + (start - 1 + k) % (MODEL_SLOTS - 1);
		int st = !model[slot] ? 0 : model[slot] == SWAPD_MAP_BAD ? 2 : 1;

		if (st == want)
			return slot;
	}
	return 0;
}

static void model_alloc(void)
{
	uint64_t slots[24];
	unsigned n = 1 + rng() % 24, want = n < model_free() ? n : (unsigned)model_free();
	unsigned got = swapd_slot_alloc(&s, slots, n);

	cr_assert_eq(got, want);
	for (unsigned i = 0; i < got; i++) {
		cr_assert(slots[i] && slots[i] < MODEL_SLOTS);
		cr_assert_eq(model[slots[i]], 0, "slot %llu handed out in state %u",
			     (unsigned long long)slots[i], model[slots[i]]);
		model[slots[i]] = 1;
	}
}

static void model_get_put(bool get)
{
	uint64_t slot = model_pick(1);
	int want;

	if (!slot)
		return;
	want = get && model[slot] == SWAPD_MAP_MAX ? -EOVERFLOW : 0;
	cr_assert_eq(get ? swapd_slot_get(&s, slot) : swapd_slot_put(&s, slot), want);
	if (!want)
		model[slot] += get ? 1 : -1;
}

static void model_step(void)
{
	unsigned op = rng() % 100;
	uint64_t slot;

	if (op < 30) {
		model_alloc();
	} else if (op < 60) {
		model_get_put(false);
	} else if (op < 85) {
		model_get_put(true);
	} else if (op < 95) {
		slot = model_pick(0);
		if (slot) {
			cr_assert_eq(swapd_slot_put(&s, slot), -EINVAL);
			cr_assert_eq(swapd_slot_get(&s, slot), -EINVAL);
		}
	} else if (op < 96) {
		slot = 1 + rng() % (MODEL_SLOTS - 1);
		swapd_slot_retire(&s, slot);
		model[slot] = SWAPD_MAP_BAD;
	} else {
		slot = model_pick(2);
		if (slot)
			cr_assert_eq(swapd_slot_put(&s, slot), 0);
	}
}

static void model_check_all(void)
{
	uint64_t cl[3] = { 0 }, retired = 0;

	for (unsigned i = 1; i < MODEL_SLOTS; i++) {
		cr_assert_eq(swapd_slot_count(&s, i), model[i], "slot %u", i);
		cl[i / CL] += !model[i];
		retired += model[i] == SWAPD_MAP_BAD;
	}
	for (unsigned c = 0; c < 3; c++)
		cr_assert_eq(s.cluster_free[c], cl[c], "cluster %u", c);
	cr_assert_eq(s.stats.retired, retired);
}

Test(swapd, slot_randomized_against_model)
{
	open_ok(path("swap"), MODEL_SLOTS * PG, 0);
	memset(model, 0, sizeof(model));
	rng_seed(20240611);
	for (unsigned step = 0; step < 20000; step++) {
		model_step();
		cr_assert_eq(swapd_free_slots(&s), model_free(), "step %u", step);
		cr_assert_eq(s.inuse, model_inuse(), "step %u", step);
		if (step % 250 == 0)
			model_check_all();
	}
	model_check_all();
	/* the run must have reached a full device and deep counts */
	cr_assert_gt(s.stats.retired, 50);
}
