// SPDX-License-Identifier: MIT
/* Reading JSON by path: see stat_json.h. A recursive skip of one value is
 * all of it; nesting deeper than SJSON_DEPTH is refused, so no input can
 * run the stack out. */
#include "stat_json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SJSON_DEPTH 64

static const char *sjson_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *sjson_skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !*++p)
			return NULL;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *sjson_skip_number(const char *p)
{
	char *end;

	if (*p != '-' && !isdigit((unsigned char)*p))
		return NULL;
	strtod(p, &end);
	return end > p ? end : NULL;
}

static const char *sjson_skip(const char *p, int depth);

/* An object's or an array's members; p is at the opening bracket. */
static const char *sjson_skip_members(const char *p, int depth)
{
	char close = *p == '{' ? '}' : ']';

	p = sjson_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if (*p != '"' || !(p = sjson_skip_string(p)))
				return NULL;
			p = sjson_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = sjson_skip(p, depth + 1);
		if (!p)
			return NULL;
		p = sjson_ws(p);
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = sjson_ws(p + 1);
	}
}

/* Past one value (white space before it skipped), or NULL if it is not one. */
static const char *sjson_skip(const char *p, int depth)
{
	p = sjson_ws(p);
	if (depth > SJSON_DEPTH)
		return NULL;
	switch (*p) {
	case '{':
	case '[':
		return sjson_skip_members(p, depth);
	case '"':
		return sjson_skip_string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	}
	return sjson_skip_number(p);
}

const char *sjson_skip_value(const char *p)
{
	return p ? sjson_skip(p, 0) : NULL;
}

bool sjson_valid(const char *s)
{
	const char *p = sjson_skip(s, 0);

	return p && !*sjson_ws(p);
}

/* The member key (len bytes) of the object at p, or NULL. */
static const char *sjson_member(const char *p, const char *key, size_t len)
{
	if (*p != '{')
		return NULL;
	p = sjson_ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *v;
		size_t klen;

		if (!(p = sjson_skip_string(p)))
			return NULL;
		klen = (size_t)(p - 1 - k);
		p = sjson_ws(p);
		if (*p++ != ':')
			return NULL;
		v = sjson_ws(p);
		if (klen == len && !strncmp(k, key, len))
			return v;
		if (!(p = sjson_skip(v, 1)))
			return NULL;
		p = sjson_ws(p);
		if (*p == ',')
			p = sjson_ws(p + 1);
	}
	return NULL;
}

/* Element i of the array at p, or NULL. */
static const char *sjson_element(const char *p, long i)
{
	if (*p != '[')
		return NULL;
	p = sjson_ws(p + 1);
	if (*p == ']')
		return NULL;
	for (; i > 0; i--) {
		if (!(p = sjson_skip(p, 1)))
			return NULL;
		p = sjson_ws(p);
		if (*p != ',')
			return NULL;
		p = sjson_ws(p + 1);
	}
	return p;
}

const char *sjson_find(const char *json, const char *path)
{
	const char *p = sjson_ws(json);

	while (p && *path) {
		if (*path == '.') {
			path++;
		} else if (*path == '[') {
			char *end;
			long i = strtol(path + 1, &end, 10);

			if (*end != ']' || i < 0)
				return NULL;
			p = sjson_element(p, i);
			path = end + 1;
		} else {
			size_t len = strcspn(path, ".[");

			p = sjson_member(p, path, len);
			path += len;
		}
	}
	return p;
}

bool sjson_u64(const char *json, const char *path, uint64_t *v)
{
	const char *p = sjson_find(json, path);

	if (!p || !isdigit((unsigned char)*p))
		return false;
	*v = strtoull(p, NULL, 10);
	return true;
}

bool sjson_f64(const char *json, const char *path, double *v)
{
	const char *p = sjson_find(json, path);

	if (!p || !sjson_skip_number(p))
		return false;
	*v = strtod(p, NULL);
	return true;
}

bool sjson_str(const char *json, const char *path, char *buf, size_t len)
{
	const char *p = sjson_find(json, path), *end;
	size_t n = 0;

	if (!p || *p != '"' || !(end = sjson_skip_string(p)) || !len)
		return false;
	for (p++; p < end - 1 && n < len - 1; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		buf[n++] = *p;
	}
	buf[n] = '\0';
	return true;
}

int sjson_len(const char *json, const char *path)
{
	const char *p = sjson_find(json, path);
	int n = 0;

	if (!p || *p != '[')
		return -1;
	while (sjson_element(p, n))
		n++;
	return n;
}
