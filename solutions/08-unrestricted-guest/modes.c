/* Lab 08: what the hypervisor does around the guest's own mode switches: IA32_EFER and the
 * "IA-32e mode guest" control, and the PDPTEs of PAE paging (SDM Vol. 3C, 27.3.2, 28.3). */
#include "lab.h"
#include "lab08.h"

/* The guest's IA32_EFER: its own, from the first entry on, kept across every exit. */
void ug_efer_setup(struct vcpu *v)
{
	(void)v;
	/* BEGIN 08-4
	 * SDM 27.3.2.1: without "load IA32_EFER", a VM entry sets EFER.LMA (and, with CR0.PG = 1,
	 * EFER.LME) from "IA-32e mode guest" (VM-entry control 9) and leaves the other bits,
	 * LME of a paging-off guest included, as the host had them: this 64-bit host's LME = 1
	 * would leak into the guest and turn its later CR0.PG = 1 into IA-32e mode. With "load
	 * IA32_EFER" (entry control 15) EFER comes from the GUEST_IA32_EFER field, whose LMA must
	 * equal "IA-32e mode guest" (SDM 27.3.1.1). SDM 28.3: "save IA32_EFER" (exit control 20)
	 * stores the guest's EFER into that field at every exit, and the exit always stores
	 * EFER.LMA into "IA-32e mode guest", so the next entry restores the mode the guest chose.
	 * Do: a guest that starts with IA32_EFER = 0 (as after reset) and outside IA-32e mode:
	 * GUEST_IA32_EFER = 0, "IA-32e mode guest" off, "load IA32_EFER" on, "save IA32_EFER" on.
	 * Hint: ENTRY_IA32E_MODE_GUEST, ENTRY_LOAD_IA32_EFER, EXIT_SAVE_IA32_EFER;
	 * MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_EXIT_CTLS.
	 */
	vmcs_write(GUEST_IA32_EFER, 0);
	u64 entry = (vmcs_read(VM_ENTRY_CONTROLS) & ~(u64)ENTRY_IA32E_MODE_GUEST) | ENTRY_LOAD_IA32_EFER;
	vmcs_write(VM_ENTRY_CONTROLS, vmx_adjust_controls((u32)entry, MSR_IA32_VMX_ENTRY_CTLS,
							  "VM-entry controls"));
	u64 exit = vmcs_read(VM_EXIT_CONTROLS) | EXIT_SAVE_IA32_EFER;
	vmcs_write(VM_EXIT_CONTROLS, vmx_adjust_controls((u32)exit, MSR_IA32_VMX_EXIT_CTLS,
							 "VM-exit controls"));
	/* END 08-4 */
}

#define PAE_PDPTES 4
#define PAE_PDPT_ALIGN 0x1f	/* CR3 bits 4:0 are ignored with PAE paging (SDM 4.4.1) */

/* For a guest the hypervisor puts into PAE paging itself: its PDPTEs, from its own CR3. */
void ug_load_pdptes(struct vcpu *v)
{
	/* BEGIN 08-5 unused: v
	 * SDM 27.3.2.4: if the guest uses PAE paging (CR0.PG = 1, CR4.PAE = 1, IA32_EFER.LMA = 0)
	 * and "enable EPT" is 1, a VM entry loads the four PDPTEs from the VMCS fields
	 * GUEST_PDPTE0-3, not from memory; only a guest MOV to CR0, CR3 or CR4 reads them from
	 * memory. SDM 28.3.4: a VM exit of a PAE guest saves them there. SDM 4.4.1: the PDPTEs are
	 * four 8-byte entries at CR3 bits 31:5, a guest-physical address.
	 * Do: when the VMCS's guest state is PAE paging, copy the four PDPTEs the guest's CR3
	 * names into GUEST_PDPTE0-3 (it is a guest-physical address: translate it with the EPT).
	 * Hint: ept_gpa_to_host() (lab 07); GUEST_IA32_EFER holds LMA (ug_efer_setup()).
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
