// SPDX-License-Identifier: MIT
/*
 * --guest SPEC, key by key. The SPEC is cut at commas, except within a
 * value in double quotes (args="--pattern zipf,a"), so that guest arguments
 * may hold commas and spaces; args is then split on spaces into argv. A key
 * given twice is refused as an unknown one is: a SPEC means one thing.
 */
#include "guest_spec.h"
#include "parse.h"

#include "memvisor/abi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SPEC_PAGE 4096ULL

static const char *const limit_keys[CLI_NR_LIMITS] = {
	[CLI_LIMIT_MIN] = "limit.min", [CLI_LIMIT_LOW] = "limit.low",
	[CLI_LIMIT_HIGH] = "limit.high", [CLI_LIMIT_MAX] = "limit.max",
};

const char *cli_limit_key(enum cli_limit l)
{
	return limit_keys[l];
}

__attribute__((format(printf, 4, 5)))
static int spec_err(const char *arg, char *err, size_t errlen, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "--guest '%s': %s", arg, what);
	return -EINVAL;
}

static int spec_name(const char *v, struct cli_guest_spec *o, const char *arg, char *err,
		     size_t errlen)
{
	size_t len = strlen(v);

	if (!len || len >= sizeof(o->name) || strspn(v, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
		return spec_err(arg, err, errlen, "bad name '%s': 1 to %zu of A-Z a-z 0-9 _ -", v,
				sizeof(o->name) - 1);
	memcpy(o->name, v, len + 1);
	return 0;
}

/* args: split on spaces into argv, within o->args. */
static int spec_args(const char *v, struct cli_guest_spec *o, const char *arg, char *err,
		     size_t errlen)
{
	size_t len = strlen(v);
	char *p = o->args;

	if (len >= sizeof(o->args))
		return spec_err(arg, err, errlen, "args too long (at most %zu bytes)",
				sizeof(o->args) - 1);
	memcpy(o->args, v, len + 1);
	o->argc = 0;
	for (;;) {
		p += strspn(p, " ");
		if (!*p)
			break;
		if (o->argc == CLI_GUEST_ARGC_MAX)
			return spec_err(arg, err, errlen, "too many args (at most %d)",
					CLI_GUEST_ARGC_MAX);
		o->argv[o->argc++] = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = '\0';
	}
	o->argv[o->argc] = NULL;
	return 0;
}

static int spec_size(const char *key, const char *v, uint64_t lo, uint64_t *out, const char *arg,
		     char *err, size_t errlen)
{
	uint64_t n;

	if (cli_parse_size(v, &n) || n < lo || n % SPEC_PAGE || n > MV_RAM_MAX)
		return spec_err(arg, err, errlen, "bad %s '%s': a size, a multiple of 4K from %s "
				"to %lluG, e.g. 64M", key, v, lo ? "4K" : "0", MV_RAM_MAX >> 30);
	*out = n;
	return 0;
}

static int spec_limit(enum cli_limit l, const char *v, struct cli_guest_spec *o, const char *arg,
		      char *err, size_t errlen)
{
	/* high and max of 0 would mean none to the memory manager: 4K at least */
	uint64_t lo = l >= CLI_LIMIT_HIGH ? SPEC_PAGE : 0;

	o->limits_given |= 1u << l;
	return spec_size(limit_keys[l], v, lo, &o->limit[l], arg, err, errlen);
}

static int spec_number(const char *key, const char *v, struct cli_guest_spec *o, const char *arg,
		       char *err, size_t errlen)
{
	uint64_t n;
	int ret;

	if (!strcmp(key, "vcpus")) {
		if (cli_parse_uint(v, 1, MV_MAX_VCPUS, &n))
			return spec_err(arg, err, errlen, "bad vcpus '%s': a number from 1 to %d",
					v, MV_MAX_VCPUS);
		o->vcpus = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "start")) {
		ret = cli_parse_duration_in(v, 0, CLI_TIMEOUT_MAX_NS, &n);
		if (ret)
			return spec_err(arg, err, errlen, "bad start '%s': a duration up to a year, "
					"e.g. 0, 300ms or 2s", v);
		o->start_ns = n;
		return 0;
	}
	/* oom_score_adj: -1000..1000 */
	if (v[0] == '-' ? cli_parse_uint(v + 1, 0, 1000, &n) : cli_parse_uint(v, 0, 1000, &n))
		return spec_err(arg, err, errlen, "bad oom_score_adj '%s': a number from -1000 to "
				"1000", v);
	o->oom_score_adj = v[0] == '-' ? -(int)n : (int)n;
	return 0;
}

static int spec_image(const char *v, struct cli_guest_spec *o, const char *arg, char *err,
		      size_t errlen)
{
	if (!*v || strlen(v) >= sizeof(o->image))
		return spec_err(arg, err, errlen, "bad image '%s': a built-in guest (see "
				"'memvisor guests') or an ELF file path", v);
	strcpy(o->image, v);
	return 0;
}

static const char *const spec_keys[] = {
	"name", "image", "mem", "vcpus", "args", "start", "limit.min", "limit.low", "limit.high",
	"limit.max", "oom_score_adj",
};
#define SPEC_NR_KEYS (sizeof(spec_keys) / sizeof(spec_keys[0]))

/* One key=value; *seen has a bit per key of spec_keys. */
static int spec_pair(const char *key, const char *v, struct cli_guest_spec *o, unsigned *seen,
		     const char *arg, char *err, size_t errlen)
{
	unsigned k = 0;

	while (k < SPEC_NR_KEYS && strcmp(key, spec_keys[k]))
		k++;
	if (k == SPEC_NR_KEYS)
		return spec_err(arg, err, errlen, "unknown key '%s' (name, image, mem, vcpus, args, "
				"start, limit.min, limit.low, limit.high, limit.max, oom_score_adj)",
				key);
	if (*seen & (1u << k))
		return spec_err(arg, err, errlen, "%s given twice", key);
	*seen |= 1u << k;
	switch (k) {
	case 0: return spec_name(v, o, arg, err, errlen);
	case 1: return spec_image(v, o, arg, err, errlen);
	case 2: return spec_size("mem", v, SPEC_PAGE, &o->mem, arg, err, errlen);
	case 4: return spec_args(v, o, arg, err, errlen);
	case 6: case 7: case 8: case 9:
		return spec_limit((enum cli_limit)(k - 6), v, o, arg, err, errlen);
	default: return spec_number(key, v, o, arg, err, errlen);
	}
}

/* The next key=value from *p into key and val (cut to their sizes): 1, 0 at
 * the end, or -EINVAL. */
static int spec_next(const char **p, char *key, size_t keylen, char *val, size_t vallen,
		     const char *arg, char *err, size_t errlen)
{
	const char *s = *p, *eq, *end;
	size_t n;

	if (!*s)
		return 0;
	eq = s + strcspn(s, "=,");
	if (*eq != '=' || eq == s)
		return spec_err(arg, err, errlen, "'%.*s' is not key=value", (int)strcspn(s, ","), s);
	n = (size_t)(eq - s);
	snprintf(key, keylen, "%.*s", (int)n, s);
	if (n >= keylen)
		return spec_err(arg, err, errlen, "unknown key '%.*s'", (int)n, s);
	if (eq[1] == '"') {
		end = strchr(eq + 2, '"');
		if (!end)
			return spec_err(arg, err, errlen, "%s: no closing '\"'", key);
		s = eq + 2;
		n = (size_t)(end - s);
		end++;
		if (*end && *end != ',')
			return spec_err(arg, err, errlen, "%s: a ',' must follow the closing '\"'", key);
	} else {
		s = eq + 1;
		n = strcspn(s, ",");
		end = s + n;
	}
	if (n >= vallen)
		return spec_err(arg, err, errlen, "%s: value too long", key);
	memcpy(val, s, n);
	val[n] = '\0';
	*p = *end ? end + 1 : end;
	return 1;
}

/* Given limits keep min <= low <= high <= max. */
static int spec_check_limits(const struct cli_guest_spec *o, const char *arg, char *err,
			     size_t errlen)
{
	for (int a = 0; a < CLI_NR_LIMITS; a++)
		for (int b = a + 1; b < CLI_NR_LIMITS; b++)
			if ((o->limits_given >> a & 1) && (o->limits_given >> b & 1) &&
			    o->limit[a] > o->limit[b])
				return spec_err(arg, err, errlen, "limits out of order: %s is above "
						"%s (min <= low <= high <= max)", limit_keys[a],
						limit_keys[b]);
	return 0;
}

int cli_parse_guest_spec(const char *arg, unsigned index, struct cli_guest_spec *out,
			 char *err, size_t errlen)
{
	char key[32], val[CLI_GUEST_IMAGE_MAX];
	const char *p = arg;
	unsigned seen = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "g%u", index + 1);
	out->mem = 256ULL << 20;
	out->vcpus = 1;
	if (!*arg)
		return spec_err(arg, err, errlen, "empty: at least image=GUEST");
	while ((ret = spec_next(&p, key, sizeof(key), val, sizeof(val), arg, err, errlen)) > 0) {
		ret = spec_pair(key, val, out, &seen, arg, err, errlen);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	if (!out->image[0])
		return spec_err(arg, err, errlen, "no image: say which guest, e.g. image=memtest");
	return spec_check_limits(out, arg, err, errlen);
}

int cli_check_guest_specs(const struct cli_guest_spec *specs, unsigned n, uint64_t pool_bytes,
			  char *err, size_t errlen)
{
	char pool[32], lim[32];

	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; k < i; k++)
			if (!strcmp(specs[i].name, specs[k].name)) {
				snprintf(err, errlen, "--guest: two guests are named '%s': names "
					 "must differ", specs[i].name);
				return -EINVAL;
			}
		for (int l = 0; l < CLI_NR_LIMITS; l++) {
			if (!(specs[i].limits_given >> l & 1) || specs[i].limit[l] <= pool_bytes)
				continue;
			cli_format_size(specs[i].limit[l], lim, sizeof(lim));
			cli_format_size(pool_bytes, pool, sizeof(pool));
			snprintf(err, errlen, "--guest %s: %s (%s) is above the pool (%s)",
				 specs[i].name, limit_keys[l], lim, pool);
			return -EINVAL;
		}
	}
	return 0;
}
