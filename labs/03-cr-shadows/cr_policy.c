/* Lab 03: which control-register bits the hypervisor owns, and which CR accesses exit
 * (SDM Vol. 3C, 25.6.6, 25.6.7 and 26.3). */
#include "lab.h"
#include "lab03.h"

/* The bits of CR0 and CR4 this hypervisor owns: the guest sees its read shadow there. */
#define CR0_OWNED (CR0_PE | CR0_NE | CR0_TS | CR0_PG)
#define CR4_OWNED (CR4_PAE | CR4_VMXE)

static void lab03_setup(struct vcpu *v)
{
	/* TODO 03-1
	 * SDM 25.6.6: for each bit set in the CR0 (CR4) guest/host mask the hypervisor owns the
	 * bit: guest reads of CR0 (CR4) return the read shadow's bit, and a guest write that
	 * would change it away from the shadow exits. SDM 25.6.2: "CR3-load exiting" (bit 15),
	 * "CR3-store exiting" (16), "CR8-load exiting" (19) and "CR8-store exiting" (20). SDM
	 * 25.6.7: a MOV to CR3 of one of the first CR3_TARGET_COUNT CR3-target values does not
	 * exit.
	 * Do: own CR0_OWNED and CR4_OWNED with read shadows that show the guest its current
	 * CR0, and its current CR4 without VMXE (the guest must not see VMX in use); turn on the
	 * four exiting controls; make the guest's current CR3 the first CR3-target value.
	 * Hint: GUEST_CR0/GUEST_CR4/GUEST_CR3 hold the guest's values; cr3_target_add() below.
	 */
	(void)v;
	TODO("03-1");
}
LAB_SETUP(03, lab03_setup);

/* Lets the guest load `cr3` without a VM exit. */
void cr3_target_add(struct vcpu *v, u64 cr3)
{
	/* TODO 03-2
	 * SDM 25.6.7 and A.6: there are CR3-target values 0 .. n-1, n from IA32_VMX_MISC bits
	 * 24:16; CR3_TARGET_COUNT says how many are in use (a count above n fails VM entry).
	 * Do: store cr3 in the next unused CR3-target value and raise the count; panic() when
	 * all are in use.
	 * Hint: CR3_TARGET_VALUE0 .. 3 are 2 apart (Appendix B); VMX_MISC_CR3_TARGET_COUNT().
	 */
	(void)v;
	(void)cr3;
	TODO("03-2");
}
