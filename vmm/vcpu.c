// SPDX-License-Identifier: MIT
/*
 * vCPUs: creation, the CPL3 long-mode entry state of docs/platform.md, and the run
 * loop. Each exit is handed to exactly one handler; whatever nobody handles
 * ends the guest with a crash report, never a hang.
 */
#include "guest.h"
#include "layout.h"

#include "memvisor/abi.h"
#include "memvisor/cpu.h"
#include "memvisor/err.h"
#include "memvisor/thread.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_WP (1ULL << 16)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define X86_CR4_OSFXSR (1ULL << 9)
#define X86_CR4_OSXMMEXCPT (1ULL << 10)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define X86_RFLAGS_IOPL3 (3ULL << 12)
#define X86_RFLAGS_FIXED (1ULL << 1)

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* only here to interrupt KVM_RUN */
}

static void vcpu_install_kick_once(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: KVM_RUN returns EINTR. It cannot fail with these
	 * arguments; if it did, a kick would kill the process, so stop here */
	if (sigaction(SIGUSR1, &sa, NULL))
		abort();
}

static void vcpu_install_kick(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vcpu_install_kick_once);
}

int vmm_vcpu_create(struct vmm_guest *g, unsigned index, char *err, size_t errlen)
{
	struct vmm_vcpu *v = &g->vcpus[index];

	v->g = g;
	v->index = index;
	v->fd = ioctl(g->vm_fd, KVM_CREATE_VCPU, index);
	if (v->fd < 0)
		return mv_seterr_errno(err, errlen, "KVM_CREATE_VCPU %u failed", index);
	v->run = mmap(NULL, g->kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return mv_seterr_errno(err, errlen, "mmap of vCPU %u state failed", index);
	}
	/* the guest's CPUID must report long mode before EFER.LME can be set */
	if (ioctl(v->fd, KVM_SET_CPUID2, g->kvm->cpuid))
		return mv_seterr_errno(err, errlen, "KVM_SET_CPUID2 failed");
	if (index == 0) {
		int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);

		g->tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	}
	vcpu_install_kick();
	return 0;
}

static void vcpu_user_seg(struct kvm_segment *s, uint16_t sel, bool code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .present = 1,
		.dpl = 3, .s = 1, .g = 1,
		.type = code ? 0xb : 0x3, .l = code, .db = !code,
	};
}

int vmm_vcpu_reset(struct vmm_vcpu *v, char *err, size_t errlen)
{
	struct kvm_sregs sr;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr))
		goto fail;
	sr.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	sr.cr3 = v->g->gpt.root;
	sr.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sr.efer = X86_EFER_LME | X86_EFER_LMA;
	vcpu_user_seg(&sr.cs, VMM_SEL_UCODE, true);
	vcpu_user_seg(&sr.ds, VMM_SEL_UDATA, false);
	sr.es = sr.ss = sr.fs = sr.gs = sr.ds;
	sr.fs.base = MV_PERCPU_GVA(v->index);
	sr.tr = (struct kvm_segment){
		.base = vmm_layout_tss_gva(), .limit = 0x67, .selector = VMM_SEL_TSS,
		.type = 0xb, .present = 1,
	};
	sr.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	sr.gdt.base = MV_SYS_GVA;
	sr.gdt.limit = VMM_GDT_LIMIT;
	sr.idt.base = 0;
	sr.idt.limit = 0; /* no IDT: any exception is a triple fault, reported as a crash */
	if (ioctl(v->fd, KVM_SET_SREGS, &sr))
		goto fail;
	memset(&regs, 0, sizeof(regs));
	regs.rip = v->g->img.entry;
	regs.rsp = MV_STACK_TOP(v->index);
	regs.rdi = v->index;
	regs.rsi = MV_BOOTINFO_GVA;
	regs.rflags = X86_RFLAGS_FIXED | X86_RFLAGS_IOPL3; /* IOPL 3: port I/O from CPL3 */
	if (ioctl(v->fd, KVM_SET_REGS, &regs))
		goto fail;
	return 0;
fail:
	return mv_seterr_errno(err, errlen, "setting up vCPU %u registers failed", v->index);
}

void vmm_vcpu_kick(struct vmm_vcpu *v)
{
	/* immediate_exit covers the window before the thread enters KVM_RUN */
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, SIGUSR1);
}

const char *vmm_exit_name(unsigned reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt", [KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_SET_TPR] = "set_tpr", [KVM_EXIT_TPR_ACCESS] = "tpr_access",
		[KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event", [KVM_EXIT_X86_RDMSR] = "rdmsr",
		[KVM_EXIT_X86_WRMSR] = "wrmsr", [39] = "memory_fault", /* KVM_EXIT_MEMORY_FAULT, newer than some headers */
	};
	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "other";
}

static void vcpu_internal_error(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	char bytes[64] = "";

	if (r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		size_t n = MIN((size_t)r->emulation_failure.insn_size, (size_t)15), off = 0;

		for (size_t i = 0; i < n && off < sizeof(bytes) - 4; i++)
			off += snprintf(bytes + off, sizeof(bytes) - off, "%s%02x", i ? " " : "",
					r->emulation_failure.insn_bytes[i]);
		vmm_vcpu_crash(v, "KVM cannot emulate an instruction (bytes %s)", bytes);
		return;
	}
	vmm_vcpu_crash(v, "KVM internal error, suberror %u", r->internal.suberror);
}

/* 0: keep running; non-zero: this vCPU stops. */
static int vcpu_handle_exit(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		return vmm_pio(v);
	case KVM_EXIT_MMIO:
		vmm_mmio(v);
		return 1;
	case KVM_EXIT_SHUTDOWN:
		vmm_vcpu_crash(v, "triple fault (KVM_EXIT_SHUTDOWN, an exception the guest cannot handle)");
		return 1;
	case KVM_EXIT_HLT:
		vmm_vcpu_crash(v, "the guest halted (KVM_EXIT_HLT) with nothing to wake it");
		return 1;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_internal_error(v);
		return 1;
	case KVM_EXIT_FAIL_ENTRY:
		vmm_vcpu_crash(v, "vCPU entry failed (hardware reason 0x%llx)",
			       (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		return 1;
	default:
		vmm_vcpu_crash(v, "unexpected exit %s (%u)", vmm_exit_name(r->exit_reason),
			       r->exit_reason);
		return 1;
	}
}

static void vcpu_finish(struct vmm_vcpu *v)
{
	struct vmm_guest *g = v->g;

	pthread_mutex_lock(&g->lock);
	g->nr_running--;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static int vcpu_cpus[CPU_SETSIZE], vcpu_nr_cpus;

static void vcpu_read_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			vcpu_cpus[vcpu_nr_cpus++] = c;
}

/* The allowed CPUs are read once; vCPU i goes on the (i mod n)-th of them. */
int vmm_vcpu_cpu(unsigned index)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vcpu_read_cpus);
	return vcpu_nr_cpus ? vcpu_cpus[index % vcpu_nr_cpus] : -1;
}

unsigned vmm_nr_cpus(void)
{
	vmm_vcpu_cpu(0);
	return vcpu_nr_cpus ? (unsigned)vcpu_nr_cpus : 1;
}

void *vmm_vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;
	struct vmm_guest *g = v->g;
	char name[16];

	snprintf(name, sizeof(name), "mv-vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	mv_block_stop_signals();
	/* the fault thread sits on vCPU 0's CPU: a fault round trip stays on one CPU */
	if (!g->cfg.no_pin)
		mv_pin_self(vmm_vcpu_cpu(v->index));

	while (!atomic_load(&g->stopping)) {
		if (g->kvm->sync_regs)
			v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue; /* kicked: the loop condition decides */
			vmm_vcpu_crash(v, "KVM_RUN failed: %s%s", strerror(errno),
				       errno == EFAULT ? " (guest memory could not be accessed)" : "");
			break;
		}
		v->stats.exits[MIN(v->run->exit_reason, (uint32_t)VMM_NR_EXIT_REASONS - 1)]++;
		if (vcpu_handle_exit(v))
			break;
	}
	vcpu_finish(v);
	return NULL;
}

void vmm_vcpu_destroy(struct vmm_vcpu *v)
{
	if (v->run)
		munmap(v->run, v->g->kvm->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
