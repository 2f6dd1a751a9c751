/* Lab 05 checks: the constants the guest programs (grader/checks/lab05.c) and the expectations
 * (grader/spec/lab05.py, through gradelib.C) share. One source: the spec reads them from here. */
#pragma once

/* timer-support: what the check's RDMSR handler takes away from the capability MSRs */
#define SUPPORT_REAL 0        /* the capability MSRs as they are */
#define SUPPORT_NO_ACTIVATE 1 /* pin-based allowed-1 bit 6 cleared */
#define SUPPORT_NO_SAVE 2     /* VM-exit allowed-1 bit 22 cleared */

/* timer-rate: the rates X the check's IA32_VMX_MISC reports: RATE_MIN + nonce % RATE_RANGE, then
 * RATE_MAX */
#define RATE_MIN 3
#define RATE_RANGE 13
#define RATE_MAX 31

/* timer-scaled: a slice of SCALED_TICKS_BASE + 24 bits of the nonce ticks, at a rate from the nonce */
#define SCALED_TICKS_BASE 0x10000000

/* timer-slice: slice = SLICE_BASE + nonce % SLICE_RANGE ticks; a loop of SLICE_LOOP_INSTRUCTIONS
 * instructions per iteration, SLICE_ITERATIONS_NUM/DEN slices long (3.5: three timer exits) */
#define SLICE_BASE 1500
#define SLICE_RANGE 1024
#define SLICE_LOOP_INSTRUCTIONS 3
#define SLICE_REPORTED 3 /* the guest's counter at the first three timer exits */

/* timer-save: a loop that exits (CPUID) every iteration; the slice spans many iterations */
#define SAVE_SLICE_BASE 1000
#define SAVE_SLICE_RANGE 512
#define SAVE_LOOP_NOPS 20
#define SAVE_SLICES 10 /* the loop lasts this many slices and a half */

/* timer-hlt: how many timer exits the guest stays halted for */
#define HLT_SLICE 5000
#define HLT_EXITS 2
#define HLT_VALUE_MAX 1000000  /* the largest value the check lets a guest halt with */
#define HLT_UNDEFINED_LENGTH 3 /* the VM-exit instruction length the handler is shown */

/* timer-zero-inject: the interrupt injected at the entry with timer value 0 */
#define VEC_ZERO 0x4a

/* sched-*: slices and loop lengths of the two guests */
#define SCHED_SLICE_BASE 2000
#define SCHED_SLICE_RANGE 1024
#define SCHED_ITERATIONS_BASE 20000
#define SCHED_ITERATIONS_RANGE 4096
#define SCHED_WEIGHT 3       /* sched-weighted: B's slice is 3 times A's */
#define SCHED_EXIT_EVERY 256 /* each guest's loop makes a CPUID this often: less than a slice */
