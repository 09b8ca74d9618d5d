// SPDX-License-Identifier: MIT
/*
 * The console: guest text to memvisor's stdout, one line at a time. Each vCPU
 * buffers its own line, as the guest wrote it, so that vCPUs never interleave
 * within a line; a line is escaped (vmm_escape_text: control bytes, DEL, C1
 * controls raw or UTF-8-encoded, malformed UTF-8 become \xNN), so a guest
 * cannot drive the user's terminal, and written whole under the guest lock,
 * prefixed with the guest's label when several guests share the terminal.
 * The escaping is done on the whole line rather than byte by byte because a
 * UTF-8 character may arrive split over two writes.
 */
#include "guest.h"
#include "escape.h"

#include <string.h>

static void console_emit(struct vmm_vcpu *v)
{
	struct vmm_guest *g = v->g;
	char text[VMM_ESCAPED_SIZE(sizeof(v->line))];
	size_t len = vmm_escape_text(text, sizeof(text), v->line, v->line_len);

	pthread_mutex_lock(&g->lock);
	/* what a crash report quotes: escaped, cut at a whole character */
	vmm_escape_text(g->last_line, sizeof(g->last_line), v->line, v->line_len);
	if (g->cfg.console) {
		/* the stream's own lock keeps a line whole against other guests
		 * writing to the same terminal (g->lock is this guest's alone) */
		flockfile(g->cfg.console);
		if (g->cfg.label)
			fprintf(g->cfg.console, "[%s] ", g->cfg.label);
		fwrite(text, 1, len, g->cfg.console);
		fputc('\n', g->cfg.console);
		fflush(g->cfg.console);
		funlockfile(g->cfg.console);
	}
	pthread_mutex_unlock(&g->lock);
	v->line_len = 0;
}

void vmm_console_write(struct vmm_vcpu *v, const char *buf, size_t len)
{
	v->stats.console_bytes += len;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			console_emit(v);
			continue;
		}
		if (c == '\r')
			continue;
		v->line[v->line_len++] = c;
		if (v->line_len == sizeof(v->line) - 1)
			console_emit(v); /* a long line is split rather than lost */
	}
}

void vmm_console_flush(struct vmm_vcpu *v)
{
	if (v->line_len)
		console_emit(v);
}
