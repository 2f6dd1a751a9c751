/* Lab 02: event injection, the hypervisor's way to make the guest take an exception
 * (SDM Vol. 3C, 25.8.3 and 27.6.1). */
#include "lab.h"
#include "lab02.h"

/* Makes the next VM entry deliver exception `vector` (with `error_code` where it has one). */
void vmx_inject_exception(struct vcpu *v, u8 vector, u32 error_code)
{
	(void)v;
	/* BEGIN 02-1 unused: vector, error_code
	 * SDM 25.8.3: the VM-entry interruption-information field holds the vector (bits 7:0),
	 * the type (bits 10:8; 3 = hardware exception), "deliver error code" (bit 11) and "valid"
	 * (bit 31); the error code goes into the VM-entry exception error code field. SDM 27.6.1:
	 * the next VM entry delivers the event through the guest's IDT as if it had just happened.
	 * Exceptions with an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC and #CP (SDM 6.3.1).
	 * Do: build the field for a hardware exception, set bit 11 and write the error code only
	 * for the vectors that push one, and write the field.
	 * Hint: intr_info() and INTR_TYPE_* are in vmx_exit.h, VEC_* in x86.h. Injecting does
	 * not move the guest's RIP: a fault points at the instruction that caused it.
	 */
	const u32 with_error_code = BIT(VEC_DF) | BIT(VEC_TS) | BIT(VEC_NP) | BIT(VEC_SS) |
				    BIT(VEC_GP) | BIT(VEC_PF) | BIT(VEC_AC) | BIT(VEC_CP);
	bool has_error_code = vector < 32 && (with_error_code & BIT(vector));
	if (has_error_code)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
	vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION,
		   intr_info(vector, INTR_TYPE_HARDWARE_EXCEPTION, has_error_code));
	/* END 02-1 */
}
