// SPDX-License-Identifier: MIT
/*
 * Unit tests for the swap device (swapd/): opening and creating the file
 * (mode, allocation, removal, refusals and their messages, O_DIRECT), the
 * slot map (neighbours, clusters, a full device, counts, retired slots),
 * batched io_uring I/O checked byte for byte against the file itself, fault
 * injection, and a randomized run of the slot map against a model.
 *
 * Every test works in its own mkdtemp() directory under /tmp, which the
 * suite's fini removes whatever the test left in it.
 */
#include <criterion/criterion.h>

#include "swapd/swapd.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PG	SWAPD_PAGE_SIZE
#define CL	SWAPD_CLUSTER_SLOTS

static char dir[64];
static char err[256];
static struct swapd s;

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
static void open_refused(const char *p, uint64_t size, int want, const char *what)
{
	int ret = swapd_open(&s, p, size, 0, err, sizeof(err));

	cr_assert_eq(ret, want, "swapd_open(%s) = %d, want %d (%s)", p, ret, want, err);
	cr_assert_not_null(strstr(err, what), "message \"%s\" lacks \"%s\"", err, what);
	cr_assert_null(strchr(err, '\n'), "message is not one line: %s", err);
	cr_assert_eq(s.path, NULL);
	cr_assert_eq(s.fd, -1);
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

Test(swapd, existing_used_and_not_removed)
{
	struct swapd_ring r;
	unsigned char *buf = aligned_alloc(PG, PG);
	struct swapd_io io = { .slot = 3, .buf = buf };

	make_file(path("swap"), 40960, 0600);
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

	make_file(path("swap"), 16384, 0600);
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
}

Test(swapd, existing_smaller_size_uses_part)
{
	struct stat st;

	make_file(path("swap"), 65536, 0600);
	open_ok(path("swap"), 16384, 0);
	cr_assert_eq(s.nr_slots, 4);
	swapd_close(&s);
	cr_assert_eq(stat(path("swap"), &st), 0);
	cr_assert_eq(st.st_size, 65536);
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

	make_file(path("swap"), 65536, 0600);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(chmod(path("swap"), bad[i]), 0);
		open_refused(path("swap"), 0, -EPERM, "chmod 600");
		cr_assert_not_null(strstr(err, path("swap")), "%s", err);
		cr_assert_not_null(strstr(err, "accessible by others"), "%s", err);
		/* refused, not fixed behind the user's back, nor removed */
		cr_assert_eq(stat(path("swap"), &st), 0);
		cr_assert_eq(st.st_mode & 07777, bad[i]);
	}
}

Test(swapd, refuses_too_small)
{
	make_file(path("small"), 4096, 0600);
	open_refused(path("small"), 0, -EINVAL, "too small");
	cr_assert_not_null(strstr(err, path("small")), "%s", err);
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
	cr_assert_eq(mkfifo(path("fifo"), 0600), 0);
	open_refused(path("fifo"), 1 << 20, -EINVAL, "not a regular file");
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
static uint64_t rng_state;

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
