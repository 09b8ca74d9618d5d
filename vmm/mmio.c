// SPDX-License-Identifier: MIT
/*
 * MMIO exits. memvisor emulates no device on MMIO, so every MMIO exit is a
 * guest error; the VMA it hit says which: a write to ROM, an access to the
 * MMIO hole, or an address no VMA covers.
 */
#include "guest.h"

void vmm_mmio(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	unsigned long long gpa = r->mmio.phys_addr;
	const char *what = r->mmio.is_write ? "write" : "read";
	struct gmm_vma vma;

	if (!gmm_mm_vma_at(v->g->mm, gpa, &vma)) {
		vmm_vcpu_crash(v, "%s of %u bytes at GPA 0x%llx, which no memory or device backs",
			       what, r->mmio.len, gpa);
		return;
	}
	switch (vma.kind) {
	case GMM_VMA_ROM:
		vmm_vcpu_crash(v, "%s of %u bytes to ROM (the guest image's read-only pages) at GPA 0x%llx",
			       what, r->mmio.len, gpa);
		return;
	case GMM_VMA_MMIO:
		vmm_vcpu_crash(v, "%s of %u bytes in the MMIO hole '%s' at GPA 0x%llx: no device there",
			       what, r->mmio.len, vma.name, gpa);
		return;
	default:
		vmm_vcpu_crash(v, "unexpected MMIO %s of %u bytes at GPA 0x%llx in VMA '%s'",
			       what, r->mmio.len, gpa, vma.name);
	}
}
