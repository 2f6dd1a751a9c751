/* Lab 09, part 5: posted interrupts. The hypervisor records an interrupt in the guest's
 * posted-interrupt descriptor and sends the notification vector; when that interrupt arrives
 * in VMX non-root operation the processor moves the requests into VIRR and delivers them,
 * without a VM exit (SDM Vol. 3C, 30.6). */
#include "apic.h"
#include "lab.h"
#include "lab09.h"

void vapic_posted_enable(struct vcpu *v, u8 notification_vector)
{
	/* BEGIN 09-14 unused: v, notification_vector
	 * Achieve: an interrupt with notification_vector that arrives while the guest runs is
	 * processed by the processor, without a VM exit, from a zeroed posted-interrupt descriptor of
	 * this vCPU (lab09(v)->pid). Virtual-interrupt delivery (09-10) is on before.
	 * SDM 30.6: "Posted-interrupt processing is enabled by setting the "process posted interrupts"
	 * VM-execution control. The processing is performed in response to the arrival of an
	 * interrupt with the posted-interrupt notification vector."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-14.
	 */
	vapic_vid_enable(v);
	lab09(v)->pid = page_alloc();
	vmcs_write(POSTED_INTERRUPT_NOTIFICATION_VECTOR, notification_vector);
	vmcs_write(POSTED_INTERRUPT_DESCRIPTOR_ADDRESS, virt_to_phys(lab09(v)->pid));
	u64 pin = vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS) | PIN_PROCESS_POSTED_INTERRUPTS;
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)pin, MSR_IA32_VMX_PINBASED_CTLS, "pin-based controls"));
	/* END 09-14 */
}

/* Posts `vector` to the guest and notifies the processor if no notification is outstanding. */
void vapic_post(struct vcpu *v, u8 vector)
{
	/* BEGIN 09-15 unused: v, vector
	 * Achieve: `vector` is posted in the descriptor, and the guest's processor is notified once
	 * for any number of posts it has not processed yet, correctly even while a processor clears
	 * the descriptor at the same time. Posting is not requesting: the virtual APIC is untouched.
	 * SDM 30.6: "The logical processor performs a logical-OR of PIR into VIRR and clears PIR."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-15.
	 */
	struct posted_interrupt_descriptor *pid = lab09(v)->pid;
	__atomic_fetch_or(&pid->pir[vector / 64], BIT(vector % 64), __ATOMIC_SEQ_CST);
	u64 old = __atomic_fetch_or(&pid->control, PID_OUTSTANDING_NOTIFICATION, __ATOMIC_SEQ_CST);
	if (!(old & PID_OUTSTANDING_NOTIFICATION))
		apic_write(APIC_ICR_LOW,
			   APIC_ICR_SELF | (u32)vmcs_read(POSTED_INTERRUPT_NOTIFICATION_VECTOR));
	/* END 09-15 */
}
