/* SPDX-License-Identifier: MIT */
/* The end-of-run summary: text for people (stderr), JSON for programs. */
#ifndef VMM_SUMMARY_H
#define VMM_SUMMARY_H

#include "guest.h"

void vmm_summary_print(const struct vmm_guest *g, FILE *f);
void vmm_summary_json(const struct vmm_guest *g, FILE *f);

#endif
