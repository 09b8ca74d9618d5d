// SPDX-License-Identifier: MIT
/*
 * bench overcommit, Linux's side (see overcommit.c): memvisor-touch-host
 * making the touch guest's accesses as a process, in a memory cgroup of the
 * pool's size with a host swap file (hostswap.c), or with no limit (the
 * floor); and a KVM guest (memvisor --host-mm) in such a cgroup.
 */
#include "overcommit.h"
#include "hostswap.h"
#include "vmm/guest.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Another host-swap run (another bench, a test) is waited for this long:
 * taking turns costs less than a run with no Linux figure. */
#define OC_LOCK_WAIT_MS 120000

/* memvisor-touch-host's "key value" lines into l. */
static void oc_host_output(int fd, struct oc_linux *l)
{
	char buf[4096], key[32];
	unsigned long long v;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (sscanf(line, "%31s %llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "ns"))
			l->s = v / 1e9;
		else if (!strcmp(key, "pages"))
			l->touches = v;
		else if (!strcmp(key, "minflt"))
			l->minflt = v;
		else if (!strcmp(key, "majflt"))
			l->majflt = v;
	}
}

/* The same accesses as a host process: in a cgroup limited to the pool with
 * a host swap file of RAM's size, or (floor) with no limit at all. */
void oc_linux(const struct oc_opts *o, const struct oc_run *r, bool floor,
		     const struct oc_image *img, struct oc_linux *l)
{
	char size[32], passes[16], seed[24], err[512];
	char *argv[] = { (char *)img->host, "--size", size, "--pattern", (char *)r->w->pattern,
			 "--passes", passes, "--seed", seed, NULL };
	struct hostswap_spec spec = { .argv = argv, .mem_limit = o->pool, .swap_size = o->pool * r->ratio,
				      .swap_dir = o->dir, .quiet = true, .no_limit = floor,
				      .lock_wait_ms = OC_LOCK_WAIT_MS };
	struct hostswap_result res;
	int ret;

	l->s = -1;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)(o->pool * r->ratio));
	snprintf(passes, sizeof(passes), "%u", r->w->passes);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)o->seed);
	spec.out_fd = memfd_create("memvisor-touch-host", MFD_CLOEXEC);
	if (spec.out_fd < 0) {
		snprintf(l->note, sizeof(l->note), "not run: memfd_create: %s", strerror(errno));
		return;
	}
	ret = hostswap_run(&spec, &res, err, sizeof(err));
	if (ret)
		snprintf(l->note, sizeof(l->note), "not run: %s", err);
	else if (res.status != 0)
		snprintf(l->note, sizeof(l->note), "%s after %.2f s",
			 res.status < 0 ? "killed (the cgroup's OOM killer)" : "failed", res.wall_s);
	else
		oc_host_output(spec.out_fd, l);
	close(spec.out_fd);
	l->wall_s = res.wall_s;
	l->swap_out = res.pswpout;
	l->swap_in = res.pswpin;
	if (!ret && !res.status && l->s < 0)
		snprintf(l->note, sizeof(l->note), "memvisor-touch-host printed no time");
}

/* Linux reclaiming a KVM guest: memvisor --host-mm in the cgroup. */
void oc_kvm_cgroup(const struct oc_opts *o, struct oc_run *r, const struct oc_image *img)
{
	char mem[32], limit[32], err[512];
	struct oc_args a;
	char *argv[] = { (char *)img->self, "run", "-q", "--host-mm", "-m", mem, "--timeout", limit,
			 "touch", "--", a.pat, a.passes, a.seed, NULL };
	/* a thrashing KVM guest can take minutes to finish: the bench gives it
	 * twice memvisor's time (at least 5 s), and says so if it is cut */
	double secs = fmax(5, 2 * r->mv.wall_s);
	struct hostswap_spec spec = { .argv = argv, .mem_limit = o->pool, .swap_size = o->pool * r->ratio,
				      .swap_dir = o->dir, .quiet = true, .lock_wait_ms = OC_LOCK_WAIT_MS };
	struct hostswap_result res;

	r->kvm_s = -1;
	snprintf(mem, sizeof(mem), "%lluK", (unsigned long long)(o->pool * r->ratio >> 10));
	snprintf(limit, sizeof(limit), "%.0fms", secs * 1e3);
	oc_touch_args(o, r, &a);
	if (hostswap_run(&spec, &res, err, sizeof(err)))
		snprintf(r->kvm_note, sizeof(r->kvm_note), "not run: %s", err);
	else if (res.status == VMM_EXIT_TIMEOUT)
		snprintf(r->kvm_note, sizeof(r->kvm_note), "not done in %.1f s (2x memvisor's time)", secs);
	else if (res.status != 0)
		snprintf(r->kvm_note, sizeof(r->kvm_note), "%s after %.2f s",
			 res.status < 0 ? "killed (the cgroup's OOM killer)" : "failed", res.wall_s);
	else
		r->kvm_s = res.wall_s;
}
