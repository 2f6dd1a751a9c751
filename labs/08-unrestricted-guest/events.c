/* Lab 08: events into a real-mode guest, and the entry checks of its state, made before the
 * entry (SDM Vol. 3C, 27.2.1, 27.3.1, 27.6.1; Vol. 3A, 6.3.1, 20.1.4). */
#include "lab.h"
#include "lab08.h"

/* Makes the next VM entry deliver event `vector` of `type`, in real mode through the IVT. */
void ug_inject_event(struct vcpu *v, u8 vector, enum interruption_type type, u32 error_code)
{
	(void)v;
	/* TODO 08-6
	 * SDM 27.6.1: the VM entry delivers the event as the guest's current mode would; in real
	 * mode that is through the IVT (SDM 20.1.4): FLAGS, CS and IP are pushed, never an error
	 * code. SDM 27.2.1.3: "deliver error code" (bit 11 of the VM-entry interruption-
	 * information field) must be 0 if "unrestricted guest" is 1 and the CR0 field has PE = 0;
	 * otherwise it must be 1 exactly for a hardware exception that has one (#DF, #TS, #NP,
	 * #SS, #GP, #PF, #AC, #CP; SDM 6.3.1), and the error code goes into
	 * VM_ENTRY_EXCEPTION_ERROR_CODE.
	 * Do: write the interruption-information field for `vector` and `type`, with "deliver
	 * error code" only when the rule above asks for it.
	 * Hint: intr_info(), VEC_* in x86.h; the guest's CR0 is GUEST_CR0.
	 */
	(void)vector;
	(void)type;
	(void)error_code;
	TODO("08-6");
}

/* Which rule of a real-mode unrestricted guest the current VMCS breaks, checked before the
 * entry: Bochs panics on one of them instead of failing the entry. */
enum ug_state_problem ug_check_guest_state(void)
{
	/* TODO 08-7
	 * SDM 27.2.1.1: "unrestricted guest" needs "enable EPT". SDM 27.3.1.1: with "unrestricted
	 * guest", CR0.PG = 1 needs CR0.PE = 1; "IA-32e mode guest" = 1 needs CR0.PG = 1 and
	 * CR4.PAE = 1. SDM 27.3.1.2: SS.DPL must be 0 when CR0.PE = 0. SDM 27.3.1.4: RFLAGS.VM
	 * must be 0 when CR0.PE = 0. SDM 27.2.1.3: a valid event to inject must not have "deliver
	 * error code" when "unrestricted guest" is 1 and CR0.PE = 0.
	 * Do: return the first of these rules (in the order of enum ug_state_problem) that the
	 * current VMCS breaks, or UG_STATE_OK. Only a guest with "unrestricted guest" on is judged.
	 * Hint: AR_DPL(3) masks the DPL in the access rights; RFLAGS_VM, INTR_INFO_VALID,
	 * INTR_INFO_DELIVER_ERROR_CODE.
	 */
	TODO("08-7");
}
