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
	 * SDM 25.1 and 31.3 (VMWRITE): VMREAD and VMWRITE work on the current VMCS, the one the
	 * last VMPTRLD named, whichever guest that belongs to. The guest added here need not be
	 * the current one: the VMCS of the guest set up last is.
	 * Do: make v's VMCS current, then give it its slice with preemption_timer_start().
	 * Hint: sched_switch() with v's index.
	 */
	sched_switch(s, s->count - 1);
	preemption_timer_start(v, slice_ticks);
	/* END 05-6 */
}

/* Makes guest `next` the current one: its VMCS becomes the current VMCS. */
void sched_switch(struct scheduler *s, unsigned next)
{
	/* BEGIN 05-7 unused: s, next
	 * SDM 31.3 (VMPTRLD) and 25.11.1-25.11.3: VMPTRLD makes a VMCS current on this logical
	 * processor; the VMCS that was current stays active, its launch state unchanged, and
	 * keeps the guest state its last VM exit saved. VMCLEAR is needed only before a VMCS
	 * moves to another logical processor (or its memory is freed): it would also set the
	 * launch state back to "clear".
	 * Do: VMPTRLD guest[next]'s VMCS (panic with a report if it fails) and record next in
	 * s->current.
	 * Hint: vmptrld(), virt_to_phys(), vmx_report_failure() (vmx.h).
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
		 * SDM 25.11.3 and 31.3 (VMLAUNCH, VMRESUME): the launch state belongs to each
		 * VMCS, not to the logical processor. VMLAUNCH needs a "clear" VMCS and makes it
		 * "launched"; VMRESUME needs a "launched" one (VM-instruction errors 4 and 5 for
		 * the wrong instruction). A guest's first entry is VMLAUNCH, every later entry of
		 * that guest VMRESUME, however many other VMCSs were launched meanwhile.
		 * Do: enter the guest (VMRESUME if this VMCS was launched), report a failed entry
		 * with vmx_entry_failed(), and remember that this VMCS is launched.
		 * Hint: lab 01's vcpu_run() does this for one VMCS; struct vcpu has a launched flag.
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
		 * Round robin: when a slice ends, the next guest in order that has not stopped
		 * runs, and the preempted one waits for its turn again. A guest whose run loop
		 * ended without a preemption is done (HC_DONE) and never runs again.
		 * Do: mark the guest done unless it was preempted; find the next guest after
		 * s->current (wrapping around, and s->current itself last) that is not done; return
		 * when there is none; otherwise switch to it unless it is already current.
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
