/* Lab 09 (APIC virtualization): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"
#include "lab04.h"

/* SDM 29.1: the virtual-APIC page holds the virtual APIC's registers at the offsets the xAPIC
 * page has them (SDM Table 11-1); VTPR is the byte at 80H. */
#define VAPIC_TPR 0x80

struct lab09_vcpu {
	u8 *virtual_apic;		/* the virtual-APIC page (VIRTUAL_APIC_ADDRESS), one page */
	u64 apic_access_pa;		/* the APIC-access page (APIC_ACCESS_ADDRESS), or 0 */
	u8 held_vector;			/* an interrupt the guest's VTPR holds back ... */
	bool holding;			/* ... when this is true */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab09_vcpu *lab09(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab09_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[9])
		v->lab_state[9] = page_alloc();
	return v->lab_state[9];
}

/* A 32-bit register of the virtual APIC (SDM 29.1: registers are 32 bits at 16-byte offsets). */
static inline u32 *vapic_reg(struct vcpu *v, unsigned offset)
{
	return (u32 *)(lab09(v)->virtual_apic + (offset & 0xff0));
}

/* The steps of lab 09, implemented by the student (labs/09-apic-virtualization). */
/* tpr_shadow.c: the virtual-APIC page, CR8 without exits, the TPR threshold */
void vapic_tpr_shadow_enable(struct vcpu *v);
void vapic_deliver(struct vcpu *v, u8 vector);
/* apic_access.c: the APIC-access page, APIC-access and APIC-write exits */
void vapic_apic_access_enable(struct vcpu *v, u64 apic_pa, bool register_virtualization);
void vapic_register_written(struct vcpu *v, unsigned offset);
