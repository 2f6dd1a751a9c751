/* Lab 09, part 2: the APIC-access page. Guest accesses to the page of its local APIC reach the
 * virtual-APIC page: first with an APIC-access exit for each (the hypervisor emulates them),
 * then, with APIC-register virtualization, without exits for reads and with trap-like
 * APIC-write exits for the writes the hypervisor must act on (SDM Vol. 3C, 30.4). */
#include "apic.h"
#include "lab.h"
#include "lab09.h"
#include "mmio.h"

#define ICR_VECTOR(icr) ((u8)(icr))			/* 7:0 */
#define ICR_DELIVERY_MODE(icr) (((icr) >> 8) & 7)	/* 10:8, 0 = fixed */
#define ICR_SHORTHAND(icr) (((icr) >> 18) & 3)		/* 19:18, 1 = self */

void vapic_apic_access_enable(struct vcpu *v, u64 apic_pa, bool register_virtualization)
{
	/* BEGIN 09-4 unused: v, apic_pa, register_virtualization
	 * SDM 25.6.2 (Table 25-7): "virtualize APIC accesses" is bit 0 and "APIC-register
	 * virtualization" bit 8 of the secondary processor-based controls (which count only with
	 * "activate secondary controls"). SDM 25.6.8: APIC_ACCESS_ADDRESS is the physical address
	 * of the 4-KByte APIC-access page; SDM 30.4: guest accesses to it are virtualized or exit.
	 * SDM 27.2.1.1: "APIC-register virtualization" needs "use TPR shadow".
	 * Do: turn the TPR shadow on first if it is not (09-1); keep apic_pa in lab09(v), write it
	 * to the VMCS; turn on the secondary controls, APIC-register virtualization only if asked.
	 * Hint: CPU_ACTIVATE_SECONDARY_CONTROLS, CPU2_VIRTUALIZE_APIC_ACCESSES,
	 * CPU2_APIC_REGISTER_VIRTUALIZATION; MSR_IA32_VMX_PROCBASED_CTLS2.
	 */
	if (!lab09(v)->virtual_apic)
		vapic_tpr_shadow_enable(v);
	lab09(v)->apic_access_pa = apic_pa;
	vmcs_write(APIC_ACCESS_ADDRESS, apic_pa);
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) |
		      CPU_ACTIVATE_SECONDARY_CONTROLS;
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)primary, MSR_IA32_VMX_PROCBASED_CTLS,
				       "primary processor-based controls"));
	u64 secondary = vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) |
			CPU2_VIRTUALIZE_APIC_ACCESSES |
			(register_virtualization ? CPU2_APIC_REGISTER_VIRTUALIZATION : 0);
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)secondary, MSR_IA32_VMX_PROCBASED_CTLS2,
				       "secondary processor-based controls"));
	/* END 09-4 */
}

/* The guest wrote the virtual APIC register at `offset` (the value is in the virtual-APIC page
 * already): what the hypervisor does about it. */
void vapic_register_written(struct vcpu *v, unsigned offset)
{
	/* BEGIN 09-6 unused: v, offset
	 * SDM 11.6.1 (Figure 11-12): a write to ICR bits 31:0 (offset 300H) sends an IPI: vector
	 * 7:0, delivery mode 10:8 (0 = fixed), destination shorthand 19:18 (1 = self). The
	 * virtual APIC has one destination: the guest itself.
	 * Do: for a fixed self-IPI with a vector of 16 or more, give the vector to the guest with
	 * vapic_deliver() (its task priority applies). Any other write stays in the virtual-APIC
	 * page, where the guest reads it back.
	 * Hint: vapic_reg(); APIC_ICR_LOW (apic.h); the ICR_* macros above.
	 */
	if (offset != APIC_ICR_LOW)
		return;
	u32 icr = *vapic_reg(v, APIC_ICR_LOW);
	if (ICR_SHORTHAND(icr) == 1 && ICR_DELIVERY_MODE(icr) == 0 && ICR_VECTOR(icr) >= 16)
		vapic_deliver(v, ICR_VECTOR(icr));
	/* END 09-6 */
}

/* A guest read or write of the APIC-access page that the processor did not virtualize. */
static enum exit_verdict handle_apic_access(struct vcpu *v)
{
	/* BEGIN 09-5 unused: v
	 * SDM 30.4.4 and Table 28-6: an APIC-access exit is fault-like: nothing was read or
	 * written, GUEST_RIP is the accessing instruction. The qualification gives the offset in
	 * the page (bits 11:0) and the access type (bits 15:12: 0 a linear read, 1 a linear
	 * write, 2 an instruction fetch, 3 an access during event delivery).
	 * Do: for a read or a write, decode the instruction at the guest's RIP (the guest shares
	 * the host's page tables), emulate a 4-byte access on the virtual-APIC page (a write
	 * calls vapic_register_written()), and move RIP past it. Anything else (another type,
	 * another size, an instruction that does not decode): print what it was and stop.
	 * Hint: apic_access_qual_offset(), apic_access_qual_type() (vmx_exit.h);
	 * guest_linear_to_host(), mmio_decode() (mmio.h), guest_reg_read()/guest_reg_write(),
	 * vapic_reg().
	 */
	u64 q = v->exit.qualification;
	unsigned offset = apic_access_qual_offset(q);
	enum apic_access_type type = apic_access_qual_type(q);
	struct mmio_instruction insn;
	const u8 *bytes = guest_linear_to_host(v, v->exit.guest_rip);
	bool linear = type == APIC_ACCESS_LINEAR_READ || type == APIC_ACCESS_LINEAR_WRITE;
	if (!linear || !bytes || !mmio_decode(bytes, MMIO_INSTRUCTION_MAX, &insn) || insn.size != 4 ||
	    insn.store != (type == APIC_ACCESS_LINEAR_WRITE)) {
		printf("APIC access: type %u at offset 0x%x by guest RIP 0x%lx is not a 4-byte MOV "
		       "this hypervisor emulates\n", type, offset, v->exit.guest_rip);
		return EXIT_STOP;
	}
	if (insn.store) {
		*vapic_reg(v, offset) = (u32)(insn.immediate ? insn.value : guest_reg_read(v, insn.reg));
		vapic_register_written(v, offset);
	} else {
		guest_reg_write(v, insn.reg, *vapic_reg(v, offset));
	}
	vmcs_write(GUEST_RIP, v->exit.guest_rip + insn.length);
	return EXIT_RESUME;
	/* END 09-5 */
}

/* A virtualized write the processor has done, which the hypervisor must act on. */
static enum exit_verdict handle_apic_write(struct vcpu *v)
{
	/* BEGIN 09-7 unused: v
	 * SDM 30.4.3.2 and 30.4.3.3: with APIC-register virtualization, a guest write to a
	 * virtualized register other than VTPR (and, with virtual-interrupt delivery, EOI and a
	 * self-IPI) lands in the virtual-APIC page and is followed by an APIC-write exit. It is
	 * trap-like: the write is done, GUEST_RIP is past the instruction; the qualification is
	 * the register's offset.
	 * Do: act on the write with vapic_register_written() and resume without moving RIP.
	 */
	vapic_register_written(v, apic_access_qual_offset(v->exit.qualification));
	return EXIT_RESUME;
	/* END 09-7 */
}

static void lab09_access_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_APIC_ACCESS, handle_apic_access);
	exit_register(EXIT_REASON_APIC_WRITE, handle_apic_write);
}
LAB_SETUP(09, lab09_access_handlers);
