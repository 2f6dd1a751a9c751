/*
 * Lab 10: the grader's guest, in lab 07's guest-physical space (lab10.c copies it to G_CODE
 * over lab 07's program). It runs the phases VF_DATA_GPA + VF_PHASES names, handles #VE
 * (vector 20) and #UD (vector 6) itself, switches EPT views with VMFUNC, and reports through
 * VMCALL (HC_VF_REPORT: RDI = key, RSI = value), then HC_DONE with nonce ^ DONE_XOR.
 * Registers: R14 = nonce, R13 = phases, RBX = VF_DATA_GPA.
 */
#include "lab10_shared.h"

#define HC_DONE 2

.macro report key, value
	mov $HC_VF_REPORT, %eax
	mov $\key, %edi
	mov \value, %rsi
	vmcall
.endm

.macro step number
	mov $HC_VF_STEP, %eax
	mov $\number, %edi
	vmcall
.endm

/* VM function 0 (EPTP switching) to view \index. */
.macro switch_view index
	xor %eax, %eax
	mov $\index, %ecx
	vmfunc
.endm

/* RCX = the qword of VF_VIEW_GPA at nonce & VF_VIEW_OFFSET_MASK, in the current view. */
.macro view_read
	mov %r14, %rdx
	and $VF_VIEW_OFFSET_MASK, %edx
	mov VF_VIEW_GPA(%rdx), %rcx
.endm

	.section .rodata.lab10_guest, "a"
	.code64
	.globl lab10_guest_start, lab10_guest_end, lab10_ve_handler, lab10_ud_handler
lab10_guest_start:
	mov $G_PARAMS, %r15d
	mov P_NONCE(%r15), %r14
	mov $VF_DATA_GPA, %ebx
	mov VF_PHASES(%rbx), %r13
	test $VF_PHASE_SWITCH, %r13d
	jz 1f
	call phase_switch
1:	test $VF_PHASE_INVALID, %r13d
	jz 1f
	call phase_invalid
1:	test $VF_PHASE_VE, %r13d
	jz 1f
	call phase_ve
1:	test $VF_PHASE_HOOK, %r13d
	jz 1f
	call phase_hook
1:	mov $HC_DONE, %eax
	mov %r14, %rdi
	xor $DONE_XOR, %rdi
	vmcall
2:	hlt
	jmp 2b

/* The same guest-physical page in view 0, in view 1, in view 0 again. */
phase_switch:
	step 1
	view_read
	report VF_REPORT_VIEW_FIRST, %rcx
	switch_view 1
	view_read
	report VF_REPORT_VIEW_SWITCHED, %rcx
	switch_view 0
	view_read
	report VF_REPORT_VIEW_BACK, %rcx
	step 5
	ret

/* An index beyond the list, an empty entry, a function not enabled: each exits, and the
 * hypervisor gives the guest #UD. The view must not have changed. */
phase_invalid:
	step 2
	mov %r14, %rcx
	and $0xff, %ecx
	add $VF_BAD_INDEX_BASE, %ecx
	xor %eax, %eax
	vmfunc
	switch_view VF_EMPTY_INDEX
	mov $1, %eax
	xor %ecx, %ecx
	vmfunc
	report VF_REPORT_UD_COUNT, VF_UD_COUNT(%rbx)
	report VF_REPORT_UD_AT_VMFUNC, VF_UD_AT_VMFUNC(%rbx)
	view_read
	report VF_REPORT_VIEW_AFTER, %rcx
	step 5
	ret

/* Three reads of pages nothing maps: a #VE, a #VE that leaves the busy dword set, then an
 * EPT-violation exit (the hypervisor maps the page). A write to a read-only page with
 * "suppress #VE" (an exit; the hypervisor lets it write), one to a page without it (#VE). */
phase_ve:
	step 3
	movq $3, VF_SKIP(%rbx)		/* mov (%rdx),%rcx and mov %r14,(%rdx): 3 bytes each */
	movq $1, VF_CLEAR_BUSY(%rbx)
	mov %r14, %rdx
	and $0xff8, %edx
	add $(WINDOW_LINEAR + VF_PROBE_GPA), %rdx
	mov (%rdx), %rcx
	report VF_REPORT_VE_REASON, VF_LAST(%rbx)
	report VF_REPORT_VE_QUAL, VF_LAST+8(%rbx)
	report VF_REPORT_VE_GLA, VF_LAST+16(%rbx)
	report VF_REPORT_VE_GPA, VF_LAST+24(%rbx)
	movq $0, VF_CLEAR_BUSY(%rbx)
	add $0x1000, %rdx
	mov (%rdx), %rcx
	mov $VF_INFO_GPA, %eax
	mov 4(%rax), %r9d
	report VF_REPORT_VE_BUSY, %r9
	add $0x1000, %rdx
	mov $-1, %rcx
	mov (%rdx), %rcx
	report VF_REPORT_PROBE_READ, %rcx
	mov $VF_INFO_GPA, %eax
	movl $0, 4(%rax)
	mov $(WINDOW_LINEAR + VF_SUPPRESS_GPA), %edx
	mov %r14, (%rdx)
	mov (%rdx), %rcx
	report VF_REPORT_SUPPRESS_READ, %rcx
	mov $(WINDOW_LINEAR + VF_PLAIN_GPA), %edx
	mov %r14, (%rdx)
	report VF_REPORT_VE_COUNT, VF_VE_COUNT(%rbx)
	report VF_REPORT_INDEXES, VF_INDEXES(%rbx)
	step 5
	ret

/* The agent at work: calls of the code at VF_HOOK_GPA run the hook (view 1, execute-only),
 * reads of it see the original bytes (view 0, read/write); the #VE handler switches. */
phase_hook:
	step 4
	mov %r14, %r12
	and $3, %r12d
	add $VF_HOOK_CALLS_BASE, %r12d
	xor %r10d, %r10d
	xor %r8d, %r8d
1:	lea (%r14, %r8), %rdi
	mov $VF_HOOK_GPA, %eax
	call *%rax
	rol $9, %r10
	xor %rax, %r10
	mov $VF_HOOK_GPA, %eax
	mov 8(%rax), %r9
	mov (%rax), %r11
	inc %r8
	cmp %r12, %r8
	jb 1b
	step 5
	report VF_REPORT_HOOK_RESULT, %r10
	report VF_REPORT_HOOK_READ_LOW, %r11
	report VF_REPORT_HOOK_READ_HIGH, %r9
	report VF_REPORT_HOOKED, VF_HOOKED(%rbx)
	report VF_REPORT_VE_COUNT, VF_VE_COUNT(%rbx)
	report VF_REPORT_INDEXES, VF_INDEXES(%rbx)
	ret

/* #VE: the information area copied to VF_LAST, the EPTP index noted. At the hook page: a fetch
 * goes to view 1, a data access to view 0, and the busy dword is cleared. Elsewhere: skip the
 * faulting instruction, and clear the busy dword if VF_CLEAR_BUSY says so. */
lab10_ve_handler:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	mov $VF_INFO_GPA, %esi
	mov $VF_DATA_GPA, %edx
	incq VF_VE_COUNT(%rdx)
	mov (%rsi), %rax
	mov %rax, VF_LAST(%rdx)
	mov 8(%rsi), %rax
	mov %rax, VF_LAST+8(%rdx)
	mov 16(%rsi), %rax
	mov %rax, VF_LAST+16(%rdx)
	mov 24(%rsi), %rax
	mov %rax, VF_LAST+24(%rdx)
	movzwl 32(%rsi), %ecx
	mov %rcx, VF_LAST+32(%rdx)
	cmp $64, %ecx
	jae 1f
	mov $1, %eax
	shl %cl, %rax
	or %rax, VF_INDEXES(%rdx)
1:	mov 24(%rsi), %rax
	and $~0xfff, %rax
	cmp $VF_HOOK_GPA, %rax
	jne 3f
	xor %ecx, %ecx
	testb $4, 8(%rsi)
	jz 2f
	mov $1, %ecx
2:	xor %eax, %eax
	vmfunc
	movl $0, 4(%rsi)
	jmp 4f
3:	mov VF_SKIP(%rdx), %rax
	add %rax, 32(%rsp)
	cmpq $0, VF_CLEAR_BUSY(%rdx)
	je 4f
	movl $0, 4(%rsi)
4:	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	iretq

/* #UD (the hypervisor's answer to a refused VMFUNC): counted; a RIP at a VMFUNC (a fault, as
 * it must be) counted apart and the 3-byte VMFUNC skipped; any other RIP resumed as it is. */
lab10_ud_handler:
	push %rax
	push %rcx
	mov 16(%rsp), %rcx
	mov $VF_DATA_GPA, %eax
	incq VF_UD_COUNT(%rax)
	cmpw $0x010f, (%rcx)
	jne 1f
	cmpb $0xd4, 2(%rcx)
	jne 1f
	incq VF_UD_AT_VMFUNC(%rax)
	addq $3, 16(%rsp)
1:	pop %rcx
	pop %rax
	iretq
lab10_guest_end:

/* The code at VF_HOOK_GPA: the original (in view 0, never executed) and the hook (view 1). */
	.globl lab10_hook_original, lab10_hook_patched, lab10_hook_end
lab10_hook_original:
	mov %rdi, %rax
	movabs $VF_ORIGINAL_XOR, %rcx
	xor %rcx, %rax
	ret
lab10_hook_patched:
	mov %rdi, %rax
	movabs $VF_HOOK_MUL, %rcx
	imul %rcx, %rax
	incq VF_DATA_GPA + VF_HOOKED
	ret
lab10_hook_end:
