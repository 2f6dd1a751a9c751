/* Lab 04 checks: a real interrupt source (the local APIC timer), self-NMIs, events queued
 * before the guest's first instruction (in an STI or MOV SS shadow, or several at once),
 * interrupt and NMI windows, reflected exceptions, and events whose delivery exits. */
#include "apic.h"
#include "check.h"
#include "lab.h"
#include "lab04.h"
#include "lab04_shared.h"

#define TIMER_TICKS 50000    /* the one-shot fires this long after the check's setup */
#define SPIN_LIMIT 3000000UL /* how long a guest waits for an event before giving up */
#define GATE_PRESENT 0x80    /* type_attr bit 7 of an IDT gate */
_Static_assert(VEC_REINJECT == HV_VECTOR_BASE - 1 && VEC_HOST == HV_VECTOR_BASE,
	       "lab04_shared.h: the vectors on both sides of HV_VECTOR_BASE (lab04.h)");

/* ---- the guest's side: what its interrupt/NMI handler saw ---- */

static volatile u64 seen_count, seen_vector, seen_rip, seen_in_cli, seen_order, nmi_depth, nmi_max_depth;
static volatile u64 in_cli;

static void record_interrupt(struct trap_frame *f)
{
	seen_count++;
	seen_vector = f->vector;
	seen_rip = f->rip;
	seen_in_cli = in_cli;
	seen_order = seen_order << 8 | f->vector;
	if (f->vector != VEC_NMI)
		apic_eoi();
}

static void spin_until_seen(u64 count)
{
	for (u64 i = 0; i < SPIN_LIMIT && seen_count < count; i++)
		__asm__ volatile("" : : : "memory");
}

static void report_seen(void)
{
	guest_report("irq.count", seen_count);
	guest_report("irq.vector", seen_vector);
}

static void guest_wait_with_if1(u64 nonce)
{
	(void)nonce;
	__asm__ volatile("sti");
	spin_until_seen(1);
	__asm__ volatile("cli");
	report_seen();
}

/* ---- host side ---- */

static void arm_timer(u8 vector)
{
	guest_interrupt_hook = record_interrupt;
	apic_timer_oneshot(vector, TIMER_TICKS);
}

static void setup_reinject(struct vcpu *v)
{
	(void)v;
	arm_timer(VEC_REINJECT);
}
static void setup_consume(struct vcpu *v)
{
	(void)v;
	arm_timer(VEC_HOST);
}

static void setup_direct(struct vcpu *v)
{
	(void)v;
	vmcs_set_bits(PIN_BASED_VM_EXECUTION_CONTROLS, PIN_EXTERNAL_INTERRUPT_EXITING, false);
	vmcs_set_bits(VM_EXIT_CONTROLS, EXIT_ACKNOWLEDGE_INTERRUPT_ON_EXIT, false);
	arm_timer(VEC_DIRECT);
}

static void verify_consume(struct vcpu *v)
{
	report_fact("host.in_service", "%d", apic_in_service(VEC_HOST));
	report_fact("host.host_interrupts", "%lu", lab04(v)->host_interrupts);
}

/* The interrupt fires while the guest runs with IF = 0; it must wait for STI plus one
 * instruction, and arrive exactly at window_label. */
extern char window_label[];

static void guest_window(u64 nonce)
{
	(void)nonce;
	in_cli = 1;
	__asm__ volatile("cli");
	for (u64 i = 0; i < SPIN_LIMIT / 4; i++)
		__asm__ volatile("" : : : "memory");
	in_cli = 0;
	__asm__ volatile("sti; nop; .globl window_label; window_label: nop" : : : "memory");
	spin_until_seen(1);
	__asm__ volatile("cli");
	report_seen();
	guest_report("irq.rip_is_window_label", seen_rip == (u64)window_label);
	guest_report("irq.arrived_with_if0", seen_in_cli);
}

static void setup_window(struct vcpu *v)
{
	(void)v;
	arm_timer(VEC_WINDOW);
}

/* Events queued before the first entry, with the guest's first instruction at first_entry
 * (IF = 1) and the given blocking: they may arrive only after it, at first_label. */
extern char first_entry[], first_label[];
__asm__(".text\n"
	"first_entry: nop\n"
	"first_label: jmp guest_start\n");

static void start_guest_with(u64 blocking)
{
	guest_idt_init();
	guest_interrupt_hook = record_interrupt;
	vmcs_write(GUEST_IDTR_BASE, (u64)guest_idt);
	vmcs_write(GUEST_IDTR_LIMIT, IDT_VECTORS * sizeof(struct idt_gate) - 1);
	vmcs_write(GUEST_RIP, (u64)first_entry);
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) | RFLAGS_IF);
	vmcs_write(GUEST_INTERRUPTIBILITY_STATE, blocking);
}

static void setup_sti_shadow(struct vcpu *v)
{
	start_guest_with(INTERRUPTIBILITY_BLOCKING_BY_STI);
	vcpu_queue_interrupt(v, VEC_SHADOW);
}

static void setup_mov_ss_shadow(struct vcpu *v)
{
	start_guest_with(INTERRUPTIBILITY_BLOCKING_BY_MOV_SS);
	vcpu_queue_interrupt(v, VEC_MOV_SS_SHADOW);
}

static void setup_nmi_shadow(struct vcpu *v)
{
	start_guest_with(INTERRUPTIBILITY_BLOCKING_BY_MOV_SS);
	vcpu_queue_nmi(v);
}

/* An NMI and two interrupts wait at once: one per entry, the NMI first, then by vector. */
static void setup_event_order(struct vcpu *v)
{
	start_guest_with(0);
	vcpu_queue_interrupt(v, VEC_ORDER_LOW);
	vcpu_queue_interrupt(v, VEC_ORDER_HIGH);
	vcpu_queue_nmi(v);
}

static void guest_after_first(u64 nonce)
{
	(void)nonce;
	report_seen();
	guest_report("irq.rip_after_shadow", seen_rip == (u64)first_label);
	guest_report("irq.order", seen_order);
}

/* NMIs: the handler's own self-NMI must wait until its IRET (virtual-NMI blocking). */
static void record_nmi(struct trap_frame *f)
{
	if (f->vector != VEC_NMI)
		return record_interrupt(f);
	nmi_depth++;
	if (nmi_depth > nmi_max_depth)
		nmi_max_depth = nmi_depth;
	seen_count++;
	if (seen_count == 1) {
		apic_self_nmi();
		for (u64 i = 0; i < SPIN_LIMIT / 8; i++)
			__asm__ volatile("" : : : "memory");
	}
	nmi_depth--;
}

static void guest_nmi(u64 nonce)
{
	(void)nonce;
	guest_interrupt_hook = record_nmi;
	apic_self_nmi();
	spin_until_seen(2);
	guest_report("nmi.count", seen_count);
	guest_report("nmi.max_depth", nmi_max_depth);
}

/* Exceptions that exit through the exception bitmap go back to the guest unchanged. */
static void load_fs(u64 selector) { __asm__ volatile("mov %0, %%fs" : : "r"((u16)selector)); }
static void run_ud2(u64 unused)
{
	(void)unused;
	__asm__ volatile("ud2");
}

static void report_fault(const char *vector_key, const char *error_key, void (*fn)(u64), u64 arg)
{
	struct guest_fault fault = { 0 };
	guest_catch(fn, arg, &fault);
	guest_report(vector_key, fault.vector);
	if (error_key)
		guest_report(error_key, fault.error_code);
}

static void guest_reflect(u64 nonce)
{
	(void)nonce;
	report_fault("fault.gp_vector", "fault.gp_error", load_fs, BAD_SELECTOR);
	report_fault("fault.ud_vector", NULL, run_ud2, 0);
}

static void setup_reflect(struct vcpu *v)
{
	(void)v;
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_GP) | BIT(VEC_UD), true);
}

/* An IRET that unblocks NMIs and then faults: the guest's NMI handler returns through an IRETQ
 * with a non-canonical RIP. The #GP exits (exception bitmap) with bit 12 of the exit
 * interruption information set (SDM 28.2.3); the hypervisor must restore blocking by NMI, since
 * the guest will run that IRET again after its #GP handler. */
static exit_handler student_exception_handler;

static void faulting_iret(u64 unused)
{
	(void)unused;
	__asm__ volatile("mov %%rsp, %%rax\n"
			 "push %0\n push %%rax\n pushf\n push %1\n push %2\n iretq"
			 :
			 : "i"(SEL_KERNEL_DS), "i"(SEL_KERNEL_CS64), "r"(1UL << 63)
			 : "rax", "memory");
}

static void record_nmi_then_faulting_iret(struct trap_frame *f)
{
	record_interrupt(f);
	if (f->vector == VEC_NMI)
		report_fault("fault.iret_vector", NULL, faulting_iret, 0);
}

static void guest_nmi_iret_fault(u64 nonce)
{
	(void)nonce;
	guest_interrupt_hook = record_nmi_then_faulting_iret;
	apic_self_nmi();
	spin_until_seen(1);
	report_seen();
}

static enum exit_verdict observe_iret_fault(struct vcpu *v)
{
	u32 info = (u32)vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION);
	enum exit_verdict verdict = student_exception_handler(v);
	if (INTR_INFO_TYPE(info) != INTR_TYPE_HARDWARE_EXCEPTION)
		return verdict;
	report_fact("iret_fault.exit_info", "0x%x", info);
	report_fact("iret_fault.blocking_by_nmi", "%d",
		    !!(vmcs_read(GUEST_INTERRUPTIBILITY_STATE) & INTERRUPTIBILITY_BLOCKING_BY_NMI));
	return verdict;
}

static void setup_nmi_iret_fault(struct vcpu *v)
{
	(void)v;
	student_exception_handler = exit_handler_for(EXIT_REASON_EXCEPTION_OR_NMI);
	exit_register(EXIT_REASON_EXCEPTION_OR_NMI, observe_iret_fault);
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_GP), true);
}

/* Events whose delivery exits: the guest breaks the gate of `broken_vector`, the exception
 * its delivery raises exits (exception bitmap) with the event in the IDT-vectoring
 * information; the check repairs the gate and the hypervisor must deliver the event again. */
static volatile u8 broken_vector;

/* The fact that names the event: one key per vector, since a check may break several gates. */
static const char *vectoring_key(u8 vector)
{
	switch (vector) {
	case VEC_BP:
		return "vectoring.bp_info";
	case VEC_DB:
		return "vectoring.db_info";
	default:
		return "vectoring.info";
	}
}

static enum exit_verdict repair_gate(struct vcpu *v)
{
	u32 idt = (u32)vmcs_read(IDT_VECTORING_INFORMATION);
	if (!(idt & INTR_INFO_VALID) || INTR_INFO_VECTOR(idt) != broken_vector)
		return student_exception_handler(v);
	report_fact(vectoring_key(broken_vector), "0x%x", idt);
	if (idt & INTR_INFO_DELIVER_ERROR_CODE)
		report_fact("vectoring.error", "0x%lx", vmcs_read(IDT_VECTORING_ERROR_CODE));
	guest_idt[broken_vector].selector = SEL_KERNEL_CS64;
	guest_idt[broken_vector].type_attr |= GATE_PRESENT;
	vmcs_write(VM_ENTRY_INSTRUCTION_LENGTH, 0); /* no length left from an earlier injection */
	return EXIT_RESUME;
}

static void break_gate_then_exit_on(u8 vector, u32 exceptions)
{
	broken_vector = vector;
	guest_interrupt_hook = record_interrupt;
	student_exception_handler = exit_handler_for(EXIT_REASON_EXCEPTION_OR_NMI);
	exit_register(EXIT_REASON_EXCEPTION_OR_NMI, repair_gate);
	vmcs_set_bits(EXCEPTION_BITMAP, exceptions, true);
}

static void setup_vectoring(struct vcpu *v)
{
	(void)v;
	break_gate_then_exit_on(VEC_VECTORING, BIT(VEC_GP));
	arm_timer(VEC_VECTORING);
}

static void guest_vectoring(u64 nonce)
{
	guest_idt[VEC_VECTORING].selector = 0; /* a null code selector: #GP(0) */
	guest_wait_with_if1(nonce);
}

/* INT n, INT3 and ICEBP whose delivery exits: each handler must see the address after its
 * instruction as its return address, once. INT3 is a software exception (type 6), ICEBP (INT1,
 * opcode F1) a privileged software exception (type 5): like INT n (type 4), re-injected they
 * need the VM-entry instruction length (SDM 25.8.3, 27.2.1.3). */
extern char after_int[], after_int3[], after_icebp[];

static void setup_vectoring_soft(struct vcpu *v)
{
	(void)v;
	break_gate_then_exit_on(VEC_SOFT, BIT(VEC_GP));
}

/* Guest side: a null code selector in the gate of `vector`; repair_gate() restores it. */
static void break_gate(u8 vector)
{
	broken_vector = vector;
	guest_idt[vector].selector = 0;
}

static void run_int3(u64 unused)
{
	(void)unused;
	__asm__ volatile("int3\n.globl after_int3\nafter_int3:" : : : "memory");
}

static void run_icebp(u64 unused)
{
	(void)unused;
	__asm__ volatile(".byte 0xf1\n.globl after_icebp\nafter_icebp:" : : : "memory");
}

/* The exception `fn` raises reaches the guest's handler (guest_catch), which records its return
 * address and lands: a wrong one is reported, never run. */
static void report_soft_exception(const char *vector_key, const char *rip_key, void (*fn)(u64), char *after)
{
	struct guest_fault fault = { 0 };
	guest_catch(fn, 0, &fault);
	guest_report(vector_key, fault.vector);
	guest_report(rip_key, fault.rip == (u64)after);
}

static void guest_vectoring_soft(u64 nonce)
{
	(void)nonce;
	break_gate(VEC_BP);
	report_soft_exception("bp.vector", "bp.rip_after_int3", run_int3, after_int3);
	break_gate(VEC_SOFT);
	__asm__ volatile("int %0\n.globl after_int\nafter_int:" : : "i"(VEC_SOFT) : "memory");
	report_seen();
	guest_report("irq.rip_after_int", seen_rip == (u64)after_int);
	break_gate(VEC_DB);
	report_soft_exception("db.vector", "db.rip_after_icebp", run_icebp, after_icebp);
}

/* A #GP with an error code whose delivery finds the #GP gate not present: the #NP exits,
 * and the #GP, error code included, must reach the guest after the repair. */
static void setup_vectoring_error(struct vcpu *v)
{
	(void)v;
	break_gate_then_exit_on(VEC_GP, BIT(VEC_NP));
}

static void guest_vectoring_error(u64 nonce)
{
	(void)nonce;
	guest_idt[VEC_GP].type_attr &= ~GATE_PRESENT;
	report_fault("fault.gp_vector", "fault.gp_error", load_fs, BAD_SELECTOR);
}

CHECK(04, reinject, "extint-reinject", .last_stage = STAGE_RUN, .guest = guest_wait_with_if1,
      .setup = setup_reinject);
CHECK(04, consume, "extint-consume", .last_stage = STAGE_RUN, .guest = guest_wait_with_if1,
      .setup = setup_consume, .verify = verify_consume);
CHECK(04, direct, "extint-direct", .last_stage = STAGE_RUN, .guest = guest_wait_with_if1,
      .setup = setup_direct);
CHECK(04, window, "interrupt-window", .last_stage = STAGE_RUN, .guest = guest_window, .setup = setup_window);
CHECK(04, sti_shadow, "sti-shadow", .last_stage = STAGE_RUN, .guest = guest_after_first,
      .setup = setup_sti_shadow);
CHECK(04, mov_ss_shadow, "mov-ss-shadow", .last_stage = STAGE_RUN, .guest = guest_after_first,
      .setup = setup_mov_ss_shadow);
CHECK(04, nmi_shadow, "nmi-shadow", .last_stage = STAGE_RUN, .guest = guest_after_first,
      .setup = setup_nmi_shadow);
CHECK(04, event_order, "event-order", .last_stage = STAGE_RUN, .guest = guest_after_first,
      .setup = setup_event_order);
CHECK(04, nmi, "nmi-window", .last_stage = STAGE_RUN, .guest = guest_nmi);
CHECK(04, reflect, "exception-reflect", .last_stage = STAGE_RUN, .guest = guest_reflect,
      .setup = setup_reflect);
CHECK(04, nmi_iret_fault, "nmi-iret-fault", .last_stage = STAGE_RUN, .guest = guest_nmi_iret_fault,
      .setup = setup_nmi_iret_fault);
CHECK(04, vectoring, "idt-vectoring", .last_stage = STAGE_RUN, .guest = guest_vectoring,
      .setup = setup_vectoring, .demo = true);
CHECK(04, vectoring_soft, "idt-vectoring-soft", .last_stage = STAGE_RUN, .guest = guest_vectoring_soft,
      .setup = setup_vectoring_soft);
CHECK(04, vectoring_error, "idt-vectoring-error", .last_stage = STAGE_RUN, .guest = guest_vectoring_error,
      .setup = setup_vectoring_error);
