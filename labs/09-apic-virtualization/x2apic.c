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
	 * SDM 25.6.2 (Table 25-7): "virtualize x2APIC mode" is bit 4 of the secondary controls;
	 * SDM 27.2.1.1: it needs "use TPR shadow" and excludes "virtualize APIC accesses". SDM
	 * 30.5: for an MSR in 800H-8FFH whose bitmap bit is 0, RDMSR of 808H (TPR) reads VTPR
	 * and, with "APIC-register virtualization", every RDMSR reads the virtual-APIC page at
	 * (ECX & FFH) << 4; WRMSR of 808H writes VTPR (then TPR virtualization, SDM 30.1.2). Any
	 * other WRMSR whose bitmap bit is 0 goes to the real local APIC: the hypervisor must let
	 * it exit (SDM 25.6.9: the write bitmap for low MSRs).
	 * Do: the TPR shadow first if it is not on (09-1); "virtualize x2APIC mode" and
	 * "APIC-register virtualization" on; make every WRMSR of 800H-8FFH exit except 808H.
	 * Hint: CPU2_VIRTUALIZE_X2APIC_MODE; msr_intercept() from lab 02.
	 */
	(void)v;
	TODO("09-8");
}

static exit_handler lab02_wrmsr;	/* lab 02's WRMSR handler, for every other MSR */

/* A WRMSR the MSR bitmap made exit: an x2APIC register is emulated on the virtual-APIC page. */
static enum exit_verdict handle_wrmsr(struct vcpu *v)
{
	u32 msr = (u32)v->regs.rcx;
	if (msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST || !lab09(v)->virtual_apic)
		return lab02_wrmsr(v);
	/* TODO 09-9
	 * SDM Vol. 3A, 11.12.1.2 (x2APIC register address space): the register at xAPIC offset X is MSR
	 * 800H + (X >> 4); WRMSR writes EDX:EAX, and every register but ICR (830H, 64 bits: ICR
	 * low in bits 31:0, ICR high, the destination, in bits 63:32) has 32 bits. SDM 30.5: the
	 * virtual-APIC page keeps the xAPIC layout.
	 * Do: write EAX to the virtual-APIC register of the MSR (for ICR, EDX to ICR high first),
	 * act on it with vapic_register_written(), and skip the WRMSR.
	 * Hint: x2apic_offset(), vapic_reg(); APIC_ICR_HIGH (apic.h); vmx_skip_instruction().
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
