// SPDX-License-Identifier: MIT
/* Set-up and teardown of what guests run on: the order is in setup.h. */
#include "setup.h"
#include "vmm/guest.h"

static void setup_pool_config(struct gmm_pool_config *pc, const struct cli_pool_spec *spec)
{
	vmm_pool_config(pc, spec->nr_vcpus, spec->no_pin);
	pc->install = spec->install;
	if (spec->prezero != CLI_PREZERO_SPARE_CPU)
		pc->prezero = spec->prezero == CLI_PREZERO_ON;
	/* copied-in pages need empty slots: zeroing them ahead is wasted */
	if (spec->install == GMM_INSTALL_COPY)
		pc->prezero = false;
}

int cli_pool_open(struct gmm_pool *pool, struct swapd *swap, const struct cli_pool_spec *spec,
		  char *err, size_t errlen)
{
	int kswapd_cpu = spec->no_pin || spec->kswapd_unpinned ? -1 : vmm_vcpu_cpu(spec->nr_vcpus);
	struct gmm_pool_config pc;
	int ret;

	setup_pool_config(&pc, spec);
	ret = gmm_pool_init(pool, spec->bytes, &pc, err, errlen);
	if (ret || !spec->swap_path)
		return ret;
	ret = swapd_open(swap, spec->swap_path, spec->swap_size, spec->swap_flags, err, errlen);
	if (ret) {
		gmm_pool_destroy(pool);
		return ret;
	}
	ret = gmm_pool_set_swap(pool, swap, kswapd_cpu, err, errlen);
	if (ret) {
		/* kswapd may have failed to start with the device attached: pool first */
		gmm_pool_destroy(pool);
		swapd_close(swap);
		return ret;
	}
	if (spec->inject_write)
		swapd_inject(swap, true, spec->inject_write);
	if (spec->inject_read)
		swapd_inject(swap, false, spec->inject_read);
	return 0;
}

void cli_pool_close(struct gmm_pool *pool, struct swapd *swap)
{
	/* read before: destroying the pool detaches the device */
	bool had_swap = pool->swap == swap;

	gmm_pool_destroy(pool);
	if (had_swap)
		swapd_close(swap);
}

int cli_setup_kvm(struct cli_setup *s, char *err, size_t errlen)
{
	int ret = vmm_kvm_open(&s->kvm, err, errlen);

	s->have_kvm = !ret;
	return ret;
}

int cli_setup_pool(struct cli_setup *s, const struct cli_pool_spec *spec, char *err,
		   size_t errlen)
{
	int ret = cli_pool_open(&s->pool, &s->swap, spec, err, errlen);

	s->have_pool = !ret;
	return ret;
}

struct gmm_pool *cli_setup_pool_of(struct cli_setup *s)
{
	return s->have_pool ? &s->pool : NULL;
}

void cli_setup_pool_close(struct cli_setup *s)
{
	if (s->have_pool)
		cli_pool_close(&s->pool, &s->swap);
	s->have_pool = false;
}

void cli_setup_close(struct cli_setup *s)
{
	cli_setup_pool_close(s);
	if (s->have_kvm)
		vmm_kvm_close(&s->kvm);
	s->have_kvm = false;
}
