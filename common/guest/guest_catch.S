/*
 * Catching exceptions and running ring-3 code in the guest.
 *
 * u64 guest_catch_call(void (*fn)(u64), u64 arg, bool user)
 *   Saves the callee-saved registers and RSP in catch_frame, then calls fn(arg) at CPL 0, or
 *   (user) enters fn at CPL 3 on the user stack through IRETQ. Returns 0 when fn returns (from
 *   ring 3 it returns through INT 0x80), or 1 when guest_trap() caught an exception: it then
 *   rewrites the trap frame to IRETQ to catch_landing at CPL 0 with the saved RSP.
 */
#include "segment.h"

	.text
	.globl guest_catch_call
guest_catch_call:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, catch_rsp(%rip)
	movb $1, catch_active(%rip)
	mov %rdi, %rax			/* fn */
	mov %rsi, %rdi			/* arg */
	test %dl, %dl
	jnz 1f
	call *%rax
	jmp catch_returned
1:	mov %rax, %rbx			/* user_trampoline calls *%rbx */
	pushq $SEL_USER_DS		/* SS */
	lea user_stack_top(%rip), %rax
	push %rax			/* RSP */
	pushq $0x2			/* RFLAGS: IF=0, IOPL=0 */
	pushq $SEL_USER_CS64		/* CS */
	lea user_trampoline(%rip), %rax
	push %rax			/* RIP */
	iretq

catch_returned:
	xor %eax, %eax
	jmp 2f
	.globl catch_landing
catch_landing:
	mov $1, %eax
2:	movb $0, catch_active(%rip)
	mov catch_rsp(%rip), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

user_trampoline:
	call *%rbx
	int $0x80			/* back to CPL 0: guest_trap() lands in catch_returned */
	ud2

	.globl catch_returned_landing
catch_returned_landing:
	jmp catch_returned

	.data
	.globl catch_active, catch_rsp
catch_active: .byte 0
	.balign 8
catch_rsp: .quad 0

	.bss
	.balign 16
	.skip 16384
user_stack_top:
