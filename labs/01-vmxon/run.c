/* Lab 01: running the guest: VM entries, VM exits, and moving past an emulated instruction. */
#include "lab.h"
#include "lab01.h"

/* Enter the guest and handle its exits until a handler says stop. */
void vcpu_run(struct vcpu *v)
{
	for (;;) {
		/* TODO 01-9
		 * Achieve: enter the guest over and over, each time with the entry instruction the
		 * launch state of the VMCS requires, and record the launch state only once an entry
		 * has worked; a failed entry ran no guest, so it is reported and stops the
		 * hypervisor.
		 * SDM 31.3: "VMLAUNCH fails if the launch state of current VMCS is not 'clear'.
		 * [...] VMRESUME fails if the launch state of the current VMCS is not 'launched.'"
		 * Hints: docs/labs/01-vmxon.md, step 01-9.
		 */
		TODO("01-9");
		if (exit_dispatch(v) == EXIT_STOP)
			return;
	}
}

/* Continue the guest after the instruction that caused this exit, as if it had executed. */
void vmx_skip_instruction(struct vcpu *v)
{
	/* TODO 01-11
	 * Achieve: the guest resumes right after the instruction that caused this exit, as if that
	 * instruction had executed, which also ends any blocking by STI or by MOV SS it was under
	 * (and nothing else).
	 * SDM 28.2.5: the VM-exit instruction length "receives the length in bytes (1-15) of the
	 * instruction (including any instruction prefixes) whose execution led to the VM exit".
	 * Hints: docs/labs/01-vmxon.md, step 01-11.
	 */
	(void)v;
	TODO("01-11");
}
