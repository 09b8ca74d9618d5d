// SPDX-License-Identifier: MIT
/*
 * A printf subset for guests: %d %i %u %x %X %p %s %c %%, the l/ll/z length
 * modifiers, a field width and the 0 and - flags. Output is buffered per vCPU
 * and sent a line at a time, because each hypercall is an exit (~30 us here).
 */
#include "mv.h"

struct out {
	char *buf;
	size_t len, pos;
};

static void out_c(struct out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void out_pad(struct out *o, const char *s, size_t n, int width, bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	if (!left)
		while (fill-- > 0)
			out_c(o, pad);
	for (size_t i = 0; i < n; i++)
		out_c(o, s[i]);
	if (left)
		while (fill-- > 0)
			out_c(o, ' ');
}

static void out_num(struct out *o, uint64_t v, bool neg, unsigned base, bool upper,
		    int width, bool left, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg) {
		if (pad == '0') {
			out_c(o, '-');
			width--;
		} else {
			tmp[sizeof(tmp) - 1 - n++] = '-';
		}
	}
	out_pad(o, tmp + sizeof(tmp) - n, n, width, left, pad);
}

/* One pass over the format, as every printf is: flags, width and length are
 * state of the conversion in hand, so the loop stays one function (62 lines)
 * rather than passing that state between pieces. */
int mv_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = { buf, len, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		bool left = false;
		char pad = ' ';
		int width = 0, lng = 0;

		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++)
			*fmt == '-' ? (left = true) : (pad = '0');
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		switch (*fmt) {
		case 'd': case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			out_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, width, left, pad);
			break;
		}
		case 'u': case 'x': case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			out_num(&o, v, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, left, pad);
			break;
		}
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (uint64_t)va_arg(ap, void *), false, 16, false, width, left, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			out_pad(&o, s, strlen(s), width, left, ' ');
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			out_pad(&o, &c, 1, width, left, ' ');
			break;
		}
		case '%':
			out_c(&o, '%');
			break;
		default: /* unknown conversion: show it rather than guess */
			out_c(&o, '%');
			if (!*fmt)
				goto end;
			out_c(&o, *fmt);
		}
	}
end:
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = '\0';
	return (int)o.pos;
}

int mv_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = mv_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

#define LINE 240
static struct { char buf[LINE]; size_t len; } lines[MV_MAX_VCPUS];

void mv_flush(void)
{
	unsigned cpu = mv_cpu();

	if (lines[cpu].len)
		mv_write(lines[cpu].buf, lines[cpu].len);
	lines[cpu].len = 0;
}

static void put(char c)
{
	unsigned cpu = mv_cpu();

	lines[cpu].buf[lines[cpu].len++] = c;
	if (c == '\n' || lines[cpu].len == LINE)
		mv_flush();
}

void mv_puts(const char *s)
{
	while (*s)
		put(*s++);
	put('\n');
}

int mv_printf(const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = mv_vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	for (int i = 0; tmp[i]; i++)
		put(tmp[i]);
	return n;
}
