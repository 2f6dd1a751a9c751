/* The guest runtime: what runs in VMX non-root operation before and after a check's program. */
#pragma once
#include "types.h"
#include "hypercall.h"

/* The first guest instruction (set GUEST_RIP to it) and the top of the guest's stack. */
void guest_start(void);
extern u8 guest_stack_top[];

/* Reports a value to the hypervisor (and so to the grader) through VMCALL. */
static inline void guest_report(const char *key, u64 value) { hypercall(HC_REPORT, (u64)key, value); }
static inline void guest_puts(const char *s) { hypercall(HC_PUTS, (u64)s, 0); }

/* The program the current check runs in the guest; set by the harness before VM entry. */
typedef void (*guest_program)(u64 nonce);
extern guest_program guest_program_to_run;
