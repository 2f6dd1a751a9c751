/* Lab 06: the monitor trap flag (SDM Vol. 3C, 26.5.2) and a single-step tracer built on it. */
#include "lab.h"
#include "lab06.h"

void mtf_set(struct vcpu *v, bool on)
{
	(void)v;
	/* TODO 06-1
	 * SDM 25.6.2 (Table 25-6): primary processor-based control bit 27, "monitor trap flag".
	 * SDM A.3.2: a control may be 1 only if its allowed-1 bit (bit 32 + 27 of
	 * IA32_VMX_PROCBASED_CTLS, or of the TRUE_ MSR when IA32_VMX_BASIC[55] is 1) is 1.
	 * Do: before setting it, make sure the CPU allows it (if not, panic with a message that
	 * names the control); then set or clear the bit in the VMCS.
	 * Hint: vmx_controls_allowed() (vmx.h) picks the right MSR; vmcs_set_bits();
	 * CPU_MONITOR_TRAP_FLAG is in vmx_controls.h.
	 */
	(void)on;
	TODO("06-1");
}

void mtf_trace_start(struct vcpu *v, unsigned limit)
{
	/* TODO 06-2
	 * SDM 26.5.2: "the monitor trap flag is a debugging feature that causes VM exits to occur
	 * on certain instruction boundaries in VMX non-root operation": with the control set and
	 * nothing injected, an MTF VM exit is pending on the boundary after the first instruction
	 * the guest executes.
	 * Do: empty the trace, keep the limit, start recording (only if the limit is not 0) and
	 * turn MTF on.
	 * Hint: the fields are in struct lab06_vcpu (lab06.h); mtf_set() is step 06-1.
	 */
	(void)v;
	(void)limit;
	TODO("06-2");
}

void mtf_trace_stop(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	s->tracing = false;
	mtf_set(v, s->stepping != NULL);	/* a breakpoint being stepped still needs it */
}

/* One step of the trace: the instruction before this exit has completed. */
static void record_step(struct vcpu *v)
{
	/* TODO 06-3
	 * SDM 26.5.2 and 28.2: an MTF VM exit happens on an instruction boundary, after the
	 * instruction (or after the delivery of the event or fault it raised); the guest RIP it
	 * saves is the next instruction to run. Nothing is left to skip: the VM-exit
	 * instruction length means nothing for this exit. A REP string instruction exits after
	 * each iteration, with RIP still on the REP instruction.
	 * Do: while tracing, count the step, keep the exit's guest RIP in the trace while it has
	 * room (MTF_TRACE_MAX), call on_step (when set) with it, and stop recording after
	 * trace_limit steps. Never change GUEST_RIP.
	 * Hint: exit_dispatch() already read the RIP into v->exit.guest_rip.
	 */
	(void)v;
	TODO("06-3");
}

/* Exit reason 37: the trace's step, or the end of a breakpoint's single step. MTF stays on
 * only while one of them still needs it. */
static enum exit_verdict handle_monitor_trap_flag(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	if (s->stepping)
		breakpoint_stepped(v);
	record_step(v);
	mtf_set(v, s->tracing || s->stepping);
	return EXIT_RESUME;
}

static void lab06_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_MONITOR_TRAP_FLAG, handle_monitor_trap_flag);
}
LAB_SETUP(06, lab06_setup);
