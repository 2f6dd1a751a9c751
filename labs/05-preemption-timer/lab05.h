/* Lab 05 (the VMX-preemption timer and a round-robin scheduler): its per-vCPU state and the
 * functions its files provide. Provided, not edited: the grader builds every submission with its
 * own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"

struct lab05_vcpu {
	u64 slice;       /* this guest's time slice, in TSC ticks */
	u64 preemptions; /* VMX-preemption timer exits so far */
	bool preempted;  /* the last exit ended the slice: the scheduler picks the next guest */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab05_vcpu *lab05(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab05_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[5])
		v->lab_state[5] = page_alloc();
	return v->lab_state[5];
}

/* The largest value the 32-bit VMX-preemption timer-value field holds (SDM 25.5.1). */
#define PREEMPTION_TIMER_MAX 0xffffffffU

#define SCHED_MAX_GUESTS 4

/* Guests sharing one logical processor, each with its own VMCS, switched round-robin. */
struct scheduler {
	struct vcpu *guest[SCHED_MAX_GUESTS];
	bool done[SCHED_MAX_GUESTS]; /* the guest has stopped (HC_DONE): never run again */
	unsigned count;              /* guests added */
	unsigned current;            /* the guest whose VMCS is the current VMCS */
};

/* The steps of lab 05, implemented by the student (labs/05-preemption-timer). */
bool preemption_timer_supported(void);
unsigned preemption_timer_rate(void);
u32 preemption_timer_value(u64 tsc_ticks);
void preemption_timer_start(struct vcpu *v, u64 slice_ticks);
void sched_add(struct scheduler *s, struct vcpu *v, u64 slice_ticks);
void sched_switch(struct scheduler *s, unsigned next);
void sched_run(struct scheduler *s);
