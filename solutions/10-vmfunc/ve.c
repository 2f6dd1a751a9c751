/* Lab 10: virtualization exceptions (SDM Vol. 3C 26.5.7, 29.3.3.2 "EPT violations" and #VE). With
 * "EPT-violation #VE" on, an EPT violation can be delivered to the guest as exception 20 instead
 * of a VM exit, so that an agent inside the guest handles it. */
#include "lab.h"
#include "lab10.h"

/* Turns EPT violations into virtualization exceptions, with the information area in one page. */
void ve_enable(struct vcpu *v)
{
	/* BEGIN 10-5 unused: v
	 * Achieve: the EPT violations the SDM calls convertible reach the guest as virtualization
	 * exceptions (#VE) instead of VM exits, with the information area (lab10(v)->ve_info, one page)
	 * ready for the first one. A processor without "EPT-violation #VE" is refused with a message
	 * that names the control.
	 * SDM 26.5.7.1: "once a virtualization exception occurs, another can occur only if software
	 * clears this field." SDM 26.5.7: "If bit 20 (#VE) is 1 in the exception bitmap in the VMCS, a
	 * virtualization exception causes a VM exit"
	 * Hints: docs/labs/10-vmfunc.md, step 10-5.
	 */
	if (!(rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32 & CPU2_EPT_VIOLATION_VE))
		panic("#VE: IA32_VMX_PROCBASED_CTLS2 does not allow \"EPT-violation #VE\" (bit 18)");
	struct lab10_vcpu *f = lab10(v);
	f->ve_info = page_alloc();
	f->ve_info->busy = 0;
	vmcs_write(VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS, virt_to_phys(f->ve_info));
	u64 secondary = vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_EPT_VIOLATION_VE;
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)secondary, MSR_IA32_VMX_PROCBASED_CTLS2, "secondary controls"));
	vmcs_write(EXCEPTION_BITMAP, vmcs_read(EXCEPTION_BITMAP) & ~BIT(VEC_VE));
	/* END 10-5 */
}

/* Sets (or clears) "suppress #VE" in view `view`'s leaf for gpa: a violation there exits. */
void ept_view_suppress_ve(struct vcpu *v, unsigned view, u64 gpa, bool suppress)
{
	/* BEGIN 10-6 unused: v, view, gpa, suppress
	 * Achieve: in view `view` only, an EPT violation at gpa exits (suppress true) or may be a
	 * #VE (suppress false); other views keep their setting; a view or a page that does not exist is
	 * refused; lab07(v)->pml4 is what it was before.
	 * SDM 26.5.7.1: "if an access to that address causes an EPT violation, the EPT violation is
	 * convertible if and only if bit 63 of the entry is 0."
	 * Hints: docs/labs/10-vmfunc.md, step 10-6.
	 */
	struct lab10_vcpu *f = lab10(v);
	if (view && view >= f->views)
		panic("ept_view_suppress_ve: view %u does not exist (%u views)", view, f->views);
	u64 *saved = lab07(v)->pml4;
	if (view)
		lab07(v)->pml4 = f->view_pml4[view];
	unsigned level = 0;
	u64 *leaf = ept_lookup(v, gpa, &level);
	lab07(v)->pml4 = saved;
	if (!leaf)
		panic("ept_view_suppress_ve: view %u does not map guest-physical 0x%lx", view, gpa);
	*leaf = suppress ? *leaf | EPT_SUPPRESS_VE : *leaf & ~EPT_SUPPRESS_VE;
	/* END 10-6 */
}
