/*
 * Lab 04 task-switch checks: a 32-bit protected-mode guest (paging on, no IA-32e mode) whose
 * tasks switch with JMP, CALL, INT n, INT3 and ICEBP through task gates, IRET with NT = 1, and
 * a double fault through a task gate; an interrupt whose delivery exits comes after a task gate. grader/checks/lab04_tasks.c builds its GDT, IDT, TSSes and page
 * directories and points the VMCS at task_main. Task A switches with a distinct value in
 * every general register, segment register and arithmetic flag; the task it switches to reads
 * what the switch saved in A's TSS (SDM 8.3 step 8) and what it loaded (step 12). Facts go out
 * through VMCALL (HC_REPORT = 1, HC_DONE = 2; see common/include/hypercall.h).
 */
#include "lab04_shared.h"

#define FAULT_LIMIT 64			/* far more faults than any task check expects */
#define REPORT_LIMIT 400		/* far more facts than the task guest reports (about 120) */
#define TSS_TYPE_OFFSET 5		/* byte of a descriptor that holds P, DPL, S and the type */

/* struct tss32 (common/include/tss32.h, SDM Figure 8-2) */
#define TSS_BACK_LINK 0
#define TSS_EIP 32
#define TSS_EFLAGS 36
#define TSS_EAX 40
#define TSS_ECX 44
#define TSS_EDX 48
#define TSS_EBX 52
#define TSS_ESP 56
#define TSS_EBP 60
#define TSS_ESI 64
#define TSS_EDI 68
#define TSS_ES 72
#define TSS_CS 76
#define TSS_SS 80
#define TSS_DS 84
#define TSS_FS 88
#define TSS_GS 92

.macro REPORT key, value
	.pushsection .rodata
9001:	.asciz "\key"
	.popsection
	push %eax
	push %edi
	push %esi
	mov \value, %esi
	pushf					/* the flags are part of what a switch saves */
	incl report_count			/* tasks that switch in circles (a wrong saved */
	cmpl $REPORT_LIMIT, report_count	/* EIP) end the check here, not at the */
	ja report_storm				/* grader's deadline or output cap */
	popf
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

/* Reports a 32-bit (movl) or 16-bit (movzwl) field of the TSS at *tss_ptr. */
.macro TSS_FIELD key, tss_ptr, offset, load=movl
	mov \tss_ptr, %eax
	\load \offset(%eax), %eax
	REPORT \key, %eax
.endm

/* Reports what the switch from A saved in A's TSS: the dynamic fields (SDM 8.2.1). */
.macro A_SAVED prefix
	TSS_FIELD \prefix\()eip, tss_a_ptr, TSS_EIP
	TSS_FIELD \prefix\()eflags, tss_a_ptr, TSS_EFLAGS
	TSS_FIELD \prefix\()eax, tss_a_ptr, TSS_EAX
	TSS_FIELD \prefix\()ecx, tss_a_ptr, TSS_ECX
	TSS_FIELD \prefix\()edx, tss_a_ptr, TSS_EDX
	TSS_FIELD \prefix\()ebx, tss_a_ptr, TSS_EBX
	TSS_FIELD \prefix\()esp, tss_a_ptr, TSS_ESP
	TSS_FIELD \prefix\()ebp, tss_a_ptr, TSS_EBP
	TSS_FIELD \prefix\()esi, tss_a_ptr, TSS_ESI
	TSS_FIELD \prefix\()edi, tss_a_ptr, TSS_EDI
	TSS_FIELD \prefix\()es, tss_a_ptr, TSS_ES, movzwl
	TSS_FIELD \prefix\()cs, tss_a_ptr, TSS_CS, movzwl
	TSS_FIELD \prefix\()ss, tss_a_ptr, TSS_SS, movzwl
	TSS_FIELD \prefix\()ds, tss_a_ptr, TSS_DS, movzwl
	TSS_FIELD \prefix\()fs, tss_a_ptr, TSS_FS, movzwl
	TSS_FIELD \prefix\()gs, tss_a_ptr, TSS_GS, movzwl
.endm

/* A JMP to a TSS that the check damages after the exit: the hypervisor must fault. */
.macro DAMAGED_JMP selector, key
	movl $0, last_vector
	movl $1f, resume_eip
	ljmp $\selector, $0
1:	REPORT tasks.\key\()_vector, last_vector
	REPORT tasks.\key\()_error, last_error
.endm

	.text
	.code32
	.globl task_main, task_b_entry, task_c_entry, task_d_entry, task_e_entry, task_j_entry
	.globl task_k_entry, fault_7, fault_10, fault_11, fault_13, int_redeliver
	.globl a_after_jmp, a_after_call, a_after_int, a_df_jmp, b_after_iret, a_extint_point
	.globl a_after_int3, a_after_icebp
task_main:
	mov $SEL_DATA2, %ax			/* A's selectors: ES, SS, DS, FS, GS all differ */
	mov %ax, %es
	mov $SEL_DATA5, %ax
	mov %ax, %ss
	mov $SEL_DATA3, %ax
	mov %ax, %fs
	mov $SEL_DATA4, %ax
	mov %ax, %gs
	mov canary_a, %ebx			/* and so do its general registers */
	mov %ebx, %eax
	xor $0x11111111, %eax
	mov %ebx, %ecx
	xor $0x22222222, %ecx
	mov %ebx, %edx
	xor $0x33333333, %edx
	mov %ebx, %ebp
	xor $0x66666666, %ebp
	mov %ebx, %esi
	xor $0x77777777, %esi
	mov %ebx, %edi
	xor $0x88888888, %edi
	push $A_EFLAGS
	popf
	mov %esp, a_esp_at_jmp
	ljmp $SEL_TSS_B, $0			/* JMP: B runs, then jumps back here */
a_after_jmp:
	pushf
	popl a_eflags_after_jmp
	REPORT tasks.a_ebx_after_jmp, %ebx
	REPORT tasks.a_ecx_after_jmp, %ecx
	REPORT tasks.a_eflags_after_jmp, a_eflags_after_jmp
	REPORT tasks.a_ss_after_jmp, %ss
	REPORT tasks.a_fs_after_jmp, %fs
	sldt %ax
	movzwl %ax, %eax
	REPORT tasks.a_ldtr_after_jmp, %eax
	GDT_TYPE SEL_TSS_B
	REPORT tasks.b_type_after_jmp, %eax
	lcall $SEL_TSS_B, $0			/* CALL: B resumes, IRETs back here */
a_after_call:
	REPORT tasks.a_ebx_after_call, %ebx
	GDT_TYPE SEL_TSS_B
	REPORT tasks.b_type_after_iret, %eax
	NT_FLAG
	REPORT tasks.a_nt_after_iret, %eax
	TSS_FIELD tasks.b_saved_eip_iret, tss_b_ptr, TSS_EIP
	mov tss_b_ptr, %eax
	mov TSS_EFLAGS(%eax), %eax
	and $EFLAGS_NT, %eax
	REPORT tasks.b_saved_nt_iret, %eax
	int $0x50				/* task gate to C */
a_after_int:
	REPORT tasks.a_ebx_after_gate, %ebx
	GDT_TYPE SEL_TSS_C
	REPORT tasks.c_type_after_iret, %eax
	mov %cr0, %eax
	and $8, %eax
	REPORT tasks.cr0_ts, %eax
	movl $0, last_vector			/* CR0.TS itself (not its shadow): x87 faults */
	movl $1f, resume_eip
	fnop
1:	REPORT tasks.nm_vector, last_vector
	clts
	movl $0, last_vector
	movl $1f, resume_eip
	fnop
1:	REPORT tasks.nm_after_clts, last_vector
	sti					/* the queued interrupt 0x51 arrives after the */
	nop					/* STI shadow, through the task gate to J */
a_extint_point:
	cli
	REPORT tasks.redelivered_count, redelivered_count	/* VEC_REDELIVER, injected at J's IRET */
	REPORT tasks.redelivered_eip, redelivered_eip		/* back to A: its delivery exited (#NP) */
	int3					/* task gate to K: a software exception */
a_after_int3:
	.byte 0xf1				/* ICEBP (INT1): task gate to K again, a */
a_after_icebp:					/* privileged software exception */

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

	DAMAGED_JMP SEL_TSS_E, hv_short		/* limit shortened after the exit: #TS */
	DAMAGED_JMP SEL_TSS_F, hv_np		/* made not present: #NP */
	DAMAGED_JMP SEL_TSS_G, hv_code		/* made a code segment (S = 1): #GP */
	DAMAGED_JMP SEL_TSS_I, hv_ldt		/* made an LDT descriptor: #GP */
	DAMAGED_JMP SEL_TSS_H_RPL3, hv_busy	/* made busy: #GP, error code without the RPL */

	mov idt32_ptr, %eax			/* #GP and #NP gates not present: a #GP becomes */
	andb $0x7f, 13 * 8 + 5(%eax)		/* #NP during its delivery, which is a double */
	andb $0x7f, 11 * 8 + 5(%eax)		/* fault: delivered through the task gate to D */
	movl $1, df_expected
a_df_jmp:
	ljmp $SEL_BEYOND_GDT, $0
	ud2

task_b_entry:
	mov %eax, b_seen + TSS_EAX		/* first, what the switch loaded (SDM 8.3 step 12) */
	mov %ecx, b_seen + TSS_ECX
	mov %edx, b_seen + TSS_EDX
	mov %ebx, b_seen + TSS_EBX
	mov %esp, b_seen + TSS_ESP
	mov %ebp, b_seen + TSS_EBP
	mov %esi, b_seen + TSS_ESI
	mov %edi, b_seen + TSS_EDI
	REPORT tasks.b_eax, b_seen + TSS_EAX
	REPORT tasks.b_ecx, b_seen + TSS_ECX
	REPORT tasks.b_edx, b_seen + TSS_EDX
	REPORT tasks.b_ebx, b_seen + TSS_EBX
	REPORT tasks.b_esp, b_seen + TSS_ESP
	REPORT tasks.b_ebp, b_seen + TSS_EBP
	REPORT tasks.b_esi, b_seen + TSS_ESI
	REPORT tasks.b_edi, b_seen + TSS_EDI
	REPORT tasks.b_es, %es
	REPORT tasks.b_ss, %ss
	REPORT tasks.b_ds, %ds
	REPORT tasks.b_fs, %fs
	REPORT tasks.b_gs, %gs
	sldt %ax
	movzwl %ax, %eax
	REPORT tasks.b_ldtr, %eax
	mov %cr3, %eax
	REPORT tasks.b_cr3, %eax
	mov %dr7, %eax
	REPORT tasks.b_dr7, %eax
	NT_FLAG
	REPORT tasks.b_nt_jmp, %eax
	BACK_LINK tss_b_ptr
	REPORT tasks.b_back_link_jmp, %eax
	GDT_TYPE SEL_TSS_A
	REPORT tasks.a_type_in_jmp, %eax
	GDT_TYPE SEL_TSS_B
	REPORT tasks.b_type_in_jmp, %eax
	REPORT tasks.a_esp_at_jmp, a_esp_at_jmp
	A_SAVED tasks.a_saved_
	ljmp $SEL_TSS_A, $0
	NT_FLAG					/* resumed here by A's CALL */
	REPORT tasks.b_nt_call, %eax
	BACK_LINK tss_b_ptr
	REPORT tasks.b_back_link, %eax
	GDT_TYPE SEL_TSS_A
	REPORT tasks.a_type_in_call, %eax
	TSS_FIELD tasks.a_saved_eip_call, tss_a_ptr, TSS_EIP
	movl $0, last_vector			/* the check clears A's busy bit after this */
	movl $1f, resume_eip			/* IRET's exit: IRET to a task not busy is #TS */
	iret
1:	REPORT tasks.hv_iret_vector, last_vector
	REPORT tasks.hv_iret_error, last_error
	mov gdt32_ptr, %eax			/* A busy again: now the IRET returns to A */
	orb $2, SEL_TSS_A + TSS_TYPE_OFFSET(%eax)
	iret
b_after_iret:
	ud2

task_c_entry:
	NT_FLAG
	REPORT tasks.c_nt, %eax
	BACK_LINK tss_c_ptr
	REPORT tasks.c_back_link, %eax
	GDT_TYPE SEL_TSS_A
	REPORT tasks.a_type_in_gate, %eax
	GDT_TYPE SEL_TSS_C
	REPORT tasks.c_type_in_gate, %eax
	TSS_FIELD tasks.a_saved_eip_int, tss_a_ptr, TSS_EIP
	iret
	ud2

task_j_entry:
	TSS_FIELD tasks.a_saved_eip_extint, tss_a_ptr, TSS_EIP
	iret
	ud2

/* K: entered by A's INT3, then (resuming after its first IRET) by A's ICEBP. A third entry
 * means A ran one of them again: its saved EIP pointed at the instruction. */
task_k_entry:
	TSS_FIELD tasks.a_saved_eip_int3, tss_a_ptr, TSS_EIP
	iret
	TSS_FIELD tasks.a_saved_eip_icebp, tss_a_ptr, TSS_EIP
	iret
	TSS_FIELD tasks.soft_gate_ran_again, tss_a_ptr, TSS_EIP
	mov $2, %eax
	xor %edi, %edi
	vmcall
	ud2

/* VEC_REDELIVER's interrupt gate: count the deliveries and keep the return EIP. */
int_redeliver:
	incl redelivered_count
	push %eax
	mov 4(%esp), %eax
	mov %eax, redelivered_eip
	pop %eax
	iret

/* E..I run only if the hypervisor missed the damage: say so and go back to A. */
task_e_entry:
	REPORT tasks.damaged_task_ran, %ebx
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
	TSS_FIELD tasks.a_saved_eip_df, tss_a_ptr, TSS_EIP
	mov $2, %eax
	xor %edi, %edi
	vmcall
	ud2

/* #NM, #TS, #NP and #GP while df_expected = 0: record vector and error code, resume at
 * resume_eip. */
fault_7:
	push $0					/* #NM pushes no error code */
	push $7
	jmp fault_common
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
	incl fault_count			/* a task that faults again and again (a wrong */
	cmpl $FAULT_LIMIT, fault_count		/* switch) ends the check at once, not at the */
	ja fault_storm				/* grader's deadline or output cap */
	push %eax
	mov resume_eip, %eax
	mov %eax, 4(%esp)
	pop %eax
	iret

report_storm:
	movl $0, report_count
	REPORT tasks.report_storm, $REPORT_LIMIT
	jmp 1f
fault_storm:
	REPORT tasks.fault_storm_vector, last_vector
1:	mov $2, %eax
	xor %edi, %edi
	vmcall
	ud2

	.data
	.balign 4
	.globl canary_a, gdt32_ptr, idt32_ptr, tss_a_ptr, tss_b_ptr, tss_c_ptr, tss_d_ptr
canary_a: .long 0
gdt32_ptr: .long 0
idt32_ptr: .long 0
tss_a_ptr: .long 0
tss_b_ptr: .long 0
tss_c_ptr: .long 0
tss_d_ptr: .long 0
resume_eip: .long 0
last_vector: .long 0
last_error: .long 0
fault_count: .long 0
report_count: .long 0
df_expected: .long 0
redelivered_count: .long 0
redelivered_eip: .long 0
a_esp_at_jmp: .long 0
a_eflags_after_jmp: .long 0
b_seen: .fill 26, 4, 0
	.code64
