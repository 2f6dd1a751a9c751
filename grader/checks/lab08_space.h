/* Lab 08 checks: the guest's guest-physical space (lab08_space.c), for lab08.c. */
#pragma once
#include "types.h"
#include "vcpu.h"

extern u8 *lab08_ram; /* the host block behind the guest's RAM */

/* Builds the guest's memory for `phases`, turns EPT on (ept_enable) and maps the guest's space
 * (ept_map): its RAM, and the machine's first megabyte where a BIOS needs it. */
void lab08_space_build(struct vcpu *v, u64 phases);
/* Puts the VMCS's guest into 32-bit PAE paging on its own tables, PDPTE fields cleared. */
void lab08_enter_pae(void);
