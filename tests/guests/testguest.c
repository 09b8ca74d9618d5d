// SPDX-License-Identifier: MIT
/* testguest --mode MODE: one behaviour per mode, good and bad, for the tests. */
#include "mv.h"

static volatile uint64_t arrived;
static volatile uint64_t *volatile null_target = (volatile uint64_t *)0x10;

static volatile int depth_limit = 1 << 30; /* never reached: the guard page is */

static int recurse(int n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	if (n == depth_limit)
		return 0;
	return recurse(n + 1) + pad[0];
}

static int smp(void)
{
	unsigned n = mv_ncpus();

	__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < n)
		mv_pause();
	mv_printf("vCPU %u of %u passed the barrier\n", mv_cpu(), n);
	mv_report("cpu", mv_cpu());
	return 0;
}

static void bad_port(void)
{
	__asm__ volatile("outb %%al, $0x80" : : "a"(0));
}

static void bad_hcall(void)
{
	__asm__ volatile("outl %%eax, %[port]" : : "a"(99), [port] "i"(MV_PORT_HCALL));
}

int main(int argc, char **argv)
{
	static const char *const known[] = { "mode", "code", "passes", NULL };
	const char *mode = mv_opt(argc, argv, "mode");

	mv_opts_check(argc, argv, known);
	if (!mode)
		mode = "exit";
	if (!strcmp(mode, "exit"))
		return (int)mv_opt_u64(argc, argv, "code", 0);
	if (!strcmp(mode, "assert")) {
		mv_printf("about to fail\n");
		MV_ASSERT(mv_ncpus() == 1000);
	}
	if (!strcmp(mode, "null"))
		*null_target = 1;
	if (!strcmp(mode, "beyond")) /* one byte past the end of guest RAM */
		*(volatile uint8_t *)(mv_ram() + mv_ram_size()) = 1;
	if (!strcmp(mode, "rom")) /* write to our own code */
		*(volatile uint8_t *)(uintptr_t)main = 0xcc;
	if (!strcmp(mode, "mmio"))
		return (int)*(volatile uint64_t *)(MV_MMIO_GVA + 0x40);
	if (!strcmp(mode, "zero")) { /* every word of RAM must read zero on first touch */
		uint64_t nonzero = 0;

		for (uint64_t *p = (uint64_t *)mv_ram(); p < (uint64_t *)(mv_ram() + mv_ram_size()); p++)
			nonzero += *p != 0;
		mv_report("nonzero_words", nonzero);
		return nonzero != 0;
	}
	if (!strcmp(mode, "cleanread")) { /* write every page once, then only read it */
		static const char *const ok[] = { "mode", "passes", NULL };
		uint64_t passes = mv_opt_u64(argc, argv, "passes", 2), bad = 0;
		uint64_t *w = (uint64_t *)mv_ram(), n = mv_ram_size() / 8;

		(void)ok;
		for (uint64_t i = 0; i < n; i++)
			w[i] = mv_hash64(i);
		for (uint64_t p = 0; p < passes; p++)
			for (uint64_t i = 0; i < n; i++)
				bad += w[i] != mv_hash64(i);
		mv_report("mismatches", bad);
		return bad != 0;
	}
	if (!strcmp(mode, "stack"))
		return recurse(0);
	if (!strcmp(mode, "badptr"))
		mv_write((const char *)0x7000000000ULL, 16);
	if (!strcmp(mode, "badkey"))
		mv_report("no spaces allowed", 1);
	if (!strcmp(mode, "port"))
		bad_port();
	if (!strcmp(mode, "hcall"))
		bad_hcall();
	if (!strcmp(mode, "spin")) {
		mv_printf("spinning\n");
		for (;;)
			mv_pause();
	}
	if (!strcmp(mode, "sync")) {
		for (uint64_t s = 1; s <= 3; s++)
			mv_sync(s);
		return 0;
	}
	if (!strcmp(mode, "smp"))
		return smp();
	if (!strcmp(mode, "partial")) { /* text without a newline still reaches the console */
		mv_write("no newline", 10);
		return 0;
	}
	mv_printf("testguest: unknown mode '%s'\n", mode);
	return 3;
}
