/* SPDX-License-Identifier: MIT */
/* hostswap's own: shared by hostswap.c (the run) and hostswap_host.c (the
 * host's checks, the cgroup and the swap file). Not for other modules. */
#ifndef BENCH_HOSTSWAP_INT_H
#define BENCH_HOSTSWAP_INT_H

#include "hostswap.h"

#include <limits.h>

#define HS_MIN_PAGES	10	/* what mkswap accepts: the header and a little room */

struct hs_run {
	const struct hostswap_spec *spec;
	uint64_t page;
	int lock_fd;
	bool cg_v2, cg_made, swap_made, swap_on;
	char cg_root[PATH_MAX];		/* mount point of the memory hierarchy */
	char cg_path[PATH_MAX];		/* our group in it */
	char swap_path[PATH_MAX];
};

/* dir/name into path (PATH_MAX bytes): 0, or -ENAMETOOLONG, never a cut path */
int hs_path(char *path, const char *dir, const char *name);
/* The machine's pswpin and pswpout (/proc/vmstat): 0 or -errno. */
int hs_vmstat(uint64_t *pswpin, uint64_t *pswpout);
/* Root, a memory controller (r->cg_root, r->cg_v2), swap support, no swap
 * active: 0, or -errno with the reason in err. */
int hs_check(struct hs_run *r, char *err, size_t errlen);
/* A fresh group with the limit (r->cg_path, r->cg_made). 0 or -errno. */
int hs_cg_setup(struct hs_run *r, char *err, size_t errlen);
/* The swap file made and swapped on (r->swap_path, swap_made, swap_on). */
int hs_swap_setup(struct hs_run *r, char *err, size_t errlen);

#endif
