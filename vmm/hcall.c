// SPDX-License-Identifier: MIT
/*
 * Hypercalls, modeled on the KVM selftests' ucall: done, assert, sync,
 * report, and console write. Arguments that name guest memory are
 * guest-virtual addresses checked through the guest's page tables; a bad one
 * ends the guest with a report naming the hypercall and the address.
 */
#include "guest.h"
#include "escape.h"

#include "memvisor/abi.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

const char *vmm_hcall_name(unsigned nr)
{
	static const char *const names[VMM_NR_HCALLS] = {
		[MV_HC_DONE] = "done", [MV_HC_ASSERT] = "assert", [MV_HC_SYNC] = "sync",
		[MV_HC_REPORT] = "report", [MV_HC_WRITE] = "write", [MV_HC_FREE] = "free",
	};
	return nr < VMM_NR_HCALLS && names[nr] ? names[nr] : NULL;
}

static int hcall_regs(struct vmm_vcpu *v, struct kvm_regs *regs)
{
	if (v->g->kvm->sync_regs) {
		*regs = v->run->s.regs.regs;
		return 0;
	}
	return ioctl(v->fd, KVM_GET_REGS, regs) ? -errno : 0;
}

static int hcall_bad_pointer(struct vmm_vcpu *v, unsigned nr, const char *arg, gva_t gva, int err)
{
	char where[160];

	if (err == -ENOMEM || err == -EIO) {
		/* the buffer is guest RAM that could not be brought in */
		vmm_guest_end(v->g, err == -ENOMEM ? VMM_END_OOM : VMM_END_CRASH, NULL,
			      "guest %s killed: %s for the %s of hypercall %s at GVA 0x%llx", v->g->cfg.name,
			      err == -ENOMEM ? "out of memory: no frame could be had" :
					       "reading its page back from swap failed (I/O error)",
			      arg, vmm_hcall_name(nr), (unsigned long long)gva);
		return 1;
	}
	vmm_describe_gva(v->g, gva, where, sizeof(where));
	if (err == -ENAMETOOLONG)
		vmm_vcpu_crash(v, "hypercall %s: %s at 0x%llx is not a string of at most %d bytes",
			       vmm_hcall_name(nr), arg, (unsigned long long)gva, MV_HC_STR_MAX - 1);
	else
		vmm_vcpu_crash(v, "hypercall %s: %s pointer 0x%llx is not guest memory (%s)",
			       vmm_hcall_name(nr), arg, (unsigned long long)gva, where);
	return 1;
}

static int hcall_done(struct vmm_vcpu *v, const struct kvm_regs *regs)
{
	struct vmm_guest *g = v->g;
	int code = (int)(regs->rdi & 0xff);

	v->done = true;
	pthread_mutex_lock(&g->lock);
	/* the first non-zero code a vCPU reports is the guest's */
	if (!g->have_code || (g->exit_code == 0 && code != 0)) {
		g->exit_code = code;
		g->have_code = true;
	}
	pthread_mutex_unlock(&g->lock);
	return 1;
}

static int hcall_assert(struct vmm_vcpu *v, const struct kvm_regs *regs)
{
	char file[MV_HC_STR_MAX], msg[MV_HC_STR_MAX];
	char file_text[VMM_ESCAPED_SIZE(sizeof(file))], msg_text[VMM_ESCAPED_SIZE(sizeof(msg))];
	int ret = vmm_strncpy_from_guest(v->g, file, regs->rdi, sizeof(file));

	if (ret < 0)
		return hcall_bad_pointer(v, MV_HC_ASSERT, "file", regs->rdi, ret);
	ret = vmm_strncpy_from_guest(v->g, msg, regs->rdx, sizeof(msg));
	if (ret < 0)
		return hcall_bad_pointer(v, MV_HC_ASSERT, "message", regs->rdx, ret);
	vmm_console_flush(v);
	/* the guest's strings go into memvisor's own line: escaped, newlines too,
	 * so that they can neither start a line of their own nor drive the terminal */
	vmm_escape_text(file_text, sizeof(file_text), file, strlen(file));
	vmm_escape_text(msg_text, sizeof(msg_text), msg, strlen(msg));
	vmm_guest_end(v->g, VMM_END_ASSERT, NULL, "guest %s assertion failed on vCPU %u: %s:%llu: %s",
		      v->g->cfg.name, v->index, file_text, (unsigned long long)regs->rsi, msg_text);
	return 1;
}

static bool hcall_key_ok(const char *key)
{
	if (!*key)
		return false;
	for (; *key; key++)
		if (!isalnum((unsigned char)*key) && !strchr("_.-/", *key))
			return false;
	return true;
}

static int hcall_report(struct vmm_vcpu *v, const struct kvm_regs *regs)
{
	struct vmm_guest *g = v->g;
	char key[64];
	int ret = vmm_strncpy_from_guest(g, key, regs->rdi, sizeof(key));

	if (ret < 0 && ret != -ENAMETOOLONG)
		return hcall_bad_pointer(v, MV_HC_REPORT, "key", regs->rdi, ret);
	if (ret < 0 || !hcall_key_ok(key)) {
		vmm_vcpu_crash(v, "hypercall report: key must be 1-63 characters of [A-Za-z0-9_.-/]");
		return 1;
	}
	pthread_mutex_lock(&g->lock);
	if (g->nr_reports < VMM_MAX_REPORTS) {
		struct vmm_report *r = &g->reports[g->nr_reports++];

		memcpy(r->key, key, sizeof(key));
		r->value = regs->rsi;
		r->vcpu = v->index;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int hcall_sync(struct vmm_vcpu *v, const struct kvm_regs *regs)
{
	struct vmm_guest *g = v->g;

	v->last_sync = regs->rdi;
	v->synced = true;
	if (g->cfg.on_sync && g->cfg.on_sync(g, v->index, regs->rdi, g->cfg.sync_arg)) {
		vmm_vcpu_crash(v, "the host's check at sync stage %llu failed",
			       (unsigned long long)regs->rdi);
		return 1;
	}
	return 0;
}

/* Give back [start, start + npages) of GPAs, as one discard per run of
 * pages contiguous in guest-physical space too. */
static int hcall_free_run(struct vmm_vcpu *v, gpa_t start, uint64_t npages)
{
	uint64_t returned;
	int ret = gmm_mm_discard(v->g->mm, start, npages, &returned);

	if (ret)
		vmm_vcpu_crash(v, "hypercall free: giving back GPA 0x%llx (+%llu pages) failed: %s",
			       (unsigned long long)start, (unsigned long long)npages, strerror(-ret));
	return ret ? 1 : 0;
}

/* Free-page reporting: rdi = RAM (GVA), rsi = length, both page-aligned. */
static int hcall_free(struct vmm_vcpu *v, const struct kvm_regs *regs)
{
	gva_t gva = regs->rdi;
	uint64_t len = regs->rsi, run = 0;
	gpa_t start = 0, gpa;

	if (gva % PAGE_SIZE || len % PAGE_SIZE || len > v->g->ram_size) {
		vmm_vcpu_crash(v, "hypercall free: 0x%llx (+%llu bytes) is not whole pages of guest RAM",
			       (unsigned long long)gva, (unsigned long long)len);
		return 1;
	}
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		if (vmm_gva_to_ram(v->g, gva + off, &gpa))
			return hcall_bad_pointer(v, MV_HC_FREE, "range", gva + off, -EFAULT);
		if (run && gpa == start + (run << PAGE_SHIFT)) {
			run++;
			continue;
		}
		if (run && hcall_free_run(v, start, run))
			return 1;
		start = gpa;
		run = 1;
	}
	return run ? hcall_free_run(v, start, run) : 0;
}

static int hcall_write(struct vmm_vcpu *v, const struct kvm_regs *regs)
{
	char buf[MV_HC_WRITE_MAX];
	size_t len = regs->rsi;
	int ret;

	if (len > sizeof(buf)) {
		vmm_vcpu_crash(v, "hypercall write: length %zu exceeds %zu", len, sizeof(buf));
		return 1;
	}
	ret = vmm_copy_from_guest(v->g, buf, regs->rdi, len);
	if (ret)
		return hcall_bad_pointer(v, MV_HC_WRITE, "buffer", regs->rdi, ret);
	vmm_console_write(v, buf, len);
	return 0;
}

int vmm_hcall(struct vmm_vcpu *v, uint32_t nr)
{
	struct kvm_regs regs;

	if (!vmm_hcall_name(nr)) {
		vmm_vcpu_crash(v, "unknown hypercall %u", nr);
		return 1;
	}
	if (hcall_regs(v, &regs)) {
		vmm_vcpu_crash(v, "cannot read registers for hypercall %s", vmm_hcall_name(nr));
		return 1;
	}
	v->stats.hcalls[nr]++;
	switch (nr) {
	case MV_HC_DONE:
		return hcall_done(v, &regs);
	case MV_HC_ASSERT:
		return hcall_assert(v, &regs);
	case MV_HC_SYNC:
		return hcall_sync(v, &regs);
	case MV_HC_REPORT:
		return hcall_report(v, &regs);
	case MV_HC_FREE:
		return hcall_free(v, &regs);
	default:
		return hcall_write(v, &regs);
	}
}
