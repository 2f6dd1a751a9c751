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
	/* TODO 05-6
	 * Achieve: guest v gets its slice of slice_ticks in its own VMCS, whichever VMCS is
	 * current when sched_add is called.
	 * SDM 25.1: "The VMLAUNCH, VMREAD, VMRESUME, and VMWRITE instructions operate only on
	 * the current VMCS."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-6.
	 */
	(void)v;
	(void)slice_ticks;
	TODO("05-6");
}

/* Makes guest `next` the current one: its VMCS becomes the current VMCS. */
void sched_switch(struct scheduler *s, unsigned next)
{
	/* TODO 05-7
	 * Achieve: guest next's VMCS is the current VMCS and s->current says so; every other
	 * guest's VMCS keeps its guest state and its launch state. A failure is reported and
	 * ends the run.
	 * SDM 25.1 (VMPTRLD): "After execution of the instruction, that VMCS is both active and
	 * current on the logical processor. Any other VMCS that had been active remains so, but
	 * no other VMCS is current."
	 * Hints: docs/labs/05-preemption-timer.md, step 05-7.
	 */
	(void)s;
	(void)next;
	TODO("05-7");
}

/* Runs guest v, whose VMCS is current, until an exit handler says stop: its slice ended
 * (lab05(v)->preempted) or it is done. */
static void sched_run_slice(struct vcpu *v)
{
	for (;;) {
		/* TODO 05-8
		 * Achieve: every entry into v uses the VM-entry instruction its own VMCS's
		 * launch state requires, however many other VMCSs were entered in between; a
		 * failed entry is reported.
		 * SDM 25.1: "the VMLAUNCH instruction requires a VMCS whose launch state is
		 * 'clear'; the VMRESUME instruction requires a VMCS whose launch state is
		 * 'launched'."
		 * Hints: docs/labs/05-preemption-timer.md, step 05-8.
		 */
		TODO("05-8");
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
		/* TODO 05-9
		 * Achieve: round robin. When a guest's slice ends, the next guest in the order
		 * they were added that has not stopped runs, so every guest gets its turn
		 * before the preempted one runs again. A guest whose run loop ended without a
		 * preemption has stopped (s->done) and never runs again; sched_run returns when
		 * every guest has stopped.
		 * SDM: none; this is the scheduler's own policy.
		 * Hints: docs/labs/05-preemption-timer.md, step 05-9.
		 */
		(void)v;
		TODO("05-9");
	}
}
