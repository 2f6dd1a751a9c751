/* Lab 10: virtualization exceptions (SDM Vol. 3C 26.5.7, 29.3.3.2 "EPT violations" and #VE). With
 * "EPT-violation #VE" on, an EPT violation can be delivered to the guest as exception 20 instead
 * of a VM exit, so that an agent inside the guest handles it. */
#include "lab.h"
#include "lab10.h"

/* Turns EPT violations into virtualization exceptions, with the information area in one page. */
void ve_enable(struct vcpu *v)
{
	/* TODO 10-5
	 * Achieve: the EPT violations the SDM calls convertible reach the guest as virtualization
	 * exceptions (#VE) instead of VM exits, with the information area (lab10(v)->ve_info, one page)
	 * ready for the first one. A processor without "EPT-violation #VE" is refused with a message
	 * that names the control.
	 * SDM 26.5.7.1: "once a virtualization exception occurs, another can occur only if software
	 * clears this field." SDM 26.5.7: "If bit 20 (#VE) is 1 in the exception bitmap in the VMCS, a
	 * virtualization exception causes a VM exit"
	 * Hints: docs/labs/10-vmfunc.md, step 10-5.
	 */
	(void)v;
	TODO("10-5");
}

/* Sets (or clears) "suppress #VE" in view `view`'s leaf for gpa: a violation there exits. */
void ept_view_suppress_ve(struct vcpu *v, unsigned view, u64 gpa, bool suppress)
{
	/* TODO 10-6
	 * Achieve: in view `view` only, an EPT violation at gpa exits (suppress true) or may be a
	 * #VE (suppress false); other views keep their setting; a view or a page that does not exist is
	 * refused; lab07(v)->pml4 is what it was before.
	 * SDM 26.5.7.1: "if an access to that address causes an EPT violation, the EPT violation is
	 * convertible if and only if bit 63 of the entry is 0."
	 * Hints: docs/labs/10-vmfunc.md, step 10-6.
	 */
	(void)v;
	(void)view;
	(void)gpa;
	(void)suppress;
	TODO("10-6");
}
