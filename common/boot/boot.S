/*
 * Boot: the BIOS loads sector 0 (this file's .boot section) at 0x7c00 in real mode.
 * Contract: DL holds the boot drive. We load the rest of the image (sectors 1..N) to 0x7e00
 * with INT 13h extensions, enable A20, enter 32-bit protected mode, zero .bss, build identity
 * page tables for the first 4 GiB with 2-MiB pages, enter IA-32e mode and call kmain().
 */
#include "segment.h"

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define PTE_P_RW_US 0x7		/* present, writable, user: ring-3 guest code runs here too */
#define PDE_P_RW_US_PS 0x87
#define SECTORS_PER_READ 64

	.section .boot, "awx"
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	ljmp $0, $1f
1:	mov %dl, boot_drive

	/* Read __load_sectors sectors from LBA 1 to 0x07e0:0000, 64 at a time. */
	movw $__load_sectors, remaining
read_loop:
	mov remaining, %ax
	test %ax, %ax
	jz read_done
	cmp $SECTORS_PER_READ, %ax
	jbe 2f
	mov $SECTORS_PER_READ, %ax
2:	mov %ax, dap_count
	mov $dap, %si
	mov boot_drive, %dl
	mov $0x42, %ah
	int $0x13
	jc disk_error
	mov dap_count, %ax
	sub %ax, remaining
	add %ax, dap_lba
	shl $5, %ax			/* sectors * 512 / 16 = paragraphs */
	add %ax, dap_segment
	jmp read_loop
read_done:
	in $0x92, %al			/* fast A20 gate */
	or $2, %al
	out %al, $0x92

	lgdt gdt_descriptor
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmp $SEL_KERNEL_CS32, $protected_mode

disk_error:
	mov $disk_message, %si
3:	lodsb
	test %al, %al
	jz 4f
	mov $0x0e, %ah
	int $0x10
	jmp 3b
4:	hlt
	jmp 4b

disk_message: .asciz "boot: disk read failed"
boot_drive: .byte 0
remaining: .word 0
	.balign 4
dap:	.byte 16, 0			/* disk address packet */
dap_count: .word 0
	.word 0				/* offset */
dap_segment: .word 0x07e0
dap_lba: .quad 1

	.balign 8
	.globl gdt
gdt:
	.quad 0				/* null */
	.quad 0x00cf9a000000ffff	/* 0x08 32-bit code, DPL 0 */
	.quad 0x00cf92000000ffff	/* 0x10 data, DPL 0 */
	.quad 0x00af9a000000ffff	/* 0x18 64-bit code, DPL 0 */
	.quad 0x00cff2000000ffff	/* 0x20 data, DPL 3 */
	.quad 0x00affa000000ffff	/* 0x28 64-bit code, DPL 3 */
	.quad 0, 0			/* 0x30 TSS, filled by gdt_init() */
	.quad 0x00cffa000000ffff	/* 0x40 32-bit code, DPL 3 */
gdt_end:
	.globl gdt_descriptor
gdt_descriptor:
	.word gdt_end - gdt - 1
	.quad gdt

	.org 510
	.byte 0x55, 0xaa

	.text
	.code32
protected_mode:
	mov $SEL_KERNEL_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $0x7c00, %esp

	cld				/* zero .bss (page tables and stacks live there) */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2-MiB pages. */
	mov $boot_pdpt, %eax
	or $PTE_P_RW_US, %eax
	mov %eax, boot_pml4
	mov $boot_pd, %edi
	xor %ecx, %ecx
5:	mov %edi, %eax
	or $PTE_P_RW_US, %eax
	mov %eax, boot_pdpt(,%ecx,8)
	add $4096, %edi
	inc %ecx
	cmp $4, %ecx
	jne 5b
	mov $boot_pd, %edi		/* 2048 PDEs cover 4 GiB */
	xor %ecx, %ecx
6:	mov %ecx, %eax
	shl $21, %eax
	or $PDE_P_RW_US_PS, %eax
	mov %eax, (%edi,%ecx,8)
	mov %ecx, %eax
	shr $11, %eax
	mov %eax, 4(%edi,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jne 6b

	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $SEL_KERNEL_CS64, $long_mode

	.code64
long_mode:
	mov $SEL_KERNEL_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	lea boot_stack_top(%rip), %rsp
	call kmain
7:	cli
	hlt
	jmp 7b

	.bss
	.balign 4096
	.globl boot_pml4
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd: .skip 4 * 4096
	.balign 16
boot_stack: .skip 32768
	.globl boot_stack_top
boot_stack_top:
