/* Lab 02: event injection, the hypervisor's way to make the guest take an exception
 * (SDM Vol. 3C, 25.8.3 and 27.6.1). */
#include "lab.h"
#include "lab02.h"

/* Makes the next VM entry deliver exception `vector` (with `error_code` where it has one). */
void vmx_inject_exception(struct vcpu *v, u8 vector, u32 error_code)
{
	(void)v;
	/* BEGIN 02-1 unused: vector, error_code
	 * Achieve: the next VM entry makes the guest take exception `vector` as a hardware
	 * exception, with `error_code` pushed exactly for the vectors that push one on real
	 * hardware, and with the guest's RIP left where it is.
	 * SDM 25.8.3: "For exceptions, the deliver-error-code bit (bit 11) determines whether
	 * delivery pushes an error code on the guest stack."
	 * Hints: docs/labs/02-exits.md, step 02-1.
	 */
	const u32 with_error_code = BIT(VEC_DF) | BIT(VEC_TS) | BIT(VEC_NP) | BIT(VEC_SS) | BIT(VEC_GP) |
				    BIT(VEC_PF) | BIT(VEC_AC) | BIT(VEC_CP);
	bool has_error_code = vector < 32 && (with_error_code & BIT(vector));
	if (has_error_code)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
	vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION,
		   intr_info(vector, INTR_TYPE_HARDWARE_EXCEPTION, has_error_code));
	/* END 02-1 */
}
