/* Lab 04: interrupts and NMIs between the host and the guest: exiting on them, queueing them,
 * and injecting them only when the guest can take them (SDM Vol. 3C, 26.2, 26.7, 27.6, 28.2.3). */
#include "apic.h"
#include "lab.h"
#include "lab04.h"

static void lab04_setup(struct vcpu *v)
{
	(void)v;
	/* BEGIN 04-1
	 * Achieve: external interrupts and NMIs that arrive while the guest runs cause VM exits
	 * whatever the guest's RFLAGS.IF; an external-interrupt exit already knows the interrupt's
	 * vector; the processor tracks the guest's blocking of the NMIs the hypervisor injects.
	 * The controls earlier labs set stay set.
	 * SDM 25.6.1 (external-interrupt exiting): "If this control is 1, external interrupts
	 * cause VM exits. Otherwise, they are delivered normally through the guest
	 * interrupt-descriptor table (IDT)." SDM 25.7.1 (acknowledge interrupt on exit): "If such
	 * a VM exit occurs and this control is 1, the logical processor acknowledges the interrupt
	 * controller, acquiring the interrupt's vector."
	 * Hints: docs/labs/04-events.md, step 04-1.
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

void vcpu_queue_nmi(struct vcpu *v) { lab04(v)->pending_nmi++; }

/* An external interrupt arrived while the guest ran: keep it or pass it to the guest. */
static enum exit_verdict handle_external_interrupt(struct vcpu *v)
{
	/* BEGIN 04-2 unused: v
	 * Achieve: an interrupt whose vector belongs to the hypervisor (HV_VECTOR_BASE and above)
	 * is counted in lab04(v)->host_interrupts and ended at the APIC, and never reaches the
	 * guest; any other vector waits in the queue for the guest, whose own handler ends it. The
	 * guest resumes where it stopped.
	 * SDM 25.7.1: "The vector is stored in the VM-exit interruption-information field, which
	 * is marked valid." SDM Vol. 3A 11.8.5: "For all interrupts except those delivered with
	 * the NMI, SMI, INIT, ExtINT, the start-up, or INIT-Deassert delivery mode, the interrupt
	 * handler must include a write to the end-of-interrupt (EOI) register."
	 * Hints: docs/labs/04-events.md, step 04-2.
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
	 * Achieve: an NMI that exited waits in the queue for the guest; an exception that exited
	 * reaches the guest as it would have without the exit (vector and error code), with the
	 * guest's NMI blocking as it was before a faulting IRET ended it. The guest resumes where
	 * it stopped.
	 * SDM 25.6.1 (NMI exiting): "If this control is 1, non-maskable interrupts (NMIs) cause VM
	 * exits. Otherwise, they are delivered normally using descriptor 2 of the IDT." SDM 28.2.3
	 * says what "NMI unblocking due to IRET" in the exit's interruption information asks of
	 * the hypervisor.
	 * Hints: docs/labs/04-events.md, step 04-3.
	 */
	u32 info = (u32)vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION);
	if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
		vcpu_queue_nmi(v);
		return EXIT_RESUME;
	}
	u32 error =
		(info & INTR_INFO_DELIVER_ERROR_CODE) ? (u32)vmcs_read(VM_EXIT_INTERRUPTION_ERROR_CODE) : 0;
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
	 * Achieve: an event whose delivery this exit interrupted reaches the guest once, at the
	 * next entry, exactly as it would have without the exit; return true if you arranged that.
	 * Unless a handler already completed that delivery (lab04(v)->vectored_event_done, which
	 * covers this one exit only) or already injects something for this entry: then return
	 * false.
	 * SDM 25.9.3: "Additional information is provided for VM exits that occur during event
	 * delivery in VMX non-root operation." SDM 25.8.3, on the VM-entry instruction length:
	 * "For injection of events whose type is software interrupt, software exception, or
	 * privileged software exception, this field is used to determine the value of RIP that is
	 * pushed on the stack."
	 * Hints: docs/labs/04-events.md, step 04-4.
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
	 * Achieve: each VM entry delivers at most one queued event, NMIs before interrupts and
	 * higher vectors first, and only when the guest can take it then; an event that cannot go
	 * in brings the hypervisor back as soon as the guest can take it, and nothing brings it
	 * back once nothing of that kind waits.
	 * SDM 26.7.5: "If the "interrupt-window exiting" VM-execution control is 1, a VM exit
	 * occurs before execution of any instruction if RFLAGS.IF = 1 and there is no blocking of
	 * events by STI or by MOV SS (see Table 25-3)." SDM 27.3.1.5 lists what VM entry refuses
	 * to inject under which blocking.
	 * Hints: docs/labs/04-events.md, step 04-5.
	 */
	u64 blocking = vmcs_read(GUEST_INTERRUPTIBILITY_STATE);
	bool shadow = blocking & (INTERRUPTIBILITY_BLOCKING_BY_STI | INTERRUPTIBILITY_BLOCKING_BY_MOV_SS);
	bool injecting = vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION) & INTR_INFO_VALID;
	if (lab04(v)->pending_nmi) {
		bool can = !injecting && !shadow && !(blocking & INTERRUPTIBILITY_BLOCKING_BY_NMI);
		if (can) {
			vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION,
				   intr_info(VEC_NMI, INTR_TYPE_NMI, false));
			lab04(v)->pending_nmi--;
			injecting = true;
		}
		vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_NMI_WINDOW_EXITING,
			      !can || lab04(v)->pending_nmi);
	} else {
		vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_NMI_WINDOW_EXITING, false);
	}
	int vector = highest_pending_irq(v);
	if (vector < 0) {
		vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_INTERRUPT_WINDOW_EXITING,
			      false);
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
