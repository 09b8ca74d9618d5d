// SPDX-License-Identifier: MIT
/* hello: the smallest useful guest. Greets, says where it runs, echoes its arguments. */
#include "mv.h"

int main(int argc, char **argv)
{
	mv_printf("Hello from memvisor guest on vCPU %u of %u, %lu MiB of RAM\n", mv_cpu(),
		  mv_ncpus(), mv_ram_size() >> 20);
	for (int i = 0; i < argc; i++)
		mv_printf("  arg %d: %s\n", i, argv[i]);
	return 0;
}
