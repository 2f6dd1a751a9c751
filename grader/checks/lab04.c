/* Lab 04 checks: a real interrupt source (the local APIC timer), self-NMIs, interrupt and NMI
 * windows, the STI shadow, and an event whose delivery exits. */
#include "apic.h"
#include "check.h"
#include "lab.h"
#include "lab04.h"

#define TIMER_TICKS 50000		/* the one-shot fires this long after the check's setup */
#define SPIN_LIMIT 3000000UL		/* how long a guest waits for an event before giving up */
#define VEC_REINJECT 0x41
#define VEC_DIRECT 0x44
#define VEC_WINDOW 0x42
#define VEC_SHADOW 0x46
#define VEC_VECTORING 0x43
#define VEC_HOST 0xe5

/* ---- the guest's side: what its interrupt/NMI handler saw ---- */

static volatile u64 seen_count, seen_vector, seen_rip, seen_in_cli, nmi_depth, nmi_max_depth;
static volatile u64 in_cli;

static void record_interrupt(struct trap_frame *f)
{
	seen_count++;
	seen_vector = f->vector;
	seen_rip = f->rip;
	seen_in_cli = in_cli;
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

static void setup_reinject(struct vcpu *v) { (void)v; arm_timer(VEC_REINJECT); }
static void setup_consume(struct vcpu *v) { (void)v; arm_timer(VEC_HOST); }

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

static void setup_window(struct vcpu *v) { (void)v; arm_timer(VEC_WINDOW); }

/* The guest starts inside an STI shadow with an interrupt already queued: it may arrive only
 * after the first instruction, at sti_shadow_label. */
extern char sti_shadow_entry[], sti_shadow_label[];
__asm__(".text\n"
	"sti_shadow_entry: nop\n"
	"sti_shadow_label: jmp guest_start\n");

static void setup_sti_shadow(struct vcpu *v)
{
	guest_idt_init();
	guest_interrupt_hook = record_interrupt;
	vmcs_write(GUEST_IDTR_BASE, (u64)guest_idt);
	vmcs_write(GUEST_IDTR_LIMIT, IDT_VECTORS * sizeof(struct idt_gate) - 1);
	vmcs_write(GUEST_RIP, (u64)sti_shadow_entry);
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) | RFLAGS_IF);
	vmcs_write(GUEST_INTERRUPTIBILITY_STATE, INTERRUPTIBILITY_BLOCKING_BY_STI);
	vcpu_queue_interrupt(v, VEC_SHADOW);
}

static void guest_sti_shadow(u64 nonce)
{
	(void)nonce;
	report_seen();
	guest_report("irq.rip_after_shadow", seen_rip == (u64)sti_shadow_label);
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

/* An interrupt whose delivery faults: the guest's gate has a null selector, #GP exits with
 * the interrupt in the IDT-vectoring information; the check repairs the gate and the
 * hypervisor must deliver the interrupt again. */
static exit_handler student_exception_handler;

static enum exit_verdict repair_gate(struct vcpu *v)
{
	u32 info = (u32)vmcs_read(VM_EXIT_INTERRUPTION_INFORMATION);
	u32 idt = (u32)vmcs_read(IDT_VECTORING_INFORMATION);
	if (INTR_INFO_VECTOR(info) != VEC_GP || !(idt & INTR_INFO_VALID))
		return student_exception_handler(v);
	report_fact("vectoring.info", "0x%x", idt);
	guest_idt[VEC_VECTORING].selector = SEL_KERNEL_CS64;
	return EXIT_RESUME;
}

static void setup_vectoring(struct vcpu *v)
{
	(void)v;
	student_exception_handler = exit_handler_for(EXIT_REASON_EXCEPTION_OR_NMI);
	exit_register(EXIT_REASON_EXCEPTION_OR_NMI, repair_gate);
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_GP), true);
	arm_timer(VEC_VECTORING);
}

static void guest_vectoring(u64 nonce)
{
	guest_idt[VEC_VECTORING].selector = 0;
	guest_wait_with_if1(nonce);
}

CHECK(04, reinject, "extint-reinject", .last_stage = STAGE_RUN, .guest = guest_wait_with_if1,
      .setup = setup_reinject);
CHECK(04, consume, "extint-consume", .last_stage = STAGE_RUN, .guest = guest_wait_with_if1,
      .setup = setup_consume, .verify = verify_consume);
CHECK(04, direct, "extint-direct", .last_stage = STAGE_RUN, .guest = guest_wait_with_if1,
      .setup = setup_direct);
CHECK(04, window, "interrupt-window", .last_stage = STAGE_RUN, .guest = guest_window,
      .setup = setup_window);
CHECK(04, sti_shadow, "sti-shadow", .last_stage = STAGE_RUN, .guest = guest_sti_shadow,
      .setup = setup_sti_shadow);
CHECK(04, nmi, "nmi-window", .last_stage = STAGE_RUN, .guest = guest_nmi);
CHECK(04, vectoring, "idt-vectoring", .last_stage = STAGE_RUN, .guest = guest_vectoring,
      .setup = setup_vectoring, .demo = true);
