// SPDX-License-Identifier: MIT
/*
 * What the guest did to its RAM, as far as the host can tell: which pages it
 * wrote (KVM's dirty log, and the dirty bits of the guest PTEs memvisor
 * built), and whether it touched a page installed ahead of its use (the
 * accessed bit of that page's guest PTE).
 */
#include "guest.h"

#include "memvisor/abi.h"

#include <errno.h>
#include <sys/ioctl.h>

/* KVM's dirty log of RAM (slot 0), with manual protect: reading does not
 * clear; clearing write-protects the pages again. */
int vmm_dirty_get(void *guest, uint64_t *bitmap)
{
	struct vmm_guest *g = guest;
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };

	return ioctl(g->vm_fd, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;
}

/* The guest PTE that maps RAM page gpa (RAM is mapped once, at
 * MV_RAM_GVA + gpa), or NULL. */
static uint64_t *dirty_ram_pte(struct vmm_guest *g, gpa_t gpa)
{
	struct gpt_walk w;

	if (gpt_walk(g->gpt.root, MV_RAM_GVA + gpa, vmm_gpa_host, g, &w) || w.levels != 4)
		return NULL;
	return vmm_gpa_host(g, w.table[3] + ((MV_RAM_GVA + gpa) >> PAGE_SHIFT & 511) * 8, 8);
}

/* Clear the dirty bit of the guest PTE that maps gpa. Under shadow paging KVM maps a page writable, and
 * logs it dirty, on any access when that bit is set: a page the guest wrote
 * once would look written forever. The page is not mapped when this runs,
 * so KVM has no translation of it to go stale. */
static void dirty_clear_pte(struct vmm_guest *g, gpa_t gpa)
{
	uint64_t *pte = dirty_ram_pte(g, gpa);

	if (pte)
		__atomic_and_fetch(pte, ~GPT_D, __ATOMIC_RELAXED);
}

int vmm_dirty_clear(void *guest, gpa_t gpa, uint64_t npages)
{
	struct vmm_guest *g = guest;

	for (uint64_t i = 0; i < npages; i++)
		dirty_clear_pte(g, gpa + (i << PAGE_SHIFT));
	uint64_t first = gpa >> PAGE_SHIFT, base = ALIGN_DOWN(first, 64ULL);
	uint64_t total = g->ram_size >> PAGE_SHIFT, bitmap[4] = { 0 };
	struct kvm_clear_dirty_log c = { .slot = 0, .first_page = base, .dirty_bitmap = bitmap };

	/* the kernel wants 64-page aligned ranges: clear just our bits in one */
	if (first + npages > base + 256)
		return -EINVAL;
	for (uint64_t i = 0; i < npages; i++)
		bitmap[(first - base + i) / 64] |= 1ULL << ((first - base + i) % 64);
	c.num_pages = (uint32_t)MIN(ALIGN_UP(first - base + npages, 64ULL), total - base);
	return ioctl(g->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) ? -errno : 0;
}

/*
 * Clear the accessed bit of the guest PTEs of npages from gpa, which are not
 * mapped yet (being installed ahead of use): KVM has no translation of them,
 * so its shadow walk sets the bit again at the guest's first touch, read or
 * write (and never prefetches an entry whose bit is clear). The guest cannot
 * reach its page tables, so the bit is set by that walk or not at all. One
 * walk per leaf table: its entries for a run of RAM pages are neighbours.
 */
void vmm_young_clear(void *guest, gpa_t gpa, uint64_t npages)
{
	struct vmm_guest *g = guest;
	uint64_t *pte = NULL;

	for (uint64_t i = 0; i < npages; i++, gpa += PAGE_SIZE) {
		if (!pte || ((MV_RAM_GVA + gpa) >> PAGE_SHIFT & 511) == 0)
			pte = dirty_ram_pte(g, gpa);
		else
			pte++;
		if (pte)
			__atomic_and_fetch(pte, ~GPT_A, __ATOMIC_RELAXED);
	}
}

/* Did the guest touch page gpa since its accessed bit was cleared? Only a
 * hint for reclaim (a page it takes is checked for data all the same). */
bool vmm_young_test(void *guest, gpa_t gpa)
{
	uint64_t *pte = dirty_ram_pte(guest, gpa);

	return !pte || (__atomic_load_n(pte, __ATOMIC_RELAXED) & GPT_A);
}

/* Dirty logging for RAM, so reclaim can drop clean swap-cache pages without
 * a write. With KVM_DIRTY_LOG_INITIALLY_SET every page starts dirty and
 * nothing is write-protected until memvisor clears it: no cost until swap-in. */
int vmm_dirty_log_enable(struct vmm_guest *g)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET },
	};

	if (ioctl(g->kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) <= 0)
		return -ENOTSUP;
	return ioctl(g->vm_fd, KVM_ENABLE_CAP, &cap) ? -errno : 0;
}

