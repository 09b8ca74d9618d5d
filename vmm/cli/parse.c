// SPDX-License-Identifier: MIT
#include "parse.h"

#include "memvisor/types.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Leading decimal digits into *v; returns the number of digits or -errno. */
static int parse_digits(const char *s, uint64_t *v)
{
	int n = 0;

	*v = 0;
	for (; isdigit((unsigned char)s[n]); n++) {
		uint64_t d = (uint64_t)(s[n] - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		*v = *v * 10 + d;
	}
	return n ? n : -EINVAL;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	uint64_t v;
	int n;

	if (!s)
		return -EINVAL;
	n = parse_digits(s, &v);
	if (n < 0)
		return n;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(s + n, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*out = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

__extension__ typedef unsigned __int128 u128;

int cli_parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *suffix; uint64_t scale; } units[] = {
		{ "", 1000000000ULL }, { "s", 1000000000ULL }, { "ms", 1000000ULL },
		{ "us", 1000ULL }, { "m", 60000000000ULL }, { "min", 60000000000ULL },
	};
	uint64_t whole, frac = 0, frac_div = 1;
	int n;

	if (!s)
		return -EINVAL;
	n = parse_digits(s, &whole);
	if (n < 0)
		return n;
	s += n;
	if (*s == '.') {
		s++;
		for (; isdigit((unsigned char)*s); s++) {
			if (frac_div < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				frac_div *= 10;
			}
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t scale = units[i].scale;

		if (strcasecmp(s, units[i].suffix) != 0)
			continue;
		/* the fraction has at most 9 digits: frac * scale fits in 128 bits */
		uint64_t part = (uint64_t)((u128)frac * scale / frac_div);

		if (whole > UINT64_MAX / scale || whole * scale > UINT64_MAX - part)
			return -ERANGE;
		*ns = whole * scale + part;
		return 0;
	}
	return -EINVAL;
}

int cli_parse_duration_in(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *ns)
{
	uint64_t v;
	int ret = cli_parse_duration(s, &v);

	if (ret)
		return ret;
	if (v < min_ns || v > max_ns)
		return -ERANGE;
	*ns = v;
	return 0;
}

int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int n;

	if (!s)
		return -EINVAL;
	n = parse_digits(s, &v);
	if (n < 0)
		return n;
	if (s[n] != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void cli_format_size(uint64_t bytes, char *buf, unsigned len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	/* the next unit as soon as the value would print as 1024.0 */
	while (u + 1 < sizeof(units) / sizeof(units[0]) &&
	       (double)bytes / (double)(1ULL << (10 * u)) >= 1023.95)
		u++;
	if (u == 0 || bytes % (1ULL << (10 * u)) == 0)
		snprintf(buf, len, "%llu %s", (unsigned long long)(bytes >> (10 * u)), units[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)(1ULL << (10 * u)), units[u]);
}

/* One option of a swap spec, [opt, opt + len): keep, or size=SIZE. Judged
 * whole: a copy into a fixed buffer would judge a long one by its start. */
static int parse_swap_option(const char *opt, size_t len, struct cli_swap_spec *out)
{
	char *v;
	int ret;

	if (len == 4 && !memcmp(opt, "keep", 4)) {
		out->keep = true;
		return 0;
	}
	if (len < 5 || memcmp(opt, "size=", 5))
		return -EINVAL;
	v = strndup(opt + 5, len - 5);
	if (!v)
		return -ENOMEM;
	ret = strlen(v) == len - 5 && !cli_parse_size(v, &out->size) && out->size >= 2 * PAGE_SIZE &&
	      !(out->size % PAGE_SIZE) ? 0 : -EINVAL;
	free(v);
	return ret;
}

int cli_parse_swap_spec(const char *arg, struct cli_swap_spec *out, char *err, size_t errlen)
{
	const char *comma = strchr(arg, ',');
	size_t len = comma ? (size_t)(comma - arg) : strlen(arg);

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(out->path)) {
		snprintf(err, errlen, "bad --swap '%s': give a file path, e.g. /tmp/mv.swap,size=1G", arg);
		return -EINVAL;
	}
	memcpy(out->path, arg, len);
	out->path[len] = '\0';
	while (comma) {
		const char *opt = comma + 1;

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		if (parse_swap_option(opt, len, out)) {
			snprintf(err, errlen, "bad --swap option '%.*s': use size=SIZE (a multiple of 4K, "
				 "at least 8K) or keep", (int)MIN(len, (size_t)INT_MAX), opt);
			return -EINVAL;
		}
	}
	return 0;
}
