/*
 * The harness's closing witness. After a check completes, the harness makes a VM entry fail in a
 * way only code in VMX root operation can: a VMLAUNCH whose CR3-target count is too large, with a
 * count derived from the run's nonce. Bochs writes that count into its own log ("VMFAIL: VMCS
 * EXEC CTRL: too may CR3 targets N") as a record of CPU 0, which no output of the image can be, and the grader
 * requires it: a run that printed its facts without reaching the end of the harness lacks it.
 */
#include "check.h"
#include "params.h"
#include "shared.h"
#include "mm.h"
#include "vmx_controls.h"
#include "x86.h"
#include <stddef.h>

_Static_assert(offsetof(struct boot_params, nonce) == PARAMS_NONCE_OFFSET, "shared.h");
_Static_assert(offsetof(struct boot_params, check) == PARAMS_CHECK_OFFSET, "shared.h");
_Static_assert(offsetof(struct boot_params, lab) == PARAMS_LAB_OFFSET, "shared.h");
_Static_assert(offsetof(struct boot_params, flags) == PARAMS_FLAGS_OFFSET, "shared.h");

static enum vmx_status vmlaunch(void)
{
	u8 cf, zf;
	__asm__ volatile("vmlaunch; " VMX_STATUS_ASM : [cf] "=qm"(cf), [zf] "=qm"(zf) : : "cc", "memory");
	return vmx_status_from(cf, zf);
}

/* Enters VMX root operation with the harness's own region unless already there; true if it did. */
static bool witness_vmxon(void *region)
{
	*(u32 *)region = (u32)(rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_REVISION_ID_MASK);
	if (!(read_cr4() & CR4_VMXE)) {
		write_cr0((read_cr0() | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));
		write_cr4((read_cr4() | rdmsr(MSR_IA32_VMX_CR4_FIXED0) | CR4_VMXE) &
			  rdmsr(MSR_IA32_VMX_CR4_FIXED1));
	}
	return vmxon(virt_to_phys(region)) == VMX_SUCCEED;
}

void harness_witness(void)
{
	void *region = page_alloc(), *vmcs = page_alloc();
	u64 previous = ~0UL;
	bool entered = witness_vmxon(region);
	if (!entered)
		vmptrst(&previous);
	*(u32 *)vmcs = *(u32 *)region;
	vmclear(virt_to_phys(vmcs));
	vmptrld(virt_to_phys(vmcs));
	vmwrite(PIN_BASED_VM_EXECUTION_CONTROLS, vmx_adjust_controls(0, MSR_IA32_VMX_PINBASED_CTLS, "pin"));
	vmwrite(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		vmx_adjust_controls(0, MSR_IA32_VMX_PROCBASED_CTLS, "proc"));
	vmwrite(CR3_TARGET_COUNT, WITNESS_BASE + (boot_params.nonce >> WITNESS_SHIFT) % WITNESS_RANGE);
	vmlaunch();
	vmclear(virt_to_phys(vmcs));
	if (previous != ~0UL)
		vmptrld(previous);
	if (entered)
		vmxoff();
}
