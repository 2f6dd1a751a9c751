/* Lab 08: events into a real-mode guest, and the entry checks of its state, made before the
 * entry (SDM Vol. 3C, 27.2.1, 27.3.1, 27.6.1; Vol. 3A, 7.3.1, 21.1.4). */
#include "lab.h"
#include "lab08.h"

/* Makes the next VM entry deliver event `vector` of `type`, in real mode through the IVT. */
void ug_inject_event(struct vcpu *v, u8 vector, enum interruption_type type, u32 error_code)
{
	(void)v;
	/* BEGIN 08-6 unused: vector, type, error_code
	 * Achieve: the next VM entry accepts and delivers event `vector` of `type`, with error_code
	 * exactly when the guest's current mode would push one: never in real mode.
	 * SDM 27.2.1.3: "The field's deliver-error-code bit (bit 11) is 1 if and only if (1) either
	 * (a) the "unrestricted guest" VM-execution control is 0; or (b) bit 0 (corresponding to
	 * CR0.PE) is set in the CR0 field in the guest-state area; (2) the interruption type is
	 * hardware exception; and (3) the vector indicates an exception that would normally deliver
	 * an error code".
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-6.
	 */
	const u32 with_error_code = BIT(VEC_DF) | BIT(VEC_TS) | BIT(VEC_NP) | BIT(VEC_SS) | BIT(VEC_GP) |
				    BIT(VEC_PF) | BIT(VEC_AC) | BIT(VEC_CP);
	bool protected_mode = vmcs_read(GUEST_CR0) & CR0_PE;
	bool deliver = protected_mode && type == INTR_TYPE_HARDWARE_EXCEPTION && vector < 32 &&
		       (with_error_code & BIT(vector));
	if (deliver)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
	vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION, intr_info(vector, type, deliver));
	/* END 08-6 */
}

/* Which rule of a real-mode unrestricted guest the current VMCS breaks, checked before the
 * entry: Bochs panics on one of them instead of failing the entry. */
enum ug_state_problem ug_check_guest_state(void)
{
	/* BEGIN 08-7
	 * Achieve: the first rule of enum ug_state_problem (in its order) that the current VMCS
	 * breaks, or UG_STATE_OK; each rule judged only where the SDM applies it, and no rule at
	 * all for a guest with "unrestricted guest" not in effect.
	 * SDM 27.2.1.1: "If the "unrestricted guest" VM-execution control is 1, the "enable EPT"
	 * VM-execution control must also be 1."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-7.
	 */
	u64 secondary = vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
	if (!(vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) & CPU_ACTIVATE_SECONDARY_CONTROLS) ||
	    !(secondary & CPU2_UNRESTRICTED_GUEST))
		return UG_STATE_OK;
	u64 cr0 = vmcs_read(GUEST_CR0), cr4 = vmcs_read(GUEST_CR4);
	bool pe = cr0 & CR0_PE;
	u64 event = vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION);
	if (!(secondary & CPU2_ENABLE_EPT))
		return UG_WITHOUT_EPT;
	if ((cr0 & CR0_PG) && !pe)
		return UG_PG_WITHOUT_PE;
	if ((vmcs_read(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST) && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
		return UG_IA32E_WITHOUT_PG;
	if (!pe && (vmcs_read(GUEST_SS_ACCESS_RIGHTS) & AR_DPL(3)))
		return UG_SS_DPL_NOT_0;
	if (!pe && (vmcs_read(GUEST_RFLAGS) & RFLAGS_VM))
		return UG_VM_IN_REAL_MODE;
	if (!pe && (event & INTR_INFO_VALID) && (event & INTR_INFO_DELIVER_ERROR_CODE))
		return UG_ERROR_CODE_IN_REAL_MODE;
	return UG_STATE_OK;
	/* END 08-7 */
}
