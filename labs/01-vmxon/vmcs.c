/* Lab 01: the VMCS: make one current, then fill its controls, host state and guest state
 * (SDM Vol. 3C, chapter 25). */
#include "lab.h"
#include "lab01.h"

/* Allocate a VMCS, initialize it and make it the current VMCS. */
void vmcs_load(struct vcpu *v)
{
	/* TODO 01-5
	 * Achieve: v->vmcs is a new VMCS whose launch state is clear and which is the current VMCS;
	 * any VMX instruction that does not succeed is reported and stops the hypervisor.
	 * SDM 25.11.3: "VMCLEAR should be executed for a VMCS before it is used for VM entry for
	 * the first time."
	 * Hints: docs/labs/01-vmxon.md, step 01-5.
	 */
	(void)v;
	TODO("01-5");
}

/* The VM-execution, VM-exit and VM-entry controls for a 64-bit guest. */
void vmcs_setup_controls(struct vcpu *v)
{
	(void)v;
	/* TODO 01-6
	 * Achieve: the four control fields describe a 64-bit host and a 64-bit guest, request no
	 * optional VM exit, and hold only settings this processor allows; no guest exception causes
	 * a VM exit, and no CR3-target value is in use.
	 * SDM A.3.1: "VM entry allows control X to be 0 if bit X in the MSR is cleared to 0; if bit
	 * X in the MSR is set to 1, VM entry fails if control X is 0."
	 * Hints: docs/labs/01-vmxon.md, step 01-6.
	 */
	TODO("01-6");
}

/* The state the processor loads on every VM exit: this hypervisor, as it runs now. */
void vmcs_setup_host(struct vcpu *v)
{
	(void)v;
	/* TODO 01-7
	 * Achieve: every VM exit puts the hypervisor back into exactly the state it runs in now:
	 * control registers, segment selectors, the bases of FS, GS, TR, GDTR and IDTR, and the
	 * SYSENTER MSRs. (HOST_RSP and HOST_RIP belong to the world switch, vmx_switch.S.)
	 * SDM 25.5: "processor state is loaded from these fields on every VM exit"
	 * Hints: docs/labs/01-vmxon.md, step 01-7.
	 */
	TODO("01-7");
}

/* The state VM entry loads: a 64-bit guest at v->guest_entry sharing the host's page tables. */
void vmcs_setup_guest(struct vcpu *v)
{
	/* TODO 01-8
	 * Achieve: VM entry loads a 64-bit guest at CPL 0 that starts at v->guest_entry on the
	 * stack v->guest_stack, shares the host's control registers, GDT segments, TSS and IDT, has
	 * interrupts disabled, and finds no field in a state the entry checks reject.
	 * SDM 25.4: "VM entries load processor state from these fields and VM exits store processor
	 * state into these fields."
	 * Hints: docs/labs/01-vmxon.md, step 01-8.
	 */
	(void)v;
	TODO("01-8");
}
