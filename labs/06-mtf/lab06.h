/* Lab 06 (the monitor trap flag): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"
#include "lab04.h"

#define MTF_TRACE_MAX 256 /* guest RIPs a trace keeps */
#define BREAKPOINTS_MAX 8
#define INT3_OPCODE 0xcc

/* A software breakpoint: INT3 planted over the first byte of the instruction at `rip`. */
struct breakpoint {
	u64 rip;      /* guest linear address of the instruction */
	u8 original;  /* the byte INT3 replaced */
	bool planted; /* INT3 is in guest memory now */
	u64 hits;     /* #BP exits taken at this breakpoint */
};

struct lab06_vcpu {
	/* The single-step tracer (mtf.c). */
	bool tracing;                             /* record each MTF exit */
	unsigned trace_limit;                     /* stop after this many steps */
	unsigned trace_length;                    /* steps taken so far */
	u64 trace[MTF_TRACE_MAX];                 /* guest RIP at each MTF exit, in order: the first steps */
	void (*on_step)(struct vcpu *v, u64 rip); /* called for each recorded step, if set */

	/* Breakpoints (breakpoint.c). */
	struct breakpoint breakpoints[BREAKPOINTS_MAX];
	unsigned breakpoint_count;
	struct breakpoint *stepping;            /* restored and being stepped over by MTF, or NULL */
	exit_handler earlier_exception_handler; /* exit reason 0 before this lab took it */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab06_vcpu *lab06(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab06_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[6])
		v->lab_state[6] = page_alloc();
	return v->lab_state[6];
}

/* The steps of lab 06, implemented by the student (labs/06-mtf). */
/* Sets or clears the "monitor trap flag" control; ends the run if the CPU lacks it. */
void mtf_set(struct vcpu *v, bool on);
/* Starts recording the guest's RIP after each instruction, for at most `limit` steps. */
void mtf_trace_start(struct vcpu *v, unsigned limit);
/* Stops recording; the recorded trace stays in lab06(v)->trace. */
void mtf_trace_stop(struct vcpu *v);
/* Plants a breakpoint at guest linear address `rip`; returns it, or NULL when all are in use. */
struct breakpoint *breakpoint_set(struct vcpu *v, u64 rip);
/* Called by the MTF exit handler when the instruction under a breakpoint has been stepped. */
void breakpoint_stepped(struct vcpu *v);
