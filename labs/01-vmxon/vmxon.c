/* Lab 01: entering and leaving VMX operation (SDM Vol. 3C, 24.6-24.8, 25.11.5). */
#include "lab.h"
#include "lab01.h"

/* Whether this processor supports VMX. */
bool vmx_supported(void)
{
	/* TODO 01-1
	 * SDM 24.6: software finds out whether the processor supports VMX operation with CPUID:
	 * when CPUID.1:ECX.VMX[bit 5] is 1, VMX operation is supported.
	 * Do: return true exactly when that bit is set.
	 * Hint: cpuid() and CPUID_1_ECX_VMX are in x86.h.
	 */
	TODO("01-1");
}

/* Make sure firmware left VMXON allowed, and lock IA32_FEATURE_CONTROL if it did not. */
void vmx_enable_feature_control(void)
{
	/* TODO 01-2
	 * SDM 24.7: VMXON is controlled by IA32_FEATURE_CONTROL (MSR 0x3A). Bit 0 is the lock
	 * bit: while it is 0, WRMSR may change the MSR and VMXON faults; once it is 1, WRMSR to
	 * the MSR faults until reset. Bit 2 enables VMXON outside SMX operation.
	 * Do: if the MSR is not locked, set bit 2 and the lock bit. If it is locked with bit 2
	 * clear, VMX is disabled by firmware: panic() saying so.
	 * Hint: rdmsr(), wrmsr(), MSR_IA32_FEATURE_CONTROL and FEATURE_CONTROL_* are in x86.h.
	 */
	TODO("01-2");
}

/* Bring CR0 and CR4 into the state VMX operation requires, and set CR4.VMXE. */
void vmx_set_fixed_bits(void)
{
	/* TODO 01-3
	 * SDM 24.8 and A.7-A.8: in VMX operation, a bit that is 1 in IA32_VMX_CR0_FIXED0 (0x486)
	 * must be 1 in CR0, and a bit that is 0 in IA32_VMX_CR0_FIXED1 (0x487) must be 0; the same
	 * holds for CR4 with MSRs 0x488 and 0x489. VMXON also needs CR4.VMXE[bit 13] = 1.
	 * Do: apply both rules to CR0 and to CR4, set CR4.VMXE, and write the registers back.
	 * Hint: value = (value | fixed0) & fixed1. read_cr0()/write_cr0() are in x86.h.
	 */
	TODO("01-3");
}

/* Allocate the VMXON region and enter VMX root operation. */
void vmx_on(struct vcpu *v)
{
	/* TODO 01-4
	 * SDM 25.11.5: before VMXON, software allocates a 4-KByte aligned VMXON region and
	 * writes the VMCS revision identifier (IA32_VMX_BASIC bits 30:0) into its first 32 bits.
	 * VMXON takes the region's physical address.
	 * Do: allocate the region into v->vmxon_region, write the revision identifier, execute
	 * VMXON and panic with a report if it does not succeed.
	 * Hint: page_alloc() returns a zeroed page; virt_to_phys(); vmxon() returns a status;
	 * vmx_report_failure() prints it in words.
	 */
	(void)v;
	TODO("01-4");
}

/* Leave VMX operation cleanly. */
void vmx_off(struct vcpu *v)
{
	/* TODO 01-12
	 * SDM 25.11.3 and 31.3 (VMXOFF): VMCLEAR writes a VMCS's data back to its region and makes
	 * it clear and not current; software should do it before leaving VMX operation. VMXOFF
	 * leaves VMX operation; CR4.VMXE can be cleared only outside it.
	 * Do: VMCLEAR the vCPU's VMCS, execute VMXOFF, clear CR4.VMXE, and free both regions.
	 * Panic with a report if an instruction fails.
	 * Hint: vmclear(), vmxoff(), page_free().
	 */
	(void)v;
	TODO("01-12");
}
