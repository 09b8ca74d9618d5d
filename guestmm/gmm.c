// SPDX-License-Identifier: MIT
/*
 * A frame pool's life cycle with its threads: the frames (pool.c), then the
 * userfaultfd and its fault threads (uffd.c), then pre-zeroing (prezero.c);
 * kswapd joins when a swap device is attached (kswapd.c). Teardown runs the
 * other way. This file sits above the others, so that the pool itself never
 * calls up into the threads that call into it.
 */
#include "pool.h"

#include "memvisor/err.h"

#include <string.h>

int gmm_pool_init(struct gmm_pool *p, uint64_t bytes, const struct gmm_pool_config *cfg,
		  char *err, size_t errlen)
{
	int ret = gmm_frames_init(p, bytes, err, errlen);

	if (ret)
		return ret;
	if (cfg) {
		ret = gmm_uffd_open(p, cfg, err, errlen);
		if (ret) {
			gmm_pool_destroy(p);
			return ret;
		}
	}
	if (cfg && cfg->prezero) {
		ret = gmm_prezero_start(p, cfg->prezero_cpu);
		if (ret) {
			mv_seterr(err, errlen, ret, "cannot start the pre-zeroing thread: %s",
				  strerror(-ret));
			gmm_pool_destroy(p);
			return ret;
		}
	}
	return 0;
}

void gmm_pool_destroy(struct gmm_pool *p)
{
	gmm_kswapd_stop(p);
	gmm_prezero_stop(p);
	if (p->uffd >= 0)
		gmm_uffd_close(p);
	gmm_frames_fini(p);
}
