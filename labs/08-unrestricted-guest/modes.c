/* Lab 08: what the hypervisor does around the guest's own mode switches: IA32_EFER and the
 * "IA-32e mode guest" control, and the PDPTEs of PAE paging (SDM Vol. 3C, 27.3.2, 28.3). */
#include "lab.h"
#include "lab08.h"

/* The guest's IA32_EFER: its own, from the first entry on, kept across every exit. */
void ug_efer_setup(struct vcpu *v)
{
	(void)v;
	/* TODO 08-4
	 * Achieve: the guest starts with IA32_EFER = 0 and outside IA-32e mode, whatever the host's
	 * EFER and lab 01's controls, and keeps across every exit the EFER it gives itself (LME,
	 * and the LMA the processor then sets).
	 * SDM 27.3.2.1, without "load IA32_EFER": "If CR0 is being loaded so that CR0.PG = 1,
	 * IA32_EFER.LME is also loaded with the setting of the "IA-32e mode guest" VM-entry
	 * control. Otherwise, IA32_EFER.LME is unmodified."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-4.
	 */
	TODO("08-4");
}

#define PAE_PDPTES 4
#define PAE_PDPT_ALIGN 0x1f /* CR3 bits 4:0 are ignored with PAE paging (SDM 5.4.1) */

/* For a guest the hypervisor puts into PAE paging itself: its PDPTEs, from its own CR3. */
void ug_load_pdptes(struct vcpu *v)
{
	/* TODO 08-5
	 * Achieve: when the VMCS's guest state uses PAE paging, GUEST_PDPTE0-3 hold the four PDPTEs
	 * that the guest's CR3 (a guest-physical address) names; for any other guest state nothing
	 * changes.
	 * SDM 27.3.2.4, for a guest that uses PAE paging and "enable EPT" = 1: "the PDPTEs are
	 * loaded from corresponding fields in the guest-state area."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-5.
	 */
	(void)v;
	TODO("08-5");
}
