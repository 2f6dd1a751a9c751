/* Lab 02 (exit handling): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"
#include "lab01.h"

struct lab02_vcpu {
	u8 *io_bitmap_a, *io_bitmap_b; /* ports 0000-7FFF and 8000-FFFF (SDM 25.6.4) */
	u8 *msr_bitmap;                /* four 1-KiB read/write bitmaps (SDM 25.6.9) */
	u64 msr_tsc_aux;               /* the guest's IA32_TSC_AUX, kept by the hypervisor */
	u64 msr_scratch;               /* the virtual MSR HV_MSR_SCRATCH */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab02_vcpu *lab02(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab02_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[2])
		v->lab_state[2] = page_alloc();
	return v->lab_state[2];
}

/* The steps of lab 02, implemented by the student (labs/02-exits). */
void vmx_inject_exception(struct vcpu *v, u8 vector, u32 error_code);
void io_intercept(struct vcpu *v, u16 port, unsigned count);
void msr_intercept(struct vcpu *v, u32 msr, bool read, bool write);
void exit_stats_print(struct vcpu *v);
