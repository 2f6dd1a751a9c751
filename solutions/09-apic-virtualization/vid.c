/* Lab 09, part 4: virtual-interrupt delivery. The hypervisor requests a virtual interrupt in
 * VIRR and RVI; the processor delivers it when the guest can take it, tracks it in VISR and SVI,
 * and ends it at the guest's EOI, exiting only for the vectors of the EOI-exit bitmap (SDM Vol.
 * 3C, 30.1.3, 30.2). */
#include "lab.h"
#include "lab09.h"

void vapic_vid_enable(struct vcpu *v)
{
	/* BEGIN 09-10 unused: v
	 * Achieve: the processor, not the hypervisor, delivers the interrupts 09-11 requests, starting
	 * from a virtual APIC with nothing requested, nothing in service and no EOI that exits.
	 * 09-1's TPR shadow is on before.
	 * SDM 30.2.1: "Evaluation of pending virtual interrupts is caused only by VM entry, TPR
	 * virtualization, EOI virtualization, self-IPI virtualization, and posted-interrupt processing."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-10.
	 */
	if (!lab09(v)->virtual_apic)
		vapic_tpr_shadow_enable(v);
	u64 primary =
		vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU_ACTIVATE_SECONDARY_CONTROLS;
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)primary, MSR_IA32_VMX_PROCBASED_CTLS,
				       "primary processor-based controls"));
	u64 secondary =
		vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_VIRTUAL_INTERRUPT_DELIVERY;
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)secondary, MSR_IA32_VMX_PROCBASED_CTLS2,
				       "secondary processor-based controls"));
	vmcs_write(GUEST_INTERRUPT_STATUS, 0);
	vmcs_write(EOI_EXIT_BITMAP_0, 0);
	vmcs_write(EOI_EXIT_BITMAP_1, 0);
	vmcs_write(EOI_EXIT_BITMAP_2, 0);
	vmcs_write(EOI_EXIT_BITMAP_3, 0);
	/* END 09-10 */
}

/* Requests virtual interrupt `vector`: the processor delivers it (no injection, no window exit). */
void vapic_vid_request(struct vcpu *v, u8 vector)
{
	/* BEGIN 09-11 unused: v, vector
	 * Achieve: `vector` is pending in the virtual APIC, so that the processor delivers it (the
	 * highest pending first) once the guest can take it, with no injection and no window exit;
	 * what is in service stays as it is.
	 * SDM 30.2.1: "IF "interrupt-window exiting" is 0 AND RVI[7:4] > VPPR[7:4] ... THEN recognize
	 * a pending virtual interrupt;"
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-11.
	 */
	*vapic_reg(v, VAPIC_IRR + 0x10 * (vector / 32)) |= BIT(vector % 32);
	u64 status = vmcs_read(GUEST_INTERRUPT_STATUS);
	if (vector > GUEST_INTERRUPT_STATUS_RVI(status))
		vmcs_write(GUEST_INTERRUPT_STATUS, (status & 0xff00) | vector);
	/* END 09-11 */
}

/* Makes the guest's EOI of `vector` exit (EOI-induced exit), e.g. for a level-triggered line. */
void vapic_eoi_exit(struct vcpu *v, u8 vector)
{
	/* BEGIN 09-12 unused: v, vector
	 * Achieve: the guest's EOI of `vector` causes an EOI-induced VM exit; the EOIs of every other
	 * vector behave as before.
	 * SDM 30.1.4: "IF EOI_exit_bitmap[Vector] = 1 ... THEN cause EOI-induced VM exit with Vector as
	 * exit qualification;"
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-12.
	 */
	(void)v;
	vmcs_set_bits((enum vmcs_field)(EOI_EXIT_BITMAP_0 + 2 * (vector / 64)), BIT(vector % 64), true);
	/* END 09-12 */
}

/* The guest ended an interrupt of a vector in the EOI-exit bitmap. */
static enum exit_verdict handle_virtualized_eoi(struct vcpu *v)
{
	/* BEGIN 09-13 unused: v
	 * Achieve: whoever set lab09(v)->eoi_notify learns which vector the guest ended, and the
	 * guest goes on after its EOI.
	 * SDM 30.1.4: "Any VM exit caused by EOI virtualization is trap-like: the instruction causing
	 * EOI virtualization completes before the VM exit occurs"
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-13.
	 */
	if (lab09(v)->eoi_notify)
		lab09(v)->eoi_notify(v, (u8)v->exit.qualification);
	return EXIT_RESUME;
	/* END 09-13 */
}

static void lab09_vid_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_VIRTUALIZED_EOI, handle_virtualized_eoi);
}
LAB_SETUP(09, lab09_vid_handlers);
