/* Lab 01: the CPUID exit, unconditional in VMX non-root operation (SDM 26.1.2). */
#include "lab.h"
#include "lab01.h"

/* Emulate CPUID: the real answer, plus our hypervisor leaf and the hypervisor-present bit. */
static enum exit_verdict handle_cpuid(struct vcpu *v)
{
	/* BEGIN 01-10 unused: v
	 * SDM 26.1.2: CPUID always causes a VM exit in VMX non-root operation; the hypervisor
	 * decides what the guest sees in EAX, EBX, ECX and EDX (leaf in EAX, subleaf in ECX).
	 * By convention, CPUID.1:ECX[bit 31] tells software it runs under a hypervisor, and
	 * leaf 0x40000000 returns the highest hypervisor leaf in EAX and a 12-byte signature in
	 * EBX, ECX, EDX.
	 * Do: for leaf HV_CPUID_LEAF return HV_CPUID_MAX_LEAF and HV_SIGNATURE (lab.h); for other
	 * leaves return what the real CPUID returns, with bit 31 of ECX set for leaf 1. Write the
	 * results into the guest's registers, skip the instruction and resume the guest.
	 * Hint: the guest's registers are v->regs; memcpy() the signature; CPUID zero-extends
	 * its 32-bit results into the 64-bit registers.
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
