/* Lab 05: the VMX-preemption timer: a count-down in VMX non-root operation that ends the guest's
 * time slice with a VM exit (SDM Vol. 3C, 25.6.1, 25.7.1, 26.5.1, 27.7.4, 28.3.4, A.6). */
#include "lab.h"
#include "lab05.h"

/* Whether this processor can run the timer and save its value at VM exits. */
bool preemption_timer_supported(void)
{
	/* BEGIN 05-1
	 * Achieve: true exactly when this processor lets both controls that time slices need be
	 * 1: "activate VMX-preemption timer" (pin-based) and "save VMX-preemption timer value"
	 * (VM-exit).
	 * SDM A.3.1: "Bits 63:32 indicate the allowed 1-settings of these controls. VM entry
	 * fails if bit X is 1 in the pin-based VM-execution controls and bit 32+X is 0 in this
	 * MSR."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-1.
	 */
	return vmx_controls_allowed(PIN_ACTIVATE_VMX_PREEMPTION_TIMER, MSR_IA32_VMX_PINBASED_CTLS) &&
	       vmx_controls_allowed(EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE, MSR_IA32_VMX_EXIT_CTLS);
	/* END 05-1 */
}

/* X: the timer counts down by 1 each time bit X of the TSC changes. */
unsigned preemption_timer_rate(void)
{
	/* BEGIN 05-2
	 * Achieve: the rate X this processor reports for the VMX-preemption timer, and nothing
	 * else of the MSR that reports it.
	 * SDM A.6 (IA32_VMX_MISC): "Bits 4:0 report a value X that specifies the relationship
	 * between the rate of the VMX-preemption timer and that of the timestamp counter
	 * (TSC)."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-2.
	 */
	return VMX_MISC_PREEMPTION_TIMER_RATE(rdmsr(MSR_IA32_VMX_MISC));
	/* END 05-2 */
}

/* The timer value that lasts `tsc_ticks` TSC ticks. */
u32 preemption_timer_value(u64 tsc_ticks)
{
	/* BEGIN 05-3 unused: tsc_ticks
	 * Achieve: the timer value that lasts tsc_ticks TSC ticks at this processor's rate; a
	 * slice too long for the 32-bit field gives the longest value the field holds, never a
	 * shorter one.
	 * SDM 26.5.1: "Specifically, the timer counts down by 1 every time bit X in the TSC
	 * changes due to a TSC increment."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-3.
	 */
	u64 units = tsc_ticks >> preemption_timer_rate();
	return units > PREEMPTION_TIMER_MAX ? PREEMPTION_TIMER_MAX : (u32)units;
	/* END 05-3 */
}

/* Gives the guest of the current VMCS a time slice of `slice_ticks` TSC ticks from its next
 * VM entry on: the controls, the field, and v's slice for the exits that follow. */
void preemption_timer_start(struct vcpu *v, u64 slice_ticks)
{
	/* BEGIN 05-4 unused: v, slice_ticks
	 * Achieve: from its next VM entry on, the guest of the current VMCS runs on a slice of
	 * slice_ticks TSC ticks that its other VM exits do not renew, and lab05(v)->slice keeps
	 * the slice for the timer exits to come. A processor without the timer ends the run
	 * (panic).
	 * SDM 27.7.4: "If the 'activate VMX-preemption timer' VM-execution control is 1, VM
	 * entry starts the VMX-preemption timer with the unsigned value in the VMX-preemption
	 * timer-value field." SDM 28.3.4: "If the 'save VMX-preemption timer value' VM-exit
	 * control is 1, the value of timer is saved into the VMX-preemption timer-value field."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-4.
	 */
	if (!preemption_timer_supported())
		panic("preemption_timer_start: this processor has no VMX-preemption timer with save");
	u64 pin = vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS) | PIN_ACTIVATE_VMX_PREEMPTION_TIMER;
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)pin, MSR_IA32_VMX_PINBASED_CTLS, "pin-based controls"));
	u64 exit = vmcs_read(VM_EXIT_CONTROLS) | EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE;
	vmcs_write(VM_EXIT_CONTROLS,
		   vmx_adjust_controls((u32)exit, MSR_IA32_VMX_EXIT_CTLS, "VM-exit controls"));
	lab05(v)->slice = slice_ticks;
	vmcs_write(VMX_PREEMPTION_TIMER_VALUE, preemption_timer_value(slice_ticks));
	/* END 05-4 */
}

/* The timer reached 0: the guest's slice is over. */
static enum exit_verdict handle_preemption_timer(struct vcpu *v)
{
	/* BEGIN 05-5 unused: v
	 * Achieve: the timer exit ends the guest's turn: it is counted in
	 * lab05(v)->preemptions, lab05(v)->preempted is set and the run loop stops (EXIT_STOP),
	 * and the guest's next entry starts a full slice of its own; the guest resumes exactly
	 * where and as the timer stopped it.
	 * SDM 26.5.1: "When the timer counts down to zero, it stops counting down and a VM exit
	 * occurs."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-5.
	 */
	lab05(v)->preemptions++;
	lab05(v)->preempted = true;
	vmcs_write(VMX_PREEMPTION_TIMER_VALUE, preemption_timer_value(lab05(v)->slice));
	return EXIT_STOP;
	/* END 05-5 */
}

/* The handler is always there; the timer runs only in a VMCS given a slice. */
static void lab05_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED, handle_preemption_timer);
}
LAB_SETUP(05, lab05_setup);
