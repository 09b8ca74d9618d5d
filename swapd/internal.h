/* SPDX-License-Identifier: MIT */
/*
 * swapd internals shared between its files and nowhere else: swapfile.c
 * opens the file and then hands the sized device to slots.c, which owns the
 * slot map, the clusters and the lock.
 */
#ifndef SWAPD_INTERNAL_H
#define SWAPD_INTERNAL_H

#include "swapd.h"

/* Set up the slot map for s->nr_slots slots, all free but slot 0. */
int swapd_slots_init(struct swapd *s);
/* Free what swapd_slots_init set up; safe on a device it never reached. */
void swapd_slots_fini(struct swapd *s);

#endif
