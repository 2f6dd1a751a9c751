/* Lab 05: the VMX-preemption timer: a count-down in VMX non-root operation that ends the guest's
 * time slice with a VM exit (SDM Vol. 3C, 25.6.1, 25.7.1, 26.5.1, 27.7.4, 28.3.4, A.6). */
#include "lab.h"
#include "lab05.h"

/* Whether this processor can run the timer and save its value at VM exits. */
bool preemption_timer_supported(void)
{
	/* TODO 05-1
	 * SDM A.3.1 and A.4: a control may be 1 only if its bit is 1 in bits 63:32 (the
	 * allowed 1-settings) of its capability MSR. "Activate VMX-preemption timer" is pin-based
	 * bit 6 (SDM 25.6.1); "save VMX-preemption timer value" is VM-exit control bit 22
	 * (SDM 25.7.1). The timer is only usable for time slices with both.
	 * Do: return true only if both controls may be 1.
	 * Hint: vmx_controls_allowed() (vmx.h) reads the right capability MSR (TRUE_ or not);
	 * PIN_ACTIVATE_VMX_PREEMPTION_TIMER and EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE are in
	 * vmx_controls.h.
	 */
	TODO("05-1");
}

/* X: the timer counts down by 1 each time bit X of the TSC changes. */
unsigned preemption_timer_rate(void)
{
	/* TODO 05-2
	 * SDM A.6: "Bits 4:0 report a value X that specifies the relationship between the rate of
	 * the VMX-preemption timer and that of the timestamp counter (TSC). Specifically, the
	 * VMX-preemption timer (if it is active) counts down by 1 every time bit X in the TSC
	 * changes due to a TSC increment." The other bits of IA32_VMX_MISC mean other things.
	 * Do: return bits 4:0 of IA32_VMX_MISC.
	 * Hint: MSR_IA32_VMX_MISC (x86.h), VMX_MISC_PREEMPTION_TIMER_RATE() (vmx_controls.h).
	 */
	TODO("05-2");
}

/* The timer value that lasts `tsc_ticks` TSC ticks. */
u32 preemption_timer_value(u64 tsc_ticks)
{
	/* TODO 05-3
	 * SDM 26.5.1: the timer counts down by 1 every time bit X of the TSC changes (X from
	 * preemption_timer_rate()), so one unit of the timer is 2^X TSC ticks. SDM 25.4.2: the
	 * VMX-preemption timer-value field has 32 bits.
	 * Do: convert tsc_ticks into timer units; a slice longer than the field can hold becomes
	 * the largest value (PREEMPTION_TIMER_MAX, lab05.h), never a truncated one.
	 * Hint: read the rate once; a 64-bit shift, then compare.
	 */
	(void)tsc_ticks;
	TODO("05-3");
}

/* Gives the guest of the current VMCS a time slice of `slice_ticks` TSC ticks from its next
 * VM entry on: the controls, the field, and v's slice for the exits that follow. */
void preemption_timer_start(struct vcpu *v, u64 slice_ticks)
{
	/* TODO 05-4
	 * SDM 26.5.1, 27.7.4: with "activate VMX-preemption timer" (pin-based bit 6) the timer starts at
	 * VM entry from the VMX-preemption timer-value field and counts down in VMX non-root
	 * operation; at 0 it causes a VM exit (reason 52). SDM 25.7.1 and 28.3.4: with "save
	 * VMX-preemption timer value" (VM-exit control bit 22) every VM exit, whatever its reason,
	 * stores the timer's remaining value in that field, so the next VM entry continues the
	 * same slice. Without it the field keeps the value software wrote, and every VM entry
	 * starts a full slice again: a guest that exits often for other reasons would never be
	 * preempted. VM entry refuses the save control without the activate control.
	 * Do: panic() unless preemption_timer_supported(); set both controls through
	 * vmx_adjust_controls(); write the field with the value of slice_ticks; keep slice_ticks
	 * in lab05(v)->slice for the timer exits to come. It all goes into the current VMCS.
	 * Hint: vmcs_read() the control fields and add the bits; VMX_PREEMPTION_TIMER_VALUE is in
	 * vmcs.h.
	 */
	(void)v;
	(void)slice_ticks;
	TODO("05-4");
}

/* The timer reached 0: the guest's slice is over. */
static enum exit_verdict handle_preemption_timer(struct vcpu *v)
{
	/* TODO 05-5
	 * SDM 26.5.1 and 28.2.1: exit reason 52, "VMX-preemption timer expired". No instruction
	 * caused it: guest RIP points at the next instruction to run (or the guest is still in
	 * the HLT state, which the timer does not leave), and the VM-exit instruction-length
	 * field is not valid. With the save control the field now holds 0: entered like that, the
	 * guest would exit again before its first instruction. (Bochs even saves a stale number
	 * after an entry with 0.) A new slice is the hypervisor's own value.
	 * Do: count the exit in lab05(v)->preemptions, set lab05(v)->preempted, write a full
	 * slice (lab05(v)->slice) back into the field, and return EXIT_STOP: the run loop ends
	 * and the scheduler decides who runs next. Leave RIP alone.
	 */
	(void)v;
	TODO("05-5");
}

/* The handler is always there; the timer runs only in a VMCS given a slice. */
static void lab05_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED, handle_preemption_timer);
}
LAB_SETUP(05, lab05_setup);
