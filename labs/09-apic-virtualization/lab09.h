/* Lab 09 (APIC virtualization): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "mm.h"
#include "vcpu.h"
#include "lab04.h"

/* SDM 30.1: the virtual-APIC page holds the virtual APIC's registers at the offsets the xAPIC
 * page has them (SDM Table 11-1); VTPR is the byte at 80H. */
#define VAPIC_TPR 0x80
#define VAPIC_ISR 0x100 /* VISR: 256 bits in eight 32-bit registers, 16 bytes apart */
#define VAPIC_IRR 0x200 /* VIRR: the same layout */

/* SDM 25.4.2: the guest interrupt status (16 bits): RVI in bits 7:0, SVI in bits 15:8. */
#define GUEST_INTERRUPT_STATUS_RVI(s) ((u8)(s))
#define GUEST_INTERRUPT_STATUS_SVI(s) ((u8)((s) >> 8))

/* SDM 30.6 (Table 29-1): the posted-interrupt descriptor, 64 bytes. */
struct posted_interrupt_descriptor {
	u64 pir[4];  /* bits 255:0, the posted-interrupt requests: one bit per vector */
	u64 control; /* bit 256 (bit 0 here): ON, outstanding notification */
	u64 reserved[3];
};
#define PID_OUTSTANDING_NOTIFICATION BIT(0)

struct lab09_vcpu {
	u8 *virtual_apic;                        /* the virtual-APIC page (VIRTUAL_APIC_ADDRESS), one page */
	u64 apic_access_pa;                      /* the APIC-access page (APIC_ACCESS_ADDRESS), or 0 */
	u8 held_vector;                          /* an interrupt the guest's VTPR holds back ... */
	bool holding;                            /* ... when this is true */
	struct posted_interrupt_descriptor *pid; /* in a page of its own (see the handout) */
	void (*eoi_notify)(struct vcpu *v, u8 vector); /* who wants to know of an EOI-induced exit */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab09_vcpu *lab09(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab09_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[9])
		v->lab_state[9] = page_alloc();
	return v->lab_state[9];
}

/* A 32-bit register of the virtual APIC (SDM 30.1: registers are 32 bits at 16-byte offsets). */
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
/* x2apic.c: the MSRs 800H-8FFH */
void vapic_x2apic_enable(struct vcpu *v);
/* vid.c: virtual-interrupt delivery, virtual EOI, the EOI-exit bitmap */
void vapic_vid_enable(struct vcpu *v);
void vapic_vid_request(struct vcpu *v, u8 vector);
void vapic_eoi_exit(struct vcpu *v, u8 vector);
/* posted.c: posted interrupts */
void vapic_posted_enable(struct vcpu *v, u8 notification_vector);
void vapic_post(struct vcpu *v, u8 vector);
