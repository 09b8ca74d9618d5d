// SPDX-License-Identifier: MIT
/*
 * Guest life cycle: create the VM and its memory, start one thread per vCPU,
 * wait for the end (every vCPU done, a fatal exit, the timeout or a signal),
 * then tear down. The first reason to end wins; later ones are dropped.
 */
#include "guest.h"
#include "layout.h"

#include "memvisor/abi.h"
#include "memvisor/log.h"
#include "memvisor/time.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int vm_check_config(const struct vmm_kvm *kvm, const struct vmm_config *cfg,
			   char *err, size_t errlen)
{
	unsigned max = MIN((unsigned)kvm->max_vcpus, (unsigned)MV_MAX_VCPUS);

	if (cfg->mem_size == 0 || cfg->mem_size % PAGE_SIZE) {
		snprintf(err, errlen, "guest RAM must be a non-zero multiple of 4 KiB");
		return -EINVAL;
	}
	if (cfg->mem_size > MV_RAM_MAX) {
		snprintf(err, errlen, "guest RAM of %llu MiB is more than the %llu GiB memvisor supports",
			 (unsigned long long)(cfg->mem_size >> 20), MV_RAM_MAX >> 30);
		return -EINVAL;
	}
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > max) {
		snprintf(err, errlen, "vCPU count %u out of range (1..%u)", cfg->nr_vcpus, max);
		return -EINVAL;
	}
	return 0;
}

static void *vm_map(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int vm_memslot(struct vmm_guest *g, unsigned slot, gpa_t gpa, void *host, uint64_t size,
		      uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static int vm_setup_memory(struct vmm_guest *g, char *err, size_t errlen)
{
	int ret;

	g->ram = vm_map(g->ram_size);
	g->sys = vm_map(g->sys_size);
	g->rom = g->rom_size ? vm_map(g->rom_size) : NULL;
	if (!g->ram || !g->sys || (g->rom_size && !g->rom)) {
		snprintf(err, errlen, "cannot reserve %llu MiB of host address space for the guest",
			 (unsigned long long)((g->ram_size + g->sys_size) >> 20));
		return -ENOMEM;
	}
	/* a forked child (bench baselines) must not share guest pages copy-on-write */
	madvise(g->ram, g->ram_size, MADV_DONTFORK);
	g->dirty_log = g->cfg.pool && g->cfg.pool->swap && vmm_dirty_log_enable(g) == 0;
	ret = vm_memslot(g, 0, MV_RAM_GPA, g->ram, g->ram_size,
			 g->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	if (!ret)
		ret = vm_memslot(g, 1, MV_SYS_GPA, g->sys, g->sys_size, 0);
	if (!ret && g->rom_size)
		ret = vm_memslot(g, 2, MV_ROM_GPA, g->rom, g->rom_size, KVM_MEM_READONLY);
	if (ret)
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(-ret));
	return ret;
}

static void vm_kill(void *guest, enum gmm_kill why, const char *reason)
{
	struct vmm_guest *g = guest;

	vmm_guest_end(g, why == GMM_KILL_OOM ? VMM_END_OOM : VMM_END_CRASH, NULL,
		      "guest %s killed: %s", g->cfg.name, reason);
}

static const struct gmm_guest_ops vm_gmm_ops = {
	.kill = vm_kill, .young_clear = vmm_young_clear, .young_test = vmm_young_test,
};
static const struct gmm_guest_ops vm_gmm_ops_swap = {
	.kill = vm_kill, .dirty_get = vmm_dirty_get, .dirty_clear = vmm_dirty_clear,
	.young_clear = vmm_young_clear, .young_test = vmm_young_test,
};

/* The guest's mm and its VMAs: RAM, ROM, the locked system region, the MMIO hole. */
static int vm_setup_mm(struct vmm_guest *g, char *err, size_t errlen)
{
	struct gmm_mm_config mc = {
		.ram_size = g->ram_size, .ram_hva = g->ram, .guest = g,
		.ops = g->dirty_log ? &vm_gmm_ops_swap : &vm_gmm_ops,
		.fault_around = g->cfg.fault_around ? g->cfg.fault_around : VMM_FAULT_AROUND_DEFAULT,
		.prefault = g->cfg.prefault, .limits = g->cfg.limits,
		.zero_reads = !g->cfg.no_zero_pages,
		/* another vCPU may write in the gap mapping a zero page leaves */
		.zero_reads_racy = g->cfg.nr_vcpus > 1,
		.oom_score_adj = g->cfg.oom_score_adj, .name = g->cfg.name,
	};
	const struct gmm_vma vmas[] = {
		{ MV_SYS_GPA, MV_SYS_GPA + g->sys_size, GMM_VM_READ | GMM_VM_WRITE | GMM_VM_LOCKED,
		  GMM_VMA_SYS, "system", (uintptr_t)g->sys },
		{ MV_ROM_GPA, MV_ROM_GPA + g->rom_size, GMM_VM_READ | GMM_VM_EXEC, GMM_VMA_ROM,
		  "rom", (uintptr_t)g->rom },
		{ MV_MMIO_GPA, MV_MMIO_GPA + MV_MMIO_SIZE, GMM_VM_IO, GMM_VMA_MMIO, "mmio-hole", 0 },
	};
	int ret;

	ret = gmm_mm_create(g->cfg.pool, &mc, &g->mm, err, errlen);
	for (size_t i = 0; !ret && i < ARRAY_SIZE(vmas); i++)
		if (vmas[i].end > vmas[i].start)
			ret = gmm_mm_add_vma(g->mm, &vmas[i]);
	if (ret && !err[0])
		snprintf(err, errlen, "cannot set up the guest's VMAs: %s", strerror(-ret));
	if (!ret && !g->cfg.pool && g->cfg.populate &&
	    madvise(g->ram, g->ram_size, MADV_POPULATE_WRITE)) {
		ret = -errno;
		snprintf(err, errlen, "cannot populate guest RAM: %s", strerror(errno));
	}
	return ret;
}

void vmm_pool_config(struct gmm_pool_config *pc, unsigned nr_vcpus, bool no_pin)
{
	memset(pc, 0, sizeof(*pc));
	/* the pre-zeroing thread goes where no vCPU runs: with no such CPU it
	 * would only take time from vCPUs and fault threads */
	pc->prezero = nr_vcpus < vmm_nr_cpus();
	pc->prezero_cpu = no_pin ? -1 : vmm_vcpu_cpu(nr_vcpus);
	/* one fault thread on each CPU that runs a vCPU */
	pc->nr_fault_threads = MIN(MIN(nr_vcpus, vmm_nr_cpus()), (unsigned)GMM_MAX_FAULT_THREADS);
	for (unsigned i = 0; i < GMM_MAX_FAULT_THREADS; i++)
		pc->fault_cpu[i] = no_pin ? -1 : vmm_vcpu_cpu(i);
}

int vmm_guest_create(const struct vmm_kvm *kvm, const struct vmm_config *cfg,
		     const void *elf, size_t elf_len, struct vmm_guest **out,
		     char *err, size_t errlen)
{
	struct vmm_elf_image img;
	struct vmm_guest *g;
	int ret;

	ret = vm_check_config(kvm, cfg, err, errlen);
	if (ret)
		return ret;
	ret = vmm_elf_parse(elf, elf_len, &img, err, errlen);
	if (ret)
		return ret;
	g = calloc(1, sizeof(*g) + cfg->nr_vcpus * sizeof(g->vcpus[0]));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g->t_create_ns = mv_now_ns();
	g->kvm = kvm;
	g->cfg = *cfg;
	g->img = img;
	g->nr_vcpus = cfg->nr_vcpus;
	g->ram_size = cfg->mem_size;
	g->sys_size = vmm_layout_sys_size(g->ram_size, g->nr_vcpus, &img);
	g->rom_size = vmm_layout_rom_size(&img);
	g->vm_fd = -1;
	for (unsigned i = 0; i < g->nr_vcpus; i++)
		g->vcpus[i].fd = -1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);

	g->vm_fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (g->vm_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM failed: %s", strerror(errno));
		goto err;
	}
	err[0] = '\0';
	ret = vm_setup_memory(g, err, errlen);
	if (!ret)
		ret = vm_setup_mm(g, err, errlen);
	if (ret)
		goto err;
	/* the TSC rate is a vCPU property; the first vCPU supplies it for boot info */
	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		ret = vmm_vcpu_create(g, i, err, errlen);
		if (ret)
			goto err;
	}
	ret = vmm_layout_build(g, elf, err, errlen);
	for (unsigned i = 0; !ret && i < g->nr_vcpus; i++)
		ret = vmm_vcpu_reset(&g->vcpus[i], err, errlen);
	if (!ret)
		ret = gmm_mm_start(g->mm, err, errlen);
	if (ret)
		goto err;
	*out = g;
	return 0;
err:
	vmm_guest_destroy(g);
	return ret;
}

const char *vmm_end_name(enum vmm_end end)
{
	static const char *const names[] = {
		[VMM_END_RUNNING] = "running", [VMM_END_DONE] = "done",
		[VMM_END_ASSERT] = "assert", [VMM_END_CRASH] = "crash", [VMM_END_OOM] = "oom",
		[VMM_END_TIMEOUT] = "timeout", [VMM_END_INTERRUPTED] = "interrupted",
	};
	return names[end];
}

/* Kick every vCPU thread that exists and is not being joined. g->lock held:
 * started only changes under it, so no thread is signalled once the guest's
 * runner has begun to join it (pthread_kill of a joined thread is undefined). */
static void vm_kick_all(struct vmm_guest *g)
{
	for (unsigned i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i].started)
			vmm_vcpu_kick(&g->vcpus[i]);
}

void vmm_guest_end(struct vmm_guest *g, enum vmm_end end, const char *detail,
		   const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g->lock);
	if (g->end == VMM_END_RUNNING) {
		g->end = end;
		va_start(ap, fmt);
		vsnprintf(g->reason, sizeof(g->reason), fmt, ap);
		va_end(ap);
		snprintf(g->detail, sizeof(g->detail), "%s", detail ? detail : "");
	}
	atomic_store(&g->stopping, true);
	vm_kick_all(g);
	pthread_mutex_unlock(&g->lock);
}

void vmm_guest_interrupt(struct vmm_guest *g)
{
	/* signal context: no locks and no kicks (another thread may be joining
	 * the vCPU threads: several guests run on threads of their own); the
	 * guest's waiter notices within 100 ms, turns this into
	 * VMM_END_INTERRUPTED and kicks the vCPUs itself */
	atomic_store(&g->stopping, true);
}

/* A stop nobody gave a reason for came from a signal: end the guest and
 * kick its vCPUs. g->lock held. */
static void vm_note_interrupt(struct vmm_guest *g)
{
	if (atomic_load(&g->stopping) && g->end == VMM_END_RUNNING) {
		g->end = VMM_END_INTERRUPTED;
		snprintf(g->reason, sizeof(g->reason), "guest %s interrupted by a signal", g->cfg.name);
		vm_kick_all(g);
	}
}

static void vm_wait(struct vmm_guest *g)
{
	uint64_t deadline = g->cfg.timeout_ns ? g->t_start_ns + g->cfg.timeout_ns : 0;

	pthread_mutex_lock(&g->lock);
	while (g->nr_running > 0) {
		/* wake at least every 100 ms to notice a signal-driven stop */
		uint64_t now = mv_now_ns(), wake = now + 100000000ULL;
		struct timespec ts;

		if (deadline && now >= deadline) {
			pthread_mutex_unlock(&g->lock);
			vmm_guest_end(g, VMM_END_TIMEOUT, NULL, "guest %s ran past its timeout of %.3f s",
				      g->cfg.name, g->cfg.timeout_ns / 1e9);
			pthread_mutex_lock(&g->lock);
			deadline = 0;
			continue;
		}
		vm_note_interrupt(g);
		if (deadline && deadline < wake)
			wake = deadline;
		ts.tv_sec = wake / 1000000000ULL;
		ts.tv_nsec = wake % 1000000000ULL;
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	/* the kicked vCPUs may all be gone before the loop looked */
	vm_note_interrupt(g);
	if (g->end == VMM_END_RUNNING)
		g->end = VMM_END_DONE;
	pthread_mutex_unlock(&g->lock);
}

int vmm_guest_run(struct vmm_guest *g)
{
	g->t_start_ns = mv_now_ns();
	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		struct vmm_vcpu *v = &g->vcpus[i];

		pthread_mutex_lock(&g->lock);
		g->nr_running++;
		pthread_mutex_unlock(&g->lock);
		if (pthread_create(&v->thread, NULL, vmm_vcpu_thread, v)) {
			pthread_mutex_lock(&g->lock);
			g->nr_running--;
			pthread_mutex_unlock(&g->lock);
			vmm_guest_end(g, VMM_END_CRASH, NULL, "cannot start a thread for vCPU %u", i);
			break;
		}
		pthread_mutex_lock(&g->lock);
		v->started = true;
		/* an end decided before it could be kicked: kick it now */
		if (atomic_load(&g->stopping))
			vmm_vcpu_kick(v);
		pthread_mutex_unlock(&g->lock);
	}
	vm_wait(g);
	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		bool started;

		pthread_mutex_lock(&g->lock);
		started = g->vcpus[i].started;
		g->vcpus[i].started = false;
		pthread_mutex_unlock(&g->lock);
		if (started)
			pthread_join(g->vcpus[i].thread, NULL);
		vmm_console_flush(&g->vcpus[i]);
	}
	/* a fault thread may still be recording a page its vCPU already used:
	 * let it finish, so that the counters read from here on are final */
	gmm_mm_stop(g->mm);
	g->t_end_ns = mv_now_ns();
	return vmm_guest_exit_status(g);
}

int vmm_guest_exit_status(const struct vmm_guest *g)
{
	switch (g->end) {
	case VMM_END_DONE:        return g->exit_code & 0xff;
	case VMM_END_ASSERT:      return VMM_EXIT_ASSERT;
	case VMM_END_OOM:         return VMM_EXIT_OOM;
	case VMM_END_TIMEOUT:     return VMM_EXIT_TIMEOUT;
	case VMM_END_INTERRUPTED: return VMM_EXIT_INTERRUPTED;
	default:                  return VMM_EXIT_CRASH;
	}
}

void vmm_guest_stats(const struct vmm_guest *g, struct vmm_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		const struct vmm_stats *s = &g->vcpus[i].stats;

		for (unsigned r = 0; r < VMM_NR_EXIT_REASONS; r++)
			sum->exits[r] += s->exits[r];
		for (unsigned h = 0; h < VMM_NR_HCALLS; h++)
			sum->hcalls[h] += s->hcalls[h];
		sum->console_bytes += s->console_bytes;
	}
}

void vmm_guest_release(struct vmm_guest *g)
{
	if (!g->mm || !g->cfg.pool || __atomic_load_n(&g->released, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&g->mm->lock);
	g->end_rss = g->mm->rss;
	g->end_swap = g->mm->swap_ents;
	pthread_mutex_unlock(&g->mm->lock);
	/* before the memory goes: a summary read meanwhile tells the end */
	__atomic_store_n(&g->released, true, __ATOMIC_RELEASE);
	gmm_mm_release(g->mm);
}

void vmm_guest_mem_at_end(const struct vmm_guest *g, uint64_t *rss, uint64_t *swap_ents)
{
	if (__atomic_load_n(&g->released, __ATOMIC_ACQUIRE)) {
		*rss = g->end_rss;
		*swap_ents = g->end_swap;
		return;
	}
	pthread_mutex_lock(&g->mm->lock);
	*rss = g->mm->rss;
	*swap_ents = g->mm->swap_ents;
	pthread_mutex_unlock(&g->mm->lock);
}

void vmm_guest_destroy(struct vmm_guest *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->nr_vcpus; i++)
		vmm_vcpu_destroy(&g->vcpus[i]);
	if (g->vm_fd >= 0)
		close(g->vm_fd);
	/* frames go back to the pool before the RAM mapping goes */
	gmm_mm_destroy(g->mm);
	if (g->ram)
		munmap(g->ram, g->ram_size);
	if (g->sys)
		munmap(g->sys, g->sys_size);
	if (g->rom)
		munmap(g->rom, g->rom_size);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
