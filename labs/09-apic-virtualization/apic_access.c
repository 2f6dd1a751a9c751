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
	/* TODO 09-4
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
	(void)v;
	(void)apic_pa;
	(void)register_virtualization;
	TODO("09-4");
}

/* The guest wrote the virtual APIC register at `offset` (the value is in the virtual-APIC page
 * already): what the hypervisor does about it. */
void vapic_register_written(struct vcpu *v, unsigned offset)
{
	/* TODO 09-6
	 * SDM 11.6.1 (Figure 11-12): a write to ICR bits 31:0 (offset 300H) sends an IPI: vector
	 * 7:0, delivery mode 10:8 (0 = fixed), destination shorthand 19:18 (1 = self). The
	 * virtual APIC has one destination: the guest itself.
	 * Do: for a fixed self-IPI with a vector of 16 or more, give the vector to the guest with
	 * vapic_deliver() (its task priority applies). Any other write stays in the virtual-APIC
	 * page, where the guest reads it back.
	 * Hint: vapic_reg(); APIC_ICR_LOW (apic.h); the ICR_* macros above.
	 */
	(void)v;
	(void)offset;
	TODO("09-6");
}

/* A guest read or write of the APIC-access page that the processor did not virtualize. */
static enum exit_verdict handle_apic_access(struct vcpu *v)
{
	/* TODO 09-5
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
	(void)v;
	TODO("09-5");
}

/* A virtualized write the processor has done, which the hypervisor must act on. */
static enum exit_verdict handle_apic_write(struct vcpu *v)
{
	/* TODO 09-7
	 * SDM 30.4.3.2 and 30.4.3.3: with APIC-register virtualization, a guest write to a
	 * virtualized register other than VTPR (and, with virtual-interrupt delivery, EOI and a
	 * self-IPI) lands in the virtual-APIC page and is followed by an APIC-write exit. It is
	 * trap-like: the write is done, GUEST_RIP is past the instruction; the qualification is
	 * the register's offset.
	 * Do: act on the write with vapic_register_written() and resume without moving RIP.
	 */
	(void)v;
	TODO("09-7");
}

static void lab09_access_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_APIC_ACCESS, handle_apic_access);
	exit_register(EXIT_REASON_APIC_WRITE, handle_apic_write);
}
LAB_SETUP(09, lab09_access_handlers);
