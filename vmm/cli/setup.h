/* SPDX-License-Identifier: MIT */
/*
 * What a guest runs on, set up and torn down one way for memvisor run, the
 * benchmarks and the guest tests: /dev/kvm, a frame pool for guest RAM, and
 * a swap device attached to the pool.
 *
 * The order matters at both ends. Set-up: the pool, then the swap device,
 * then attaching it (which starts kswapd). Teardown: the pool first, which
 * stops kswapd and every fault thread, so nothing reads or writes the swap
 * device any more; then the swap device, whose file then goes (or, kept,
 * has the slots memvisor wrote wiped); /dev/kvm last. Every guest of the
 * pool must be destroyed before its teardown.
 */
#ifndef CLI_SETUP_H
#define CLI_SETUP_H

#include "vmm/kvm.h"
#include "guestmm/guestmm.h"
#include "swapd/swapd.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether free frames are zeroed ahead of faults on a spare CPU. */
enum cli_prezero {
	CLI_PREZERO_ON,          /* memvisor run and the tests, unless --no-prezero */
	CLI_PREZERO_SPARE_CPU,   /* only with a CPU no vCPU runs on (the benchmarks) */
	CLI_PREZERO_OFF,
};

struct cli_pool_spec {
	uint64_t bytes;              /* frames for this much memory */
	unsigned nr_vcpus;           /* of the guests it serves: fault threads and pinning */
	bool no_pin;                 /* no thread pinned (--no-pin) */
	enum cli_prezero prezero;    /* off anyway with GMM_INSTALL_COPY */
	enum gmm_install install;
	const char *swap_path;       /* NULL: no swap device */
	uint64_t swap_size;          /* see swapd_open(); 0 for an existing file */
	unsigned swap_flags;         /* SWAPD_KEEP */
	bool kswapd_unpinned;        /* kswapd on any CPU even if the rest is pinned */
	uint64_t inject_write, inject_read; /* tests: the nth swap write / read fails */
};

/* A frame pool (pool) and, with spec->swap_path, a swap device (swap)
 * attached to it. 0, or -errno with one line in err and nothing left open. */
int cli_pool_open(struct gmm_pool *pool, struct swapd *swap, const struct cli_pool_spec *spec,
		  char *err, size_t errlen);
/* The pool, then the swap device if one was attached (see above). */
void cli_pool_close(struct gmm_pool *pool, struct swapd *swap);

/* /dev/kvm with a pool and its swap device, each optional. */
struct cli_setup {
	struct vmm_kvm kvm;
	struct gmm_pool pool;
	struct swapd swap;
	bool have_kvm, have_pool;
};

/* /dev/kvm. 0, or -errno with one line in err. */
int cli_setup_kvm(struct cli_setup *s, char *err, size_t errlen);
/* s->pool (and s->swap): cli_pool_open. */
int cli_setup_pool(struct cli_setup *s, const struct cli_pool_spec *spec, char *err,
		   size_t errlen);
/* The pool for vmm_config.pool: NULL if none (host-managed RAM). */
struct gmm_pool *cli_setup_pool_of(struct cli_setup *s);
/* The pool and its swap device, if set up; /dev/kvm stays open. */
void cli_setup_pool_close(struct cli_setup *s);
/* All of it, in order: pool, swap device, /dev/kvm. Safe on a zeroed s. */
void cli_setup_close(struct cli_setup *s);

#endif
