/* Lab 06 checks: the single-step tracer against Bochs's own record of what the guest executed
 * (straight code and a loop, REP iterations, a fault, an injected event, HLT), the priority of
 * an MTF exit over a timer exit and over a pending interrupt, and breakpoints that survive
 * execution. The guest programs whose addresses matter are in lab06_programs.S. */
#include "apic.h"
#include "check.h"
#include "lab.h"
#include "lab06.h"
#include "lab06_shared.h"
#include "params.h"

extern char trace_l1[], trace_l2[], trace_l3[], trace_l4[], trace_l5[], trace_l6[], trace_stop[];
extern char trace_long[], trace_long_jnz[], trace_long_end[], trace_long_zero[], trace_long_call[];
extern char rep_l1[], rep_l2[], rep_insn[], rep_after[], rep_stop[];
extern char fault_ud2[], inject_after[], hlt_insn[], hlt_after[], hlt_next[];
extern char event_send[], event_after[];
extern char bp_hit1[], bp_hit2[], bp_hit3[], bp_after1[], bp_after2[], bp_after3[];
void trace_program(u64 nonce), rep_program(u64 nonce), fault_program(u64 unused);
void inject_program(u64 hypercall_number), hlt_program(u64 nonce), event_program(u64 icr);
void bp_program(u64 nonce);

/* ---- host side: the checks' hypercalls, the timer, the facts ---- */

static void timer_arm(u32 value)
{
	u32 pin = (u32)vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS) | PIN_ACTIVATE_VMX_PREEMPTION_TIMER;
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls(pin, MSR_IA32_VMX_PINBASED_CTLS, "pin-based controls"));
	vmcs_write(VMX_PREEMPTION_TIMER_VALUE, value);
}

/* mtf-trace: its first trace is reported when it stops; a second one follows. */
static bool report_at_stop;

static void report_trace(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	char key[32];
	report_fact("trace.length", "%u", s->trace_length);
	for (unsigned i = 0; i < s->trace_length && i < MTF_TRACE_MAX; i++) {
		snprintf(key, sizeof(key), "trace.%u", i);
		report_fact(key, "0x%lx", s->trace[i]);
	}
}

static enum exit_verdict lab06_hypercall(struct vcpu *v)
{
	switch (v->regs.rax) {
	case HC_TRACE_START:
		if (!v->regs.rdi) /* mtf-trace: the start that ends its long trace */
			report_fact("long_trace.length", "%u", lab06(v)->trace_length);
		mtf_trace_start(v, (unsigned)v->regs.rdi);
		break;
	case HC_TRACE_STOP:
		mtf_trace_stop(v);
		if (report_at_stop)
			report_trace(v);
		report_at_stop = false;
		break;
	case HC_TRACE_INJECT_TIMER:
		timer_arm(0);
		/* fall through */
	case HC_TRACE_INJECT:
		mtf_trace_start(v, (unsigned)v->regs.rdi);
		vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION,
			   intr_info(VEC_MTF_INJECT, INTR_TYPE_EXTERNAL_INTERRUPT, false));
		break;
	default:
		printf("VMX: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	v->regs.rax = 0;
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* Exit reason 52: in mtf-hlt a watchdog (the guest never left its HLT), elsewhere the exit
 * that must come after the MTF exit; the timer goes off again. */
static bool timer_is_watchdog;

static enum exit_verdict handle_timer(struct vcpu *v)
{
	if (timer_is_watchdog) {
		printf("mtf-hlt: the guest stayed in HLT (no MTF exit woke it) until the watchdog\n");
		report_fact("watchdog.fired", "1");
		return EXIT_STOP;
	}
	report_fact("timer.exit_rip", "0x%lx", v->exit.guest_rip);
	vmcs_set_bits(PIN_BASED_VM_EXECUTION_CONTROLS, PIN_ACTIVATE_VMX_PREEMPTION_TIMER, false);
	return EXIT_RESUME;
}

/* The tracer's on_step hook, when make run TRACE=1 has not taken it: every step it reports. */
static u64 on_step_count, on_step_last;

static void count_step(struct vcpu *v, u64 rip)
{
	(void)v;
	on_step_count++;
	on_step_last = rip;
}

static void setup_tracer(struct vcpu *v)
{
	if (!lab06(v)->on_step)
		lab06(v)->on_step = count_step;
	hypercall_extend(lab06_hypercall);
	exit_register(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED, handle_timer);
}

#define REPORT_LABEL(label) report_fact("label." #label, "0x%lx", (u64)(label))

/* The first instruction of the guest's handler for `vector`: its IDT gate's offset. */
static u64 guest_handler(u8 vector)
{
	const struct idt_gate *g = &guest_idt[vector];
	return g->offset_low | (u64)g->offset_mid << 16 | (u64)g->offset_high << 32;
}

/* ---- guest side: events the guest's handlers saw ---- */

static volatile u64 irq_count, irq_vector;

static void count_event(struct trap_frame *f)
{
	irq_count++;
	irq_vector = f->vector;
}

/* ---- mtf-trace: straight code and a loop ---- */

static void setup_trace(struct vcpu *v)
{
	setup_tracer(v);
	report_at_stop = true;
}

static void verify_trace(struct vcpu *v)
{
	(void)v;
	report_fact("on_step.count", "%lu", on_step_count);
	report_fact("on_step.last", "0x%lx", on_step_last);
	REPORT_LABEL(trace_long);
	REPORT_LABEL(trace_long_jnz);
	REPORT_LABEL(trace_long_end);
	REPORT_LABEL(trace_long_zero);
	REPORT_LABEL(trace_long_call);
	REPORT_LABEL(trace_l1);
	REPORT_LABEL(trace_l2);
	REPORT_LABEL(trace_l3);
	REPORT_LABEL(trace_l4);
	REPORT_LABEL(trace_l5);
	REPORT_LABEL(trace_l6);
	REPORT_LABEL(trace_stop);
}

/* ---- mtf-rep: one MTF exit per iteration ---- */

static void verify_rep(struct vcpu *v)
{
	report_trace(v);
	REPORT_LABEL(rep_l2);
	REPORT_LABEL(rep_insn);
	REPORT_LABEL(rep_after);
	REPORT_LABEL(rep_stop);
}

/* ---- mtf-fault: the exit comes after the fault's delivery ---- */

static void guest_fault(u64 nonce)
{
	(void)nonce;
	struct guest_fault fault = { 0 };
	guest_catch(fault_program, 0, &fault);
	guest_report("fault.vector", fault.vector);
	guest_report("fault.rip_is_ud2", fault.rip == (u64)fault_ud2);
}

static void verify_fault(struct vcpu *v)
{
	report_trace(v);
	REPORT_LABEL(fault_ud2);
	report_fact("label.ud_handler", "0x%lx", guest_handler(VEC_UD));
}

/* ---- mtf-inject and mtf-vs-timer: an event injected with MTF on ---- */

static void guest_inject(u64 nonce)
{
	(void)nonce;
	guest_interrupt_hook = count_event;
	inject_program(HC_TRACE_INJECT);
	guest_report("irq.count", irq_count);
	guest_report("irq.vector", irq_vector);
}

static void guest_inject_with_timer(u64 nonce)
{
	(void)nonce;
	guest_interrupt_hook = count_event;
	inject_program(HC_TRACE_INJECT_TIMER);
	guest_report("irq.count", irq_count);
}

static void verify_inject(struct vcpu *v)
{
	report_trace(v);
	REPORT_LABEL(inject_after);
	report_fact("label.inject_handler", "0x%lx", guest_handler(VEC_MTF_INJECT));
}

/* ---- mtf-hlt: HLT stepped, HLT exiting off, a watchdog in case nothing wakes the guest ---- */

static void setup_hlt(struct vcpu *v)
{
	setup_tracer(v);
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_HLT_EXITING, false);
	timer_is_watchdog = true;
	timer_arm(WATCHDOG_TICKS);
}

static void verify_hlt(struct vcpu *v)
{
	report_trace(v);
	REPORT_LABEL(hlt_insn);
	REPORT_LABEL(hlt_after);
	REPORT_LABEL(hlt_next);
}

/* ---- mtf-vs-interrupt: an interrupt made pending by the stepped instruction ---- */

static void guest_interrupt(u64 nonce)
{
	(void)nonce;
	apic_write(APIC_ICR_HIGH, apic_read(APIC_ID) & 0xff000000U); /* to this APIC */
	event_program(APIC_ICR_SELF | VEC_HOST_IPI);
}

static void verify_interrupt(struct vcpu *v)
{
	report_trace(v);
	REPORT_LABEL(event_after);
	report_fact("host.host_interrupts", "%lu", lab04(v)->host_interrupts);
}

/* ---- breakpoint and breakpoint-chain ---- */

static void setup_breakpoints(struct vcpu *v)
{
	breakpoint_set(v, (u64)bp_hit1);
	breakpoint_set(v, (u64)bp_hit2);
	breakpoint_set(v, (u64)bp_hit3);
}

static void report_breakpoints(struct vcpu *v)
{
	struct lab06_vcpu *s = lab06(v);
	char key[32];
	for (unsigned i = 0; i < s->breakpoint_count && i < BREAKPOINTS_MAX; i++) {
		snprintf(key, sizeof(key), "bp.hits.%u", i);
		report_fact(key, "%lu", s->breakpoints[i].hits);
		snprintf(key, sizeof(key), "bp.byte.%u", i);
		report_fact(key, "0x%x", *(u8 *)s->breakpoints[i].rip);
	}
}

static void verify_breakpoints(struct vcpu *v)
{
	report_breakpoints(v);
	REPORT_LABEL(bp_hit1);
	REPORT_LABEL(bp_hit2);
	REPORT_LABEL(bp_hit3);
	REPORT_LABEL(bp_after1);
	REPORT_LABEL(bp_after2);
	REPORT_LABEL(bp_after3);
}

/* The guest's own exceptions, #UD through the exception bitmap and its own INT3, must still
 * reach it with a breakpoint set. */
static void run_ud2(u64 unused)
{
	(void)unused;
	__asm__ volatile("ud2");
}

extern char after_own_int3[];
static void run_int3(u64 unused)
{
	(void)unused;
	__asm__ volatile("int3\n.globl after_own_int3\nafter_own_int3:" : : : "memory");
}

/* INT3 at CPL 3 through the guest's #BP gate (DPL 0): a software exception fails the gate's
 * DPL check, #GP(3 * 8 + 2) at the INT3. */
extern char user_int3[];
static void run_user_int3(u64 unused)
{
	(void)unused;
	__asm__ volatile(".globl user_int3\nuser_int3: int3" : : : "memory");
}

static void guest_chain(u64 nonce)
{
	struct guest_fault fault = { 0 };
	guest_catch(run_ud2, 0, &fault);
	guest_report("fault.ud_vector", fault.vector);
	fault = (struct guest_fault){ 0 };
	guest_catch(run_int3, 0, &fault);
	guest_report("fault.bp_vector", fault.vector);
	guest_report("fault.bp_rip_after_int3", fault.rip == (u64)after_own_int3);
	fault = (struct guest_fault){ 0 };
	guest_user(run_user_int3, 0, &fault);
	guest_report("fault.user_int3_vector", fault.vector);
	guest_report("fault.user_int3_error_code", fault.error_code);
	guest_report("fault.user_int3_rip_is_int3", fault.rip == (u64)user_int3);
	bp_program(nonce);
}

static void setup_chain(struct vcpu *v)
{
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_UD), true);
	breakpoint_set(v, (u64)bp_hit3);
}

static void verify_chain(struct vcpu *v)
{
	report_breakpoints(v);
	REPORT_LABEL(bp_hit3);
	REPORT_LABEL(bp_after3);
}

/* ---- make run TRACE=1: the guest program of any check, traced and printed ---- */

static guest_program traced_program;

static void guest_traced(u64 nonce)
{
	hypercall(HC_TRACE_START, TRACE_MODE_STEPS, 0);
	traced_program(nonce);
	hypercall(HC_TRACE_STOP, 0, 0);
}

static void print_step(struct vcpu *v, u64 rip)
{
	(void)v;
	printf("TRACE 0x%lx\n", rip);
}

static void trace_mode_setup(struct vcpu *v)
{
	if (!(boot_params.flags & BOOT_TRACE) || !guest_program_to_run ||
	    guest_program_to_run == guest_traced)
		return;
	traced_program = guest_program_to_run;
	guest_program_to_run = guest_traced;
	lab06(v)->on_step = print_step;
	hypercall_extend(lab06_hypercall);
}
LAB_SETUP(06, trace_mode_setup);

CHECK(06, trace, "mtf-trace", .last_stage = STAGE_RUN, .guest = trace_program, .setup = setup_trace,
      .verify = verify_trace, .demo = true);
CHECK(06, rep, "mtf-rep", .last_stage = STAGE_RUN, .guest = rep_program, .setup = setup_tracer,
      .verify = verify_rep);
CHECK(06, fault, "mtf-fault", .last_stage = STAGE_RUN, .guest = guest_fault, .setup = setup_tracer,
      .verify = verify_fault);
CHECK(06, inject, "mtf-inject", .last_stage = STAGE_RUN, .guest = guest_inject, .setup = setup_tracer,
      .verify = verify_inject);
CHECK(06, hlt, "mtf-hlt", .last_stage = STAGE_RUN, .guest = hlt_program, .setup = setup_hlt,
      .verify = verify_hlt);
CHECK(06, vs_timer, "mtf-vs-timer", .last_stage = STAGE_RUN, .guest = guest_inject_with_timer,
      .setup = setup_tracer, .verify = verify_inject);
CHECK(06, vs_interrupt, "mtf-vs-interrupt", .last_stage = STAGE_RUN, .guest = guest_interrupt,
      .setup = setup_tracer, .verify = verify_interrupt);
CHECK(06, breakpoints, "breakpoint", .last_stage = STAGE_RUN, .guest = bp_program, .setup = setup_breakpoints,
      .verify = verify_breakpoints);
CHECK(06, chain, "breakpoint-chain", .last_stage = STAGE_RUN, .guest = guest_chain, .setup = setup_chain,
      .verify = verify_chain);
