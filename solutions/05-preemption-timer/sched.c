/* Lab 05: a round-robin scheduler: several guests on one logical processor, each with its own
 * VMCS, switched when the VMX-preemption timer ends a slice (SDM Vol. 3C, 25.1, 25.11, 31.3). */
#include "lab.h"
#include "lab05.h"

/* Adds guest v (its VMCS set up) with a time slice of `slice_ticks` TSC ticks. */
void sched_add(struct scheduler *s, struct vcpu *v, u64 slice_ticks)
{
	if (s->count == SCHED_MAX_GUESTS)
		panic("sched_add: more than %d guests", SCHED_MAX_GUESTS);
	s->guest[s->count] = v;
	s->done[s->count] = false;
	s->count++;
	/* BEGIN 05-6 unused: v, slice_ticks
	 * Achieve: guest v gets its slice of slice_ticks in its own VMCS, whichever VMCS is
	 * current when sched_add is called.
	 * SDM 25.1: "The VMLAUNCH, VMREAD, VMRESUME, and VMWRITE instructions operate only on
	 * the current VMCS."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-6.
	 */
	sched_switch(s, s->count - 1);
	preemption_timer_start(v, slice_ticks);
	/* END 05-6 */
}

/* Makes guest `next` the current one: its VMCS becomes the current VMCS. */
void sched_switch(struct scheduler *s, unsigned next)
{
	/* BEGIN 05-7 unused: s, next
	 * Achieve: guest next's VMCS is the current VMCS and s->current says so; every other
	 * guest's VMCS keeps its guest state and its launch state. A failure is reported and
	 * ends the run.
	 * SDM 25.1 (VMPTRLD): "After execution of the instruction, that VMCS is both active and
	 * current on the logical processor. Any other VMCS that had been active remains so, but
	 * no other VMCS is current."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-7.
	 */
	enum vmx_status status = vmptrld(virt_to_phys(s->guest[next]->vmcs));
	if (status != VMX_SUCCEED) {
		vmx_report_failure("VMPTRLD", status);
		panic("sched_switch: VMPTRLD of guest %u failed", next);
	}
	s->current = next;
	/* END 05-7 */
}

/* Runs guest v, whose VMCS is current, until an exit handler says stop: its slice ended
 * (lab05(v)->preempted) or it is done. */
static void sched_run_slice(struct vcpu *v)
{
	for (;;) {
		/* BEGIN 05-8
		 * Achieve: every entry into v uses the VM-entry instruction its own VMCS's
		 * launch state requires, however many other VMCSs were entered in between; a
		 * failed entry is reported.
		 * SDM 25.1: "the VMLAUNCH instruction requires a VMCS whose launch state is
		 * 'clear'; the VMRESUME instruction requires a VMCS whose launch state is
		 * 'launched'."
		 * Hints: docs/labs/05-preemption-timer.md, step 05-8.
		 */
		enum vmx_status status = vmx_enter(&v->regs, v->launched);
		if (status != VMX_SUCCEED)
			vmx_entry_failed(v, status);
		v->launched = true;
		/* END 05-8 */
		if (exit_dispatch(v) == EXIT_STOP)
			return;
	}
}

/* Runs the guests, guest 0 first, until every one has stopped. */
void sched_run(struct scheduler *s)
{
	if (!s->count)
		return;
	sched_switch(s, 0);
	for (;;) {
		struct vcpu *v = s->guest[s->current];
		lab05(v)->preempted = false;
		sched_run_slice(v);
		/* BEGIN 05-9 unused: v
		 * Achieve: round robin. When a guest's slice ends, the next guest in the order
		 * they were added that has not stopped runs, so every guest gets its turn
		 * before the preempted one runs again. A guest whose run loop ended without a
		 * preemption has stopped (s->done) and never runs again; sched_run returns when
		 * every guest has stopped.
		 * SDM: none; this is the scheduler's own policy.
		 * Hints: docs/labs/05-preemption-timer.md, step 05-9.
		 */
		if (!lab05(v)->preempted)
			s->done[s->current] = true;
		unsigned next = s->current;
		do {
			next = (next + 1) % s->count;
		} while (s->done[next] && next != s->current);
		if (s->done[next])
			return;
		if (next != s->current)
			sched_switch(s, next);
		/* END 05-9 */
	}
}
