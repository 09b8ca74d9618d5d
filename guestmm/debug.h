/* SPDX-License-Identifier: MIT */
/*
 * GMM_BUG_ON, as Linux's VM_BUG_ON: a broken rule of the memory manager
 * (who may touch a frame, which state an entry may be in) stops memvisor at
 * once with the file, line and condition, rather than letting one guest's
 * page reach another. Compiled in unless NDEBUG (meson -Db_ndebug=true);
 * every check is a few flag tests, cheap enough for the default build.
 */
#ifndef GUESTMM_DEBUG_H
#define GUESTMM_DEBUG_H

__attribute__((noreturn, cold)) void gmm_bug(const char *file, int line, const char *cond);

#ifndef NDEBUG
#define GMM_BUG_ON(cond) \
	do { if (__builtin_expect(!!(cond), 0)) gmm_bug(__FILE__, __LINE__, #cond); } while (0)
#else
#define GMM_BUG_ON(cond) do { (void)sizeof(cond); } while (0)
#endif

#endif
