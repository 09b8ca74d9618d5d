/* SPDX-License-Identifier: MIT */
/*
 * The summary's counters, written once: each has its JSON key, where the
 * text summary shows it, its description (docs/usage.md has the table that
 * 'memvisor counters' prints, and tests/test_cli.c checks the two agree),
 * and where it is read from. summary.c (text) and summary_json.c (JSON)
 * only walk the table. Private to the summary files, and to stats.c, which
 * sums the same snapshots for the progress line.
 */
#ifndef CLI_SUMMARY_TABLE_H
#define CLI_SUMMARY_TABLE_H

#include "vmm/guest.h"

#include <stddef.h>

/* A JSON object of the summary; every counter is in one. */
enum summary_sect {
	SECT_MM,        /* "mm": the guest's memory and its faults */
	SECT_HANDLER,   /* "mm"."handler_ns": fault-handler CPU time by stage */
	SECT_LIMITS,    /* "mm"."limits": as memcg's memory.min/low/high/max */
	SECT_EVENTS,    /* "mm"."events": as memcg's memory.events */
	SECT_POOL,      /* "pool": unless --host-mm */
	SECT_VMSTAT,    /* "vmstat": with --swap */
	SECT_SWAP,      /* "swap": with --swap */
	NR_SECTS,
};

/* A line of the text summary; LINE_NONE: JSON only. */
enum summary_line {
	LINE_NONE,
	LINE_MEMORY,
	LINE_FAULTS,
	LINE_HANDLER,
	LINE_TABLES,
	LINE_LIMITS,
	LINE_EVENTS,
	LINE_POOL,            /* from here on: the pool's, shared by its guests */
	LINE_PREZERO,
	LINE_RECLAIM,
	LINE_SWAP,
	LINE_SWAP_ERRORS,
	LINE_SWAP_FILE,
	NR_LINES,
};

/* How the text shows a value (JSON always has the raw number). */
enum summary_kind {
	KIND_COUNT,
	KIND_PAGES,           /* pages, shown as a size */
	KIND_BYTES,           /* bytes, shown as a size */
	KIND_NS_PER_FAULT,    /* ns in all, shown as us per fault */
	KIND_NS_PER_FREED,    /* ns in all, shown as us per freed frame */
	KIND_LIMIT,           /* pages, shown as a size; 0 is none */
};

/* Snapshots a summary reads, taken once. */
struct summary_snap {
	const struct vmm_guest *g;
	const struct gmm_mm *mm;
	const struct swapd *sw;             /* NULL: no swap device */
	bool pool;                          /* ps is valid */
	/* copied under the mm lock: the guest may still be running (memvisor stat) */
	struct gmm_fault_stats fs;
	struct {
		uint64_t total_vm, locked_vm, rss, hiwater_rss, swap_ents;
	} mmc;
	struct gmm_pool_stats ps;           /* gmm_pool_stats_read */
	struct gmm_vmstat vm;               /* gmm_vmstat_read, with swap */
	uint64_t ept_table_bytes;           /* memvisor's GPA->frame table */
	uint64_t gpt_bytes;                 /* the guest's own page tables */
	uint64_t pool_bytes, descriptor_bytes;
	uint64_t freed;                     /* frames reclaimed: kswapd + direct */
	struct gmm_limits limits;           /* the guest's, frames */
	struct gmm_mm_events events;        /* its memory.events */
	uint64_t sw_inuse;                  /* the swap device's, under its lock */
	struct swapd_stats sws;
};

/* Which of those a counter is read from. */
enum summary_src { SRC_FAULT, SRC_POOL, SRC_VMSTAT, SRC_SWAPD, SRC_SNAP };

struct summary_counter {
	enum summary_sect sect;
	const char *key;          /* JSON key within its object */
	enum summary_line line;
	const char *label;        /* text: shown after the value */
	enum summary_kind kind;
	const char *doc;          /* one line for docs/usage.md */
	enum summary_src src;
	size_t off;               /* of a uint64_t in src */
};

extern const struct summary_counter summary_counters[];
extern const size_t summary_nr_counters;

const char *summary_sect_name(enum summary_sect sect);
/* The text line's title as memvisor counters shows it. */
const char *summary_line_name(enum summary_line line);
/* Safe while guests run: each part is copied under the lock that guards
 * it (the mm's, the pool's, the swap device's) or read atomically. */
void summary_snap_take(const struct vmm_guest *g, struct summary_snap *s);
/* The pool's part alone (pool, vmstat, swap) into a zeroed s; p may be NULL. */
void summary_snap_take_pool(struct gmm_pool *p, struct summary_snap *s);
/* The section's figures exist in this run (a pool, a swap device). */
bool summary_sect_shown(const struct summary_snap *s, enum summary_sect sect);
uint64_t summary_value(const struct summary_counter *c, const struct summary_snap *s);

#endif
