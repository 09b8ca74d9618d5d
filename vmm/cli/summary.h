/* SPDX-License-Identifier: MIT */
/* The end-of-run summary: text for people (stderr), JSON for programs. */
#ifndef CLI_SUMMARY_H
#define CLI_SUMMARY_H

#include "vmm/guest.h"

/* A guest's own exit code of 120 or more would look like one of memvisor's
 * statuses (120 crash, 122 out of memory...): memvisor run gives this one
 * instead, and reports the guest's code in a line, the summary and the JSON. */
#define CLI_EXIT_GUEST_MAX   119 /* the highest code a guest's own status keeps */
#define CLI_EXIT_GUEST_RANGE 125

/* memvisor run's exit status for a guest that ran: vmm_guest_exit_status,
 * with a guest's own code of 120..255 reported as CLI_EXIT_GUEST_RANGE. */
int cli_run_exit_status(const struct vmm_guest *g);
/* The guest ended by done with a code memvisor reserves (120..255). */
bool cli_exit_code_reserved(const struct vmm_guest *g);
void cli_summary_print(const struct vmm_guest *g, FILE *f);
void cli_summary_json(const struct vmm_guest *g, FILE *f);

/* Several guests on one pool (memvisor run --guest): each guest's part of
 * the text summary, then the pool's part once (read through any of them). */
void cli_summary_print_guest(const struct vmm_guest *g, FILE *f);
void cli_summary_print_pool(const struct vmm_guest *g, unsigned nr_guests, FILE *f);

struct cli_summary_guest {
	const char *name, *path;
	const struct vmm_guest *g;   /* NULL: it never ran */
	int status;                  /* memvisor's exit status for it */
	const char *reason;          /* why it never ran */
};
/* {"guests": [one object each, as cli_summary_json's without the pool],
 *  "pool", "vmstat", "swap" once, "exit_status": the run's (status)} */
void cli_summary_json_guests(const struct cli_summary_guest *gs, unsigned n, int status, FILE *f);

/* Parts of the JSON, for the stats time series (stats.c) as for the
 * summary; safe while guests run. The pool's objects, unless p is NULL:
 * "pool", and with swap "vmstat" and "swap". */
struct json;
void cli_summary_json_pool(struct gmm_pool *p, struct json *j);
/* "mm": a guest's memory, faults, limits and events. */
void cli_summary_json_mm(const struct vmm_guest *g, struct json *j);

#endif
