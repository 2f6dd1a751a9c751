/* Lab 04: task switches always exit in VMX non-root operation (SDM Vol. 3C, 26.4.2); the
 * hypervisor performs them as the processor would (SDM Vol. 3A, 8.3). Only 32-bit TSSes in
 * the GDT, for a 32-bit protected-mode guest. */
#include "lab.h"
#include "lab04.h"
#include "tss32.h"

struct task_switch {
	u16 selector; /* the new task's TSS selector */
	enum task_switch_source source;
	u64 *new_desc, *old_desc; /* their GDT entries */
	struct tss32 *new_tss, *old_tss;
	u32 fault_vector, fault_error; /* an exception the checks raise instead (0: none) */
};

#define GUEST_TR_BUSY_32 (AR_TYPE(SYS_TYPE_TSS32_BUSY) | AR_P)

/* Finds the new TSS and checks it as SDM 8.3 steps 2-5 describe. */
bool task_switch_check(struct vcpu *v, struct task_switch *t)
{
	/* TODO 04-6
	 * Achieve: t names the new task (selector, source) and both tasks' GDT entries and TSSes
	 * (the old task is the guest's TR); a switch the processor would refuse returns false with
	 * t->fault_vector and t->fault_error set to the fault it would raise.
	 * SDM 26.4.2: "Task switches are not allowed in VMX non-root operation. Any attempt to
	 * effect a task switch in VMX non-root operation causes a VM exit." SDM Vol. 3A 8.2.2:
	 * "Attempting to switch to a task whose TSS descriptor has a limit less than 67H generates
	 * an invalid-TSS exception (#TS)."
	 * Hints: docs/labs/04-events.md, step 04-6.
	 */
	(void)v;
	(void)t;
	TODO("04-6");
}

/* Saves the current task into its TSS and updates busy bits, back link and NT. */
void task_switch_save(struct vcpu *v, struct task_switch *t)
{
	/* TODO 04-7
	 * Achieve: the old task's TSS holds what resuming it later needs, at the point where it
	 * stopped, and the busy bits and the new TSS's back link say which tasks are running or
	 * suspended in a chain.
	 * SDM Vol. 3A 8.4: "When a CALL instruction, an interrupt, or an exception causes a task
	 * switch: the processor copies the segment selector for the current TSS to the previous
	 * task link field of the TSS for the new task; it then sets EFLAGS.NT = 1."
	 * Hints: docs/labs/04-events.md, step 04-7.
	 */
	(void)v;
	(void)t;
	TODO("04-7");
}

/* Loads the new task from its TSS, as SDM 8.3 steps 10-12 describe. */
bool task_switch_load(struct vcpu *v, struct task_switch *t)
{
	/* TODO 04-8
	 * Achieve: the guest continues as the new task, in the state its TSS describes and in a
	 * state the next VM entry accepts, with CR0.TS set as the guest reads it, and with the
	 * event a task gate carried delivered exactly once. A segment that cannot be loaded
	 * returns false with t->fault_error set (the caller raises #TS).
	 * SDM Vol. 3A 8.3: "The TS (task switched) flag in the control register CR0 is set every
	 * time a task switch occurs."
	 * Hints: docs/labs/04-events.md, step 04-8.
	 */
	(void)v;
	(void)t;
	TODO("04-8");
}

/* Exit reason 9: check, save, load; a bad new TSS becomes the fault the SDM names. */
static enum exit_verdict handle_task_switch(struct vcpu *v)
{
	struct task_switch t = { 0 };
	if (!task_switch_check(v, &t)) {
		vmx_inject_exception(v, (u8)t.fault_vector, t.fault_error);
		return EXIT_RESUME;
	}
	task_switch_save(v, &t);
	if (!task_switch_load(v, &t))
		vmx_inject_exception(v, VEC_TS, t.fault_error);
	return EXIT_RESUME;
}

static void lab04_task_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_TASK_SWITCH, handle_task_switch);
}
LAB_SETUP(04, lab04_task_handlers);
