// SPDX-License-Identifier: MIT
/*
 * Crash reports. When a vCPU exits in a way nobody handles, the guest ends
 * with one line saying what happened and where (exit, vCPU, RIP), followed by
 * what helps find the cause: CR2 and where that address lies, the last sync
 * stage, the last console line.
 */
#include "guest.h"
#include "escape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static size_t crash_append(char *buf, size_t len, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t crash_append(char *buf, size_t len, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= len)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
	return n < 0 ? off : off + (size_t)n;
}

#define X86_PF_VECTOR 14

/*
 * Whether CR2 holds the address of the fault that ended the guest. Only a page
 * fault writes CR2, and any fault ends the guest (it has no IDT), so a
 * non-zero CR2 is that address. Zero is a fault at address 0 or no page fault
 * at all (a #UD, a #GP): the exception KVM delivered last tells them apart.
 */
static bool crash_cr2_valid(const struct vmm_vcpu *v, const struct kvm_sregs *sregs)
{
	struct kvm_vcpu_events ev;

	if (!sregs || v->run->exit_reason != KVM_EXIT_SHUTDOWN)
		return false;
	if (sregs->cr2)
		return true;
	return ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0 && ev.exception.nr == X86_PF_VECTOR;
}

static void crash_detail(struct vmm_vcpu *v, const struct kvm_regs *regs,
			 const struct kvm_sregs *sregs, char *buf, size_t len)
{
	struct vmm_guest *g = v->g;
	char where[160];
	size_t off = 0;

	buf[0] = '\0';
	if (regs) {
		vmm_describe_gva(g, regs->rip, where, sizeof(where));
		off = crash_append(buf, len, off, "  RIP 0x%llx %s; RSP 0x%llx\n",
				   (unsigned long long)regs->rip, where, (unsigned long long)regs->rsp);
	}
	/* CR2 means something after a page fault, which is what most triple faults are */
	if (crash_cr2_valid(v, sregs)) {
		vmm_describe_gva(g, sregs->cr2, where, sizeof(where));
		off = crash_append(buf, len, off, "  CR2 0x%llx (the faulting address) %s\n",
				   (unsigned long long)sregs->cr2, where);
	}
	if (v->synced)
		off = crash_append(buf, len, off, "  last sync stage on vCPU %u: %llu\n", v->index,
				   (unsigned long long)v->last_sync);
	pthread_mutex_lock(&g->lock);
	if (v->line_len) {
		char text[VMM_ESCAPED_SIZE(sizeof(v->line))];

		vmm_escape_text(text, sizeof(text), v->line, v->line_len);
		off = crash_append(buf, len, off, "  last console output: \"%s\"\n", text);
	} else if (g->last_line[0])
		off = crash_append(buf, len, off, "  last console line: \"%s\"\n", g->last_line);
	pthread_mutex_unlock(&g->lock);
	if (off && off <= len && buf[MIN(off, len) - 1] == '\n')
		buf[MIN(off, len) - 1] = '\0';
}

void vmm_vcpu_crash(struct vmm_vcpu *v, const char *fmt, ...)
{
	struct vmm_guest *g = v->g;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool have_regs = ioctl(v->fd, KVM_GET_REGS, &regs) == 0;
	bool have_sregs = ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0;
	char what[320], detail[sizeof(g->detail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	crash_detail(v, have_regs ? &regs : NULL, have_sregs ? &sregs : NULL,
		     detail, sizeof(detail));
	if (have_regs)
		vmm_guest_end(g, VMM_END_CRASH, detail, "guest %s crashed on vCPU %u: %s at RIP 0x%llx",
			      g->cfg.name, v->index, what, (unsigned long long)regs.rip);
	else
		vmm_guest_end(g, VMM_END_CRASH, detail, "guest %s crashed on vCPU %u: %s",
			      g->cfg.name, v->index, what);
}
