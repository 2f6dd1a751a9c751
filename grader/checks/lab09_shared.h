/* Lab 09 checks: the constants the guest programs (grader/checks/lab09.c) and the expectations
 * (grader/spec/lab09.py, through gradelib.C) share. Plain numbers only. */
#pragma once

#define VEC_HELD_CLASS 0x50      /* tpr-threshold: a vector of class 5 (low nibble from the nonce) ... */
#define TPR_START 0x50           /* ... waits while VTPR is 0x50 (class 5) */
#define VEC_IPI_CLASS 0x30       /* apic-*: the guest's self-IPI, class 3 (low nibble from the nonce) ... */
#define TPR_MMIO 0x30            /* ... waits while the guest's MMIO write keeps VTPR at 0x30 */
#define CR8_DROP 2               /* ... until MOV to CR8 drops it to class 2 */
#define ICR_ALL_BUT_SELF 0xc0000 /* ICR low bits 19:18 = 3: all excluding self, not the guest ... */
#define VEC_OTHERS_IPI 0xe1      /* ... so this vector (class 14, above any VTPR here) never reaches it */
#define LVT_MASKED 0x10000       /* LVT bit 16: masked (the guest's LVT timer value has it) */

/* Where the guest was when its interrupt arrived (irq.stage). */
#define STAGE_START 1      /* interrupts on, nothing may arrive */
#define STAGE_SAME_CLASS 2 /* the guest wrote its priority again, unchanged class */
#define STAGE_LOWERED 3    /* the guest lowered its priority below the vector's class */
#define STAGE_ZERO 4       /* the guest lowered it to 0 */
#define STAGE_IF1 5        /* virtual-interrupt-delivery: after STI */

/* ---- x2APIC (x2apic) ---- */
#define X2APIC_ID 0x802
#define X2APIC_TPR 0x808
#define X2APIC_ICR 0x830
#define X2APIC_LVT_TIMER 0x832

/* ---- virtual-interrupt delivery and posted interrupts ---- */
#define VEC_VID_HIGH_CLASS 0x60  /* requested first, delivered first (low nibble from the nonce) */
#define VEC_VID_LEVEL_CLASS 0x40 /* in the EOI-exit bitmap: its EOI exits, and it is requested once more */
#define VEC_POSTED_CLASS 0x70    /* posted-interrupt: the vector posted (low nibble from the nonce) */
#define VEC_NOTIFICATION 0xf2    /* the notification vector: no PIC or legacy source uses it */
#define VEC_SPURIOUS_POST 0xff   /* Bochs delivers 0xff for a notification with nothing posted */
#define HC_LAB09_POST 0x90       /* RDI = vector: the check posts it (vapic_post) */
#define HC_LAB09_PHASE_DONE 0x91 /* apic-tour: a phase's guest is done (the last one ends with HC_DONE) */
