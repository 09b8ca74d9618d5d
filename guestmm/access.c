// SPDX-License-Identifier: MIT
/*
 * memvisor reading a guest's RAM itself (hypercall buffers and strings), as
 * access_process_vm reads another process's memory in Linux.
 *
 * Guest RAM is registered with the pool's userfaultfd, so a plain memcpy
 * from a page that has no frame behind it would sleep on memvisor's own
 * fault path, and when no frame can be had, fault again forever: a guest
 * could hang memvisor that way. Instead each page is looked up in the EPT
 * table under the guest's mm lock and copied only while it is mapped (the
 * lock keeps reclaim from arming it meanwhile); a page that is not is
 * brought in through the fault handler, as a vCPU's fault would be, and its
 * outcome (no frame, a failed swap read) comes back as an error for the
 * caller to end the guest with.
 */
#include "mm.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

/* Bounded: a page faulted in may be reclaimed again before it is read. */
#define ACCESS_TRIES 1000

/* Copy from one page if it is mapped. 1 copied, 0 not mapped. */
static int access_copy_mapped(struct gmm_mm *mm, gpa_t gpa, uint8_t *dst, size_t n)
{
	uint64_t *e;
	int ret = 0;

	pthread_mutex_lock(&mm->lock);
	e = ept_lookup(&mm->ept, gpa);
	/* a zero-page mapping reads as zeros, with no fault */
	if (e && (ept_present(*e) || gmm_ept_zmap(*e))) {
		memcpy(dst, mm->cfg.ram_hva + gpa, n);
		ret = 1;
	}
	pthread_mutex_unlock(&mm->lock);
	return ret;
}

static int access_fault_errno(struct gmm_mm *mm, unsigned fault)
{
	if (fault & GMM_FAULT_OOM) {
		/* the caller ends the guest as out of memory */
		__atomic_add_fetch(&mm->events.oom_kill, 1, __ATOMIC_RELAXED);
		return -ENOMEM;
	}
	if (fault & GMM_FAULT_IOERR)
		return -EIO;
	return -EFAULT;
}

/* One page's worth at gpa; mms_lock held for reading. */
static int access_page(struct gmm_mm *mm, gpa_t gpa, uint8_t *dst, size_t n)
{
	for (int tries = 0; tries < ACCESS_TRIES; tries++) {
		unsigned fault;

		if (access_copy_mapped(mm, gpa, dst, n))
			return 0;
		fault = gmm_handle_fault(mm, ALIGN_DOWN(gpa, PAGE_SIZE), false);
		if (!(fault & (GMM_FAULT_NOPAGE | GMM_FAULT_SPURIOUS)))
			return access_fault_errno(mm, fault);
		if (fault & GMM_FAULT_SPURIOUS)
			sched_yield(); /* another fault thread is installing it */
	}
	return -EAGAIN;
}

int gmm_mm_read(struct gmm_mm *mm, gpa_t gpa, void *buf, size_t len)
{
	struct gmm_pool *p = mm->pool;
	uint8_t *dst = buf;
	int ret = 0;

	if (gpa > mm->cfg.ram_size || len > mm->cfg.ram_size - gpa)
		return -EFAULT;
	if (!p) {
		/* host-managed RAM: the kernel fills it, nothing of ours can hang */
		memcpy(dst, mm->cfg.ram_hva + gpa, len);
		return 0;
	}
	pthread_rwlock_rdlock(&p->mms_lock);
	if (mm->stopped)
		ret = -ESRCH;
	while (!ret && len) {
		size_t n = MIN(len, (size_t)(PAGE_SIZE - (gpa & (PAGE_SIZE - 1))));

		ret = access_page(mm, gpa, dst, n);
		gpa += n;
		dst += n;
		len -= n;
	}
	pthread_rwlock_unlock(&p->mms_lock);
	return ret;
}
