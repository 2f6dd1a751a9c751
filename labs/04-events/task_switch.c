/* Lab 04: task switches always exit in VMX non-root operation (SDM Vol. 3C, 26.4.2); the
 * hypervisor performs them as the processor would (SDM Vol. 3A, 8.3). Only 32-bit TSSes in
 * the GDT, for a 32-bit protected-mode guest. */
#include "lab.h"
#include "lab04.h"
#include "tss32.h"

struct task_switch {
	u16 selector;			/* the new task's TSS selector */
	enum task_switch_source source;
	u64 *new_desc, *old_desc;	/* their GDT entries */
	struct tss32 *new_tss, *old_tss;
	u32 fault_vector, fault_error;	/* an exception the checks raise instead (0: none) */
};

#define GUEST_TR_BUSY_32 (AR_TYPE(SYS_TYPE_TSS32_BUSY) | AR_P)

/* Finds the new TSS and checks it as SDM 8.3 steps 2-5 describe. */
bool task_switch_check(struct vcpu *v, struct task_switch *t)
{
	/* TODO 04-6
	 * SDM 28.2.1 (Table 28-2): for a task switch the exit qualification holds the new TSS
	 * selector (bits 15:0) and the source (bits 31:30: 0 CALL, 1 IRET, 2 JMP, 3 task gate in
	 * the IDT). SDM 8.3: the new TSS descriptor must be a TSS (else #GP(selector)), present
	 * (else #NP(selector)) and have a limit of at least 67H (else #TS(selector)); for CALL, JMP
	 * and a task gate it must not be busy (else #GP(selector)); for IRET it must be busy (else
	 * #TS(selector)). Error codes carry the selector with bits 1:0 cleared. The processor
	 * makes these checks itself before the exit (Bochs does; SDM 26.4.2), but the GDT is
	 * guest memory the hypervisor reads again, so it checks once more, as KVM does.
	 * Do: fill t (selector, source, both descriptors and both TSSes; the old task is GUEST_TR)
	 * and apply these checks; on a violation set t->fault_vector and t->fault_error and
	 * return false.
	 * Hint: guest_gdt_entry() and guest_linear_to_host() (vcpu.h); DESC_* in tss32.h.
	 */
	(void)v;
	(void)t;
	TODO("04-6");
}

/* Saves the current task into its TSS and updates busy bits, back link and NT. */
void task_switch_save(struct vcpu *v, struct task_switch *t)
{
	/* TODO 04-7
	 * SDM 8.3 steps 7-9: the old task's state goes into its TSS: EIP (for CALL, JMP and
	 * IRET, and for a software interrupt through a task gate, the instruction after the
	 * one that switched; for an exception, the faulting instruction), EFLAGS, the general
	 * registers and ES, CS, SS, DS, FS, GS. For JMP and IRET the old task's busy bit is
	 * cleared; for CALL and a task gate it stays set. For IRET, NT is cleared in the saved
	 * EFLAGS. For CALL and a task gate, the new TSS's previous-task link gets the old TSS
	 * selector (and the new task will run with NT = 1). The new task's busy bit is set.
	 * Do: all of that. For a task gate, the IDT-vectoring information type tells what was
	 * being delivered: only a software interrupt or exception (INT n, INT3, INTO: types 4-6)
	 * resumes after its instruction; for an external interrupt, an NMI or a hardware
	 * exception (types 0, 2, 3) the saved EIP is the guest RIP itself (SDM 28.2.5 defines
	 * the instruction length only for switches caused by instructions).
	 * Hint: the VM-exit instruction length is v->exit.instruction_length; guest_reg_read()
	 * reads registers by SDM index (0 EAX ... 7 EDI); DESC_BUSY_BIT.
	 */
	(void)v;
	(void)t;
	TODO("04-7");
}

/* Loads the new task from its TSS, as SDM 8.3 steps 10-12 describe. */
bool task_switch_load(struct vcpu *v, struct task_switch *t)
{
	/* TODO 04-8
	 * SDM 8.3 steps 10-12: TR gets the new selector (with the descriptor's base and limit,
	 * type busy); the processor loads CR3 (paging is on), EIP, EFLAGS (NT = 1 for CALL and a
	 * task gate), the general registers, LDTR and ES, CS, SS, DS, FS, GS from the new TSS,
	 * each segment from its descriptor; CR0.TS is set. SDM 6.12.2: an exception with an error
	 * code that reaches a task through a task gate pushes the error code on the new task's
	 * stack. The debug register DR7 local enables (L0-L3, bits 0, 2, 4, 6) are cleared.
	 * Do: load all of this into the VMCS and v->regs; keep the read shadow's TS in step (TS
	 * is a bit lab 03 owns); push the error code from the IDT-vectoring error code when the
	 * event had one; set lab04(v)->vectored_event_done for a task gate (the event is delivered).
	 * If a segment cannot be loaded, set t->fault_error to its selector (SDM Table 8-2: the
	 * error code of that #TS is the selector, bits 1:0 cleared) and return false; the caller
	 * raises #TS.
	 * Hint: guest_load_segment() (vcpu.h), guest_reg_write(), GUEST_TR_BUSY_32 above,
	 * DR7_LOCAL_ENABLES (vmx_exit.h).
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
