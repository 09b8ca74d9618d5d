/* SPDX-License-Identifier: MIT */
/*
 * One guest: its VM, memory, vCPUs and how it ended. The life cycle is
 * vmm_guest_create -> vmm_guest_run -> vmm_guest_destroy; everything a user
 * can get wrong is refused by create with one line in err.
 */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

#include "kvm.h"
#include "elfimg.h"
#include "ept/gpt.h"
#include "guestmm/guestmm.h"
#include "memvisor/types.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* Exit statuses that memvisor itself gives; a guest's own code is 0..255 and
 * guests should keep to 0..119 so that these stay distinct. */
#define VMM_EXIT_RUNTIME     1   /* memvisor could not start the guest */
#define VMM_EXIT_USAGE       2   /* bad command line */
#define VMM_EXIT_CRASH       120 /* fatal guest error: triple fault, bad access, bad hypercall */
#define VMM_EXIT_ASSERT      121 /* the guest reported a failed assertion */
#define VMM_EXIT_OOM         122 /* killed: no memory for it */
#define VMM_EXIT_TIMEOUT     124 /* --timeout expired */
#define VMM_EXIT_INTERRUPTED 130 /* SIGINT/SIGTERM */

enum vmm_end {
	VMM_END_RUNNING,
	VMM_END_DONE,        /* every vCPU called done */
	VMM_END_ASSERT,
	VMM_END_CRASH,
	VMM_END_OOM,
	VMM_END_TIMEOUT,
	VMM_END_INTERRUPTED,
};

#define VMM_NR_EXIT_REASONS 64
#define VMM_FAULT_AROUND_DEFAULT 512   /* pages one fault may install: 2 MiB */
#define VMM_NR_HCALLS       8
#define VMM_MAX_REPORTS     64
#define VMM_LINE_MAX        256

struct vmm_guest;

struct vmm_config {
	const char *name;        /* shown in reports and the summary */
	const char *path;        /* the ELF file it came from */
	uint64_t mem_size;       /* guest RAM, bytes */
	unsigned nr_vcpus;
	uint64_t timeout_ns;     /* 0: none */
	int argc;                /* guest arguments */
	char *const *argv;
	FILE *console;           /* guest text goes here; NULL discards it */
	struct gmm_pool *pool;   /* frames for guest RAM; NULL: host-managed RAM (--host-mm) */
	enum gmm_prefault prefault;
	struct gmm_limits limits; /* frames; as memcg's memory.min/low/high/max */
	int oom_score_adj;       /* -1000 (never chosen) .. 1000 */
	unsigned fault_around;   /* pages; 0 means the default */
	bool no_zero_pages;      /* reads of never-written pages get frames too */
	bool populate;           /* host-managed RAM populated before the run (a baseline) */
	bool no_pin;             /* leave vCPU and fault threads unpinned */
	const char *label;       /* prefix for console lines when several guests run */
	/* Called on the vCPU's thread when the guest calls sync(stage), the
	 * guest paused there until it returns, as the KVM selftests' host loop
	 * acts on GUEST_SYNC: a test can force reclaim between two guest steps.
	 * Non-zero ends the guest (a crash naming the stage). */
	int (*on_sync)(struct vmm_guest *g, unsigned vcpu, uint64_t stage, void *arg);
	void *sync_arg;
};

struct vmm_stats {
	uint64_t exits[VMM_NR_EXIT_REASONS];
	uint64_t hcalls[VMM_NR_HCALLS];
	uint64_t console_bytes;
};

struct vmm_report {
	char key[64];
	uint64_t value;
	unsigned vcpu;
};

struct vmm_vcpu {
	struct vmm_guest *g;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;            /* a thread exists, not yet joined: written by the main thread under g->lock */
	bool done;               /* called MV_HC_DONE */
	uint64_t last_sync;
	bool synced;
	struct vmm_stats stats;  /* this vCPU's thread only */
	char line[VMM_LINE_MAX]; /* console text not yet ended by a newline */
	size_t line_len;
};

struct vmm_guest {
	const struct vmm_kvm *kvm;
	struct vmm_config cfg;
	int vm_fd;
	uint8_t *ram;            /* guest RAM: GPA [0, ram_size) */
	uint64_t ram_size;
	uint8_t *sys;            /* VMM-owned region at MV_SYS_GPA */
	uint64_t sys_size;
	uint8_t *rom;            /* the image's read-only pages at MV_ROM_GPA */
	uint64_t rom_size;
	struct gmm_mm *mm;       /* VMAs, EPT table, counters, faults */
	bool dirty_log;          /* KVM dirty logging of RAM (with swap) */
	struct gpt gpt;
	struct vmm_elf_image img;
	uint64_t tsc_khz;
	atomic_bool stopping;

	pthread_mutex_t lock;    /* protects what follows */
	pthread_cond_t cond;
	unsigned nr_running;
	enum vmm_end end;
	int exit_code;
	bool have_code;
	char reason[512];        /* one line, when the guest did not end by done */
	char detail[1024];       /* further lines of a crash report */
	char last_line[VMM_LINE_MAX];
	struct vmm_report reports[VMM_MAX_REPORTS];
	unsigned nr_reports;
	uint64_t t_create_ns, t_start_ns, t_end_ns;
	/* what it held when it ended, once vmm_guest_release gave it back
	 * (released is set after them, atomically: readers on other threads) */
	uint64_t end_rss, end_swap;
	bool released;

	unsigned nr_vcpus;
	struct vmm_vcpu vcpus[];
};

/* The pool settings memvisor uses for guests of nr_vcpus vCPUs: pre-zeroing
 * on a spare CPU, a fault thread pinned on each vCPU's CPU. */
void vmm_pool_config(struct gmm_pool_config *pc, unsigned nr_vcpus, bool no_pin);

int vmm_guest_create(const struct vmm_kvm *kvm, const struct vmm_config *cfg,
		     const void *elf, size_t elf_len, struct vmm_guest **out,
		     char *err, size_t errlen);
/* Run until the guest ends; returns memvisor's exit status for it. */
int vmm_guest_run(struct vmm_guest *g);
void vmm_guest_destroy(struct vmm_guest *g);
/* Once vmm_guest_run returned: give the guest's frames and swap slots back
 * to its pool now, not at vmm_guest_destroy, for guests that share a pool
 * with others still running. Its counters stay; what it held at its end
 * stays readable through vmm_guest_mem_at_end. Nothing may read its RAM or
 * EPT table afterwards (--walk). */
void vmm_guest_release(struct vmm_guest *g);
/* Frames and swap entries the guest holds, or held when it was released. */
void vmm_guest_mem_at_end(const struct vmm_guest *g, uint64_t *rss, uint64_t *swap_ents);

/* End the guest (first caller wins) with a one-line reason and optional
 * further lines (detail), and stop every vCPU. Takes g->lock. */
void vmm_guest_end(struct vmm_guest *g, enum vmm_end end, const char *detail,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Ask a running guest to stop from a signal context: only sets flags and kicks. */
void vmm_guest_interrupt(struct vmm_guest *g);
int vmm_guest_exit_status(const struct vmm_guest *g);
void vmm_guest_stats(const struct vmm_guest *g, struct vmm_stats *sum);
const char *vmm_end_name(enum vmm_end end);

/* gmem.c: guest memory as the VMM sees it */
void *vmm_gpa_host(void *guest, gpa_t gpa, size_t len);
int vmm_copy_from_guest(struct vmm_guest *g, void *dst, gva_t src, size_t len);
int vmm_strncpy_from_guest(struct vmm_guest *g, char *dst, gva_t src, size_t max);
/* The GPA of a user-mapped GVA in guest RAM, or -EFAULT. */
int vmm_gva_to_ram(struct vmm_guest *g, gva_t gva, gpa_t *gpa);
/* Describe where a GVA falls (RAM, beyond RAM, a stack guard, the image...). */
void vmm_describe_gva(const struct vmm_guest *g, gva_t gva, char *buf, size_t len);

/* vcpu.c */
int vmm_vcpu_create(struct vmm_guest *g, unsigned index, char *err, size_t errlen);
/* Registers for entry at CPL3 in 64-bit mode; needs the page tables built. */
int vmm_vcpu_reset(struct vmm_vcpu *v, char *err, size_t errlen);
void *vmm_vcpu_thread(void *arg);
void vmm_vcpu_kick(struct vmm_vcpu *v);
/* The CPU vCPU i is pinned to. */
int vmm_vcpu_cpu(unsigned index);
unsigned vmm_nr_cpus(void);        /* CPUs this process may run on */
void vmm_vcpu_destroy(struct vmm_vcpu *v);
void vmm_vcpu_crash(struct vmm_vcpu *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* dirty.c: KVM's dirty log of guest RAM, for the memory manager */
int vmm_dirty_log_enable(struct vmm_guest *g);
int vmm_dirty_get(void *guest, uint64_t *bitmap);
int vmm_dirty_clear(void *guest, gpa_t gpa, uint64_t npages);
void vmm_young_clear(void *guest, gpa_t gpa, uint64_t npages);
bool vmm_young_test(void *guest, gpa_t gpa);

/* mmio.c: an MMIO exit, explained by the VMA it hit */
void vmm_mmio(struct vmm_vcpu *v);
/* walk.c: one GVA through the guest's page tables, then the EPT table */
void vmm_walk_gva(struct vmm_guest *g, gva_t gva, FILE *f);

/* pio.c, hcall.c, console.c */
int vmm_pio(struct vmm_vcpu *v);
int vmm_hcall(struct vmm_vcpu *v, uint32_t nr);
void vmm_console_write(struct vmm_vcpu *v, const char *buf, size_t len);
void vmm_console_flush(struct vmm_vcpu *v);
const char *vmm_hcall_name(unsigned nr);
const char *vmm_exit_name(unsigned reason);


#endif
