// SPDX-License-Identifier: MIT
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

static const struct { int cap; const char *name; const char *why; } vmm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM as host memory" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "64-bit guests need CPUID set" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
};

static int kvm_get_cpuid(struct vmm_kvm *kvm)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			kvm->cpuid = c;
			return 0;
		}
		int e = errno; /* free() may change it */

		free(c);
		if (e != E2BIG)
			return -e;
	}
	return -E2BIG;
}

/* The first line of a sysfs file, or "" if there is none. */
static void kvm_read_param(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Which KVM module serves /dev/kvm, and whether it pages guests in hardware
 * (EPT/NPT) or in software (shadow paging), from the modules' parameters. */
static void kvm_describe(struct vmm_kvm *kvm)
{
	struct utsname u;
	char v[16];

	if (!access("/sys/module/kvm_pvm", F_OK)) {
		snprintf(kvm->backend, sizeof(kvm->backend), "PVM (shadow paging)");
		kvm->shadow_paging = true;
	} else if (!access("/sys/module/kvm_intel", F_OK)) {
		kvm_read_param("/sys/module/kvm_intel/parameters/ept", v, sizeof(v));
		kvm->shadow_paging = v[0] != 'Y' && v[0] != '1';
		snprintf(kvm->backend, sizeof(kvm->backend), "VT-x with %s",
			 kvm->shadow_paging ? "shadow paging" : "EPT");
	} else if (!access("/sys/module/kvm_amd", F_OK)) {
		kvm_read_param("/sys/module/kvm_amd/parameters/npt", v, sizeof(v));
		kvm->shadow_paging = v[0] != 'Y' && v[0] != '1';
		snprintf(kvm->backend, sizeof(kvm->backend), "AMD-V with %s",
			 kvm->shadow_paging ? "shadow paging" : "NPT");
	} else {
		snprintf(kvm->backend, sizeof(kvm->backend), "unknown KVM backend");
	}
	snprintf(kvm->kernel, sizeof(kvm->kernel), "%s", uname(&u) ? "unknown" : u.release);
}

int vmm_kvm_open(struct vmm_kvm *kvm, char *err, size_t errlen)
{
	int ret;

	memset(kvm, 0, sizeof(*kvm));
	kvm->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s%s", strerror(errno),
			 errno == ENOENT ? " (no KVM on this machine)" :
			 errno == EACCES ? " (run as root or join the kvm group)" : "");
		return ret;
	}
	ret = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (ret < 0) {
		snprintf(err, errlen, "/dev/kvm does not answer KVM_GET_API_VERSION (%s): not a KVM device",
			 strerror(errno));
		ret = -ENODEV;
		goto err_fd;
	}
	if (ret != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks API version %d, memvisor needs %d",
			 ret, KVM_API_VERSION);
		ret = -EINVAL;
		goto err_fd;
	}
	for (size_t i = 0; i < sizeof(vmm_required_caps) / sizeof(vmm_required_caps[0]); i++) {
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, vmm_required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks %s (needed for %s)",
				 vmm_required_caps[i].name, vmm_required_caps[i].why);
			ret = -ENOTSUP;
			goto err_fd;
		}
	}
	ret = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		ret = -EINVAL;
		goto err_fd;
	}
	kvm->run_size = ret;
	kvm->max_vcpus = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	kvm->sync_regs = (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) &
			  KVM_SYNC_X86_REGS) != 0;
	ret = kvm_get_cpuid(kvm);
	if (ret) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-ret));
		goto err_fd;
	}
	kvm_describe(kvm);
	return 0;

err_fd:
	close(kvm->fd);
	kvm->fd = -1;
	return ret;
}

void vmm_kvm_close(struct vmm_kvm *kvm)
{
	free(kvm->cpuid);
	kvm->cpuid = NULL;
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
