/* Lab 01: running the guest: VM entries, VM exits, and moving past an emulated instruction. */
#include "lab.h"
#include "lab01.h"

/* Enter the guest and handle its exits until a handler says stop. */
void vcpu_run(struct vcpu *v)
{
	for (;;) {
		/* BEGIN 01-9
		 * Achieve: enter the guest over and over, each time with the entry instruction the
		 * launch state of the VMCS requires, and record the launch state only once an entry
		 * has worked; a failed entry ran no guest, so it is reported and stops the
		 * hypervisor.
		 * SDM 31.3: "VMLAUNCH fails if the launch state of current VMCS is not 'clear'.
		 * [...] VMRESUME fails if the launch state of the current VMCS is not 'launched.'"
		 * Hints: docs/labs/01-vmxon.md, step 01-9.
		 */
		enum vmx_status s = vmx_enter(&v->regs, v->launched);
		if (s != VMX_SUCCEED)
			vmx_entry_failed(v, s);
		v->launched = true;
		/* END 01-9 */
		if (exit_dispatch(v) == EXIT_STOP)
			return;
	}
}

/* Continue the guest after the instruction that caused this exit, as if it had executed. */
void vmx_skip_instruction(struct vcpu *v)
{
	/* BEGIN 01-11 unused: v
	 * Achieve: the guest resumes right after the instruction that caused this exit, as if that
	 * instruction had executed, which also ends any blocking by STI or by MOV SS it was under
	 * (and nothing else).
	 * SDM 28.2.5: the VM-exit instruction length "receives the length in bytes (1-15) of the
	 * instruction (including any instruction prefixes) whose execution led to the VM exit".
	 * Hints: docs/labs/01-vmxon.md, step 01-11.
	 */
	vmcs_write(GUEST_RIP, v->exit.guest_rip + v->exit.instruction_length);
	u64 interruptibility = vmcs_read(GUEST_INTERRUPTIBILITY_STATE);
	interruptibility &= ~(INTERRUPTIBILITY_BLOCKING_BY_STI | INTERRUPTIBILITY_BLOCKING_BY_MOV_SS);
	vmcs_write(GUEST_INTERRUPTIBILITY_STATE, interruptibility);
	/* END 01-11 */
}
