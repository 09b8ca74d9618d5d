// SPDX-License-Identifier: MIT
#include "summary.h"
#include "parse.h"
#include "summary_table.h"

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

/* The text lines the table's counters go on, in order. */
enum summary_need { NEED_ALWAYS, NEED_POOL, NEED_SWAP };

static void summary_lead_memory(const struct summary_snap *s, FILE *f)
{
	fprintf(f, "install by %s", s->mm->pool->use_move ? "move" : "copy");
}

static void summary_lead_swap_file(const struct summary_snap *s, FILE *f)
{
	fprintf(f, "%s%s, %s I/O", s->sw->path,
		s->sw->unlinked ? " (never in its directory: it dies with memvisor)" : "",
		s->sw->direct ? "O_DIRECT" : "buffered");
}

static const struct {
	enum summary_need need;
	void (*lead)(const struct summary_snap *s, FILE *f); /* words before the counters */
} summary_lines[NR_LINES] = {
	[LINE_MEMORY] = { NEED_POOL, summary_lead_memory },
	[LINE_FAULTS] = { NEED_POOL, NULL },
	[LINE_HANDLER] = { NEED_POOL, NULL },
	[LINE_TABLES] = { NEED_ALWAYS, NULL },
	[LINE_LIMITS] = { NEED_POOL, NULL },
	[LINE_EVENTS] = { NEED_POOL, NULL },
	[LINE_POOL] = { NEED_POOL, NULL },
	[LINE_PREZERO] = { NEED_POOL, NULL },
	[LINE_RECLAIM] = { NEED_SWAP, NULL },
	[LINE_SWAP] = { NEED_SWAP, NULL },
	[LINE_SWAP_ERRORS] = { NEED_SWAP, NULL },
	[LINE_SWAP_FILE] = { NEED_SWAP, summary_lead_swap_file },
};

static double summary_per(uint64_t ns, uint64_t n) { return n ? ns / 1e3 / n : 0; }

static void summary_value_text(const struct summary_counter *c, const struct summary_snap *s,
			       FILE *f)
{
	uint64_t v = summary_value(c, s);
	char size[32];

	switch (c->kind) {
	case KIND_COUNT:
		fprintf(f, "%llu", (unsigned long long)v);
		break;
	case KIND_LIMIT:
		if (!v) {
			fputs("none", f);
			break;
		}
		/* fall through */
	case KIND_PAGES:
	case KIND_BYTES:
		cli_format_size(c->kind == KIND_BYTES ? v : v << PAGE_SHIFT, size, sizeof(size));
		fputs(size, f);
		break;
	case KIND_NS_PER_FAULT:
		fprintf(f, "%.1f us", summary_per(v, s->fs.faults));
		break;
	case KIND_NS_PER_FREED:
		fprintf(f, "%.2f us", summary_per(v, s->freed));
		break;
	}
	fprintf(f, " %s", c->label);
}

/* "  title: lead, value label, value label..." */
static void summary_line(enum summary_line line, const struct summary_snap *s, FILE *f)
{
	bool first = true;

	fprintf(f, "  %s: ", summary_line_name(line));
	if (summary_lines[line].lead) {
		summary_lines[line].lead(s, f);
		first = false;
	}
	for (size_t i = 0; i < summary_nr_counters; i++) {
		if (summary_counters[i].line != line)
			continue;
		fputs(first ? "" : ", ", f);
		summary_value_text(&summary_counters[i], s, f);
		first = false;
	}
	fputc('\n', f);
}

/* The text lines from first to before end. */
static void summary_counter_lines(const struct vmm_guest *g, enum summary_line first,
				  enum summary_line end, FILE *f)
{
	struct summary_snap s;

	summary_snap_take(g, &s);
	if (!s.pool && first == LINE_NONE + 1)
		fprintf(f, "  memory: host-managed RAM (--host-mm)%s\n",
			g->cfg.populate ? ", populated before the run" : "");
	for (enum summary_line l = first; l < end; l++) {
		enum summary_need need = summary_lines[l].need;

		if ((need == NEED_POOL && !s.pool) || (need == NEED_SWAP && !s.sw))
			continue;
		summary_line(l, &s, f);
	}
}

/* The first line, the times, exits and hypercalls. */
static void summary_head(const struct vmm_guest *g, FILE *f)
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
	fprintf(f, "  time: set-up %.2f ms, run %.2f ms; on KVM: %s, host kernel %s\n",
		ms(g->t_start_ns - g->t_create_ns), ms(g->t_end_ns - g->t_start_ns), g->kvm->backend,
		g->kvm->kernel);
	summary_exits(&s, f);
}

void cli_summary_print(const struct vmm_guest *g, FILE *f)
{
	summary_head(g, f);
	summary_counter_lines(g, LINE_NONE + 1, NR_LINES, f);
	summary_reports(g, f);
}

void cli_summary_print_guest(const struct vmm_guest *g, FILE *f)
{
	summary_head(g, f);
	summary_counter_lines(g, LINE_NONE + 1, LINE_POOL, f);
	if (__atomic_load_n(&g->released, __ATOMIC_ACQUIRE))
		fprintf(f, "  given back when it ended: its rss and pages on swap above (frames to "
			"the pool, slots to the swap file)\n");
	summary_reports(g, f);
}

void cli_summary_print_pool(const struct vmm_guest *g, unsigned nr_guests, FILE *f)
{
	fprintf(f, "memvisor: the pool, shared by %u guests\n", nr_guests);
	summary_counter_lines(g, LINE_POOL, NR_LINES, f);
}

