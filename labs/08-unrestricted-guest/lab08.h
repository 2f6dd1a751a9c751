/* Lab 08 (the unrestricted guest): the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "lab07.h"
#include "vcpu.h"

/* SDM 27.2.1 and 27.3.1: the rules a real-mode unrestricted guest's state can break, which
 * ug_check_guest_state() tells apart before the entry. */
enum ug_state_problem {
	UG_STATE_OK = 0,
	UG_WITHOUT_EPT = 1,			/* "unrestricted guest" without "enable EPT" */
	UG_PG_WITHOUT_PE = 2,		/* CR0.PG = 1 with CR0.PE = 0 */
	UG_IA32E_WITHOUT_PG = 3,		/* "IA-32e mode guest" with CR0.PG = 0 (or CR4.PAE = 0) */
	UG_SS_DPL_NOT_0 = 4,		/* CR0.PE = 0 and SS.DPL != 0 */
	UG_VM_IN_REAL_MODE = 5,		/* CR0.PE = 0 and RFLAGS.VM = 1 */
	UG_ERROR_CODE_IN_REAL_MODE = 6,	/* an injected event with "deliver error code" and CR0.PE = 0 */
};

static inline const char *ug_state_problem_name(enum ug_state_problem p)
{
	static const char *const names[] = {
		[UG_STATE_OK] = "none of the rules ug_check_guest_state() knows is broken",
		[UG_WITHOUT_EPT] = "\"unrestricted guest\" is on without \"enable EPT\" (SDM 27.2.1.1)",
		[UG_PG_WITHOUT_PE] = "CR0.PG is 1 while CR0.PE is 0 (SDM 27.3.1.1)",
		[UG_IA32E_WITHOUT_PG] = "\"IA-32e mode guest\" is 1 while CR0.PG or CR4.PAE is 0 "
					"(SDM 27.3.1.1; Bochs panics instead of failing the entry)",
		[UG_SS_DPL_NOT_0] = "SS.DPL is not 0 while CR0.PE is 0 (SDM 27.3.1.2)",
		[UG_VM_IN_REAL_MODE] = "RFLAGS.VM is 1 while CR0.PE is 0 (SDM 27.3.1.4)",
		[UG_ERROR_CODE_IN_REAL_MODE] = "an event is injected with \"deliver error code\" while "
					       "CR0.PE is 0 (SDM 27.2.1.3)",
	};
	return (unsigned)p < ARRAY_SIZE(names) ? names[p] : "unknown";
}

/* The steps of lab 08, implemented by the student (labs/08-unrestricted-guest). */
/* unrestricted.c: the control, the state after a BIOS hands over, the CR bits the guest owns */
void ug_enable(struct vcpu *v);
void ug_setup_real_mode(struct vcpu *v, u16 cs, u16 ip, u16 sp);
void ug_cr_policy(struct vcpu *v);
/* modes.c: IA32_EFER and the "IA-32e mode guest" control; the PDPTEs of a PAE-paging guest */
void ug_efer_setup(struct vcpu *v);
void ug_load_pdptes(struct vcpu *v);
/* events.c: events into a real-mode guest; the entry checks of its state */
void ug_inject_event(struct vcpu *v, u8 vector, enum interruption_type type, u32 error_code);
enum ug_state_problem ug_check_guest_state(void);
