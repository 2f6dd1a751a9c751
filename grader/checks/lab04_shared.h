/* Lab 04 checks: the constants the guest programs (grader/checks/lab04.c, lab04_tasks.c and
 * lab04_tasks.S) and the expectations (grader/spec/lab04.py, through gradelib.C) share. One
 * source: the spec reads them from here. Plain numbers only: the assembly includes it too. */
#pragma once

/* ---- events (lab04.c): the vector each check's interrupt uses ---- */
#define VEC_REINJECT 0xdf      /* the guest's highest vector: HV_VECTOR_BASE - 1 */
#define VEC_HOST 0xe0          /* the hypervisor's lowest: HV_VECTOR_BASE */
#define VEC_DIRECT 0x44        /* extint-direct: no external-interrupt exiting */
#define VEC_WINDOW 0x42        /* interrupt-window: fires while the guest has IF = 0 */
#define VEC_SHADOW 0x46        /* sti-shadow: queued before an STI shadow */
#define VEC_MOV_SS_SHADOW 0x47 /* mov-ss-shadow: queued before a MOV SS shadow */
#define VEC_ORDER_LOW 0x45     /* event-order: queued first, with an NMI ... */
#define VEC_ORDER_HIGH 0x48    /* ... and this one, delivered before VEC_ORDER_LOW */
#define VEC_VECTORING 0x43     /* idt-vectoring: an interrupt whose delivery exits */
#define VEC_SOFT 0x49          /* idt-vectoring-soft: an INT n whose delivery exits */
#define BAD_SELECTOR 0xfff8    /* beyond the GDT limit: loading it is #GP(0xfff8) */

/* ---- task switches (lab04_tasks.c builds the GDT, lab04_tasks.S switches) ---- */
/* The 32-bit guest's GDT: selectors (RPL 0) */
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_TSS_A 0x18 /* task A: task_main */
#define SEL_TSS_B 0x20
#define SEL_TSS_C 0x28           /* the task gate of INT VEC_TASK_GATE */
#define SEL_TSS_D 0x30           /* the task gate of #DF */
#define SEL_TSS_SHORT 0x38       /* limit below 67H: #TS before any exit */
#define SEL_TSS_NOT_PRESENT 0x40 /* not present: #NP before any exit */
#define SEL_TSS_E 0x48           /* E..I: sound until the check damages them after the exit */
#define SEL_TSS_F 0x50
#define SEL_TSS_G 0x58
#define SEL_TSS_H 0x60 /* DPL 3: the guest jumps to it with RPL 3 */
#define SEL_TSS_H_RPL3 (SEL_TSS_H | 3)
#define SEL_DATA2 0x68
#define SEL_DATA3 0x70
#define SEL_DATA4 0x78
#define SEL_DATA5 0x80
#define SEL_LDT 0x88
#define SEL_TSS_I 0x90
#define SEL_TSS_J 0x98        /* the task gate of the queued VEC_EXTINT_TASK_GATE */
#define SEL_TSS_K 0xa0        /* the task gate of INT3 (#BP) and ICEBP (#DB) */
#define SEL_BEYOND_GDT 0x1238 /* past the GDT limit */

#define VEC_TASK_GATE 0x50        /* INT 0x50 goes through a task gate (to C) */
#define VEC_EXTINT_TASK_GATE 0x51 /* queued by the check: an external interrupt (to J) */
#define VEC_REDELIVER 0x52        /* queued at J's switch; its gate not present: delivery exits (#NP) */

#define EFLAGS_NT 0x4000 /* RFLAGS_NT (x86.h), which assembly cannot include */
#define A_EFLAGS 0x8d7   /* task A's EFLAGS at its JMP: OF, SF, ZF, AF, PF, CF and bit 1; no IF, TF, NT */
#define DR7_ALL_ENABLES 0x4ff /* the check's GUEST_DR7: L0-L3, G0-G3 and the always-1 bit 10 */
