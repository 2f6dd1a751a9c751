/*
 * Lab 07: the grader's EPT guest. Position-independent 64-bit code that lab07.c copies to
 * guest-physical G_CODE and starts there, in IA-32e mode on the guest's own page tables (all in
 * its 2 MiB of guest RAM; lab07_shared.h has the layout). It runs the phases the check asked
 * for in P_PHASES and reports through VMCALL (HC_EPT_REPORT: RDI = key, RSI = value), then
 * HC_DONE with nonce ^ DONE_XOR. Registers: R14 = nonce, R13 = phases, R12 = a page mask.
 */
#include "lab07_shared.h"

#define HC_DONE 2

.macro report key, reg
	mov $HC_EPT_REPORT, %eax
	mov $\key, %edi
	mov \reg, %rsi
	vmcall
.endm

.macro hypercall number
	mov $\number, %eax
	vmcall
.endm

	.section .rodata.lab07_guest, "a"
	.code64
	.globl lab07_guest_start, lab07_guest_end
lab07_guest_start:
	mov $G_PARAMS, %r15d
	mov P_NONCE(%r15), %r14
	mov P_PHASES(%r15), %r13
	test $PHASE_SWEEP, %r13d
	jnz phase_sweep
	test $PHASE_RAM, %r13d
	jz 1f
	call phase_ram
1:	test $PHASE_DEMAND, %r13d
	jz 1f
	call phase_demand
1:	test $PHASE_MMIO, %r13d
	jz 1f
	call phase_mmio
1:	test $PHASE_PROTECT, %r13d
	jz 1f
	call phase_protect
1:	test $PHASE_DIRTY, %r13d
	jz 1f
	call phase_dirty
1:	test $PHASE_PML, %r13d
	jz 1f
	call phase_pml
1:	test $PHASE_MISCONFIG, %r13d
	jz 1f
	mov $(WINDOW_LINEAR + MISCONFIG_GPA), %edx
	mov (%rdx), %rcx		/* an EPT misconfiguration: the hypervisor stops here */
	report REPORT_MISCONFIG_SURVIVED, %rcx
1:	mov $HC_DONE, %eax
	mov %r14, %rdi
	xor $DONE_XOR, %rdi
	vmcall
2:	hlt
	jmp 2b

/* One qword per page of the 2-MiB leaf, at (nonce & 0xff8) in each; one of the 1-GiB leaf. */
phase_ram:
	xor %ecx, %ecx
	mov %r14, %rdx
	and $0xff8, %edx
	add $(WINDOW_LINEAR + BIG_GPA), %rdx
	mov $512, %r8d
1:	rol $5, %rcx
	xor (%rdx), %rcx
	add $0x1000, %rdx
	dec %r8d
	jnz 1b
	report REPORT_BIG_DIGEST, %rcx
	mov $(HUGE_GPA + HUGE_PROBE), %edx
	mov (%rdx), %rcx
	report REPORT_HUGE_READ, %rcx
	ret

/* RDX = the address of demand touch RCX: page DEMAND_STRIDE * k + (nonce & 31), at
 * offset (nonce >> 8) & 0xff8 (the same in every page: two touches sharing a host page show). */
demand_address:
	imul $DEMAND_STRIDE, %ecx, %edx
	mov %r14, %rax
	and $31, %eax
	add %eax, %edx
	shl $12, %rdx
	mov %r14, %rax
	shr $8, %rax
	and $0xff8, %eax
	add %rax, %rdx
	add $(WINDOW_LINEAR + DEMAND_GPA), %rdx
	ret

/* First a read of each page (a fresh page reads 0), then a write, then all read back. */
phase_demand:
	xor %r10d, %r10d
	xor %ecx, %ecx
1:	call demand_address
	or (%rdx), %r10
	mov %rcx, %r9
	shl $56, %r9
	or %rcx, %r9
	xor %r14, %r9
	mov %r9, (%rdx)
	inc %ecx
	cmp $DEMAND_TOUCHES, %ecx
	jb 1b
	report REPORT_DEMAND_FIRST_READS, %r10
	xor %r10d, %r10d
	xor %ecx, %ecx
1:	call demand_address
	rol $7, %r10
	xor (%rdx), %r10
	inc %ecx
	cmp $DEMAND_TOUCHES, %ecx
	jb 1b
	report REPORT_DEMAND_DIGEST, %r10
	ret

/* Four device accesses: two from code reached through a 2-MiB guest page, two through the
 * 4-KiB alias; each form once (89 store, 8B load 64 and 32 bits, C7 store of an immediate). */
phase_mmio:
	mov $(WINDOW_LINEAR + MMIO_GPA), %ebx
	mov %r14d, %eax
	xor $MMIO_LATCH_XOR, %eax
	bts $63, %rax			/* a 4-byte store leaves the high half behind */
	mov %eax, MMIO_LATCH(%rbx)
	mov MMIO_MIX(%rbx), %rcx
	report REPORT_MMIO_MIX, %rcx
	lea 1f(%rip), %rax
	add $(ALIAS_LINEAR - G_CODE), %rax
	jmp *%rax
1:	.byte 0x48, 0xc7, 0x43, MMIO_WIDE	/* movq $imm32, MMIO_WIDE(%rbx) */
	.long MMIO_WIDE_IMMEDIATE
	mov $-1, %rdx
	mov MMIO_ID(%rbx), %edx
	report REPORT_MMIO_ID, %rdx
	lea 2f(%rip), %rax
	sub $(ALIAS_LINEAR - G_CODE), %rax
	jmp *%rax
2:	ret

/* R12 = nonce ^ rotl(nonce, rotate): the pages a phase writes. */
.macro page_mask rotate
	mov %r14, %r12
	rol $\rotate, %r12
	xor %r14, %r12
.endm

/* Every page of the range read; those in R12 written twice (the second write must not exit).
 * All through WINDOW_LINEAR. */
.macro touch_pages base
	xor %ecx, %ecx
1:	mov %rcx, %rdx
	shl $12, %rdx
	add $(WINDOW_LINEAR + \base), %rdx
	mov 0x100(%rdx), %r9
	bt %rcx, %r12
	jnc 2f
	mov %r14, 0x10(%rdx)		/* not at offset 0: the exit's address is not page-aligned */
	mov %rcx, 0x18(%rdx)
2:	inc %ecx
	cmp $TRACKED_PAGES, %ecx
	jb 1b
.endm

phase_protect:
	hypercall HC_EPT_PROTECT
	page_mask PROTECT_MASK_ROTATE
	touch_pages PROTECT_GPA
	hypercall HC_EPT_PROTECT_END
	ret

phase_dirty:
	hypercall HC_EPT_DIRTY_START
	page_mask DIRTY_MASK_ROTATE
	movabs $DIRTY_MASK_XOR, %rax
	xor %rax, %r12
	touch_pages DIRTY_GPA
	hypercall HC_EPT_DIRTY_END
	ret
/* A write to every page of RAM (code, tables and stack included, at an offset none of them
 * uses): 512 dirty pages, plus the demand phase's: more than one log holds. */
phase_pml:
	mov $(WINDOW_LINEAR + PML_WRITE_OFFSET), %edx
	mov $(GUEST_RAM_SIZE / 0x1000), %ecx
1:	mov %r14, (%rdx)
	add $0x1000, %rdx
	dec %ecx
	jnz 1b
	hypercall HC_EPT_PML_END
	ret

/* RAX = the pattern of page RDX (tag | gpa), stored at SWEEP_OFFSET of it. */
.macro sweep_store
	lea (%r12, %rdx), %rax
	mov %rax, WINDOW_LINEAR + SWEEP_OFFSET(%rdx)
.endm

/* R10 += 1 unless page RDX still holds its pattern. */
.macro sweep_verify
	lea (%r12, %rdx), %rax
	cmp WINDOW_LINEAR + SWEEP_OFFSET(%rdx), %rax
	je 9f
	inc %r10
9:
.endm

/* ept-two-guests: the pattern into every page of RAM and every page of the list (the demand
 * pages it reaches, then the probes beyond its space: each must exit, and the check resumes the
 * guest at RBX with R11 + 1), then RAM and the demand pages read back. Never returns. */
phase_sweep:
	mov P_SWEEP_TAG(%r15), %r12
	xor %r11d, %r11d
	xor %edx, %edx
1:	sweep_store
	add $0x1000, %edx
	cmp $GUEST_RAM_SIZE, %edx
	jb 1b
	lea P_SWEEP_LIST(%r15), %rsi
	mov P_SWEEP_REACH(%r15), %rcx
	add P_SWEEP_PROBES(%r15), %rcx
	jz 3f
2:	mov (%rsi), %rdx
	lea 4f(%rip), %rbx
	sweep_store
4:	add $8, %rsi
	dec %rcx
	jnz 2b
3:	xor %r10d, %r10d
	xor %edx, %edx
5:	sweep_verify
	add $0x1000, %edx
	cmp $GUEST_RAM_SIZE, %edx
	jb 5b
	lea P_SWEEP_LIST(%r15), %rsi
	mov P_SWEEP_REACH(%r15), %rcx
	test %rcx, %rcx
	jz 7f
6:	mov (%rsi), %rdx
	sweep_verify
	add $8, %rsi
	dec %rcx
	jnz 6b
7:	mov %r10, %rdi
	mov P_SWEEP_PROBES(%r15), %rsi
	sub %r11, %rsi
	mov %r14, %rdx
	xor $DONE_XOR, %rdx
	mov $HC_EPT_SWEEP_END, %eax
8:	vmcall
	jmp 8b
lab07_guest_end:
