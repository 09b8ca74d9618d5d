/* SPDX-License-Identifier: MIT */
/*
 * One small logging header. Messages go to stderr prefixed "memvisor: ".
 * mv_debug() compiles away unless MV_DEBUG is defined. Errors, warnings and
 * information are shown (mv_log_level is MV_LOG_INFO, and memvisor keeps it
 * there: run -q quiets the summary, never a warning).
 */
#ifndef MEMVISOR_LOG_H
#define MEMVISOR_LOG_H

#include <stdio.h>

enum mv_log_level { MV_LOG_ERROR, MV_LOG_WARN, MV_LOG_INFO, MV_LOG_DEBUG };

extern enum mv_log_level mv_log_level;

void mv_log(enum mv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define mv_err(...)  mv_log(MV_LOG_ERROR, __VA_ARGS__)
#define mv_warn(...) mv_log(MV_LOG_WARN, __VA_ARGS__)
#define mv_info(...) mv_log(MV_LOG_INFO, __VA_ARGS__)
#ifdef MV_DEBUG
#define mv_debug(...) mv_log(MV_LOG_DEBUG, __VA_ARGS__)
#else
#define mv_debug(...) do { if (0) mv_log(MV_LOG_DEBUG, __VA_ARGS__); } while (0)
#endif

#endif
