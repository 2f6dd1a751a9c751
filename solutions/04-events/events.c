/* Lab 04: interrupts and NMIs between the host and the guest: exiting on them, queueing them,
 * and injecting them only when the guest can take them (SDM Vol. 3C, 26.2, 26.7, 27.6, 28.2.3). */
#include "apic.h"
#include "lab.h"
#include "lab04.h"

static void lab04_setup(struct vcpu *v)
{
	(void)v;
	/* BEGIN 04-1
	 * SDM 25.6.1 (Table 25-5): "external-interrupt exiting" (bit 0) makes every external
	 * interrupt exit, whatever the guest's RFLAGS.IF; "NMI exiting" (bit 3) does the same
	 * for NMIs; "virtual NMIs" (bit 5, needs NMI exiting) lets the processor track the
	 * guest's NMI blocking for injected NMIs. SDM 25.7.1: "acknowledge interrupt on exit"
	 * (bit 15) makes the processor acknowledge the interrupt controller at the exit and store
	 * the vector in the VM-exit interruption-information field.
	 * Do: add the three pin-based controls and the exit control, through vmx_adjust_controls().
	 * Hint: PIN_* and EXIT_* are in vmx_controls.h.
	 */
	u64 pin = vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS) | PIN_EXTERNAL_INTERRUPT_EXITING |
		  PIN_NMI_EXITING | PIN_VIRTUAL_NMIS;
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)pin, MSR_IA32_VMX_PINBASED_CTLS, "pin-based controls"));
	u64 exit = vmcs_read(VM_EXIT_CONTROLS) | EXIT_ACKNOWLEDGE_INTERRUPT_ON_EXIT;
	vmcs_write(VM_EXIT_CONTROLS,
		   vmx_adjust_controls((u32)exit, MSR_IA32_VMX_EXIT_CTLS, "VM-exit controls"));
	/* END 04-1 */
}
LAB_SETUP(04, lab04_setup);

void vcpu_queue_interrupt(struct vcpu *v, u8 vector)
{
	lab04(v)->pending_irq[vector / 64] |= BIT(vector % 64);
}

void vcpu_queue_nmi(struct vcpu *v)
{
	lab04(v)->pending_nmi++;
}

/* An external interrupt arrived while the guest ran: keep it or pass it to the guest. */
static enum exit_verdict handle_external_interrupt(struct vcpu *v)
{
	/* BEGIN 04-2 unused: v
	 * SDM 28.2.2: with "acknowledge interrupt on exit", the VM-exit interruption-information
	 * field is valid and holds the vector; the interrupt is now in service in the local APIC
	 * (its ISR bit is set) until someone writes EOI. The instruction at guest RIP has not run.
	 * Do: read the vector. Vectors at or above HV_VECTOR_BASE are the hypervisor's: count
	 * them in lab04(v)->host_interrupts and EOI them. Queue every other vector for the guest (its
	 * handler will EOI). Resume without moving RIP.
	 * Hint: INTR_INFO_VECTOR() (vmx_exit.h); apic_eoi() (apic.h); vcpu_queue_interrupt().
	 */
	u8 vector = INTR_INFO_VECTOR(vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION));
	if (vector >= HV_VECTOR_BASE) {
		lab04(v)->host_interrupts++;
		apic_eoi();
	} else {
		vcpu_queue_interrupt(v, vector);
	}
	return EXIT_RESUME;
	/* END 04-2 */
}

/* Exception or NMI exit: an NMI is queued for the guest, an exception reflected to it. */
static enum exit_verdict handle_exception_or_nmi(struct vcpu *v)
{
	/* BEGIN 04-3 unused: v
	 * SDM 28.2.2: for exit reason 0 the VM-exit interruption information gives the type
	 * (2 = NMI, 3 = hardware exception, 6 = software exception) and the vector, and bit 11
	 * says whether VM_EXIT_INTERRUPTION_ERROR_CODE holds an error code. With "NMI exiting"
	 * an NMI never reaches the guest by itself: the hypervisor decides when to inject it.
	 * SDM 28.2.3: with virtual NMIs, bit 12 set in that field means the guest's IRET had
	 * unblocked NMIs before the exception: the hypervisor restores blocking by NMI (bit 3 of
	 * the interruptibility state) so that the IRET, run again, unblocks them then.
	 * Do: queue an NMI for the guest. Reflect a hardware exception back into the guest with
	 * its vector and error code (exceptions exit only when a check sets exception-bitmap
	 * bits), restoring NMI blocking as above. Resume without moving RIP.
	 * Hint: INTR_INFO_TYPE(), INTR_TYPE_NMI; vmx_inject_exception() from lab 02.
	 */
	u32 info = (u32)vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION);
	if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
		vcpu_queue_nmi(v);
		return EXIT_RESUME;
	}
	u32 error = (info & INTR_INFO_DELIVER_ERROR_CODE) ?
		    (u32)vmcs_read(VM_EXIT_INTERRUPTION_ERROR_CODE) : 0;
	if ((info & INTR_INFO_NMI_UNBLOCKING_DUE_TO_IRET) && INTR_INFO_VECTOR(info) != VEC_DF)
		vmcs_set_bits(GUEST_INTERRUPTIBILITY_STATE, INTERRUPTIBILITY_BLOCKING_BY_NMI, true);
	vmx_inject_exception(v, INTR_INFO_VECTOR(info), error);
	return EXIT_RESUME;
	/* END 04-3 */
}

/* The highest vector waiting in lab04(v)->pending_irq, or -1 (not static: see 04-5's hint). */
int highest_pending_irq(struct vcpu *v)
{
	for (int i = 3; i >= 0; i--)
		if (lab04(v)->pending_irq[i])
			return i * 64 + 63 - __builtin_clzl(lab04(v)->pending_irq[i]);
	return -1;
}

/* Re-delivers an event whose delivery a VM exit interrupted; true if it did. */
static bool reinject_vectored_event(struct vcpu *v)
{
	/* BEGIN 04-4 unused: v
	 * SDM 28.2.4 (information for VM exits during event delivery): when a VM exit happens
	 * while an event (interrupt, NMI, exception, software interrupt) is being delivered
	 * through the guest's IDT, the IDT-vectoring information field is valid (bit 31) and
	 * describes it (same layout as VM-entry interruption information), with its error code
	 * in IDT_VECTORING_ERROR_CODE. The event was not delivered: the hypervisor must inject it
	 * again, or the guest loses it. Software interrupts and exceptions (types 4, 5, 6) also
	 * need VM_ENTRY_INSTRUCTION_LENGTH = the VM-exit instruction length.
	 * The one exception: a handler that completed the delivery itself (the task-switch
	 * emulation does, for a task gate in the IDT) sets lab04(v)->vectored_event_done.
	 * Do: clear lab04(v)->vectored_event_done and return false if it was set. Otherwise, if the
	 * IDT-vectoring information is valid and nothing is being injected already
	 * (VM-entry interruption information not valid), copy it (with the error code and, for
	 * types 4-6, the instruction length) into the VM-entry fields and return true.
	 * Hint: INTR_INFO_VALID, INTR_INFO_DELIVER_ERROR_CODE, INTR_INFO_TYPE() in vmx_exit.h;
	 * clear bit 12 (NMI unblocking due to IRET) when you copy the field: it is reserved there.
	 */
	if (lab04(v)->vectored_event_done) {
		lab04(v)->vectored_event_done = false;
		return false;
	}
	u32 idt = (u32)vmcs_read(IDT_VECTORING_INFORMATION);
	if (!(idt & INTR_INFO_VALID) || (vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION) & INTR_INFO_VALID))
		return false;
	if (idt & INTR_INFO_DELIVER_ERROR_CODE)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(IDT_VECTORING_ERROR_CODE));
	if (INTR_INFO_TYPE(idt) >= INTR_TYPE_SOFTWARE_INTERRUPT)
		vmcs_write(VM_ENTRY_INSTRUCTION_LENGTH, vmcs_read(VM_EXIT_INSTRUCTION_LENGTH));
	vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION, idt & ~INTR_INFO_NMI_UNBLOCKING_DUE_TO_IRET);
	return true;
	/* END 04-4 */
}

/* Before every VM entry: deliver one waiting event if the guest can take it now, else ask
 * the processor to exit as soon as it can (NMI-window / interrupt-window exiting). */
static void events_before_entry(struct vcpu *v)
{
	if (reinject_vectored_event(v))
		return;
	/* BEGIN 04-5 unused: v
	 * SDM 26.2 and 27.3.1.5: an injected NMI needs the guest not blocking NMIs (bit 3 of
	 * the interruptibility state: virtual-NMI blocking, which lasts until the guest's IRET)
	 * and no blocking by MOV SS (do not inject one in an STI shadow either). An injected
	 * external interrupt needs RFLAGS.IF = 1 and no blocking by STI or MOV SS (bits 0 and 1).
	 * SDM 26.7.5-26.7.6: "interrupt-window exiting" (primary bit 2) exits as soon as the
	 * guest could take an interrupt, "NMI-window exiting" (bit 22) as soon as it could take
	 * an NMI. Interruption type 0 is an external interrupt, 2 an NMI (vector 2).
	 * Do: one event per entry, NMIs first. If the guest can take it, inject it (and take it
	 * off the queue); if not, turn on the matching window exiting. Turn a window exiting off
	 * again when nothing of its kind waits.
	 * Hint: GUEST_INTERRUPTIBILITY_STATE, GUEST_RFLAGS; highest_pending_irq() above;
	 * vmcs_set_bits() (vmx.h); INTERRUPTIBILITY_BLOCKING_BY_* in vmx_controls.h; intr_info()
	 * (vmx_exit.h) builds the field.
	 */
	u64 blocking = vmcs_read(GUEST_INTERRUPTIBILITY_STATE);
	bool shadow = blocking & (INTERRUPTIBILITY_BLOCKING_BY_STI | INTERRUPTIBILITY_BLOCKING_BY_MOV_SS);
	bool injecting = vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION) & INTR_INFO_VALID;
	if (lab04(v)->pending_nmi) {
		bool can = !injecting && !shadow && !(blocking & INTERRUPTIBILITY_BLOCKING_BY_NMI);
		if (can) {
			vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION, intr_info(VEC_NMI, INTR_TYPE_NMI, false));
			lab04(v)->pending_nmi--;
			injecting = true;
		}
		vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_NMI_WINDOW_EXITING,
			      !can || lab04(v)->pending_nmi);
	} else {
		vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_NMI_WINDOW_EXITING,
			      false);
	}
	int vector = highest_pending_irq(v);
	if (vector < 0) {
		vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
			      CPU_INTERRUPT_WINDOW_EXITING, false);
		return;
	}
	bool can = !injecting && !shadow && (vmcs_read(GUEST_RFLAGS) & RFLAGS_IF);
	if (can) {
		vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION,
			   intr_info((u8)vector, INTR_TYPE_EXTERNAL_INTERRUPT, false));
		lab04(v)->pending_irq[vector / 64] &= ~BIT(vector % 64);
	}
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_INTERRUPT_WINDOW_EXITING,
		      !can || highest_pending_irq(v) >= 0);
	/* END 04-5 */
}

/* Interrupt-window and NMI-window exits only say "now the guest can take it": the
 * delivery itself happens in events_before_entry(). */
static enum exit_verdict handle_window(struct vcpu *v)
{
	(void)v;
	return EXIT_RESUME;
}

static void lab04_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_EXTERNAL_INTERRUPT, handle_external_interrupt);
	exit_register(EXIT_REASON_EXCEPTION_OR_NMI, handle_exception_or_nmi);
	exit_register(EXIT_REASON_INTERRUPT_WINDOW, handle_window);
	exit_register(EXIT_REASON_NMI_WINDOW, handle_window);
	exit_set_before_entry(events_before_entry);
}
LAB_SETUP(04, lab04_handlers);
