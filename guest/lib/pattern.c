// SPDX-License-Identifier: MIT
/*
 * The touch patterns (see pattern.h), shared by the guest and the host
 * program. Freestanding: no libc, no libm, so that both builds compute the
 * very same page indices. Keep it that way: a libm exp2 on one side would
 * move a Zipf rank by one now and then, and the two sides would drift apart.
 */
#include "pattern.h"

#define PAT_MAX(a, b) ((a) > (b) ? (a) : (b))

uint64_t pat_hash64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void pat_rng_seed(struct pat_rng *r, uint64_t seed)
{
	r->s = pat_hash64(seed);
	if (!r->s)
		r->s = 0x2545f4914f6cdd1dULL;
}

uint64_t pat_rng_next(struct pat_rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

double pat_log2(double x)
{
	union { double d; uint64_t u; } v = { .d = x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	double t, t2, sum = 0, term;

	v.u = (v.u & ~(0x7ffULL << 52)) | (1023ULL << 52); /* mantissa in [1, 2) */
	t = (v.d - 1) / (v.d + 1);
	t2 = t * t;
	term = t;
	for (int k = 1; k < 30; k += 2) {
		sum += term / k;
		term *= t2;
	}
	return e + 2 * sum / 0.69314718055994530942; /* ln(m) / ln 2 */
}

double pat_exp2(double y)
{
	int64_t i = (int64_t)y;
	double f, x, term = 1, sum = 1;
	union { double d; uint64_t u; } scale;

	if (y < 0 && (double)i != y)
		i--;
	f = y - (double)i;
	x = f * 0.69314718055994530942;
	for (int k = 1; k < 20; k++) {
		term *= x / k;
		sum += term;
	}
	if (i < -1022 || i > 1023)
		return i < 0 ? 0 : 1e308;
	scale.u = (uint64_t)(i + 1023) << 52;
	return sum * scale.d;
}

static void perm_init(struct pat_perm *p, uint64_t n, struct pat_rng *rng)
{
	unsigned bits = 2;

	while ((1ULL << bits) < n)
		bits++;
	p->half = (bits + 1) / 2;
	for (int r = 0; r < 4; r++)
		p->key[r] = pat_rng_next(rng);
}

/* a bijection on [0, 2^(2*half)); cycle-walking keeps it inside [0, n) */
static uint64_t perm_apply(const struct pat_perm *p, uint64_t x, uint64_t n)
{
	uint64_t mask = (1ULL << p->half) - 1;

	do {
		uint64_t l = x >> p->half, r = x & mask;

		for (int k = 0; k < 4; k++) {
			uint64_t t = l ^ (pat_hash64(r ^ p->key[k]) & mask);

			l = r;
			r = t;
		}
		x = (l << p->half) | r;
	} while (x >= n);
	return x;
}

/* rank = (n+1)^u - 1 for uniform u: P(rank = k) ~ 1/(k+1) */
static uint64_t zipf_draw(struct pat *p)
{
	double u = (double)(pat_rng_next(&p->rng) >> 11) / 9007199254740992.0;
	uint64_t rank = (uint64_t)pat_exp2(u * p->log2n) - 1;

	if (rank >= p->n)
		rank = p->n - 1;
	return rank == 0 ? 0 : pat_hash64(rank) % p->n;
}

static const char *const pat_names[PAT_NR] = { "seq", "random", "zipf", "phased", "mix" };

int pat_parse(const char *name)
{
	for (int k = 0; k < PAT_NR; k++) {
		const char *a = name, *b = pat_names[k];

		while (*a && *a == *b)
			a++, b++;
		if (!*a && !*b)
			return k;
	}
	return -1;
}

const char *pat_name(enum pat_kind kind)
{
	return kind < PAT_NR ? pat_names[kind] : "?";
}

/* phased: 4 walks over a quarter of the slice, starting pass/passes in */
static void pat_pass(struct pat *p)
{
	bool phased = p->kind == PAT_PHASED;

	p->ws = phased ? PAT_MAX(p->n / 4, 1ULL) : p->n;
	p->rounds = phased ? 4 : 1;
	p->start = phased && p->pass < p->passes ? p->n * p->pass / p->passes : 0;
}

void pat_init(struct pat *p, enum pat_kind kind, bool read, uint64_t n, uint64_t passes,
	      uint64_t seed, unsigned cpu)
{
	*p = (struct pat){ .kind = kind, .read = read, .n = n, .passes = passes };
	pat_rng_seed(&p->rng, seed * 1000 + cpu);
	p->log2n = pat_log2((double)n + 1);
	if (kind == PAT_RANDOM)
		perm_init(&p->perm, n, &p->rng);
	pat_pass(p);
}

bool pat_next(struct pat *p, struct pat_touch *t)
{
	if (p->i == p->ws) {
		p->i = 0;
		if (++p->round == p->rounds) {
			p->round = 0;
			p->pass++;
			pat_pass(p);
		}
	}
	if (p->pass >= p->passes)
		return false;
	t->i = p->i++;
	t->write = !p->read;
	switch (p->kind) {
	case PAT_SEQ:
		t->page = t->i;
		break;
	case PAT_RANDOM:
		t->page = perm_apply(&p->perm, t->i, p->n);
		break;
	case PAT_PHASED:
		t->page = (p->start + t->i) % p->n;
		break;
	case PAT_MIX:
		t->page = zipf_draw(p);
		t->write = pat_rng_next(&p->rng) % 5 == 0;
		break;
	default:
		t->page = zipf_draw(p);
		break;
	}
	return true;
}
