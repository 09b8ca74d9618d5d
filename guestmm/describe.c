// SPDX-License-Identifier: MIT
/*
 * guestmm's EPT entries in words. Besides present entries and swap entries
 * the memory manager keeps software states in non-present entries (pending,
 * armed, writeback, all-zero); only guestmm knows what they mean, so only
 * guestmm describes them (for --walk, and for people debugging).
 */
#include "mm.h"

#include <stdio.h>

void gmm_ept_describe(uint64_t e, char *buf, size_t len)
{
	if (ept_present(e))
		snprintf(buf, len, "mapped: frame %llu, %s%s%s, %s%s", (unsigned long long)ept_pfn(e),
			 e & EPT_R ? "R" : "-", e & EPT_W ? "W" : "-", e & EPT_X ? "X" : "-",
			 e & EPT_A ? "accessed" : "not accessed", e & EPT_D ? ", dirty" : "");
	else if (ept_none(e))
		snprintf(buf, len, "empty: not faulted in yet (the next access gets a new zeroed page)");
	else if (e == GMM_EPT_PENDING)
		snprintf(buf, len, "pending: a fault thread is installing the page");
	else if (gmm_ept_armed(e))
		snprintf(buf, len, "armed: frame %llu, unmapped by aging to watch for a refault "
			 "(the next access is a minor fault)", (unsigned long long)ept_pfn(e));
	else if (gmm_ept_wb(e))
		snprintf(buf, len, "under I/O: frame %llu, being written to or read from swap",
			 (unsigned long long)ept_pfn(e));
	else if (gmm_ept_zmap(e))
		snprintf(buf, len, "zero page: read, never written (the host's zero page, "
			 "write-protected: the first write gets a frame)");
	else if (gmm_ept_zero(e))
		snprintf(buf, len, "evicted all-zero page: no slot, nothing written (the next "
			 "access gets a new zeroed page)");
	else if (gmm_ept_slot(e))
		snprintf(buf, len, "swapped out to slot %llu", (unsigned long long)ept_swp_offset(e));
	else
		snprintf(buf, len, "unknown entry");
}
