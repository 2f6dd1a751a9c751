/*
 * Interrupt stubs: two tables of 256 16-byte stubs (stub v at table + 16 * v), one for the
 * host's IDT and one for the guest's, so that an exception taken in VMX non-root operation reaches the guest runtime and never the host's panic.
 * Each stub pushes a zero error code where the CPU pushes none, then the vector, saves the
 * general registers as struct trap_frame and calls host_trap() or guest_trap(frame).
 */
.macro TABLE prefix
	.text
	.balign 16
	.globl \prefix\()_vector_stubs
\prefix\()_vector_stubs:
	.set i, 0
	.rept 256
	.balign 16
	.if !(i == 8 || (i >= 10 && i <= 14) || i == 17 || i == 21 || i == 29 || i == 30)
	pushq $0
	.endif
	pushq $i
	jmp \prefix\()_trap_common
	.set i, i + 1
	.endr
\prefix\()_trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $-16, %rsp
	call \prefix\()_trap
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq
.endm

	TABLE host
	TABLE guest
