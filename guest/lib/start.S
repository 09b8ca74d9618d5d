/* Entry on every vCPU: rdi = vCPU index, rsi = boot info, rsp = top of this vCPU's stack. */
	.section .text.start, "ax"
	.globl _start
_start:
	xor %ebp, %ebp
	and $-16, %rsp
	call mv_rt_start
	ud2
	.section .note.GNU-stack, "", @progbits
