/* Lab 03 checks: guests that read and write CR0, CR4, CR3 and CR8 under masks and shadows.
 * Every MOV that may exit goes through a named general register, so that the exit
 * qualifications Bochs records (register in bits 11:8) are known in advance; the grader
 * compares them with the list the guest program implies (grader/spec/lab03.py). */
#include "check.h"
#include "lab.h"
#include "lab03.h"
#include "lab03_shared.h"
#include "params.h"

#define GUEST_CODE __attribute__((noinline, noclone, unused))

/* mov_to_<cr>_<reg>(value): MOV to CRn from `reg`. The MOV carries the global label
 * lab03_mov_to_<cr>_<reg>: an injected #GP must report that RIP (the MOV did not complete). */
#define MOV_TO_CR(cr, reg) \
	extern const u8 lab03_mov_to_##cr##_##reg[]; \
	static GUEST_CODE void mov_to_##cr##_##reg(u64 value) \
	{ \
		register u64 r __asm__(#reg) = value; \
		__asm__ volatile(".globl lab03_mov_to_" #cr "_" #reg "\n" \
				 "lab03_mov_to_" #cr "_" #reg ": mov %0, %%" #cr \
				 : \
				 : "r"(r) \
				 : "memory"); \
	}
/* mov_from_<cr>_<reg>(): MOV from CRn to `reg`. */
#define MOV_FROM_CR(cr, reg) \
	static GUEST_CODE u64 mov_from_##cr##_##reg(void) \
	{ \
		register u64 r __asm__(#reg); \
		__asm__ volatile("mov %%" #cr ", %0" : "=r"(r) : : "memory"); \
		return r; \
	}
/* RSP as the register of a MOV (SDM Table 28-3: 4 = RSP, which a VM exit keeps in
 * GUEST_RSP, not with the other registers). RDX holds the stack pointer meanwhile. */
#define MOV_CR_RSP(cr) \
	static GUEST_CODE void mov_to_##cr##_rsp(u64 value) \
	{ \
		__asm__ volatile("mov %%rsp, %%rdx\n\tmov %0, %%rsp\n\tmov %%rsp, %%" #cr \
				 "\n\tmov %%rdx, %%rsp" \
				 : \
				 : "r"(value) \
				 : "rdx", "memory"); \
	} \
	static GUEST_CODE u64 mov_from_##cr##_rsp(void) \
	{ \
		u64 value; \
		__asm__ volatile("mov %%rsp, %%rdx\n\tmov %%" #cr ", %%rsp\n\tmov %%rsp, %0" \
				 "\n\tmov %%rdx, %%rsp" \
				 : "=r"(value) \
				 : \
				 : "rdx", "memory"); \
		return value; \
	}
#define MOV_CR(cr, reg) \
	MOV_TO_CR(cr, reg) \
	MOV_FROM_CR(cr, reg)

MOV_TO_CR(cr0, r9)
MOV_TO_CR(cr0, r10)
MOV_TO_CR(cr0, r13)
MOV_TO_CR(cr4, r14)
MOV_CR(cr3, rax)
MOV_CR(cr3, rcx)
MOV_CR(cr3, rdx)
MOV_CR(cr3, rbx)
MOV_CR_RSP(cr3)
MOV_CR(cr3, r8)
MOV_CR(cr3, r9)
MOV_CR(cr3, r12)
MOV_CR(cr3, r13)
MOV_CR(cr3, r14)
MOV_CR(cr3, r15)
MOV_CR(cr8, rax)
MOV_CR(cr8, rcx)
MOV_CR(cr8, rdx)
MOV_CR(cr8, rbx)
MOV_CR_RSP(cr8)
MOV_CR(cr8, rbp)
MOV_CR(cr8, rsi)
MOV_CR(cr8, rdi)
MOV_CR(cr8, r8)
MOV_CR(cr8, r9)
MOV_CR(cr8, r10)
MOV_CR(cr8, r11)
MOV_CR(cr8, r12)
MOV_CR(cr8, r13)
MOV_CR(cr8, r14)
MOV_CR(cr8, r15)

static u64 smsw(void)
{
	u64 v;
	__asm__ volatile("smsw %0" : "=r"(v));
	return v;
}

/* LMSW with its source in R11 (a register other than RAX, the 0 in bits 11:8 of the
 * qualification) or in memory (bit 6 of the qualification set). */
static void lmsw_r11(u64 source)
{
	register u64 r __asm__("r11") = source;
	__asm__ volatile("lmsw %w0" : : "r"(r) : "memory");
}
static void lmsw_memory(u64 source)
{
	u16 word = (u16)source;
	__asm__ volatile("lmsw %0" : : "m"(word) : "memory");
}
static void clts(u64 a)
{
	(void)a;
	__asm__ volatile("clts");
}
static void fpu_op(u64 a)
{
	(void)a;
	__asm__ volatile("fninit");
}
static void rdtsc_op(u64 a)
{
	(void)a;
	__asm__ volatile("rdtsc" : : : "rax", "rdx");
}
static void do_write_cr0(u64 v) { write_cr0(v); }


static struct guest_fault last_fault;

/* The vector of the exception fn(arg) raised, or NO_FAULT. */
static u64 fault_of(void (*fn)(u64), u64 arg)
{
	if (guest_catch(fn, arg, &last_fault))
		return last_fault.vector;
	last_fault = (struct guest_fault){ 0 };
	return NO_FAULT;
}

/* Reports where the last fault happened relative to `insn` (0: at it) and its error code;
 * nothing when there was no fault. */
static void report_last_fault(const char *rip_key, const char *error_key, const u8 *insn)
{
	if (!last_fault.rip)
		return;
	guest_report(rip_key, last_fault.rip - (u64)insn);
	guest_report(error_key, last_fault.error_code);
}

static void report_host_crs(struct vcpu *v)
{
	(void)v;
	report_fact("host.guest_cr0", "0x%lx", vmcs_read(GUEST_CR0));
	report_fact("host.cr0_shadow", "0x%lx", vmcs_read(CR0_READ_SHADOW));
	report_fact("host.guest_cr4", "0x%lx", vmcs_read(GUEST_CR4));
	report_fact("host.cr4_shadow", "0x%lx", vmcs_read(CR4_READ_SHADOW));
}

static void setup_report_initial(struct vcpu *v)
{
	(void)v;
	report_fact("host.cr0_initial", "0x%lx", vmcs_read(GUEST_CR0));
	report_fact("host.cr4_initial", "0x%lx", vmcs_read(GUEST_CR4));
}

/* Emulated writes: the shadow takes the whole value, the real CR0 its guest-owned bits. */
static void guest_cr0(u64 nonce)
{
	(void)nonce;
	u64 c0 = read_cr0();
	guest_report("cr0.initial", c0);
	mov_to_cr0_r13(c0 & ~CR0_NE);
	guest_report("cr0.after_ne_clear", read_cr0());
	guest_report("cr0.smsw", smsw() & 0xffff);
	write_cr0(read_cr0() ^ CR0_WP);
	guest_report("cr0.after_wp", read_cr0());
	mov_to_cr0_r9(read_cr0() ^ (CR0_TS | CR0_AM | CR0_WP));
	guest_report("cr0.after_ts_am_wp", read_cr0());
}

/* Each write through R13 changes an owned bit (so it exits) and breaks one #GP rule of MOV to
 * CR0. Among them, one legal write through R10 (TS flipped, NE cleared: both owned) exits and
 * must be emulated, not refused; the writes after it start from the guest's new view. */
static void guest_cr0_faults(u64 nonce)
{
	(void)nonce;
	u64 c0 = read_cr0();
	guest_report("cr0.high_bits", fault_of(mov_to_cr0_r13, (c0 & ~CR0_NE) | BIT(32)));
	report_last_fault("cr0.gp_rip_offset", "cr0.gp_error_code", lab03_mov_to_cr0_r13);
	guest_report("cr0.nw_without_cd", fault_of(mov_to_cr0_r13, ((c0 & ~CR0_NE) | CR0_NW) & ~CR0_CD));
	guest_report("cr0.legal_write", fault_of(mov_to_cr0_r10, (c0 ^ CR0_TS) & ~CR0_NE));
	c0 = read_cr0();
	guest_report("cr0.after_legal", c0);
	guest_report("cr0.pg_without_pe", fault_of(mov_to_cr0_r13, c0 & ~CR0_PE));
	guest_report("cr0.pg_clear", fault_of(mov_to_cr0_r13, c0 & ~CR0_PG));
	guest_report("cr0.nw_without_cd_no_exit", fault_of(do_write_cr0, (c0 | CR0_NW) & ~CR0_CD));
	guest_report("cr0.final", read_cr0());
}

static u64 cr4_reserved_bit;

/* The check owns CR4.DE too, so that writes that break no other rule still exit. */
static void setup_cr4(struct vcpu *v)
{
	setup_report_initial(v);
	vmcs_write(CR4_GUEST_HOST_MASK, vmcs_read(CR4_GUEST_HOST_MASK) | CR4_DE);
	vmcs_write(CR4_READ_SHADOW, (vmcs_read(CR4_READ_SHADOW) & ~CR4_DE) | (vmcs_read(GUEST_CR4) & CR4_DE));
	u64 fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	for (cr4_reserved_bit = BIT(31); fixed1 & cr4_reserved_bit; cr4_reserved_bit >>= 1)
		;
	report_fact("host.cr4_reserved_bit", "0x%lx", cr4_reserved_bit);
}

static void guest_cr4(u64 nonce)
{
	(void)nonce;
	u64 c4 = read_cr4();
	guest_report("cr4.initial", c4);
	guest_report("cr4.set_vmxe", fault_of(mov_to_cr4_r14, c4 | CR4_VMXE));
	write_cr4(c4 | CR4_TSD);
	guest_report("cr4.after_tsd", read_cr4());
	write_cr4(c4);
	guest_report("cr4.clear_pae", fault_of(mov_to_cr4_r14, c4 & ~CR4_PAE));
	guest_report("cr4.reserved_bit", fault_of(mov_to_cr4_r14, (c4 ^ CR4_DE) | cr4_reserved_bit));
	guest_report("cr4.de_tsd", fault_of(mov_to_cr4_r14, c4 ^ CR4_DE ^ CR4_TSD));
	guest_report("cr4.after_de_tsd", read_cr4());
	struct guest_fault f;
	guest_report("cr4.user_rdtsc", guest_user(rdtsc_op, 0, &f) ? f.vector : NO_FAULT);
}

/* Real TS = 1 and NE = 1 while the shadow says 0 for both: CLTS cannot change TS without an
 * exit, and the guest's NE = 0 must survive every CLTS and LMSW. */
static void setup_ts_ne_split(struct vcpu *v)
{
	setup_report_initial(v);
	vmcs_write(GUEST_CR0, vmcs_read(GUEST_CR0) | CR0_TS);
	vmcs_write(CR0_READ_SHADOW, vmcs_read(CR0_READ_SHADOW) & ~(CR0_TS | CR0_NE));
}

static void guest_clts_lmsw(u64 nonce)
{
	(void)nonce;
	guest_report("ts.start_fpu", fault_of(fpu_op, 0));
	guest_report("ts.start_view", read_cr0() & CR0_VIEW);
	clts(0); /* shadow TS = 0: no exit, real TS stays 1 */
	guest_report("ts.clts_no_exit_fpu", fault_of(fpu_op, 0));
	mov_to_cr0_r10(read_cr0() | CR0_TS);
	guest_report("ts.set_view", read_cr0() & CR0_VIEW);
	guest_report("ts.clts_exit_fault", fault_of(clts, 0)); /* shadow TS = 1: exits */
	guest_report("ts.clts_exit_view", read_cr0() & CR0_VIEW);
	guest_report("ts.clts_exit_fpu", fault_of(fpu_op, 0));
	guest_report("lmsw.reg_fault", fault_of(lmsw_r11, LMSW_REGISTER_SOURCE));
	guest_report("lmsw.reg_view", read_cr0() & CR0_VIEW);
	guest_report("lmsw.reg_fpu", fault_of(fpu_op, 0));
	lmsw_r11(CR0_PE | CR0_TS); /* only MP changes: not owned, no exit */
	guest_report("lmsw.mp_view", read_cr0() & CR0_VIEW);
	guest_report("lmsw.memory_fault", fault_of(lmsw_memory, LMSW_MEMORY_SOURCE));
	guest_report("lmsw.memory_view", read_cr0() & CR0_VIEW);
	clts(0); /* shadow TS = 0 again: no exit */
	guest_report("ts.final_fpu", fault_of(fpu_op, 0));
}

enum { CR3_TARGETS = 3 };
static u64 cr3_target[CR3_TARGETS], cr3_other, cr3_beyond;

static u64 clone_page_tables(void)
{
	u8 *pml4 = page_alloc();
	memcpy(pml4, phys_to_virt(read_cr3() & ~0xfffUL), PAGE_SIZE);
	return virt_to_phys(pml4);
}

/* ---- cr3_target_add() at its limit (SDM 25.6.7, A.6: a CR3_TARGET_COUNT above n, from
 * IA32_VMX_MISC[24:16], fails VM entry). The step runs in the guest, where its VMREAD, VMWRITE
 * and RDMSR exit to this check: it answers them from a VMCS of its own (CR3_TARGET_COUNT and
 * CR3-target values 0-3, the fields Appendix B defines) and an IA32_VMX_MISC of its choice.
 * The step's panic() is captured: console bytes kept, the shutdown OUT answered with #UD,
 * which guest_catch() around the step catches. ---- */

#define CR3_TARGET_FIELDS 4 /* CR3_TARGET_VALUE0 .. CR3_TARGET_VALUE3 */
#define NO_FIELD (~0UL)
#define RFLAGS_VMX_STATUS \
	(RFLAGS_CF | RFLAGS_PF | BIT(4) | RFLAGS_ZF | BIT(7) | BIT(11)) /* CF PF AF ZF SF OF */
#define VMX_ERROR_UNSUPPORTED_COMPONENT 12                              /* SDM 31.4 */

/* SDM 28.2.5: the VM-exit instruction information of VMREAD and VMWRITE. */
static inline unsigned vmrw_info_scale(u64 i) { return i & 3; }                                /* 1:0 */
static inline enum gpr vmrw_info_reg1(u64 i) { return (enum gpr)((i >> 3) & 0xf); }            /* 6:3 */
static inline bool vmrw_info_register_operand(u64 i) { return i & BIT(10); }                   /* 10 */
static inline enum gpr vmrw_info_index(u64 i) { return (enum gpr)((i >> 18) & 0xf); }          /* 21:18 */
static inline bool vmrw_info_index_invalid(u64 i) { return i & BIT(22); }                      /* 22 */
static inline enum gpr vmrw_info_base(u64 i) { return (enum gpr)((i >> 23) & 0xf); }           /* 26:23 */
static inline bool vmrw_info_base_invalid(u64 i) { return i & BIT(27); }                       /* 27 */
static inline enum gpr vmrw_info_field_register(u64 i) { return (enum gpr)((i >> 28) & 0xf); } /* 31:28 */

static struct {
	u64 count, value[CR3_TARGET_FIELDS];
	u64 error;             /* VM_INSTRUCTION_ERROR of the last VMfailValid */
	u64 unsupported_field; /* the first field it was asked for and does not have, or NO_FIELD */
} sandbox_vmcs;
static u64 real_misc, misc_answer; /* IA32_VMX_MISC, and what the guest's RDMSR of it returns */
static struct vcpu *target_vcpu;

static u64 *sandbox_field(u64 field)
{
	u64 index = (field - CR3_TARGET_VALUE0) / 2;
	if (field == CR3_TARGET_COUNT)
		return &sandbox_vmcs.count;
	if (field >= CR3_TARGET_VALUE0 && !(field & 1) && index < CR3_TARGET_FIELDS)
		return &sandbox_vmcs.value[index];
	return NULL;
}

/* The guest address of a memory operand (64-bit mode: segment bases 0, 64-bit addresses). */
static u64 *vmrw_memory_operand(struct vcpu *v, u64 info)
{
	u64 address = v->exit.qualification; /* the displacement */
	if (!vmrw_info_base_invalid(info))
		address += guest_reg_read(v, vmrw_info_base(info));
	if (!vmrw_info_index_invalid(info))
		address += guest_reg_read(v, vmrw_info_index(info)) << vmrw_info_scale(info);
	return guest_linear_to_host(v, address);
}

/* VMREAD and VMWRITE on sandbox_vmcs; SDM 31.2: VMsucceed clears the six status flags,
 * VMfailValid sets ZF and leaves its error number in VM_INSTRUCTION_ERROR. */
static enum exit_verdict answer_vmread_vmwrite(struct vcpu *v)
{
	u64 info = vmcs_read(VM_EXIT_INSTRUCTION_INFORMATION);
	u64 field = guest_reg_read(v, vmrw_info_field_register(info));
	bool write = EXIT_REASON_BASIC(v->exit.reason) == EXIT_REASON_VMWRITE;
	u64 *slot = !write && field == VM_INSTRUCTION_ERROR ? &sandbox_vmcs.error : sandbox_field(field);
	u64 rflags = vmcs_read(GUEST_RFLAGS) & ~RFLAGS_VMX_STATUS;
	if (!slot) {
		if (sandbox_vmcs.unsupported_field == NO_FIELD)
			sandbox_vmcs.unsupported_field = field;
		sandbox_vmcs.error = VMX_ERROR_UNSUPPORTED_COMPONENT;
		rflags |= RFLAGS_ZF;
	} else if (write) {
		*slot = vmrw_info_register_operand(info) ? guest_reg_read(v, vmrw_info_reg1(info))
							 : *vmrw_memory_operand(v, info);
	} else if (vmrw_info_register_operand(info)) {
		guest_reg_write(v, vmrw_info_reg1(info), *slot);
	} else {
		*vmrw_memory_operand(v, info) = *slot;
	}
	vmcs_write(GUEST_RFLAGS, rflags);
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static enum exit_verdict answer_rdmsr(struct vcpu *v)
{
	u32 msr = (u32)v->regs.rcx;
	u64 value = msr == MSR_IA32_VMX_MISC ? misc_answer : rdmsr(msr);
	v->regs.rax = (u32)value;
	v->regs.rdx = value >> 32;
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* Every RDMSR and every IN/OUT of the guest exits (no bitmaps), and so do VMREAD and VMWRITE
 * (no VMCS shadowing). */
static void setup_cr3_target_add_in_guest(struct vcpu *v)
{
	guest_console_capture();
	exit_register(EXIT_REASON_RDMSR, answer_rdmsr);
	exit_register(EXIT_REASON_VMREAD, answer_vmread_vmwrite);
	exit_register(EXIT_REASON_VMWRITE, answer_vmread_vmwrite);
	target_vcpu = v;
	real_misc = misc_answer = rdmsr(MSR_IA32_VMX_MISC);
}

/* A VMCS with `used` CR3-target values in use, and an IA32_VMX_MISC that says `supported`. */
static void sandbox_reset(u64 used, u64 supported)
{
	u64 count_bits = (u64)VMX_MISC_CR3_TARGET_COUNT(~0UL) << 16;
	misc_answer = (real_misc & ~count_bits) | supported << 16;
	sandbox_vmcs = (typeof(sandbox_vmcs)){ .count = used, .unsupported_field = NO_FIELD };
	for (u64 i = 0; i < used && i < CR3_TARGET_FIELDS; i++)
		sandbox_vmcs.value[i] = (i + 1) * PAGE_SIZE;
}

static void call_cr3_target_add(u64 cr3) { cr3_target_add(target_vcpu, cr3); }

/* Runs cr3_target_add(cr3); returns whether it panicked (reached shutdown()). */
static bool cr3_target_add_panics(u64 cr3) { return guest_step_panics(call_cr3_target_add, cr3); }

static char full_console[sizeof(guest_console.text)];
static u64 full_unsupported_field;

static void guest_cr3_target_add(u64 nonce)
{
	u64 supported = VMX_MISC_CR3_TARGET_COUNT(real_misc), panics = 0;
	/* All n values in use: the next one must be refused. */
	sandbox_reset(supported, supported);
	guest_report("cr3_add.full.panicked", cr3_target_add_panics(cr3_other));
	memcpy(full_console, guest_console.text, sizeof(full_console));
	full_unsupported_field = sandbox_vmcs.unsupported_field;
	guest_report("cr3_add.full.count", sandbox_vmcs.count);
	/* A processor with CR3_TARGETS_ANSWERED values: they are filled, the next is refused. */
	sandbox_reset(0, CR3_TARGETS_ANSWERED);
	for (u64 i = 0; i <= CR3_TARGETS_ANSWERED; i++)
		if (cr3_target_add_panics(((nonce + i) & 0xffffff) << 12))
			panics |= BIT(i);
	guest_report("cr3_add.answered.panics", panics);
	guest_report("cr3_add.answered.count", sandbox_vmcs.count);
	guest_report("cr3_add.answered.value0", sandbox_vmcs.value[0]);
	guest_report("cr3_add.answered.value1", sandbox_vmcs.value[1]);
}

/* The full scenario's panic text (line breaks as spaces) and the field it missed. */
static void verify_cr3(struct vcpu *v)
{
	(void)v;
	for (unsigned i = 0; full_console[i]; i++)
		if (full_console[i] == '\r' || full_console[i] == '\n')
			full_console[i] = ' ';
	report_fact("cr3_add.full.console", "%s", full_console);
	if (full_unsupported_field == NO_FIELD)
		report_fact("cr3_add.full.unsupported_field", "none");
	else
		report_fact("cr3_add.full.unsupported_field", "0x%lx", full_unsupported_field);
}

/* With the guest's CR3 from 03-1, every CR3-target value of the processor is in use. */
static void setup_cr3(struct vcpu *v)
{
	for (int i = 0; i < CR3_TARGETS; i++) {
		cr3_target[i] = clone_page_tables();
		cr3_target_add(v, cr3_target[i]);
	}
	cr3_other = clone_page_tables();
	cr3_beyond = vmcs_read(GUEST_CR3) | BIT(cpuid(0x80000008, 0).eax & 0xff);
	report_fact("host.cr3_original", "0x%lx", vmcs_read(GUEST_CR3));
	report_fact("host.cr3_target_first", "0x%lx", cr3_target[0]);
	report_fact("host.cr3_target_last", "0x%lx", cr3_target[CR3_TARGETS - 1]);
	report_fact("host.cr3_other", "0x%lx", cr3_other);
	report_fact("host.cr3_beyond", "0x%lx", cr3_beyond);
	report_fact("host.cr3_target_count", "0x%lx", vmcs_read(CR3_TARGET_COUNT));
	report_fact("host.cr3_targets_supported", "0x%lx",
		    (u64)VMX_MISC_CR3_TARGET_COUNT(rdmsr(MSR_IA32_VMX_MISC)));
	setup_cr3_target_add_in_guest(v);
}

static void guest_cr3(u64 nonce)
{
	u64 original = mov_from_cr3_r9();
	guest_report("cr3.read0", original);
	mov_to_cr3_r12(cr3_target[0]);
	guest_report("cr3.read_target", mov_from_cr3_rsp());
	mov_to_cr3_rax(cr3_target[1]);
	mov_to_cr3_rbx(cr3_target[2]);
	guest_report("cr3.read_target_last", mov_from_cr3_r15());
	mov_to_cr3_rsp(cr3_other);
	guest_report("cr3.read_other", mov_from_cr3_r8());
	mov_to_cr3_r14(original);
	guest_report("cr3.read_back", mov_from_cr3_rcx());
	guest_report("cr3.beyond_maxphyaddr", fault_of(mov_to_cr3_r13, cr3_beyond));
	report_last_fault("cr3.gp_rip_offset", "cr3.gp_error_code", lab03_mov_to_cr3_r13);
	guest_report("cr3.read_after", mov_from_cr3_rdx());
	guest_cr3_target_add(nonce);
}

/* MOV to and from CR8 through each general register, indexed by enum gpr. */
static const struct {
	void (*to)(u64);
	u64 (*from)(void);
} cr8_gpr[] = {
#define CR8_GPR(reg) \
	{ \
		mov_to_cr8_##reg, mov_from_cr8_##reg \
	}
	CR8_GPR(rax), CR8_GPR(rcx), CR8_GPR(rdx), CR8_GPR(rbx), CR8_GPR(rsp), CR8_GPR(rbp),
	CR8_GPR(rsi), CR8_GPR(rdi), CR8_GPR(r8),  CR8_GPR(r9),  CR8_GPR(r10), CR8_GPR(r11),
	CR8_GPR(r12), CR8_GPR(r13), CR8_GPR(r14), CR8_GPR(r15),
#undef CR8_GPR
};

static u64 cr8_roundtrip_nonce, cr8_seen;

/* Writes a TPR (0-14: the legal 15 is checked on its own) through register `reg` and reads it
 * back through another register. */
static void cr8_roundtrip(u64 reg)
{
	cr8_gpr[reg].to((cr8_roundtrip_nonce + reg) % 15);
	cr8_seen = cr8_gpr[(reg + CR8_READ_SHIFT) % 16].from();
}

/* Bit n set: the TPR written through register n did not come back (or faulted). */
static u64 cr8_wrong_registers(u64 nonce)
{
	u64 wrong = 0;
	cr8_roundtrip_nonce = nonce;
	for (u64 reg = 0; reg < 16; reg++)
		if (fault_of(cr8_roundtrip, reg) != NO_FAULT || cr8_seen != (nonce + reg) % 15)
			wrong |= BIT(reg);
	return wrong;
}

static void guest_cr8(u64 nonce)
{
	u64 tpr = 1 + nonce % 15;
	guest_report("cr8.initial", mov_from_cr8_r10());
	guest_report("cr8.wrong_registers", cr8_wrong_registers(nonce));
	guest_report("cr8.max_fault", fault_of(mov_to_cr8_r11, 15));
	guest_report("cr8.max", mov_from_cr8_r12());
	mov_to_cr8_r9(tpr);
	guest_report("cr8.read", mov_from_cr8_rbx());
	guest_report("cr8.too_big", fault_of(mov_to_cr8_r13, 16));
	report_last_fault("cr8.gp_rip_offset", "cr8.gp_error_code", lab03_mov_to_cr8_r13);
	guest_report("cr8.bit32", fault_of(mov_to_cr8_r13, BIT(32) | tpr));
	guest_report("cr8.read_after", mov_from_cr8_rdi());
}

static void verify_cr8(struct vcpu *v)
{
	report_fact("host.real_cr8", "0x%lx", read_cr8());
	report_fact("host.vcpu_cr8", "0x%lx", lab03(v)->cr8);
}

CHECK(03, cr0_shadow, "cr0-shadow", .last_stage = STAGE_RUN, .guest = guest_cr0,
      .setup = setup_report_initial, .verify = report_host_crs, .demo = true);
CHECK(03, cr0_faults, "cr0-faults", .last_stage = STAGE_RUN, .guest = guest_cr0_faults,
      .setup = setup_report_initial, .verify = report_host_crs);
CHECK(03, cr4_vmxe, "cr4-vmxe", .last_stage = STAGE_RUN, .guest = guest_cr4, .setup = setup_cr4,
      .verify = report_host_crs);
CHECK(03, clts_lmsw, "clts-lmsw", .last_stage = STAGE_RUN, .guest = guest_clts_lmsw,
      .setup = setup_ts_ne_split, .verify = report_host_crs);
CHECK(03, cr3, "cr3-exiting", .last_stage = STAGE_RUN, .guest = guest_cr3, .setup = setup_cr3,
      .verify = verify_cr3);
CHECK(03, cr8, "cr8-exiting", .last_stage = STAGE_RUN, .guest = guest_cr8, .verify = verify_cr8);
