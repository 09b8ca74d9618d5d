// SPDX-License-Identifier: MIT
/*
 * The console: guest text to memvisor's stdout, one line at a time. Each vCPU
 * buffers its own line so that vCPUs never interleave within a line; a line
 * is written whole under the guest lock, prefixed with the guest's label when
 * several guests share the terminal. Control bytes other than tab are shown
 * as '.', so a guest cannot drive the user's terminal.
 */
#include "guest.h"

#include <string.h>

static void console_emit(struct vmm_vcpu *v)
{
	struct vmm_guest *g = v->g;

	pthread_mutex_lock(&g->lock);
	memcpy(g->last_line, v->line, v->line_len);
	g->last_line[v->line_len] = '\0';
	if (g->cfg.console) {
		if (g->cfg.label)
			fprintf(g->cfg.console, "[%s] ", g->cfg.label);
		fwrite(v->line, 1, v->line_len, g->cfg.console);
		fputc('\n', g->cfg.console);
		fflush(g->cfg.console);
	}
	pthread_mutex_unlock(&g->lock);
	v->line_len = 0;
}

void vmm_console_write(struct vmm_vcpu *v, const char *buf, size_t len)
{
	v->stats.console_bytes += len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n') {
			console_emit(v);
			continue;
		}
		if (c == '\r')
			continue;
		if (c < 0x20 && c != '\t')
			c = '.';
		else if (c == 0x7f)
			c = '.';
		v->line[v->line_len++] = (char)c;
		if (v->line_len == sizeof(v->line) - 1)
			console_emit(v); /* a long line is split rather than lost */
	}
}

void vmm_console_flush(struct vmm_vcpu *v)
{
	if (v->line_len)
		console_emit(v);
}
