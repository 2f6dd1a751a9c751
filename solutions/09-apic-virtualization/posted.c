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
	 * SDM 25.6.1 (Table 25-5): "process posted interrupts" is bit 7 of the pin-based
	 * controls; SDM 27.2.1.1: it needs "virtual-interrupt delivery" and "acknowledge
	 * interrupt on exit" (lab 04). SDM 25.6.8: the posted-interrupt notification vector (a
	 * 16-bit field, bits 15:8 zero) and the descriptor's physical address, 64-byte aligned.
	 * Do: virtual-interrupt delivery first (09-10); a zeroed descriptor in a page of its own
	 * (lab09(v)->pid); both fields; the control on.
	 * Hint: PIN_PROCESS_POSTED_INTERRUPTS, MSR_IA32_VMX_PINBASED_CTLS.
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
	 * SDM 30.6: the sender sets the vector's PIR bit and then ON, each with a locked
	 * read-modify-write (the processor clears them concurrently, from another logical
	 * processor); if ON was clear it sends an IPI with the notification vector to the
	 * guest's processor. When that interrupt is recognized in VMX non-root operation, the
	 * processor clears ON, writes EOI to the local APIC, ORs PIR into VIRR, clears PIR, sets
	 * RVI to the highest and evaluates pending virtual interrupts. Here the guest's processor
	 * is this one: a self-IPI, pending while the hypervisor runs with interrupts off, arrives
	 * right after the next VM entry.
	 * Do: set the PIR bit and ON atomically; if ON was clear, send the self-IPI (fixed
	 * delivery, shorthand self) with the vector in POSTED_INTERRUPT_NOTIFICATION_VECTOR.
	 * Hint: __atomic_fetch_or(); apic_write(APIC_ICR_LOW, ...), APIC_ICR_SELF (apic.h).
	 */
	struct posted_interrupt_descriptor *pid = lab09(v)->pid;
	__atomic_fetch_or(&pid->pir[vector / 64], BIT(vector % 64), __ATOMIC_SEQ_CST);
	u64 old = __atomic_fetch_or(&pid->control, PID_OUTSTANDING_NOTIFICATION, __ATOMIC_SEQ_CST);
	if (!(old & PID_OUTSTANDING_NOTIFICATION))
		apic_write(APIC_ICR_LOW, APIC_ICR_SELF | (u32)vmcs_read(POSTED_INTERRUPT_NOTIFICATION_VECTOR));
	/* END 09-15 */
}
