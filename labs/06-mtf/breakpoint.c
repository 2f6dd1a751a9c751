/* Lab 06: software breakpoints that survive execution: INT3 planted in guest code, the #BP
 * taken through the exception bitmap, the original instruction stepped over with MTF. */
#include "lab.h"
#include "lab06.h"

static struct breakpoint *breakpoint_at(struct vcpu *v, u64 rip)
{
	struct lab06_vcpu *s = lab06(v);
	for (unsigned i = 0; i < s->breakpoint_count; i++)
		if (s->breakpoints[i].rip == rip)
			return &s->breakpoints[i];
	return NULL;
}

static enum exit_verdict handle_exception_or_nmi(struct vcpu *v);
static enum exit_verdict reflect_guest_int3(struct vcpu *v);

struct breakpoint *breakpoint_set(struct vcpu *v, u64 rip)
{
	struct lab06_vcpu *s = lab06(v);
	if (s->breakpoint_count == BREAKPOINTS_MAX)
		return NULL;
	if (!s->earlier_exception_handler) {	/* take exit reason 0, and keep the handler we replace */
		s->earlier_exception_handler = exit_handler_for(EXIT_REASON_EXCEPTION_OR_NMI);
		if (!s->earlier_exception_handler)
			panic("lab 06: no handler for exit reason 0 to chain to (lab 04 registers one)");
		exit_register(EXIT_REASON_EXCEPTION_OR_NMI, handle_exception_or_nmi);
	}
	struct breakpoint *b = &s->breakpoints[s->breakpoint_count++];
	b->rip = rip;
	/* TODO 06-4
	 * SDM Vol. 2 (INT3): opcode CC is one byte, so it fits over the first byte of any
	 * instruction. SDM 25.6.3: a 1 in bit 3 of the exception bitmap makes #BP cause a VM exit
	 * instead of going through the guest's IDT. The guest shares the host's memory and page
	 * tables 1:1 in this lab, and those map everything writable, its code included.
	 * Do: save the byte at b->rip, write INT3 over it, mark the breakpoint planted, and set
	 * the #BP bit in the exception bitmap.
	 * Hint: guest_linear_to_host(); INT3_OPCODE (lab06.h); VEC_BP (x86.h); vmcs_set_bits().
	 */
	(void)b;
	TODO("06-4");
	return b;
}

/* Exit reason 0: a #BP at one of our breakpoints, or an exception for the earlier handler. */
static enum exit_verdict handle_exception_or_nmi(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	u32 info = (u32)vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION);
	struct breakpoint *b = breakpoint_at(v, v->exit.guest_rip);
	/* TODO 06-5
	 * SDM 28.2.2: the exit interruption information names the exception: vector 3 (#BP),
	 * type 6 (software exception) for INT3. SDM 26.2 and 28.3.3: an exception that exits
	 * through the exception bitmap is not delivered, and for INT3 the saved guest RIP is the
	 * address of the INT3 itself: here, the one the hypervisor planted.
	 * Do: for a #BP from INT3 at a planted breakpoint: count the hit, write the original
	 * byte back, remember the breakpoint in s->stepping and turn MTF on, so that the guest
	 * runs the real instruction once and exits (step 06-6 plants INT3 again). Leave GUEST_RIP
	 * where it is. Any other INT3 is the guest's own: give it back (step 06-7). Every other
	 * exception, and every NMI, goes unchanged to s->earlier_exception_handler (lab 04's).
	 * Hint: INTR_INFO_VECTOR(), INTR_INFO_TYPE(), INTR_TYPE_SOFTWARE_EXCEPTION (vmx_exit.h);
	 * guest_linear_to_host(); mtf_set() (06-1).
	 */
	(void)s;
	(void)info;
	(void)b;
	(void)reflect_guest_int3;
	TODO("06-5");
}

void breakpoint_stepped(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	/* TODO 06-6
	 * SDM 26.5.2: the MTF VM exit comes on the boundary after the restored instruction (or
	 * after the delivery of a fault it raised), so the instruction has run exactly once.
	 * Do: plant INT3 again over the breakpoint in s->stepping, mark it planted, and set
	 * s->stepping to NULL. (The MTF handler then turns MTF off unless the tracer needs it.)
	 * Hint: the original byte is still in the breakpoint; only INT3 goes back.
	 */
	(void)s;
	TODO("06-6");
}

/* An INT3 that is not one of our breakpoints: the guest's own #BP. */
static enum exit_verdict reflect_guest_int3(struct vcpu *v)
{
	/* TODO 06-7
	 * SDM 27.6.1.1 and 25.8.3: INT3 raises a software exception (interruption type 6). To
	 * deliver one the way the guest's INT3 would have, VM entry needs its instruction length
	 * in VM_ENTRY_INSTRUCTION_LENGTH: the return address the guest's handler sees is RIP plus
	 * that length, the address after the INT3. SDM 28.2.5: an exit caused by the INT3 reports
	 * that length in the VM-exit instruction-length field.
	 * Do: inject #BP as a software exception, with the exit's instruction length; leave
	 * GUEST_RIP on the INT3. (Lab 04's handler reflects hardware exceptions only: a #BP
	 * injected as one would return to the INT3 itself.)
	 * Hint: intr_info() (vmx_exit.h); v->exit.instruction_length.
	 */
	(void)v;
	TODO("06-7");
}
