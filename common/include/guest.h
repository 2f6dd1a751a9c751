/* The guest runtime: what runs in VMX non-root operation before and after a check's program. */
#pragma once
#include "types.h"
#include "hypercall.h"
#include "trap.h"

/* The first guest instruction (set GUEST_RIP to it) and the top of the guest's stack. */
void guest_start(void);
extern u8 guest_stack_top[];

/* Reports a value to the hypervisor (and so to the grader) through VMCALL. */
static inline void guest_report(const char *key, u64 value) { hypercall(HC_REPORT, (u64)key, value); }
static inline void guest_puts(const char *s) { hypercall(HC_PUTS, (u64)s, 0); }

/* An exception caught by guest_catch() or guest_user(). */
struct guest_fault {
	u64 vector, error_code, rip;
};
#define GUEST_USER_RETURN_VECTOR 0x80 /* INT 0x80 (DPL 3): ring-3 code is done */

/* Runs fn(arg) at CPL 0; returns true (and fills *fault) if an exception interrupted it. */
bool guest_catch(void (*fn)(u64), u64 arg, struct guest_fault *fault);
/* Runs fn(arg) at CPL 3 on a user stack, with IOPL 0 and IF 0; same result as guest_catch(). */
bool guest_user(void (*fn)(u64), u64 arg, struct guest_fault *fault);

/* Interrupts and NMIs in the guest go to this hook when it is set (vector in f->vector);
 * it runs on the interrupted stack and returns with IRETQ. */
extern void (*guest_interrupt_hook)(struct trap_frame *f);
/* The guest's IDT, filled by guest_idt_init() (the guest runtime calls it first thing). */
extern struct idt_gate guest_idt[];
void guest_idt_init(void);

/* The program the current check runs in the guest; set by the harness before VM entry. */
typedef void (*guest_program)(u64 nonce);
extern guest_program guest_program_to_run;
