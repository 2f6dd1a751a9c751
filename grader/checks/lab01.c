/* Lab 01 checks: the bring-up stages, the first VM exit, the host and guest state, CPUID
 * emulation, the instruction skip and VMXOFF. The harness observes the stages and the host state
 * after the last exit (grader/harness/harness.c); the guest programs here observe the guest. */
#include "apic.h"
#include "check.h"
#include "lab.h"
#include "lab01.h"
#include "lab01_shared.h"
#include "tss32.h"

CHECK(01, detect, "vmx-detect", .last_stage = STAGE_DETECT);
CHECK(01, fixed_bits, "fixed-bits", .last_stage = STAGE_FIXED_BITS);
CHECK(01, vmxon, "vmxon", .last_stage = STAGE_VMXON);
CHECK(01, vmcs, "vmcs-load", .last_stage = STAGE_VMCS);

/* The guest's first instruction that exits is VMCALL(HC_DONE, value derived from the nonce):
 * the value can only reach the grader if VM entry worked and the exit came back to the host. */
static void guest_first_exit(u64 nonce) { hypercall(HC_DONE, nonce ^ FIRST_EXIT_DONE_XOR, 0); }
CHECK(01, first_exit, "first-exit", .last_stage = STAGE_RUN, .guest = guest_first_exit);
/* The host state after that exit is compared with the state before the run (harness.c). */
CHECK(01, host_state, "host-state", .last_stage = STAGE_RUN, .guest = guest_first_exit);

/* ---- guest-state: what VM entry loaded, as the guest sees it ---- */

static u64 loaded_value;
static void read_fs_relative(u64 offset)
{
	__asm__ volatile("mov %%fs:(%1), %0" : "=r"(loaded_value) : "r"(offset));
}

static void read_gs_relative(u64 offset)
{
	__asm__ volatile("mov %%gs:(%1), %0" : "=r"(loaded_value) : "r"(offset));
}

static void undefined_opcode(u64 unused)
{
	(void)unused;
	__asm__ volatile("ud2");
}

/* A load through FS or GS reads base + offset: with base 0 it reads `probe` itself. */
static void report_segment_base_read(const char *key, void (*load)(u64), u64 nonce)
{
	static u64 probe;
	struct guest_fault fault;
	probe = nonce;
	loaded_value = 0;
	if (guest_catch(load, (u64)&probe, &fault))
		loaded_value = ~fault.vector;
	guest_report(key, loaded_value);
}

static void guest_state(u64 nonce)
{
	struct descriptor_table gdtr = read_gdtr();
	struct guest_fault fault = { 0, 0, 0 };
	guest_report("guest.rflags", read_rflags());
	guest_report("guest.cr0", read_cr0());
	guest_report("guest.cr3", read_cr3());
	guest_report("guest.cr4", read_cr4());
	guest_report("guest.cs", read_cs());
	guest_report("guest.ss", read_ss());
	guest_report("guest.ds", read_ds());
	guest_report("guest.es", read_es());
	guest_report("guest.fs", read_fs());
	guest_report("guest.gs", read_gs());
	guest_report("guest.tr", read_tr());
	guest_report("guest.ldtr", read_ldtr());
	guest_report("guest.gdtr_base", gdtr.base);
	guest_report("guest.gdtr_limit", gdtr.limit);
	report_segment_base_read("guest.fs_read", read_fs_relative, nonce);
	report_segment_base_read("guest.gs_read", read_gs_relative, nonce ^ 1);
	guest_catch(undefined_opcode, 0, &fault);
	guest_report("guest.ud2_vector", fault.vector);
}

/* The host's descriptor-table limits before the first entry (every VM exit sets them to 0xffff,
 * SDM 28.5.2), and the guest's IDTR as the VMCS holds it: the guest loads its own IDT before
 * anything could use the first one, so only the VMCS still shows it. */
static void report_descriptor_tables(struct vcpu *v)
{
	(void)v;
	report_fact("guest_state.host_gdtr_limit", "0x%x", read_gdtr().limit);
	report_fact("guest_state.host_idtr_limit", "0x%x", read_idtr().limit);
	report_fact("guest_state.vmcs_idtr_base", "0x%lx", vmcs_read(GUEST_IDTR_BASE));
	report_fact("guest_state.vmcs_idtr_limit", "0x%lx", vmcs_read(GUEST_IDTR_LIMIT));
}

#define SEG_TYPE_ACCESSED 0x1 /* type bit 0 (SDM Vol. 3A 3.4.5.1): a segment load sets it */
static const struct {
	const char *name;
	enum vmcs_field selector, limit, access_rights;
} guest_segments[] = {
	{ "cs", GUEST_CS_SELECTOR, GUEST_CS_LIMIT, GUEST_CS_ACCESS_RIGHTS },
	{ "ss", GUEST_SS_SELECTOR, GUEST_SS_LIMIT, GUEST_SS_ACCESS_RIGHTS },
	{ "ds", GUEST_DS_SELECTOR, GUEST_DS_LIMIT, GUEST_DS_ACCESS_RIGHTS },
	{ "es", GUEST_ES_SELECTOR, GUEST_ES_LIMIT, GUEST_ES_ACCESS_RIGHTS },
	{ "fs", GUEST_FS_SELECTOR, GUEST_FS_LIMIT, GUEST_FS_ACCESS_RIGHTS },
	{ "gs", GUEST_GS_SELECTOR, GUEST_GS_LIMIT, GUEST_GS_ACCESS_RIGHTS },
};

/* The hidden part of each code and data segment as the VMCS holds it, and as the GDT descriptor
 * of its selector says (SDM 25.4.1): a 64-bit guest ignores most of it, so only a comparison
 * shows a wrong bit. The accessed bit is set on both sides: a segment load would set it. */
static void report_guest_segments(struct vcpu *v)
{
	char key[64];
	for (unsigned i = 0; i < ARRAY_SIZE(guest_segments); i++) {
		u64 *entry = NULL;
		u16 selector = (u16)vmcs_read(guest_segments[i].selector);
		u64 rights = vmcs_read(guest_segments[i].access_rights);
		snprintf(key, sizeof(key), "guest_state.%s_access_rights", guest_segments[i].name);
		report_fact(key, "0x%lx", rights | SEG_TYPE_ACCESSED);
		snprintf(key, sizeof(key), "guest_state.%s_limit", guest_segments[i].name);
		report_fact(key, "0x%lx", vmcs_read(guest_segments[i].limit));
		if (!guest_gdt_entry(v, selector, &entry) || !(selector & ~7))
			continue;
		snprintf(key, sizeof(key), "guest_state.%s_descriptor_access_rights", guest_segments[i].name);
		report_fact(key, "0x%x", desc_access_rights(*entry) | SEG_TYPE_ACCESSED);
		snprintf(key, sizeof(key), "guest_state.%s_descriptor_limit", guest_segments[i].name);
		report_fact(key, "0x%x", desc_limit(*entry));
	}
}

static void setup_guest_state(struct vcpu *v)
{
	report_descriptor_tables(v);
	report_guest_segments(v);
}
CHECK(01, guest_state, "guest-state", .last_stage = STAGE_RUN, .guest = guest_state,
      .setup = setup_guest_state);

/* ---- cpuid-exit: the hypervisor leaf, the bit, real leaves and subleaves, the digest ---- */

/* CPUID with 0 to 3 redundant DS prefixes: 2 to 5 bytes long, so only the VM-exit
 * instruction length moves RIP past each one. */
static struct cpuid_regs cpuid_encoded(u32 leaf, unsigned prefixes)
{
	struct cpuid_regs r;
#define CPUID_WITH(prefix) \
	__asm__ volatile(prefix "cpuid" \
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) \
			 : "a"(leaf), "c"(0))
	switch (prefixes) {
	case 0:
		CPUID_WITH("");
		break;
	case 1:
		CPUID_WITH(".byte 0x3e\n\t");
		break;
	case 2:
		CPUID_WITH(".byte 0x3e, 0x3e\n\t");
		break;
	default:
		CPUID_WITH(".byte 0x3e, 0x3e, 0x3e\n\t");
		break;
	}
#undef CPUID_WITH
	return r;
}

/* CPUID with garbage in the upper halves of RAX, RBX, RCX and RDX: it reads only EAX and ECX,
 * and its 32-bit results clear the upper halves (SDM Vol. 2A CPUID, Vol. 1 3.4.1.1). */
static void cpuid_dirty(u32 leaf, u32 subleaf, u64 out[4])
{
	const u64 dirt = 0xdead00000000UL;
	u64 a = dirt | leaf, b = dirt, c = dirt | subleaf, d = dirt;
	__asm__ volatile("cpuid" : "+a"(a), "+b"(b), "+c"(c), "+d"(d));
	out[0] = a, out[1] = b, out[2] = c, out[3] = d;
}

/* Leaves and subleaves whose real answers differ from each other on Bochs's CPU models. */
static const u32 cpuid_inputs[][2] = {
	{ HV_CPUID_LEAF, 0 },
	{ HV_CPUID_LEAF, CPUID_IGNORED_SUBLEAF },
	{ 0, 0 },
	{ 1, 0 },
	{ 1, CPUID_IGNORED_SUBLEAF },
	{ 4, 0 },
	{ 4, 1 },
	{ 7, 0 },
	{ 0xb, 1 },
	{ 0xd, 1 },
	{ 0x80000000, 0 },
	{ 0x80000001, 0 },
	{ HV_CPUID_LEAF + 1, 0 },
};
static const char *const cpuid_register_names[4] = { "eax", "ebx", "ecx", "edx" };

static void report_cpuid(const char *prefix, u32 leaf, u32 subleaf, const u64 r[4])
{
	char key[64];
	for (unsigned i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%scpuid.%x.%x.%s", prefix, leaf, subleaf,
			 cpuid_register_names[i]);
		if (prefix[0])
			report_fact(key, "0x%lx", r[i]);
		else
			guest_report(key, r[i]);
	}
}

static u64 rotl(u64 x, unsigned n) { return (x << n) | (x >> (64 - n)); }

static void guest_cpuid(u64 nonce)
{
	u64 r[4];
	unsigned rounds = 4 + nonce % 5;
	u64 digest = nonce;
	for (unsigned i = 0; i < rounds; i++) {
		struct cpuid_regs c = cpuid_encoded(HV_CPUID_LEAF, (nonce >> (2 * i)) & 3);
		digest = rotl(digest, 13) ^ (c.ebx | (u64)c.edx << 32) ^ c.ecx ^ c.eax ^ i;
	}
	guest_report("cpuid.rounds", rounds);
	guest_report("cpuid.digest", digest);
	for (unsigned i = 0; i < ARRAY_SIZE(cpuid_inputs); i++) {
		cpuid_dirty(cpuid_inputs[i][0], cpuid_inputs[i][1], r);
		report_cpuid("", cpuid_inputs[i][0], cpuid_inputs[i][1], r);
	}
}

/* What the real CPU says, read in VMX root operation, for the grader to compare. */
static void verify_cpuid(struct vcpu *v)
{
	(void)v;
	for (unsigned i = 0; i < ARRAY_SIZE(cpuid_inputs); i++) {
		u32 leaf = cpuid_inputs[i][0], subleaf = cpuid_inputs[i][1];
		struct cpuid_regs c = cpuid(leaf, subleaf);
		u64 r[4] = { c.eax, c.ebx, c.ecx, c.edx };
		if (leaf != HV_CPUID_LEAF)
			report_cpuid("host.", leaf, subleaf, r);
	}
}

/* The skip, seen from the host: the student's CPUID handler runs inside observe_cpuid_skip(),
 * which keeps the first exit whose resume point is not right after the CPUID. */
static exit_handler student_cpuid;
static struct {
	bool wrong;
	u64 advanced_by;
	u32 length;
} skip;

/* SDM 28.2.5: the VM-exit instruction length is the CPUID's, prefixes included. */
static enum exit_verdict observe_cpuid_skip(struct vcpu *v)
{
	enum exit_verdict verdict = student_cpuid(v);
	u64 advanced_by = vmcs_read(GUEST_RIP) - v->exit.guest_rip;
	if (verdict == EXIT_RESUME && !skip.wrong && advanced_by != v->exit.instruction_length) {
		skip.wrong = true;
		skip.advanced_by = advanced_by;
		skip.length = v->exit.instruction_length;
	}
	return verdict;
}

static void setup_cpuid_exit(struct vcpu *v)
{
	(void)v;
	student_cpuid = exit_handler_for(EXIT_REASON_CPUID);
	if (student_cpuid) /* none registered: the run names the unexpected exit */
		exit_register(EXIT_REASON_CPUID, observe_cpuid_skip);
}

static void verify_cpuid_exit(struct vcpu *v)
{
	verify_cpuid(v);
	if (skip.wrong)
		report_fact("cpuid.skip", "resumed at RIP + %ld after a CPUID of %u bytes, not at RIP + %u",
			    (long)skip.advanced_by, skip.length, skip.length);
	else
		report_fact("cpuid.skip", "%s", CPUID_SKIP_RIGHT);
}
CHECK(01, cpuid_exit, "cpuid-exit", .last_stage = STAGE_RUN, .guest = guest_cpuid, .setup = setup_cpuid_exit,
      .verify = verify_cpuid_exit);

/* ---- interrupt-shadow: the skip ends blocking by STI and by MOV SS (SDM 25.4.2) ---- */

#define SHADOW_VECTOR 0x40
#define ICR_SHORTHAND_SELF (1U << 18) /* 19:18 = 01 (SDM Vol. 3A 11.6.1) */
static volatile u64 interrupt_rip;

static volatile unsigned nmis, nmi_depth, nmi_max_depth;

/* The first NMI requests a second one, then executes CPUID: the second must wait for the IRET,
 * because blocking by NMI lasts until then (SDM 25.4.2; Vol. 3A 7.7.1), exit or no exit. */
static void shadow_nmi(void)
{
	nmis++;
	if (++nmi_depth > nmi_max_depth)
		nmi_max_depth = nmi_depth;
	if (nmis == 1) {
		apic_self_nmi();
		cpuid(HV_CPUID_LEAF, 0);
		__asm__ volatile("nop; nop; nop");
	}
	nmi_depth--;
}

static void shadow_interrupt(struct trap_frame *f)
{
	if (f->vector == VEC_NMI) {
		shadow_nmi();
		return;
	}
	interrupt_rip = f->rip;
	apic_eoi();
}

/* A fixed interrupt to ourselves (ICR destination shorthand "self"): pending while IF = 0. */
static void request_self_interrupt(void)
{
	interrupt_rip = 0;
	apic_write(APIC_ICR_LOW, ICR_SHORTHAND_SELF | SHADOW_VECTOR);
}

/* STI; CPUID with an interrupt pending: CPUID sits in the STI shadow. Returns how many bytes
 * after the CPUID the interrupt arrived (0 when the shadow ended with the CPUID). */
static u64 sti_cpuid(void)
{
	u64 after;
	request_self_interrupt();
	__asm__ volatile("lea 1f(%%rip), %0\n\t"
			 "mov %1, %%eax\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "sti\n\t"
			 "cpuid\n"
			 "1:\tnop\n\t"
			 "cli"
			 : "=&r"(after)
			 : "i"(HV_CPUID_LEAF)
			 : "rax", "rbx", "rcx", "rdx", "memory");
	return interrupt_rip - after;
}

/* MOV SS; CPUID (IF = 1 since the STI before): CPUID sits in the MOV-SS shadow. */
static u64 mov_ss_cpuid(void)
{
	u64 after;
	request_self_interrupt();
	__asm__ volatile("lea 1f(%%rip), %0\n\t"
			 "mov %1, %%eax\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "mov %%ss, %%edx\n\t"
			 "sti\n\t"
			 "mov %%edx, %%ss\n\t"
			 "cpuid\n"
			 "1:\tnop\n\t"
			 "cli"
			 : "=&r"(after)
			 : "i"(HV_CPUID_LEAF)
			 : "rax", "rbx", "rcx", "rdx", "memory");
	return interrupt_rip - after;
}

static void guest_interrupt_shadow(u64 nonce)
{
	(void)nonce;
	guest_interrupt_hook = shadow_interrupt;
	guest_report("shadow.sti_cpuid_late_by", sti_cpuid());
	guest_report("shadow.mov_ss_cpuid_late_by", mov_ss_cpuid());
	apic_self_nmi();
	__asm__ volatile("nop; nop; nop" ::: "memory");
	guest_report("shadow.nmis", nmis);
	guest_report("shadow.nmi_nesting", nmi_max_depth);
	guest_interrupt_hook = NULL;
}

/* The guest takes its own interrupts and NMIs, without exits (a later lab may ask for them). */
static void setup_interrupt_shadow(struct vcpu *v)
{
	(void)v;
	u64 pin = vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS);
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
	pin &= ~(u64)(PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS);
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS, pin);
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, primary & ~(u64)CPU_NMI_WINDOW_EXITING);
}
CHECK(01, interrupt_shadow, "interrupt-shadow", .last_stage = STAGE_RUN, .guest = guest_interrupt_shadow,
      .setup = setup_interrupt_shadow);

/* ---- bring-up-inputs: steps 01-1..01-3 run in the guest, where CPUID, RDMSR, WRMSR, MOV to
 * CR0/CR4 and port I/O exit to this check, which answers with inputs the real machine never
 * gives the host: other CPUID.1:ECX bits, an unlocked or disabled IA32_FEATURE_CONTROL, fixed
 * bits that forbid a bit CR0 or CR4 has set. ---- */

#define MSR_FIXED_COUNT 4
static struct {
	u32 cpuid1_ecx;
	u64 feature_control;
	u64 cr0, cr4;               /* what the guest reads (the read shadows) */
	u64 fixed[MSR_FIXED_COUNT]; /* IA32_VMX_CR0_FIXED0 ... IA32_VMX_CR4_FIXED1 */
} emulated = {
	.cr0 = CR0_PG | CR0_CD | CR0_NW | CR0_ET | CR0_PE, /* NE clear, caching off */
	.cr4 = CR4_VMXE | CR4_PGE | CR4_PAE,
};

/* Fixed bits a processor could report: the real ones, plus OSFXSR required in CR4, minus
 * CD and NW allowed in CR0 and PGE allowed in CR4. */
static void choose_fixed_bits(void)
{
	emulated.fixed[0] = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	emulated.fixed[1] = rdmsr(MSR_IA32_VMX_CR0_FIXED1) & ~(u64)(CR0_CD | CR0_NW);
	emulated.fixed[2] = rdmsr(MSR_IA32_VMX_CR4_FIXED0) | CR4_OSFXSR;
	emulated.fixed[3] = rdmsr(MSR_IA32_VMX_CR4_FIXED1) & ~(u64)CR4_PGE;
}
static struct {
	u64 feature_control_writes, feature_control, cr0, cr4;
} seen;

static enum exit_verdict emulate_cpuid(struct vcpu *v)
{
	struct cpuid_regs r = cpuid((u32)v->regs.rax, (u32)v->regs.rcx);
	if ((u32)v->regs.rax == 1)
		r.ecx = emulated.cpuid1_ecx;
	v->regs.rax = r.eax, v->regs.rbx = r.ebx, v->regs.rcx = r.ecx, v->regs.rdx = r.edx;
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static u64 *emulated_msr(u32 msr)
{
	if (msr == MSR_IA32_FEATURE_CONTROL)
		return &emulated.feature_control;
	if (msr >= MSR_IA32_VMX_CR0_FIXED0 && msr < MSR_IA32_VMX_CR0_FIXED0 + MSR_FIXED_COUNT)
		return &emulated.fixed[msr - MSR_IA32_VMX_CR0_FIXED0];
	return NULL;
}

static enum exit_verdict emulate_rdmsr(struct vcpu *v)
{
	u64 *msr = emulated_msr((u32)v->regs.rcx);
	u64 value = msr ? *msr : rdmsr((u32)v->regs.rcx);
	v->regs.rax = (u32)value;
	v->regs.rdx = value >> 32;
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* Records writes; a real WRMSR to a locked IA32_FEATURE_CONTROL raises #GP (SDM 24.7). */
static enum exit_verdict emulate_wrmsr(struct vcpu *v)
{
	if ((u32)v->regs.rcx == MSR_IA32_FEATURE_CONTROL) {
		seen.feature_control_writes++;
		seen.feature_control = (u32)v->regs.rax | v->regs.rdx << 32;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* MOV to CR0/CR4 exits because every bit is host-owned (masks all ones); nothing is applied. */
static enum exit_verdict record_mov_to_cr(struct vcpu *v)
{
	u64 q = v->exit.qualification;
	if (cr_qual_access_type(q) == CR_ACCESS_MOV_TO_CR) {
		u64 value = guest_reg_read(v, cr_qual_register(q));
		if (cr_qual_cr(q) == 0)
			seen.cr0 = value;
		else if (cr_qual_cr(q) == 4)
			seen.cr4 = value;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}


/* What the console showed during each step that had to panic, reported by the host. */
#define PANIC_STEPS_MAX 16
static struct {
	const char *key;
	char text[sizeof(guest_console.text)];
} panic_console[PANIC_STEPS_MAX];
static unsigned panic_steps;

/* Runs a step that may panic; returns whether it reached shutdown(). The console is kept under
 * `key` (none when NULL). */
static bool step_panics(const char *key, void (*step)(u64))
{
	bool panicked = guest_step_panics(step, 0);
	if (key && panic_steps < PANIC_STEPS_MAX) {
		panic_console[panic_steps].key = key;
		memcpy(panic_console[panic_steps++].text, guest_console.text, guest_console.length);
	}
	return panicked;
}

static void report_panic_consoles(void)
{
	for (unsigned i = 0; i < panic_steps; i++) {
		char *text = panic_console[i].text;
		for (unsigned j = 0; text[j]; j++)
			if (text[j] == '\r' || text[j] == '\n')
				text[j] = ' ';
		report_fact(panic_console[i].key, "%s", text);
	}
}

static void setup_bring_up_inputs(struct vcpu *v)
{
	(void)v;
	choose_fixed_bits();
	guest_console_capture();
	vmcs_write(CR0_GUEST_HOST_MASK, ~0UL);
	vmcs_write(CR0_READ_SHADOW, emulated.cr0);
	vmcs_write(CR4_GUEST_HOST_MASK, ~0UL);
	vmcs_write(CR4_READ_SHADOW, emulated.cr4);
	seen.cr0 = emulated.cr0, seen.cr4 = emulated.cr4;
	exit_register(EXIT_REASON_CPUID, emulate_cpuid);
	exit_register(EXIT_REASON_RDMSR, emulate_rdmsr);
	exit_register(EXIT_REASON_WRMSR, emulate_wrmsr);
	exit_register(EXIT_REASON_CONTROL_REGISTER_ACCESS, record_mov_to_cr);
}

/* vmx_enable_feature_control() on an emulated IA32_FEATURE_CONTROL; returns the writes. */
static u64 enable_feature_control_with(u64 value)
{
	emulated.feature_control = value;
	seen.feature_control_writes = 0;
	seen.feature_control = 0;
	vmx_enable_feature_control();
	return seen.feature_control_writes;
}

static void call_enable_feature_control(u64 unused)
{
	(void)unused;
	vmx_enable_feature_control();
}

static void guest_bring_up_inputs(u64 nonce)
{
	(void)nonce;
	emulated.cpuid1_ecx = CPUID_1_ECX_VMX;
	guest_report("inputs.vmx_supported.only_vmx_bit", vmx_supported());
	emulated.cpuid1_ecx = (u32)~CPUID_1_ECX_VMX;
	guest_report("inputs.vmx_supported.all_but_vmx_bit", vmx_supported());

	vmx_set_fixed_bits();
	guest_report("inputs.fixed_bits.cr0", seen.cr0);
	guest_report("inputs.fixed_bits.cr4", seen.cr4);

	guest_report("inputs.unlocked.writes", enable_feature_control_with(0));
	guest_report("inputs.unlocked.written", seen.feature_control);
	guest_report("inputs.locked_enabled.writes",
		     enable_feature_control_with(FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_OUTSIDE_SMX));
	emulated.feature_control = FEATURE_CONTROL_LOCK;
	guest_report("inputs.locked_disabled.panicked",
		     step_panics("inputs.locked_disabled.console", call_enable_feature_control));
	emulated.feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_INSIDE_SMX;
	guest_report("inputs.locked_inside_smx_only.panicked",
		     step_panics("inputs.locked_inside_smx_only.console", call_enable_feature_control));

	emulated.feature_control =
		FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_INSIDE_SMX | FEATURE_CONTROL_VMXON_OUTSIDE_SMX;
	seen.feature_control_writes = 0;
	guest_report("inputs.locked_inside_and_outside.panicked",
		     step_panics(NULL, call_enable_feature_control));
	guest_report("inputs.locked_inside_and_outside.writes", seen.feature_control_writes);
}

/* The inputs, for the grader to compute what the SDM's rules give, and the captured panic. */
static void verify_bring_up_inputs(struct vcpu *v)
{
	static const char *const names[MSR_FIXED_COUNT] = { "cr0_fixed0", "cr0_fixed1", "cr4_fixed0",
							    "cr4_fixed1" };
	char key[48];
	(void)v;
	report_fact("inputs.cr0", "0x%lx", emulated.cr0);
	report_fact("inputs.cr4", "0x%lx", emulated.cr4);
	for (unsigned i = 0; i < MSR_FIXED_COUNT; i++) {
		snprintf(key, sizeof(key), "inputs.%s", names[i]);
		report_fact(key, "0x%lx", emulated.fixed[i]);
	}
	report_panic_consoles();
}
CHECK(01, bring_up_inputs, "bring-up-inputs", .last_stage = STAGE_RUN, .guest = guest_bring_up_inputs,
      .setup = setup_bring_up_inputs, .verify = verify_bring_up_inputs);

/* ---- vmx-failures: steps 01-4, 01-5, 01-9 and 01-12 run in the guest, where VMXON, VMCLEAR,
 * VMPTRLD, VMLAUNCH, VMRESUME, VMXOFF, VMREAD, VMWRITE and VMPTRST exit (SDM 26.1.2) and this
 * check answers one of them with VMfailInvalid or VMfailValid: the step must report the failure
 * and panic, not carry on. ---- */

#define RFLAGS_VMX_STATUS \
	(RFLAGS_CF | RFLAGS_PF | BIT(4) | RFLAGS_ZF | BIT(7) | BIT(11)) /* CF PF AF ZF SF OF */
static volatile unsigned failing_instruction; /* exit reason of the instruction that fails */
static volatile u64 failing_error;            /* 0: VMfailInvalid; else VMfailValid, this error */
static volatile u64 vmx_instructions;         /* exit reasons so far, one per byte, latest low */
static struct vcpu sandbox;                   /* the vCPU the steps work on in the guest */

static bool is_vm_entry(unsigned reason)
{
	return reason == EXIT_REASON_VMLAUNCH || reason == EXIT_REASON_VMRESUME;
}

/* SDM 31.2: VMsucceed clears CF, PF, AF, ZF, SF and OF; VMfailInvalid sets CF; VMfailValid sets
 * ZF, and the VM-instruction error field (which the guest reads with VMREAD) says why. A VM entry
 * that succeeds cannot be imitated here, so VMLAUNCH and VMRESUME always get the failure. */
static enum exit_verdict answer_vmx_instruction(struct vcpu *v)
{
	u64 rflags = vmcs_read(GUEST_RFLAGS) & ~RFLAGS_VMX_STATUS;
	unsigned reason = EXIT_REASON_BASIC(v->exit.reason);
	vmx_instructions = vmx_instructions << 8 | reason;
	if (reason == failing_instruction || is_vm_entry(reason))
		rflags |= failing_error ? RFLAGS_ZF : RFLAGS_CF;
	vmcs_write(GUEST_RFLAGS, rflags);
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* VM-exit instruction information (SDM 28.2.5): a memory operand is described by the same bits
 * for VMREAD and VMWRITE as for VMCLEAR, VMPTRLD, VMPTRST and VMXON. */
static unsigned operand_info_scaling(u64 i) { return i & 3; }           /* 1:0 */
static unsigned operand_info_index(u64 i) { return (i >> 18) & 0xf; }   /* 21:18 */
static bool operand_info_index_invalid(u64 i) { return (i >> 22) & 1; } /* 22 */
static unsigned operand_info_base(u64 i) { return (i >> 23) & 0xf; }    /* 26:23 */
static bool operand_info_base_invalid(u64 i) { return (i >> 27) & 1; }  /* 27 */
/* Only for VMREAD and VMWRITE. */
static unsigned vmread_info_reg1(u64 i) { return (i >> 3) & 0xf; }  /* 6:3 */
static bool vmread_info_register(u64 i) { return (i >> 10) & 1; }   /* 10: 1 = register */
static unsigned vmread_info_reg2(u64 i) { return (i >> 28) & 0xf; } /* 31:28: the field */

/* The guest's memory operand: base + index * scale + displacement (the exit qualification);
 * segment bases are 0 and memory is shared. */
static u64 *guest_memory_operand(struct vcpu *v, u64 info)
{
	u64 address = v->exit.qualification;
	if (!operand_info_base_invalid(info))
		address += guest_reg_read(v, operand_info_base(info));
	if (!operand_info_index_invalid(info))
		address += guest_reg_read(v, operand_info_index(info)) << operand_info_scaling(info);
	return guest_linear_to_host(v, address);
}

/* The guest's VMREAD destination: a register or memory. */
static void vmread_store(struct vcpu *v, u64 info, u64 value)
{
	if (vmread_info_register(info))
		guest_reg_write(v, vmread_info_reg1(info), value);
	else
		*guest_memory_operand(v, info) = value;
}

/* VMREAD in the guest (vmx_report_failure() reads the error): VM_INSTRUCTION_ERROR gives the
 * error of the VMfailValid answer, any other field 0. */
static enum exit_verdict answer_vmread(struct vcpu *v)
{
	u64 info = vmcs_read(VM_EXIT_INSTRUCTION_INFORMATION);
	u64 field = guest_reg_read(v, vmread_info_reg2(info));
	vmread_store(v, info, field == VM_INSTRUCTION_ERROR ? failing_error : 0);
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) & ~RFLAGS_VMX_STATUS);
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* VMWRITE in the guest (vmx_enter() writes HOST_RSP and HOST_RIP): VMsucceed, nothing written. */
static enum exit_verdict answer_vmwrite(struct vcpu *v)
{
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) & ~RFLAGS_VMX_STATUS);
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* VMPTRST in the guest (only the VMCS dump after a failed entry uses it): "no current VMCS", all
 * ones, even after a VMfailValid answer, so the dump stops at once instead of printing every
 * field through thousands of console exits. */
static enum exit_verdict answer_vmptrst(struct vcpu *v)
{
	*guest_memory_operand(v, vmcs_read(VM_EXIT_INSTRUCTION_INFORMATION)) = ~0UL;
	vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) & ~RFLAGS_VMX_STATUS);
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static void setup_vmx_failures(struct vcpu *v)
{
	(void)v;
	guest_console_capture();
	exit_register(EXIT_REASON_RDMSR, emulate_rdmsr); /* IA32_VMX_BASIC: the real one */
	exit_register(EXIT_REASON_VMXON, answer_vmx_instruction);
	exit_register(EXIT_REASON_VMCLEAR, answer_vmx_instruction);
	exit_register(EXIT_REASON_VMPTRLD, answer_vmx_instruction);
	exit_register(EXIT_REASON_VMLAUNCH, answer_vmx_instruction);
	exit_register(EXIT_REASON_VMRESUME, answer_vmx_instruction);
	exit_register(EXIT_REASON_VMXOFF, answer_vmx_instruction);
	exit_register(EXIT_REASON_VMREAD, answer_vmread);
	exit_register(EXIT_REASON_VMWRITE, answer_vmwrite);
	exit_register(EXIT_REASON_VMPTRST, answer_vmptrst);
}

static void call_vmx_on(u64 unused)
{
	(void)unused;
	vmx_on(&sandbox);
}
static void call_vmcs_load(u64 unused)
{
	(void)unused;
	vmcs_load(&sandbox);
}
static void call_vmx_off(u64 unused)
{
	(void)unused;
	vmx_off(&sandbox);
}

/* vcpu_run() with the sandbox's VMCS clear (its entry is VMLAUNCH) or launched (VMRESUME). */
static void call_vcpu_run(u64 unused)
{
	(void)unused;
	sandbox.launched = false;
	vcpu_run(&sandbox);
}

static void call_vcpu_run_launched(u64 unused)
{
	(void)unused;
	sandbox.launched = true;
	vcpu_run(&sandbox);
}

/* A VMfailValid answer pretends a VMCS is current, as SDM 31.2 requires for it. */
static const struct {
	const char *name;
	unsigned failing;
	u64 error; /* 0: VMfailInvalid; else VMfailValid with this VM-instruction error */
	void (*step)(u64);
} failure_scenarios[] = {
	{ "vmxon", EXIT_REASON_VMXON, 0, call_vmx_on },
	{ "vmcs_load_vmclear", EXIT_REASON_VMCLEAR, 0, call_vmcs_load },
	{ "vmptrld", EXIT_REASON_VMPTRLD, 0, call_vmcs_load },
	{ "vmx_off_vmclear", EXIT_REASON_VMCLEAR, 0, call_vmx_off },
	{ "vmxoff", EXIT_REASON_VMXOFF, 0, call_vmx_off },
	{ "vmcs_load_vmclear_valid", EXIT_REASON_VMCLEAR, VMCLEAR_ERROR_INVALID_ADDRESS, call_vmcs_load },
	{ "vmptrld_valid", EXIT_REASON_VMPTRLD, VMPTRLD_ERROR_BAD_REVISION, call_vmcs_load },
	{ "vmx_off_vmclear_valid", EXIT_REASON_VMCLEAR, VMCLEAR_ERROR_INVALID_ADDRESS, call_vmx_off },
	{ "vmlaunch", EXIT_REASON_VMLAUNCH, 0, call_vcpu_run },
	{ "vmlaunch_valid", EXIT_REASON_VMLAUNCH, VM_ENTRY_ERROR_INVALID_CONTROLS, call_vcpu_run },
	{ "vmresume", EXIT_REASON_VMRESUME, 0, call_vcpu_run_launched },
	{ "vmresume_valid", EXIT_REASON_VMRESUME, VM_ENTRY_ERROR_INVALID_HOST_STATE, call_vcpu_run_launched },
};
static u64 failure_instructions[ARRAY_SIZE(failure_scenarios)];

static void guest_vmx_failures(u64 nonce)
{
	static char keys[ARRAY_SIZE(failure_scenarios)][2][48];
	(void)nonce;
	for (unsigned i = 0; i < ARRAY_SIZE(failure_scenarios); i++) {
		snprintf(keys[i][0], sizeof(keys[i][0]), "failures.%s.panicked", failure_scenarios[i].name);
		snprintf(keys[i][1], sizeof(keys[i][1]), "failures.%s.console", failure_scenarios[i].name);
		sandbox.vmxon_region = page_alloc();
		sandbox.vmcs = page_alloc();
		failing_instruction = failure_scenarios[i].failing;
		failing_error = failure_scenarios[i].error;
		vmx_instructions = 0;
		guest_report(keys[i][0], step_panics(keys[i][1], failure_scenarios[i].step));
		failure_instructions[i] = vmx_instructions;
	}
}

/* The consoles, and each scenario's VMX instructions by name, oldest first. */
static void verify_vmx_failures(struct vcpu *v)
{
	char key[64], names[64];
	(void)v;
	report_panic_consoles();
	for (unsigned i = 0; i < ARRAY_SIZE(failure_scenarios); i++) {
		size_t used = 0;
		names[0] = '\0';
		for (int byte = 7; byte >= 0; byte--) {
			unsigned reason = (failure_instructions[i] >> (8 * byte)) & 0xff;
			const char *name = exit_reason_name(reason);
			if (reason && used < sizeof(names))
				used += snprintf(names + used, sizeof(names) - used, "%s%s", used ? " " : "",
						 name ? name : "?");
		}
		snprintf(key, sizeof(key), "failures.%s.instructions", failure_scenarios[i].name);
		report_fact(key, "%s", names);
	}
}
CHECK(01, vmx_failures, "vmx-failures", .last_stage = STAGE_RUN, .guest = guest_vmx_failures,
      .setup = setup_vmx_failures, .verify = verify_vmx_failures);

CHECK(01, vmxoff, "vmxoff", .last_stage = STAGE_VMXOFF, .guest = guest_cpuid, .verify = verify_cpuid,
      .demo = true);
