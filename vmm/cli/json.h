/* SPDX-License-Identifier: MIT */
/* A minimal JSON writer: enough for summaries and benchmark results. */
#ifndef CLI_JSON_H
#define CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	bool need_comma[16];
};

void json_init(struct json *j, FILE *f);
void json_begin(struct json *j, const char *key, char open);  /* '{' or '[' */
void json_end(struct json *j, char close);
void json_str(struct json *j, const char *key, const char *v); /* NULL -> null */
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_f64(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);

#endif
