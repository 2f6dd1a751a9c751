/* Lab 01: entering and leaving VMX operation (SDM Vol. 3C, 24.6-24.8, 25.11.5). */
#include "lab.h"
#include "lab01.h"

/* Whether this processor supports VMX. */
bool vmx_supported(void)
{
	/* BEGIN 01-1
	 * Achieve: return whether this processor supports VMX operation, judged by the one CPUID
	 * bit the SDM names and by no other bit.
	 * SDM 24.6: "If CPUID.1:ECX.VMX[bit 5] = 1, then VMX operation is supported."
	 * Hints: docs/labs/01-vmxon.md, step 01-1.
	 */
	return (cpuid(1, 0).ecx & CPUID_1_ECX_VMX) != 0;
	/* END 01-1 */
}

/* Make sure firmware left VMXON allowed, and lock IA32_FEATURE_CONTROL if it did not. */
void vmx_enable_feature_control(void)
{
	/* BEGIN 01-2
	 * Achieve: when this returns, VMXON outside SMX is allowed and IA32_FEATURE_CONTROL is
	 * locked; if firmware locked it with VMXON outside SMX disabled, the hypervisor stops with
	 * a panic that says so. Never write the MSR once it is locked.
	 * SDM 24.7: "If the lock bit is set, WRMSR to this MSR causes a general-protection
	 * exception; the MSR cannot be modified until a power-up reset condition."
	 * Hints: docs/labs/01-vmxon.md, step 01-2.
	 */
	u64 fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	if (!(fc & FEATURE_CONTROL_LOCK)) {
		fc |= FEATURE_CONTROL_VMXON_OUTSIDE_SMX | FEATURE_CONTROL_LOCK;
		wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
	} else if (!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX)) {
		panic("VMX is disabled by firmware: IA32_FEATURE_CONTROL = 0x%lx", fc);
	}
	/* END 01-2 */
}

/* Bring CR0 and CR4 into the state VMX operation requires, and set CR4.VMXE. */
void vmx_set_fixed_bits(void)
{
	/* BEGIN 01-3
	 * Achieve: CR0 and CR4 hold values that VMX operation accepts, with CR4.VMXE set, changing
	 * no bit that the fixed-bit MSRs leave free.
	 * SDM A.7: "If bit X is 1 in IA32_VMX_CR0_FIXED0, then that bit of CR0 is fixed to 1 in VMX
	 * operation. Similarly, if bit X is 0 in IA32_VMX_CR0_FIXED1, then that bit of CR0 is fixed
	 * to 0 in VMX operation." (A.8 says the same of CR4.)
	 * Hints: docs/labs/01-vmxon.md, step 01-3.
	 */
	u64 cr0 = read_cr0(), cr4 = read_cr4();
	cr0 = (cr0 | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	cr4 = (cr4 | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	write_cr0(cr0);
	write_cr4(cr4 | CR4_VMXE);
	/* END 01-3 */
}

/* Allocate the VMXON region and enter VMX root operation. */
void vmx_on(struct vcpu *v)
{
	/* BEGIN 01-4 unused: v
	 * Achieve: the processor is in VMX root operation, with v->vmxon_region as its VMXON
	 * region; if VMXON does not succeed, the failure is reported and the hypervisor stops.
	 * SDM 25.11.5: "Before executing VMXON, software should write the VMCS revision identifier
	 * (see Section 25.2) to the VMXON region."
	 * Hints: docs/labs/01-vmxon.md, step 01-4.
	 */
	v->vmxon_region = page_alloc();
	*(u32 *)v->vmxon_region = (u32)(rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_REVISION_ID_MASK);
	enum vmx_status s = vmxon(virt_to_phys(v->vmxon_region));
	if (s != VMX_SUCCEED) {
		vmx_report_failure("VMXON", s);
		panic("vmx_on: VMXON failed");
	}
	/* END 01-4 */
}

/* Leave VMX operation cleanly. */
void vmx_off(struct vcpu *v)
{
	/* BEGIN 01-12 unused: v
	 * Achieve: the processor is outside VMX operation, the vCPU's VMCS was written back and
	 * left clear, CR4.VMXE is 0 again, and both regions are freed (the pointers set to NULL); a
	 * VMX instruction that does not succeed is reported and stops the hypervisor.
	 * SDM 25.11.1: "software should VMCLEAR that VMCS before executing the VMXOFF instruction
	 * or removing power from the processor"
	 * Hints: docs/labs/01-vmxon.md, step 01-12.
	 */
	enum vmx_status s = vmclear(virt_to_phys(v->vmcs));
	if (s != VMX_SUCCEED) {
		vmx_report_failure("VMCLEAR", s);
		panic("vmx_off: VMCLEAR failed");
	}
	s = vmxoff();
	if (s != VMX_SUCCEED) {
		vmx_report_failure("VMXOFF", s);
		panic("vmx_off: VMXOFF failed");
	}
	write_cr4(read_cr4() & ~CR4_VMXE);
	page_free(v->vmcs);
	page_free(v->vmxon_region);
	v->vmcs = v->vmxon_region = NULL;
	/* END 01-12 */
}
