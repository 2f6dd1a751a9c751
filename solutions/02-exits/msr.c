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
	/* BEGIN 02-13 unused: v, msr, read, write
	 * Achieve: after this call, RDMSR of `msr` exits if `read` is set and WRMSR of it exits if
	 * `write` is set; an MSR the bitmap has no bit for is refused with a panic, since it always
	 * exits anyway. Reach the bitmap through lab02(v)->msr_bitmap (the check calls this
	 * function inside the guest, where VMREAD would exit).
	 * SDM 25.6.9: "Read bitmap for low MSRs (located at the MSR-bitmap address). This contains
	 * one bit for each MSR address in the range 00000000H to 00001FFFH."
	 * Hints: docs/labs/02-exits.md, step 02-13.
	 */
	unsigned part;
	if (msr <= 0x1fff)
		part = 0;
	else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
		part = 1024;
	else
		panic("msr_intercept: MSR 0x%x is outside the bitmap ranges (it always exits)", msr);
	u32 n = msr & 0x1fff;
	if (read)
		lab02(v)->msr_bitmap[part + n / 8] |= (u8)BIT(n % 8);
	if (write)
		lab02(v)->msr_bitmap[part + 2048 + n / 8] |= (u8)BIT(n % 8);
	/* END 02-13 */
}

/* RDMSR and WRMSR exits under the policy of lab02_msr_setup(). */
static enum exit_verdict handle_msr(struct vcpu *v)
{
	/* BEGIN 02-14 unused: v
	 * Achieve: RDMSR and WRMSR that exit follow this lab's policy: IA32_TSC_AUX (32 bits) and
	 * HV_MSR_SCRATCH (64 bits) are virtual, kept in lab02(v)->msr_tsc_aux and ->msr_scratch;
	 * IA32_SYSENTER_ESP is read-only; any other MSR that exits does not exist. Each access
	 * behaves as the instruction would on such a processor, faults included.
	 * Vol. 2B, RDMSR: "Specifying a reserved or unimplemented MSR address in ECX will also
	 * cause a general protection exception."
	 * Hints: docs/labs/02-exits.md, step 02-14.
	 */
	u32 msr = (u32)v->regs.rcx;
	bool write = EXIT_REASON_BASIC(v->exit.reason) == EXIT_REASON_WRMSR;
	u64 value = (v->regs.rdx << 32) | (u32)v->regs.rax;
	u64 *slot = msr == MSR_IA32_TSC_AUX ? &lab02(v)->msr_tsc_aux
		    : msr == HV_MSR_SCRATCH ? &lab02(v)->msr_scratch
					    : NULL;
	if (!slot || (write && msr == MSR_IA32_TSC_AUX && (value >> 32))) {
		vmx_inject_exception(v, VEC_GP, 0);
		return EXIT_RESUME;
	}
	if (write) {
		*slot = value;
	} else {
		v->regs.rax = (u32)*slot;
		v->regs.rdx = *slot >> 32;
	}
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-14 */
}

static void lab02_msr_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_RDMSR, handle_msr);
	exit_register(EXIT_REASON_WRMSR, handle_msr);
}
LAB_SETUP(02, lab02_msr_handlers);
