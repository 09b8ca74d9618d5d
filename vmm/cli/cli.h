/* SPDX-License-Identifier: MIT */
/* Subcommands. Each returns memvisor's exit status; only these print-and-exit. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stddef.h>

int vmm_cmd_run(int argc, char **argv);
int vmm_cmd_guests(int argc, char **argv);
int vmm_cmd_bench(int argc, char **argv);

int vmm_bench_paging(int argc, char **argv);
int vmm_bench_overcommit(int argc, char **argv);
int vmm_bench_cmp_u64(const void *a, const void *b);
/* The built-in guest a benchmark runs, read, and /dev/kvm opened: 0, or -1
 * with one line printed. */
struct vmm_kvm;
int vmm_bench_setup(const char *bench, const char *guest, char *path, size_t pathlen,
		    void **elf, size_t *len, struct vmm_kvm *kvm);

/* One line "memvisor: ..." on stderr and the usage exit status. */
int vmm_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
