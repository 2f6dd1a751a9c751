/* Lab 06: the monitor trap flag (SDM Vol. 3C, 26.5.2) and a single-step tracer built on it. */
#include "lab.h"
#include "lab06.h"

void mtf_set(struct vcpu *v, bool on)
{
	(void)v;
	/* BEGIN 06-1 unused: on
	 * Achieve: the "monitor trap flag" control is 1 in the VMCS when on is true and 0 when
	 * it is false, every other control bit unchanged; asking for it on a processor that
	 * does not allow it ends the run with a message that names the control.
	 * SDM A.3.2: "Bits 63:32 indicate the allowed 1-settings of these controls. VM entry
	 * fails if bit X is 1 in the primary processor-based VM-execution controls and bit 32+X
	 * is 0 in this MSR."
	 * Hints: docs/labs/06-mtf.md, step 06-1.
	 */
	if (on && !vmx_controls_allowed(CPU_MONITOR_TRAP_FLAG, MSR_IA32_VMX_PROCBASED_CTLS))
		panic("lab 06: this CPU does not allow the \"monitor trap flag\" control");
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_MONITOR_TRAP_FLAG, on);
	/* END 06-1 */
}

void mtf_trace_start(struct vcpu *v, unsigned limit)
{
	/* BEGIN 06-2 unused: v, limit
	 * Achieve: a new trace (lab06(v): trace_length, trace_limit, tracing) starts empty and
	 * records at most limit steps, the first one at the boundary after the guest's next
	 * instruction or after the delivery of an event this entry injects; a limit of 0
	 * records nothing and leaves MTF off.
	 * SDM 26.5.2: "If the 'monitor trap flag' VM-execution control is 1 and VM entry is
	 * injecting a vectored event ..., an MTF VM exit is pending on the instruction boundary
	 * before the first instruction following the VM entry."
	 * Hints: docs/labs/06-mtf.md, step 06-2.
	 */
	struct lab06_vcpu *s = lab06(v);
	s->trace_length = 0;
	s->trace_limit = limit;
	s->tracing = s->trace_limit > 0;
	mtf_set(v, s->tracing);
	/* END 06-2 */
}

void mtf_trace_stop(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	s->tracing = false;
	mtf_set(v, s->stepping != NULL); /* a breakpoint being stepped still needs it */
}

/* One step of the trace: the instruction before this exit has completed. */
static void record_step(struct vcpu *v)
{
	/* BEGIN 06-3 unused: v
	 * Achieve: while the tracer records, each MTF exit is one step: counted in
	 * trace_length, its guest RIP kept in trace[] while the buffer has room, passed to
	 * on_step when that is set; recording stops after trace_limit steps. The guest's RIP is
	 * never changed.
	 * SDM 26.5.2, for a REP-prefixed string instruction: "If the first iteration of the
	 * instruction does not cause a fault, an MTF VM exit is pending on the instruction
	 * boundary after that iteration." For any other: "If the instruction causes a fault, an
	 * MTF VM exit is pending on the instruction boundary following delivery of the fault
	 * (or any nested exception)."
	 * Hints: docs/labs/06-mtf.md, step 06-3.
	 */
	struct lab06_vcpu *s = lab06(v);
	if (!s->tracing)
		return;
	u64 rip = v->exit.guest_rip;
	if (s->trace_length < MTF_TRACE_MAX)
		s->trace[s->trace_length] = rip;
	s->trace_length++;
	if (s->on_step)
		s->on_step(v, rip);
	if (s->trace_length >= s->trace_limit)
		s->tracing = false;
	/* END 06-3 */
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
