// SPDX-License-Identifier: MIT
/*
 * The two-level walk of one guest-virtual address: through the guest's own
 * page tables to a GPA, then through the VMAs and the EPT table to a frame
 * and the host address behind it. For people debugging a guest or memvisor.
 */
#include "guest.h"

#include "memvisor/abi.h"

#include <errno.h>

static const char *const walk_level[] = { "PML4", "PDPT", "PD", "PT" };

static void walk_flags(uint64_t e, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", e & GPT_P ? "P" : "-", e & GPT_W ? "W" : "-",
		 e & GPT_U ? "U" : "-", e & GPT_A ? "A" : "-", e & GPT_D ? "D" : "-");
}

static void walk_ept(struct vmm_guest *g, gpa_t gpa, const struct gmm_vma *vma, FILE *f)
{
	uint64_t e = gmm_mm_ept_entry(g->mm, gpa);
	char what[160];

	if (vma->kind != GMM_VMA_RAM) {
		fprintf(f, "  no EPT entry: %s memory is memvisor's own, host address 0x%llx\n",
			vma->kind == GMM_VMA_ROM ? "ROM" : "system",
			(unsigned long long)(vma->hva + (gpa - vma->start)));
		return;
	}
	if (!g->mm->pool) {
		fprintf(f, "  no EPT entry: host-managed RAM (--host-mm), host address 0x%llx\n",
			(unsigned long long)(vma->hva + (gpa - vma->start)));
		return;
	}
	gmm_ept_describe(e, what, sizeof(what));
	fprintf(f, "  EPT entry 0x%016llx: %s", (unsigned long long)e, what);
	if (ept_present(e))
		fprintf(f, " -> host 0x%llx", (unsigned long long)(vma->hva + (gpa - vma->start)));
	fputc('\n', f);
}

void vmm_walk_gva(struct vmm_guest *g, gva_t gva, FILE *f)
{
	struct gpt_walk w;
	struct gmm_vma vma;
	char flags[8];
	int ret = gpt_walk(g->gpt.root, gva, vmm_gpa_host, g, &w);

	fprintf(f, "walk of GVA 0x%llx (CR3 0x%llx)\n", (unsigned long long)gva,
		(unsigned long long)g->gpt.root);
	for (int i = 0; i < w.levels; i++) {
		walk_flags(w.entry[i], flags, sizeof(flags));
		fprintf(f, "  %-4s[%3llu] in table at GPA 0x%llx: 0x%016llx %s\n", walk_level[i],
			(unsigned long long)((gva >> (39 - 9 * i)) & 511),
			(unsigned long long)w.table[i], (unsigned long long)w.entry[i], flags);
	}
	if (ret) {
		fprintf(f, "  not mapped: %s\n", ret == -EINVAL ? "non-canonical address" :
			"no entry at this level (a guest access would fault)");
		return;
	}
	fprintf(f, "  -> GPA 0x%llx (%llu KiB page%s)\n", (unsigned long long)w.gpa,
		(unsigned long long)(w.page_size >> 10), w.writable ? ", writable" : ", read-only");
	if (!gmm_mm_vma_at(g->mm, w.gpa, &vma)) {
		fprintf(f, "  GPA 0x%llx is in no VMA\n", (unsigned long long)w.gpa);
		return;
	}
	fprintf(f, "  VMA %s [0x%llx, 0x%llx)%s%s\n", vma.name, (unsigned long long)vma.start,
		(unsigned long long)vma.end, vma.flags & GMM_VM_LOCKED ? " locked" : "",
		vma.flags & GMM_VM_IO ? " io" : "");
	if (vma.kind == GMM_VMA_MMIO)
		fprintf(f, "  an MMIO hole: no memory behind it\n");
	else
		walk_ept(g, w.gpa, &vma, f);
}
