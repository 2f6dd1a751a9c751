/* Lab 09 checks: a guest that uses CR8 as its task priority, a held-back interrupt, and a guest
 * that programs "its" local APIC at the xAPIC address (the APIC-access page) and sends itself
 * an IPI. What the guest reads, where its handler runs and Bochs's record of the exits are the
 * evidence; the same guest program runs with and without APIC-register virtualization. */
#include "apic.h"
#include "check.h"
#include "lab.h"
#include "lab09.h"
#include "lab09_shared.h"
#include "params.h"

#define SPIN 200000UL /* long enough for a wrongly early interrupt to arrive */

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

/* ---- the guest's side ---- */

static volatile u64 stage, after, seen_count, seen_vector, seen_stage, seen_after;
static bool quiet; /* the tour (make run): the same programs, without their facts */

static void say(const char *key, u64 value)
{
	if (!quiet)
		guest_report(key, value);
}

static void record_interrupt(struct trap_frame *f)
{
	seen_count++;
	seen_vector = f->vector;
	seen_stage = stage;
	seen_after = after;
}

static void spin(void)
{
	for (u64 i = 0; i < SPIN && !seen_count; i++)
		__asm__ volatile("" : : : "memory");
}

/* The guest's APIC accesses: one 4-byte MOV each, the address in a register (the forms an
 * emulator decodes; a compiler would use a MOV with a 64-bit absolute address for a constant). */
static u32 apic_get(unsigned offset)
{
	u32 value;
	__asm__ volatile("movl (%1), %0" : "=r"(value) : "r"(APIC_DEFAULT_BASE + offset) : "memory");
	return value;
}

static void apic_put(unsigned offset, u32 value)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(value), "r"(APIC_DEFAULT_BASE + offset) : "memory");
}

static void report_interrupt(void)
{
	say("irq.count", seen_count);
	say("irq.vector", seen_vector);
	say("irq.stage", seen_stage);
}

static void guest_tpr_shadow(u64 nonce)
{
	u64 roundtrips = 0;
	for (u64 i = 0; i < 16; i++) {
		write_cr8(i);
		roundtrips += read_cr8() == i;
	}
	write_cr8(1 + nonce % 14);
	say("cr8.roundtrips", roundtrips);
	say("cr8.read", read_cr8());
}

/* The interrupt waits (class 5, VTPR 0x50) until the MOV to CR8 that lowers the priority to
 * class 4, and arrives right after it: before the INC that follows. */
static void guest_tpr_threshold(u64 nonce)
{
	(void)nonce;
	stage = STAGE_START;
	__asm__ volatile("sti");
	spin();
	stage = STAGE_SAME_CLASS;
	write_cr8(TPR_START >> 4);
	spin();
	stage = STAGE_LOWERED;
	/* the ADD holds no address (it is in a register), so the bytes a wrong RIP skip lands in
	 * are the same whatever the image's layout */
	__asm__ volatile("mov %1, %%cr8\n\taddq $1, (%0)"
			 :
			 : "r"(&after), "r"((u64)(TPR_START >> 4) - 1)
			 : "memory");
	spin();
	stage = STAGE_ZERO;
	write_cr8(0);
	spin();
	__asm__ volatile("cli");
	report_interrupt();
	say("irq.before_next_instruction", seen_after == 0);
	say("guest.next_instruction_ran", after);
}

/* The guest's local APIC, at the xAPIC address: read ID, write and read the LVT timer (the INC
 * after the write shows the write completed once), read the current count, TPR through CR8 and
 * MMIO, an IPI to all but itself (it must not arrive), then a self-IPI of class 3 that waits
 * until CR8 drops to class 2. */
static void guest_apic_page(u64 nonce)
{
	u32 lvt = LVT_MASKED | (u32)(0x20 + nonce % 0xc0);
	u32 id = apic_get(APIC_ID);
	__asm__ volatile("movl %1, (%2)\n\tincq %0"
			 : "+m"(after)
			 : "r"(lvt), "r"(APIC_DEFAULT_BASE + APIC_LVT_TIMER)
			 : "memory");
	u32 lvt_read = apic_get(APIC_LVT_TIMER);
	u32 count = apic_get(APIC_TIMER_CURRENT_COUNT);
	write_cr8(5);
	u32 tpr = apic_get(APIC_TPR);
	apic_put(APIC_TPR, TPR_MMIO);
	u64 cr8 = read_cr8();
	stage = STAGE_START;
	__asm__ volatile("sti");
	apic_put(APIC_ICR_LOW, ICR_ALL_BUT_SELF | VEC_OTHERS_IPI);
	apic_put(APIC_ICR_LOW, APIC_ICR_SELF | VEC_IPI_CLASS | (u32)(nonce >> 8 & 0xf));
	spin();
	stage = STAGE_LOWERED;
	write_cr8(CR8_DROP);
	spin();
	__asm__ volatile("cli");
	say("apic.id", id);
	say("apic.lvt_write_then_next", after);
	say("apic.lvt", lvt_read);
	say("apic.current_count", count);
	say("apic.tpr_after_cr8", tpr);
	say("apic.cr8_after_tpr", cr8);
	report_interrupt();
}

/* The guest's local APIC through the x2APIC MSRs: the same steps as guest_apic_page(). */
static void guest_x2apic(u64 nonce)
{
	u32 lvt = LVT_MASKED | (u32)(0x20 + nonce % 0xc0);
	say("x2apic.id", rdmsr(X2APIC_ID));
	wrmsr(X2APIC_LVT_TIMER, lvt);
	say("x2apic.lvt", rdmsr(X2APIC_LVT_TIMER));
	write_cr8(5);
	say("x2apic.tpr_after_cr8", rdmsr(X2APIC_TPR));
	wrmsr(X2APIC_TPR, TPR_MMIO);
	say("x2apic.cr8_after_tpr", read_cr8());
	stage = STAGE_START;
	__asm__ volatile("sti");
	wrmsr(X2APIC_ICR, ICR_ALL_BUT_SELF | VEC_OTHERS_IPI);
	wrmsr(X2APIC_ICR, APIC_ICR_SELF | VEC_IPI_CLASS | (u32)(nonce >> 8 & 0xf));
	spin();
	stage = STAGE_LOWERED;
	write_cr8(CR8_DROP);
	spin();
	__asm__ volatile("cli");
	report_interrupt();
}

/* Virtual-interrupt delivery: the handler reads its VISR bit, then ends the interrupt with a
 * write to EOI; the INC after that write shows it completed once. */
static volatile u64 seen_order, in_service_seen, spurious_seen;

static void record_virtual_interrupt(struct trap_frame *f)
{
	if (f->vector == VEC_SPURIOUS_POST) {
		spurious_seen++;
		return;
	}
	seen_count++;
	seen_order = seen_order << 8 | f->vector;
	seen_stage = stage;
	seen_after = after;
	in_service_seen += apic_get(VAPIC_ISR + 0x10 * (f->vector / 32)) >> (f->vector % 32) & 1;
	__asm__ volatile("movl %1, (%2)\n\tincq %0"
			 : "+m"(after)
			 : "r"(0), "r"(APIC_DEFAULT_BASE + APIC_EOI)
			 : "memory");
}

static void spin_until(u64 count)
{
	for (u64 i = 0; i < SPIN * 4 && seen_count < count; i++)
		__asm__ volatile("" : : : "memory");
}

static void guest_vid(u64 nonce)
{
	(void)nonce;
	stage = STAGE_START;
	spin();
	stage = STAGE_IF1;
	__asm__ volatile("sti");
	spin_until(3);
	__asm__ volatile("cli");
	say("irq.count", seen_count);
	say("irq.order", seen_order);
	say("irq.stage", seen_stage);
	say("irq.in_service", in_service_seen);
	say("guest.eoi_then_next", after);
}

/* Posted interrupts: the guest asks the hypervisor (VMCALL) to post a vector; it must arrive
 * during the INCs that follow the VMCALL (their count says when), with no VM exit of its own. */
static void guest_posted(u64 nonce)
{
	stage = STAGE_START;
	__asm__ volatile("sti");
	__asm__ volatile("vmcall\n\tincq %0\n\tincq %0\n\tincq %0"
			 : "+m"(after)
			 : "a"((u64)HC_LAB09_POST), "D"((u64)(VEC_POSTED_CLASS | (nonce >> 12 & 0xf)))
			 : "memory");
	spin();
	__asm__ volatile("cli");
	say("irq.count", seen_count);
	say("irq.vector", seen_order);
	say("irq.instructions_after_post", seen_count ? seen_after : 0xff);
	say("irq.in_service", in_service_seen);
	say("irq.spurious_0xff", spurious_seen);
}

/* ---- host side ---- */

static u32 nonce_id(void) { return (u32)(boot_params.nonce >> 16 & 0xff) << 24; }
static u32 nonce_count(void) { return (u32)(boot_params.nonce >> 24) | 1; }

static void setup_tpr_shadow(struct vcpu *v) { vapic_tpr_shadow_enable(v); }

static void verify_tpr_shadow(struct vcpu *v)
{
	u8 *page = lab09(v)->virtual_apic;
	report_fact("vapic.vtpr", "0x%x", page ? page[VAPIC_TPR] : 0xdead);
	report_fact("vapic.address_is_the_page", "%d",
		    page && vmcs_read(VIRTUAL_APIC_ADDRESS) == virt_to_phys(page));
	report_fact("host.tpr", "0x%x", apic_read(APIC_TPR));
}

static void setup_tpr_threshold(struct vcpu *v)
{
	guest_interrupt_hook = record_interrupt;
	vapic_tpr_shadow_enable(v);
	lab09(v)->virtual_apic[VAPIC_TPR] = TPR_START;
	vapic_deliver(v, VEC_HELD_CLASS | (u8)(boot_params.nonce & 0xf));
}

static void setup_apic_page(struct vcpu *v, bool register_virtualization)
{
	guest_interrupt_hook = record_interrupt;
	vapic_apic_access_enable(v, APIC_DEFAULT_BASE, register_virtualization);
	*vapic_reg(v, APIC_ID) = nonce_id();
	*vapic_reg(v, APIC_TIMER_CURRENT_COUNT) = nonce_count();
}

static void setup_apic_access(struct vcpu *v) { setup_apic_page(v, false); }
static void setup_apic_register_virtualization(struct vcpu *v) { setup_apic_page(v, true); }

static void verify_apic_page(struct vcpu *v)
{
	report_fact("host.lvt_timer_masked", "%d", !!(apic_read(APIC_LVT_TIMER) & LVT_MASKED));
	report_fact("vapic.access_address", "0x%lx", vmcs_read(APIC_ACCESS_ADDRESS));
	if (!verbose())
		return;
	printf("lab 09: the guest's program of its local APIC made %lu APIC-access exits, %lu "
	       "APIC-write exits and %lu TPR-below-threshold exits; CR8 made %lu exits\n",
	       v->exit_count[EXIT_REASON_APIC_ACCESS], v->exit_count[EXIT_REASON_APIC_WRITE],
	       v->exit_count[EXIT_REASON_TPR_BELOW_THRESHOLD],
	       v->exit_count[EXIT_REASON_CONTROL_REGISTER_ACCESS]);
}


static void setup_x2apic(struct vcpu *v)
{
	guest_interrupt_hook = record_interrupt;
	vapic_x2apic_enable(v);
	*vapic_reg(v, APIC_ID) = nonce_id();
}

static void verify_x2apic(struct vcpu *v)
{
	(void)v;
	report_fact("host.lvt_timer_masked", "%d", !!(apic_read(APIC_LVT_TIMER) & LVT_MASKED));
	report_fact("host.tpr", "0x%x", apic_read(APIC_TPR));
}

static unsigned level_reraised;

/* A level-triggered line: still asserted at the first EOI of its vector, so requested again. */
static void level_line(struct vcpu *v, u8 vector)
{
	if (level_reraised++ == 0)
		vapic_vid_request(v, vector);
}

static void setup_vid(struct vcpu *v)
{
	guest_interrupt_hook = record_virtual_interrupt;
	vapic_apic_access_enable(v, APIC_DEFAULT_BASE, true);
	vapic_vid_enable(v);
	u8 level = VEC_VID_LEVEL_CLASS | (u8)(boot_params.nonce >> 4 & 0xf);
	vapic_vid_request(v, VEC_VID_HIGH_CLASS | (u8)(boot_params.nonce & 0xf));
	vapic_vid_request(v, level);
	vapic_eoi_exit(v, level);
	lab09(v)->eoi_notify = level_line;
}

/* The virtual APIC's VIRR and VISR, all 256 bits, are clear. */
static bool virr_visr_clear(struct vcpu *v)
{
	for (unsigned i = 0; i < 8; i++)
		if (*vapic_reg(v, VAPIC_IRR + 0x10 * i) || *vapic_reg(v, VAPIC_ISR + 0x10 * i))
			return false;
	return true;
}

static void verify_vid(struct vcpu *v)
{
	report_fact("vid.guest_interrupt_status", "0x%lx", vmcs_read(GUEST_INTERRUPT_STATUS));
	report_fact("vid.virr_visr_clear", "%d", virr_visr_clear(v));
	if (verbose())
		printf("lab 09: three virtual interrupts delivered with %lu EOI-induced exits, %lu "
		       "interrupt-window exits and %lu APIC-access exits\n",
		       v->exit_count[EXIT_REASON_VIRTUALIZED_EOI],
		       v->exit_count[EXIT_REASON_INTERRUPT_WINDOW], v->exit_count[EXIT_REASON_APIC_ACCESS]);
}

/* Right after the post, before the VM entry: the request is in the descriptor the VMCS names and
 * the notification is pending at the local APIC; the virtual APIC has not seen it yet (the
 * processor, not the hypervisor, moves PIR to VIRR). */
static void report_posted(struct vcpu *v, u8 vector)
{
	const struct posted_interrupt_descriptor *pid =
		phys_to_virt(vmcs_read(POSTED_INTERRUPT_DESCRIPTOR_ADDRESS));
	u8 notification = (u8)vmcs_read(POSTED_INTERRUPT_NOTIFICATION_VECTOR);
	report_fact("post.pir_and_on", "%d",
		    pid && !!(pid->pir[vector / 64] & BIT(vector % 64)) &&
			    !!(pid->control & PID_OUTSTANDING_NOTIFICATION));
	report_fact("post.notification_pending", "%d",
		    !!(apic_read(APIC_IRR + 0x10 * (notification / 32)) & BIT(notification % 32)));
	report_fact("post.virr_untouched", "%d",
		    !(*vapic_reg(v, VAPIC_IRR + 0x10 * (vector / 32)) & BIT(vector % 32)) &&
			    !GUEST_INTERRUPT_STATUS_RVI(vmcs_read(GUEST_INTERRUPT_STATUS)));
}

static enum exit_verdict lab09_hypercall(struct vcpu *v)
{
	if (v->regs.rax == HC_LAB09_PHASE_DONE)
		return EXIT_STOP;
	if (v->regs.rax != HC_LAB09_POST) {
		printf("lab09: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	u8 vector = (u8)v->regs.rdi;
	vapic_post(v, vector);
	if (!quiet)
		report_posted(v, vector);
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static void setup_posted(struct vcpu *v)
{
	guest_interrupt_hook = record_virtual_interrupt;
	hypercall_extend(lab09_hypercall);
	vapic_apic_access_enable(v, APIC_DEFAULT_BASE, true);
	vapic_posted_enable(v, VEC_NOTIFICATION);
}

static void verify_posted(struct vcpu *v)
{
	struct posted_interrupt_descriptor *pid = lab09(v)->pid;
	bool clear = pid && !(pid->pir[0] | pid->pir[1] | pid->pir[2] | pid->pir[3] | pid->control);
	report_fact("pid.clear", "%d", clear);
	report_fact("pid.page_aligned", "%d", pid && !((u64)pid & (PAGE_SIZE - 1)));
	report_fact("host.notification_in_service", "%d", apic_in_service(VEC_NOTIFICATION));
	report_fact("host.notification_requested", "%d",
		    !!(apic_read(APIC_IRR + 0x10 * (VEC_NOTIFICATION / 32)) & BIT(VEC_NOTIFICATION % 32)));
	report_fact("vid.virr_visr_clear", "%d", virr_visr_clear(v));
	if (verbose())
		printf("lab 09: the posted interrupt reached the guest with %lu external-interrupt exits "
		       "(the notification was processed in VMX non-root operation)\n",
		       v->exit_count[EXIT_REASON_EXTERNAL_INTERRUPT]);
}

/* ---- make run: the tour, every step's program on a vCPU of its own, with its exits ---- */

struct tour_phase {
	const char *key, *what;
	guest_program guest;
	void (*setup)(struct vcpu *v);
	const char *exits; /* what still exits, and why */
};

static const struct tour_phase tour[] = {
	{ "tpr", "TPR shadow (09-1): 34 MOVs to and from CR8", guest_tpr_shadow, setup_tpr_shadow,
	  "nothing (with lab 03's CR8 exiting alone, each of the 34 exits)" },
	{ "access", "APIC-access page (09-4, 09-5, 09-6): ID, LVT, count, TPR, ICR, CR8", guest_apic_page,
	  setup_apic_access,
	  "every APIC-page access but TPR (APIC access, emulated), and CR8 dropping below the held IPI's class" },
	{ "regvirt", "APIC-register virtualization (09-7): the same program", guest_apic_page,
	  setup_apic_register_virtualization,
	  "the current-count read (not virtualized), the LVT and ICR writes (APIC write), the TPR drop" },
	{ "x2apic", "x2APIC virtualization (09-8, 09-9): the same through MSRs 800H-8FFH", guest_x2apic,
	  setup_x2apic, "the WRMSRs of LVT and ICR (the MSR bitmap), the TPR drop" },
	{ "vid", "virtual-interrupt delivery (09-10 to 09-13): three virtual interrupts, three EOIs",
	  guest_vid, setup_vid, "the two EOIs of the vector in the EOI-exit bitmap" },
	{ "posted", "posted interrupts (09-14, 09-15): one interrupt posted, notified by a self-IPI",
	  guest_posted, setup_posted, "nothing but the guest's VMCALL that asks for the post" },
};

static const struct tour_phase *tour_current;

static void tour_guest(u64 nonce)
{
	tour_current->guest(nonce);
	if (tour_current != &tour[ARRAY_SIZE(tour) - 1])
		hypercall(HC_LAB09_PHASE_DONE, 0, 0);
}

static void tour_reset(void)
{
	stage = after = seen_count = seen_vector = seen_stage = seen_after = 0;
	seen_order = in_service_seen = spurious_seen = 0;
	level_reraised = 0;
}

static void tour_report(const struct tour_phase *p, struct vcpu *w)
{
	char key[48], list[160] = "";
	u64 total = 0;
	unsigned n = 0;
	for (unsigned r = 0; r < EXIT_REASON_TABLE_SIZE; r++) {
		if (!w->exit_count[r] || r == EXIT_REASON_VMCALL)
			continue;
		total += w->exit_count[r];
		n += snprintf(list + n, sizeof(list) - n, "%s%lu %s", n ? ", " : "", w->exit_count[r],
			      exit_reason_name(r));
		if (n >= sizeof(list))
			n = sizeof(list) - 1;
	}
	snprintf(key, sizeof(key), "tour.%s.exits", p->key);
	report_fact(key, "%lu", total);
	snprintf(key, sizeof(key), "tour.%s.interrupts", p->key);
	report_fact(key, "%lu", seen_count);
	if (!verbose())
		return;
	printf("lab 09 tour: %s\n  %lu VM exits besides the hypercalls%s%s%s; %lu interrupts reached the guest\n"
	       "  what still exits: %s\n",
	       p->what, total, n ? " (" : "", list, n ? ")" : "", seen_count, p->exits);
}

static void run_tour(struct vcpu *v)
{
	static struct vcpu others[ARRAY_SIZE(tour) - 1];
	quiet = true;
	guest_program_to_run = tour_guest;
	for (unsigned i = 0; i < ARRAY_SIZE(tour); i++) {
		struct vcpu *w = i ? &others[i - 1] : v;
		tour_current = &tour[i];
		tour_reset();
		if (i) {
			vmcs_load(w);
			harness_prepare_vcpu(w, (u64)guest_start, (u64)guest_stack_top);
		}
		hypercall_extend(lab09_hypercall);
		tour[i].setup(w);
		vcpu_run(w);
		tour_report(&tour[i], w);
	}
	quiet = false;
}

CHECK(09, tpr_shadow, "tpr-shadow", .last_stage = STAGE_RUN, .guest = guest_tpr_shadow,
      .setup = setup_tpr_shadow, .verify = verify_tpr_shadow);
CHECK(09, tpr_threshold, "tpr-threshold", .last_stage = STAGE_RUN, .guest = guest_tpr_threshold,
      .setup = setup_tpr_threshold);
CHECK(09, apic_access, "apic-access", .last_stage = STAGE_RUN, .guest = guest_apic_page,
      .setup = setup_apic_access, .verify = verify_apic_page);
CHECK(09, apic_register_virtualization, "apic-register-virtualization", .last_stage = STAGE_RUN,
      .guest = guest_apic_page, .setup = setup_apic_register_virtualization, .verify = verify_apic_page);
CHECK(09, x2apic, "x2apic", .last_stage = STAGE_RUN, .guest = guest_x2apic, .setup = setup_x2apic,
      .verify = verify_x2apic);
CHECK(09, vid, "virtual-interrupt-delivery", .last_stage = STAGE_RUN, .guest = guest_vid, .setup = setup_vid,
      .verify = verify_vid);
CHECK(09, posted, "posted-interrupt", .last_stage = STAGE_RUN, .guest = guest_posted, .setup = setup_posted,
      .verify = verify_posted);
CHECK(09, tour, "apic-tour", .last_stage = STAGE_RUN, .run = run_tour, .demo = true);
