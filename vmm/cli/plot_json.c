// SPDX-License-Identifier: MIT
/*
 * memvisor plot's reader of a stats time series (JSON Lines, the format of
 * --stats FILE). Each line is parsed whole into a small tree of nodes (a
 * strict JSON parser: RFC 8259 grammar, bounded depth and size, no value
 * taken on trust), then the figures plot needs are looked up by name. The
 * file is anybody's: nothing in it can make the reader overrun, loop or
 * allocate without bound, and guest names are reduced to safe bytes before
 * they reach a gnuplot script.
 */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PJ_MAX_DEPTH 32
#define PJ_MAX_NODES 65536

enum pj_type { PJ_NULL, PJ_BOOL, PJ_NUM, PJ_STR, PJ_ARR, PJ_OBJ };

struct pj_node {
	enum pj_type type;
	const char *key, *str;      /* raw bytes between the quotes, escapes left as they are */
	size_t keylen, strlen;
	double num;
	int child, next;            /* first child, next sibling; -1: none */
};

struct pj {
	const char *p, *end;
	struct pj_node *nodes;
	int n, cap;
	const char *why;            /* what was wrong, for the error line */
};

static int pj_value(struct pj *j, int depth);

static void pj_ws(struct pj *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int pj_fail(struct pj *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return -1;
}

static int pj_new(struct pj *j, enum pj_type type)
{
	if (j->n == j->cap) {
		int cap = j->cap ? j->cap * 2 : 64;
		struct pj_node *n;

		if (cap > PJ_MAX_NODES)
			return pj_fail(j, "too many values on one line");
		n = realloc(j->nodes, (size_t)cap * sizeof(*n));
		if (!n)
			return pj_fail(j, "out of memory");
		j->nodes = n;
		j->cap = cap;
	}
	j->nodes[j->n] = (struct pj_node){ .type = type, .child = -1, .next = -1 };
	return j->n++;
}

static bool pj_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string's raw bytes (checked: no control bytes, valid escapes). */
static int pj_string(struct pj *j, const char **s, size_t *len)
{
	const char *start = ++j->p;

	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;

		if (c < 0x20)
			return pj_fail(j, "a control byte inside a string");
		if (c == '\\') {
			if (++j->p >= j->end || !strchr("\"\\/bfnrtu", *j->p))
				return pj_fail(j, "a bad escape in a string");
			if (*j->p == 'u') {
				if (j->end - j->p < 5 || !pj_hex(j->p[1]) || !pj_hex(j->p[2]) ||
				    !pj_hex(j->p[3]) || !pj_hex(j->p[4]))
					return pj_fail(j, "a bad \\u escape in a string");
				j->p += 4;
			}
		}
		j->p++;
	}
	if (j->p >= j->end)
		return pj_fail(j, "a string without its closing quote");
	*s = start;
	*len = (size_t)(j->p++ - start);
	return 0;
}

static const char *pj_digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* A number by JSON's grammar (which strtod's is wider than: hex, inf, nan). */
static int pj_number(struct pj *j, double *v)
{
	const char *p = j->p, *q;
	char buf[64];

	if (p < j->end && *p == '-')
		p++;
	q = pj_digits(p, j->end);
	if (q == p || (*p == '0' && q - p > 1))
		return pj_fail(j, "a malformed number");
	p = q;
	if (p < j->end && *p == '.') {
		q = pj_digits(++p, j->end);
		if (q == p)
			return pj_fail(j, "a malformed number");
		p = q;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		if (++p < j->end && (*p == '+' || *p == '-'))
			p++;
		q = pj_digits(p, j->end);
		if (q == p)
			return pj_fail(j, "a malformed number");
		p = q;
	}
	if ((size_t)(p - j->p) >= sizeof(buf))
		return pj_fail(j, "a number too long");
	memcpy(buf, j->p, (size_t)(p - j->p));
	buf[p - j->p] = '\0';
	*v = strtod(buf, NULL);
	j->p = p;
	return 0;
}

static bool pj_word(struct pj *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
		return false;
	j->p += n;
	return true;
}

/* The members of an object or the elements of an array, j->p past the opening bracket. */
static int pj_members(struct pj *j, int node, int depth, bool obj)
{
	int last = -1;

	pj_ws(j);
	if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
		j->p++;
		return node;
	}
	for (;;) {
		const char *key = NULL;
		size_t keylen = 0;
		int v;

		pj_ws(j);
		if (obj) {
			if (j->p >= j->end || *j->p != '"' || pj_string(j, &key, &keylen))
				return pj_fail(j, "an object member without a quoted name");
			pj_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return pj_fail(j, "a ':' missing after a member name");
		}
		v = pj_value(j, depth + 1);
		if (v < 0)
			return -1;
		j->nodes[v].key = key;
		j->nodes[v].keylen = keylen;
		if (last < 0)
			j->nodes[node].child = v;
		else
			j->nodes[last].next = v;
		last = v;
		pj_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p++ == (obj ? '}' : ']'))
			return node;
		return pj_fail(j, obj ? "a ',' or '}' missing in an object" : "a ',' or ']' missing in an array");
	}
}

static int pj_value(struct pj *j, int depth)
{
	int node;

	if (depth > PJ_MAX_DEPTH)
		return pj_fail(j, "values nested too deep");
	pj_ws(j);
	if (j->p >= j->end)
		return pj_fail(j, "a value missing");
	switch (*j->p) {
	case '{':
	case '[':
		node = pj_new(j, *j->p == '{' ? PJ_OBJ : PJ_ARR);
		if (node < 0)
			return -1;
		j->p++;
		return pj_members(j, node, depth, j->nodes[node].type == PJ_OBJ);
	case '"':
		node = pj_new(j, PJ_STR);
		return node < 0 || pj_string(j, &j->nodes[node].str, &j->nodes[node].strlen) ? -1 : node;
	case 't':
	case 'f':
	case 'n':
		node = pj_new(j, *j->p == 'n' ? PJ_NULL : PJ_BOOL);
		if (node < 0)
			return -1;
		if (pj_word(j, "true") || pj_word(j, "false") || pj_word(j, "null"))
			return node;
		return pj_fail(j, "an unknown word");
	default:
		node = pj_new(j, PJ_NUM);
		return node < 0 || pj_number(j, &j->nodes[node].num) ? -1 : node;
	}
}

/* The member named key of object node, or -1. */
static int pj_get(const struct pj *j, int node, const char *key)
{
	size_t n = strlen(key);

	if (node < 0 || j->nodes[node].type != PJ_OBJ)
		return -1;
	for (int c = j->nodes[node].child; c >= 0; c = j->nodes[c].next)
		if (j->nodes[c].keylen == n && !memcmp(j->nodes[c].key, key, n))
			return c;
	return -1;
}

static int plot_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int plot_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A count: a number from 0 to 2^53 (exact in a double); absent gives 0
 * unless required. */
static int pj_count(const struct pj *j, int obj, const char *key, bool required, double *v,
		    char *err, size_t errlen)
{
	int n = pj_get(j, obj, key);

	*v = 0;
	if (n < 0)
		return required ? plot_err(err, errlen, "no \"%s\"", key) : 0;
	if (j->nodes[n].type != PJ_NUM || !(j->nodes[n].num >= 0) || j->nodes[n].num > 9007199254740992.0)
		return plot_err(err, errlen, "\"%s\" is not a count (a number from 0 to 2^53)", key);
	*v = j->nodes[n].num;
	return 0;
}

void plot_safe_name(char *dst, size_t len, const char *src, size_t srclen)
{
	size_t i;

	for (i = 0; i < srclen && i + 1 < len; i++) {
		char c = src[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';

		dst[i] = ok ? c : '_';
	}
	if (len)
		dst[i] = '\0';
}

static struct plot_guest *plot_guest_of(struct plot_series *s, const char *name, size_t len)
{
	char safe[sizeof(s->g[0].name)];

	plot_safe_name(safe, sizeof(safe), name, len);
	for (size_t i = 0; i < s->nr_guests; i++)
		if (!strcmp(s->g[i].name, safe))
			return &s->g[i];
	if (s->nr_guests == PLOT_MAX_GUESTS)
		return NULL;
	snprintf(s->g[s->nr_guests].name, sizeof(safe), "%s", safe);
	return &s->g[s->nr_guests++];
}

/* One guest object of the "guests" array into its series. */
static int plot_guest_sample(struct plot_series *s, const struct pj *j, int gn,
			     struct plot_sample smp, char *err, size_t errlen)
{
	static const char *const lim[PLOT_NR_LIMITS] = { "min", "low", "high", "max" };
	int name = pj_get(j, gn, "guest"), mm = pj_get(j, gn, "mm"), limits;
	struct plot_guest *g;

	if (name < 0 || j->nodes[name].type != PJ_STR)
		return plot_err(err, errlen, "a guest without its name (\"guest\")");
	if (mm >= 0 && j->nodes[mm].type == PJ_NULL)
		return 0; /* not started yet (a later start=): nothing to draw */
	if (mm < 0 || j->nodes[mm].type != PJ_OBJ)
		return plot_err(err, errlen, "a guest without its counters (\"mm\")");
	if (pj_count(j, mm, "rss_pages", true, &smp.rss, err, errlen) ||
	    pj_count(j, mm, "swap_ents", false, &smp.swap, err, errlen) ||
	    pj_count(j, mm, "pgfault", false, &smp.faults, err, errlen) ||
	    pj_count(j, mm, "swapins", false, &smp.swapins, err, errlen))
		return -EINVAL;
	limits = pj_get(j, mm, "limits");
	for (int i = 0; i < PLOT_NR_LIMITS && limits >= 0; i++)
		if (pj_count(j, limits, lim[i], false, &smp.limit[i], err, errlen))
			return -EINVAL;
	g = plot_guest_of(s, j->nodes[name].str, j->nodes[name].strlen);
	if (!g)
		return plot_err(err, errlen, "more than %d guests", PLOT_MAX_GUESTS);
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct plot_sample *ns = realloc(g->s, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		g->s = ns;
		g->cap = cap;
	}
	g->s[g->n++] = smp;
	return 0;
}

static int plot_line_tree(struct plot_series *s, const struct pj *j, char *err, size_t errlen)
{
	int t = pj_get(j, 0, "t"), guests = pj_get(j, 0, "guests");
	struct plot_sample smp = { 0 };

	if (j->nodes[0].type != PJ_OBJ)
		return plot_err(err, errlen, "not a JSON object");
	if (t < 0 || j->nodes[t].type != PJ_NUM || !isfinite(j->nodes[t].num) || j->nodes[t].num < 0)
		return plot_err(err, errlen, "no time \"t\" (seconds, a number from 0)");
	smp.t = j->nodes[t].num;
	if (s->lines && smp.t < s->last_t)
		return plot_err(err, errlen, "time \"t\" %g goes back (the line before has %g)", smp.t,
				s->last_t);
	if (pj_count(j, pj_get(j, 0, "pool"), "frames", false, &smp.pool, err, errlen))
		return -EINVAL;
	if (guests < 0 || j->nodes[guests].type != PJ_ARR)
		return plot_err(err, errlen, "no \"guests\" array");
	for (int g = j->nodes[guests].child; g >= 0; g = j->nodes[g].next) {
		int ret = plot_guest_sample(s, j, g, smp, err, errlen);

		if (ret)
			return ret;
	}
	s->last_t = smp.t;
	s->lines++;
	return 0;
}

int plot_parse_line(struct plot_series *s, const char *line, size_t len, char *err, size_t errlen)
{
	struct pj j = { .p = line, .end = line + len };
	int ret;

	if (pj_value(&j, 0) == 0) {
		pj_ws(&j);
		if (j.p != j.end)
			pj_fail(&j, "more after the object");
	}
	if (j.why)
		ret = !strcmp(j.why, "out of memory") ? -ENOMEM :
		      plot_err(err, errlen, "not JSON: %s at byte %zu", j.why, (size_t)(j.p - line) + 1);
	else
		ret = plot_line_tree(s, &j, err, errlen);
	free(j.nodes);
	return ret;
}

int plot_parse_file(FILE *f, struct plot_series *s, char *err, size_t errlen)
{
	char *line = NULL, msg[256];
	size_t cap = 0, nr = 0;
	ssize_t n;
	int ret = 0;

	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		nr++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue; /* blank lines: as JSON Lines readers allow */
		if ((size_t)n > PLOT_MAX_LINE)
			ret = plot_err(msg, sizeof(msg), "longer than %u bytes", PLOT_MAX_LINE);
		else
			ret = plot_parse_line(s, line, (size_t)n, msg, sizeof(msg));
		if (ret == -ENOMEM)
			snprintf(msg, sizeof(msg), "out of memory");
		if (ret)
			snprintf(err, errlen, "line %zu: %s", nr, msg);
	}
	free(line);
	if (!ret && ferror(f))
		ret = plot_err(err, errlen, "cannot read it: %s", strerror(errno));
	if (!ret && !s->lines)
		ret = plot_err(err, errlen, "no samples in it: an empty file, not one of memvisor run --stats");
	if (!ret && !s->nr_guests)
		ret = plot_err(err, errlen, "no guest in any sample");
	return ret;
}

void plot_series_free(struct plot_series *s)
{
	for (size_t i = 0; i < s->nr_guests; i++)
		free(s->g[i].s);
	s->nr_guests = 0;
}
