/* Lab 01: running the guest: VM entries, VM exits, and moving past an emulated instruction. */
#include "lab.h"
#include "lab01.h"

/* Enter the guest and handle its exits until a handler says stop. */
void vcpu_run(struct vcpu *v)
{
	for (;;) {
		/* BEGIN 01-9
		 * SDM 27 and 31.3 (VMLAUNCH/VMRESUME): the first VM entry with a VMCS must be
		 * VMLAUNCH (launch state "clear"), every later one VMRESUME (launch state
		 * "launched"). If the instruction fails, the processor does not enter the guest:
		 * VMfailInvalid or VMfailValid with an error number in the VM-instruction error field.
		 * Do: enter the guest with vmx_enter() (VMRESUME once v->launched is set), report a
		 * failed entry with vmx_entry_failed(), and set v->launched after a successful one.
		 * Hint: vmx_enter() returns after the next VM exit; see its contract in vcpu.h.
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
	 * SDM 28.2.5: for a VM exit caused by an instruction, the VM-exit instruction-length field
	 * holds that instruction's length in bytes; the guest RIP saved on the exit points at the
	 * instruction itself. SDM 25.4.2: blocking by STI and by MOV SS ends once the next
	 * instruction completes, so an emulated instruction ends it too.
	 * Do: advance GUEST_RIP by the exit's instruction length and clear the blocking-by-STI and
	 * blocking-by-MOV-SS bits of the guest interruptibility state.
	 * Hint: exit_dispatch() already read the length into v->exit.instruction_length.
	 */
	vmcs_write(GUEST_RIP, v->exit.guest_rip + v->exit.instruction_length);
	u64 interruptibility = vmcs_read(GUEST_INTERRUPTIBILITY_STATE);
	interruptibility &= ~(INTERRUPTIBILITY_BLOCKING_BY_STI | INTERRUPTIBILITY_BLOCKING_BY_MOV_SS);
	vmcs_write(GUEST_INTERRUPTIBILITY_STATE, interruptibility);
	/* END 01-11 */
}
