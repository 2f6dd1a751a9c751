/* Lab 08: events into a real-mode guest, and the entry checks of its state, made before the
 * entry (SDM Vol. 3C, 27.2.1, 27.3.1, 27.6.1; Vol. 3A, 7.3.1, 21.1.4). */
#include "lab.h"
#include "lab08.h"

/* Makes the next VM entry deliver event `vector` of `type`, in real mode through the IVT. */
void ug_inject_event(struct vcpu *v, u8 vector, enum interruption_type type, u32 error_code)
{
	(void)v;
	/* TODO 08-6
	 * Achieve: the next VM entry accepts and delivers event `vector` of `type`, with error_code
	 * exactly when the guest's current mode would push one: never in real mode.
	 * SDM 27.2.1.3: "The field's deliver-error-code bit (bit 11) is 1 if and only if (1) either
	 * (a) the "unrestricted guest" VM-execution control is 0; or (b) bit 0 (corresponding to
	 * CR0.PE) is set in the CR0 field in the guest-state area; (2) the interruption type is
	 * hardware exception; and (3) the vector indicates an exception that would normally deliver
	 * an error code".
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-6.
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
	 * Achieve: the first rule of enum ug_state_problem (in its order) that the current VMCS
	 * breaks, or UG_STATE_OK; each rule judged only where the SDM applies it, and no rule at
	 * all for a guest with "unrestricted guest" not in effect.
	 * SDM 27.2.1.1: "If the "unrestricted guest" VM-execution control is 1, the "enable EPT"
	 * VM-execution control must also be 1."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-7.
	 */
	TODO("08-7");
}
