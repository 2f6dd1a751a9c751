/*
 * Lab 08: the grader's unrestricted guest. lab08.c copies it to guest-physical UG_ENTRY and
 * starts it in real mode at 0000:7C00, where a BIOS starts a boot sector (lab08_shared.h has
 * the layout). It runs the phases the check asked for in P_PHASES: injected events through
 * its IVT, and the walk real mode -> 32-bit protected mode -> PAE paging -> IA-32e mode, every
 * switch made by itself. It reports through VMCALL (HC_UG_REPORT: EDI = key, ESI = value),
 * then HC_DONE with nonce ^ DONE_XOR. lab08_pae_entry is where a check starts it in PAE
 * paging itself. Register: EBP = the nonce's low 32 bits.
 */
#include "lab08_shared.h"

#define HC_DONE 2
#define ABS(x) ((x) - lab08_guest_start + UG_ENTRY)	/* the address of a label in the guest */
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define SEEN 0x580			/* what the IVT handlers saw: IP, FLAGS, count (words) */

.macro report key, reg
	mov \reg, %esi
	mov $HC_UG_REPORT, %eax
	mov $\key, %edi
	vmcall
.endm

.macro done
	mov $HC_DONE, %eax
	mov %ebp, %edi
	xor $DONE_XOR, %edi
	vmcall
.endm

	.section .rodata.lab08_guest, "a"
	.globl lab08_guest_start, lab08_guest_end, lab08_pae_entry_offset
	.code16
lab08_guest_start:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov (UG_PARAMS + P_NONCE), %ebp
	mov %ebp, %eax
	xor $REAL_XOR, %eax
	report REPORT_REAL, %eax
	testb $PHASE_EVENTS, (UG_PARAMS + P_PHASES)
	jz 1f
	call events
1:	testb $PHASE_WALK, (UG_PARAMS + P_PHASES)
	jnz walk
	done
2:	hlt
	jmp 2b

/* ---- events through the IVT: an external interrupt, then #GP (no error code in real mode) ---- */
events:
	xor %di, %di
	mov $256, %cx
1:	movw $ABS(stray), (%di)		/* every vector: stray, until the guest says otherwise */
	movw $0, 2(%di)
	add $4, %di
	loop 1b
	mov %ebp, %ebx
	and $0x3f, %ebx
	add $INTERRUPT_BASE, %ebx	/* EBX = the vector the check injects */
	mov %bx, %di
	shl $2, %di
	movw $ABS(on_event), (%di)
	movw $ABS(on_event), (4 * 13)
	movw $0, (SEEN + 4)
	sti
	mov $HC_UG_INTERRUPT, %eax
	vmcall				/* the check injects vector EBX here ... */
after_interrupt:			/* ... whose handler returns here */
	cli
	mov $ABS(after_interrupt), %ax
	call seen_value
	report REPORT_INTERRUPT, %eax
	movw $0, (SEEN + 4)
	mov $HC_UG_EXCEPTION, %eax
	vmcall				/* the check injects #GP */
after_exception:
	mov $ABS(after_exception), %ax
	call seen_value
	report REPORT_EXCEPTION, %eax
	ret

/* EAX = nonce ^ (handler runs << 16) ^ (IP the handler saw - AX) ^ (FLAGS it saw & IF) << 4 */
seen_value:
	sub (SEEN), %ax
	movzwl %ax, %eax
	movzwl (SEEN + 4), %ecx
	shl $16, %ecx
	xor %ecx, %eax
	movzwl (SEEN + 2), %ecx
	and $0x200, %ecx
	shl $4, %ecx
	xor %ecx, %eax
	xor %ebp, %eax
	ret

/* An IVT handler: records the IP and FLAGS the event pushed, counts itself. */
on_event:
	push %bp
	mov %sp, %bp
	mov 2(%bp), %ax
	mov %ax, (SEEN)
	mov 6(%bp), %ax
	mov %ax, (SEEN + 2)
	incw (SEEN + 4)
	pop %bp
	iret

stray:
	mov $HC_UG_STRAY, %eax
	vmcall
1:	hlt
	jmp 1b

/* ---- the walk: every mode switch made by the guest itself ---- */
walk:
	lgdtl (ABS(gdt_pointer))
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $ABS(protected)

	.code32
protected:
	mov $SEL_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov %ebp, %eax
	xor $PROTECTED_XOR, %eax
	report REPORT_PROTECTED, %eax
	mov $UG_PAE_PDPT, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0			/* PAE paging: the PDPTEs are loaded from CR3 now */
	call pae_digest
	report REPORT_PAE, %eax
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov $UG_PML4, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0			/* IA-32e mode (compatibility mode until the far jump) */
	ljmp $SEL_CODE64, $ABS(ia32e)

/* EAX = the digest of the 4 data pages, read through linear i GiB + UG_DATA_LINEAR. */
pae_digest:
	xor %eax, %eax
	mov $(UG_DATA_LINEAR + DATA_OFFSET), %edx
	mov $4, %ecx
1:	rol $5, %eax
	xor (%edx), %eax
	add $0x40000000, %edx
	loop 1b
	ret

lab08_pae_entry:
	mov (UG_PARAMS + P_NONCE), %ebp
	call pae_digest
	report REPORT_PAE, %eax
	done
1:	hlt
	jmp 1b

	.code64
ia32e:
	mov %ebp, %eax
	xor $IA32E_XOR, %eax
	xor (UG_DATA_LINEAR + DATA_OFFSET), %eax
	report REPORT_IA32E, %eax
	done
1:	hlt
	jmp 1b

	.balign 8
gdt_pointer:
	.word UG_GDT_LIMIT
	.long UG_GDT
lab08_guest_end:

	.balign 8
lab08_pae_entry_offset:
	.quad lab08_pae_entry - lab08_guest_start
