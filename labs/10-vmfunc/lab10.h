/* Lab 10 (VM functions and virtualization exceptions): its per-vCPU state and the functions its
 * files provide. Provided, not edited: the grader builds every submission with its own copy. */
#pragma once
#include "ept.h"
#include "lab07.h"
#include "mm.h"
#include "vcpu.h"

#define EPTP_LIST_ENTRIES 512 /* SDM 25.6.14: the EPTP list is one 4-KiB page of 8-byte EPTPs */
#define VIEWS_MAX 8           /* EPT views this lab keeps (the list could hold 512) */

/* SDM 26.5.7.2 (Table 26-1): the virtualization-exception information area. */
struct ve_info {
	u32 exit_reason; /* 48, EPT violation */
	u32 busy;        /* set to FFFFFFFFH by the processor; while it is, no further #VE */
	u64 exit_qualification;
	u64 guest_linear_address;
	u64 guest_physical_address;
	u16 eptp_index;
};

struct lab10_vcpu {
	u64 *eptp_list;            /* the EPTP list (EPTP_LIST_ADDRESS), one page */
	u64 *view_pml4[VIEWS_MAX]; /* view i's EPT PML4 table; view 0 is lab07(v)->pml4 */
	unsigned views;            /* views in use (entries 0 .. views - 1 of the list) */
	struct ve_info *ve_info;   /* the #VE information area, one page */
	u64 vmfunc_failures;       /* VMFUNC exits (reason 59) handled */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab10_vcpu *lab10(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab10_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[10])
		v->lab_state[10] = page_alloc();
	return v->lab_state[10];
}

/* The steps of lab 10, implemented by the student (labs/10-vmfunc). */
/* vmfunc.c: EPTP switching (VM function 0) and its failures */
void vmfunc_enable(struct vcpu *v);
unsigned ept_view_add(struct vcpu *v);
void ept_view_map(struct vcpu *v, unsigned view, u64 gpa, u64 hpa, u64 permissions);
/* ve.c: virtualization exceptions */
void ve_enable(struct vcpu *v);
void ept_view_suppress_ve(struct vcpu *v, unsigned view, u64 gpa, bool suppress);
