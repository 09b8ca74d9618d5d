/* SPDX-License-Identifier: MIT */
/* Guest text made safe for the user's terminal. Pure, unit-tested. */
#ifndef VMM_ESCAPE_H
#define VMM_ESCAPE_H

#include <stddef.h>

/*
 * Guest text (console lines, assertion file and message) made safe for the
 * user's terminal: printable ASCII, tab and well-formed UTF-8 of U+00A0 and up
 * pass; every other byte is written as \xNN (two lowercase hex digits). That
 * covers newline and carriage return, the other C0 controls, DEL, the 8-bit
 * C1 controls 0x80-0x9f and their UTF-8 form (\xc2\x80-\xc2\x9f), and bytes
 * of malformed UTF-8, so guest text can neither start a line (and forge a
 * "memvisor:" line) nor send a terminal control sequence. A backslash the
 * guest wrote stays as it is: the form is for reading, not for decoding.
 * Writes at most size - 1 characters and a NUL, never part of an escape or of
 * a UTF-8 character; returns the length written. size must be at least 1.
 */
size_t vmm_escape_text(char *dst, size_t size, const char *src, size_t len);
/* Room that escaping len bytes may need, with the NUL. */
#define VMM_ESCAPED_SIZE(len) (4 * (len) + 1)

#endif
