/* Lab 02: instructions that exit because a VM-execution control says so (SDM 26.1.3). */
#include "lab.h"
#include "lab02.h"

/* Turns on the conditional exits this lab handles. */
static void lab02_controls_setup(struct vcpu *v)
{
	(void)v;
	/* BEGIN 02-5
	 * SDM 25.6.2 (Tables 25-6 and 25-7): primary processor-based controls "HLT exiting"
	 * (bit 7), "INVLPG exiting" (9), "RDTSC exiting" (12), "use TSC offsetting" (3), "MOV-DR
	 * exiting" (23), "use I/O bitmaps" (25), "use MSR bitmaps" (28), "PAUSE exiting" (30),
	 * "activate secondary controls" (31); secondary control "WBINVD exiting" (bit 6). SDM
	 * 25.7.1/25.8.1: "save debug controls" (exit bit 2) and "load debug controls" (entry bit
	 * 2) make DR7 and IA32_DEBUGCTL follow the guest fields, so the guest's DR7 (which the
	 * MOV-DR handler keeps in GUEST_DR7) really arms its breakpoints.
	 * Do: add these bits to the controls lab 01 wrote, each field through
	 * vmx_adjust_controls(), and start with a TSC offset of 0.
	 * Hint: read the current value with vmcs_read(); CPU_* and CPU2_* are in vmx_controls.h;
	 * the secondary controls' capability MSR is MSR_IA32_VMX_PROCBASED_CTLS2.
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
	 * SDM 26.1.3: with "HLT exiting" set, HLT exits before the processor halts. HLT ends at
	 * the next interrupt, NMI, SMI or INIT; a guest that halts with RFLAGS.IF = 0 waits for
	 * an event this machine never sends (the legacy PIC is masked).
	 * Do: if the guest's RFLAGS.IF is 1, treat the HLT as done (an idle that woke up at once):
	 * skip it and resume. If IF is 0, print that the guest halted with interrupts disabled
	 * and return EXIT_STOP.
	 * Hint: GUEST_RFLAGS is in the VMCS; RFLAGS_IF is in x86.h.
	 */
	if (vmcs_read(GUEST_RFLAGS) & RFLAGS_IF) {
		vmx_skip_instruction(v);
		return EXIT_RESUME;
	}
	printf("hlt: the guest halted with interrupts disabled at RIP 0x%lx; ending it\n",
	       v->exit.guest_rip);
	return EXIT_STOP;
	/* END 02-6 */
}

/* RDTSC under "RDTSC exiting": the hypervisor answers with the offset TSC. */
static enum exit_verdict handle_rdtsc(struct vcpu *v)
{
	/* BEGIN 02-7 unused: v
	 * SDM 26.1.3 and 26.3 (RDTSC): with "RDTSC exiting" set, RDTSC exits; without it the
	 * guest reads the TSC plus the TSC offset when "use TSC offsetting" is set. An emulated
	 * RDTSC must give the guest what it would have read: the TSC plus TSC_OFFSET, low 32
	 * bits in EAX and high 32 bits in EDX (the upper halves of RAX and RDX cleared).
	 * Do: compute the guest's TSC, write RAX and RDX, skip, resume.
	 * Hint: rdtsc() in x86.h; the offset is the VMCS field TSC_OFFSET.
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
	 * SDM 28.2.1: for INVLPG the exit qualification is the linear-address
	 * operand of the instruction.
	 * Do: invalidate that address's TLB entries in the host, skip, resume.
	 * Hint: invlpg() in x86.h; v->exit.qualification.
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
	 * SDM 28.2.1 (exit qualification for MOV DR): bits 2:0 = the debug register, bit 4 =
	 * direction (0 = MOV to DR, 1 = MOV from DR), bits 11:8 = the general register (0 RAX,
	 * 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15). The guest's DR7 is the
	 * VMCS field GUEST_DR7; DR0-DR3 and DR6 are the processor's own registers. SDM 18.2.2:
	 * with CR4.DE = 0, DR4 and DR5 are aliases of DR6 and DR7; with CR4.DE = 1 they raise #UD.
	 * In 64-bit mode a MOV to DR6 or DR7 with any of bits 63:32 set raises #GP(0). SDM
	 * 26.1.3: MOV-DR exits take priority over the #GP(0) for CPL > 0 and over the #UD for
	 * DR4/DR5 with CR4.DE = 1, so the hypervisor raises both itself.
	 * Do: decode, apply the privilege, alias and fault rules (inject and return without
	 * skipping), move the value between the register and the DR, skip, resume.
	 * Hint: dr_qual_*() and enum gpr (vmx_exit.h); guest_reg_read()/guest_reg_write()
	 * (vcpu.h); read_dr()/write_dr() (x86.h); the guest's CR4 is GUEST_CR4; the CPL is
	 * ar_dpl() of GUEST_SS_ACCESS_RIGHTS.
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
	 * SDM 26.1.3: "WBINVD exiting" (secondary) and "PAUSE exiting" (primary) make these
	 * instructions exit. WBINVD must still write back and invalidate the caches; PAUSE is
	 * only a hint, so a hypervisor may just continue (or run something else meanwhile).
	 * Do: execute WBINVD for a WBINVD exit, then skip the instruction and resume.
	 * Hint: the basic exit reason is in v->exit.reason (EXIT_REASON_BASIC()).
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
