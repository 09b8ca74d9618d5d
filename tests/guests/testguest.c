// SPDX-License-Identifier: MIT
/* testguest --mode MODE: one behaviour per mode, good and bad, for the tests. */
#include "mv.h"

static volatile uint64_t arrived;
static volatile uint64_t *volatile null_target = (volatile uint64_t *)0x10;
static volatile uint64_t *volatile zero_target = (volatile uint64_t *)0;

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
	static const char *const known[] = { "mode", "code", "passes", "touch", NULL };
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
	if (!strcmp(mode, "hcall-untouched")) { /* fill the pool, then hand memvisor an untouched page */
		uint64_t touch = mv_opt_size(argc, argv, "touch", mv_ram_size() / 2);
		const char *untouched = (const char *)mv_ram() + mv_ram_size() - 4096;

		for (uint64_t off = 0; off < touch && off < mv_ram_size() - 4096; off += 4096)
			mv_ram()[off] = 1;
		mv_write(untouched, 16);
		return 0;
	}
	if (!strcmp(mode, "stages")) { /* write, let the host act, verify: as the KVM selftests do */
		uint64_t *w = (uint64_t *)mv_ram(), n = mv_ram_size() / 8, bad = 0;

		for (uint64_t i = 0; i < n; i += 512 / 8)
			w[i] = mv_hash64(i) | 1;
		mv_sync(1);
		for (uint64_t i = 0; i < n; i += 512 / 8)
			bad += w[i] != (mv_hash64(i) | 1);
		mv_report("mismatches", bad);
		mv_sync(2);
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
	if (!strcmp(mode, "null0")) /* address 0 itself */
		*zero_target = 1;
	if (!strcmp(mode, "ud")) /* an exception other than a page fault */
		__asm__ volatile("ud2");
	if (!strcmp(mode, "evilconsole")) { /* terminal controls, raw and UTF-8, and good UTF-8 */
		static const char text[] = "red\x1b[31m csi\x9b" "2J utf8csi\xc2\x9b" "2J del\x7f "
					   "nul\0 bell\x07 ok:\xc3\xa9\xe2\x82\xac\n";

		mv_write(text, sizeof(text) - 1);
		mv_write("split \xc2", 7); /* a UTF-8 CSI over two writes */
		mv_write("\x9b" "2J end\n", 7);
		return 0;
	}
	if (!strcmp(mode, "evilassert")) /* strings that would forge a memvisor line */
		mv_assert_fail("evil.c\nmemvisor: forged file line\x1b[2J", 7,
			       "boom\r\nmemvisor: forged message line \x9b" "31m \xc2\x9b" "31m\x7f");
	mv_printf("testguest: unknown mode '%s'\n", mode);
	return 3;
}
