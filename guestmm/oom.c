// SPDX-License-Identifier: MIT
/*
 * The OOM killer, as Linux's oom_kill.c: when a fault finds no frame even
 * after reclaim (the pool full, swap full or absent), one guest is chosen
 * by badness, its memory footprint (rss + swap entries + EPT table pages,
 * oom_badness's rss + swap + page tables) plus oom_score_adj thousandths of
 * all the memory there is (pool + swap); -1000 is never chosen. The victim
 * is ended with a reason that gives every guest's score, and its frames and
 * slots are given back at once (the OOM reaper), so the others go on
 * without waiting for its teardown.
 */
#include "mm.h"

#include "memvisor/log.h"
#include "memvisor/probes.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define OOM_SCORE_ADJ_MIN (-1000)

/* A guest's badness; LLONG_MIN if it may not be chosen. Takes its mm lock. */
static long long oom_badness(struct gmm_pool *p, struct gmm_mm *mm)
{
	uint64_t total = p->nr_frames + (p->swap ? p->swap->nr_slots : 0);
	long long points;

	if (mm->cfg.oom_score_adj <= OOM_SCORE_ADJ_MIN)
		return LLONG_MIN;
	pthread_mutex_lock(&mm->lock);
	points = __atomic_load_n(&mm->oom_victim, __ATOMIC_RELAXED) ? LLONG_MIN :
		 (long long)(mm->rss + mm->swap_ents + mm->ept.nr_tables);
	pthread_mutex_unlock(&mm->lock);
	if (points == LLONG_MIN)
		return points;
	return points + (long long)mm->cfg.oom_score_adj * (long long)(total / 1000);
}

/* Every guest's score into buf, the victim the highest. mms_lock held. */
static struct gmm_mm *oom_choose(struct gmm_pool *p, char *buf, size_t len, long long *best)
{
	struct gmm_mm *victim = NULL;
	size_t off = 0;

	*best = LLONG_MIN;
	for (int i = 0; i < GMM_MAX_GUESTS; i++) {
		struct gmm_mm *mm = p->mms[i];
		const char *name, *sep = off ? ", " : "";
		long long points;

		if (!mm || mm->stopped || mm->dying)
			continue;
		points = oom_badness(p, mm);
		name = mm->cfg.name ? mm->cfg.name : "?";
		/* a long list is cut, never written past buf */
		if (off < len && points == LLONG_MIN)
			off += (size_t)snprintf(buf + off, len - off, "%s%s never", sep, name);
		else if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s %lld", sep, name, points);
		if (points != LLONG_MIN && points > *best) {
			*best = points;
			victim = mm;
		}
	}
	return victim;
}

bool gmm_oom_reaping(struct gmm_pool *p)
{
	for (int i = 0; i < GMM_MAX_GUESTS; i++) {
		struct gmm_mm *mm = p->mms[i];

		if (mm && __atomic_load_n(&mm->oom_victim, __ATOMIC_RELAXED) &&
		    !__atomic_load_n(&mm->oom_reaped, __ATOMIC_ACQUIRE))
			return true;
	}
	return false;
}

struct gmm_mm *gmm_oom_kill(struct gmm_pool *p, struct gmm_mm *mm, const char *cause)
{
	char scores[512] = "", reason[768];
	struct gmm_mm *victim;
	long long points;

	victim = oom_choose(p, scores, sizeof(scores), &points);
	if (!victim)
		return NULL;
	__atomic_store_n(&victim->oom_victim, true, __ATOMIC_RELAXED);
	snprintf(reason, sizeof(reason), "out of memory: %s, for a fault of guest %s; the OOM killer "
		 "chose it (badness %lld; every guest: %s)", cause, mm->cfg.name ? mm->cfg.name : "?",
		 points, scores);
	mv_warn("OOM killer: guest %s killed (badness %lld) for a fault of guest %s; badness: %s",
		victim->cfg.name ? victim->cfg.name : "?", points, mm->cfg.name ? mm->cfg.name : "?",
		scores);
	__atomic_add_fetch(&victim->events.oom_kill, 1, __ATOMIC_RELAXED);
	MV_PROBE(oom_kill, victim->slot, mm->slot, points);
	victim->cfg.ops->kill(victim->cfg.guest, GMM_KILL_OOM, reason);
	gmm_mm_reap(victim);
	return victim;
}
