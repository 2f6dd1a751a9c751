/* Lab 04 (event blocking and task-switch exits): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"
#include "lab02.h"

struct lab04_vcpu {
	u64 pending_irq[4];       /* external-interrupt vectors waiting for the guest */
	unsigned pending_nmi;     /* NMIs waiting for the guest */
	u64 host_interrupts;      /* interrupts the hypervisor kept for itself */
	bool vectored_event_done; /* the exit handler completed the event being delivered */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab04_vcpu *lab04(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab04_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[4])
		v->lab_state[4] = page_alloc();
	return v->lab_state[4];
}

/* Vectors at or above this one belong to the hypervisor and never reach the guest. */
#define HV_VECTOR_BASE 0xe0

/* The steps of lab 04, implemented by the student (labs/04-events). */
void vcpu_queue_interrupt(struct vcpu *v, u8 vector);
void vcpu_queue_nmi(struct vcpu *v);
