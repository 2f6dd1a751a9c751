/* Lab 09, part 3: x2APIC virtualization. The guest reaches its local APIC through the MSRs
 * 800H-8FFH; the MSR bitmap decides which accesses the processor virtualizes and which exit
 * (SDM Vol. 3C, 30.5, 25.6.9). */
#include "apic.h"
#include "lab.h"
#include "lab02.h"
#include "lab09.h"

#define X2APIC_MSR_FIRST 0x800
#define X2APIC_MSR_LAST 0x8ff
#define X2APIC_TPR 0x808
#define X2APIC_ICR 0x830

/* The virtual-APIC page offset of x2APIC MSR `msr` (SDM 30.5: (ECX & FFH) << 4). */
static inline unsigned x2apic_offset(u32 msr) { return (msr & 0xff) << 4; }

void vapic_x2apic_enable(struct vcpu *v)
{
	/* TODO 09-8
	 * Achieve: in x2APIC mode the guest reads every APIC MSR and writes its task priority with no
	 * VM exit, and every other write of an APIC MSR exits instead of reaching the real local
	 * APIC. 09-1's TPR shadow is on before.
	 * SDM 30.5: "A virtual-machine monitor can virtualize these MSR-based APIC accesses by
	 * configuring the MSR bitmaps (see Section 25.6.9) to ensure that the accesses cause VM exits"
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-8.
	 */
	(void)v;
	TODO("09-8");
}

static exit_handler lab02_wrmsr; /* lab 02's WRMSR handler, for every other MSR */

/* A WRMSR the MSR bitmap made exit: an x2APIC register is emulated on the virtual-APIC page. */
static enum exit_verdict handle_wrmsr(struct vcpu *v)
{
	u32 msr = (u32)v->regs.rcx;
	if (msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST || !lab09(v)->virtual_apic)
		return lab02_wrmsr(v);
	/* TODO 09-9
	 * Achieve: a WRMSR of an x2APIC register that exited has the effect the write would have on
	 * the virtual APIC (the register's value in the virtual-APIC page, then
	 * vapic_register_written()), and the guest goes on after the WRMSR.
	 * SDM Vol. 3A 11.12.9: "A single MSR write to the Interrupt Command Register is required for
	 * dispatching an interrupt in x2APIC mode."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-9.
	 */
	(void)msr;
	TODO("09-9");
}

static void lab09_x2apic_handlers(struct vcpu *v)
{
	(void)v;
	exit_handler current = exit_handler_for(EXIT_REASON_WRMSR);
	if (current != handle_wrmsr)
		lab02_wrmsr = current;
	exit_register(EXIT_REASON_WRMSR, handle_wrmsr);
}
LAB_SETUP(09, lab09_x2apic_handlers);
