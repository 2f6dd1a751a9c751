/* Lab 08 checks: an unrestricted guest in its own guest-physical space (built by
 * lab08_space.c with the student's lab 07 ept_map()), started in real mode at 0000:7C00 with
 * lab08_guest.S copied there. What the guest computed in each mode, the mode the VMCS holds at
 * each of its reports, what it printed and the memory map it received, what reached the
 * machine-wide ports, and the exits and injections Bochs recorded are the evidence. */
#include "check.h"
#include "io_device.h"
#include "lab.h"
#include "lab08.h"
#include "lab08_shared.h"
#include "lab08_space.h"
#include "params.h"

#define VGA_TEXT 0xb8000 /* the text screen of mode 3: 80 x 25 (character, attribute) */
#define VGA_COLUMNS 80
#define VGA_CRTC_PORTS 0x3d4    /* the BIOS's own devices: INT 10h moves the cursor here, */
#define ATA_PRIMARY_PORTS 0x1f0 /* INT 13h reads the disk here */

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

/* ---- the ports a BIOS guest must not reach: what reaches them (ug_firmware_io makes them exit) ---- */

static char port_log[96], shutdown_text[16]; /* writes to the other ports; to 0x8900 */

static void guard_out(u16 port, unsigned size, u32 value)
{
	(void)size;
	if (verbose())
		printf("machine port 0x%x: the guest's write of 0x%x stopped by the hypervisor\n", port,
		       value);
	unsigned n = strlen(shutdown_text);
	if (port == PORT_BOCHS_SHUTDOWN && n + 1 < sizeof(shutdown_text)) {
		shutdown_text[n] = value >= ' ' && value < 0x7f ? (char)value : '?';
		return;
	}
	n = strlen(port_log);
	snprintf(port_log + n, sizeof(port_log) - n, "%s0x%x=0x%x", n ? "," : "", port, value);
}

static u32 guard_in(u16 port, unsigned size)
{
	(void)size;
	return port == PORT_SYSTEM_CONTROL_A ? 0x02 : 0; /* A20 on, no reset */
}

static const struct io_device guards[] = {
	{ .name = "8042 data", .base = PORT_KBC_DATA, .count = 1, .in = guard_in, .out = guard_out },
	{ .name = "8042 command", .base = PORT_KBC_COMMAND, .count = 1, .in = guard_in, .out = guard_out },
	{ .name = "system control A",
	  .base = PORT_SYSTEM_CONTROL_A,
	  .count = 1,
	  .in = guard_in,
	  .out = guard_out },
	{ .name = "rombios debug",
	  .base = PORT_ROMBIOS_DEBUG,
	  .count = PORT_DEBUG_COUNT,
	  .in = guard_in,
	  .out = guard_out },
	{ .name = "vgabios debug",
	  .base = PORT_VGABIOS_DEBUG,
	  .count = PORT_DEBUG_COUNT,
	  .in = guard_in,
	  .out = guard_out },
	{ .name = "reset control", .base = PORT_RESET_CONTROL, .count = 1, .in = guard_in, .out = guard_out },
	{ .name = "bochs shutdown",
	  .base = PORT_BOCHS_SHUTDOWN,
	  .count = 1,
	  .in = guard_in,
	  .out = guard_out },
};

/* ---- the guest's hypercalls ---- */

static const char *const report_names[REPORT_KEYS] = {
	[REPORT_REAL] = "real",   [REPORT_PROTECTED] = "protected",   [REPORT_PAE] = "pae",
	[REPORT_IA32E] = "ia32e", [REPORT_INTERRUPT] = "interrupt",   [REPORT_EXCEPTION] = "exception",
	[REPORT_DISK] = "disk",   [REPORT_E820_COUNT] = "e820_count", [REPORT_E801] = "e801",
};

/* The guest's mode as the VMCS holds it at this exit (SDM 28.3: saved by the processor). */
static const char *vmcs_mode(void)
{
	u64 cr0 = vmcs_read(GUEST_CR0);
	if (vmcs_read(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST)
		return "ia32e";
	if ((cr0 & CR0_PG) && (vmcs_read(GUEST_CR4) & CR4_PAE))
		return "pae";
	return cr0 & CR0_PE ? "protected" : "real";
}

static void report(u32 key, u32 value)
{
	char name[40];
	if (key >= REPORT_KEYS)
		panic("lab08: guest report key %u", key);
	snprintf(name, sizeof(name), "guest.%s", report_names[key]);
	report_fact(name, "0x%x", value);
	snprintf(name, sizeof(name), "mode.%s", report_names[key]);
	report_fact(name, "%s", vmcs_mode());
	snprintf(name, sizeof(name), "efer.%s", report_names[key]);
	report_fact(name, "0x%lx", vmcs_read(GUEST_IA32_EFER));
	if (verbose())
		printf("guest: reports from %s mode (CR0 0x%lx, CR4 0x%lx, IA32_EFER 0x%lx, CS 0x%lx)\n",
		       vmcs_mode(), vmcs_read(GUEST_CR0), vmcs_read(GUEST_CR4), vmcs_read(GUEST_IA32_EFER),
		       vmcs_read(GUEST_CS_SELECTOR));
}

static enum exit_verdict ug_hypercall(struct vcpu *v)
{
	switch ((u32)v->regs.rax) {
	case 0xe820: /* the hypervisor's INT 15h stub: its E820h call */
		ug_e820_answer(v);
		break;
	case HC_UG_REPORT:
		report((u32)v->regs.rdi, (u32)v->regs.rsi);
		break;
	case HC_UG_INTERRUPT:
		vmx_advance_rip(v);
		report_fact("inject.interrupt_vector", "0x%x", (u8)v->regs.rbx);
		ug_inject_event(v, (u8)v->regs.rbx, INTR_TYPE_EXTERNAL_INTERRUPT, 0);
		report_fact("inject.interrupt_info", "0x%lx", vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION));
		return EXIT_RESUME;
	case HC_UG_EXCEPTION:
		vmx_advance_rip(v);
		ug_inject_event(v, VEC_GP, INTR_TYPE_HARDWARE_EXCEPTION, (u32)boot_params.nonce & 0xfff8);
		return EXIT_RESUME;
	case HC_UG_STRAY:
		report_fact("guest.stray_vector_taken", "1");
		return EXIT_STOP;
	default:
		printf("lab08: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* ---- the guest's VMCS state ---- */

/* The grader's own test before the first entry: Bochs panics on this state instead of failing
 * the entry as the SDM says, which would end the run without a word. */
static void refuse_ia32e_in_real_mode(void)
{
	if ((vmcs_read(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST) && !(vmcs_read(GUEST_CR0) & CR0_PE))
		panic("lab08: the VM-entry control \"IA-32e mode guest\" is 1 for a guest with CR0.PE = 0 "
		      "and CR0.PG = 0: the SDM fails this entry (27.3.1.1), Bochs panics instead, so the "
		      "check did not enter. Clear the control for a real-mode guest (08-4)");
}

/* A failed VM entry of this guest, explained by the rule its state breaks (08-7). */
static const char *explain_guest_state(void) { return ug_state_problem_name(ug_check_guest_state()); }

static void setup_guest(struct vcpu *v, u64 phases)
{
	exit_set_entry_failure_explainer(explain_guest_state);
	lab08_space_build(v, phases);
	ug_enable(v);
	ug_setup_real_mode(v, 0, UG_ENTRY, UG_STACK_TOP);
	ug_cr_policy(v);
	ug_efer_setup(v);
	hypercall_extend(ug_hypercall);
	refuse_ia32e_in_real_mode();
}

static void report_controls(void)
{
	report_fact("ug.controls.secondary", "0x%lx",
		    vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
	report_fact("ug.controls.entry", "0x%lx", vmcs_read(VM_ENTRY_CONTROLS));
	report_fact("ug.controls.exit", "0x%lx", vmcs_read(VM_EXIT_CONTROLS));
	report_fact("ug.controls.cr0_mask", "0x%lx", vmcs_read(CR0_GUEST_HOST_MASK));
	report_fact("ug.controls.cr4_mask", "0x%lx", vmcs_read(CR4_GUEST_HOST_MASK));
}

/* ug_setup_real_mode() with another CS:IP and SS:SP, from the nonce: CS base = selector * 16
 * (SDM 21.1.1), RIP the offset; then the check's own start again. */
static void probe_other_start(struct vcpu *v)
{
	u32 n = (u32)boot_params.nonce;
	ug_setup_real_mode(v, 0x1000 | (n & 0xfff), (n >> 12) & 0xfffe, 0x1000 | ((n >> 20) & 0xffe));
	report_fact("start.other", "0x%lx:0x%lx:0x%lx:0x%lx", vmcs_read(GUEST_CS_SELECTOR),
		    vmcs_read(GUEST_CS_BASE), vmcs_read(GUEST_RIP), vmcs_read(GUEST_RSP));
	ug_setup_real_mode(v, 0, UG_ENTRY, UG_STACK_TOP);
}

/* SS, DS, ES, FS, GS as ug_setup_real_mode() left them: selector, base, limit. */
static void report_data_segments(void)
{
	static const enum vmcs_field fields[][3] = {
		{ GUEST_SS_SELECTOR, GUEST_SS_BASE, GUEST_SS_LIMIT },
		{ GUEST_DS_SELECTOR, GUEST_DS_BASE, GUEST_DS_LIMIT },
		{ GUEST_ES_SELECTOR, GUEST_ES_BASE, GUEST_ES_LIMIT },
		{ GUEST_FS_SELECTOR, GUEST_FS_BASE, GUEST_FS_LIMIT },
		{ GUEST_GS_SELECTOR, GUEST_GS_BASE, GUEST_GS_LIMIT },
	};
	char text[160] = "";
	for (unsigned i = 0; i < ARRAY_SIZE(fields); i++) {
		unsigned n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "%s0x%lx:0x%lx:0x%lx", n ? "," : "",
			 vmcs_read(fields[i][0]), vmcs_read(fields[i][1]), vmcs_read(fields[i][2]));
	}
	report_fact("start.segments", "%s", text);
}

static void setup_real_mode(struct vcpu *v)
{
	setup_guest(v, 0);
	probe_other_start(v);
	report_data_segments();
	report_fact("start.cs", "0x%lx:0x%lx:0x%lx", vmcs_read(GUEST_CS_SELECTOR), vmcs_read(GUEST_CS_BASE),
		    vmcs_read(GUEST_RIP));
	report_fact("start.cr0", "0x%lx", vmcs_read(GUEST_CR0));
	report_fact("start.rflags", "0x%lx", vmcs_read(GUEST_RFLAGS));
	report_controls();
}

static void setup_walk(struct vcpu *v)
{
	setup_guest(v, PHASE_WALK);
	report_controls();
}

/* ug_inject_event() for the same guest with CR0.PE = 1, read back from the VMCS: there the
 * error code goes with exactly the hardware exceptions that have one (SDM 27.2.1.3, 6.3.1). */
static void probe_protected_injections(struct vcpu *v)
{
	static const struct {
		u8 vector;
		enum interruption_type type;
	} events[] = {
		{ VEC_GP, INTR_TYPE_HARDWARE_EXCEPTION }, { VEC_PF, INTR_TYPE_HARDWARE_EXCEPTION },
		{ VEC_UD, INTR_TYPE_HARDWARE_EXCEPTION }, { VEC_GP, INTR_TYPE_SOFTWARE_INTERRUPT },
		{ VEC_GP, INTR_TYPE_EXTERNAL_INTERRUPT },
	};
	u64 cr0 = vmcs_read(GUEST_CR0);
	char text[120] = "";
	vmcs_write(GUEST_CR0, cr0 | CR0_PE);
	for (unsigned i = 0; i < ARRAY_SIZE(events); i++) {
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
		ug_inject_event(v, events[i].vector, events[i].type, (u32)boot_params.nonce & 0xfff8);
		u64 info = vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION);
		unsigned n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "%s0x%lx/0x%lx", n ? "," : "", info,
			 info & INTR_INFO_DELIVER_ERROR_CODE ? vmcs_read(VM_ENTRY_EXCEPTION_ERROR_CODE) : 0);
	}
	vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION, 0);
	vmcs_write(GUEST_CR0, cr0);
	report_fact("inject.protected", "%s", text);
}

static void setup_events(struct vcpu *v)
{
	setup_guest(v, PHASE_EVENTS);
	probe_protected_injections(v);
}

/* The machine's BIOS as guest code: its ports, its INT 15h hooked by the hypervisor. */
static void setup_bios(struct vcpu *v, u64 phases)
{
	setup_guest(v, phases);
	for (unsigned i = 0; i < ARRAY_SIZE(guards); i++)
		io_device_register(&guards[i]);
	io_intercept(v, VGA_CRTC_PORTS, 2); /* as an earlier setup may have: 08-8 clears them */
	io_intercept(v, ATA_PRIMARY_PORTS, 8);
	ug_firmware_io(v);
	ug_hook_int15(v, UG_INT15_STUB);
}

static void setup_bios_services(struct vcpu *v) { setup_bios(v, PHASE_BIOS); }
static void setup_demo(struct vcpu *v) { setup_bios(v, PHASE_BIOS | PHASE_WALK); }

/* What the guest printed with INT 10h: row BIOS_ROW of the VGA text screen (mode 3). */
static void report_vga_row(void)
{
	const u16 *screen = phys_to_virt(VGA_TEXT + BIOS_ROW * VGA_COLUMNS * 2);
	char row[VGA_COLUMNS + 1];
	unsigned n = 0;
	for (unsigned i = 0; i < VGA_COLUMNS; i++)
		row[n++] = (char)(screen[i] & 0xff);
	while (n && (row[n - 1] == ' ' || row[n - 1] == 0))
		n--;
	row[n] = 0;
	report_fact("bios.vga_row", "%s", row);
	if (verbose())
		printf("the guest printed, read back from the VGA text screen (row %u): \"%s\"\n", BIOS_ROW,
		       row);
}

static void report_e820(void)
{
	char text[200] = "";
	for (unsigned i = 0; i < UG_E820_MAX; i++) {
		const u8 *entry = lab08_ram + UG_E820_BUF + 24 * i;
		u64 base, length;
		u32 type;
		memcpy(&base, entry, 8);
		memcpy(&length, entry + 8, 8);
		memcpy(&type, entry + 16, 4);
		if (!length && !type)
			break;
		unsigned n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "%s0x%lx+0x%lx:%u", n ? "," : "", base, length, type);
	}
	report_fact("bios.e820", "%s", text);
	if (verbose())
		printf("the memory map the guest received (base+length:type): %s\n", text);
}

static void verify_bios(struct vcpu *v)
{
	(void)v;
	report_vga_row();
	report_e820();
	report_fact("bios.ports", "%s", port_log);
	report_fact("bios.shutdown_port", "%s", shutdown_text);
}

/* The guest as if the hypervisor restored it in PAE paging (a saved guest, say), its PDPTE
 * fields cleared: the student's ug_load_pdptes() fills them. */
static void setup_pae(struct vcpu *v)
{
	setup_guest(v, 0);
	lab08_enter_pae();
	ug_load_pdptes(v);
	for (unsigned i = 0; i < 4; i++) {
		char key[24];
		snprintf(key, sizeof(key), "pdpte.%u", i);
		report_fact(key, "0x%lx", vmcs_read(GUEST_PDPTE0 + 2 * i));
	}
}

/* ---- ug_check_guest_state() on states that break one rule each (and sound ones) ---- */

struct sample {
	enum vmcs_field field;
	u64 set, clear;
	enum vmcs_field field2;
	u64 set2;
};

static const struct sample samples[] = {
	{ GUEST_CR0, 0, 0, 0, 0 },
	{ SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0, CPU2_ENABLE_EPT, 0, 0 },
	{ GUEST_CR0, CR0_PG, 0, 0, 0 },
	{ VM_ENTRY_CONTROLS, ENTRY_IA32E_MODE_GUEST, 0, 0, 0 },
	{ GUEST_SS_ACCESS_RIGHTS, AR_DPL(3), 0, 0, 0 },
	{ GUEST_RFLAGS, RFLAGS_VM, 0, 0, 0 },
	{ VM_ENTRY_INTERRUPTION_INFORMATION,
	  INTR_INFO_VALID | INTR_INFO_DELIVER_ERROR_CODE |
		  INTR_TYPE_HARDWARE_EXCEPTION << INTR_INFO_TYPE_SHIFT | VEC_GP,
	  0, 0, 0 },
	/* sound: each rule above holds only in real mode, or only with the control */
	{ VM_ENTRY_INTERRUPTION_INFORMATION,
	  INTR_INFO_VALID | INTR_INFO_DELIVER_ERROR_CODE |
		  INTR_TYPE_HARDWARE_EXCEPTION << INTR_INFO_TYPE_SHIFT | VEC_GP,
	  0, GUEST_CR0, CR0_PE },
	{ GUEST_RFLAGS, RFLAGS_VM, 0, GUEST_CR0, CR0_PE },
	{ GUEST_SS_ACCESS_RIGHTS, AR_DPL(3), 0, GUEST_CR0, CR0_PE },
	{ GUEST_CR0, CR0_PE | CR0_PG, 0, GUEST_CR4, CR4_PAE },
	{ SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0, CPU2_UNRESTRICTED_GUEST, GUEST_CR0, CR0_PG },
	{ PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0, CPU_ACTIVATE_SECONDARY_CONTROLS, GUEST_CR0,
	  CR0_PG },
	{ VM_ENTRY_INTERRUPTION_INFORMATION,
	  INTR_INFO_DELIVER_ERROR_CODE | INTR_TYPE_HARDWARE_EXCEPTION << INTR_INFO_TYPE_SHIFT | VEC_GP, 0, 0,
	  0 },
	/* broken again: IA-32e mode with PE and PG but without PAE */
	{ VM_ENTRY_CONTROLS, ENTRY_IA32E_MODE_GUEST, 0, GUEST_CR0, CR0_PE | CR0_PG },
};

static void try_sample(const struct sample *s, char *list, unsigned size)
{
	u64 saved = vmcs_read(s->field), saved2 = s->field2 ? vmcs_read(s->field2) : 0;
	vmcs_write(s->field, (saved | s->set) & ~s->clear);
	if (s->field2)
		vmcs_write(s->field2, saved2 | s->set2);
	unsigned n = strlen(list);
	snprintf(list + n, size - n, "%s%d", n ? "," : "", ug_check_guest_state());
	if (s->field2)
		vmcs_write(s->field2, saved2);
	vmcs_write(s->field, saved);
}

static void setup_entry_checks(struct vcpu *v)
{
	char list[64] = "";
	setup_guest(v, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(samples); i++)
		try_sample(&samples[i], list, sizeof(list));
	report_fact("state.classified", "%s", list);
}

CHECK(08, real_mode, "ug-real-mode", .last_stage = STAGE_RUN, .setup = setup_real_mode);
CHECK(08, walk, "ug-mode-walk", .last_stage = STAGE_RUN, .setup = setup_walk);
CHECK(08, pae, "ug-pae-pdptes", .last_stage = STAGE_RUN, .setup = setup_pae);
CHECK(08, events, "ug-real-mode-events", .last_stage = STAGE_RUN, .setup = setup_events);
CHECK(08, entry_checks, "ug-entry-checks", .last_stage = STAGE_RUN, .setup = setup_entry_checks);
CHECK(08, bios, "ug-bios-services", .last_stage = STAGE_RUN, .setup = setup_bios_services,
      .verify = verify_bios);
CHECK(08, demo, "ug-bios-demo", .last_stage = STAGE_RUN, .setup = setup_demo, .verify = verify_bios,
      .demo = true);
