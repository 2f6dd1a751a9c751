/* Lab 09, part 1: the TPR shadow. The guest's task priority lives in the virtual-APIC page and
 * CR8 no longer exits; the TPR threshold tells the hypervisor when the guest lowers it enough
 * to take a held-back interrupt (SDM Vol. 3C, 25.6.8, 30.1.1, 30.1.2, 30.3). */
#include "lab.h"
#include "lab09.h"

void vapic_tpr_shadow_enable(struct vcpu *v)
{
	/* BEGIN 09-1 unused: v
	 * Achieve: the guest's MOV to and from CR8 work on a virtual task priority kept in a
	 * virtual-APIC page of this vCPU (lab09(v)->virtual_apic), with no VM exit and without ever
	 * reaching the real local APIC; no interrupt is held back yet.
	 * SDM 25.6.8: "This field is the physical address of the 4-KByte virtual-APIC page."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-1.
	 */
	struct lab09_vcpu *a = lab09(v);
	a->virtual_apic = page_alloc();
	vmcs_write(VIRTUAL_APIC_ADDRESS, virt_to_phys(a->virtual_apic));
	vmcs_write(TPR_THRESHOLD, 0);
	u64 primary = (vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU_USE_TPR_SHADOW) &
		      ~(u64)(CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING);
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)primary, MSR_IA32_VMX_PROCBASED_CTLS,
				       "primary processor-based controls"));
	/* END 09-1 */
}

/* Gives `vector` to the guest: now if its virtual task priority lets it through, else as soon
 * as the guest lowers its priority enough (one vector waits at a time). */
void vapic_deliver(struct vcpu *v, u8 vector)
{
	/* BEGIN 09-2 unused: v, vector
	 * Achieve: `vector` reaches the guest now if the guest's virtual task priority lets it
	 * through, and otherwise waits (one at a time, in lab09(v)) until the guest lowers its
	 * priority enough, at which moment the processor hands control back to the hypervisor.
	 * SDM 30.1.2: "IF VTPR[7:4] < TPR threshold ... THEN cause VM exit due to TPR below threshold;"
	 * SDM Vol. 3A 11.8.3.1: "the processor priority is set to either to the highest priority
	 * pending interrupt in the ISR or to the current task priority, whichever is higher."
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-2.
	 */
	unsigned class = vector >> 4;
	if (class > (unsigned)(lab09(v)->virtual_apic[VAPIC_TPR] >> 4)) {
		vcpu_queue_interrupt(v, vector);
		return;
	}
	lab09(v)->held_vector = vector;
	lab09(v)->holding = true;
	vmcs_write(TPR_THRESHOLD, class);
	/* END 09-2 */
}

/* The guest lowered its task priority below the threshold: the held interrupt may go now. */
static enum exit_verdict handle_tpr_below_threshold(struct vcpu *v)
{
	/* BEGIN 09-3 unused: v
	 * Achieve: the interrupt 09-2 held back goes to the guest, the next VM entry succeeds, and
	 * the guest goes on with the instruction after the MOV to CR8 that lowered its priority.
	 * SDM 30.1.2: "Any VM exit caused by TPR virtualization is trap-like: the instruction causing
	 * TPR virtualization completes before the VM exit occurs"
	 * Hints: docs/labs/09-apic-virtualization.md, step 09-3.
	 */
	vmcs_write(TPR_THRESHOLD, 0);
	if (lab09(v)->holding) {
		lab09(v)->holding = false;
		vcpu_queue_interrupt(v, lab09(v)->held_vector);
	}
	return EXIT_RESUME;
	/* END 09-3 */
}

static void lab09_tpr_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_TPR_BELOW_THRESHOLD, handle_tpr_below_threshold);
}
LAB_SETUP(09, lab09_tpr_handlers);
