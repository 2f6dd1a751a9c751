/* Lab 01: entering and leaving VMX operation (SDM Vol. 3C, 24.6-24.8, 25.11.5). */
#include "lab.h"
#include "lab01.h"

/* Whether this processor supports VMX. */
bool vmx_supported(void)
{
	/* TODO 01-1
	 * Achieve: return whether this processor supports VMX operation, judged by the one CPUID
	 * bit the SDM names and by no other bit.
	 * SDM 24.6: "If CPUID.1:ECX.VMX[bit 5] = 1, then VMX operation is supported."
	 * Hints: docs/labs/01-vmxon.md, step 01-1.
	 */
	TODO("01-1");
}

/* Make sure firmware left VMXON allowed, and lock IA32_FEATURE_CONTROL if it did not. */
void vmx_enable_feature_control(void)
{
	/* TODO 01-2
	 * Achieve: when this returns, VMXON outside SMX is allowed and IA32_FEATURE_CONTROL is
	 * locked; if firmware locked it with VMXON outside SMX disabled, the hypervisor stops with
	 * a panic that says so. Never write the MSR once it is locked.
	 * SDM 24.7: "If the lock bit is set, WRMSR to this MSR causes a general-protection
	 * exception; the MSR cannot be modified until a power-up reset condition."
	 * Hints: docs/labs/01-vmxon.md, step 01-2.
	 */
	TODO("01-2");
}

/* Bring CR0 and CR4 into the state VMX operation requires, and set CR4.VMXE. */
void vmx_set_fixed_bits(void)
{
	/* TODO 01-3
	 * Achieve: CR0 and CR4 hold values that VMX operation accepts, with CR4.VMXE set, changing
	 * no bit that the fixed-bit MSRs leave free.
	 * SDM A.7: "If bit X is 1 in IA32_VMX_CR0_FIXED0, then that bit of CR0 is fixed to 1 in VMX
	 * operation. Similarly, if bit X is 0 in IA32_VMX_CR0_FIXED1, then that bit of CR0 is fixed
	 * to 0 in VMX operation." (A.8 says the same of CR4.)
	 * Hints: docs/labs/01-vmxon.md, step 01-3.
	 */
	TODO("01-3");
}

/* Allocate the VMXON region and enter VMX root operation. */
void vmx_on(struct vcpu *v)
{
	/* TODO 01-4
	 * Achieve: the processor is in VMX root operation, with v->vmxon_region as its VMXON
	 * region; if VMXON does not succeed, the failure is reported and the hypervisor stops.
	 * SDM 25.11.5: "Before executing VMXON, software should write the VMCS revision identifier
	 * (see Section 25.2) to the VMXON region."
	 * Hints: docs/labs/01-vmxon.md, step 01-4.
	 */
	(void)v;
	TODO("01-4");
}

/* Leave VMX operation cleanly. */
void vmx_off(struct vcpu *v)
{
	/* TODO 01-12
	 * Achieve: the processor is outside VMX operation, the vCPU's VMCS was written back and
	 * left clear, CR4.VMXE is 0 again, and both regions are freed (the pointers set to NULL); a
	 * VMX instruction that does not succeed is reported and stops the hypervisor.
	 * SDM 25.11.1: "software should VMCLEAR that VMCS before executing the VMXOFF instruction
	 * or removing power from the processor"
	 * Hints: docs/labs/01-vmxon.md, step 01-12.
	 */
	(void)v;
	TODO("01-12");
}
