// SPDX-License-Identifier: MIT
/*
 * Linked into the test programs of a ThreadSanitizer build only (-Dtsan=true),
 * so that Criterion can start at all (Criterion issue #274).
 *
 * Criterion's runner (BoxFort) places its inheritable arena, which the test
 * workers map at the same address, at 0x200000000000 + (rand_r() & 0x3fffff)
 * * 16 MiB, and gives up ("Could not initialize inheritable arena") after ten
 * picks that land on something mapped. Under TSan nearly all of that range is
 * TSan's: shadow and meta memory and PROT_NONE guards, all but [0x550000000000,
 * 0x568000000000), where position-independent programs are loaded. Ten random
 * picks then fail four times in five, and when the arena does come up it can
 * be clobbered (a SEGV in the runner).
 *
 * libcriterion calls rand_r only for this, and memvisor never does, so this
 * definition, which the dynamic linker prefers to libc's, only steers the
 * arena into the free part of that window; BoxFort still checks each pick
 * (mincore) and maps it itself.
 */
#include <stdlib.h>

#define ARENA_PICK_FIRST 0x350000u  /* 0x200000000000 + pick * 16 MiB = 0x550000000000 */
#define ARENA_PICK_COUNT 0x18000u   /* ... up to 0x568000000000 */

int rand_r(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (int)(ARENA_PICK_FIRST + (*seed >> 8) % ARENA_PICK_COUNT);
}
