/* SPDX-License-Identifier: MIT */
/* Shared by the guest tests: boot a guest through the library and collect how it ended. */
#ifndef TESTS_GUEST_UTIL_H
#define TESTS_GUEST_UTIL_H

#include "vmm/guest.h"
#include "vmm/image.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define TESTGUEST MV_BUILD_DIR "/tests/guests/testguest"
#define BUILTIN(n) MV_BUILD_DIR "/guest/" n

struct outcome {
	int status;
	enum vmm_end end;
	char reason[512];
	char detail[1024];
	char console[8192];
	struct vmm_report reports[VMM_MAX_REPORTS];
	unsigned nr_reports;
	struct vmm_stats stats;
	uint64_t last_sync;
};

/* Skip (not fail) where this machine has no usable /dev/kvm. */
static inline void need_kvm(struct vmm_kvm *kvm)
{
	char err[256];

	if (vmm_kvm_open(kvm, err, sizeof(err)))
		cr_skip_test("needs /dev/kvm: %s", err);
}

static inline void run_guest(struct outcome *o, const char *path, uint64_t mem, unsigned vcpus,
			     uint64_t timeout_ns, int argc, char **argv)
{
	struct vmm_kvm kvm;
	struct vmm_guest *g;
	char err[512];
	void *elf;
	size_t len;
	FILE *con = fmemopen(o->console, sizeof(o->console) - 1, "w");

	memset(o, 0, sizeof(*o));
	need_kvm(&kvm);
	cr_assert_eq(vmm_image_read(path, &elf, &len, err, sizeof(err)), 0, "%s", err);
	struct vmm_config cfg = {
		.name = "test", .path = path, .mem_size = mem, .nr_vcpus = vcpus,
		.timeout_ns = timeout_ns, .argc = argc, .argv = argv, .console = con,
	};
	cr_assert_eq(vmm_guest_create(&kvm, &cfg, elf, len, &g, err, sizeof(err)), 0, "%s", err);
	o->status = vmm_guest_run(g);
	o->end = g->end;
	memcpy(o->reason, g->reason, sizeof(o->reason));
	memcpy(o->detail, g->detail, sizeof(o->detail));
	memcpy(o->reports, g->reports, sizeof(o->reports));
	o->nr_reports = g->nr_reports;
	o->last_sync = g->vcpus[0].last_sync;
	vmm_guest_stats(g, &o->stats);
	vmm_guest_destroy(g);
	vmm_kvm_close(&kvm);
	fclose(con);
	free(elf);
}

static inline void run_test_mode(struct outcome *o, const char *mode)
{
	char arg[64];
	char *argv[] = { arg };

	snprintf(arg, sizeof(arg), "--mode=%s", mode);
	run_guest(o, TESTGUEST, 16 << 20, 1, 10ULL * 1000000000ULL, 1, argv);
}

static inline bool report_value(const struct outcome *o, unsigned vcpu, const char *key,
				uint64_t *v)
{
	for (unsigned i = 0; i < o->nr_reports; i++)
		if (o->reports[i].vcpu == vcpu && !strcmp(o->reports[i].key, key)) {
			*v = o->reports[i].value;
			return true;
		}
	return false;
}

#endif
