/* Lab 05 checks: the timer's capabilities and rate as the student's steps read them inside a
 * guest (a faked IA32_VMX_MISC and capability MSRs), time slices counted in guest instructions,
 * the save control against a guest that exits often, the timer in the HLT state and after an
 * injection with value 0, and two guests switched round-robin by the student's scheduler. */
#include "check.h"
#include "lab.h"
#include "lab04.h"
#include "lab05.h"
#include "lab05_shared.h"
#include "params.h"

#define MAX_SLICES 100000          /* a single guest's run hook gives up after this */
#define NARRATED_EXITS 12          /* make run: timer exits narrated */
#define SCHED_MAX_TIMER_EXITS 1000 /* the sched checks need fewer than 400 */
#define HC_SCHED_DONE 32           /* guest B's end (guest A ends with HC_DONE) */
#define STR(x) #x
#define XSTR(x) STR(x)

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

/* The student's exit-52 handler, called by the checks' own observers. */
static exit_handler student_timer;
static void student_timer_wrapped(exit_handler observer)
{
	student_timer = exit_handler_for(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED);
	exit_register(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED, observer);
}

/* One guest, its slices ended by the student's timer handler (EXIT_STOP with `preempted`):
 * the run loop is entered again until the guest is done. */
static void run_single(struct vcpu *v)
{
	for (unsigned i = 0; i < MAX_SLICES; i++) {
		lab05(v)->preempted = false;
		vcpu_run(v);
		if (!lab05(v)->preempted)
			return;
	}
	printf("VMX: the guest was still not done after %d time slices\n", MAX_SLICES);
}

/* ---- timer-support and timer-rate: the steps run in a guest whose RDMSRs all exit ---- */

static volatile u64 support_phase, fake_rate;

/* RDMSR answered from the real MSRs, except what the check takes away. */
static u64 fake_msr(u32 msr)
{
	u64 value = rdmsr(msr);
	bool pin = msr == MSR_IA32_VMX_PINBASED_CTLS || msr == MSR_IA32_VMX_TRUE_PINBASED_CTLS;
	bool exit = msr == MSR_IA32_VMX_EXIT_CTLS || msr == MSR_IA32_VMX_TRUE_EXIT_CTLS;
	if (pin && support_phase == SUPPORT_NO_ACTIVATE)
		value &= ~((u64)PIN_ACTIVATE_VMX_PREEMPTION_TIMER << 32);
	if (exit && support_phase == SUPPORT_NO_SAVE)
		value &= ~((u64)EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE << 32);
	if (msr == MSR_IA32_VMX_MISC && fake_rate)
		value = (value & ~0x1fUL) | fake_rate;
	return value;
}

static enum exit_verdict handle_fake_rdmsr(struct vcpu *v)
{
	if (EXIT_REASON_BASIC(v->exit.reason) == EXIT_REASON_WRMSR) {
		printf("VMX: the guest wrote MSR 0x%lx during a check that only reads MSRs\n", v->regs.rcx);
		return EXIT_STOP;
	}
	u64 value = fake_msr((u32)v->regs.rcx);
	v->regs.rax = (u32)value;
	v->regs.rdx = value >> 32;
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static void setup_fake_msrs(struct vcpu *v)
{
	(void)v;
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_USE_MSR_BITMAPS, false);
	exit_register(EXIT_REASON_RDMSR, handle_fake_rdmsr);
	exit_register(EXIT_REASON_WRMSR, handle_fake_rdmsr);
}

static void guest_support(u64 nonce)
{
	(void)nonce;
	support_phase = SUPPORT_REAL;
	guest_report("support.real", preemption_timer_supported());
	support_phase = SUPPORT_NO_ACTIVATE;
	guest_report("support.no_activate", preemption_timer_supported());
	support_phase = SUPPORT_NO_SAVE;
	guest_report("support.no_save", preemption_timer_supported());
	support_phase = SUPPORT_REAL;
}

/* The three tick counts of timer-rate (grader/spec/lab05.py computes the same). */
static void rate_phase(const char *prefix, u64 rate, u64 nonce)
{
	char key[32];
	u64 small = (nonce >> 8) & 0xffffff;
	u64 wide = (((nonce >> 8) & 0xffffffffUL) | BIT(31)) << (rate - 2); /* >= 2^32, value < 2^32 */
	u64 huge = (1UL << (32 + rate)) + (nonce >> 48);                    /* its value above 2^32 - 1 */
	fake_rate = rate;
	snprintf(key, sizeof(key), "%s.rate", prefix);
	guest_report(key, preemption_timer_rate());
	snprintf(key, sizeof(key), "%s.small", prefix);
	guest_report(key, preemption_timer_value(small));
	snprintf(key, sizeof(key), "%s.wide", prefix);
	guest_report(key, preemption_timer_value(wide));
	snprintf(key, sizeof(key), "%s.huge", prefix);
	guest_report(key, preemption_timer_value(huge));
	fake_rate = 0;
}

/* A rate below 16 from the nonce, then the largest rate (bit 4 set, and 1 << 31 overflows an int). */
static void guest_rate(u64 nonce)
{
	rate_phase("rate", RATE_MIN + nonce % RATE_RANGE, nonce);
	rate_phase("rate_max", RATE_MAX, nonce);
}

/* ---- timer-scaled: preemption_timer_start() and the exit-52 handler run in a guest with a rate
 * other than 0; their VMREADs and VMWRITEs exit and go to three fields the check keeps ---- */

static volatile u64 scaled_pin, scaled_exit, scaled_value;
static struct vcpu scaled_vcpu; /* the vCPU the guest passes to the student's code */

static volatile u64 *scaled_field(u64 field)
{
	switch (field) {
	case PIN_BASED_VM_EXECUTION_CONTROLS:
		return &scaled_pin;
	case VM_EXIT_CONTROLS:
		return &scaled_exit;
	case VMX_PREEMPTION_TIMER_VALUE:
		return &scaled_value;
	default:
		return NULL;
	}
}

/* SDM 28.2.5: VMREAD and VMWRITE name their register (bit 10 = 1, bits 6:3) or memory operand
 * (base 26:23 unless bit 27, index 21:18 unless bit 22, scale 1:0, displacement in the
 * qualification) in the VM-exit instruction-information field, and the field in bits 31:28. */
static u64 *scaled_operand(struct vcpu *v, u32 info)
{
	u64 address = v->exit.qualification;
	if (!(info & BIT(27)))
		address += guest_reg_read(v, (info >> 23) & 15);
	if (!(info & BIT(22)))
		address += guest_reg_read(v, (info >> 18) & 15) << (info & 3);
	return guest_linear_to_host(v, address);
}

static enum exit_verdict handle_scaled_vmx(struct vcpu *v)
{
	u32 info = (u32)vmcs_read(VM_EXIT_INSTRUCTION_INFORMATION);
	bool reg = info & BIT(10);
	volatile u64 *slot = scaled_field(guest_reg_read(v, info >> 28));
	if (EXIT_REASON_BASIC(v->exit.reason) == EXIT_REASON_VMREAD) {
		u64 value = slot ? *slot : 0;
		if (reg)
			guest_reg_write(v, (info >> 3) & 15, value);
		else
			*scaled_operand(v, info) = value;
	} else if (slot) {
		*slot = reg ? guest_reg_read(v, (info >> 3) & 15) : *scaled_operand(v, info);
	}
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) & ~(RFLAGS_CF | RFLAGS_ZF)); /* VMsucceed */
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static void setup_scaled(struct vcpu *v)
{
	setup_fake_msrs(v);
	exit_register(EXIT_REASON_VMREAD, handle_scaled_vmx);
	exit_register(EXIT_REASON_VMWRITE, handle_scaled_vmx);
	student_timer = exit_handler_for(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED);
	scaled_pin = vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS);
	scaled_exit = vmcs_read(VM_EXIT_CONTROLS);
	(void)lab05(&scaled_vcpu); /* its page, allocated by the host */
}

static void guest_scaled(u64 nonce)
{
	u64 ticks = SCALED_TICKS_BASE + ((nonce >> 8) & 0xffffff);
	fake_rate = RATE_MIN + (nonce >> 40) % RATE_RANGE;
	preemption_timer_start(&scaled_vcpu, ticks);
	guest_report("scaled.activate", !!(scaled_pin & PIN_ACTIVATE_VMX_PREEMPTION_TIMER));
	guest_report("scaled.save", !!(scaled_exit & EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE));
	guest_report("scaled.start", scaled_value);
	scaled_value = 0; /* what a timer exit saves */
	student_timer(&scaled_vcpu);
	guest_report("scaled.handler", scaled_value);
	fake_rate = 0;
}

/* ---- timer-slice: a loop of 3 instructions; its counter at each timer exit ---- */

extern char slice_loop[], save_loop[], hlt_entry[], zero_entry[];
__asm__(".text\n"
	"slice_loop: inc %rcx\n" /* RCX = 0, RDX = the bound */
	"	cmp %rdx, %rcx\n"
	"	jb slice_loop\n"
	"	mov %rcx, %rdi\n"
	"	mov $2, %eax\n" /* HC_DONE */
	"	vmcall\n"
	"	jmp .\n");

static u64 slice_of(u64 nonce, u64 base, u64 range) { return base + (nonce >> 4) % range; }

static unsigned timer_exits;

static enum exit_verdict observe_slice(struct vcpu *v)
{
	char key[32];
	if (timer_exits < SLICE_REPORTED) {
		snprintf(key, sizeof(key), "slice.counter%u", timer_exits + 1);
		report_fact(key, "%lu", v->regs.rcx);
	}
	timer_exits++;
	return student_timer(v);
}

static void verify_slice(struct vcpu *v) { report_fact("slice.preemptions", "%lu", lab05(v)->preemptions); }

static void setup_slice(struct vcpu *v)
{
	u64 slice = slice_of(boot_params.nonce, SLICE_BASE, SLICE_RANGE);
	student_timer_wrapped(observe_slice);
	preemption_timer_start(v, slice);
	vmcs_write(GUEST_RIP, (u64)slice_loop);
	v->regs.rcx = 0;
	v->regs.rdx = slice * 7 / 2 / SLICE_LOOP_INSTRUCTIONS;
}

/* ---- timer-save: every iteration exits (CPUID); the slice spans many iterations ---- */

__asm__(".text\n"
	"save_loop: xor %eax, %eax\n" /* R8 = 0, R9 = the bound */
	"	cpuid\n"
	"	.rept " XSTR(SAVE_LOOP_NOPS) "\n nop\n .endr\n"
					     "	inc %r8\n"
					     "	cmp %r9, %r8\n"
					     "	jb save_loop\n"
					     "	mov %r8, %rdi\n"
					     "	mov $2, %eax\n" /* HC_DONE */
					     "	vmcall\n"
					     "	jmp .\n");

static enum exit_verdict observe_save(struct vcpu *v)
{
	if (timer_exits++ == 0)
		report_fact("save.iterations1", "%lu", v->regs.r8);
	return student_timer(v);
}

static void verify_preemptions(struct vcpu *v)
{
	report_fact("timer.preemptions", "%lu", lab05(v)->preemptions);
}

static void setup_save(struct vcpu *v)
{
	u64 slice = slice_of(boot_params.nonce, SAVE_SLICE_BASE, SAVE_SLICE_RANGE);
	student_timer_wrapped(observe_save);
	preemption_timer_start(v, slice);
	vmcs_write(GUEST_RIP, (u64)save_loop);
	v->regs.r8 = 0;
	v->regs.r9 = (2 * SAVE_SLICES + 1) * slice / 2 / (SAVE_LOOP_NOPS + 5);
}

/* ---- timer-hlt: HLT with IF = 0 and HLT exiting off; only the timer ends it ---- */

__asm__(".text\n"
	"hlt_entry: hlt\n"
	".globl timer_hlt_after\n"
	"timer_hlt_after: mov $2, %eax\n" /* HC_DONE, RDI = the check's value */
	"	vmcall\n"
	"	jmp .\n");
extern char timer_hlt_after[];

static enum exit_verdict observe_hlt(struct vcpu *v)
{
	char key[32];
	if (timer_exits < HLT_EXITS) {
		snprintf(key, sizeof(key), "hlt.activity%u", timer_exits + 1);
		report_fact(key, "%lu", vmcs_read(GUEST_ACTIVITY_STATE));
	}
	v->exit.instruction_length = HLT_UNDEFINED_LENGTH; /* undefined at exit 52 (Bochs: 0) */
	enum exit_verdict verdict = student_timer(v);
	if (timer_exits < HLT_EXITS) {
		snprintf(key, sizeof(key), "hlt.rip_after_hlt%u", timer_exits + 1);
		report_fact(key, "%d", vmcs_read(GUEST_RIP) == (u64)timer_hlt_after);
	}
	vmcs_write(GUEST_RIP, (u64)timer_hlt_after); /* the rest of the run stays sane */
	if (++timer_exits == HLT_EXITS)
		vmcs_write(GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE); /* the check wakes the guest */
	return verdict;
}

static void setup_hlt(struct vcpu *v)
{
	student_timer_wrapped(observe_hlt);
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_HLT_EXITING, false);
	preemption_timer_start(v, HLT_SLICE);
	vmcs_write(GUEST_RIP, (u64)hlt_entry);
	v->regs.rdi = boot_params.nonce ^ 0x4a17;
}

/* A halted guest with IF = 0 wakes only by the timer: the check does not let it halt unless the
 * timer is armed with a value that ends the HLT soon (the Bochs run would hang otherwise). */
static void run_hlt(struct vcpu *v)
{
	u64 value = vmcs_read(VMX_PREEMPTION_TIMER_VALUE);
	bool armed = (vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS) & PIN_ACTIVATE_VMX_PREEMPTION_TIMER) &&
		     value > 0 && value <= HLT_VALUE_MAX;
	report_fact("hlt.armed", "%d", armed);
	if (!armed) {
		printf("VMX: timer-hlt: the VMCS has no VMX-preemption timer armed with a value in "
		       "1..%d (value %lu): the guest would never leave HLT; it skips the HLT\n",
		       HLT_VALUE_MAX, value);
		vmcs_write(GUEST_RIP, (u64)timer_hlt_after);
	}
	run_single(v);
}

/* ---- timer-zero-inject: value 0 at an entry that injects an interrupt ---- */

__asm__(".text\nzero_entry: jmp guest_start\n");

static volatile u64 zero_irq_count, zero_irq_vector;

static void record_zero_irq(struct trap_frame *f)
{
	zero_irq_count++;
	zero_irq_vector = f->vector;
}

static u64 exits_so_far(struct vcpu *v)
{
	u64 sum = 0;
	for (unsigned r = 0; r < EXIT_REASON_TABLE_SIZE; r++)
		sum += v->exit_count[r];
	return sum;
}

static enum exit_verdict observe_zero(struct vcpu *v)
{
	if (timer_exits++ == 0) {
		u64 handler = (u64)guest_vector_stubs + VECTOR_STUB_SIZE * VEC_ZERO;
		report_fact("zero.first_exit_is_timer", "%d", exits_so_far(v) == 1);
		report_fact("zero.rip_at_handler", "%d", v->exit.guest_rip == handler);
		report_fact("zero.handler_ran_before", "%lu", zero_irq_count);
	}
	return student_timer(v);
}

static void setup_zero(struct vcpu *v)
{
	student_timer_wrapped(observe_zero);
	preemption_timer_start(v, HLT_SLICE);
	vmcs_write(VMX_PREEMPTION_TIMER_VALUE, 0); /* the check wants the exit at once */
	guest_idt_init();
	guest_interrupt_hook = record_zero_irq;
	vmcs_write(GUEST_IDTR_BASE, (u64)guest_idt);
	vmcs_write(GUEST_IDTR_LIMIT, IDT_VECTORS * sizeof(struct idt_gate) - 1);
	vmcs_write(GUEST_RIP, (u64)zero_entry);
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) | RFLAGS_IF);
	vcpu_queue_interrupt(v, VEC_ZERO);
}

static void guest_zero(u64 nonce)
{
	(void)nonce;
	guest_report("zero.irq_count", zero_irq_count);
	guest_report("zero.irq_vector", zero_irq_vector);
}

/* ---- sched-round-robin (three guests), sched-weighted (two): the student's scheduler ---- */

static volatile u64 progress[3]; /* each guest's loop counter, in shared memory */
static struct vcpu guest_b, guest_c;
static u8 guest_b_stack[8192] __aligned(16), guest_c_stack[8192] __aligned(16);

static u64 sched_iterations(u64 nonce)
{
	return SCHED_ITERATIONS_BASE + (nonce >> 20) % SCHED_ITERATIONS_RANGE;
}

/* A CPUID every SCHED_EXIT_EVERY iterations: far more often than a slice, so a slice survives
 * only through the save control. */
static __attribute__((noinline)) void work(unsigned me, u64 iterations)
{
	for (u64 i = 1; i <= iterations; i++) {
		progress[me] = i;
		if (!(i % SCHED_EXIT_EVERY))
			cpuid(0, 0);
	}
}

/* Guest A (the harness's guest): B's and C's progress while A's loop runs. */
static void guest_sched_a(u64 nonce)
{
	u64 iterations = sched_iterations(nonce);
	u64 b_before = progress[1], c_before = progress[2];
	work(0, iterations);
	u64 b_after = progress[1], c_after = progress[2];
	guest_report("sched.a_iterations", iterations);
	guest_report("sched.b_during_a", b_after - b_before);
	guest_report("sched.c_during_a", c_after - c_before);
}

static volatile u64 other_iterations; /* B's and C's loops */

/* Guests B and C: their own entries, the guest IDT, a longer loop than A's. */
void sched_guest_other(unsigned me);
void sched_guest_other(unsigned me)
{
	struct descriptor_table d = { sizeof(struct idt_gate) * IDT_VECTORS - 1, (u64)guest_idt };
	__asm__ volatile("lidt %0" : : "m"(d));
	work(me, other_iterations);
	guest_report(me == 1 ? "sched.b_iterations" : "sched.c_iterations", progress[me]);
	for (;;)
		hypercall(HC_SCHED_DONE, 0, 0);
}
__asm__(".text\nsched_guest_b_entry: mov $1, %edi\n call sched_guest_other\n jmp .\n"
	"sched_guest_c_entry: mov $2, %edi\n call sched_guest_other\n jmp .\n");
extern char sched_guest_b_entry[], sched_guest_c_entry[];

static char guest_name(struct vcpu *v) { return v == &guest_b ? 'B' : v == &guest_c ? 'C' : 'A'; }

static enum exit_verdict guest_other_done(struct vcpu *v)
{
	static bool done[2];
	if (v->regs.rax != HC_SCHED_DONE) {
		printf("VMX: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	if (done[v == &guest_c])
		panic("sched check: guest %c was entered again after it stopped: a guest whose run "
		      "loop ended without a preemption is done",
		      guest_name(v));
	done[v == &guest_c] = true;
	return EXIT_STOP;
}

/* Another guest with its own VMCS and stack, ready to enter like the harness's. */
static void prepare_other(struct vcpu *w, char *entry, u8 *stack, size_t size)
{
	vmcs_load(w);
	harness_prepare_vcpu(w, (u64)entry, (u64)stack + size);
	vcpu_before_entry(w);
}

static enum exit_verdict narrate_timer(struct vcpu *v)
{
	enum exit_verdict verdict = student_timer(v);
	if (++timer_exits > SCHED_MAX_TIMER_EXITS)
		panic("sched check: %d timer exits and the guests are still not done (fewer than 400 "
		      "expected): slices far shorter than given?",
		      SCHED_MAX_TIMER_EXITS);
	if (verbose() && timer_exits <= NARRATED_EXITS)
		printf("sched: guest %c preempted (exit 52) at rip 0x%lx; loop counters A=%lu B=%lu C=%lu\n",
		       guest_name(v), v->exit.guest_rip, progress[0], progress[1], progress[2]);
	if (verbose() && timer_exits == NARRATED_EXITS)
		printf("sched: (further preemptions not shown)\n");
	return verdict;
}

/* A and B (slice weight x A's), and with three guests C (A's slice), added in that order while
 * the VMCS of the guest set up last is current. */
static void run_sched(struct vcpu *v, u64 weight, unsigned guests)
{
	u64 slice = slice_of(boot_params.nonce, SCHED_SLICE_BASE, SCHED_SLICE_RANGE);
	struct scheduler s = { 0 };
	other_iterations = (weight + 1) * sched_iterations(boot_params.nonce) + SCHED_ITERATIONS_RANGE;
	hypercall_extend(guest_other_done);
	prepare_other(&guest_b, sched_guest_b_entry, guest_b_stack, sizeof(guest_b_stack));
	if (guests == 3)
		prepare_other(&guest_c, sched_guest_c_entry, guest_c_stack, sizeof(guest_c_stack));
	student_timer_wrapped(narrate_timer); /* after the labs' setups for B, which register theirs */
	sched_add(&s, v, slice);
	sched_add(&s, &guest_b, weight * slice);
	if (guests == 3)
		sched_add(&s, &guest_c, slice);
	report_fact("sched.vmcs_a", "0x%lx", virt_to_phys(v->vmcs));
	report_fact("sched.vmcs_b", "0x%lx", virt_to_phys(guest_b.vmcs));
	if (guests == 3)
		report_fact("sched.vmcs_c", "0x%lx", virt_to_phys(guest_c.vmcs));
	if (verbose())
		printf("sched: guest A (VMCS 0x%lx) gets %lu TSC ticks per slice, guest B (VMCS 0x%lx) %lu%s\n",
		       virt_to_phys(v->vmcs), slice, virt_to_phys(guest_b.vmcs), weight * slice,
		       guests == 3 ? ", guest C the same as A" : "");
	sched_run(&s);
	if (verbose())
		printf("sched: all guests done after %u preemptions\n", timer_exits);
	if (vmptrld(virt_to_phys(v->vmcs)) != VMX_SUCCEED) /* the harness's VMCS again */
		panic("sched check: VMPTRLD of the harness's VMCS failed");
}

static void run_round_robin(struct vcpu *v) { run_sched(v, 1, 3); }
static void run_weighted(struct vcpu *v) { run_sched(v, SCHED_WEIGHT, 2); }

CHECK(05, support, "timer-support", .last_stage = STAGE_RUN, .guest = guest_support,
      .setup = setup_fake_msrs);
CHECK(05, rate, "timer-rate", .last_stage = STAGE_RUN, .guest = guest_rate, .setup = setup_fake_msrs);
CHECK(05, scaled, "timer-scaled", .last_stage = STAGE_RUN, .guest = guest_scaled, .setup = setup_scaled);
CHECK(05, slice, "timer-slice", .last_stage = STAGE_RUN, .setup = setup_slice, .run = run_single,
      .verify = verify_slice);
CHECK(05, save, "timer-save", .last_stage = STAGE_RUN, .setup = setup_save, .run = run_single,
      .verify = verify_preemptions);
CHECK(05, hlt, "timer-hlt", .last_stage = STAGE_RUN, .setup = setup_hlt, .run = run_hlt,
      .verify = verify_preemptions);
CHECK(05, zero, "timer-zero-inject", .last_stage = STAGE_RUN, .guest = guest_zero, .setup = setup_zero,
      .run = run_single);
CHECK(05, round_robin, "sched-round-robin", .last_stage = STAGE_RUN, .guest = guest_sched_a,
      .run = run_round_robin, .demo = true);
CHECK(05, weighted, "sched-weighted", .last_stage = STAGE_RUN, .guest = guest_sched_a, .run = run_weighted);
