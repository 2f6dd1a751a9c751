/* Lab 01: the CPUID exit, unconditional in VMX non-root operation (SDM 26.1.2). */
#include "lab.h"
#include "lab01.h"

/* Emulate CPUID: the real answer, plus our hypervisor leaf and the hypervisor-present bit. */
static enum exit_verdict handle_cpuid(struct vcpu *v)
{
	/* TODO 01-10
	 * Achieve: the guest's CPUID returns what the processor returns for the same leaf and
	 * subleaf, except that leaf 1 also reports "hypervisor present" (ECX bit 31) and leaf
	 * HV_CPUID_LEAF answers HV_CPUID_MAX_LEAF and the signature HV_SIGNATURE (lab.h); then the
	 * guest goes on after its CPUID.
	 * SDM 26.1.2: "The following instructions cause VM exits when they are executed in VMX
	 * non-root operation: CPUID, GETSEC, INVD, and XSETBV."
	 * Hints: docs/labs/01-vmxon.md, step 01-10.
	 */
	(void)v;
	TODO("01-10");
}

static void lab01_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_CPUID, handle_cpuid);
}
LAB_SETUP(01, lab01_setup);
