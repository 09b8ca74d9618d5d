// SPDX-License-Identifier: MIT
#include "summary.h"
#include "json.h"
#include "parse.h"

#include "version.h"

#include <string.h>

static double ms(uint64_t ns) { return ns / 1e6; }

bool cli_exit_code_reserved(const struct vmm_guest *g)
{
	return g->end == VMM_END_DONE && (g->exit_code & 0xff) > CLI_EXIT_GUEST_MAX;
}

int cli_run_exit_status(const struct vmm_guest *g)
{
	return cli_exit_code_reserved(g) ? CLI_EXIT_GUEST_RANGE : vmm_guest_exit_status(g);
}

static void summary_exits(const struct vmm_stats *s, FILE *f)
{
	uint64_t total = 0;

	fputs("  exits:", f);
	for (unsigned r = 0; r < VMM_NR_EXIT_REASONS; r++) {
		if (!s->exits[r])
			continue;
		fprintf(f, "%s %s %llu", total ? "," : "", vmm_exit_name(r),
			(unsigned long long)s->exits[r]);
		total += s->exits[r];
	}
	fprintf(f, "%s(%llu in all)\n", total ? " " : " none ", (unsigned long long)total);
	fputs("  hypercalls:", f);
	bool any = false;
	for (unsigned h = 0; h < VMM_NR_HCALLS; h++) {
		if (!s->hcalls[h])
			continue;
		fprintf(f, "%s %s %llu", any ? "," : "", vmm_hcall_name(h),
			(unsigned long long)s->hcalls[h]);
		any = true;
	}
	fputs(any ? "\n" : " none\n", f);
}

/* One line per key: the value, or with several vCPUs the sum and each part. */
static void summary_reports(const struct vmm_guest *g, FILE *f)
{
	for (unsigned i = 0; i < g->nr_reports; i++) {
		const char *key = g->reports[i].key;
		uint64_t sum = 0;
		unsigned n = 0;
		bool seen = false;

		for (unsigned k = 0; k < i && !seen; k++)
			seen = !strcmp(g->reports[k].key, key);
		if (seen)
			continue;
		for (unsigned k = i; k < g->nr_reports; k++)
			if (!strcmp(g->reports[k].key, key)) {
				sum += g->reports[k].value;
				n++;
			}
		if (n == 1) {
			fprintf(f, "  report: %s = %llu (vCPU %u)\n", key, (unsigned long long)sum,
				g->reports[i].vcpu);
			continue;
		}
		fprintf(f, "  report: %s = %llu in all (", key, (unsigned long long)sum);
		for (unsigned k = i, shown = 0; k < g->nr_reports; k++) {
			if (strcmp(g->reports[k].key, key))
				continue;
			fprintf(f, "%svCPU %u: %llu", shown++ ? ", " : "", g->reports[k].vcpu,
				(unsigned long long)g->reports[k].value);
		}
		fputs(")\n", f);
	}
}

static double per(uint64_t ns, uint64_t n) { return n ? ns / 1e3 / n : 0; }

static const char *summary_install(const struct gmm_mm *mm)
{
	return !mm->pool ? "host" : mm->pool->use_move ? "move" : "copy";
}

static void summary_mm(const struct vmm_guest *g, FILE *f)
{
	const struct gmm_mm *mm = g->mm;
	const struct gmm_fault_stats *fs = &mm->fs;
	struct gmm_pool *p = mm->pool;
	struct gmm_pool_stats ps;
	char rss[32], hi[32], pool[32];

	if (!p) {
		fprintf(f, "  memory: host-managed RAM (--host-mm)%s; page tables %llu KiB\n",
			g->cfg.populate ? ", populated before the run" : "",
			(unsigned long long)(g->gpt.used >> 10));
		return;
	}
	gmm_pool_stats_read(p, &ps);
	cli_format_size(mm->rss << PAGE_SHIFT, rss, sizeof(rss));
	cli_format_size(mm->hiwater_rss << PAGE_SHIFT, hi, sizeof(hi));
	cli_format_size(p->nr_frames << PAGE_SHIFT, pool, sizeof(pool));
	fprintf(f, "  memory: rss %s (hiwater %s), %llu faults installed %llu pages "
		"(%.1f per fault, %llu by fault-around), %llu prefaulted, install by %s\n",
		rss, hi, (unsigned long long)fs->faults, (unsigned long long)fs->installed,
		fs->faults ? (double)fs->installed / fs->faults : 0.0,
		(unsigned long long)fs->around, (unsigned long long)fs->prefaulted,
		summary_install(mm));
	fprintf(f, "  fault handler: %.1f us per fault (find %.1f, frames %.1f, populate %.1f, "
		"install %.1f), %llu ioctls, %llu spurious\n",
		per(fs->ns_handler, fs->faults), per(fs->ns_lookup, fs->faults),
		per(fs->ns_alloc, fs->faults), per(fs->ns_populate, fs->faults),
		per(fs->ns_install, fs->faults), (unsigned long long)fs->install_calls,
		(unsigned long long)fs->spurious);
	fprintf(f, "  page tables: EPT %zu KiB, guest %llu KiB; pool %s = %llu frames of %zu-byte "
		"descriptors, %llu free (watermarks min %llu, low %llu, high %llu)\n",
		mm->ept.nr_tables * 4, (unsigned long long)(g->gpt.used >> 10), pool,
		(unsigned long long)ps.frames, sizeof(struct gmm_frame),
		(unsigned long long)ps.free, (unsigned long long)ps.wmark_min,
		(unsigned long long)ps.wmark_low, (unsigned long long)ps.wmark_high);
	if (ps.frames_lost)
		fprintf(f, "  frames lost: %llu (could not be emptied, taken out of the pool)\n",
			(unsigned long long)ps.frames_lost);
}

static void summary_swap(struct gmm_pool *p, FILE *f)
{
	struct gmm_vmstat vm, *v = &vm;
	const struct swapd *sw = p->swap;
	uint64_t steal;

	gmm_vmstat_read(p, &vm);
	steal = v->pgsteal_kswapd + v->pgsteal_direct;
	fprintf(f, "  reclaim: scanned %llu (kswapd %llu, direct %llu), freed %llu (kswapd %llu, direct %llu), "
		"%.2f us CPU per freed frame; armed %llu, refaulted %llu, deactivated %llu\n",
		(unsigned long long)(v->pgscan_kswapd + v->pgscan_direct),
		(unsigned long long)v->pgscan_kswapd, (unsigned long long)v->pgscan_direct,
		(unsigned long long)steal, (unsigned long long)v->pgsteal_kswapd,
		(unsigned long long)v->pgsteal_direct, steal ? v->reclaim_ns / 1e3 / steal : 0.0,
		(unsigned long long)v->armed, (unsigned long long)v->activate,
		(unsigned long long)v->deactivate);
	fprintf(f, "  swap: out %llu, in %llu (%llu major faults, %llu read ahead, %llu swap-cache hits), "
		"zero pages elided %llu, clean drops %llu, workingset refaults %llu (%llu activated)\n",
		(unsigned long long)v->pswpout, (unsigned long long)v->pswpin,
		(unsigned long long)v->pgmajfault, (unsigned long long)v->readahead,
		(unsigned long long)v->swapcache_hit, (unsigned long long)v->zero_elided,
		(unsigned long long)v->clean_dropped, (unsigned long long)v->workingset_refault,
		(unsigned long long)v->workingset_activate);
	fprintf(f, "  swap file: %s%s, %llu slots, %s I/O; kswapd woke %llu times, direct reclaim %llu times, "
		"highest priority %llu (12 lowest), %llu full, %llu write errors, %llu read errors "
		"(%llu more in read-ahead, dropped)\n", sw->path,
		sw->unlinked ? " (unlinked since it opened: it dies with memvisor)" : "",
		(unsigned long long)sw->nr_slots, sw->direct ? "O_DIRECT" : "buffered",
		(unsigned long long)v->kswapd_wakeups, (unsigned long long)v->direct_reclaims,
		(unsigned long long)v->reclaim_prio_min,
		(unsigned long long)v->swap_full, (unsigned long long)v->write_errors,
		(unsigned long long)v->read_errors, (unsigned long long)v->readahead_errors);
}

void cli_summary_print(const struct vmm_guest *g, FILE *f)
{
	struct vmm_stats s;
	char ram[32];

	vmm_guest_stats(g, &s);
	cli_format_size(g->ram_size, ram, sizeof(ram));
	fprintf(f, "memvisor: %s: %s, exit status %d", g->cfg.name, vmm_end_name(g->end),
		cli_run_exit_status(g));
	if (cli_exit_code_reserved(g))
		fprintf(f, " (guest exit code %d)", g->exit_code & 0xff);
	fprintf(f, ", after %.2f ms (%u vCPU%s, %s RAM)\n", ms(g->t_end_ns - g->t_create_ns),
		g->nr_vcpus, g->nr_vcpus == 1 ? "" : "s", ram);
	fprintf(f, "  time: set-up %.2f ms, run %.2f ms\n", ms(g->t_start_ns - g->t_create_ns),
		ms(g->t_end_ns - g->t_start_ns));
	summary_exits(&s, f);
	summary_mm(g, f);
	if (g->mm->pool && g->mm->pool->swap)
		summary_swap(g->mm->pool, f);
	summary_reports(g, f);
}

static void summary_json_pool(struct gmm_pool *p, struct json *j)
{
	struct gmm_pool_stats ps;

	gmm_pool_stats_read(p, &ps);
	json_begin(j, "pool", '{');
	json_u64(j, "bytes", ps.frames << PAGE_SHIFT);
	json_u64(j, "frames", ps.frames);
	json_u64(j, "descriptor_bytes", sizeof(struct gmm_frame));
	json_u64(j, "free", ps.free);
	json_u64(j, "free_prezeroed", ps.free_prezeroed);
	json_u64(j, "frames_lost", ps.frames_lost);
	json_u64(j, "wmark_min", ps.wmark_min);
	json_u64(j, "wmark_low", ps.wmark_low);
	json_u64(j, "wmark_high", ps.wmark_high);
	json_begin(j, "free_blocks_by_order", '[');
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		json_u64(j, NULL, ps.free_blocks[o]);
	json_end(j, ']');
	json_begin(j, "allocs_by_order", '[');
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		json_u64(j, NULL, ps.allocs[o]);
	json_end(j, ']');
	json_u64(j, "splits", ps.splits);
	json_u64(j, "merges", ps.merges);
	json_u64(j, "populated_pages", ps.populated_pages);
	json_u64(j, "prezeroed_pages", ps.prezeroed_pages);
	json_u64(j, "allocs_prezeroed", ps.allocs_prezeroed);
	json_u64(j, "allocs_not_prezeroed", ps.allocs_not_prezeroed);
	json_end(j, '}');
}

static void summary_json_vmstat(struct gmm_pool *p, struct json *j)
{
	struct gmm_vmstat vm, *v = &vm;
	const struct swapd *sw = p->swap;

	gmm_vmstat_read(p, &vm);

	json_begin(j, "vmstat", '{');
	json_u64(j, "pgmajfault", v->pgmajfault);
	json_u64(j, "pgscan_kswapd", v->pgscan_kswapd);
	json_u64(j, "pgscan_direct", v->pgscan_direct);
	json_u64(j, "pgsteal_kswapd", v->pgsteal_kswapd);
	json_u64(j, "pgsteal_direct", v->pgsteal_direct);
	json_u64(j, "pswpin", v->pswpin);
	json_u64(j, "pswpout", v->pswpout);
	json_u64(j, "swapcache_hit", v->swapcache_hit);
	json_u64(j, "readahead", v->readahead);
	json_u64(j, "zero_elided", v->zero_elided);
	json_u64(j, "clean_dropped", v->clean_dropped);
	json_u64(j, "armed", v->armed);
	json_u64(j, "activate", v->activate);
	json_u64(j, "deactivate", v->deactivate);
	json_u64(j, "workingset_refault", v->workingset_refault);
	json_u64(j, "workingset_activate", v->workingset_activate);
	json_u64(j, "kswapd_wakeups", v->kswapd_wakeups);
	json_u64(j, "direct_reclaims", v->direct_reclaims);
	json_u64(j, "swap_full", v->swap_full);
	json_u64(j, "write_errors", v->write_errors);
	json_u64(j, "read_errors", v->read_errors);
	json_u64(j, "readahead_errors", v->readahead_errors);
	json_u64(j, "reclaim_cpu_ns", v->reclaim_ns);
	json_u64(j, "reclaim_priority_min", v->reclaim_prio_min);
	json_end(j, '}');
	json_begin(j, "swap", '{');
	json_str(j, "path", sw->path);
	json_u64(j, "slots", sw->nr_slots);
	json_bool(j, "direct_io", sw->direct);
	json_u64(j, "slots_in_use", sw->inuse);
	json_u64(j, "slots_retired", sw->stats.retired);
	json_u64(j, "pages_written", sw->stats.writes);
	json_u64(j, "pages_read", sw->stats.reads);
	json_end(j, '}');
}

static void summary_json_mm(const struct vmm_guest *g, struct json *j)
{
	const struct gmm_mm *mm = g->mm;
	const struct gmm_fault_stats *fs = &mm->fs;

	json_begin(j, "mm", '{');
	json_str(j, "install", summary_install(mm));
	json_u64(j, "total_vm_bytes", mm->total_vm);
	json_u64(j, "locked_vm_bytes", mm->locked_vm);
	json_u64(j, "rss_pages", mm->rss);
	json_u64(j, "hiwater_rss_pages", mm->hiwater_rss);
	json_u64(j, "swap_ents", mm->swap_ents);
	json_u64(j, "ept_table_bytes", (uint64_t)mm->ept.nr_tables << PAGE_SHIFT);
	json_u64(j, "guest_page_table_bytes", g->gpt.used);
	json_u64(j, "pgfault", fs->faults);
	json_u64(j, "spurious", fs->spurious);
	json_u64(j, "installed", fs->installed);
	json_u64(j, "fault_around", fs->around);
	json_u64(j, "prefaulted", fs->prefaulted);
	json_u64(j, "install_calls", fs->install_calls);
	json_begin(j, "handler_ns", '{');
	json_u64(j, "find", fs->ns_lookup);
	json_u64(j, "frames", fs->ns_alloc);
	json_u64(j, "populate", fs->ns_populate);
	json_u64(j, "install", fs->ns_install);
	json_u64(j, "total", fs->ns_handler);
	json_end(j, '}');
	json_end(j, '}');
	if (mm->pool)
		summary_json_pool(mm->pool, j);
	if (mm->pool && mm->pool->swap)
		summary_json_vmstat(mm->pool, j);
}

void cli_summary_json(const struct vmm_guest *g, FILE *f)
{
	struct vmm_stats s;
	struct json j;
	uint64_t total = 0;

	vmm_guest_stats(g, &s);
	json_init(&j, f);
	json_begin(&j, NULL, '{');
	json_str(&j, "memvisor_version", MEMVISOR_VERSION);
	json_str(&j, "guest", g->cfg.name);
	json_str(&j, "path", g->cfg.path);
	json_u64(&j, "ram_bytes", g->ram_size);
	json_u64(&j, "vcpus", g->nr_vcpus);
	json_str(&j, "end", vmm_end_name(g->end));
	json_i64(&j, "exit_status", cli_run_exit_status(g));
	if (g->end == VMM_END_DONE)
		json_i64(&j, "guest_exit_code", g->exit_code & 0xff);
	else
		json_str(&j, "guest_exit_code", NULL);
	json_str(&j, "reason", g->end == VMM_END_DONE ? NULL : g->reason);
	json_f64(&j, "wall_ms", ms(g->t_end_ns - g->t_create_ns));
	json_f64(&j, "setup_ms", ms(g->t_start_ns - g->t_create_ns));
	json_f64(&j, "run_ms", ms(g->t_end_ns - g->t_start_ns));
	json_begin(&j, "exits", '{');
	for (unsigned r = 0; r < VMM_NR_EXIT_REASONS; r++) {
		if (s.exits[r])
			json_u64(&j, vmm_exit_name(r), s.exits[r]);
		total += s.exits[r];
	}
	json_end(&j, '}');
	json_u64(&j, "exits_total", total);
	json_begin(&j, "hypercalls", '{');
	for (unsigned h = 0; h < VMM_NR_HCALLS; h++)
		if (vmm_hcall_name(h))
			json_u64(&j, vmm_hcall_name(h), s.hcalls[h]);
	json_end(&j, '}');
	json_u64(&j, "console_bytes", s.console_bytes);
	summary_json_mm(g, &j);
	json_begin(&j, "reports", '[');
	for (unsigned i = 0; i < g->nr_reports; i++) {
		json_begin(&j, NULL, '{');
		json_u64(&j, "vcpu", g->reports[i].vcpu);
		json_str(&j, "key", g->reports[i].key);
		json_u64(&j, "value", g->reports[i].value);
		json_end(&j, '}');
	}
	json_end(&j, ']');
	json_end(&j, '}');
}
