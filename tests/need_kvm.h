/* SPDX-License-Identifier: MIT */
/* For tests that run memvisor as a program: skip (not fail) where this
 * machine has no usable /dev/kvm. (guest_util.h has the in-process kind.) */
#ifndef TESTS_NEED_KVM_H
#define TESTS_NEED_KVM_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static inline void need_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR);

	if (fd < 0)
		cr_skip_test("needs /dev/kvm: %s", strerror(errno));
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(fd);
		cr_skip_test("needs /dev/kvm: it does not answer as KVM");
	}
	close(fd);
}

#endif
