// SPDX-License-Identifier: MIT
/* Unit tests for command-line value parsing (vmm/cli/parse.c). */
#include <criterion/criterion.h>

#include "vmm/escape.h"
#include "vmm/cli/parse.h"
#include "vmm/cli/guest_spec.h"

#include <errno.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	int ret = cli_parse_size(s, &v);

	cr_assert_eq(ret, 0, "cli_parse_size(\"%s\") = %d", s, ret);
	cr_assert_eq(v, want, "cli_parse_size(\"%s\") gave %llu, want %llu", s,
		     (unsigned long long)v, (unsigned long long)want);
}

static void size_bad(const char *s, int want)
{
	uint64_t v = SENTINEL;
	int ret = cli_parse_size(s, &v);

	cr_assert_eq(ret, want, "cli_parse_size(\"%s\") = %d, want %d", s ? s : "(null)", ret, want);
	cr_assert_eq(v, SENTINEL, "cli_parse_size(\"%s\") wrote its output on failure", s ? s : "(null)");
}

static void dur_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	int ret = cli_parse_duration(s, &v);

	cr_assert_eq(ret, 0, "cli_parse_duration(\"%s\") = %d", s, ret);
	cr_assert_eq(v, want, "cli_parse_duration(\"%s\") gave %llu ns, want %llu", s,
		     (unsigned long long)v, (unsigned long long)want);
}

static void dur_bad(const char *s, int want)
{
	uint64_t v = SENTINEL;
	int ret = cli_parse_duration(s, &v);

	cr_assert_eq(ret, want, "cli_parse_duration(\"%s\") = %d, want %d (value %llu)",
		     s ? s : "(null)", ret, want, (unsigned long long)v);
	cr_assert_eq(v, SENTINEL, "cli_parse_duration(\"%s\") wrote its output on failure",
		     s ? s : "(null)");
}

static void uint_ok(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = SENTINEL;
	int ret = cli_parse_uint(s, min, max, &v);

	cr_assert_eq(ret, 0, "cli_parse_uint(\"%s\", %llu, %llu) = %d", s,
		     (unsigned long long)min, (unsigned long long)max, ret);
	cr_assert_eq(v, want, "cli_parse_uint(\"%s\") gave %llu", s, (unsigned long long)v);
}

static void uint_bad(const char *s, uint64_t min, uint64_t max, int want)
{
	uint64_t v = SENTINEL;
	int ret = cli_parse_uint(s, min, max, &v);

	cr_assert_eq(ret, want, "cli_parse_uint(\"%s\", %llu, %llu) = %d, want %d",
		     s ? s : "(null)", (unsigned long long)min, (unsigned long long)max, ret, want);
	cr_assert_eq(v, SENTINEL, "cli_parse_uint(\"%s\") wrote its output on failure",
		     s ? s : "(null)");
}

static void fmt_is(uint64_t bytes, const char *want)
{
	char buf[64];

	memset(buf, 'x', sizeof(buf));
	cli_format_size(bytes, buf, sizeof(buf));
	cr_assert_str_eq(buf, want, "cli_format_size(%llu) = \"%s\", want \"%s\"",
			 (unsigned long long)bytes, buf, want);
}

/* ---- sizes ---- */

Test(parse, size_plain_bytes)
{
	size_ok("0", 0);
	size_ok("1", 1);
	size_ok("4096", 4096);
	size_ok("007", 7);
	size_ok("4096b", 4096);
	size_ok("4096B", 4096);
	size_ok("123456789012", 123456789012ULL);
}

Test(parse, size_kilo)
{
	size_ok("1k", 1024);
	size_ok("1K", 1024);
	size_ok("512k", 512 * 1024);
	size_ok("3kb", 3 * 1024);
	size_ok("3KB", 3 * 1024);
	size_ok("3Kb", 3 * 1024);
	size_ok("4kib", 4096);
	size_ok("4KiB", 4096);
	size_ok("4KIB", 4096);
}

Test(parse, size_mega)
{
	size_ok("64M", 64ULL << 20);
	size_ok("64m", 64ULL << 20);
	size_ok("64MB", 64ULL << 20);
	size_ok("64mb", 64ULL << 20);
	size_ok("64MiB", 64ULL << 20);
	size_ok("64mib", 64ULL << 20);
	size_ok("0M", 0);
}

Test(parse, size_giga)
{
	size_ok("1G", 1ULL << 30);
	size_ok("2g", 2ULL << 30);
	size_ok("2GB", 2ULL << 30);
	size_ok("2GiB", 2ULL << 30);
	size_ok("2gIb", 2ULL << 30);
	size_ok("128G", 128ULL << 30);
}

Test(parse, size_tera)
{
	size_ok("1T", 1ULL << 40);
	size_ok("3t", 3ULL << 40);
	size_ok("3TB", 3ULL << 40);
	size_ok("3TiB", 3ULL << 40);
	size_ok("3tib", 3ULL << 40);
}

Test(parse, size_largest_values)
{
	size_ok("16777215T", ((1ULL << 24) - 1) << 40);
	size_ok("17179869183G", ((1ULL << 34) - 1) << 30);
	size_ok("17592186044415M", ((1ULL << 44) - 1) << 20);
	size_ok("18014398509481983K", ((1ULL << 54) - 1) << 10);
	size_ok("18446744073709551609", 18446744073709551609ULL);
}

Test(parse, size_overflow)
{
	size_bad("16777216T", -ERANGE);         /* 2^64 */
	size_bad("17179869184G", -ERANGE);      /* 2^64 */
	size_bad("17592186044416M", -ERANGE);   /* 2^64 */
	size_bad("18014398509481984K", -ERANGE); /* 2^64 */
	size_bad("99999999999T", -ERANGE);
	size_bad("18446744073709551616", -ERANGE);  /* 2^64 */
	size_bad("99999999999999999999", -ERANGE);
	size_bad("999999999999999999999999999999", -ERANGE);
	size_bad("99999999999999999999K", -ERANGE);
}

/* Regression: the overflow guard accounts for the digit being added, so
 * values up to UINT64_MAX parse. */
Test(parse, size_uint64_max)
{
	size_ok("18446744073709551615", UINT64_MAX);
	size_ok("18446744073709551610", 18446744073709551610ULL);
}

Test(parse, size_garbage)
{
	size_bad("", -EINVAL);
	size_bad("M", -EINVAL);
	size_bad("KiB", -EINVAL);
	size_bad("12Q", -EINVAL);
	size_bad("-1", -EINVAL);
	size_bad("+1", -EINVAL);
	size_bad(" 5", -EINVAL);
	size_bad("5 ", -EINVAL);
	size_bad("5 M", -EINVAL);
	size_bad("1.5G", -EINVAL);
	size_bad("0x10", -EINVAL);
	size_bad("5MM", -EINVAL);
	size_bad("5ib", -EINVAL);
	size_bad("5KiBx", -EINVAL);
	size_bad("5P", -EINVAL);
	size_bad("5Mi", -EINVAL);
	size_bad("64M\n", -EINVAL);
	size_bad(NULL, -EINVAL);
}

/* ---- durations ---- */

Test(parse, duration_seconds)
{
	dur_ok("0", 0);
	dur_ok("10", 10ULL * 1000000000);
	dur_ok("10s", 10ULL * 1000000000);
	dur_ok("10S", 10ULL * 1000000000);
	dur_ok("1.5s", 1500000000ULL);
	dur_ok("1.5", 1500000000ULL);
	dur_ok("0.25s", 250000000ULL);
	dur_ok("2.000000001s", 2000000001ULL);
	dur_ok("0.000000001s", 1);
	dur_ok("3.1415926535s", 3141592653ULL); /* digits past ns precision dropped */
}

Test(parse, duration_sub_second)
{
	dur_ok("500ms", 500000000ULL);
	dur_ok("500MS", 500000000ULL);
	dur_ok("1.5ms", 1500000ULL);
	dur_ok("0.25ms", 250000ULL);
	dur_ok("100us", 100000ULL);
	dur_ok("100US", 100000ULL);
	dur_ok("1.5us", 1500ULL);
	dur_ok("0.001ms", 1000ULL);
}

Test(parse, duration_minutes)
{
	dur_ok("2m", 120ULL * 1000000000);
	dur_ok("2M", 120ULL * 1000000000);
	dur_ok("2min", 120ULL * 1000000000);
	dur_ok("1.5m", 90ULL * 1000000000);
	dur_ok("0.5min", 30ULL * 1000000000);
}

Test(parse, duration_largest_values)
{
	dur_ok("18446744073s", 18446744073ULL * 1000000000);
	dur_ok("18446744073709ms", 18446744073709ULL * 1000000);
	dur_ok("18446744073709551us", 18446744073709551ULL * 1000);
	dur_ok("307445734m", 307445734ULL * 60000000000ULL);
}

Test(parse, duration_overflow)
{
	dur_bad("18446744074", -ERANGE);
	dur_bad("18446744074s", -ERANGE);
	dur_bad("18446744073710ms", -ERANGE);
	dur_bad("18446744073709552us", -ERANGE);
	dur_bad("307445735m", -ERANGE);
	dur_bad("99999999999999999999", -ERANGE);
	dur_bad("99999999999999999999ms", -ERANGE);
}

/* Regression: whole * scale + fraction is range-checked as a whole;
 * "18446744073.9s" is more nanoseconds than fit. */
Test(parse, duration_fraction_overflow)
{
	dur_bad("18446744073.9s", -ERANGE);
	dur_bad("307445734.9m", -ERANGE);
}

/* Regression: fractional digits finer than the unit's nanoseconds are kept
 * up to truncation: "1.0625us" is 1062 ns. */
Test(parse, duration_fraction_precision)
{
	dur_ok("1.0625us", 1062);
	dur_ok("1.9999us", 1999);
	dur_ok("0.5555us", 555);
}

Test(parse, duration_bad_units)
{
	dur_bad("", -EINVAL);
	dur_bad("s", -EINVAL);
	dur_bad("ms", -EINVAL);
	dur_bad(".5s", -EINVAL);
	dur_bad("-1", -EINVAL);
	dur_bad(" 5", -EINVAL);
	dur_bad("5 s", -EINVAL);
	dur_bad("5s ", -EINVAL);
	dur_bad("10x", -EINVAL);
	dur_bad("10h", -EINVAL);
	dur_bad("10ns", -EINVAL);
	dur_bad("10sec", -EINVAL);
	dur_bad("10mins", -EINVAL);
	dur_bad("1.5.5s", -EINVAL);
	dur_bad("1,5s", -EINVAL);
	dur_bad("1e3", -EINVAL);
	dur_bad("1.5G", -EINVAL);
	dur_bad(NULL, -EINVAL);
}

/* ---- counts ---- */

Test(parse, uint_in_range)
{
	uint_ok("0", 0, 10, 0);
	uint_ok("10", 0, 10, 10);
	uint_ok("5", 5, 5, 5);
	uint_ok("007", 1, 64, 7);
	uint_ok("64", 1, 64, 64);
	uint_ok("18446744073709551609", 0, UINT64_MAX, 18446744073709551609ULL);
}

Test(parse, uint_out_of_range)
{
	uint_bad("11", 0, 10, -ERANGE);
	uint_bad("0", 1, 64, -ERANGE);
	uint_bad("65", 1, 64, -ERANGE);
	uint_bad("4", 5, 5, -ERANGE);
	uint_bad("6", 5, 5, -ERANGE);
	uint_bad("18446744073709551616", 0, UINT64_MAX, -ERANGE);
	uint_bad("99999999999999999999999", 0, UINT64_MAX, -ERANGE);
}

/* Regression: as size_uint64_max. */
Test(parse, uint_uint64_max)
{
	uint_ok("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
}

Test(parse, uint_garbage)
{
	uint_bad("", 0, 10, -EINVAL);
	uint_bad("-1", 0, 10, -EINVAL);
	uint_bad("+1", 0, 10, -EINVAL);
	uint_bad(" 5", 0, 10, -EINVAL);
	uint_bad("5 ", 0, 10, -EINVAL);
	uint_bad("5x", 0, 10, -EINVAL);
	uint_bad("5k", 0, 10000, -EINVAL);
	uint_bad("1.0", 0, 10, -EINVAL);
	uint_bad("0x5", 0, 10, -EINVAL);
	uint_bad(NULL, 0, 10, -EINVAL);
	/* garbage wins over range */
	uint_bad("99x", 0, 10, -EINVAL);
}

/* ---- formatting ---- */

Test(parse, format_bytes)
{
	fmt_is(0, "0 B");
	fmt_is(1, "1 B");
	fmt_is(512, "512 B");
	fmt_is(1023, "1023 B");
}

Test(parse, format_exact_units)
{
	fmt_is(1024, "1 KiB");
	fmt_is(4096, "4 KiB");
	fmt_is(64ULL << 20, "64 MiB");
	fmt_is(1ULL << 20, "1 MiB");
	fmt_is(1023ULL << 20, "1023 MiB");
	fmt_is(1ULL << 30, "1 GiB");
	fmt_is(3ULL << 30, "3 GiB");
	fmt_is(128ULL << 30, "128 GiB");
	fmt_is(1ULL << 40, "1 TiB");
	fmt_is(1024ULL << 40, "1024 TiB"); /* no unit past TiB */
}

Test(parse, format_fractions)
{
	fmt_is(1536, "1.5 KiB");
	fmt_is(3ULL << 29, "1.5 GiB");
	fmt_is((1ULL << 30) + (1ULL << 28) + (1ULL << 26), "1.3 GiB"); /* 1.3125 */
	fmt_is((5ULL << 20) + (1ULL << 19), "5.5 MiB");
	fmt_is((1ULL << 20) + 1, "1.0 MiB");
	fmt_is((2ULL << 40) + (1ULL << 39), "2.5 TiB");
}

Test(parse, format_truncates)
{
	char buf[4];

	memset(buf, 'x', sizeof(buf));
	cli_format_size(64ULL << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "64 ");

	memset(buf, 'x', sizeof(buf));
	cli_format_size(64ULL << 20, buf, 1);
	cr_assert_eq(buf[0], '\0');
	cr_assert_eq(buf[1], 'x');
}

Test(parse, format_round_trip)
{
	static const uint64_t sizes[] = {
		0, 1, 512, 1024, 4096, 1ULL << 20, 64ULL << 20, 1ULL << 30, 5ULL << 30,
		1ULL << 40, 7ULL << 40,
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char buf[64], compact[64];
		size_t j = 0;
		uint64_t back = SENTINEL;

		cli_format_size(sizes[i], buf, sizeof(buf));
		for (const char *p = buf; *p; p++)
			if (*p != ' ')
				compact[j++] = *p;
		compact[j] = '\0';
		cr_assert_eq(cli_parse_size(compact, &back), 0, "\"%s\" does not parse", compact);
		cr_assert_eq(back, sizes[i], "\"%s\" parsed as %llu", compact,
			     (unsigned long long)back);
	}
}

/* ---- bounded durations: --timeout ---- */

/* Regression: --timeout 18446744073 parsed, and the deadline (now + timeout)
 * wrapped past 2^64 ns, ending the run at once. A year is the bound. */
Test(parse, duration_in_bounds)
{
	uint64_t v = SENTINEL;

	cr_assert_eq(cli_parse_duration_in("1", 1, CLI_TIMEOUT_MAX_NS, &v), 0);
	cr_assert_eq(v, 1000000000ULL);
	cr_assert_eq(cli_parse_duration_in("0.000000001s", 1, CLI_TIMEOUT_MAX_NS, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(cli_parse_duration_in("525600m", 1, CLI_TIMEOUT_MAX_NS, &v), 0);
	cr_assert_eq(v, CLI_TIMEOUT_MAX_NS);
	cr_assert_eq(cli_parse_duration_in("31536000", 1, CLI_TIMEOUT_MAX_NS, &v), 0);
	cr_assert_eq(v, CLI_TIMEOUT_MAX_NS);
	cr_assert_lt(CLI_TIMEOUT_MAX_NS, UINT64_MAX / 2, "now + the longest timeout must not wrap");
}

Test(parse, duration_out_of_bounds)
{
	static const char *const bad[] = { "0", "0s", "31536000.000000001", "31536001",
					   "525601m", "18446744073", "18446744073s" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = SENTINEL;
		int ret = cli_parse_duration_in(bad[i], 1, CLI_TIMEOUT_MAX_NS, &v);

		cr_assert_eq(ret, -ERANGE, "\"%s\" gave %d", bad[i], ret);
		cr_assert_eq(v, SENTINEL, "\"%s\" wrote its output", bad[i]);
	}
	cr_assert_eq(cli_parse_duration_in("soon", 1, CLI_TIMEOUT_MAX_NS, &(uint64_t){ 0 }), -EINVAL);
	cr_assert_eq(cli_parse_duration_in("99999999999999999999", 1, CLI_TIMEOUT_MAX_NS,
					   &(uint64_t){ 0 }), -ERANGE);
}

/* ---- guest text escaping ---- */

static void esc_is(const char *src, size_t len, const char *want)
{
	char buf[256];
	size_t n;

	memset(buf, 'z', sizeof(buf));
	n = vmm_escape_text(buf, sizeof(buf), src, len);
	cr_assert_str_eq(buf, want, "escaping %zu bytes gave \"%s\", want \"%s\"", len, buf, want);
	cr_assert_eq(n, strlen(want));
}

#define ESC_IS(lit, want) esc_is(lit, sizeof(lit) - 1, want)

Test(parse, escape_passes_text)
{
	ESC_IS("plain text, 100% ok ~{}[]", "plain text, 100% ok ~{}[]");
	ESC_IS("tab\there", "tab\there");
	ESC_IS("back\\slash", "back\\slash");
	ESC_IS("", "");
	/* UTF-8 of U+00A0 and up: NBSP, é, €, U+FFFD, an emoji, U+10FFFF */
	ESC_IS("\xc2\xa0\xc3\xa9\xe2\x82\xac\xef\xbf\xbd\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
	       "\xc2\xa0\xc3\xa9\xe2\x82\xac\xef\xbf\xbd\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
}

Test(parse, escape_controls)
{
	ESC_IS("a\nmemvisor: forged", "a\\x0amemvisor: forged");
	ESC_IS("\r\x1b[2J\x07\x08\x0b\x0c", "\\x0d\\x1b[2J\\x07\\x08\\x0b\\x0c");
	ESC_IS("del\x7f", "del\\x7f");
	ESC_IS("nul\0here", "nul\\x00here");
}

Test(parse, escape_c1_raw_and_utf8)
{
	ESC_IS("\x9b" "31m", "\\x9b31m");          /* 8-bit CSI */
	ESC_IS("\x80\x9f\x90", "\\x80\\x9f\\x90");
	ESC_IS("\xc2\x9b" "2J", "\\xc2\\x9b2J");    /* CSI as UTF-8 */
	ESC_IS("\xc2\x85", "\\xc2\\x85");          /* NEL: a new line on some terminals */
	ESC_IS("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
}

Test(parse, escape_malformed_utf8)
{
	ESC_IS("\xc0\x9b", "\\xc0\\x9b");                   /* overlong ESC-ish */
	ESC_IS("\xc1\xbf", "\\xc1\\xbf");
	ESC_IS("\xe0\x82\x9b", "\\xe0\\x82\\x9b");           /* overlong U+009B */
	ESC_IS("\xf0\x80\x82\x9b", "\\xf0\\x80\\x82\\x9b");   /* overlong U+009B */
	ESC_IS("\xed\xa0\x80", "\\xed\\xa0\\x80");           /* a surrogate */
	ESC_IS("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");   /* past U+10FFFF */
	ESC_IS("\xf5\xff\xfe", "\\xf5\\xff\\xfe");
	ESC_IS("\xe2\x82", "\\xe2\\x82");                   /* cut short at the end */
	ESC_IS("\xe2\x82x", "\\xe2\\x82x");
	ESC_IS("\xc3(", "\\xc3(");
	ESC_IS("\xe2\x82\xac\x82", "\xe2\x82\xac\\x82");    /* a stray continuation byte */
}

/* Output is cut before an escape or a character that does not fit whole. */
Test(parse, escape_truncates_whole_units)
{
	char buf[8];

	memset(buf, 'z', sizeof(buf));
	cr_assert_eq(vmm_escape_text(buf, 5, "ab\x1b", 3), 2);
	cr_assert_str_eq(buf, "ab");
	cr_assert_eq(vmm_escape_text(buf, 6, "a\x1b", 2), 5);
	cr_assert_str_eq(buf, "a\\x1b");
	cr_assert_eq(vmm_escape_text(buf, 4, "ab\xe2\x82\xac", 5), 2);
	cr_assert_str_eq(buf, "ab");
	cr_assert_eq(vmm_escape_text(buf, 1, "abc", 3), 0);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(vmm_escape_text(buf, 4, "abcdef", 6), 3);
	cr_assert_str_eq(buf, "abc");
}

/* Every two bytes, escaped, are well-formed UTF-8 (as glibc decodes it) with
 * no control character a terminal acts on: none of C0 but tab, DEL or C1. */
Test(parse, escape_every_pair_is_safe)
{
	char src[3], out[VMM_ESCAPED_SIZE(3)];

	cr_assert_not_null(setlocale(LC_CTYPE, "C.UTF-8"), "no C.UTF-8 locale");
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			mbstate_t st = { 0 };
			size_t n = 3, left;

			src[0] = (char)a;
			src[1] = (char)b;
			src[2] = 'x';
			left = vmm_escape_text(out, sizeof(out), src, n);
			for (const char *p = out; left;) {
				wchar_t wc;
				size_t k = mbrtowc(&wc, p, left, &st);

				cr_assert(k != (size_t)-1 && k != (size_t)-2 && k != 0,
					  "%02x %02x escaped to malformed UTF-8: %s", a, b, out);
				cr_assert(!(wc < 0x20 && wc != '\t') && wc != 0x7f &&
					  !(wc >= 0x80 && wc <= 0x9f),
					  "%02x %02x escaped to control U+%04x", a, b, (unsigned)wc);
				p += k;
				left -= k;
			}
		}
}

/* Each option is judged whole: the parser once copied options into 64
 * bytes, so size=<54 zeros>8192x passed as 8192 and a long valid size=
 * was refused (both found by the swapspec fuzz target). */
Test(parse, swap_spec_options_are_judged_whole)
{
	struct cli_swap_spec s;
	char arg[256], err[512];

	cr_assert_eq(cli_parse_swap_spec("/tmp/s,size=1G,keep", &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(s.path, "/tmp/s");
	cr_assert_eq(s.size, 1ULL << 30);
	cr_assert(s.keep);
	snprintf(arg, sizeof(arg), "/tmp/s,size=%054d8192x", 0);
	cr_assert_eq(cli_parse_swap_spec(arg, &s, err, sizeof(err)), -EINVAL, "accepted as %llu",
		     (unsigned long long)s.size);
	cr_assert(strstr(err, "8192x'"), "the option is quoted whole: %s", err);
	snprintf(arg, sizeof(arg), "/tmp/s,size=%055d8192K", 0);
	cr_assert_eq(cli_parse_swap_spec(arg, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(s.size, 8192ULL << 10);
	cr_assert_eq(cli_parse_swap_spec(",size=1G", &s, err, sizeof(err)), -EINVAL);
	cr_assert_eq(cli_parse_swap_spec("/tmp/s,size=4K", &s, err, sizeof(err)), -EINVAL);
	cr_assert_eq(cli_parse_swap_spec("/tmp/s,keep,", &s, err, sizeof(err)), -EINVAL);
}

/* --guest SPEC (vmm/cli/guest_spec.c) */
static struct cli_guest_spec gspec[3];

static void spec_ok(const char *arg, unsigned index, struct cli_guest_spec *o)
{
	char err[1024] = "";

	cr_assert_eq(cli_parse_guest_spec(arg, index, o, err, sizeof(err)), 0, "%s: %s", arg, err);
}

static void spec_bad(const char *arg, const char *needle)
{
	char err[1024] = "";

	cr_assert_eq(cli_parse_guest_spec(arg, 0, &gspec[2], err, sizeof(err)), -EINVAL, "%s", arg);
	cr_assert(strstr(err, needle), "'%s': expected '%s' in: %s", arg, needle, err);
	cr_assert(!strchr(err, '\n'), "%s", err);
}

Test(parse, guest_spec_every_key)
{
	struct cli_guest_spec *o = &gspec[0];

	spec_ok("name=a_1-x,image=touch,mem=128M,vcpus=2,args=\"--pattern zipf, x  y\",start=2s,"
		"limit.min=4M,limit.low=8M,limit.high=16M,limit.max=32M,oom_score_adj=-1000", 0, o);
	cr_assert_str_eq(o->name, "a_1-x");
	cr_assert_str_eq(o->image, "touch");
	cr_assert_eq(o->mem, 128ULL << 20);
	cr_assert_eq(o->vcpus, 2);
	cr_assert_eq(o->start_ns, 2000000000ULL);
	cr_assert_eq(o->limit[CLI_LIMIT_MIN], 4ULL << 20);
	cr_assert_eq(o->limit[CLI_LIMIT_MAX], 32ULL << 20);
	cr_assert_eq(o->limits_given, 0xf);
	cr_assert_eq(o->oom_score_adj, -1000);
	cr_assert_eq(o->argc, 4);
	cr_assert_str_eq(o->argv[0], "--pattern");
	cr_assert_str_eq(o->argv[1], "zipf,");
	cr_assert_str_eq(o->argv[2], "x");
	cr_assert_str_eq(o->argv[3], "y");
	cr_assert_null(o->argv[4]);
}

Test(parse, guest_spec_defaults)
{
	struct cli_guest_spec *o = &gspec[0];

	spec_ok("image=memtest", 2, o);
	cr_assert_str_eq(o->name, "g3");
	cr_assert_eq(o->mem, 256ULL << 20);
	cr_assert_eq(o->vcpus, 1);
	cr_assert_eq(o->start_ns, 0);
	cr_assert_eq(o->limits_given, 0);
	cr_assert_eq(o->argc, 0);
	cr_assert_eq(o->oom_score_adj, 0);
	/* unquoted args run to the next comma */
	spec_ok("args=--pattern zipf,image=/tmp/x.elf,limit.high=8M", 0, o);
	cr_assert_eq(o->argc, 2);
	cr_assert_str_eq(o->argv[1], "zipf");
	cr_assert_str_eq(o->image, "/tmp/x.elf");
	cr_assert_eq(o->limits_given, 1u << CLI_LIMIT_HIGH);
}

Test(parse, guest_spec_bad)
{
	spec_bad("image=memtest,colour=red", "unknown key 'colour'");
	spec_bad("image=memtest,mem=1G,mem=2G", "mem given twice");
	spec_bad("mem=64M", "no image");
	spec_bad("", "empty");
	spec_bad("image=memtest,memtest", "is not key=value");
	spec_bad("image=memtest,name=a b", "bad name 'a b'");
	spec_bad("image=memtest,name=", "bad name ''");
	spec_bad("image=memtest,mem=12Q", "bad mem '12Q'");
	spec_bad("image=memtest,mem=1000", "bad mem '1000'");
	spec_bad("image=memtest,vcpus=0", "bad vcpus '0'");
	spec_bad("image=memtest,start=soon", "bad start 'soon'");
	spec_bad("image=memtest,oom_score_adj=1001", "bad oom_score_adj '1001'");
	spec_bad("image=memtest,oom_score_adj=-1001", "bad oom_score_adj '-1001'");
	spec_bad("image=memtest,limit.max=0", "bad limit.max '0'");
	spec_bad("image=memtest,args=\"a,b", "no closing");
	spec_bad("image=memtest,args=\"a\"b", "must follow");
	spec_bad("image=memtest,limit.low=32M,limit.max=16M",
		 "limits out of order: limit.low is above limit.max");
	spec_bad("image=memtest,limit.min=8M,limit.low=4M", "limit.min is above limit.low");
}

Test(parse, guest_specs_together)
{
	char err[1024] = "";

	spec_ok("name=a,image=memtest,limit.max=64M", 0, &gspec[0]);
	spec_ok("image=memtest,limit.low=16M", 1, &gspec[1]);
	cr_assert_eq(cli_check_guest_specs(gspec, 2, 64ULL << 20, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cli_check_guest_specs(gspec, 2, 32ULL << 20, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--guest a: limit.max (64 MiB) is above the pool (32 MiB)"), "%s", err);
	spec_ok("name=a,image=hello", 1, &gspec[1]);
	cr_assert_eq(cli_check_guest_specs(gspec, 2, 64ULL << 20, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "two guests are named 'a'"), "%s", err);
}
