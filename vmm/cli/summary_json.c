// SPDX-License-Identifier: MIT
/* The end-of-run summary as JSON: the counters come from summary_table.c. */
#include "summary.h"
#include "json.h"
#include "summary_table.h"

#include "version.h"

static double ms(uint64_t ns) { return ns / 1e6; }

/* Every counter of one section, as "key": value. */
static void summary_json_rows(struct json *j, const struct summary_snap *s, enum summary_sect sect)
{
	for (size_t i = 0; i < summary_nr_counters; i++)
		if (summary_counters[i].sect == sect)
			json_u64(j, summary_counters[i].key, summary_value(&summary_counters[i], s));
}

static void summary_json_pool(const struct summary_snap *s, struct json *j)
{
	json_begin(j, "pool", '{');
	summary_json_rows(j, s, SECT_POOL);
	json_begin(j, "free_blocks_by_order", '[');
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		json_u64(j, NULL, s->ps.free_blocks[o]);
	json_end(j, ']');
	json_begin(j, "allocs_by_order", '[');
	for (unsigned o = 0; o < GMM_NR_ORDERS; o++)
		json_u64(j, NULL, s->ps.allocs[o]);
	json_end(j, ']');
	json_end(j, '}');
}

static void summary_json_swap(const struct summary_snap *s, struct json *j)
{
	json_begin(j, "vmstat", '{');
	summary_json_rows(j, s, SECT_VMSTAT);
	json_end(j, '}');
	json_begin(j, "swap", '{');
	json_str(j, "path", s->sw->path);
	json_bool(j, "direct_io", s->sw->direct);
	summary_json_rows(j, s, SECT_SWAP);
	json_end(j, '}');
}

void cli_summary_json_pool(struct gmm_pool *p, struct json *j)
{
	struct summary_snap s = { .g = NULL };

	summary_snap_take_pool(p, &s);
	if (s.pool)
		summary_json_pool(&s, j);
	if (s.sw)
		summary_json_swap(&s, j);
}

static void summary_json_section(struct json *j, const char *key, const struct summary_snap *s,
				 enum summary_sect sect)
{
	json_begin(j, key, '{');
	summary_json_rows(j, s, sect);
	json_end(j, '}');
}

void cli_summary_json_mm(const struct vmm_guest *g, struct json *j)
{
	const struct gmm_mm *mm = g->mm;
	struct summary_snap s;

	summary_snap_take(g, &s);
	json_begin(j, "mm", '{');
	json_str(j, "install", !mm->pool ? "host" : mm->pool->use_move ? "move" : "copy");
	summary_json_rows(j, &s, SECT_MM);
	summary_json_section(j, "handler_ns", &s, SECT_HANDLER);
	summary_json_section(j, "limits", &s, SECT_LIMITS);
	summary_json_section(j, "events", &s, SECT_EVENTS);
	json_end(j, '}');
}

/* A guest's own members of its summary object. */
static void summary_json_guest(const struct vmm_guest *g, struct json *j)
{
	struct vmm_stats s;
	uint64_t total = 0;

	vmm_guest_stats(g, &s);
	json_str(j, "guest", g->cfg.name);
	json_str(j, "path", g->cfg.path);
	json_u64(j, "ram_bytes", g->ram_size);
	json_u64(j, "vcpus", g->nr_vcpus);
	json_str(j, "kvm_backend", g->kvm->backend);
	json_str(j, "kernel", g->kvm->kernel);
	json_str(j, "end", vmm_end_name(g->end));
	json_i64(j, "exit_status", cli_run_exit_status(g));
	if (g->end == VMM_END_DONE)
		json_i64(j, "guest_exit_code", g->exit_code & 0xff);
	else
		json_str(j, "guest_exit_code", NULL);
	json_str(j, "reason", g->end == VMM_END_DONE ? NULL : g->reason);
	json_f64(j, "wall_ms", ms(g->t_end_ns - g->t_create_ns));
	json_f64(j, "setup_ms", ms(g->t_start_ns - g->t_create_ns));
	json_f64(j, "run_ms", ms(g->t_end_ns - g->t_start_ns));
	json_begin(j, "exits", '{');
	for (unsigned r = 0; r < VMM_NR_EXIT_REASONS; r++) {
		if (s.exits[r])
			json_u64(j, vmm_exit_name(r), s.exits[r]);
		total += s.exits[r];
	}
	json_end(j, '}');
	json_u64(j, "exits_total", total);
	json_begin(j, "hypercalls", '{');
	for (unsigned h = 0; h < VMM_NR_HCALLS; h++)
		if (vmm_hcall_name(h))
			json_u64(j, vmm_hcall_name(h), s.hcalls[h]);
	json_end(j, '}');
	json_u64(j, "console_bytes", s.console_bytes);
	cli_summary_json_mm(g, j);
	json_begin(j, "reports", '[');
	for (unsigned i = 0; i < g->nr_reports; i++) {
		json_begin(j, NULL, '{');
		json_u64(j, "vcpu", g->reports[i].vcpu);
		json_str(j, "key", g->reports[i].key);
		json_u64(j, "value", g->reports[i].value);
		json_end(j, '}');
	}
	json_end(j, ']');
}

void cli_summary_json(const struct vmm_guest *g, FILE *f)
{
	struct json j;

	json_init(&j, f);
	json_begin(&j, NULL, '{');
	json_str(&j, "memvisor_version", MEMVISOR_VERSION);
	summary_json_guest(g, &j);
	cli_summary_json_pool(g->mm->pool, &j);
	json_end(&j, '}');
}

void cli_summary_json_guests(const struct cli_summary_guest *gs, unsigned n, int status, FILE *f)
{
	const struct vmm_guest *any = NULL;
	struct json j;

	json_init(&j, f);
	json_begin(&j, NULL, '{');
	json_str(&j, "memvisor_version", MEMVISOR_VERSION);
	json_i64(&j, "exit_status", status);
	json_begin(&j, "guests", '[');
	for (unsigned i = 0; i < n; i++) {
		json_begin(&j, NULL, '{');
		if (gs[i].g) {
			summary_json_guest(gs[i].g, &j);
		} else {
			json_str(&j, "guest", gs[i].name);
			json_str(&j, "path", gs[i].path);
			json_str(&j, "end", "not started");
			json_i64(&j, "exit_status", gs[i].status);
			json_str(&j, "reason", gs[i].reason);
		}
		json_end(&j, '}');
		any = any ? any : gs[i].g;
	}
	json_end(&j, ']');
	if (any)
		cli_summary_json_pool(any->mm->pool, &j);
	json_end(&j, '}');
}
