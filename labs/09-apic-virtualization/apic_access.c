/* Lab 09, part 2: the APIC-access page. Guest accesses to the page of its local APIC reach the
 * virtual-APIC page: first with an APIC-access exit for each (the hypervisor emulates them),
 * then, with APIC-register virtualization, without exits for reads and with trap-like
 * APIC-write exits for the writes the hypervisor must act on (SDM Vol. 3C, 30.4). */
#include "apic.h"
#include "lab.h"
#include "lab09.h"
#include "mmio.h"

#define ICR_VECTOR(icr) ((u8)(icr))               /* 7:0 */
#define ICR_DELIVERY_MODE(icr) (((icr) >> 8) & 7) /* 10:8, 0 = fixed */
#define ICR_SHORTHAND(icr) (((icr) >> 18) & 3)    /* 19:18, 1 = self */

void vapic_apic_access_enable(struct vcpu *v, u64 apic_pa, bool register_virtualization)
{
	/* TODO 09-4
	 * Achieve: guest accesses to the page at apic_pa (lab09(v)->apic_access_pa) reach this
	 * vCPU's virtual APIC, never memory or the real local APIC: the processor serves what it can
	 * (more of it when register_virtualization is true) and the rest exits. 09-1's TPR shadow
	 * is on before.
	 * SDM 30.4.2: "A read access from the APIC-access page that is virtualized returns data from
	 * the corresponding page offset on the virtual-APIC page." ... "In all other cases, the
	 * access causes an APIC-access VM exit."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-4.
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
	 * Achieve: a write of ICR low that asks for a fixed interrupt to the guest itself (vector 16
	 * or more) gives the guest that interrupt, subject to its task priority like any other (09-2);
	 * any other register write only stays in the virtual-APIC page.
	 * SDM Vol. 3A 11.6.1 (destination shorthand): "01: (Self) The issuing APIC is the one and only
	 * destination of the IPI."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-6.
	 */
	(void)v;
	(void)offset;
	TODO("09-6");
}

/* A guest read or write of the APIC-access page that the processor did not virtualize. */
static enum exit_verdict handle_apic_access(struct vcpu *v)
{
	/* TODO 09-5
	 * Achieve: an APIC-access exit of a 4-byte MOV that reads or writes the page has exactly the
	 * effect that access would have on the virtual APIC (a write also acts, through
	 * vapic_register_written()), and the guest goes on after the instruction. Any other access
	 * stops the run with a message that says what it was.
	 * SDM 30.4.3.1: "The processor virtualizes a write access to the APIC-access page by writing
	 * data to the corresponding page offset on the virtual-APIC page."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-5.
	 */
	(void)v;
	TODO("09-5");
}

/* A virtualized write the processor has done, which the hypervisor must act on. */
static enum exit_verdict handle_apic_write(struct vcpu *v)
{
	/* TODO 09-7
	 * Achieve: the write the processor has already made to the virtual-APIC page takes effect,
	 * and the guest goes on exactly where the processor stopped it.
	 * SDM 30.4.3.3: "every APIC-write VM exit is trap-like: it occurs after completion of the
	 * operation containing the write access that caused the VM exit"
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-7.
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
