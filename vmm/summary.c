// SPDX-License-Identifier: MIT
#include "summary.h"
#include "json.h"
#include "parse.h"

#include "version.h"

#include <string.h>

static double ms(uint64_t ns) { return ns / 1e6; }

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

void vmm_summary_print(const struct vmm_guest *g, FILE *f)
{
	struct vmm_stats s;
	char ram[32];

	vmm_guest_stats(g, &s);
	vmm_format_size(g->ram_size, ram, sizeof(ram));
	fprintf(f, "memvisor: %s: %s, exit status %d, after %.2f ms (%u vCPU%s, %s RAM)\n",
		g->cfg.name, vmm_end_name(g->end), vmm_guest_exit_status(g),
		ms(g->t_end_ns - g->t_create_ns), g->nr_vcpus, g->nr_vcpus == 1 ? "" : "s", ram);
	fprintf(f, "  time: set-up %.2f ms, run %.2f ms\n", ms(g->t_start_ns - g->t_create_ns),
		ms(g->t_end_ns - g->t_start_ns));
	summary_exits(&s, f);
	summary_reports(g, f);
}

void vmm_summary_json(const struct vmm_guest *g, FILE *f)
{
	struct vmm_stats s;
	struct vmm_json j;
	uint64_t total = 0;

	vmm_guest_stats(g, &s);
	vmm_json_init(&j, f);
	vmm_json_begin(&j, NULL, '{');
	vmm_json_str(&j, "memvisor_version", MEMVISOR_VERSION);
	vmm_json_str(&j, "guest", g->cfg.name);
	vmm_json_str(&j, "path", g->cfg.path);
	vmm_json_u64(&j, "ram_bytes", g->ram_size);
	vmm_json_u64(&j, "vcpus", g->nr_vcpus);
	vmm_json_str(&j, "end", vmm_end_name(g->end));
	vmm_json_i64(&j, "exit_status", vmm_guest_exit_status(g));
	if (g->end == VMM_END_DONE)
		vmm_json_i64(&j, "guest_exit_code", g->exit_code);
	else
		vmm_json_str(&j, "guest_exit_code", NULL);
	vmm_json_str(&j, "reason", g->end == VMM_END_DONE ? NULL : g->reason);
	vmm_json_f64(&j, "wall_ms", ms(g->t_end_ns - g->t_create_ns));
	vmm_json_f64(&j, "setup_ms", ms(g->t_start_ns - g->t_create_ns));
	vmm_json_f64(&j, "run_ms", ms(g->t_end_ns - g->t_start_ns));
	vmm_json_begin(&j, "exits", '{');
	for (unsigned r = 0; r < VMM_NR_EXIT_REASONS; r++) {
		if (s.exits[r])
			vmm_json_u64(&j, vmm_exit_name(r), s.exits[r]);
		total += s.exits[r];
	}
	vmm_json_end(&j, '}');
	vmm_json_u64(&j, "exits_total", total);
	vmm_json_begin(&j, "hypercalls", '{');
	for (unsigned h = 0; h < VMM_NR_HCALLS; h++)
		if (vmm_hcall_name(h))
			vmm_json_u64(&j, vmm_hcall_name(h), s.hcalls[h]);
	vmm_json_end(&j, '}');
	vmm_json_u64(&j, "console_bytes", s.console_bytes);
	vmm_json_begin(&j, "reports", '[');
	for (unsigned i = 0; i < g->nr_reports; i++) {
		vmm_json_begin(&j, NULL, '{');
		vmm_json_u64(&j, "vcpu", g->reports[i].vcpu);
		vmm_json_str(&j, "key", g->reports[i].key);
		vmm_json_u64(&j, "value", g->reports[i].value);
		vmm_json_end(&j, '}');
	}
	vmm_json_end(&j, ']');
	vmm_json_end(&j, '}');
}
