/* SPDX-License-Identifier: MIT */
/*
 * The tiny-guest runtime. A guest provides main(argc, argv), which runs on
 * every vCPU (mv_cpu() tells which); returning ends that vCPU with the value
 * as its exit code. The guest ends when every vCPU has ended.
 */
#ifndef MV_GUEST_H
#define MV_GUEST_H

#include "memvisor/abi.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int main(int argc, char **argv);

/* hypercalls */
__attribute__((noreturn)) void mv_done(int code);
__attribute__((noreturn)) void mv_assert_fail(const char *file, int line, const char *msg);
void mv_sync(uint64_t stage);
void mv_report(const char *key, uint64_t value);
void mv_write(const char *buf, size_t len);
/* Report [addr, addr + len) of RAM (page-aligned) free: memvisor takes its
 * memory back, and the next access to any of it reads zeros. */
void mv_free_pages(void *addr, uint64_t len);

#define MV_ASSERT(cond) \
	do { if (!(cond)) mv_assert_fail(__FILE__, __LINE__, "assertion '" #cond "' failed"); } while (0)

/* where we are */
const struct mv_bootinfo *mv_boot(void);
unsigned mv_cpu(void);
unsigned mv_ncpus(void);
uint8_t *mv_ram(void);
uint64_t mv_ram_size(void);

/* console: text is sent a line at a time */
int mv_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int mv_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int mv_snprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void mv_puts(const char *s);
void mv_flush(void);

/* time */
static inline uint64_t mv_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
uint64_t mv_ns(void); /* since boot, from the TSC; 0 if its rate is unknown */

/* a small PRNG: xorshift64* seeded through splitmix64 */
struct mv_rng { uint64_t s; };
void mv_rng_seed(struct mv_rng *r, uint64_t seed);
uint64_t mv_rng_next(struct mv_rng *r);
uint64_t mv_rng_below(struct mv_rng *r, uint64_t n);
uint64_t mv_hash64(uint64_t x);
double mv_log2(double x);
double mv_exp2(double y);

/* arguments: --name=value, --name value, and bare --flag */
const char *mv_opt(int argc, char **argv, const char *name);
bool mv_flag(int argc, char **argv, const char *name);
/* Exit with a message and code 2 on an argument not in known (NULL-ended). */
void mv_opts_check(int argc, char **argv, const char *const *known);
int mv_parse_u64(const char *s, uint64_t *out);
int mv_parse_size(const char *s, uint64_t *out); /* K/M/G suffixes */
/* Parse option name as a size/number, or use def; exit 2 with a message if malformed. */
uint64_t mv_opt_size(int argc, char **argv, const char *name, uint64_t def);
uint64_t mv_opt_u64(int argc, char **argv, const char *name, uint64_t def);

/* freestanding libc bits the compiler may call */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

static inline void mv_pause(void) { __asm__ volatile("pause"); }

#endif
