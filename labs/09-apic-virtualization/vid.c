/* Lab 09, part 4: virtual-interrupt delivery. The hypervisor requests a virtual interrupt in
 * VIRR and RVI; the processor delivers it when the guest can take it, tracks it in VISR and SVI,
 * and ends it at the guest's EOI, exiting only for the vectors of the EOI-exit bitmap (SDM Vol.
 * 3C, 30.1.3, 30.2). */
#include "lab.h"
#include "lab09.h"

void vapic_vid_enable(struct vcpu *v)
{
	/* TODO 09-10
	 * SDM 25.6.2 (Table 25-7): "virtual-interrupt delivery" is bit 9 of the secondary
	 * controls; SDM 27.2.1.1: it needs "use TPR shadow" and "external-interrupt exiting" (on
	 * since lab 04). SDM 25.4.2: the guest interrupt status holds RVI (7:0), the highest
	 * requested virtual interrupt, and SVI (15:8), the highest one in service. SDM 25.6.8:
	 * the four 64-bit EOI-exit bitmaps (vectors 0-63, 64-127, ...). With this control the
	 * TPR threshold is not used: the processor compares RVI with VPPR itself (SDM 30.2.1).
	 * Do: the TPR shadow first if it is not on (09-1); the control on (with "activate
	 * secondary controls"); RVI = SVI = 0 and all four EOI-exit bitmaps 0.
	 * Hint: CPU2_VIRTUAL_INTERRUPT_DELIVERY; EOI_EXIT_BITMAP_0 .. _3.
	 */
	(void)v;
	TODO("09-10");
}

/* Requests virtual interrupt `vector`: the processor delivers it (no injection, no window exit). */
void vapic_vid_request(struct vcpu *v, u8 vector)
{
	/* TODO 09-11
	 * SDM 30.1.1 and 30.2.1: VIRR is the 256-bit virtual IRR at 200H of the virtual-APIC
	 * page, vector n being bit n % 32 of the register at 200H + 10H * (n / 32). At VM entry
	 * (and at TPR, EOI and self-IPI virtualization) the processor evaluates RVI: it delivers
	 * RVI's vector when RVI[7:4] > VPPR[7:4] and the guest can take an interrupt (RFLAGS.IF,
	 * no STI or MOV SS blocking), then sets RVI to the next highest VIRR bit. So the
	 * hypervisor sets the VIRR bit and raises RVI to the vector if it is higher.
	 * Do: set the VIRR bit; RVI = max(RVI, vector), SVI unchanged.
	 * Hint: vapic_reg(), VAPIC_IRR; GUEST_INTERRUPT_STATUS_RVI() (lab09.h).
	 */
	(void)v;
	(void)vector;
	TODO("09-11");
}

/* Makes the guest's EOI of `vector` exit (EOI-induced exit), e.g. for a level-triggered line. */
void vapic_eoi_exit(struct vcpu *v, u8 vector)
{
	/* TODO 09-12
	 * SDM 25.6.8: EOI_EXIT_BITMAP_k holds vectors 64k to 64k + 63, vector n being bit n % 64.
	 * SDM 30.1.3: EOI virtualization clears the VISR bit of SVI, sets SVI to the next
	 * highest, and then causes an EOI-induced exit if the vector's bit is set here;
	 * otherwise it evaluates pending virtual interrupts. The field encodings are 2 apart.
	 * Do: set the vector's bit in its bitmap.
	 */
	(void)v;
	(void)vector;
	TODO("09-12");
}

/* The guest ended an interrupt of a vector in the EOI-exit bitmap. */
static enum exit_verdict handle_virtualized_eoi(struct vcpu *v)
{
	/* TODO 09-13
	 * SDM 28.2.1 (Table 28-1) and 30.1.3: the EOI-induced exit is trap-like: the EOI write
	 * (or WRMSR 80BH) is complete and GUEST_RIP is past it; the qualification's bits 7:0
	 * are the vector whose EOI was virtualized.
	 * Do: tell lab09(v)->eoi_notify (if set) the vector; resume without moving RIP.
	 */
	(void)v;
	TODO("09-13");
}

static void lab09_vid_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_VIRTUALIZED_EOI, handle_virtualized_eoi);
}
LAB_SETUP(09, lab09_vid_handlers);
