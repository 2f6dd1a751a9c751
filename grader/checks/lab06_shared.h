/* Lab 06 checks: the constants the guest programs (grader/checks/lab06.c, lab06_programs.S) and
 * the expectations (grader/spec/lab06.py, through gradelib.C) share. Plain numbers only: the
 * assembly includes it too. */
#pragma once

/* The checks' own hypercalls (RDI = the trace's step limit), answered by lab06.c. */
#define HC_TRACE_START 0x60        /* mtf_trace_start(v, RDI) */
#define HC_TRACE_STOP 0x61         /* mtf_trace_stop(v) */
#define HC_TRACE_INJECT 0x62       /* mtf_trace_start(v, RDI) and inject VEC_MTF_INJECT */
#define HC_TRACE_INJECT_TIMER 0x63 /* the same, with a VMX-preemption timer of 0 armed */

/* mtf-trace: the loop runs TRACE_LOOP_BASE + nonce % TRACE_LOOP_SPREAD times, 5 instructions
 * each; the trace may take TRACE_LIMIT steps (more than the program needs). */
#define TRACE_LOOP_BASE 3
#define TRACE_LOOP_SPREAD 8
#define TRACE_LIMIT 200
#define TRACE_MULTIPLIER 0x2545f491 /* x = rol(x * M + i, 5) per iteration */
/* mtf-trace, after the loop: a second trace of 2 * TRACE_LONG_LOOP + 2 steps, more than the
 * buffer keeps (MTF_TRACE_MAX), under a limit it does not reach; then a start with a limit of 0. */
#define TRACE_LONG_LOOP 130
#define TRACE_LONG_LIMIT 1000

/* mtf-rep: REP STOSB of REP_COUNT_BASE + nonce % REP_COUNT_SPREAD bytes. */
#define REP_COUNT_BASE 3
#define REP_COUNT_SPREAD 6

/* mtf-fault, mtf-inject, mtf-hlt, mtf-vs-timer: steps each trace may take. */
#define SHORT_TRACE_LIMIT 2
#define VEC_MTF_INJECT 0x51    /* the external interrupt injected with MTF on */
#define VEC_HOST_IPI 0xe5      /* a self-IPI the hypervisor keeps (>= HV_VECTOR_BASE) */
#define WATCHDOG_TICKS 2000000 /* mtf-hlt: a preemption-timer watchdog */

/* breakpoint: a loop of BP_LOOP_BASE + nonce % BP_LOOP_SPREAD iterations, with breakpoints
 * on two of its instructions and one after it. */
#define BP_LOOP_BASE 4
#define BP_LOOP_SPREAD 16
#define BP_MULTIPLIER 0x5851f42d
#define BP_XOR 0x6b3e5a5a

/* make run TRACE=1: how many guest instructions the trace shows at most. */
#define TRACE_MODE_STEPS 3000
