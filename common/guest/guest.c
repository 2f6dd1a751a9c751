/* The guest runtime: its own IDT and stack, then the check's program, then HC_DONE. */
#include "guest.h"
#include "params.h"
#include "trap.h"
#include "x86.h"

static struct idt_gate guest_idt[IDT_VECTORS] __aligned(16);
guest_program guest_program_to_run;

void guest_main(void)
{
	struct descriptor_table d = { sizeof(guest_idt) - 1, (u64)guest_idt };
	idt_fill(guest_idt, guest_vector_stubs);
	__asm__ volatile("lidt %0" : : "m"(d));
	if (guest_program_to_run)
		guest_program_to_run(boot_params.nonce);
	for (;;)
		hypercall(HC_DONE, 0, 0);
}

/* An exception in the guest that no check expected: tell the hypervisor and stop. */
void guest_trap(struct trap_frame *f)
{
	for (;;)
		hypercall(HC_EXCEPTION, f->vector, f->rip);
}
