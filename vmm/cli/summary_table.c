// SPDX-License-Identifier: MIT
/* The summary's counters: one row each, in the order of the JSON. */
#include "summary_table.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* The offset of a uint64_t field: anything else does not compile. */
#define AT(source, type, field) \
	.src = (source), .off = _Generic(((type *)0)->field, uint64_t: offsetof(type, field))
#define MM(f)     AT(SRC_SNAP, struct summary_snap, mmc.f)
#define FAULT(f)  AT(SRC_FAULT, struct gmm_fault_stats, f)
#define POOL(f)   AT(SRC_POOL, struct gmm_pool_stats, f)
#define VM(f)     AT(SRC_VMSTAT, struct gmm_vmstat, f)
#define SWAPD(f)  AT(SRC_SWAPD, struct swapd, f)
#define SWSTAT(f) AT(SRC_SNAP, struct summary_snap, sws.f)
#define SNAP(f)   AT(SRC_SNAP, struct summary_snap, f)

const struct summary_counter summary_counters[] = {
	{ SECT_MM, "total_vm_bytes", LINE_NONE, NULL, KIND_BYTES,
	  "bytes of guest-physical space the guest's VMAs cover", MM(total_vm) },
	{ SECT_MM, "locked_vm_bytes", LINE_NONE, NULL, KIND_BYTES,
	  "of which locked (memvisor's own system region)", MM(locked_vm) },
	{ SECT_MM, "rss_pages", LINE_MEMORY, "rss", KIND_PAGES,
	  "frames installed in the guest at the end", MM(rss) },
	{ SECT_MM, "hiwater_rss_pages", LINE_MEMORY, "hiwater", KIND_PAGES,
	  "the most frames it had at once", MM(hiwater_rss) },
	{ SECT_MM, "swap_ents", LINE_MEMORY, "pages on swap", KIND_COUNT,
	  "guest pages whose data is on the swap device at the end", MM(swap_ents) },
	{ SECT_MM, "reported_pages", LINE_MEMORY, "pages given back", KIND_COUNT,
	  "pages the guest reported free (free-page reporting, mv_free_pages)", FAULT(reported) },
	{ SECT_MM, "returned_frames", LINE_MEMORY, "frames returned", KIND_COUNT,
	  "frames that came back to the pool for them (pages it had not touched since need none)",
	  FAULT(returned) },
	{ SECT_MM, "wss_pages", LINE_MEMORY, "working set (estimate: 75% of reuses within it)",
	  KIND_PAGES, "estimated working set: the memory an LRU needs for 75% of the guest's reuses "
	  "in the run to hit, from sampled reuse distances (docs/usage.md); 0: too few reuses",
	  FAULT(wss_pages) },
	{ SECT_MM, "wss_recent_pages", LINE_NONE, NULL, KIND_PAGES,
	  "the same over its last 256 sampled reuses only", FAULT(wss_recent_pages) },
	{ SECT_MM, "wss_reuses", LINE_NONE, NULL, KIND_COUNT,
	  "sampled reuses the estimate rests on (fewer than 16: no estimate)", FAULT(wss_reuses) },
	{ SECT_MM, "wss_stride", LINE_NONE, NULL, KIND_COUNT,
	  "RAM pages per working-set sample", FAULT(wss_stride) },
	{ SECT_MM, "wss_arms", LINE_NONE, NULL, KIND_COUNT,
	  "sampled pages the working-set sampler unmapped to watch (one UFFDIO_MOVE each)",
	  FAULT(wss_arms) },
	{ SECT_MM, "swapins", LINE_NONE, NULL, KIND_COUNT,
	  "its faults that read the page from swap (its share of vmstat.pgmajfault)", FAULT(swapins) },
	{ SECT_MM, "refaults", LINE_NONE, NULL, KIND_COUNT,
	  "its faults on pages reclaim had armed: minor, no I/O (its share of vmstat.activate)",
	  FAULT(refaults) },
	{ SECT_MM, "ept_table_bytes", LINE_TABLES, "GPA->frame table", KIND_BYTES,
	  "memvisor's own GPA->frame table (not KVM's EPT)", SNAP(ept_table_bytes) },
	{ SECT_MM, "guest_page_table_bytes", LINE_TABLES, "guest page tables", KIND_BYTES,
	  "the guest's page tables (GVA->GPA), built by memvisor", SNAP(gpt_bytes) },
	{ SECT_MM, "pgfault", LINE_FAULTS, "faults", KIND_COUNT,
	  "userfaultfd page faults the fault threads handled (Linux's pgfault)", FAULT(faults) },
	{ SECT_MM, "spurious", LINE_FAULTS, "spurious", KIND_COUNT,
	  "faults that found their page installed already (another vCPU's fault won)",
	  FAULT(spurious) },
	{ SECT_MM, "installed", LINE_FAULTS, "pages installed", KIND_COUNT,
	  "pages faults installed, fault-around included", FAULT(installed) },
	{ SECT_MM, "fault_around", LINE_FAULTS, "by fault-around", KIND_COUNT,
	  "of which neighbours of the faulting page", FAULT(around) },
	{ SECT_MM, "prefaulted", LINE_FAULTS, "prefaulted", KIND_COUNT,
	  "pages installed before the guest ran (--prefault all)", FAULT(prefaulted) },
	{ SECT_MM, "install_calls", LINE_FAULTS, "install ioctls", KIND_COUNT,
	  "UFFDIO_MOVE or UFFDIO_COPY ioctls", FAULT(install_calls) },
	{ SECT_MM, "zero_mapped", LINE_FAULTS, "read as zero pages", KIND_COUNT,
	  "pages a read of never-written memory mapped to the host's zero page: no frame (while "
	  "the pool is overcommitted)", FAULT(zero_mapped) },
	{ SECT_MM, "zero_cow", LINE_FAULTS, "then written", KIND_COUNT,
	  "writes to such a page: it got a frame then (a write-protect fault)", FAULT(zero_cow) },
	{ SECT_MM, "zero_raced", LINE_NONE, NULL, KIND_COUNT,
	  "pages another vCPU wrote between the zero page's mapping and its protection: the "
	  "kernel's copy became the guest's page on a frame", FAULT(zero_raced) },
	{ SECT_MM, "wss_faults", LINE_FAULTS, "by working-set sampling", KIND_COUNT,
	  "sampled pages the guest touched while armed: the sampling's cost in minor faults (not "
	  "in pgfault)", FAULT(wss_faults) },
	{ SECT_HANDLER, "find", LINE_HANDLER, "find", KIND_NS_PER_FAULT,
	  "fault-thread CPU time finding the VMA and EPT entry", FAULT(ns_lookup) },
	{ SECT_HANDLER, "frames", LINE_HANDLER, "frames", KIND_NS_PER_FAULT,
	  "taking frames from the pool", FAULT(ns_alloc) },
	{ SECT_HANDLER, "install", LINE_HANDLER, "install", KIND_NS_PER_FAULT,
	  "the install ioctls", FAULT(ns_install) },
	{ SECT_HANDLER, "total", LINE_HANDLER, "in all", KIND_NS_PER_FAULT,
	  "all of the handler; the wall time of a fault is larger (the round trip through "
	  "userspace)", FAULT(ns_handler) },
	{ SECT_LIMITS, "min", LINE_LIMITS, "min", KIND_LIMIT,
	  "pages protected from reclaim whatever the pressure (memcg's memory.min); 0: none",
	  SNAP(limits.min) },
	{ SECT_LIMITS, "low", LINE_LIMITS, "low", KIND_LIMIT,
	  "pages protected while others have reclaimable memory (memory.low); 0: none",
	  SNAP(limits.low) },
	{ SECT_LIMITS, "high", LINE_LIMITS, "high", KIND_LIMIT,
	  "above it the guest's faults reclaim its own pages first (memory.high); 0: none",
	  SNAP(limits.high) },
	{ SECT_LIMITS, "max", LINE_LIMITS, "max", KIND_LIMIT,
	  "the most pages it may have; at it, it reclaims its own or is OOM-killed "
	  "(memory.max); 0: none", SNAP(limits.max) },
	{ SECT_EVENTS, "low", LINE_EVENTS, "low", KIND_COUNT,
	  "times it was reclaimed below its low protection (memory.events low)",
	  SNAP(events.low) },
	{ SECT_EVENTS, "high", LINE_EVENTS, "high", KIND_COUNT,
	  "faults that found it over high and reclaimed its own (memory.events high)",
	  SNAP(events.high) },
	{ SECT_EVENTS, "max", LINE_EVENTS, "max", KIND_COUNT,
	  "faults that found it at max and reclaimed its own (memory.events max)",
	  SNAP(events.max) },
	{ SECT_EVENTS, "oom", LINE_EVENTS, "oom", KIND_COUNT,
	  "times it was at max with nothing of its own to reclaim (memory.events oom)",
	  SNAP(events.oom) },
	{ SECT_EVENTS, "oom_kill", LINE_EVENTS, "oom_kill", KIND_COUNT,
	  "times it was killed for want of memory (memory.events oom_kill)",
	  SNAP(events.oom_kill) },
	{ SECT_POOL, "bytes", LINE_POOL, "in all", KIND_BYTES,
	  "the frame pool's size", SNAP(pool_bytes) },
	{ SECT_POOL, "frames", LINE_POOL, "frames", KIND_COUNT,
	  "its frames", POOL(frames) },
	{ SECT_POOL, "descriptor_bytes", LINE_POOL, "bytes per frame descriptor", KIND_COUNT,
	  "the size of a frame descriptor", SNAP(descriptor_bytes) },
	{ SECT_POOL, "free", LINE_POOL, "free", KIND_COUNT,
	  "free frames at the end, before the guest's frames go back (every free frame, "
	  "pre-zeroed or not)", POOL(free) },
	{ SECT_POOL, "free_prezeroed", LINE_POOL, "of them pre-zeroed", KIND_COUNT,
	  "of which pre-zeroed", POOL(free_prezeroed) },
	{ SECT_POOL, "frames_lost", LINE_POOL, "lost", KIND_COUNT,
	  "frames that could not be emptied and were taken out of the pool", POOL(frames_lost) },
	{ SECT_POOL, "wmark_min", LINE_POOL, "min", KIND_COUNT,
	  "the min watermark, in frames", POOL(wmark_min) },
	{ SECT_POOL, "wmark_low", LINE_POOL, "low", KIND_COUNT,
	  "the low watermark: kswapd wakes below it, while the pool is overcommitted", POOL(wmark_low) },
	{ SECT_POOL, "wmark_high", LINE_POOL, "high (watermarks)", KIND_COUNT,
	  "the high watermark: kswapd sleeps above it", POOL(wmark_high) },
	{ SECT_POOL, "splits", LINE_NONE, NULL, KIND_COUNT,
	  "buddy blocks split", POOL(splits) },
	{ SECT_POOL, "merges", LINE_NONE, NULL, KIND_COUNT,
	  "buddy blocks merged", POOL(merges) },
	{ SECT_POOL, "populated_pages", LINE_PREZERO, "zero-filled on faults", KIND_COUNT,
	  "pages installed without a pre-zeroed frame: the kernel zero-filled them in the install",
	  POOL(populated_pages) },
	{ SECT_POOL, "prezeroed_pages", LINE_PREZERO, "pre-zeroed", KIND_COUNT,
	  "slot pages the pre-zeroing thread made ready", POOL(prezeroed_pages) },
	{ SECT_POOL, "allocs_prezeroed", LINE_PREZERO, "allocations got pre-zeroed frames",
	  KIND_COUNT, "allocations served with pre-zeroed frames", POOL(allocs_prezeroed) },
	{ SECT_POOL, "allocs_not_prezeroed", LINE_PREZERO, "did not", KIND_COUNT,
	  "allocations served otherwise", POOL(allocs_not_prezeroed) },
	{ SECT_VMSTAT, "pgmajfault", LINE_SWAP, "major faults", KIND_COUNT,
	  "faults that read from the swap file", VM(pgmajfault) },
	{ SECT_VMSTAT, "pgscan_kswapd", LINE_RECLAIM, "scanned by kswapd", KIND_COUNT,
	  "inactive frames kswapd looked at", VM(pgscan_kswapd) },
	{ SECT_VMSTAT, "pgscan_direct", LINE_RECLAIM, "scanned by direct reclaim", KIND_COUNT,
	  "inactive frames direct reclaim (in the fault path) looked at", VM(pgscan_direct) },
	{ SECT_VMSTAT, "pgsteal_kswapd", LINE_RECLAIM, "freed by kswapd", KIND_COUNT,
	  "frames kswapd freed", VM(pgsteal_kswapd) },
	{ SECT_VMSTAT, "pgsteal_direct", LINE_RECLAIM, "freed by direct reclaim", KIND_COUNT,
	  "frames direct reclaim freed", VM(pgsteal_direct) },
	{ SECT_VMSTAT, "pswpin", LINE_SWAP, "pages in", KIND_COUNT,
	  "pages read from swap", VM(pswpin) },
	{ SECT_VMSTAT, "pswpout", LINE_SWAP, "pages out", KIND_COUNT,
	  "pages written to swap", VM(pswpout) },
	{ SECT_VMSTAT, "swapcache_hit", LINE_SWAP, "swap-cache hits", KIND_COUNT,
	  "refaults that found their data in memory", VM(swapcache_hit) },
	{ SECT_VMSTAT, "readahead", LINE_SWAP, "read ahead", KIND_COUNT,
	  "pages read with a swap-in they were not faulted for (mapped at once)", VM(readahead) },
	{ SECT_VMSTAT, "readahead_by_address", LINE_SWAP, "of them by address", KIND_COUNT,
	  "of which found by guest address, after the faulting page; the rest by slot",
	  VM(readahead_addr) },
	{ SECT_VMSTAT, "readahead_used", LINE_SWAP, "read ahead and used", KIND_COUNT,
	  "pages read ahead that the guest had touched when reclaim first looked at them "
	  "(their guest PTE's accessed bit)", VM(readahead_used) },
	{ SECT_VMSTAT, "readahead_unused", LINE_SWAP, "never used", KIND_COUNT,
	  "pages read ahead that the guest had not touched when reclaim first looked at them: "
	  "evicted at once", VM(readahead_unused) },
	{ SECT_VMSTAT, "zero_elided", LINE_SWAP, "zero pages elided", KIND_COUNT,
	  "all-zero pages evicted without a slot or a write", VM(zero_elided) },
	{ SECT_VMSTAT, "clean_dropped", LINE_SWAP, "clean drops", KIND_COUNT,
	  "pages evicted without a write: swapped in and not written since, as KVM's dirty "
	  "log tells", VM(clean_dropped) },
	{ SECT_VMSTAT, "armed", LINE_RECLAIM, "armed", KIND_COUNT,
	  "pages unmapped to watch for a refault", VM(armed) },
	{ SECT_VMSTAT, "activate", LINE_RECLAIM, "refaulted", KIND_COUNT,
	  "armed pages the guest touched again: activated, no I/O", VM(activate) },
	{ SECT_VMSTAT, "deactivate", LINE_RECLAIM, "deactivated", KIND_COUNT,
	  "pages moved from the active to the inactive list", VM(deactivate) },
	{ SECT_VMSTAT, "workingset_refault", LINE_SWAP, "workingset refaults", KIND_COUNT,
	  "swap-ins of evicted pages", VM(workingset_refault) },
	{ SECT_VMSTAT, "workingset_activate", LINE_SWAP, "of them activated", KIND_COUNT,
	  "of which recent enough to go straight to the active list", VM(workingset_activate) },
	{ SECT_VMSTAT, "kswapd_wakeups", LINE_RECLAIM, "kswapd wake-ups", KIND_COUNT,
	  "times kswapd woke", VM(kswapd_wakeups) },
	{ SECT_VMSTAT, "direct_reclaims", LINE_RECLAIM, "direct reclaims", KIND_COUNT,
	  "times a fault reclaimed for itself (no frame was left)", VM(direct_reclaims) },
	{ SECT_VMSTAT, "swap_full", LINE_SWAP_ERRORS, "evictions given up (swap full)", KIND_COUNT,
	  "evictions given up for want of a free slot", VM(swap_full) },
	{ SECT_VMSTAT, "write_errors", LINE_SWAP_ERRORS, "write errors", KIND_COUNT,
	  "swap writes that failed: the page stays in memory, the slot is retired",
	  VM(write_errors) },
	{ SECT_VMSTAT, "read_errors", LINE_SWAP_ERRORS, "read errors", KIND_COUNT,
	  "demand swap-ins that failed", VM(read_errors) },
	{ SECT_VMSTAT, "readahead_errors", LINE_SWAP_ERRORS, "read-ahead errors (dropped)",
	  KIND_COUNT, "read-ahead reads that failed: dropped, the page stays on swap for a "
	  "demand read", VM(readahead_errors) },
	{ SECT_VMSTAT, "reclaim_cpu_ns", LINE_RECLAIM, "CPU per freed frame", KIND_NS_PER_FREED,
	  "reclaim threads' CPU time (I/O waits excluded)", VM(reclaim_ns) },
	{ SECT_VMSTAT, "reclaim_priority_min", LINE_RECLAIM, "highest priority (12 is the lowest)",
	  KIND_COUNT, "the highest reclaim priority needed: each step down from 12 scans twice "
	  "as much of the LRU per pass, as Linux's sc->priority", VM(reclaim_prio_min) },
	{ SECT_SWAP, "slots", LINE_SWAP_FILE, "slots", KIND_COUNT,
	  "4 KiB slots of the swap file", SWAPD(nr_slots) },
	{ SECT_SWAP, "slots_in_use", LINE_SWAP_FILE, "in use", KIND_COUNT,
	  "slots in use at the end, retired ones included", SNAP(sw_inuse) },
	{ SECT_SWAP, "slots_retired", LINE_SWAP_FILE, "retired", KIND_COUNT,
	  "slots retired after a write error", SWSTAT(retired) },
	{ SECT_SWAP, "pages_written", LINE_SWAP_FILE, "pages written", KIND_COUNT,
	  "pages the swap device wrote", SWSTAT(writes) },
	{ SECT_SWAP, "pages_read", LINE_SWAP_FILE, "pages read", KIND_COUNT,
	  "pages the swap device read", SWSTAT(reads) },
};

const size_t summary_nr_counters = ARRAY_SIZE(summary_counters);

const char *summary_sect_name(enum summary_sect sect)
{
	static const char *const names[NR_SECTS] = {
		[SECT_MM] = "mm", [SECT_HANDLER] = "mm.handler_ns", [SECT_LIMITS] = "mm.limits",
		[SECT_EVENTS] = "mm.events", [SECT_POOL] = "pool",
		[SECT_VMSTAT] = "vmstat", [SECT_SWAP] = "swap",
	};

	return names[sect];
}

/* The guest's own counters, under its mm lock (its fault threads write them). */
static void summary_snap_mm(struct gmm_mm *mm, struct summary_snap *s)
{
	pthread_mutex_lock(&mm->lock);
	s->fs = mm->fs;
	s->mmc.total_vm = mm->total_vm;
	s->mmc.locked_vm = mm->locked_vm;
	s->mmc.rss = mm->rss;
	s->mmc.hiwater_rss = mm->hiwater_rss;
	s->mmc.swap_ents = mm->swap_ents;
	s->ept_table_bytes = (uint64_t)mm->ept.nr_tables << PAGE_SHIFT;
	pthread_mutex_unlock(&mm->lock);
}

void summary_snap_take_pool(struct gmm_pool *p, struct summary_snap *s)
{
	struct swapd *sw;

	if (!p)
		return;
	s->pool = true;
	gmm_pool_stats_read(p, &s->ps);
	s->pool_bytes = s->ps.frames << PAGE_SHIFT;
	s->descriptor_bytes = sizeof(struct gmm_frame);
	if (!p->swap)
		return;
	sw = p->swap;
	s->sw = sw;
	gmm_vmstat_read(p, &s->vm);
	s->freed = s->vm.pgsteal_kswapd + s->vm.pgsteal_direct;
	pthread_mutex_lock(&sw->lock);
	s->sw_inuse = sw->inuse;
	s->sws = sw->stats;
	pthread_mutex_unlock(&sw->lock);
}

void summary_snap_take(const struct vmm_guest *g, struct summary_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->g = g;
	s->mm = g->mm;
	summary_snap_mm(g->mm, s);
	/* several guests: each gave its memory back when it ended; its rss
	 * and swap are what it held then */
	vmm_guest_mem_at_end(g, &s->mmc.rss, &s->mmc.swap_ents);
	s->gpt_bytes = g->gpt.used; /* the guest's page tables are built before it runs */
	s->limits = g->cfg.limits;
	/* other guests' faults may still reclaim from this one: atomic reads */
	s->events.low = __atomic_load_n(&g->mm->events.low, __ATOMIC_RELAXED);
	s->events.high = __atomic_load_n(&g->mm->events.high, __ATOMIC_RELAXED);
	s->events.max = __atomic_load_n(&g->mm->events.max, __ATOMIC_RELAXED);
	s->events.oom = __atomic_load_n(&g->mm->events.oom, __ATOMIC_RELAXED);
	s->events.oom_kill = __atomic_load_n(&g->mm->events.oom_kill, __ATOMIC_RELAXED);
	summary_snap_take_pool(g->mm->pool, s);
}

bool summary_sect_shown(const struct summary_snap *s, enum summary_sect sect)
{
	if (sect == SECT_POOL)
		return s->pool;
	if (sect == SECT_VMSTAT || sect == SECT_SWAP)
		return s->sw;
	return true;
}

uint64_t summary_value(const struct summary_counter *c, const struct summary_snap *s)
{
	const void *base[] = {
		[SRC_FAULT] = &s->fs, [SRC_POOL] = &s->ps, [SRC_VMSTAT] = &s->vm,
		[SRC_SWAPD] = s->sw, [SRC_SNAP] = s,
	};
	uint64_t v;

	if (!base[c->src])
		return 0;
	memcpy(&v, (const char *)base[c->src] + c->off, sizeof(v));
	return v;
}

/* Where the text summary shows a counter: "line: label". */
static const char *const summary_line_names[NR_LINES] = {
	[LINE_MEMORY] = "memory", [LINE_FAULTS] = "faults", [LINE_HANDLER] = "fault handler CPU per fault",
	[LINE_TABLES] = "page tables", [LINE_LIMITS] = "limits", [LINE_EVENTS] = "memory.events",
	[LINE_POOL] = "pool", [LINE_PREZERO] = "pre-zeroing",
	[LINE_RECLAIM] = "reclaim", [LINE_SWAP] = "swap", [LINE_SWAP_ERRORS] = "swap errors",
	[LINE_SWAP_FILE] = "swap file",
};

const char *summary_line_name(enum summary_line line)
{
	return summary_line_names[line];
}

/* memvisor counters (not in the usage text): the table of docs/usage.md,
 * which tests/test_cli.c checks against this. */
int cli_cmd_counters(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error("'counters' takes no arguments");
	printf("| JSON key | text summary | meaning |\n|---|---|---|\n");
	for (size_t i = 0; i < summary_nr_counters; i++) {
		const struct summary_counter *c = &summary_counters[i];

		printf("| `%s.%s` | ", summary_sect_name(c->sect), c->key);
		if (c->line == LINE_NONE)
			printf("(JSON only)");
		else
			printf("%s: %s", summary_line_name(c->line), c->label);
		printf(" | %s |\n", c->doc);
	}
	return 0;
}
