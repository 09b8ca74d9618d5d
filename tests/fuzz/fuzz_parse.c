// SPDX-License-Identifier: MIT
/*
 * Fuzz target: command-line values (vmm/cli/parse.c). The first byte picks the
 * parser, the rest is the string (up to its first NUL). Each parser is held
 * to a reference written the plain way, in 128-bit arithmetic that cannot
 * overflow: same verdict, same error, same value. A second half of the
 * target prints a value with a unit and checks that it parses back, so the
 * accepting paths are fuzzed as hard as the refusing ones, and formats
 * sizes into buffers of every length.
 */
#include "fuzz.h"

#include "vmm/escape.h"
#include "vmm/cli/parse.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

__extension__ typedef unsigned __int128 u128;

#define CAP ((u128)1 << 80)    /* saturate: out of range anyway, and CAP << 40 still fits */

/* Leading digits (saturating at CAP); how many, in *n. */
static u128 ref_digits(const char *s, size_t *n)
{
	u128 v = 0;

	for (*n = 0; isdigit((unsigned char)s[*n]); (*n)++) {
		v = v * 10 + (u128)(s[*n] - '0');
		if (v > CAP)
			v = CAP;
	}
	return v;
}

static int ref_size(const char *s, uint64_t *out)
{
	static const char *const units[] = { "", "b", "k", "kb", "kib", "m", "mb", "mib",
					     "g", "gb", "gib", "t", "tb", "tib" };
	static const unsigned shifts[] = { 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40 };
	size_t n;
	u128 v = ref_digits(s, &n);

	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(s + n, units[i]))
			continue;
		v <<= shifts[i];
		if (v > UINT64_MAX)
			return -ERANGE;
		*out = (uint64_t)v;
		return 0;
	}
	/* a number too long for 64 bits is out of range before its unit is looked at */
	return v > UINT64_MAX ? -ERANGE : -EINVAL;
}

static int ref_duration(const char *s, uint64_t *out)
{
	static const char *const units[] = { "", "s", "ms", "us", "m", "min" };
	static const uint64_t scales[] = { 1000000000ULL, 1000000000ULL, 1000000ULL, 1000ULL,
					   60000000000ULL, 60000000000ULL };
	size_t n, k = 0;
	u128 whole = ref_digits(s, &n), frac = 0, div = 1;

	if (!n)
		return -EINVAL;
	s += n;
	if (*s == '.') {
		/* nanosecond resolution: nine digits of fraction count, the rest are dropped */
		for (s++; isdigit((unsigned char)*s); s++, k++)
			if (k < 9) {
				frac = frac * 10 + (u128)(*s - '0');
				div *= 10;
			}
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(s, units[i]))
			continue;
		u128 ns = whole * scales[i] + frac * scales[i] / div;

		if (whole > UINT64_MAX || ns > UINT64_MAX)
			return -ERANGE;
		*out = (uint64_t)ns;
		return 0;
	}
	return whole > UINT64_MAX ? -ERANGE : -EINVAL;
}

static int ref_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t n;
	u128 v = ref_digits(s, &n);

	if (!n)
		return -EINVAL;
	if (v > UINT64_MAX)
		return -ERANGE;
	if (s[n])
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

typedef int (*parse_fn)(const char *s, uint64_t *out);

static void compare(const char *what, const char *s, int got, uint64_t v, int want, uint64_t w)
{
	FZ_CHECK(got == want, "%s(\"%s\") = %d, the reference says %d", what, s, got, want);
	FZ_CHECK(got || v == w, "%s(\"%s\") = %llu, the reference says %llu", what, s,
		 FZ_ULL(v), FZ_ULL(w));
}

static void fuzz_string(unsigned which, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0, w = 0;
	int got, want;

	switch (which % 3) {
	case 0:
		got = cli_parse_size(s, &v);
		want = ref_size(s, &w);
		compare("cli_parse_size", s, got, v, want, w);
		break;
	case 1:
		got = cli_parse_duration(s, &v);
		want = ref_duration(s, &w);
		compare("cli_parse_duration", s, got, v, want, w);
		break;
	default:
		got = cli_parse_uint(s, min, max, &v);
		want = ref_uint(s, min, max, &w);
		compare("cli_parse_uint", s, got, v, want, w);
		break;
	}
}

/* A value printed with a unit must parse back to value << shift. */
static void fuzz_roundtrip(struct fz *f)
{
	static const char *const units[] = { "", "K", "kib", "M", "mB", "G", "GiB", "t" };
	static const unsigned shifts[] = { 0, 10, 10, 20, 20, 30, 30, 40 };
	unsigned u = (unsigned)fz_below(f, ARRAY_SIZE(units));
	uint64_t v = fz_u64(f) >> fz_below(f, 64), got = 0;
	char buf[64];
	int ret;

	snprintf(buf, sizeof(buf), "%llu%s", FZ_ULL(v), units[u]);
	ret = cli_parse_size(buf, &got);
	if (v > UINT64_MAX >> shifts[u]) {
		FZ_CHECK(ret == -ERANGE, "cli_parse_size(\"%s\") = %d, want -ERANGE", buf, ret);
		return;
	}
	FZ_CHECK(ret == 0 && got == v << shifts[u], "cli_parse_size(\"%s\") = %d, %llu", buf, ret,
		 FZ_ULL(got));
}

/* cli_format_size into a buffer of any length: terminated, never past it. */
static void fuzz_format(struct fz *f)
{
	unsigned len = (unsigned)fz_below(f, 24);
	uint64_t v = fz_u64(f) >> fz_below(f, 64);
	char *buf = malloc(len ? len : 1);

	FZ_CHECK(buf, "out of memory");
	cli_format_size(v, buf, len);
	if (len)
		FZ_CHECK(strnlen(buf, len) < len, "cli_format_size left %u bytes unterminated", len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	unsigned which = fz_u8(&f);
	char *s;

	if (which >= 0xf0) {
		fuzz_roundtrip(&f);
		fuzz_format(&f);
		return 0;
	}
	uint64_t min = which % 3 == 2 ? fz_u8(&f) : 0;
	uint64_t max = which % 3 == 2 ? UINT64_MAX >> fz_below(&f, 64) : 0;

	s = malloc(f.n + 1); /* exactly the string: ASan sees any read past its end */
	FZ_CHECK(s, "out of memory");
	memcpy(s, f.p, f.n);
	s[f.n] = '\0';
	fuzz_string(which, s, min, max);
	free(s);
	return 0;
}
