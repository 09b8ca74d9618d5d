// SPDX-License-Identifier: MIT
/* memvisor guests: the built-in guests and their arguments. */
#include "cli.h"
#include "vmm/image.h"

#include <stdio.h>

int cli_cmd_guests(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error("'guests' takes no arguments");
	printf("Built-in guests (memvisor run NAME [options] [-- ARGS]):\n");
	for (const struct vmm_builtin *b = vmm_builtins; b->name; b++)
		printf("  %-8s %s\n  %-8s args: %s\n", b->name, b->summary, "", b->usage);
	return 0;
}
