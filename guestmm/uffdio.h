/* SPDX-License-Identifier: MIT */
/* userfaultfd definitions newer than Debian 12's kernel headers. */
#ifndef GUESTMM_UFFDIO_H
#define GUESTMM_UFFDIO_H

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

/* UFFDIO_MOVE (Linux 6.8) is newer than Debian 12's headers. */
#ifndef UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#endif
