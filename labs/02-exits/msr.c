/* Lab 02: RDMSR and WRMSR: the MSR bitmaps and an MSR policy (SDM 25.6.9, 26.1.3). */
#include "lab.h"
#include "lab02.h"

#define HV_MSR_SCRATCH 0x40000100U /* a virtual MSR; outside both bitmap ranges */

static void lab02_msr_setup(struct vcpu *v)
{
	lab02(v)->msr_bitmap = page_alloc();
	vmcs_write(MSR_BITMAP, virt_to_phys(lab02(v)->msr_bitmap));
	/* The policy: IA32_SYSENTER_ESP is read-only for the guest; IA32_TSC_AUX belongs to the
	 * hypervisor (kept in lab02(v)->msr_tsc_aux); every other MSR in the bitmap ranges is the
	 * guest's own. MSRs outside those ranges always exit. */
	msr_intercept(v, MSR_IA32_SYSENTER_ESP, false, true);
	msr_intercept(v, MSR_IA32_TSC_AUX, true, true);
}
LAB_SETUP(02, lab02_msr_setup);

/* Makes RDMSR (read) and/or WRMSR (write) of `msr` exit. */
void msr_intercept(struct vcpu *v, u32 msr, bool read, bool write)
{
	/* TODO 02-13
	 * SDM 25.6.9: the MSR-bitmap page has four 1-KByte parts: read bitmap for low MSRs
	 * (00000000H-00001FFFH) at offset 0, read bitmap for high MSRs (C0000000H-C0001FFFH) at
	 * 1024, write bitmap for low MSRs at 2048, write bitmap for high MSRs at 3072. Bit n
	 * stands for MSR (range base + n). SDM 26.1.3: an MSR outside both ranges always exits.
	 * Do: set the read and/or write bit of msr; panic() for an MSR outside both ranges (no
	 * bit to set).
	 * Hint: bit n is bit n%8 of byte n/8 of its part.
	 */
	(void)v;
	(void)msr;
	(void)read;
	(void)write;
	TODO("02-13");
}

/* RDMSR and WRMSR exits under the policy of lab02_msr_setup(). */
static enum exit_verdict handle_msr(struct vcpu *v)
{
	/* TODO 02-14
	 * SDM 26.1.3 and the RDMSR/WRMSR pages (Vol. 2): ECX selects the MSR; RDMSR returns it in
	 * EDX:EAX (upper halves of RAX and RDX cleared), WRMSR writes EDX:EAX. An MSR that does
	 * not exist, or a write the policy forbids, raises #GP(0). IA32_TSC_AUX has 32 bits:
	 * writing a value with bits 63:32 set raises #GP(0).
	 * Do: RDMSR: IA32_TSC_AUX -> lab02(v)->msr_tsc_aux, HV_MSR_SCRATCH -> lab02(v)->msr_scratch, any other
	 * -> #GP(0). WRMSR: IA32_TSC_AUX and HV_MSR_SCRATCH store the value; IA32_SYSENTER_ESP and
	 * any other -> #GP(0). Skip and resume after an emulated access; inject without skipping.
	 * Hint: the exit reason (EXIT_REASON_RDMSR or _WRMSR) is EXIT_REASON_BASIC(v->exit.reason).
	 */
	(void)v;
	TODO("02-14");
}

static void lab02_msr_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_RDMSR, handle_msr);
	exit_register(EXIT_REASON_WRMSR, handle_msr);
}
LAB_SETUP(02, lab02_msr_handlers);
