/* Lab 02 checks: the constants the guest programs (grader/checks/lab02.c) and the expectations
 * (grader/spec/lab02.py, through gradelib.C) share. One source: the spec reads them from here. */
#pragma once

/* A guest's outcome as one number (lab02.c: outcome()): the vector of a fault at the
 * instruction, RIP_MOVED | distance for a fault whose RIP was moved past it, NO_FAULT. */
#define NO_FAULT 0x100
#define RIP_MOVED 0x200
/* What a performed XSETBV reports: XSETBV_PERFORMED | the new XCR0 (lab02.c: xsetbv_outcome()). */
#define XSETBV_PERFORMED 0x100

/* The guest's values for DR0-DR3 keep bits 47:0: canonical and below the kernel half. */
#define CANONICAL_LOW 0x7fffffffffffUL

/* The MOV DR instructions guest_mov_dr executes, each one exit (SDM 26.1.3). lab02.c counts
 * its parts next to their code and asserts they add up to this. */
#define MOV_DR_EXITS 26

/* The accumulator device (lab02.c: acc_in/acc_out, modelled by lab02.py: Accumulator). */
#define DEVICE_BASE 0x7ffe /* 0x7ffe-0x8001: straddles I/O bitmaps A and B */
#define DEVICE_PORTS 4
#define IMMEDIATE_BASE 0xe0 /* 0xe0-0xe3: the same device, reachable as IN/OUT imm8 */
#define TOP_PORT 0xfffe     /* io_intercept(TOP_PORT, 4) must stop at port 0xffff */

/* The virtual MSR of labs/02-exits/msr.c (the lab defines it in its own file too). */
#define HV_MSR_SCRATCH 0x40000100U
/* An MSR that nothing implements, outside both bitmap ranges: it always exits. */
#define MSR_UNIMPLEMENTED 0x40000200U

/* The two MSR ranges the MSR bitmaps cover, both ends inclusive (SDM 25.6.9). msr-bitmap calls
 * msr_intercept() for each end and for the MSR just outside each (lab02.c: msr_range_cases). */
#define MSR_LOW_FIRST 0x00000000U
#define MSR_LOW_LAST 0x00001fffU
#define MSR_HIGH_FIRST 0xc0000000U
#define MSR_HIGH_LAST 0xc0001fffU
