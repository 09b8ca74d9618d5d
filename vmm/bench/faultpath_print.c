// SPDX-License-Identifier: MIT
/*
 * bench faultpath's figures from its rounds (medians, spreads, the ratios
 * taken round by round) and their printing, as text or JSON.
 */
#include "bench.h"
#include "faultpath.h"
#include "vmm/cli/json.h"
#include "vmm/cli/parse.h"

#include "memvisor/types.h"

#include <stdio.h>
#include <stdlib.h>

static int fp_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* n values spaced stride doubles apart from v */
static struct fp_stat fp_stat_of(const double *v, unsigned n, size_t stride)
{
	double *c = malloc(n * sizeof(*c));
	struct fp_stat st = { 0, 0, 0 };

	if (!c)
		return st;
	for (unsigned i = 0; i < n; i++)
		c[i] = v[i * stride];
	qsort(c, n, sizeof(*c), fp_cmp_double);
	st = (struct fp_stat){ n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2, c[0], c[n - 1] };
	free(c);
	return st;
}

static void fp_fault_figures(const struct fp_sample *smp, unsigned runs, struct fp_result *res)
{
	double *v = calloc(runs * 3, sizeof(*v));

	if (!v)
		return;
	for (int m = 0; m < FP_NR_MODES; m++) {
		for (unsigned r = 0; r < runs; r++) {
			v[r * 3] = smp[r * FP_NR_MODES + m].guest_us;
			v[r * 3 + 1] = smp[r * FP_NR_MODES + m].host_cpu_us;
		}
		res->guest[m] = fp_stat_of(v, runs, 3);
		res->host_cpu[m] = fp_stat_of(v + 1, runs, 3);
		if (m < FP_NR_FLOORS && res->guest[m].med < res->guest[res->floor].med)
			res->floor = m;
	}
	for (unsigned r = 0; r < runs; r++) {
		const struct fp_sample *row = &smp[r * FP_NR_MODES];
		const struct gmm_fault_stats *fs = &row[FP_MEMVISOR].fs;

		v[r] = row[FP_MEMVISOR].guest_us / row[res->floor].guest_us;
		v[runs + r] = row[FP_MEMVISOR].host_cpu_us / row[res->floor].host_cpu_us;
		res->fs.faults += fs->faults;
		res->fs.installed += fs->installed;
		res->fs.ns_handler += fs->ns_handler;
		res->fs.ns_lookup += fs->ns_lookup;
		res->fs.ns_alloc += fs->ns_alloc;
		res->fs.ns_install += fs->ns_install;
	}
	res->ratio = fp_stat_of(v, runs, 1);
	res->cpu_ratio_floor = fp_stat_of(v + runs, runs, 1);
	free(v);
}

static void fp_reclaim_figures(const struct fp_reclaim *rc, unsigned runs, struct fp_result *res)
{
	double *v = calloc(runs * 6, sizeof(*v));

	if (!v)
		return;
	for (unsigned r = 0; r < runs; r++) {
		const struct fp_reclaim *x = &rc[r];
		double *row = &v[r * 6];

		row[0] = x->freed ? x->reclaim_ns / 1e3 / x->freed : 0;
		row[1] = x->raw.pages ? x->raw.cpu_ns / 1e3 / x->raw.pages : 0;
		row[2] = row[1] > 0 ? row[0] / row[1] : 0;
		row[3] = x->write_ns ? x->written * PAGE_SIZE / (x->write_ns / 1e9) : 0;
		row[4] = bench_rawio_bps(&x->raw);
		row[5] = row[4] > 0 ? row[3] / row[4] : 0;
		res->written += x->written;
	}
	res->reclaim_cpu = fp_stat_of(v, runs, 6);
	res->raw_cpu = fp_stat_of(v + 1, runs, 6);
	res->cpu_ratio = fp_stat_of(v + 2, runs, 6);
	res->swapout = fp_stat_of(v + 3, runs, 6);
	res->raw_bps = fp_stat_of(v + 4, runs, 6);
	res->bps_ratio = fp_stat_of(v + 5, runs, 6);
	res->batch = rc[runs / 2].batch;
	res->direct = rc[runs / 2].direct;
	free(v);
}

static double fp_per(uint64_t ns, uint64_t n) { return n ? ns / 1e3 / n : 0; }

void fp_print_text(const struct fp_opts *o, const struct fp_result *res)
{
	const struct gmm_fault_stats *fs = &res->fs;
	char ram[32];

	cli_format_size(o->size, ram, sizeof(ram));
	printf("bench faultpath: touch writes every page of %s RAM once, in order, 1 vCPU, "
	       "%u rounds interleaved: median [lowest-highest]\n", ram, o->runs);
	bench_platform_text();
	printf("  %-26s %24s %24s\n", "per fault (1 page each)", "guest time, us",
	       "fault thread CPU, us");
	for (int m = 0; m < FP_NR_MODES; m++)
		printf("  %-26s %6.2f [%6.2f-%6.2f] %6.2f [%6.2f-%6.2f]\n",
		       m == FP_MEMVISOR ? "memvisor fault service" : fp_mode_name[m],
		       res->guest[m].med, res->guest[m].lo, res->guest[m].hi, res->host_cpu[m].med,
		       res->host_cpu[m].lo, res->host_cpu[m].hi);
	printf("  floor: %s; memvisor / floor: guest time %.3f [%.3f-%.3f] (goal <= 1.1), "
	       "fault thread CPU %.2f [%.2f-%.2f]\n", fp_mode_name[res->floor], res->ratio.med,
	       res->ratio.lo, res->ratio.hi, res->cpu_ratio_floor.med, res->cpu_ratio_floor.lo,
	       res->cpu_ratio_floor.hi);
	printf("  memvisor handler CPU per fault %.2f us: find %.2f, frames %.2f, "
	       "install %.2f; %.2f pages per fault\n", fp_per(fs->ns_handler, fs->faults),
	       fp_per(fs->ns_lookup, fs->faults), fp_per(fs->ns_alloc, fs->faults),
	       fp_per(fs->ns_install, fs->faults),
	       fs->faults ? (double)fs->installed / fs->faults : 0);
	printf("  reclaim (RAM 2x the pool, swap in %s%s), raw write in batches of %u:\n", o->dir,
	       res->direct ? "" : ", NOT O_DIRECT", res->batch);
	printf("    CPU per page: reclaim %.2f us, raw io_uring write %.2f us, ratio %.2f [%.2f-%.2f] "
	       "(goal <= 1.5)\n", res->reclaim_cpu.med, res->raw_cpu.med, res->cpu_ratio.med,
	       res->cpu_ratio.lo, res->cpu_ratio.hi);
	printf("    swap-out %.0f MiB/s, raw io_uring write %.0f MiB/s, ratio %.2f [%.2f-%.2f] "
	       "(goal >= 0.9)\n", res->swapout.med / (1 << 20), res->raw_bps.med / (1 << 20),
	       res->bps_ratio.med, res->bps_ratio.lo, res->bps_ratio.hi);
}

static void fp_json_stat(struct json *j, const char *key, struct fp_stat st)
{
	json_begin(j, key, '{');
	json_f64(j, "median", st.med);
	json_f64(j, "lowest", st.lo);
	json_f64(j, "highest", st.hi);
	json_end(j, '}');
}

void fp_print_json(const struct fp_opts *o, const struct fp_result *res)
{
	static const char *const key[FP_NR_MODES] = { "zeropage", "copy", "move", "memvisor" };
	const struct gmm_fault_stats *fs = &res->fs;
	struct json j;

	json_init(&j, stdout);
	json_begin(&j, NULL, '{');
	json_str(&j, "bench", "faultpath");
	bench_platform_json(&j);
	json_u64(&j, "ram_bytes", o->size);
	json_u64(&j, "runs", o->runs);
	for (int m = 0; m < FP_NR_MODES; m++) {
		json_begin(&j, key[m], '{');
		fp_json_stat(&j, "guest_us_per_fault", res->guest[m]);
		fp_json_stat(&j, "thread_cpu_us_per_fault", res->host_cpu[m]);
		json_end(&j, '}');
	}
	json_str(&j, "floor", key[res->floor]);
	fp_json_stat(&j, "memvisor_vs_floor", res->ratio);
	fp_json_stat(&j, "memvisor_vs_floor_thread_cpu", res->cpu_ratio_floor);
	json_f64(&j, "handler_us_per_fault", fp_per(fs->ns_handler, fs->faults));
	json_f64(&j, "find_us_per_fault", fp_per(fs->ns_lookup, fs->faults));
	json_f64(&j, "frames_us_per_fault", fp_per(fs->ns_alloc, fs->faults));
	json_f64(&j, "install_us_per_fault", fp_per(fs->ns_install, fs->faults));
	json_bool(&j, "swap_o_direct", res->direct);
	json_u64(&j, "raw_write_batch", res->batch);
	fp_json_stat(&j, "reclaim_cpu_us_per_page", res->reclaim_cpu);
	fp_json_stat(&j, "raw_write_cpu_us_per_page", res->raw_cpu);
	fp_json_stat(&j, "reclaim_cpu_vs_raw_write", res->cpu_ratio);
	fp_json_stat(&j, "swapout_bytes_per_s", res->swapout);
	fp_json_stat(&j, "raw_write_bytes_per_s", res->raw_bps);
	fp_json_stat(&j, "swapout_vs_raw_write", res->bps_ratio);
	json_end(&j, '}');
}


void fp_figures(const struct fp_sample *smp, const struct fp_reclaim *rc, unsigned runs,
		struct fp_result *res)
{
	fp_fault_figures(smp, runs, res);
	fp_reclaim_figures(rc, runs, res);
}
