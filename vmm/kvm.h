/* SPDX-License-Identifier: MIT */
/* The /dev/kvm handle: API version and capability checks, shared by all guests. */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdbool.h>

struct vmm_kvm {
	int fd;
	size_t run_size;             /* KVM_GET_VCPU_MMAP_SIZE */
	int max_vcpus;
	bool sync_regs;              /* KVM_CAP_SYNC_REGS: registers come with each exit */
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID */
	/* which kind of KVM, and the host kernel: a figure measured on a
	 * shadow-paging backend and one on hardware EPT/NPT differ by an order
	 * of magnitude, so every summary and benchmark names them */
	char backend[64];
	bool shadow_paging;
	char kernel[80];
};

/* Open /dev/kvm and check what memvisor needs; on failure err names what is missing. */
int vmm_kvm_open(struct vmm_kvm *kvm, char *err, size_t errlen);
void vmm_kvm_close(struct vmm_kvm *kvm);

#endif
