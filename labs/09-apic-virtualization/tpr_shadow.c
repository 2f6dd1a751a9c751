/* Lab 09, part 1: the TPR shadow. The guest's task priority lives in the virtual-APIC page and
 * CR8 no longer exits; the TPR threshold tells the hypervisor when the guest lowers it enough
 * to take a held-back interrupt (SDM Vol. 3C, 25.6.8, 30.1.1, 30.1.2, 30.3). */
#include "lab.h"
#include "lab09.h"

void vapic_tpr_shadow_enable(struct vcpu *v)
{
	/* TODO 09-1
	 * SDM 25.6.2 (Table 25-6): "use TPR shadow" is bit 21 of the primary processor-based
	 * controls. SDM 25.6.8: the virtual-APIC address is the physical address of a 4-KByte
	 * page, "the virtual-APIC page"; VTPR is its byte at 80H. SDM 30.3: with "use TPR shadow"
	 * 1 and "CR8-load exiting" / "CR8-store exiting" 0, MOV to CR8 writes the source's bits
	 * 3:0 to VTPR[7:4] (clearing VTPR[3:0] and bytes 3:1) and MOV from CR8 reads VTPR[7:4]:
	 * no VM exit. Lab 03 turned both CR8 exiting controls on.
	 * Do: allocate the page (lab09(v)->virtual_apic), write its physical address to the VMCS,
	 * TPR_THRESHOLD 0, turn "use TPR shadow" on and both CR8 exiting controls off.
	 * Hint: CPU_USE_TPR_SHADOW, CPU_CR8_LOAD_EXITING, CPU_CR8_STORE_EXITING (vmx_controls.h);
	 * vmx_adjust_controls() as in every lab.
	 */
	(void)v;
	TODO("09-1");
}

/* Gives `vector` to the guest: now if its virtual task priority lets it through, else as soon
 * as the guest lowers its priority enough (one vector waits at a time). */
void vapic_deliver(struct vcpu *v, u8 vector)
{
	/* TODO 09-2
	 * SDM 11.8.3.1: bits 7:4 of a vector are its priority class; the processor delivers an
	 * interrupt only if its class is above the class of the processor priority, which here is
	 * the task priority, VTPR[7:4]. SDM 25.6.8 and 30.1.2: with "use TPR shadow" (and no
	 * virtual-interrupt delivery) a MOV to CR8 that leaves VTPR[7:4] below TPR_THRESHOLD[3:0]
	 * causes a TPR-below-threshold VM exit.
	 * Do: if the vector's class is above VTPR[7:4], queue it with lab 04's
	 * vcpu_queue_interrupt(); else hold it in lab09(v) and set TPR_THRESHOLD to its class, so
	 * that the exit comes exactly when the guest's priority drops below it.
	 * Hint: the VTPR byte is lab09(v)->virtual_apic[VAPIC_TPR].
	 */
	(void)v;
	(void)vector;
	TODO("09-2");
}

/* The guest lowered its task priority below the threshold: the held interrupt may go now. */
static enum exit_verdict handle_tpr_below_threshold(struct vcpu *v)
{
	/* TODO 09-3
	 * SDM 30.1.2 and 28.1: the TPR-below-threshold exit is trap-like: the MOV to CR8 is
	 * complete and GUEST_RIP already points past it. SDM 27.3.1.1 (checks on the controls,
	 * "use TPR shadow" without virtual-interrupt delivery or APIC-access virtualization):
	 * VM entry fails unless TPR_THRESHOLD[3:0] <= VTPR[7:4].
	 * Do: set TPR_THRESHOLD back to 0, queue the held vector (if any) with
	 * vcpu_queue_interrupt(), and resume without moving RIP.
	 */
	(void)v;
	TODO("09-3");
}

static void lab09_tpr_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_TPR_BELOW_THRESHOLD, handle_tpr_below_threshold);
}
LAB_SETUP(09, lab09_tpr_handlers);
