/* Lab 08 (the unrestricted guest): the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "lab02.h"
#include "lab07.h"
#include "vcpu.h"

struct lab08_vcpu {
	u16 int15_ip, int15_cs; /* the BIOS's INT 15h vector, before ug_hook_int15() */
	u64 ram_end;            /* the guest's RAM: [0, E820_EBDA) and [1 MiB, ram_end) */
	u64 machine_end;        /* the machine's RAM ends here: [ram_end, machine_end) is the
					 * hypervisor's, never the guest's */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab08_vcpu *lab08(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab08_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[8])
		v->lab_state[8] = page_alloc();
	return v->lab_state[8];
}

/* I/O ports of Bochs's PC that a guest running the machine's BIOS must not reach: they act on
 * the whole machine, the hypervisor included (see the handout). */
#define PORT_KBC_DATA 0x60         /* 8042: command 0xD1 masks A20 */
#define PORT_KBC_COMMAND 0x64      /* 8042: command 0xFE resets the machine */
#define PORT_SYSTEM_CONTROL_A 0x92 /* bit 0 resets the machine, bit 1 masks A20 */
#define PORT_ROMBIOS_DEBUG 0x400   /* 0x400-0x403: rombios panic and info messages */
#define PORT_VGABIOS_DEBUG 0x500   /* 0x500-0x503: the VGA BIOS's */
#define PORT_DEBUG_COUNT 4
#define PORT_RESET_CONTROL 0xcf9   /* PCI reset control */
#define PORT_BOCHS_SHUTDOWN 0x8900 /* "Shutdown" written here powers Bochs off */

/* INT 15h, AX = E820h (ACPI, "Query System Address Map"): one entry per call. */
#define E820_SIGNATURE 0x534d4150 /* "SMAP", in EDX on the call and in EAX on the return */
#define E820_ENTRY_SIZE 20        /* base (8 bytes), length (8), type (4) */
#define E820_USABLE 1
#define E820_RESERVED 2
#define E820_EBDA 0x9fc00 /* where the extended BIOS data area starts */
#define E820_BIOS 0xe0000 /* the BIOS ROM: 0xE0000-0xFFFFF */

/* SDM 27.2.1 and 27.3.1: the rules a real-mode unrestricted guest's state can break, which
 * ug_check_guest_state() tells apart before the entry. */
enum ug_state_problem {
	UG_STATE_OK = 0,
	UG_WITHOUT_EPT = 1,             /* "unrestricted guest" without "enable EPT" */
	UG_PG_WITHOUT_PE = 2,           /* CR0.PG = 1 with CR0.PE = 0 */
	UG_IA32E_WITHOUT_PG = 3,        /* "IA-32e mode guest" with CR0.PG = 0 (or CR4.PAE = 0) */
	UG_SS_DPL_NOT_0 = 4,            /* CR0.PE = 0 and SS.DPL != 0 */
	UG_VM_IN_REAL_MODE = 5,         /* CR0.PE = 0 and RFLAGS.VM = 1 */
	UG_ERROR_CODE_IN_REAL_MODE = 6, /* an injected event with "deliver error code" and CR0.PE = 0 */
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
/* firmware.c: the machine's BIOS as guest code: its ports, and the memory map it reports */
void ug_firmware_io(struct vcpu *v);
void ug_hook_int15(struct vcpu *v, u64 stub_gpa);
void ug_e820_answer(struct vcpu *v);
