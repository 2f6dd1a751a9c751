/*
 * The world switch: the one place where the hypervisor enters the guest and comes back.
 *
 * enum vmx_status vmx_enter(struct guest_regs *regs, bool launched)
 *   rdi = regs, sil = launched (VMRESUME when non-zero, VMLAUNCH otherwise).
 *
 * It pushes the host's callee-saved registers and `regs`, writes HOST_RSP (this stack) and
 * HOST_RIP (vmx_exit_point) into the current VMCS, loads the guest's general registers from
 * *regs and executes the VM-entry instruction.
 *  - VM entry fails (VMfailInvalid: CF=1, VMfailValid: ZF=1): execution falls through; the host
 *    registers are popped and 1 or 2 is returned.
 *  - VM entry succeeds: the guest runs until a VM exit, which loads HOST_RSP/HOST_RIP, so we
 *    continue at vmx_exit_point with the guest's registers still live. They are stored into
 *    *regs, the host registers are popped, and 0 (VMX_SUCCEED) is returned.
 * RSP, RIP and RFLAGS of the guest are in the VMCS; the host's RFLAGS after an exit are 0x2.
 */
#include "guest_regs.h"
#include "vmcs.h"


	.text
	.globl vmx_enter
vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi			/* regs, found again at 0(%rsp) after the exit */

	mov $HOST_RSP, %rax
	vmwrite %rsp, %rax
	jbe entry_failed
	mov $HOST_RIP, %rax
	lea vmx_exit_point(%rip), %rdx
	vmwrite %rdx, %rax
	jbe entry_failed

	cmpb $0, %sil			/* flags survive the MOVs below */
	mov REG_RAX(%rdi), %rax
	mov REG_RCX(%rdi), %rcx
	mov REG_RDX(%rdi), %rdx
	mov REG_RBX(%rdi), %rbx
	mov REG_RBP(%rdi), %rbp
	mov REG_RSI(%rdi), %rsi
	mov REG_R8(%rdi), %r8
	mov REG_R9(%rdi), %r9
	mov REG_R10(%rdi), %r10
	mov REG_R11(%rdi), %r11
	mov REG_R12(%rdi), %r12
	mov REG_R13(%rdi), %r13
	mov REG_R14(%rdi), %r14
	mov REG_R15(%rdi), %r15
	mov REG_RDI(%rdi), %rdi
	jne do_resume
	vmlaunch
	jmp entry_failed
do_resume:
	vmresume
entry_failed:
	setc %al			/* CF=1: VMfailInvalid (1) */
	setz %dl			/* ZF=1: VMfailValid (2) */
	shl $1, %dl
	or %dl, %al
	movzbl %al, %eax
	add $8, %rsp			/* drop regs */
	jmp restore_host

	.globl vmx_exit_point
vmx_exit_point:
	push %rdi			/* guest RDI; regs is now at 8(%rsp) */
	mov 8(%rsp), %rdi
	mov %rax, REG_RAX(%rdi)
	mov %rcx, REG_RCX(%rdi)
	mov %rdx, REG_RDX(%rdi)
	mov %rbx, REG_RBX(%rdi)
	mov %rbp, REG_RBP(%rdi)
	mov %rsi, REG_RSI(%rdi)
	mov %r8, REG_R8(%rdi)
	mov %r9, REG_R9(%rdi)
	mov %r10, REG_R10(%rdi)
	mov %r11, REG_R11(%rdi)
	mov %r12, REG_R12(%rdi)
	mov %r13, REG_R13(%rdi)
	mov %r14, REG_R14(%rdi)
	mov %r15, REG_R15(%rdi)
	popq REG_RDI(%rdi)
	add $8, %rsp			/* drop regs */
	xor %eax, %eax			/* VMX_SUCCEED */
restore_host:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
