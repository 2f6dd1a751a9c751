/* Lab 08: what the hypervisor does around the guest's own mode switches: IA32_EFER and the
 * "IA-32e mode guest" control, and the PDPTEs of PAE paging (SDM Vol. 3C, 27.3.2, 28.3). */
#include "lab.h"
#include "lab08.h"

/* The guest's IA32_EFER: its own, from the first entry on, kept across every exit. */
void ug_efer_setup(struct vcpu *v)
{
	(void)v;
	/* BEGIN 08-4
	 * Achieve: the guest starts with IA32_EFER = 0 and outside IA-32e mode, whatever the host's
	 * EFER and lab 01's controls, and keeps across every exit the EFER it gives itself (LME,
	 * and the LMA the processor then sets).
	 * SDM 27.3.2.1, without "load IA32_EFER": "If CR0 is being loaded so that CR0.PG = 1,
	 * IA32_EFER.LME is also loaded with the setting of the "IA-32e mode guest" VM-entry
	 * control. Otherwise, IA32_EFER.LME is unmodified."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-4.
	 */
	vmcs_write(GUEST_IA32_EFER, 0);
	u64 entry = (vmcs_read(VM_ENTRY_CONTROLS) & ~(u64)ENTRY_IA32E_MODE_GUEST) | ENTRY_LOAD_IA32_EFER;
	vmcs_write(VM_ENTRY_CONTROLS,
		   vmx_adjust_controls((u32)entry, MSR_IA32_VMX_ENTRY_CTLS, "VM-entry controls"));
	u64 exit = vmcs_read(VM_EXIT_CONTROLS) | EXIT_SAVE_IA32_EFER;
	vmcs_write(VM_EXIT_CONTROLS,
		   vmx_adjust_controls((u32)exit, MSR_IA32_VMX_EXIT_CTLS, "VM-exit controls"));
	/* END 08-4 */
}

#define PAE_PDPTES 4
#define PAE_PDPT_ALIGN 0x1f /* CR3 bits 4:0 are ignored with PAE paging (SDM 5.4.1) */

/* For a guest the hypervisor puts into PAE paging itself: its PDPTEs, from its own CR3. */
void ug_load_pdptes(struct vcpu *v)
{
	/* BEGIN 08-5 unused: v
	 * Achieve: when the VMCS's guest state uses PAE paging, GUEST_PDPTE0-3 hold the four PDPTEs
	 * that the guest's CR3 (a guest-physical address) names; for any other guest state nothing
	 * changes.
	 * SDM 27.3.2.4, for a guest that uses PAE paging and "enable EPT" = 1: "the PDPTEs are
	 * loaded from corresponding fields in the guest-state area."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-5.
	 */
	bool pae = (vmcs_read(GUEST_CR0) & CR0_PG) && (vmcs_read(GUEST_CR4) & CR4_PAE) &&
		   !(vmcs_read(GUEST_IA32_EFER) & EFER_LMA);
	if (!pae)
		return;
	const u64 *pdpte = ept_gpa_to_host(v, vmcs_read(GUEST_CR3) & 0xffffffff & ~(u64)PAE_PDPT_ALIGN);
	if (!pdpte)
		panic("ug_load_pdptes: the guest's CR3 0x%lx is not mapped by the EPT", vmcs_read(GUEST_CR3));
	for (unsigned i = 0; i < PAE_PDPTES; i++)
		vmcs_write(GUEST_PDPTE0 + 2 * i, pdpte[i]);
	/* END 08-5 */
}
