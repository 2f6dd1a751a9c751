/* Lab 01: the CPUID exit, unconditional in VMX non-root operation (SDM 26.1.2). */
#include "lab.h"
#include "lab01.h"

/* Emulate CPUID: the real answer, plus our hypervisor leaf and the hypervisor-present bit. */
static enum exit_verdict handle_cpuid(struct vcpu *v)
{
	/* BEGIN 01-10 unused: v
	 * Achieve: the guest's CPUID returns what the processor returns for the same leaf and
	 * subleaf, except that leaf 1 also reports "hypervisor present" (ECX bit 31) and leaf
	 * HV_CPUID_LEAF answers HV_CPUID_MAX_LEAF and the signature HV_SIGNATURE (lab.h); then the
	 * guest goes on after its CPUID.
	 * SDM 26.1.2: "The following instructions cause VM exits when they are executed in VMX
	 * non-root operation: CPUID, GETSEC, INVD, and XSETBV."
	 * Hints: docs/labs/01-vmxon.md, step 01-10.
	 */
	u32 leaf = (u32)v->regs.rax, subleaf = (u32)v->regs.rcx;
	struct cpuid_regs r;
	if (leaf == HV_CPUID_LEAF) {
		r.eax = HV_CPUID_MAX_LEAF;
		memcpy(&r.ebx, HV_SIGNATURE, 4);
		memcpy(&r.ecx, HV_SIGNATURE + 4, 4);
		memcpy(&r.edx, HV_SIGNATURE + 8, 4);
	} else {
		r = cpuid(leaf, subleaf);
		if (leaf == 1)
			r.ecx |= CPUID_1_ECX_HYPERVISOR;
	}
	v->regs.rax = r.eax;
	v->regs.rbx = r.ebx;
	v->regs.rcx = r.ecx;
	v->regs.rdx = r.edx;
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 01-10 */
}

static void lab01_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_CPUID, handle_cpuid);
}
LAB_SETUP(01, lab01_setup);
