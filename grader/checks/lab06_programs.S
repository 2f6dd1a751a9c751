/*
 * Lab 06 guest programs whose every instruction address matters: the checks compare the
 * hypervisor's trace with these labels (grader/checks/lab06.c reports their addresses) and with
 * the instructions Bochs fetched. Called as guest_program(nonce): the nonce is in RDI. The
 * hypercalls (VMCALL, RAX = number, RDI = argument) are in lab06_shared.h.
 */
#include "lab06_shared.h"

#define HC_REPORT 1

	.text
	.code64

/* mtf-trace: a loop of TRACE_LOOP_BASE + nonce % TRACE_LOOP_SPREAD iterations, traced; then a
 * second trace, longer than the trace buffer, ended by a start with a limit of 0. */
	.globl trace_program, trace_l1, trace_l2, trace_l3, trace_l4, trace_l5, trace_l6, trace_stop
	.globl trace_long, trace_long_jnz, trace_long_end, trace_long_zero, trace_long_call
trace_program:
	push %rbx
	mov %rdi, %rbx
	mov %rdi, %rcx
	and $(TRACE_LOOP_SPREAD - 1), %ecx
	add $TRACE_LOOP_BASE, %ecx
	mov $HC_TRACE_START, %eax
	mov $TRACE_LIMIT, %edi
	vmcall
trace_l1:
	imul $TRACE_MULTIPLIER, %rbx, %rbx
trace_l2:
	add %rcx, %rbx
trace_l3:
	rol $5, %rbx
trace_l4:
	dec %rcx
trace_l5:
	jnz trace_l1
trace_l6:
	mov $HC_TRACE_STOP, %eax
trace_stop:
	vmcall
	mov $HC_REPORT, %eax
	lea trace_key(%rip), %rdi
	mov %rbx, %rsi
	vmcall
	mov $TRACE_LONG_LOOP, %ecx
	mov $HC_TRACE_START, %eax
	mov $TRACE_LONG_LIMIT, %edi
	vmcall
trace_long:
	dec %ecx
trace_long_jnz:
	jnz trace_long
trace_long_end:
	mov $HC_TRACE_START, %eax
trace_long_zero:
	xor %edi, %edi
trace_long_call:
	vmcall
	pop %rbx
	ret

/* mtf-rep: REP STOSB of REP_COUNT_BASE + nonce % REP_COUNT_SPREAD bytes, traced. */
	.globl rep_program, rep_l1, rep_l2, rep_insn, rep_after, rep_stop
rep_program:
	mov %rdi, %rax
	xor %edx, %edx
	mov $REP_COUNT_SPREAD, %ecx
	div %rcx
	lea REP_COUNT_BASE(%rdx), %rcx
	mov $HC_TRACE_START, %eax
	mov $TRACE_LIMIT, %edi
	vmcall
rep_l1:
	lea rep_buffer(%rip), %rdi
rep_l2:
	mov $0x5a, %al
rep_insn:
	rep stosb
rep_after:
	mov $HC_TRACE_STOP, %eax
rep_stop:
	vmcall
	ret

/* mtf-fault: the first traced instruction raises #UD; run under guest_catch(). */
	.globl fault_program, fault_ud2
fault_program:
	mov $HC_TRACE_START, %eax
	mov $SHORT_TRACE_LIMIT, %edi
	vmcall
fault_ud2:
	ud2
	ret

/* mtf-inject and mtf-vs-timer: an external interrupt injected at the entry after the
 * hypercall (RFLAGS.IF = 1, no STI shadow left), then traced. RDI = the hypercall number. */
	.globl inject_program, inject_after
inject_program:
	mov %rdi, %rax
	mov $SHORT_TRACE_LIMIT, %edi
	sti
	nop
	vmcall
inject_after:
	cli
	mov $HC_TRACE_STOP, %eax
	vmcall
	ret

/* mtf-hlt: HLT with RFLAGS.IF = 0, traced (the check turns HLT exiting off). */
	.globl hlt_program, hlt_insn, hlt_after, hlt_next
hlt_program:
	cli
	mov $HC_TRACE_START, %eax
	mov $SHORT_TRACE_LIMIT, %edi
	vmcall
hlt_insn:
	hlt
hlt_after:
	nop
hlt_next:
	mov $HC_TRACE_STOP, %eax
	vmcall
	ret

/* mtf-vs-interrupt: an instruction that makes an interrupt pending (a self-IPI), traced one
 * step with RFLAGS.IF = 1: the MTF exit must come first. RDI = the ICR (low) value. */
	.globl event_program, event_send, event_after
event_program:
	mov %edi, %edx
	mov $0xfee00300, %r8d	/* the local APIC's ICR (low) */
	mov $HC_TRACE_START, %eax
	mov $1, %edi
	sti
	vmcall
event_send:
	movl %edx, (%r8)
event_after:
	nop
	cli
	ret

/* breakpoint: x = nonce; repeat N times: x = x * M + i, x ^= X, x = rol(x, 7); then x = ~x.
 * Breakpoints go on bp_hit1 and bp_hit2 (each runs N times) and bp_hit3 (once). */
	.globl bp_program, bp_hit1, bp_hit2, bp_hit3, bp_after1, bp_after2, bp_after3
bp_program:
	mov %rdi, %rax
	mov %rdi, %rcx
	and $(BP_LOOP_SPREAD - 1), %ecx
	add $BP_LOOP_BASE, %ecx
1:
bp_hit1:
	imul $BP_MULTIPLIER, %rax, %rax
bp_after1:
	add %rcx, %rax
bp_hit2:
	xor $BP_XOR, %rax
bp_after2:
	rol $7, %rax
	dec %rcx
	jnz 1b
bp_hit3:
	not %rax
bp_after3:
	mov %rax, %rsi
	lea bp_key(%rip), %rdi
	mov $HC_REPORT, %eax
	vmcall
	ret

	.section .rodata
trace_key:
	.asciz "trace.result"
bp_key:
	.asciz "bp.result"

	.bss
rep_buffer:
	.skip 64
