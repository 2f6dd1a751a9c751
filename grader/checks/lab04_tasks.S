/*
 * Lab 04 task-switch checks: a 32-bit protected-mode guest (paging on, no IA-32e mode) whose
 * tasks switch with JMP, CALL, INT through a task gate, IRET with NT = 1, and a double fault
 * through a task gate. grader/checks/lab04_tasks.c builds its GDT, IDT, TSSes and page
 * directory and points the VMCS at task_main. Facts go out through VMCALL (HC_REPORT = 1,
 * HC_DONE = 2; see common/include/hypercall.h).
 */
#define SEL_TSS_A 0x18
#define SEL_TSS_B 0x20
#define SEL_TSS_SHORT 0x38
#define SEL_TSS_NOT_PRESENT 0x40
#define SEL_TSS_E 0x48				/* sound until the check damages it after the exit */
#define SEL_TSS_F 0x50
#define SEL_BEYOND_GDT 0x1238
#define EFLAGS_NT 0x4000
#define TSS_TYPE_OFFSET 5		/* byte of a descriptor that holds P, DPL, S and the type */

.macro REPORT key, value
	.pushsection .rodata
9001:	.asciz "\key"
	.popsection
	push %eax
	push %edi
	push %esi
	mov \value, %esi
	mov $9001b, %edi
	mov $1, %eax
	vmcall
	pop %esi
	pop %edi
	pop %eax
.endm

/* The type (low nibble of byte 5) of GDT entry `selector`, into %eax. */
.macro GDT_TYPE selector
	mov gdt32_ptr, %eax
	movzbl \selector + TSS_TYPE_OFFSET(%eax), %eax
	and $0xf, %eax
.endm

.macro NT_FLAG
	pushf
	pop %eax
	and $EFLAGS_NT, %eax
.endm

.macro BACK_LINK tss_ptr
	mov \tss_ptr, %eax
	movzwl (%eax), %eax
.endm

	.text
	.code32
	.globl task_main, task_b_entry, task_c_entry, task_d_entry, task_e_entry
	.globl fault_10, fault_11, fault_13
task_main:
	mov canary_a, %ebx
	ljmp $SEL_TSS_B, $0			/* JMP: B runs, then jumps back here */
	REPORT tasks.a_ebx_after_jmp, %ebx
	GDT_TYPE SEL_TSS_B
	REPORT tasks.b_type_after_jmp, %eax
	lcall $SEL_TSS_B, $0			/* CALL: B resumes, IRETs back here */
	REPORT tasks.a_ebx_after_call, %ebx
	GDT_TYPE SEL_TSS_B
	REPORT tasks.b_type_after_iret, %eax
	NT_FLAG
	REPORT tasks.a_nt_after_iret, %eax
	int $0x50				/* task gate to C */
	REPORT tasks.a_ebx_after_gate, %ebx
	GDT_TYPE 0x28
	REPORT tasks.c_type_after_iret, %eax
	mov %cr0, %eax
	and $8, %eax
	REPORT tasks.cr0_ts, %eax
	clts

	movl $1f, resume_eip
	ljmp $SEL_TSS_SHORT, $0			/* limit below 67H: #TS */
1:	REPORT tasks.short_vector, last_vector
	REPORT tasks.short_error, last_error
	movl $1f, resume_eip
	ljmp $SEL_TSS_NOT_PRESENT, $0		/* not present: #NP */
1:	REPORT tasks.np_vector, last_vector
	REPORT tasks.np_error, last_error
	movl $1f, resume_eip
	ljmp $SEL_TSS_A, $0			/* ourselves: busy, #GP */
1:	REPORT tasks.busy_vector, last_vector
	REPORT tasks.busy_error, last_error

	movl $0, last_vector			/* the processor finds E sound; the check shortens */
	movl $1f, resume_eip			/* its limit before the hypervisor reads it */
	ljmp $SEL_TSS_E, $0
1:	REPORT tasks.hv_short_vector, last_vector
	REPORT tasks.hv_short_error, last_error
	movl $0, last_vector			/* ... and clears F's present bit */
	movl $1f, resume_eip
	ljmp $SEL_TSS_F, $0
1:	REPORT tasks.hv_np_vector, last_vector
	REPORT tasks.hv_np_error, last_error

	mov idt32_ptr, %eax			/* #GP and #NP gates not present: a #GP becomes */
	andb $0x7f, 13 * 8 + 5(%eax)		/* #NP during its delivery, which is a double */
	andb $0x7f, 11 * 8 + 5(%eax)		/* fault: delivered through the task gate to D */
	movl $1, df_expected
	ljmp $SEL_BEYOND_GDT, $0
	ud2

task_b_entry:
	REPORT tasks.b_ebx, %ebx
	NT_FLAG
	REPORT tasks.b_nt_jmp, %eax
	ljmp $SEL_TSS_A, $0
	NT_FLAG					/* resumed here by A's CALL */
	REPORT tasks.b_nt_call, %eax
	BACK_LINK tss_b_ptr
	REPORT tasks.b_back_link, %eax
	iret
	ud2

task_c_entry:
	NT_FLAG
	REPORT tasks.c_nt, %eax
	BACK_LINK tss_c_ptr
	REPORT tasks.c_back_link, %eax
	iret
	ud2

/* E and F run only if the hypervisor missed the damage: say so and go back to A. */
task_e_entry:
	REPORT tasks.damaged_task_ran, $1
	ljmp $SEL_TSS_A, $0
	ud2

task_d_entry:
	pop %eax				/* the #DF error code the task switch pushed */
	REPORT tasks.d_error, %eax
	mov %esp, %eax
	REPORT tasks.d_esp, %eax
	BACK_LINK tss_d_ptr
	REPORT tasks.d_back_link, %eax
	REPORT tasks.d_expected, df_expected
	mov $2, %eax
	xor %edi, %edi
	vmcall
	ud2

/* #TS, #NP and #GP while df_expected = 0: record vector and error code, resume at resume_eip. */
fault_10:
	push $10
	jmp fault_common
fault_11:
	push $11
	jmp fault_common
fault_13:
	push $13
fault_common:
	popl last_vector
	popl last_error
	push %eax
	mov resume_eip, %eax
	mov %eax, 4(%esp)
	pop %eax
	iret

	.data
	.balign 4
	.globl canary_a, gdt32_ptr, idt32_ptr, tss_b_ptr, tss_c_ptr, tss_d_ptr
canary_a: .long 0
gdt32_ptr: .long 0
idt32_ptr: .long 0
tss_b_ptr: .long 0
tss_c_ptr: .long 0
tss_d_ptr: .long 0
resume_eip: .long 0
last_vector: .long 0
last_error: .long 0
df_expected: .long 0
	.code64
