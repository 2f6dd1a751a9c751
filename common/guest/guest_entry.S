/* The guest's first instruction: a known stack, then guest_main(). */
	.text
	.globl guest_start
guest_start:
	lea guest_stack_top(%rip), %rsp
	call guest_main
1:	jmp 1b

	.bss
	.balign 16
	.skip 16384
	.globl guest_stack_top
guest_stack_top:
