// SPDX-License-Identifier: MIT
/* Guest text made safe to show: see escape.h. */
#include "escape.h"

#include <string.h>

/* Length of the well-formed UTF-8 character at s if it is U+00A0 or above
 * (Unicode table 3-7: no overlong forms, no surrogates, nothing past
 * U+10FFFF), else 0. U+0080-U+009F are the C1 controls: 0. */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] == 0xc2)
		lo = 0xa0; /* c2 80-9f encode the C1 controls */
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

size_t vmm_escape_text(char *dst, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		size_t n = (s[i] >= 0x20 && s[i] < 0x7f) || s[i] == '\t' ? 1 :
			   utf8_printable(s + i, len - i);

		if (n) {
			if (out + n >= size)
				break;
			memcpy(dst + out, s + i, n);
			out += n;
			i += n;
			continue;
		}
		if (out + 4 >= size)
			break;
		dst[out++] = '\\';
		dst[out++] = 'x';
		dst[out++] = hex[s[i] >> 4];
		dst[out++] = hex[s[i] & 0xf];
		i++;
	}
	dst[out] = '\0';
	return out;
}
