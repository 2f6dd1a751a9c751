/* Lab 01 checks: the constants the guest programs (grader/checks/lab01.c) and the expectations
 * (grader/spec/lab01.py, through gradelib.C) share. One source: the spec reads them from here. */
#pragma once

/* Bochs's shutdown port, the OUT that panic() ends with (common/kernel/panic.c): the check's
 * console capture answers it with #UD, the spec finds it among Bochs's I/O exits. */

/* The first-exit guest's VMCALL(HC_DONE) carries nonce ^ this: only a working VM entry and
 * VM exit bring it to the host. */
#define FIRST_EXIT_DONE_XOR 0xfeedface12345678UL

/* cpuid-exit: a subleaf (ECX) for leaves that have none, 1 and 0x40000000: their answers must
 * not depend on it (SDM Vol. 2A CPUID: leaf 1 reads only EAX). */
#define CPUID_IGNORED_SUBLEAF 0x3c5a

/* cpuid-exit: the host's verdict on the guest's resume points when each CPUID exit resumed the
 * guest right after the instruction (RIP + the VM-exit instruction length, SDM 28.2.5). */
#define CPUID_SKIP_RIGHT "resumed at RIP + length after each CPUID"

/* vmx-failures: the VM-instruction errors (SDM 31.4) the VMfailValid answers carry. */
#define VMCLEAR_ERROR_INVALID_ADDRESS 2     /* VMCLEAR with invalid physical address */
#define VMPTRLD_ERROR_BAD_REVISION 11       /* VMPTRLD with incorrect VMCS revision identifier */
#define VM_ENTRY_ERROR_INVALID_CONTROLS 7   /* VM entry with invalid control field(s) */
#define VM_ENTRY_ERROR_INVALID_HOST_STATE 8 /* VM entry with invalid host-state field(s) */
