// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the swap spec of "memvisor run --swap FILE[,size=SIZE][,keep]".
 * Its parser is static in vmm/run.c, so the spec goes in through the command
 * line: "run --host-mm --swap=SPEC guest". --host-mm does not go with --swap,
 * so a spec the parser accepts ends in that refusal and nothing is opened or
 * run; a spec it refuses ends in "bad --swap". Which of the two happened is
 * checked against the grammar of the usage text: FILE not empty and shorter
 * than PATH_MAX, then options separated by commas, each "keep" or "size=SIZE"
 * with SIZE a multiple of 4K of at least 8K.
 *
 * vmm_usage_error lives in vmm/main.c, outside the library: this target
 * defines its own, which keeps the message instead of printing it.
 */
#include "fuzz.h"

#include "vmm/cli.h"
#include "vmm/guest.h"
#include "vmm/parse.h"

#include <stdarg.h>

#define PATH_LEN 4096 /* run.c's path buffer: a FILE must be shorter */

static char usage_msg[8192];

int vmm_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(usage_msg, sizeof(usage_msg), fmt, ap);
	va_end(ap);
	return VMM_EXIT_USAGE;
}

/* One option of the spec, [opt, opt + len). */
static bool option_ok(const char *opt, size_t len)
{
	char *v;
	uint64_t size;
	bool ok;

	if (len == 4 && !memcmp(opt, "keep", 4))
		return true;
	if (len < 5 || memcmp(opt, "size=", 5))
		return false;
	v = strndup(opt + 5, len - 5);
	FZ_CHECK(v, "out of memory");
	ok = strlen(v) == len - 5 && !vmm_parse_size(v, &size) && size >= 2 * PAGE_SIZE &&
	     size % PAGE_SIZE == 0;
	free(v);
	return ok;
}

static bool spec_ok(const char *spec)
{
	const char *comma = strchr(spec, ',');
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);

	if (len == 0 || len >= PATH_LEN)
		return false;
	while (comma) {
		const char *opt = comma + 1;

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		if (!option_ok(opt, len))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *arg = malloc(size + 8), *spec = arg + 7;
	int ret;

	FZ_CHECK(arg, "out of memory");
	memcpy(arg, "--swap=", 7); /* one argument, so that a spec "--" is not the end of options */
	memcpy(spec, data, size);
	spec[size] = '\0';
	char *argv[] = { "run", "--host-mm", arg, "/nonexistent/guest", NULL };

	usage_msg[0] = '\0';
	ret = vmm_cmd_run(ARRAY_SIZE(argv) - 1, argv);
	FZ_CHECK(ret == VMM_EXIT_USAGE, "run --swap '%s' returned %d: %s", spec, ret, usage_msg);
	if (spec_ok(spec))
		FZ_CHECK(!strncmp(usage_msg, "--host-mm ", 10),
			 "a valid spec '%s' was refused: %s", spec, usage_msg);
	else
		FZ_CHECK(!strncmp(usage_msg, "bad --swap ", 11),
			 "an invalid spec '%s' was accepted: %s", spec, usage_msg);
	free(arg);
	return 0;
}
