/* SPDX-License-Identifier: MIT */
/* Finding and reading guest images: built-in names and paths. */
#ifndef VMM_IMAGE_H
#define VMM_IMAGE_H

#include <stddef.h>

struct vmm_builtin {
	const char *name;
	const char *summary;
	const char *usage; /* its guest arguments */
};

extern const struct vmm_builtin vmm_builtins[];

/* A GUEST argument to a file path. A name without '/' is a built-in guest,
 * looked up in $MEMVISOR_GUEST_DIR, then next to the memvisor binary (the
 * build tree), then in the installed libexec directory. -ENOENT with err set
 * for an unknown name. */
int vmm_image_resolve(const char *guest, char *path, size_t len, char *err, size_t errlen);
/* Read a whole guest file (size-capped). -errno with err set. */
int vmm_image_read(const char *path, void **buf, size_t *len, char *err, size_t errlen);

#endif
