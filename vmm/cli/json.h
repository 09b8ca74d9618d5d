/* SPDX-License-Identifier: MIT */
/* A minimal JSON writer: enough for summaries and benchmark results. */
#ifndef VMM_JSON_H
#define VMM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vmm_json {
	FILE *f;
	int depth;
	bool need_comma[16];
};

void vmm_json_init(struct vmm_json *j, FILE *f);
void vmm_json_begin(struct vmm_json *j, const char *key, char open);  /* '{' or '[' */
void vmm_json_end(struct vmm_json *j, char close);
void vmm_json_str(struct vmm_json *j, const char *key, const char *v); /* NULL -> null */
void vmm_json_u64(struct vmm_json *j, const char *key, uint64_t v);
void vmm_json_i64(struct vmm_json *j, const char *key, int64_t v);
void vmm_json_f64(struct vmm_json *j, const char *key, double v);
void vmm_json_bool(struct vmm_json *j, const char *key, bool v);

#endif
