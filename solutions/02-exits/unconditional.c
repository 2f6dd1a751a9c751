/* Lab 02: instructions that always cause VM exits in VMX non-root operation (SDM 26.1.2). */
#include "lab.h"
#include "lab02.h"

/* INVD would throw away cached data the host may own: write it back first (WBINVD). */
static enum exit_verdict handle_invd(struct vcpu *v)
{
	/* BEGIN 02-2 unused: v
	 * SDM 26.1.2: INVD causes a VM exit unconditionally. INVD discards the caches without
	 * writing them back, which would lose the host's data too; a hypervisor performs WBINVD
	 * (write back, then invalidate) in its place.
	 * Do: execute WBINVD, move the guest past its INVD and resume it.
	 * Hint: wbinvd() is in x86.h; vmx_skip_instruction() is yours from lab 01.
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
	 * SDM 26.1.2: XSETBV always exits. Its operands are ECX (which XCR; only XCR0 exists
	 * here) and EDX:EAX (the value). SDM Vol. 1, 13.3: XSETBV raises #GP(0) if ECX is not 0,
	 * if bit 0 (x87) of the value is 0, if the value sets a bit that CPUID.(EAX=0DH,ECX=0)
	 * EDX:EAX does not report, if it sets AVX (bit 2) without SSE (bit 1), or if it sets
	 * some but not all of the AVX-512 bits 7:5 (or sets them without AVX), and at CPL > 0.
	 * Do not count on the processor having checked CPL before the exit (Bochs exits first;
	 * KVM re-checks it too): the guest's CPL is the DPL of its SS (SDM 25.4.1).
	 * Do: apply these checks; on a violation inject #GP(0) and do not move RIP. Otherwise
	 * execute XSETBV in the host (XCR0 is shared: it has no VMCS field), skip, resume.
	 * Hint: XSETBV in the host needs the host's CR4.OSXSAVE set; xsetbv(), cpuid(),
	 * XCR0_* are in x86.h; vmx_inject_exception() is yours (02-1); ar_dpl() (vmx_exit.h)
	 * reads the DPL from the access rights.
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
	 * SDM 26.1.2: INVEPT, INVVPID, VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMREAD, VMRESUME,
	 * VMWRITE, VMXOFF and VMXON always exit in VMX non-root operation (VMCALL too: it is our
	 * hypercall). A hypervisor without nested virtualization answers them with #UD, as a
	 * processor without VMX would.
	 * Do: inject #UD and resume the guest without moving its RIP.
	 */
	vmx_inject_exception(v, VEC_UD, 0);
	return EXIT_RESUME;
	/* END 02-4 */
}

static void lab02_unconditional_setup(struct vcpu *v)
{
	static const unsigned vmx_instructions[] = {
		EXIT_REASON_INVEPT, EXIT_REASON_INVVPID, EXIT_REASON_VMCLEAR, EXIT_REASON_VMLAUNCH,
		EXIT_REASON_VMPTRLD, EXIT_REASON_VMPTRST, EXIT_REASON_VMREAD, EXIT_REASON_VMRESUME,
		EXIT_REASON_VMWRITE, EXIT_REASON_VMXOFF, EXIT_REASON_VMXON,
	};
	(void)v;
	exit_register(EXIT_REASON_INVD, handle_invd);
	exit_register(EXIT_REASON_XSETBV, handle_xsetbv);
	for (size_t i = 0; i < ARRAY_SIZE(vmx_instructions); i++)
		exit_register(vmx_instructions[i], handle_vmx_instruction);
}
LAB_SETUP(02, lab02_unconditional_setup);
