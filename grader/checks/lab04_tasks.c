/* Lab 04 task-switch checks, host side: a 32-bit protected-mode guest with its own GDT, IDT,
 * TSSes and 4-MiB-page page directory, started at task_main (lab04_tasks.S). Task A switches
 * with distinct values in every register and segment, so a saved or loaded field in the wrong
 * place shows; the other tasks read the TSSes and descriptors the switch wrote. */
#include "check.h"
#include "lab.h"
#include "lab04.h"
#include "lab04_shared.h"
#include "params.h"
#include "tss32.h"

#define GDT32_ENTRIES 21
#define IDT32_ENTRIES 0x53
#define PDE_4M 0x87 /* present, writable, user, 4-MiB page */
#define GATE_INTERRUPT_32 0x8e
#define GATE_TASK 0x85
#define DATA32 0x00cf92000000ffffUL /* flat read/write data, DPL 0 */
#define CODE32 0x00cf9a000000ffffUL /* flat execute/read code, DPL 0 */
#define DESC_DPL3 (3UL << 45)
#define DESC_S_BIT (1UL << 44)
#define DESC_P_BIT (1UL << 47)
#define B_REGS_BASE(nonce) ((u32)(nonce) ^ 0xb0b0b0b0)
_Static_assert(EFLAGS_NT == RFLAGS_NT, "lab04_shared.h: EFLAGS_NT is RFLAGS_NT for the assembly");

extern char task_main[], task_b_entry[], task_c_entry[], task_d_entry[], task_e_entry[], task_j_entry[];
extern char task_k_entry[], fault_7[], fault_10[], fault_11[], fault_13[], int_redeliver[];
extern char a_after_jmp[], a_after_call[], a_after_int[], a_df_jmp[], b_after_iret[], a_extint_point[];
extern char a_after_int3[], a_after_icebp[];
extern u32 canary_a, gdt32_ptr, idt32_ptr, tss_a_ptr, tss_b_ptr, tss_c_ptr, tss_d_ptr;

static u64 tss_descriptor(void *tss, u32 limit, u64 type, bool present)
{
	u64 base = (u64)tss;
	return (limit & 0xffff) | ((base & 0xffffff) << 16) | (type << 40) | ((u64)present << 47) |
	       ((u64)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
}

static u64 interrupt_gate32(void *handler)
{
	u64 offset = (u64)handler;
	return (offset & 0xffff) | ((u64)SEL_CODE32 << 16) | ((u64)GATE_INTERRUPT_32 << 40) |
	       ((offset >> 16) << 48);
}

static u64 task_gate(u16 tss_selector) { return ((u64)tss_selector << 16) | ((u64)GATE_TASK << 40); }

static u32 stack_top(void) { return (u32)(u64)page_alloc() + PAGE_SIZE; }

static struct tss32 *new_task(void *entry, u32 cr3, u32 ebx)
{
	struct tss32 *t = page_alloc();
	t->cr3 = cr3;
	t->eip = (u32)(u64)entry;
	t->eflags = RFLAGS_FIXED;
	t->esp = stack_top();
	t->ebx = ebx;
	t->cs = SEL_CODE32;
	t->ss = t->ds = t->es = t->fs = t->gs = SEL_DATA;
	t->io_map_base = sizeof(struct tss32);
	return t;
}

/* Task B: its own CR3 and LDT, a distinct value in every register and selector. */
static struct tss32 *new_task_b(u32 cr3)
{
	u32 base = B_REGS_BASE(boot_params.nonce);
	struct tss32 *b = new_task(task_b_entry, cr3, base);
	b->eax = base ^ 0x01010101;
	b->ecx = base ^ 0x02020202;
	b->edx = base ^ 0x03030303;
	b->ebp = base ^ 0x06060606;
	b->esi = base ^ 0x07070707;
	b->edi = base ^ 0x08080808;
	b->es = SEL_DATA3;
	b->ss = SEL_DATA2;
	b->ds = SEL_DATA4;
	b->fs = SEL_DATA5;
	b->ldt = SEL_LDT;
	return b;
}

static u32 *page_directory(void)
{
	u32 *pd = page_alloc();
	for (u32 i = 0; i < 1024; i++)
		pd[i] = (i << 22) | PDE_4M;
	return pd;
}

/* The VMCS for a 32-bit protected-mode guest with paging and task A (TR) current. */
static void enter_protected_mode(u64 *gdt, u64 *idt, u32 *pd, struct tss32 *tss_a)
{
	const u32 code32 = AR_TYPE(SEG_TYPE_CODE_RX_ACCESSED) | AR_S | AR_P | AR_DB | AR_G;
	const u32 data = AR_TYPE(SEG_TYPE_DATA_RW_ACCESSED) | AR_S | AR_P | AR_DB | AR_G;
	u64 cr4 = (vmcs_read(GUEST_CR4) & ~CR4_PAE) | CR4_PSE;
	vmcs_set_bits(VM_ENTRY_CONTROLS, ENTRY_IA32E_MODE_GUEST, false);
	vmcs_write(GUEST_CR4, cr4);
	vmcs_write(CR4_READ_SHADOW, cr4 & ~CR4_VMXE);
	vmcs_write(GUEST_CR3, (u64)pd);
	vmcs_write_guest_segment(GUEST_CS_SELECTOR, SEL_CODE32, 0, 0xffffffff, code32);
	enum vmcs_field data_segments[] = { GUEST_SS_SELECTOR, GUEST_DS_SELECTOR, GUEST_ES_SELECTOR,
					    GUEST_FS_SELECTOR, GUEST_GS_SELECTOR };
	for (unsigned i = 0; i < ARRAY_SIZE(data_segments); i++)
		vmcs_write_guest_segment(data_segments[i], SEL_DATA, 0, 0xffffffff, data);
	vmcs_write_guest_segment(GUEST_TR_SELECTOR, SEL_TSS_A, (u64)tss_a, TSS32_MIN_LIMIT,
				 AR_TYPE(SYS_TYPE_TSS32_BUSY) | AR_P);
	vmcs_write(GUEST_GDTR_BASE, (u64)gdt);
	vmcs_write(GUEST_GDTR_LIMIT, GDT32_ENTRIES * 8 - 1);
	vmcs_write(GUEST_IDTR_BASE, (u64)idt);
	vmcs_write(GUEST_IDTR_LIMIT, IDT32_ENTRIES * 8 - 1);
	vmcs_write(GUEST_RIP, (u64)task_main);
	vmcs_write(GUEST_RSP, stack_top());
	vmcs_write(GUEST_RFLAGS, RFLAGS_FIXED);
	vmcs_write(GUEST_DR7, DR7_ALL_ENABLES); /* breakpoints at linear 0, never executed */
}

/* The processor checked the new TSS descriptor before the exit; the hypervisor reads it again
 * from guest memory, which may have changed since (another CPU, a DMA). Change it here: each
 * of E..I breaks one rule of SDM 8.3 after the processor has looked, and so does A's busy bit
 * at B's first IRET. */
static exit_handler student_task_switch, student_exception;
static struct tss32 *tss_e;
static bool iret_damaged;

/* Damages the descriptor of the switch's new TSS as the comment above says; true if it did. */
static bool damage(struct vcpu *v)
{
	u64 *gdt = (u64 *)(u64)gdt32_ptr;
	u16 selector = ts_qual_selector(v->exit.qualification) & ~3;
	bool iret = ts_qual_source(v->exit.qualification) == TASK_SWITCH_IRET;
	if (iret && selector == SEL_TSS_A && !iret_damaged) {
		gdt[SEL_TSS_A / 8] &= ~DESC_BUSY_BIT; /* B's first IRET back: A no longer busy */
		iret_damaged = true;
		return true;
	}
	if (selector == SEL_TSS_E)
		gdt[SEL_TSS_E / 8] = tss_descriptor(tss_e, 0x40, SYS_TYPE_TSS32_AVAILABLE, true);
	else if (selector == SEL_TSS_F)
		gdt[SEL_TSS_F / 8] &= ~DESC_P_BIT;
	else if (selector == SEL_TSS_G)
		gdt[SEL_TSS_G / 8] |= DESC_S_BIT; /* a code segment with the TSS's type bits */
	else if (selector == SEL_TSS_I)
		gdt[SEL_TSS_I / 8] = (gdt[SEL_TSS_I / 8] & ~(0xfUL << 40)) | ((u64)SEG_TYPE_LDT << 40);
	else if (selector == SEL_TSS_H)
		gdt[SEL_TSS_H / 8] |= DESC_BUSY_BIT;
	else
		return false;
	return true;
}

/* J's task gate delivered interrupt 0x51; now the check queues VEC_REDELIVER, whose gate is
 * not present, and makes #NP exit: its delivery exits when A runs again with IF = 1, and the
 * hypervisor must inject it again although the event before it needed no re-injection. */
static void arm_redelivery(struct vcpu *v)
{
	if (ts_qual_source(v->exit.qualification) != TASK_SWITCH_IDT_GATE ||
	    ts_qual_selector(v->exit.qualification) != SEL_TSS_J)
		return;
	vcpu_queue_interrupt(v, VEC_REDELIVER);
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_NP), true);
}

/* A fault for a switch whose new TSS the check left sound (present, a 32-bit TSS, limit 67H,
 * busy only for IRET) is the hypervisor's mistake: name it and stop the run before the guest,
 * which did not expect it, faults on in a loop. */
static bool fault_for_sound_tss(struct vcpu *v)
{
	u32 injected = (u32)vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION);
	if (!(injected & INTR_INFO_VALID) || INTR_INFO_TYPE(injected) != INTR_TYPE_HARDWARE_EXCEPTION)
		return false;
	u16 selector = ts_qual_selector(v->exit.qualification);
	u64 *gdt = (u64 *)(u64)gdt32_ptr;
	report_fact("tasks.sound_tss_selector", "0x%x", selector);
	report_fact("tasks.sound_tss_limit", "0x%x", desc_limit(gdt[selector / 8]));
	report_fact("tasks.sound_tss_fault_error", "0x%lx", vmcs_read(VM_ENTRY_EXCEPTION_ERROR_CODE));
	report_fact("tasks.sound_tss_fault", "0x%x", INTR_INFO_VECTOR(injected));
	return true;
}

static enum exit_verdict damage_then_switch(struct vcpu *v)
{
	bool damaged = damage(v);
	arm_redelivery(v);
	enum exit_verdict verdict = student_task_switch(v);
	if (!damaged && fault_for_sound_tss(v))
		return EXIT_STOP;
	return verdict;
}

/* The #NP of VEC_REDELIVER's delivery: the check repairs the gate and stops #NP exiting; the
 * hypervisor must deliver the interrupt again. Any other exception is the hypervisor's. */
static enum exit_verdict repair_redeliver_gate(struct vcpu *v)
{
	u32 idt = (u32)vmcs_read(IDT_VECTORING_INFORMATION);
	if (!(idt & INTR_INFO_VALID) || INTR_INFO_VECTOR(idt) != VEC_REDELIVER)
		return student_exception(v);
	report_fact("tasks.redeliver_vectoring", "0x%x", idt);
	((u64 *)(u64)idt32_ptr)[VEC_REDELIVER] |= DESC_P_BIT;
	vmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_NP), false);
	return EXIT_RESUME;
}

static void fill_gdt(u64 *gdt, u32 cr3, struct tss32 *a, struct tss32 *b)
{
	gdt[SEL_CODE32 / 8] = CODE32;
	gdt[SEL_DATA / 8] = gdt[SEL_DATA2 / 8] = gdt[SEL_DATA3 / 8] = DATA32;
	gdt[SEL_DATA4 / 8] = gdt[SEL_DATA5 / 8] = DATA32;
	gdt[SEL_LDT / 8] = tss_descriptor(page_alloc(), 0xfff, SEG_TYPE_LDT, true);
	gdt[SEL_TSS_A / 8] = tss_descriptor(a, TSS32_MIN_LIMIT, SYS_TYPE_TSS32_BUSY, true);
	gdt[SEL_TSS_B / 8] = tss_descriptor(b, TSS32_MIN_LIMIT, SYS_TYPE_TSS32_AVAILABLE, true);
	gdt[SEL_TSS_SHORT / 8] = tss_descriptor(page_alloc(), 0x40, SYS_TYPE_TSS32_AVAILABLE, true);
	gdt[SEL_TSS_NOT_PRESENT / 8] =
		tss_descriptor(page_alloc(), TSS32_MIN_LIMIT, SYS_TYPE_TSS32_AVAILABLE, false);
	tss_e = new_task(task_e_entry, cr3, 0xe);
	gdt[SEL_TSS_E / 8] = tss_descriptor(tss_e, TSS32_MIN_LIMIT, SYS_TYPE_TSS32_AVAILABLE, true);
	const u16 damaged[] = { SEL_TSS_F, SEL_TSS_G, SEL_TSS_H, SEL_TSS_I };
	for (unsigned i = 0; i < ARRAY_SIZE(damaged); i++)
		gdt[damaged[i] / 8] = tss_descriptor(new_task(task_e_entry, cr3, damaged[i]), TSS32_MIN_LIMIT,
						     SYS_TYPE_TSS32_AVAILABLE, true);
	gdt[SEL_TSS_H / 8] |= DESC_DPL3;
}

static void fill_idt(u64 *idt)
{
	idt[VEC_NM] = interrupt_gate32(fault_7);
	idt[VEC_DF] = task_gate(SEL_TSS_D);
	idt[VEC_TS] = interrupt_gate32(fault_10);
	idt[VEC_NP] = interrupt_gate32(fault_11);
	idt[VEC_GP] = interrupt_gate32(fault_13);
	idt[VEC_TASK_GATE] = task_gate(SEL_TSS_C);
	idt[VEC_EXTINT_TASK_GATE] = task_gate(SEL_TSS_J);
	idt[VEC_BP] = idt[VEC_DB] = task_gate(SEL_TSS_K);
	idt[VEC_REDELIVER] = interrupt_gate32(int_redeliver) & ~DESC_P_BIT;
}

/* Where the SDM says each saved EIP must point, and what task B must start with. */
static void report_expected(struct tss32 *b, struct tss32 *d)
{
	report_fact("host.tss_d_stack_top", "0x%x", d->esp);
	report_fact("host.tss_b_stack_top", "0x%x", b->esp);
	report_fact("host.tss_b_cr3", "0x%x", b->cr3);
	report_fact("host.a_after_jmp", "0x%x", (u32)(u64)a_after_jmp);
	report_fact("host.a_after_call", "0x%x", (u32)(u64)a_after_call);
	report_fact("host.a_after_int", "0x%x", (u32)(u64)a_after_int);
	report_fact("host.a_df_jmp", "0x%x", (u32)(u64)a_df_jmp);
	report_fact("host.b_after_iret", "0x%x", (u32)(u64)b_after_iret);
	report_fact("host.a_extint_point", "0x%x", (u32)(u64)a_extint_point);
	report_fact("host.a_after_int3", "0x%x", (u32)(u64)a_after_int3);
	report_fact("host.a_after_icebp", "0x%x", (u32)(u64)a_after_icebp);
}

static void setup_tasks(struct vcpu *v)
{
	student_task_switch = exit_handler_for(EXIT_REASON_TASK_SWITCH);
	if (student_task_switch)
		exit_register(EXIT_REASON_TASK_SWITCH, damage_then_switch);
	student_exception = exit_handler_for(EXIT_REASON_EXCEPTION_OR_NMI);
	if (student_exception)
		exit_register(EXIT_REASON_EXCEPTION_OR_NMI, repair_redeliver_gate);
	u32 *pd = page_directory();
	u64 *gdt = page_alloc(), *idt = page_alloc();
	u32 cr3 = (u32)(u64)pd;
	struct tss32 *a = page_alloc();
	a->cr3 = cr3; /* static: a task switch never saves CR3 (SDM 8.2.1) */
	a->io_map_base = sizeof(struct tss32);
	struct tss32 *b = new_task_b((u32)(u64)page_directory());
	struct tss32 *c = new_task(task_c_entry, cr3, 0xc);
	struct tss32 *d = new_task(task_d_entry, cr3, 0xd);
	fill_gdt(gdt, cr3, a, b);
	gdt[SEL_TSS_C / 8] = tss_descriptor(c, TSS32_MIN_LIMIT, SYS_TYPE_TSS32_AVAILABLE, true);
	gdt[SEL_TSS_D / 8] = tss_descriptor(d, TSS32_MIN_LIMIT, SYS_TYPE_TSS32_AVAILABLE, true);
	gdt[SEL_TSS_J / 8] = tss_descriptor(new_task(task_j_entry, cr3, 0x1), TSS32_MIN_LIMIT,
					    SYS_TYPE_TSS32_AVAILABLE, true);
	gdt[SEL_TSS_K / 8] = tss_descriptor(new_task(task_k_entry, cr3, 0xb), TSS32_MIN_LIMIT,
					    SYS_TYPE_TSS32_AVAILABLE, true);
	vcpu_queue_interrupt(v, VEC_EXTINT_TASK_GATE); /* waits for A's STI */
	fill_idt(idt);
	canary_a = (u32)(boot_params.nonce >> 32) | 1;
	gdt32_ptr = (u32)(u64)gdt;
	idt32_ptr = (u32)(u64)idt;
	tss_a_ptr = (u32)(u64)a;
	tss_b_ptr = (u32)(u64)b;
	tss_c_ptr = (u32)(u64)c;
	tss_d_ptr = (u32)(u64)d;
	report_expected(b, d);
	enter_protected_mode(gdt, idt, pd, a);
}

CHECK(04, task_jmp, "task-jmp", .last_stage = STAGE_RUN, .setup = setup_tasks);
CHECK(04, task_call, "task-call-iret", .last_stage = STAGE_RUN, .setup = setup_tasks);
CHECK(04, task_gate, "task-gate", .last_stage = STAGE_RUN, .setup = setup_tasks);
CHECK(04, task_bad, "task-bad-tss", .last_stage = STAGE_RUN, .setup = setup_tasks);
CHECK(04, task_df, "task-double-fault", .last_stage = STAGE_RUN, .setup = setup_tasks);
