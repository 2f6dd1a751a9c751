/* Lab 03 (CR0/CR4 guest/host masks and read shadows): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"
#include "lab02.h"

struct lab03_vcpu {
	u64 cr8; /* the guest's TPR as MOV CR8 sees it (no TPR shadow) */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab03_vcpu *lab03(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab03_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[3])
		v->lab_state[3] = page_alloc();
	return v->lab_state[3];
}

/* The steps of lab 03, implemented by the student (labs/03-cr-shadows). */
void cr3_target_add(struct vcpu *v, u64 cr3);
