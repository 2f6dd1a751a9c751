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
	if (!s->earlier_exception_handler) { /* take exit reason 0, and keep the handler we replace */
		s->earlier_exception_handler = exit_handler_for(EXIT_REASON_EXCEPTION_OR_NMI);
		if (!s->earlier_exception_handler)
			panic("lab 06: no handler for exit reason 0 to chain to (lab 04 registers one)");
		exit_register(EXIT_REASON_EXCEPTION_OR_NMI, handle_exception_or_nmi);
	}
	struct breakpoint *b = &s->breakpoints[s->breakpoint_count++];
	b->rip = rip;
	/* BEGIN 06-4 unused: b
	 * Achieve: when the guest reaches the instruction at b->rip, it raises #BP and that #BP
	 * exits to the hypervisor; b->original keeps what is needed to undo it and b->planted
	 * says it is in place. Whatever other exceptions exited before still exit.
	 * SDM 25.6.3: "When an exception occurs, its vector is used to select a bit in this
	 * field. If the bit is 1, the exception causes a VM exit."
	 * Hints: docs/labs/06-mtf.md, step 06-4.
	 */
	u8 *code = guest_linear_to_host(v, b->rip);
	b->original = *code;
	*code = INT3_OPCODE;
	b->planted = true;
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_BP), true);
	/* END 06-4 */
	return b;
}

/* Exit reason 0: a #BP at one of our breakpoints, or an exception for the earlier handler. */
static enum exit_verdict handle_exception_or_nmi(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	u32 info = (u32)vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION);
	struct breakpoint *b = breakpoint_at(v, v->exit.guest_rip);
	/* BEGIN 06-5 unused: s, info, b, reflect_guest_int3
	 * Achieve: a #BP from INT3 at a planted breakpoint is counted (b->hits) and the guest
	 * then runs the real instruction at that address exactly once before the hypervisor
	 * regains control, with s->stepping naming the breakpoint for step 06-6. A #BP from an
	 * INT3 the hypervisor did not plant goes to reflect_guest_int3() (step 06-7); every
	 * other exception, and every NMI, goes unchanged to s->earlier_exception_handler.
	 * SDM 28.3.3: "If the VM exit is due to a software exception (due to an execution of
	 * INT3 or INTO), the value saved references the INT3 or INTO instruction that caused
	 * that exception."
	 * Hints: docs/labs/06-mtf.md, step 06-5.
	 */
	bool int3 = INTR_INFO_VECTOR(info) == VEC_BP && INTR_INFO_TYPE(info) == INTR_TYPE_SOFTWARE_EXCEPTION;
	if (!int3)
		return s->earlier_exception_handler(v);
	if (!b || !b->planted)
		return reflect_guest_int3(v);
	b->hits++;
	*(u8 *)guest_linear_to_host(v, b->rip) = b->original;
	b->planted = false;
	s->stepping = b;
	mtf_set(v, true);
	return EXIT_RESUME;
	/* END 06-5 */
}

void breakpoint_stepped(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	/* BEGIN 06-6 unused: s
	 * Achieve: the breakpoint that was stepped (s->stepping) is planted and marked planted
	 * again, so the next time the guest reaches it, it traps again; s->stepping is NULL.
	 * SDM 26.5.2: "If the instruction does not cause a fault, an MTF VM exit is pending on
	 * the instruction boundary following execution of that instruction."
	 * Hints: docs/labs/06-mtf.md, step 06-6.
	 */
	struct breakpoint *b = s->stepping;
	*(u8 *)guest_linear_to_host(v, b->rip) = INT3_OPCODE;
	b->planted = true;
	s->stepping = NULL;
	/* END 06-6 */
}

/* An INT3 that is not one of our breakpoints: the guest's own #BP. */
static enum exit_verdict reflect_guest_int3(struct vcpu *v)
{
	/* BEGIN 06-7 unused: v
	 * Achieve: the guest receives its own INT3 as it would without a hypervisor: #BP whose
	 * handler returns after the INT3, or, where the gate's DPL forbids INT3 at the guest's
	 * CPL, #GP at the INT3. GUEST_RIP stays on the INT3.
	 * SDM 25.8.3 (VM-entry instruction length): "For injection of events whose type is
	 * software interrupt, software exception, or privileged software exception, this field
	 * is used to determine the value of RIP that is pushed on the stack."
	 * Hints: docs/labs/06-mtf.md, step 06-7.
	 */
	vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION, intr_info(VEC_BP, INTR_TYPE_SOFTWARE_EXCEPTION, false));
	vmcs_write(VM_ENTRY_INSTRUCTION_LENGTH, v->exit.instruction_length);
	return EXIT_RESUME;
	/* END 06-7 */
}
