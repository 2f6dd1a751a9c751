/* Lab 03 checks: the constants the guest programs (grader/checks/lab03.c) and the expectations
 * (grader/spec/lab03.py, through gradelib.C) share. One source: the spec reads them from here. */
#pragma once
#include "x86.h"
#include "lab02_shared.h" /* NO_FAULT: what fault_of() returns when nothing faulted */

/* The bits of CR0 the clts-lmsw guest reports of its view (read_cr0() & CR0_VIEW). */
#define CR0_VIEW (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE)

/* The sources of the clts-lmsw guest's two LMSWs that exit (qualification bits 31:16):
 * from a register, PE, MP and TS set (bits 15:4 are ignored) ... */
#define LMSW_REGISTER_SOURCE (0xfff0 | CR0_PE | CR0_MP | CR0_TS)
/* ... and from memory, PE clear (LMSW never clears it), MP set. */
#define LMSW_MEMORY_SOURCE (0xabc0 | CR0_MP)

/* cr8-exiting: the TPR written through general register n is read back through register
 * (n + CR8_READ_SHIFT) % 16, so a handler that mixes up registers is seen. */
#define CR8_READ_SHIFT 3

/* cr3-exiting runs cr3_target_add() in the guest and answers its RDMSR of IA32_VMX_MISC with
 * this many CR3-target values (bits 24:16), fewer than Bochs's 4: the call after them must panic. */
#define CR3_TARGETS_ANSWERED 2
