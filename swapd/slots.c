// SPDX-License-Identifier: MIT
/*
 * The slot map of the swap device, after Linux's swap_map in mm/swapfile.c.
 *
 * swap_map[slot] is the slot's use count: 0 free, 1..SWAPD_MAP_MAX in use,
 * SWAPD_MAP_BAD retired for good. Slot 0 is marked bad at init, as Linux
 * marks its header page, so the scans below skip it without a special case;
 * it is not a retired slot and is counted nowhere.
 *
 * Slots are grouped in clusters of SWAPD_CLUSTER_SLOTS (the last one may be
 * shorter) with a free count each. Allocation fills cur_cluster before it
 * moves on, so that one batch of evictions, and the batches after it, land
 * in neighbouring slots: the writes then go to one region of the file and a
 * later swap-in of neighbours reads one region back. When cur_cluster runs
 * out, a fully free cluster is preferred (it gives the next batches room to
 * stay together), and only then any cluster with a hole in it.
 *
 * Edges of the contract (the header leaves them open):
 *  - inuse counts every slot but 0 with a non-zero map entry, retired too
 *    (SWAPD_MAP_BAD is a count > 0, as the header has it): a retired slot is
 *    out of use for good, so free slots = nr_slots - 1 - inuse, and once
 *    every use is put back inuse == stats.retired;
 *  - get refuses a retired slot (-EINVAL: it holds nothing to share) and a
 *    count already at SWAPD_MAP_MAX (-EOVERFLOW); put of a retired slot
 *    succeeds and leaves it retired, since retiring dropped every use;
 *  - retire ignores slot 0, a slot out of range and a retired slot;
 *  - count returns 0 for slot 0 and out of range, SWAPD_MAP_BAD if retired.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t cluster_of(uint64_t slot)
{
	return slot / SWAPD_CLUSTER_SLOTS;
}

/* Slots in cluster c: all clusters are full-sized but perhaps the last. */
static uint64_t cluster_size(const struct swapd *s, uint64_t c)
{
	uint64_t first = c * SWAPD_CLUSTER_SLOTS;

	return s->nr_slots - first < SWAPD_CLUSTER_SLOTS ?
	       s->nr_slots - first : SWAPD_CLUSTER_SLOTS;
}

int swapd_slots_init(struct swapd *s)
{
	int ret;

	s->nr_clusters = (s->nr_slots + SWAPD_CLUSTER_SLOTS - 1) / SWAPD_CLUSTER_SLOTS;
	s->swap_map = calloc(s->nr_slots, 1);
	s->cluster_free = calloc(s->nr_clusters, sizeof(*s->cluster_free));
	if (!s->swap_map || !s->cluster_free) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = -pthread_mutex_init(&s->lock, NULL);
	if (ret)
		goto fail;
	for (uint64_t c = 0; c < s->nr_clusters; c++)
		s->cluster_free[c] = cluster_size(s, c);
	s->swap_map[0] = SWAPD_MAP_BAD; /* never handed out */
	s->cluster_free[0]--;
	s->inuse = 0;
	s->cur_cluster = 0;
	return 0;
fail:
	free(s->swap_map);
	free(s->cluster_free);
	s->swap_map = NULL;
	s->cluster_free = NULL;
	return ret;
}

void swapd_slots_fini(struct swapd *s)
{
	if (!s->swap_map)
		return; /* the map was never set up, nor the lock */
	pthread_mutex_destroy(&s->lock);
	free(s->swap_map);
	free(s->cluster_free);
	s->swap_map = NULL;
	s->cluster_free = NULL;
}

static bool cluster_fully_free(const struct swapd *s, uint64_t c)
{
	return s->cluster_free[c] == cluster_size(s, c);
}

/*
 * The cluster to continue in once cur_cluster is used up: the first fully
 * free one after it (wrapping), else the first with any free slot. Scanning
 * from cur_cluster keeps the device filling in one direction rather than
 * piling back into the low clusters. Returns false when the device is full.
 */
static bool pick_cluster(struct swapd *s, uint64_t *out)
{
	uint64_t n = s->nr_clusters;

	for (uint64_t i = 1; i <= n; i++) {
		uint64_t c = (s->cur_cluster + i) % n;

		if (cluster_fully_free(s, c)) {
			*out = c;
			return true;
		}
	}
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t c = (s->cur_cluster + i) % n;

		if (s->cluster_free[c]) {
			*out = c;
			return true;
		}
	}
	return false;
}

/* Take free slots of cluster c from *cursor on, up to want; returns how many. */
static unsigned take_from_cluster(struct swapd *s, uint64_t c, uint64_t *cursor,
				  uint64_t *slots, unsigned want)
{
	uint64_t end = c * SWAPD_CLUSTER_SLOTS + cluster_size(s, c);
	unsigned got = 0;

	while (got < want && *cursor < end && s->cluster_free[c]) {
		uint64_t slot = (*cursor)++;

		if (s->swap_map[slot])
			continue;
		s->swap_map[slot] = 1;
		s->cluster_free[c]--;
		s->inuse++;
		slots[got++] = slot;
	}
	return got;
}

unsigned swapd_slot_alloc(struct swapd *s, uint64_t *slots, unsigned n)
{
	uint64_t c, cursor;
	unsigned got = 0, taken;

	if (!slots || !n)
		return 0;
	pthread_mutex_lock(&s->lock);
	c = s->cur_cluster;
	/*
	 * The cursor only moves forward within a call, so one batch comes out
	 * in ascending slot order; each call starts at the cluster's first
	 * slot again to fill the holes that puts have left behind it.
	 */
	cursor = c * SWAPD_CLUSTER_SLOTS;
	while (got < n) {
		if (!s->cluster_free[c]) {
			if (!pick_cluster(s, &c))
				break; /* full: the caller gets fewer than asked */
			s->cur_cluster = c;
			cursor = c * SWAPD_CLUSTER_SLOTS;
		}
		taken = take_from_cluster(s, c, &cursor, slots + got, n - got);
		if (!taken)
			break; /* a free count without a free slot: never spin on it */
		got += taken;
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

static bool slot_valid(const struct swapd *s, uint64_t slot)
{
	return slot && slot < s->nr_slots;
}

int swapd_slot_get(struct swapd *s, uint64_t slot)
{
	int ret = 0;

	if (!slot_valid(s, slot))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!s->swap_map[slot] || s->swap_map[slot] == SWAPD_MAP_BAD)
		ret = -EINVAL;
	else if (s->swap_map[slot] == SWAPD_MAP_MAX)
		ret = -EOVERFLOW;
	else
		s->swap_map[slot]++;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int swapd_slot_put(struct swapd *s, uint64_t slot)
{
	int ret = 0;

	if (!slot_valid(s, slot))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!s->swap_map[slot]) {
		ret = -EINVAL; /* a double put: the slot is already free */
	} else if (s->swap_map[slot] != SWAPD_MAP_BAD && !--s->swap_map[slot]) {
		s->cluster_free[cluster_of(slot)]++;
		s->inuse--;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void swapd_slot_retire(struct swapd *s, uint64_t slot)
{
	if (!slot_valid(s, slot))
		return;
	pthread_mutex_lock(&s->lock);
	if (s->swap_map[slot] != SWAPD_MAP_BAD) {
		if (!s->swap_map[slot]) {
			s->cluster_free[cluster_of(slot)]--;
			s->inuse++;
		}
		s->swap_map[slot] = SWAPD_MAP_BAD;
		s->stats.retired++;
	}
	pthread_mutex_unlock(&s->lock);
}

unsigned swapd_slot_count(struct swapd *s, uint64_t slot)
{
	unsigned count;

	if (!slot_valid(s, slot))
		return 0;
	pthread_mutex_lock(&s->lock);
	count = s->swap_map[slot];
	pthread_mutex_unlock(&s->lock);
	return count;
}

uint64_t swapd_free_slots(struct swapd *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nr_slots - 1 - s->inuse;
	pthread_mutex_unlock(&s->lock);
	return n;
}
