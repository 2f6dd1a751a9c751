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
	/* BEGIN 04-6 unused: v, t
	 * Achieve: t names the new task (selector, source) and both tasks' GDT entries and TSSes
	 * (the old task is the guest's TR); a switch the processor would refuse returns false with
	 * t->fault_vector and t->fault_error set to the fault it would raise.
	 * SDM 26.4.2: "Task switches are not allowed in VMX non-root operation. Any attempt to
	 * effect a task switch in VMX non-root operation causes a VM exit." SDM Vol. 3A 8.2.2:
	 * "Attempting to switch to a task whose TSS descriptor has a limit less than 67H generates
	 * an invalid-TSS exception (#TS)."
	 * Hints: docs/labs/04-events.md, step 04-6.
	 */
	u64 q = v->exit.qualification;
	t->selector = ts_qual_selector(q);
	t->source = ts_qual_source(q);
	t->fault_error = t->selector & 0xfffc;
	u16 old_selector = (u16)vmcs_read(GUEST_TR_SELECTOR);
	if (!guest_gdt_entry(v, t->selector, &t->new_desc) ||
	    !guest_gdt_entry(v, old_selector, &t->old_desc)) {
		t->fault_vector = VEC_GP;
		return false;
	}
	u64 d = *t->new_desc;
	bool busy = DESC_TYPE(d) == SYS_TYPE_TSS32_BUSY;
	if (DESC_S(d) || (DESC_TYPE(d) != SYS_TYPE_TSS32_AVAILABLE && !busy))
		t->fault_vector = VEC_GP;
	else if (!DESC_PRESENT(d))
		t->fault_vector = VEC_NP;
	else if (desc_limit(d) < TSS32_MIN_LIMIT)
		t->fault_vector = VEC_TS;
	else if (t->source == TASK_SWITCH_IRET && !busy)
		t->fault_vector = VEC_TS;
	else if (t->source != TASK_SWITCH_IRET && busy)
		t->fault_vector = VEC_GP;
	else
		t->fault_vector = 0;
	t->new_tss = guest_linear_to_host(v, DESC_BASE(d));
	t->old_tss = guest_linear_to_host(v, vmcs_read(GUEST_TR_BASE));
	return t->fault_vector == 0;
	/* END 04-6 */
}

/* Saves the current task into its TSS and updates busy bits, back link and NT. */
void task_switch_save(struct vcpu *v, struct task_switch *t)
{
	/* BEGIN 04-7 unused: v, t
	 * Achieve: the old task's TSS holds what resuming it later needs, at the point where it
	 * stopped, and the busy bits and the new TSS's back link say which tasks are running or
	 * suspended in a chain.
	 * SDM Vol. 3A 8.4: "When a CALL instruction, an interrupt, or an exception causes a task
	 * switch: the processor copies the segment selector for the current TSS to the previous
	 * task link field of the TSS for the new task; it then sets EFLAGS.NT = 1."
	 * Hints: docs/labs/04-events.md, step 04-7.
	 */
	u64 eip = v->exit.guest_rip;
	u32 vectoring = (u32)vmcs_read(IDT_VECTORING_INFORMATION);
	bool by_event = t->source == TASK_SWITCH_IDT_GATE && (vectoring & INTR_INFO_VALID) &&
			INTR_INFO_TYPE(vectoring) < INTR_TYPE_SOFTWARE_INTERRUPT;
	if (!by_event)
		eip += v->exit.instruction_length;
	u64 eflags = vmcs_read(GUEST_RFLAGS);
	if (t->source == TASK_SWITCH_IRET)
		eflags &= ~RFLAGS_NT;
	struct tss32 *o = t->old_tss;
	o->eip = (u32)eip;
	o->eflags = (u32)eflags;
	o->eax = (u32)guest_reg_read(v, 0);
	o->ecx = (u32)guest_reg_read(v, 1);
	o->edx = (u32)guest_reg_read(v, 2);
	o->ebx = (u32)guest_reg_read(v, 3);
	o->esp = (u32)guest_reg_read(v, 4);
	o->ebp = (u32)guest_reg_read(v, 5);
	o->esi = (u32)guest_reg_read(v, 6);
	o->edi = (u32)guest_reg_read(v, 7);
	o->es = (u16)vmcs_read(GUEST_ES_SELECTOR);
	o->cs = (u16)vmcs_read(GUEST_CS_SELECTOR);
	o->ss = (u16)vmcs_read(GUEST_SS_SELECTOR);
	o->ds = (u16)vmcs_read(GUEST_DS_SELECTOR);
	o->fs = (u16)vmcs_read(GUEST_FS_SELECTOR);
	o->gs = (u16)vmcs_read(GUEST_GS_SELECTOR);
	if (t->source == TASK_SWITCH_JMP || t->source == TASK_SWITCH_IRET)
		*t->old_desc &= ~DESC_BUSY_BIT;
	if (t->source == TASK_SWITCH_CALL || t->source == TASK_SWITCH_IDT_GATE)
		t->new_tss->back_link = (u16)vmcs_read(GUEST_TR_SELECTOR);
	*t->new_desc |= DESC_BUSY_BIT;
	/* END 04-7 */
}

/* Loads the new task from its TSS, as SDM 8.3 steps 10-12 describe. */
bool task_switch_load(struct vcpu *v, struct task_switch *t)
{
	/* BEGIN 04-8 unused: v, t
	 * Achieve: the guest continues as the new task, in the state its TSS describes and in a
	 * state the next VM entry accepts, with CR0.TS set as the guest reads it, and with the
	 * event a task gate carried delivered exactly once. A segment that cannot be loaded
	 * returns false with t->fault_error set (the caller raises #TS).
	 * SDM Vol. 3A 8.3: "The TS (task switched) flag in the control register CR0 is set every
	 * time a task switch occurs."
	 * Hints: docs/labs/04-events.md, step 04-8.
	 */
	struct tss32 *n = t->new_tss;
	u64 d = *t->new_desc;
	vmcs_write_guest_segment(GUEST_TR_SELECTOR, t->selector, DESC_BASE(d), desc_limit(d),
				 GUEST_TR_BUSY_32);
	vmcs_write(GUEST_CR3, n->cr3);
	vmcs_write(GUEST_RIP, n->eip);
	u64 eflags = n->eflags | RFLAGS_FIXED;
	if (t->source == TASK_SWITCH_CALL || t->source == TASK_SWITCH_IDT_GATE)
		eflags |= RFLAGS_NT;
	vmcs_write(GUEST_RFLAGS, eflags);
	const u32 gprs[8] = { n->eax, n->ecx, n->edx, n->ebx, n->esp, n->ebp, n->esi, n->edi };
	for (unsigned i = 0; i < 8; i++)
		guest_reg_write(v, i, gprs[i]);
	t->fault_error = n->ldt & 0xfffc;
	if (!guest_load_segment(v, GUEST_LDTR_SELECTOR, n->ldt))
		return false;
	const struct {
		enum vmcs_field field;
		u16 sel;
	} segs[] = {
		{ GUEST_ES_SELECTOR, n->es }, { GUEST_CS_SELECTOR, n->cs }, { GUEST_SS_SELECTOR, n->ss },
		{ GUEST_DS_SELECTOR, n->ds }, { GUEST_FS_SELECTOR, n->fs }, { GUEST_GS_SELECTOR, n->gs },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(segs); i++) {
		t->fault_error = segs[i].sel & 0xfffc;
		if (!guest_load_segment(v, segs[i].field, segs[i].sel))
			return false;
	}
	vmcs_write(GUEST_CR0, vmcs_read(GUEST_CR0) | CR0_TS);
	vmcs_write(CR0_READ_SHADOW, vmcs_read(CR0_READ_SHADOW) | CR0_TS);
	vmcs_write(GUEST_DR7, vmcs_read(GUEST_DR7) & ~(u64)DR7_LOCAL_ENABLES);
	u32 vectoring = (u32)vmcs_read(IDT_VECTORING_INFORMATION);
	if (t->source == TASK_SWITCH_IDT_GATE && (vectoring & INTR_INFO_DELIVER_ERROR_CODE)) {
		u32 esp = n->esp - 4;
		*(u32 *)guest_linear_to_host(v, vmcs_read(GUEST_SS_BASE) + esp) =
			(u32)vmcs_read(IDT_VECTORING_ERROR_CODE);
		guest_reg_write(v, 4, esp);
	}
	if (t->source == TASK_SWITCH_IDT_GATE)
		lab04(v)->vectored_event_done = true;
	return true;
	/* END 04-8 */
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
