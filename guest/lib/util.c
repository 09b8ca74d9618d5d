// SPDX-License-Identifier: MIT
/* Guest utilities: a PRNG, hashing, and argument parsing. */
#include "mv.h"
#include "pattern.h"

/* The PRNG, the hash and the series are pattern.c's: one copy of each,
 * shared with memvisor-touch-host so both draw the same numbers. */
uint64_t mv_hash64(uint64_t x) /* splitmix64's finalizer: a bijection, well mixed */
{
	return pat_hash64(x);
}

void mv_rng_seed(struct mv_rng *r, uint64_t seed)
{
	struct pat_rng p;

	pat_rng_seed(&p, seed);
	r->s = p.s;
}

uint64_t mv_rng_next(struct mv_rng *r)
{
	struct pat_rng p = { r->s };
	uint64_t x = pat_rng_next(&p);

	r->s = p.s;
	return x;
}

uint64_t mv_rng_below(struct mv_rng *r, uint64_t n)
{
	/* Lemire's multiply-shift; the bias is below 2^-32 for the n used here */
	__extension__ typedef unsigned __int128 u128;

	return (uint64_t)(((u128)mv_rng_next(r) * n) >> 64);
}

static const char *opt_match(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (arg[0] != '-' || arg[1] != '-' || strncmp(arg + 2, name, n) != 0)
		return NULL;
	return arg + 2 + n; /* "" or "=value" or something longer (no match) */
}

const char *mv_opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++) {
		const char *rest = opt_match(argv[i], name);

		if (!rest)
			continue;
		if (*rest == '=')
			return rest + 1;
		if (*rest == '\0' && i + 1 < argc)
			return argv[i + 1];
	}
	return NULL;
}

bool mv_flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++) {
		const char *rest = opt_match(argv[i], name);

		if (rest && *rest == '\0')
			return true;
	}
	return false;
}

void mv_opts_check(int argc, char **argv, const char *const *known)
{
	for (int i = 0; i < argc; i++) {
		bool ok = false;

		for (const char *const *k = known; *k && !ok; k++) {
			const char *rest = opt_match(argv[i], *k + (**k == '!'));

			if (!rest || (*rest && *rest != '='))
				continue;
			if (**k == '!' && *rest == '=') {
				/* mv_flag would not see it: the run would go on without it */
				mv_printf("guest argument '%s': --%s takes no value\n", argv[i], *k + 1);
				mv_done(2);
			}
			ok = true;
			/* names without '!' take a value: skip it when it is separate */
			if (**k != '!' && *rest == '\0')
				i++;
		}
		if (!ok) {
			mv_printf("unknown guest argument '%s'\n", argv[i]);
			mv_done(2);
		}
	}
}

int mv_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int mv_parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = 0;
	unsigned shift = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < sizeof(num) - 1) {
		num[n] = s[n];
		n++;
	}
	num[n] = '\0';
	switch (s[n]) {
	case 'k': case 'K': shift = 10; n++; break;
	case 'm': case 'M': shift = 20; n++; break;
	case 'g': case 'G': shift = 30; n++; break;
	case '\0': break;
	default: return -1;
	}
	if (s[n] != '\0' || mv_parse_u64(num, out) || (*out >> (64 - shift - (shift == 0))) != 0)
		return -1;
	*out <<= shift;
	return 0;
}

static uint64_t opt_value(int argc, char **argv, const char *name, uint64_t def,
			  int (*parse)(const char *, uint64_t *))
{
	const char *s = mv_opt(argc, argv, name);
	uint64_t v;

	if (!s)
		return def;
	if (parse(s, &v)) {
		mv_printf("bad value '%s' for --%s\n", s, name);
		mv_done(2);
	}
	return v;
}

uint64_t mv_opt_size(int argc, char **argv, const char *name, uint64_t def)
{
	return opt_value(argc, argv, name, def, mv_parse_size);
}

uint64_t mv_opt_u64(int argc, char **argv, const char *name, uint64_t def)
{
	return opt_value(argc, argv, name, def, mv_parse_u64);
}

/* log2 and exp2 in double, from series: enough for sampling, no libm needed. */
double mv_log2(double x)
{
	return pat_log2(x);
}

double mv_exp2(double y)
{
	return pat_exp2(y);
}
