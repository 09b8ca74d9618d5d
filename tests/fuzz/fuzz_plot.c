// SPDX-License-Identifier: MIT
/*
 * Fuzz target: memvisor plot's reader of stats files (vmm/cli/plot_json.c).
 * The input is a whole stats file. Whatever it holds, the reader ends with 0
 * or an error line, and what it accepts comes out as a gnuplot script and
 * data files whose guest names hold only [A-Za-z0-9._-] (a name can never
 * end a quoted string in the script and start a command), and whose samples
 * have times that never go back.
 */
#include "fuzz.h"

#include "vmm/cli/plot.h"

static void check_series(const struct plot_series *s)
{
	char buf[1 << 16];
	FILE *f;

	for (size_t i = 0; i < s->nr_guests; i++) {
		const struct plot_guest *g = &s->g[i];

		for (const char *c = g->name; *c; c++)
			FZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
					*c), "guest name '%s' holds byte 0x%02x", g->name,
				 (unsigned char)*c);
		for (size_t k = 1; k < g->n; k++)
			FZ_CHECK(g->s[k].t >= g->s[k - 1].t, "guest %s: t goes back at sample %zu",
				 g->name, k);
		f = fmemopen(buf, sizeof(buf), "w");
		if (f) {
			plot_write_data(f, g);
			fclose(f);
		}
	}
	f = fmemopen(buf, sizeof(buf), "w");
	if (f) {
		plot_write_script(f, s, "plot.png", "memvisor: fuzz");
		fclose(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plot_series *s = calloc(1, sizeof(*s));
	char err[320];
	FILE *f;
	int ret;

	if (!s)
		return 0;
	f = size ? fmemopen((void *)data, size, "r") : NULL;
	if (f) {
		err[0] = '\0';
		ret = plot_parse_file(f, s, err, sizeof(err));
		fclose(f);
		FZ_CHECK(!ret || (err[0] && !strchr(err, '\n')),
			 "refused (%d) without one error line: '%s'", ret, err);
		if (!ret)
			check_series(s);
	}
	plot_series_free(s);
	free(s);
	return 0;
}
