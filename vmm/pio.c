// SPDX-License-Identifier: MIT
/* Port I/O: the byte console and the hypercall port. Any other port is a guest error. */
#include "guest.h"

#include "memvisor/abi.h"

#include <string.h>

int vmm_pio(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	const uint8_t *data = (const uint8_t *)r + r->io.data_offset;
	bool out = r->io.direction == KVM_EXIT_IO_OUT;

	if (r->io.port == MV_PORT_CONSOLE && out && r->io.size == 1) {
		vmm_console_write(v, (const char *)data, r->io.count);
		return 0;
	}
	if (r->io.port == MV_PORT_HCALL && out && r->io.size == 4 && r->io.count == 1) {
		uint32_t nr;

		memcpy(&nr, data, sizeof(nr));
		return vmm_hcall(v, nr);
	}
	vmm_vcpu_crash(v, "%s of %u byte%s on I/O port 0x%x, which no device handles",
		       out ? "write" : "read", r->io.size, r->io.size == 1 ? "" : "s", r->io.port);
	return 1;
}
