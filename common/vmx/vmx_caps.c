/* Fitting control values to what the CPU allows (SDM Appendix A.3-A.5). */
#include "kernel.h"
#include "vmx.h"
#include "vmx_controls.h"
#include "x86.h"

/* IA32_VMX_TRUE_*_CTLS exist when IA32_VMX_BASIC[55] is 1; they may allow more 0-settings. */
u32 vmx_control_msr(u32 msr)
{
	if (!(rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_TRUE_CONTROLS))
		return msr;
	switch (msr) {
	case MSR_IA32_VMX_PINBASED_CTLS:
		return MSR_IA32_VMX_TRUE_PINBASED_CTLS;
	case MSR_IA32_VMX_PROCBASED_CTLS:
		return MSR_IA32_VMX_TRUE_PROCBASED_CTLS;
	case MSR_IA32_VMX_EXIT_CTLS:
		return MSR_IA32_VMX_TRUE_EXIT_CTLS;
	case MSR_IA32_VMX_ENTRY_CTLS:
		return MSR_IA32_VMX_TRUE_ENTRY_CTLS;
	}
	return msr;
}

bool vmx_controls_allowed(u32 bits, u32 capability_msr)
{
	u32 allowed1 = (u32)(rdmsr(vmx_control_msr(capability_msr)) >> 32);
	return (bits & ~allowed1) == 0;
}

/* Bits 31:0 of the MSR: allowed 0-settings (1 = must be 1). Bits 63:32: allowed 1-settings
 * (0 = must be 0). The result is `wanted` plus every must-be-1 bit. */
u32 vmx_adjust_controls(u32 wanted, u32 capability_msr, const char *what)
{
	u64 cap = rdmsr(vmx_control_msr(capability_msr));
	u32 must_be_1 = (u32)cap, may_be_1 = (u32)(cap >> 32);
	u32 refused = wanted & ~may_be_1;
	if (refused) {
		for (unsigned bit = 0; bit < 32; bit++)
			if (refused & BIT(bit))
				printf("VMX: %s bit %u is not allowed to be 1 by MSR 0x%x\n", what, bit,
				       vmx_control_msr(capability_msr));
		panic("vmx_adjust_controls: this CPU does not support the %s requested", what);
	}
	return wanted | must_be_1;
}
