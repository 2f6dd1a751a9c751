/* Lab 02: instructions that always cause VM exits in VMX non-root operation (SDM 26.1.2). */
#include "lab.h"
#include "lab02.h"

/* INVD would throw away cached data the host may own: write it back first (WBINVD). */
static enum exit_verdict handle_invd(struct vcpu *v)
{
	/* BEGIN 02-2 unused: v
	 * Achieve: the guest continues after its INVD, and no cached data, the host's included, is
	 * lost because of it.
	 * Vol. 2A, INVD: "Data held in internal caches is not written back to main memory."
	 * Hints: docs/labs/02-exits.md, step 02-2.
	 */
	wbinvd();
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-2 */
}

/* XSETBV: check the new XCR0 as the processor would, then perform it or raise #GP(0). */
static enum exit_verdict handle_xsetbv(struct vcpu *v)
{
	/* BEGIN 02-3 unused: v
	 * Achieve: an XSETBV the processor would accept takes effect in XCR0 (which guest and host
	 * share) and the guest continues after it; an XSETBV the processor would refuse, for its
	 * value or for the guest's privilege level, raises #GP(0) in the guest at the XSETBV
	 * instead.
	 * Vol. 2B, XSETBV: "This instruction must be executed at privilege level 0 or in
	 * real-address mode; otherwise, a general protection exception #GP(0) is generated."
	 * Hints: docs/labs/02-exits.md, step 02-3.
	 */
	u32 xcr = (u32)v->regs.rcx;
	u64 value = (v->regs.rdx << 32) | (u32)v->regs.rax;
	struct cpuid_regs leaf = cpuid(0xd, 0);
	u64 supported = ((u64)leaf.edx << 32) | leaf.eax;
	u64 avx512 = value & XCR0_AVX512;
	unsigned cpl = ar_dpl((u32)vmcs_read(GUEST_SS_ACCESS_RIGHTS));
	bool invalid = cpl != 0 || xcr != 0 || !(value & XCR0_X87) || (value & ~supported) ||
		       ((value & XCR0_AVX) && !(value & XCR0_SSE)) ||
		       (avx512 && (avx512 != XCR0_AVX512 || !(value & XCR0_AVX)));
	if (invalid) {
		vmx_inject_exception(v, VEC_GP, 0);
		return EXIT_RESUME;
	}
	write_cr4(read_cr4() | CR4_OSXSAVE);
	xsetbv(0, value);
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-3 */
}

/* The guest is not allowed to use VMX itself: its VMX instructions raise #UD. */
static enum exit_verdict handle_vmx_instruction(struct vcpu *v)
{
	/* BEGIN 02-4 unused: v
	 * Achieve: for the guest, VMX does not exist: each VMX instruction raises #UD at that
	 * instruction, as on a processor without VMX.
	 * SDM 26.1.2: "This is also true of instructions introduced with VMX, which include:
	 * INVEPT, INVVPID, VMCALL, VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMRESUME, VMXOFF, and
	 * VMXON."
	 * Hints: docs/labs/02-exits.md, step 02-4.
	 */
	vmx_inject_exception(v, VEC_UD, 0);
	return EXIT_RESUME;
	/* END 02-4 */
}

static void lab02_unconditional_setup(struct vcpu *v)
{
	static const unsigned vmx_instructions[] = {
		EXIT_REASON_INVEPT,  EXIT_REASON_INVVPID, EXIT_REASON_VMCLEAR, EXIT_REASON_VMLAUNCH,
		EXIT_REASON_VMPTRLD, EXIT_REASON_VMPTRST, EXIT_REASON_VMREAD,  EXIT_REASON_VMRESUME,
		EXIT_REASON_VMWRITE, EXIT_REASON_VMXOFF,  EXIT_REASON_VMXON,
	};
	(void)v;
	exit_register(EXIT_REASON_INVD, handle_invd);
	exit_register(EXIT_REASON_XSETBV, handle_xsetbv);
	for (size_t i = 0; i < ARRAY_SIZE(vmx_instructions); i++)
		exit_register(vmx_instructions[i], handle_vmx_instruction);
}
LAB_SETUP(02, lab02_unconditional_setup);
