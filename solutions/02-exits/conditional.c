/* Lab 02: instructions that exit because a VM-execution control says so (SDM 26.1.3). */
#include "lab.h"
#include "lab02.h"

/* Turns on the conditional exits this lab handles. */
static void lab02_controls_setup(struct vcpu *v)
{
	(void)v;
	/* BEGIN 02-5
	 * Achieve: on top of lab 01's controls, and in a form the processor accepts: HLT, INVLPG,
	 * RDTSC, MOV DR, PAUSE and WBINVD exit; I/O and MSR accesses exit as the bitmaps say; RDTSC
	 * reads the TSC plus an offset, 0 to start with; the guest's DR7 and IA32_DEBUGCTL are
	 * loaded at every VM entry and saved at every VM exit.
	 * SDM 25.6.2: "The processor-based VM-execution controls constitute two 32-bit vectors that
	 * govern the handling of synchronous events, mainly those caused by the execution of
	 * specific instructions."
	 * Hints: docs/labs/02-exits.md, step 02-5.
	 */
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
	primary |= CPU_HLT_EXITING | CPU_INVLPG_EXITING | CPU_RDTSC_EXITING | CPU_USE_TSC_OFFSETTING |
		   CPU_MOV_DR_EXITING | CPU_USE_IO_BITMAPS | CPU_USE_MSR_BITMAPS | CPU_PAUSE_EXITING |
		   CPU_ACTIVATE_SECONDARY_CONTROLS;
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)primary, MSR_IA32_VMX_PROCBASED_CTLS,
				       "primary processor-based controls"));
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls(CPU2_WBINVD_EXITING, MSR_IA32_VMX_PROCBASED_CTLS2,
				       "secondary processor-based controls"));
	vmcs_write(VM_EXIT_CONTROLS,
		   vmx_adjust_controls((u32)vmcs_read(VM_EXIT_CONTROLS) | EXIT_SAVE_DEBUG_CONTROLS,
				       MSR_IA32_VMX_EXIT_CTLS, "VM-exit controls"));
	vmcs_write(VM_ENTRY_CONTROLS,
		   vmx_adjust_controls((u32)vmcs_read(VM_ENTRY_CONTROLS) | ENTRY_LOAD_DEBUG_CONTROLS,
				       MSR_IA32_VMX_ENTRY_CTLS, "VM-entry controls"));
	vmcs_write(TSC_OFFSET, 0);
	/* END 02-5 */
}
LAB_SETUP(02, lab02_controls_setup);

/* HLT: with interrupts enabled the guest idles until an event; with them disabled it can
 * never wake up, so the hypervisor ends it. */
static enum exit_verdict handle_hlt(struct vcpu *v)
{
	/* BEGIN 02-6 unused: v
	 * Achieve: a HLT with interrupts enabled is an idle period that ends at once, and the guest
	 * continues after it; a HLT with interrupts disabled could never wake up, so the hypervisor
	 * says so and stops the guest.
	 * SDM 26.1.3: "HLT. The HLT instruction causes a VM exit if the 'HLT exiting' VM-execution
	 * control is 1."
	 * Hints: docs/labs/02-exits.md, step 02-6.
	 */
	if (vmcs_read(GUEST_RFLAGS) & RFLAGS_IF) {
		vmx_skip_instruction(v);
		return EXIT_RESUME;
	}
	printf("hlt: the guest halted with interrupts disabled at RIP 0x%lx; ending it\n", v->exit.guest_rip);
	return EXIT_STOP;
	/* END 02-6 */
}

/* RDTSC under "RDTSC exiting": the hypervisor answers with the offset TSC. */
static enum exit_verdict handle_rdtsc(struct vcpu *v)
{
	/* BEGIN 02-7 unused: v
	 * Achieve: the guest's RDTSC returns, in the registers RDTSC writes, the value it would
	 * have read with TSC offsetting and no exit; then the guest continues.
	 * SDM 26.3: "RDTSC loads EAX:EDX with the sum of the value of the IA32_TIME_STAMP_COUNTER
	 * MSR and the value of the TSC offset."
	 * Hints: docs/labs/02-exits.md, step 02-7.
	 */
	u64 tsc = rdtsc() + vmcs_read(TSC_OFFSET);
	v->regs.rax = (u32)tsc;
	v->regs.rdx = tsc >> 32;
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-7 */
}

/* INVLPG: the guest shares our page tables, so flush the page for it. */
static enum exit_verdict handle_invlpg(struct vcpu *v)
{
	/* BEGIN 02-8 unused: v
	 * Achieve: the TLB holds no stale translation for the page the guest's INVLPG named, and
	 * the guest continues.
	 * SDM 28.2.1: "For INVLPG, the exit qualification contains the linear-address operand of
	 * the instruction."
	 * Hints: docs/labs/02-exits.md, step 02-8.
	 */
	invlpg(v->exit.qualification);
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-8 */
}

/* MOV to/from DR0-DR7: decode the exit qualification and emulate the move. */
static enum exit_verdict handle_mov_dr(struct vcpu *v)
{
	/* BEGIN 02-9 unused: v
	 * Achieve: the guest's MOV to or from a debug register behaves as on a processor without
	 * VMX: the right debug register, general register and direction; DR4 and DR5 as the guest's
	 * CR4.DE says; the guest's DR7 kept where VM entry loads it from; and the faults the
	 * processor would have raised itself, had the exit not come first.
	 * SDM 26.1.3: MOV-DR exits "take priority over the following: general-protection exceptions
	 * based on privilege level; and invalid-opcode exceptions that occur because CR4.DE=1 and
	 * the instruction specified access to DR4 or DR5."
	 * Hints: docs/labs/02-exits.md, step 02-9.
	 */
	u64 q = v->exit.qualification;
	unsigned dr = dr_qual_dr(q);
	enum gpr reg = dr_qual_register(q);
	if (ar_dpl((u32)vmcs_read(GUEST_SS_ACCESS_RIGHTS)) != 0) {
		vmx_inject_exception(v, VEC_GP, 0);
		return EXIT_RESUME;
	}
	if (dr == 4 || dr == 5) {
		if (vmcs_read(GUEST_CR4) & CR4_DE) {
			vmx_inject_exception(v, VEC_UD, 0);
			return EXIT_RESUME;
		}
		dr += 2;
	}
	if (dr_qual_from_dr(q)) {
		guest_reg_write(v, reg, dr == 7 ? vmcs_read(GUEST_DR7) : read_dr(dr));
	} else {
		u64 value = guest_reg_read(v, reg);
		if (dr >= 6 && (value >> 32)) {
			vmx_inject_exception(v, VEC_GP, 0);
			return EXIT_RESUME;
		}
		if (dr == 7)
			vmcs_write(GUEST_DR7, value);
		else
			write_dr(dr, value);
	}
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-9 */
}

/* WBINVD and PAUSE: nothing to emulate beyond the instruction itself. */
static enum exit_verdict handle_wbinvd_or_pause(struct vcpu *v)
{
	/* BEGIN 02-10 unused: v
	 * Achieve: a WBINVD still writes back and invalidates the caches, a PAUSE only passes; the
	 * guest continues after either.
	 * SDM 26.1.3: "WBINVD, WBNOINVD. These instructions cause VM exits if the 'WBINVD exiting'
	 * VM-execution control is 1."
	 * Hints: docs/labs/02-exits.md, step 02-10.
	 */
	if (EXIT_REASON_BASIC(v->exit.reason) == EXIT_REASON_WBINVD_OR_WBNOINVD)
		wbinvd();
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-10 */
}

static void lab02_conditional_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_HLT, handle_hlt);
	exit_register(EXIT_REASON_RDTSC, handle_rdtsc);
	exit_register(EXIT_REASON_INVLPG, handle_invlpg);
	exit_register(EXIT_REASON_MOV_DR, handle_mov_dr);
	exit_register(EXIT_REASON_WBINVD_OR_WBNOINVD, handle_wbinvd_or_pause);
	exit_register(EXIT_REASON_PAUSE, handle_wbinvd_or_pause);
}
LAB_SETUP(02, lab02_conditional_handlers);
