/* Lab 07 checks: the guest's guest-physical space (lab07_space.c), for lab07.c. */
#pragma once
#include "types.h"
#include "vcpu.h"

extern u8 *lab07_guest_ram, *lab07_big_page;	/* host blocks behind guest RAM and BIG_GPA */

/* 2 MiB of zeroed, contiguous, 2-MiB-aligned host memory (lab 08's guest RAM too). */
u8 *lab07_alloc_2m(void);
/* Builds the guest's memory for `phases`, turns EPT on (ept_enable) and maps the guest's space
 * (ept_map), and points the VMCS's guest state at it. */
void lab07_space_build(struct vcpu *v, u64 phases);
/* The grader's own walk of the EPT the VMCS names: the leaf for `gpa` and its level, or NULL. */
u64 *lab07_ept_walk(u64 gpa, unsigned *level);
/* Reports isolation.*: every leaf maps what the check asked for, or a fresh demand page. */
void lab07_audit_isolation(struct vcpu *v);
