/* The guest runtime: its own IDT and stack, then the check's program, then HC_DONE. */
#include "guest.h"
#include "params.h"
#include "trap.h"
#include "segment.h"
#include "x86.h"

#define GATE_DPL3 0x60

u64 guest_catch_call(void (*fn)(u64), u64 arg, bool user);
extern u8 catch_active;
extern u64 catch_rsp;
extern u8 catch_landing[], catch_returned_landing[];
static struct guest_fault last_fault;

struct idt_gate guest_idt[IDT_VECTORS] __aligned(16);
void (*guest_interrupt_hook)(struct trap_frame *f);
guest_program guest_program_to_run;

void guest_idt_init(void)
{
	idt_fill(guest_idt, guest_vector_stubs);
	guest_idt[GUEST_USER_RETURN_VECTOR].type_attr |= GATE_DPL3;
	guest_idt[VEC_NMI].ist = 0; /* on the interrupted stack: a nested NMI stays visible */
}

void guest_main(void)
{
	struct descriptor_table d = { sizeof(guest_idt) - 1, (u64)guest_idt };
	guest_idt_init();
	__asm__ volatile("lidt %0" : : "m"(d));
	if (guest_program_to_run)
		guest_program_to_run(boot_params.nonce);
	for (;;)
		hypercall(HC_DONE, 0, 0);
}

static bool catch_run(void (*fn)(u64), u64 arg, bool user, struct guest_fault *fault)
{
	last_fault = (struct guest_fault){ 0, 0, 0 };
	bool faulted = guest_catch_call(fn, arg, user) != 0;
	if (fault)
		*fault = last_fault;
	return faulted;
}

bool guest_catch(void (*fn)(u64), u64 arg, struct guest_fault *fault)
{
	return catch_run(fn, arg, false, fault);
}

bool guest_user(void (*fn)(u64), u64 arg, struct guest_fault *fault)
{
	return catch_run(fn, arg, true, fault);
}

/* Resume at `landing` in CPL 0 on the stack guest_catch_call() saved. */
static void land(struct trap_frame *f, u8 *landing)
{
	f->rip = (u64)landing;
	f->cs = SEL_KERNEL_CS64;
	f->ss = SEL_KERNEL_DS;
	f->rsp = catch_rsp;
	f->rflags = RFLAGS_FIXED;
}

/* An exception inside guest_catch()/guest_user() is recorded; any other one is reported to the
 * hypervisor and ends the guest. */
void guest_trap(struct trap_frame *f)
{
	bool interrupt = f->vector == VEC_NMI || (f->vector >= 32 && f->vector != GUEST_USER_RETURN_VECTOR);
	if (interrupt && guest_interrupt_hook) {
		guest_interrupt_hook(f);
		return;
	}
	if (catch_active && f->vector == GUEST_USER_RETURN_VECTOR) {
		land(f, catch_returned_landing);
		return;
	}
	if (catch_active) {
		last_fault = (struct guest_fault){ f->vector, f->error_code, f->rip };
		land(f, catch_landing);
		return;
	}
	for (;;)
		hypercall(HC_EXCEPTION, f->vector, f->rip);
}
