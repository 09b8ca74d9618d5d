// SPDX-License-Identifier: MIT
/* memvisor run's stop signals: caught first, held during set-up, and
 * turned into interrupting every guest that runs. */
#include "run.h"

#include <signal.h>
#include <stdatomic.h>

/*
 * SIGINT, SIGTERM and SIGHUP end the run as interrupted (130), whenever they
 * come. The handlers are the first thing memvisor run sets up, and the
 * signals are blocked from then until the guest exists: a signal during
 * set-up is held, so that it fails no system call with EINTR (KVM_CREATE_VM
 * would), and is noticed between the set-up steps (the run ends before the
 * guest starts) or, at the latest, delivered the moment the guest is
 * attached. Threads made during set-up (fault threads, kswapd, pre-zeroing)
 * inherit the block and never run the handler. A handler that sees the guest
 * finishes before it goes: on the main thread at once, and on a vCPU thread
 * before vmm_guest_run has joined it and run_current is cleared.
 */
static _Atomic(struct vmm_guest *) run_current[CLI_MAX_GUESTS];
static atomic_bool run_stop;

static const int run_stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void run_on_signal(int sig)
{
	(void)sig;
	atomic_store(&run_stop, true);
	for (unsigned i = 0; i < CLI_MAX_GUESTS; i++) {
		struct vmm_guest *g = atomic_load(&run_current[i]);

		if (g)
			vmm_guest_interrupt(g);
	}
}

/* The store comes before the look at run_stop and the handler sets
 * run_stop before it looks at the slots: one of the two sees the other. */
void run_attach(unsigned slot, struct vmm_guest *g)
{
	atomic_store(&run_current[slot], g);
	if (atomic_load(&run_stop))
		vmm_guest_interrupt(g);
}

void run_detach(unsigned slot)
{
	atomic_store(&run_current[slot], NULL);
}

bool run_stopped(void)
{
	return atomic_load(&run_stop);
}

static void run_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < ARRAY_SIZE(run_stop_signals); i++)
		sigaddset(set, run_stop_signals[i]);
}

void run_catch_signals(void)
{
	/* SA_RESTART: a signal after set-up does not fail the main thread's calls */
	struct sigaction sa = { .sa_handler = run_on_signal, .sa_flags = SA_RESTART };
	sigset_t set;

	run_signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sa.sa_mask = set;
	for (size_t i = 0; i < ARRAY_SIZE(run_stop_signals); i++)
		sigaction(run_stop_signals[i], &sa, NULL);
}

bool run_signal_pending(void)
{
	sigset_t pending;
	bool held = false;

	if (sigpending(&pending))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(run_stop_signals); i++)
		held |= sigismember(&pending, run_stop_signals[i]) == 1;
	return held;
}

void run_unblock_signals(void)
{
	sigset_t set;

	run_signal_set(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}
