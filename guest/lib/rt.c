// SPDX-License-Identifier: MIT
/* Runtime core: start-up, hypercalls, and the pieces of libc the compiler expects. */
#include "mv.h"

static const struct mv_bootinfo *boot;

void mv_rt_start(uint64_t cpu, const struct mv_bootinfo *bi);

static inline void hcall(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	__asm__ volatile("outl %%eax, %[port]"
			 : : "a"(nr), [port] "i"(MV_PORT_HCALL), "D"(a0), "S"(a1), "d"(a2)
			 : "memory");
}

void mv_rt_start(uint64_t cpu, const struct mv_bootinfo *bi)
{
	(void)cpu; /* mv_cpu() reads it from the percpu page */
	boot = bi;
	if (bi->magic != MV_BOOTINFO_MAGIC || bi->version != MV_BOOTINFO_VERSION)
		mv_assert_fail(__FILE__, __LINE__, "boot info has a bad magic or version");
	mv_done(main((int)bi->argc, (char **)bi->argv));
}

void mv_done(int code)
{
	mv_flush();
	hcall(MV_HC_DONE, (uint64_t)(uint32_t)code, 0, 0);
	for (;;)
		__asm__ volatile("ud2"); /* memvisor never resumes a vCPU after done */
}

void mv_assert_fail(const char *file, int line, const char *msg)
{
	mv_flush();
	hcall(MV_HC_ASSERT, (uint64_t)file, (uint64_t)line, (uint64_t)msg);
	for (;;)
		__asm__ volatile("ud2");
}

void mv_sync(uint64_t stage) { hcall(MV_HC_SYNC, stage, 0, 0); }
void mv_report(const char *key, uint64_t value) { hcall(MV_HC_REPORT, (uint64_t)key, value, 0); }
void mv_write(const char *buf, size_t len) { hcall(MV_HC_WRITE, (uint64_t)buf, len, 0); }
void mv_free_pages(void *addr, uint64_t len) { hcall(MV_HC_FREE, (uint64_t)addr, len, 0); }

const struct mv_bootinfo *mv_boot(void) { return boot; }

unsigned mv_cpu(void)
{
	unsigned v;

	__asm__("movl %%fs:0, %0" : "=r"(v));
	return v;
}

unsigned mv_ncpus(void) { return boot->nr_vcpus; }
uint8_t *mv_ram(void) { return (uint8_t *)boot->ram_gva; }
uint64_t mv_ram_size(void) { return boot->ram_size; }

uint64_t mv_ns(void)
{
	uint64_t t = mv_rdtsc();

	if (!boot->tsc_khz)
		return 0;
	/* split to avoid overflow: t * 1e6 / khz */
	return t / boot->tsc_khz * 1000000 + t % boot->tsc_khz * 1000000 / boot->tsc_khz;
}

void *memset(void *d, int c, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dd = d;
	const unsigned char *ss = s;

	if (dd <= ss || dd >= ss + n)
		return memcpy(d, s, n);
	while (n--)
		dd[n] = ss[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}
