// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the swap spec of "memvisor run --swap FILE[,size=SIZE][,keep]"
 * (cli_parse_swap_spec). Its verdict, and the path, size and keep it returns,
 * are checked against the grammar of the usage text, applied here by a
 * separate reading: FILE not empty and shorter than CLI_SWAP_PATH_MAX, then
 * options separated by commas, each "keep" or "size=SIZE" with SIZE a
 * multiple of 4K of at least 8K (the last size= wins).
 */
#include "fuzz.h"

#include "vmm/cli/parse.h"

#include <errno.h>

struct model {
	uint64_t size;
	bool keep;
};

/* One option of the spec, [opt, opt + len). */
static bool option_ok(const char *opt, size_t len, struct model *m)
{
	char *v;
	uint64_t size;
	bool ok;

	if (len == 4 && !memcmp(opt, "keep", 4))
		return m->keep = true;
	if (len < 5 || memcmp(opt, "size=", 5))
		return false;
	v = strndup(opt + 5, len - 5);
	FZ_CHECK(v, "out of memory");
	ok = strlen(v) == len - 5 && !cli_parse_size(v, &size) && size >= 2 * PAGE_SIZE &&
	     size % PAGE_SIZE == 0;
	if (ok)
		m->size = size;
	free(v);
	return ok;
}

static bool spec_ok(const char *spec, struct model *m)
{
	const char *comma = strchr(spec, ',');
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);

	if (len == 0 || len >= CLI_SWAP_PATH_MAX)
		return false;
	while (comma) {
		const char *opt = comma + 1;

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		if (!option_ok(opt, len, m))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cli_swap_spec out;
	char *spec = malloc(size + 1), err[512];
	struct model m = { 0 };
	bool ok;
	int ret;

	FZ_CHECK(spec, "out of memory");
	memcpy(spec, data, size);
	spec[size] = '\0';
	ok = spec_ok(spec, &m);
	ret = cli_parse_swap_spec(spec, &out, err, sizeof(err));
	FZ_CHECK(ret == 0 || ret == -EINVAL, "'%s' returned %d", spec, ret);
	FZ_CHECK(!ret == ok, "the spec '%s' was %s: %s", spec, ok ? "refused" : "accepted", err);
	if (ok) {
		size_t len = strcspn(spec, ",");

		FZ_CHECK(strlen(out.path) == len && !memcmp(out.path, spec, len), "path of '%s': '%s'",
			 spec, out.path);
		FZ_CHECK(out.size == m.size && out.keep == m.keep, "'%s' gave size %llu keep %d",
			 spec, (unsigned long long)out.size, out.keep);
	} else {
		FZ_CHECK(!strncmp(err, "bad --swap ", 11), "message for '%s': %s", spec, err);
	}
	free(spec);
	return 0;
}
