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
#include "shared.h"

#define HC_DONE 2
#define ABS(x) ((x) - lab08_guest_start + UG_ENTRY)	/* the address of a label in the guest */
#define CR0_PE 0x1
#define CR0_NE 0x20
#define CR4_VMXE 0x2000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define SEEN UG_SEEN

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
	mov %cr0, %eax			/* NE and VMXE as the read shadows show them: 0 */
	and $CR0_NE, %eax
	mov %cr4, %ecx
	and $CR4_VMXE, %ecx
	or %ecx, %eax
	xor %ebp, %eax
	xor $REAL_XOR, %eax
	report REPORT_REAL, %eax
	testb $PHASE_BIOS, (UG_PARAMS + P_PHASES)
	jz 1f
	call bios
1:	testb $PHASE_EVENTS, (UG_PARAMS + P_PHASES)
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

/* ---- the machine's BIOS: INT 10h, INT 13h, INT 15h; then the ports it must not reach ---- */
bios:
	mov $0x02, %ah			/* INT 10h AH = 02h: the cursor to row BIOS_ROW, column 0 */
	xor %bh, %bh
	mov $BIOS_ROW, %dh
	xor %dl, %dl
	int $0x10
	mov $ABS(banner), %si
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	mov $8, %cx			/* the nonce's low 32 bits in hex */
	mov (UG_PARAMS + P_NONCE), %edx
3:	rol $4, %edx
	mov %dl, %al
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 4f
	add $('a' - '9' - 1), %al
4:	push %cx
	push %edx
	call putc
	pop %edx
	pop %cx
	loop 3b

	mov $ABS(disk_packet), %si	/* INT 13h AH = 42h: sector 1 of the boot disk */
	mov $0x42, %ah
	mov $0x80, %dl
	int $0x13
	mov $(UG_DISK_BUF >> 4), %ax
	mov %ax, %es
	mov %es:(PARAMS_NONCE_OFFSET), %eax
	xor %es:0, %eax
	xor %bx, %bx
	mov %bx, %es
	report REPORT_DISK, %eax

	mov $(UG_E820_BUF >> 4), %ax	/* INT 15h E820h: the memory map, one entry a call */
	mov %ax, %es
	mov $E820_EDI_HIGH, %edi	/* DI is the offset in real mode: EDI's high half is not */
	xor %bp, %bp
	xor %edx, %edx			/* two calls that must fail with CF = 1: no "SMAP" ... */
	mov $24, %ecx
	call e820_must_fail
	jc 1f
	or $E820_BAD_SIGNATURE_ANSWERED, %bp
1:	mov $SMAP, %edx			/* ... and a buffer smaller than an entry */
	mov $(E820_ENTRY_BYTES - 1), %ecx
	call e820_must_fail
	jc 1f
	or $E820_SHORT_BUFFER_ANSWERED, %bp
1:	xor %ebx, %ebx
1:	mov $0xe820, %eax
	mov $SMAP, %edx
	mov $24, %ecx
	stc				/* CF = 1: what a return by IRET would restore */
	int $0x15
	jc 3f
	cmp $SMAP, %eax
	jne 3f
	cmp $E820_ENTRY_BYTES, %ecx	/* ECX = the bytes written */
	jne 3f
	inc %bp
	add $24, %di
	test %ebx, %ebx
	jz 2f
	cmp $UG_E820_MAX, %bp
	jb 1b
3:	or $E820_ENDED_BY_ERROR, %bp	/* not by EBX = 0 after the last entry */
2:	xor %ax, %ax
	mov %ax, %es
	movzwl %bp, %eax
	report REPORT_E820_COUNT, %eax

	mov $0xe801, %ax		/* INT 15h E801h: not E820h, so the hook chains to the BIOS */
	int $0x15
	shl $16, %ebx
	movzwl %ax, %eax
	or %ebx, %eax
	report REPORT_E801, %eax

	mov $ABS(machine_ports), %si	/* a read of each machine-wide port: each must exit */
1:	lodsw
	test %ax, %ax
	jz 2f
	mov %ax, %dx
	in %dx, %al
	jmp 1b
2:
	mov $0x02, %al			/* port 0x92: A20 on (bit 1), no reset (bit 0) */
	out %al, $0x92
	mov $ABS(shutdown), %si		/* what rombios writes at APM power-off */
	mov $0x8900, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	mov (UG_PARAMS + P_NONCE), %ebp
	ret

/* INT 15h E820h with EDX, ECX as given, EBX = 0, CF = 0 before: returns the call's CF. */
e820_must_fail:
	mov $0xe820, %eax
	xor %ebx, %ebx
	clc
	int $0x15
	ret

/* INT 10h AH = 0Eh: teletype output of AL on page 0 */
putc:
	mov $0x0e, %ah
	mov $0x0007, %bx
	int $0x10
	ret

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
	mov %cr3, %eax			/* a read of CR3: no exit without "CR3-store exiting" */
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

banner:
	.asciz "vmx-labs: a real-mode guest prints through the BIOS, nonce "
shutdown:
	.asciz "Shutdown"
	.balign 2
machine_ports:				/* lab08.h's PORT_*: the 8042, the BIOS's message ports, 0xCF9 */
	.word 0x60, 0x64, 0x400, 0x401, 0x402, 0x403, 0x500, 0x501, 0x502, 0x503, 0xcf9, 0
	.balign 8
disk_packet:				/* INT 13h AH = 42h: size, 0, count, buffer (offset, segment), LBA */
	.byte 16, 0
	.word 1
	.word 0, UG_DISK_BUF >> 4
	.quad 1
gdt_pointer:
	.word UG_GDT_LIMIT
	.long UG_GDT
lab08_guest_end:

	.balign 8
lab08_pae_entry_offset:
	.quad lab08_pae_entry - lab08_guest_start
