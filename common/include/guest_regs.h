/* The guest's general registers as the world switch (vmx_switch.S) saves and restores them.
 * The offsets are shared with the assembly; the static asserts keep them equal to the struct. */
#pragma once

#define REG_RAX 0
#define REG_RCX 8
#define REG_RDX 16
#define REG_RBX 24
#define REG_RBP 32
#define REG_RSI 40
#define REG_RDI 48
#define REG_R8 56
#define REG_R9 64
#define REG_R10 72
#define REG_R11 80
#define REG_R12 88
#define REG_R13 96
#define REG_R14 104
#define REG_R15 112

#ifndef __ASSEMBLER__
#include <stddef.h>
#include "types.h"

/* RSP, RIP and RFLAGS live in the VMCS guest-state area instead. */
struct guest_regs {
	u64 rax, rcx, rdx, rbx, rbp, rsi, rdi;
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
};

_Static_assert(offsetof(struct guest_regs, rax) == REG_RAX, "vmx_switch.S: rax");
_Static_assert(offsetof(struct guest_regs, rcx) == REG_RCX, "vmx_switch.S: rcx");
_Static_assert(offsetof(struct guest_regs, rdx) == REG_RDX, "vmx_switch.S: rdx");
_Static_assert(offsetof(struct guest_regs, rbx) == REG_RBX, "vmx_switch.S: rbx");
_Static_assert(offsetof(struct guest_regs, rbp) == REG_RBP, "vmx_switch.S: rbp");
_Static_assert(offsetof(struct guest_regs, rsi) == REG_RSI, "vmx_switch.S: rsi");
_Static_assert(offsetof(struct guest_regs, rdi) == REG_RDI, "vmx_switch.S: rdi");
_Static_assert(offsetof(struct guest_regs, r8) == REG_R8, "vmx_switch.S: r8");
_Static_assert(offsetof(struct guest_regs, r9) == REG_R9, "vmx_switch.S: r9");
_Static_assert(offsetof(struct guest_regs, r10) == REG_R10, "vmx_switch.S: r10");
_Static_assert(offsetof(struct guest_regs, r11) == REG_R11, "vmx_switch.S: r11");
_Static_assert(offsetof(struct guest_regs, r12) == REG_R12, "vmx_switch.S: r12");
_Static_assert(offsetof(struct guest_regs, r13) == REG_R13, "vmx_switch.S: r13");
_Static_assert(offsetof(struct guest_regs, r14) == REG_R14, "vmx_switch.S: r14");
_Static_assert(offsetof(struct guest_regs, r15) == REG_R15, "vmx_switch.S: r15");
#endif
