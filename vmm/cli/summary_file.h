/* SPDX-License-Identifier: MIT */
/* --summary-json FILE: the JSON summary written whole, or not at all. */
#ifndef CLI_SUMMARY_FILE_H
#define CLI_SUMMARY_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * --summary-json FILE: the summary goes to a new file beside FILE, renamed
 * over it once complete, so a run that fails (or a memvisor that is killed)
 * leaves FILE as it was. FILE itself is never opened: stat says whether it
 * is a regular file, and nothing else is accepted, so a FIFO or a device
 * there cannot block memvisor or see a write. The new file is made by
 * mkostemp (O_EXCL: nothing planted under its name is written through) and
 * given FILE's mode, or for a new FILE the mode fopen would give (0666 less
 * the umask): a summary holds nothing secret. Symbolic links to FILE are
 * followed, so a link stays a link - but not a link another user planted in
 * a sticky, world-writable directory (protected_symlinks' rule).
 */
struct cli_summary_file {
	char path[PATH_MAX];     /* FILE, links resolved */
	char tmp[PATH_MAX + 16];
	FILE *f;
	bool written;            /* a whole summary is in tmp */
};

/* Where an output FILE (the summary, a plot) goes: FILE with links
 * resolved into path (len >= PATH_MAX), and the mode the new file gets. 0,
 * or the usage status with one line naming what: FILE is not a regular
 * file or cannot be resolved. Call before any thread starts (umask). */
int cli_output_target(const char *what, const char *file, char *path, size_t len, mode_t *mode);

/* Check FILE and make the new file beside it: 0, or the usage status with
 * one line printed (FILE is not a regular file, or cannot be written). */
int cli_summary_file_open(const char *file, struct cli_summary_file *j);
/* FILE becomes the summary if it is complete; the new file goes otherwise.
 * Returns status, or VMM_EXIT_RUNTIME (with a line) if writing failed. */
int cli_summary_file_finish(struct cli_summary_file *j, const char *file, int status);

#endif
