/* Lab 03: which control-register bits the hypervisor owns, and which CR accesses exit
 * (SDM Vol. 3C, 25.6.6, 25.6.7 and 26.3). */
#include "lab.h"
#include "lab03.h"

/* The bits of CR0 and CR4 this hypervisor owns: the guest sees its read shadow there. */
#define CR0_OWNED (CR0_PE | CR0_NE | CR0_TS | CR0_PG)
#define CR4_OWNED (CR4_PAE | CR4_VMXE)

static void lab03_setup(struct vcpu *v)
{
	/* BEGIN 03-1 unused: v
	 * Achieve: before the first entry, the hypervisor owns exactly the CR0_OWNED and CR4_OWNED
	 * bits, and the guest reads in them its current CR0, and its current CR4 with VMXE clear
	 * (no VMX for the guest); every MOV from CR3, every MOV to CR3 except a load of the
	 * guest's current CR3, and every MOV to or from CR8 exits. The controls earlier labs set
	 * stay set.
	 * SDM 25.6.6: "In general, bits set to 1 in a guest/host mask correspond to bits "owned"
	 * by the host: Guest attempts to set them (using CLTS, LMSW, or MOV to CR) to values
	 * differing from the corresponding bits in the corresponding read shadow cause VM exits.
	 * Guest reads (using MOV from CR or SMSW) return values for these bits from the
	 * corresponding read shadow."
	 * Hints: docs/labs/03-cr-shadows.md, step 03-1.
	 */
	vmcs_write(CR0_GUEST_HOST_MASK, CR0_OWNED);
	vmcs_write(CR0_READ_SHADOW, vmcs_read(GUEST_CR0));
	vmcs_write(CR4_GUEST_HOST_MASK, CR4_OWNED);
	vmcs_write(CR4_READ_SHADOW, vmcs_read(GUEST_CR4) & ~CR4_VMXE);
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU_CR3_LOAD_EXITING |
		      CPU_CR3_STORE_EXITING | CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING;
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)primary, MSR_IA32_VMX_PROCBASED_CTLS,
				       "primary processor-based controls"));
	vmcs_write(CR3_TARGET_COUNT, 0);
	cr3_target_add(v, vmcs_read(GUEST_CR3));
	/* END 03-1 */
}
LAB_SETUP(03, lab03_setup);

/* Lets the guest load `cr3` without a VM exit. */
void cr3_target_add(struct vcpu *v, u64 cr3)
{
	/* BEGIN 03-2 unused: v, cr3
	 * Achieve: cr3 becomes one more CR3-target value in use, after those already in use (this
	 * is not the only caller); when the processor has no unused one left, panic() before
	 * writing any VMCS field.
	 * SDM 25.6.7: "Future processors may support a different number of CR3-target values.
	 * Software should read the VMX capability MSR IA32_VMX_MISC (see Appendix A.6) to
	 * determine the number of values supported."
	 * Hints: docs/labs/03-cr-shadows.md, step 03-2.
	 */
	(void)v;
	u64 used = vmcs_read(CR3_TARGET_COUNT);
	if (used >= VMX_MISC_CR3_TARGET_COUNT(rdmsr(MSR_IA32_VMX_MISC)))
		panic("cr3_target_add: all %lu CR3-target values are in use", used);
	vmcs_write(CR3_TARGET_VALUE0 + 2 * used, cr3);
	vmcs_write(CR3_TARGET_COUNT, used + 1);
	/* END 03-2 */
}
