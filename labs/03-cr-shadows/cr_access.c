/* Lab 03: emulating the control-register accesses that exit (SDM Vol. 3C, 26.1.3, 26.3, 28.2.1). */
#include "lab.h"
#include "lab03.h"

/* The emulation steps below are not static so that each one can be left undone on its own. */

/* The CR0 bits LMSW loads (bits 3:0: PE, MP, EM, TS; SDM Vol. 2, LMSW). */
#define LMSW_BITS (CR0_PE | CR0_MP | CR0_EM | CR0_TS)

/* What the guest sees in CR0 or CR4: its own bits where it owns them, the shadow elsewhere. */
u64 guest_visible(enum vmcs_field real, enum vmcs_field mask, enum vmcs_field shadow)
{
	u64 m = vmcs_read(mask);
	return (vmcs_read(real) & ~m) | (vmcs_read(shadow) & m);
}

u64 maxphyaddr_mask(void)
{
	unsigned bits = cpuid(0x80000008, 0).eax & 0xff;
	return BIT(bits) - 1;
}

/* A guest write of `value` to CR0: fault like the processor, or update shadow and real CR0. */
bool emulate_cr0_write(struct vcpu *v, u64 value)
{
	(void)v;
	/* TODO 03-3
	 * Achieve: a guest MOV to CR0 of `value` that exited ends as it would on the processor. If
	 * it breaks a #GP rule of MOV to CR0 for this 64-bit guest, nothing changes and you return
	 * false (the caller injects #GP(0)). Otherwise the guest from now on reads `value`, the
	 * real CR0 holds `value` made legal for VMX operation, and you return true.
	 * SDM Vol. 2, MOV (control registers), 64-bit mode exceptions: "#GP(0) ... If an attempt
	 * is made to write invalid bit combinations in CR0 (such as setting the PG flag to 1 when
	 * the PE flag is set to 0, or setting the CD flag to 0 when the NW flag is set to 1)."
	 * Hints: docs/labs/03-cr-shadows.md, step 03-3.
	 */
	(void)value;
	TODO("03-3");
}

/* A guest write of `value` to CR4: VMX stays hidden (setting VMXE faults). */
bool emulate_cr4_write(struct vcpu *v, u64 value)
{
	(void)v;
	/* TODO 03-4
	 * Achieve: the same for a guest MOV to CR4 of `value`, where the guest may never set VMXE
	 * (no VMX is offered to it, as on a processor without VMX) while the real CR4 keeps what
	 * VMX operation requires.
	 * SDM Vol. 2, MOV (control registers): "An attempt to change CR4's reserved bits will
	 * cause a general protection fault." Its 64-bit mode exceptions: "If an attempt is made to
	 * leave IA-32e mode by clearing CR4.PAE[bit 5]."
	 * Hints: docs/labs/03-cr-shadows.md, step 03-4.
	 */
	(void)value;
	TODO("03-4");
}

/* CLTS and LMSW: both change the low bits of CR0 and go through emulate_cr0_write(). */
bool clts_or_lmsw(struct vcpu *v, enum cr_access_type type, u16 lmsw_source)
{
	/* TODO 03-5
	 * Achieve: an exiting CLTS, or LMSW with source `lmsw_source`, changes the CR0 the guest
	 * believes in exactly as the instruction would, and goes through emulate_cr0_write() (its
	 * verdict is yours).
	 * SDM Vol. 2, LMSW: "Only the low-order 4 bits of the source operand (which contains the
	 * PE, MP, EM, and TS flags) are loaded into CR0." "While in protected mode, the LMSW
	 * instruction cannot be used to clear the PE flag and force a switch back to real-address
	 * mode."
	 * Hints: docs/labs/03-cr-shadows.md, step 03-5.
	 */
	(void)v;
	(void)type;
	(void)lmsw_source;
	TODO("03-5");
}

/* MOV to or from CR3 (CR3-load/store exiting) and CR8 (CR8-load/store exiting). */
bool mov_cr3_cr8(struct vcpu *v, unsigned cr, bool to_cr, enum gpr reg)
{
	/* TODO 03-6
	 * Achieve: a MOV between guest register `reg` and CR3 or CR8 (`cr`; `to_cr` gives the
	 * direction) acts on the guest's CR3 and on the guest's own TPR, lab03(v)->cr8, never on
	 * the host's CR8. A load the processor would refuse changes nothing and returns false
	 * (#GP(0)); anything else returns true.
	 * SDM Vol. 2, MOV (control registers), 64-bit mode exceptions: "If an attempt is made to
	 * write a 1 to any reserved bit in CR8. If an attempt is made to write a 1 to any reserved
	 * bit in CR3."
	 * Hints: docs/labs/03-cr-shadows.md, step 03-6.
	 */
	(void)v;
	(void)cr;
	(void)to_cr;
	(void)reg;
	TODO("03-6");
}

/* Exit reason 28: decode the exit qualification and emulate the access. */
static enum exit_verdict handle_cr_access(struct vcpu *v)
{
	/* TODO 03-7
	 * Achieve: every control-register access that exits is decoded from its exit qualification
	 * and emulated by the step above that owns it; a refused access raises #GP(0) at the
	 * instruction, an emulated one completes it; an access this hypervisor never asked for is
	 * a panic().
	 * SDM 26.3: "For each position corresponding to a bit set in the CR0 guest/host mask, the
	 * destination operand is loaded with the value of the corresponding bit in the CR0 read
	 * shadow." (So MOV from CR0, and likewise CR4, never needs the hypervisor.)
	 * Hints: docs/labs/03-cr-shadows.md, step 03-7.
	 */
	(void)v;
	TODO("03-7");
}

static void lab03_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_CONTROL_REGISTER_ACCESS, handle_cr_access);
}
LAB_SETUP(03, lab03_handlers);
