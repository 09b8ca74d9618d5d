// SPDX-License-Identifier: MIT
/*
 * Guest memory as the VMM sees it. Hypercall arguments are guest-virtual
 * addresses; each is translated through the guest's own page tables, page by
 * page, and must land in guest RAM or the guest's image, stacks or boot info.
 * Anything else is -EFAULT and the caller ends the guest: memvisor never
 * reads host memory on a guest's say-so. RAM is read through the memory
 * manager (gmm_mm_read), never touched directly: a page with no frame
 * would make memvisor wait on its own fault path.
 */
#include "guest.h"

#include "memvisor/abi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void *vmm_gpa_host(void *guest, gpa_t gpa, size_t len)
{
	struct vmm_guest *g = guest;

	/* RAM starts at GPA 0 (MV_RAM_GPA) */
	if (gpa <= g->ram_size && len <= g->ram_size - gpa)
		return g->ram + gpa;
	if (gpa >= MV_SYS_GPA && gpa - MV_SYS_GPA <= g->sys_size &&
	    len <= g->sys_size - (gpa - MV_SYS_GPA))
		return g->sys + (gpa - MV_SYS_GPA);
	if (gpa >= MV_ROM_GPA && gpa - MV_ROM_GPA <= g->rom_size &&
	    len <= g->rom_size - (gpa - MV_ROM_GPA))
		return g->rom + (gpa - MV_ROM_GPA);
	return NULL;
}

/* The GPA of gva, and how many bytes of its page follow; -EFAULT if the
 * guest's page tables do not map it for user access. */
static int gmem_translate(struct vmm_guest *g, gva_t gva, gpa_t *gpa, size_t *avail)
{
	struct gpt_walk w;

	if (gpt_walk(g->gpt.root, gva, vmm_gpa_host, g, &w) || !w.user)
		return -EFAULT;
	*gpa = w.gpa;
	*avail = w.page_size - (gva & (w.page_size - 1));
	return 0;
}

int vmm_gva_to_ram(struct vmm_guest *g, gva_t gva, gpa_t *gpa)
{
	size_t avail;

	if (gmem_translate(g, gva, gpa, &avail) || *gpa >= g->ram_size)
		return -EFAULT;
	return 0;
}

/* n bytes at gpa: RAM through the memory manager (which faults pages in
 * rather than touching them, and says -ENOMEM when it cannot), the
 * VMM-owned regions directly. */
static int gmem_read(struct vmm_guest *g, gpa_t gpa, void *dst, size_t n)
{
	const void *src;

	if (gpa < g->ram_size)
		return gmm_mm_read(g->mm, gpa, dst, n);
	src = vmm_gpa_host(g, gpa, n);
	if (!src)
		return -EFAULT;
	memcpy(dst, src, n);
	return 0;
}

int vmm_copy_from_guest(struct vmm_guest *g, void *dst, gva_t src, size_t len)
{
	uint8_t *d = dst;

	while (len) {
		size_t avail;
		gpa_t gpa;
		int ret = gmem_translate(g, src, &gpa, &avail);

		if (!ret)
			ret = gmem_read(g, gpa, d, MIN(avail, len));
		if (ret)
			return ret;
		avail = MIN(avail, len);
		d += avail;
		src += avail;
		len -= avail;
	}
	return 0;
}

int vmm_strncpy_from_guest(struct vmm_guest *g, char *dst, gva_t src, size_t max)
{
	size_t n = 0;

	if (!max)
		return -ENAMETOOLONG; /* no room even for the terminator */

	while (n < max) {
		size_t avail;
		gpa_t gpa;
		int ret = gmem_translate(g, src + n, &gpa, &avail);

		avail = MIN(avail, max - n);
		if (!ret)
			ret = gmem_read(g, gpa, dst + n, avail);
		if (ret)
			return ret;
		for (size_t i = 0; i < avail; i++, n++)
			if (!dst[n])
				return (int)n;
	}
	dst[max - 1] = '\0';
	return -ENAMETOOLONG;
}

void vmm_describe_gva(const struct vmm_guest *g, gva_t gva, char *buf, size_t len)
{
	uint64_t ram_end = MV_RAM_GVA + g->ram_size;
	struct gpt_walk w;
	bool ro = gpt_walk(g->gpt.root, gva, vmm_gpa_host, (void *)g, &w) == 0 && !w.writable;

	if (gva >= MV_RAM_GVA && gva < ram_end) {
		snprintf(buf, len, "in guest RAM, GPA 0x%llx", (unsigned long long)(gva - MV_RAM_GVA));
	} else if (gva >= ram_end && gva < MV_RAM_GVA + MV_RAM_MAX) {
		snprintf(buf, len, "beyond the end of guest RAM (%llu MiB, GVA 0x%llx-0x%llx)",
			 (unsigned long long)(g->ram_size >> 20), (unsigned long long)MV_RAM_GVA,
			 (unsigned long long)ram_end);
	} else if (gva >= g->img.lo && gva < g->img.hi) {
		snprintf(buf, len, "in the guest image%s", ro ? ", a read-only page" : "");
	} else if (gva >= MV_CPU_GVA && gva < MV_CPU_GVA + g->nr_vcpus * MV_CPU_SLOT_SIZE) {
		unsigned cpu = (gva - MV_CPU_GVA) / MV_CPU_SLOT_SIZE;

		if (gva < MV_STACK_BASE(cpu))
			snprintf(buf, len, "in the guard page below vCPU %u's stack: a stack overflow", cpu);
		else
			snprintf(buf, len, "in vCPU %u's stack", cpu);
	} else if (gva < MV_IMAGE_GVA_MIN) {
		snprintf(buf, len, "in the unmapped low 4 MiB: a null or small pointer");
	} else {
		snprintf(buf, len, "not an address the guest has%s", ro ? " to write" : "");
	}
}
