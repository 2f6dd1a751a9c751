/* Lab 07 checks: the guest's guest-physical space (lab07_space.c), for lab07.c. */
#pragma once
#include "types.h"
#include "vcpu.h"

#define HOST_RAM_END 0x8000000UL  /* Bochs's 128 MiB (mm.c) */
#define HOST_IMAGE_END 0x200000UL /* the kernel, its stacks and tables (mm.c starts here) */
#define PDE_2M_PAT BIT(12)        /* the PAT bit of a 2-MiB PDE (SDM 3A Table 5-17) */

extern u8 *lab07_guest_ram, *lab07_big_page; /* host blocks behind guest RAM and BIG_GPA */

/* 2 MiB of zeroed, contiguous, 2-MiB-aligned host memory (lab 08's guest RAM too). */
u8 *lab07_alloc_2m(void);
/* Builds the guest's memory for `phases`, turns EPT on (ept_enable) and maps the guest's space
 * (ept_map), and points the VMCS's guest state at it. */
void lab07_space_build(struct vcpu *v, u64 phases);
/* The same with RAM and the demand region only, in fresh host memory it returns (ept-two-guests
 * builds one such space per guest, each with its own vCPU and VMCS, the VMCS of `v` current). */
u8 *lab07_space_build_ram(struct vcpu *v, u64 phases);
/* The grader's own walk of the EPT the VMCS names: the leaf for `gpa` and its level, or NULL. */
u64 *lab07_ept_walk(u64 gpa, unsigned *level);
/* The same walk from the PML4 table `pml4` (a host pointer). */
u64 *lab07_ept_walk_from(u64 *pml4, u64 gpa, unsigned *level);
/* Reports isolation.*: every leaf maps what the check asked for, or a fresh demand page. */
void lab07_audit_isolation(struct vcpu *v);
