/* Lab 10: virtualization exceptions (SDM Vol. 3C 26.5.7, 29.3.3.2 "EPT violations" and #VE). With
 * "EPT-violation #VE" on, an EPT violation can be delivered to the guest as exception 20 instead
 * of a VM exit, so that an agent inside the guest handles it. */
#include "lab.h"
#include "lab10.h"

/* Turns EPT violations into virtualization exceptions, with the information area in one page. */
void ve_enable(struct vcpu *v)
{
	/* TODO 10-5
	 * SDM 25.6.2 (Table 25-7): "EPT-violation #VE" is bit 18 of the secondary processor-based
	 * controls. SDM 25.6 (controls for virtualization exceptions): VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS is the host-physical
	 * address of the information area, 4-KiB aligned (checked at VM entry, 27.2.1.1). SDM
	 * 26.5.7.1: the processor delivers a #VE only while the dword at offset 4 of the area is 0,
	 * and sets it to FFFFFFFFH when it does; the guest clears it when it is ready for the next.
	 * SDM 26.5.7.2: a #VE is an exception (vector 20), so bit 20 of the exception bitmap would
	 * turn it into a VM exit (reason 0) after all.
	 * Do: refuse (panic naming the bit) a processor without the control; allocate the area
	 * (lab10(v)->ve_info) with its dword at offset 4 clear, write its address, turn the control
	 * on, and clear bit 20 of the exception bitmap.
	 * Hint: MSR_IA32_VMX_PROCBASED_CTLS2 (allowed-1 half), CPU2_EPT_VIOLATION_VE,
	 * vmx_adjust_controls(), EXCEPTION_BITMAP, VEC_VE.
	 */
	(void)v;
	TODO("10-5");
}

/* Sets (or clears) "suppress #VE" in view `view`'s leaf for gpa: a violation there exits. */
void ept_view_suppress_ve(struct vcpu *v, unsigned view, u64 gpa, bool suppress)
{
	/* TODO 10-6
	 * SDM 29.3.3.2 and Tables 29-4 to 29-6: bit 63 of an EPT leaf is "suppress #VE"; an EPT
	 * violation at a page whose leaf has it set is a VM exit even with "EPT-violation #VE" on.
	 * (For a not-present entry the bit of the entry where the walk stopped counts.)
	 * Do: walk view `view` to the leaf of gpa (lab 07's ept_lookup() walks lab07(v)->pml4:
	 * point it at the view's table, view 0 being that table itself, and restore it) and set
	 * or clear bit 63; panic when there is no leaf or no such view.
	 * Hint: lab10(v)->view_pml4[view], EPT_SUPPRESS_VE.
	 */
	(void)v;
	(void)view;
	(void)gpa;
	(void)suppress;
	TODO("10-6");
}
