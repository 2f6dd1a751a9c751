/* Lab 02 checks: guest programs that meet each exit, and the host-side setup they need. */
#include "check.h"
#include "io_device.h"
#include "lab.h"
#include "lab02.h"
#include "params.h"

#define HC_INJECT 16			/* RDI = vector, RSI = error code (grader-only hypercall) */
#define HV_MSR_SCRATCH 0x40000100U
#define DEVICE_BASE 0x7ffe		/* 0x7ffe-0x8001: straddles I/O bitmaps A and B */
#define DEVICE_PORTS 4

static u64 rotl(u64 x, unsigned n) { return (x << n) | (x >> (64 - n)); }
static u32 rotl32(u32 x, unsigned n) { return (x << n) | (x >> (32 - n)); }

/* ---- host side: an extra hypercall, an I/O device, TSC offsets, an INVLPG witness ---- */

static exit_handler plain_vmcall;

static enum exit_verdict vmcall_with_inject(struct vcpu *v)
{
	if (v->regs.rax != HC_INJECT)
		return plain_vmcall(v);
	vmx_skip_instruction(v);
	vmx_inject_exception(v, (u8)v->regs.rdi, (u32)v->regs.rsi);
	return EXIT_RESUME;
}

static void setup_inject(struct vcpu *v)
{
	(void)v;
	plain_vmcall = exit_handler_for(EXIT_REASON_VMCALL);
	exit_register(EXIT_REASON_VMCALL, vmcall_with_inject);
}

/* The accumulator device (grader/spec/lab02.py models the same): OUT mixes the value into a
 * 32-bit state, IN returns the state and stirs it, so order and size both matter. */
static u32 accumulator;

static u32 acc_in(u16 port, unsigned size)
{
	(void)size;
	u32 value = accumulator ^ (u32)(port - DEVICE_BASE);
	accumulator = rotl32(accumulator, 3);
	return value;
}

static void acc_out(u16 port, unsigned size, u32 value)
{
	(void)size;
	accumulator = rotl32(accumulator, 5) ^ value ^ (u32)(port - DEVICE_BASE);
}

static const struct io_device acc_device = {
	"accumulator", DEVICE_BASE, DEVICE_PORTS, acc_in, acc_out,
};

static void setup_device(struct vcpu *v)
{
	accumulator = (u32)boot_params.nonce;
	io_device_register(&acc_device);
	io_intercept(v, DEVICE_BASE, DEVICE_PORTS);
}

static u64 tsc_offset(void) { return (boot_params.nonce & 0xffffffffffUL) | BIT(40); }

static void setup_tsc(struct vcpu *v, bool keep_rdtsc_exiting)
{
	(void)v;
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
	if (!keep_rdtsc_exiting)
		vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, primary & ~CPU_RDTSC_EXITING);
	vmcs_write(TSC_OFFSET, tsc_offset());
	report_fact("host.tsc_offset", "0x%lx", tsc_offset());
	report_fact("host.tsc_before", "0x%lx", rdtsc());
}
static void setup_tsc_offset(struct vcpu *v) { setup_tsc(v, false); }
static void setup_rdtsc_exit(struct vcpu *v) { setup_tsc(v, true); }
static void verify_tsc(struct vcpu *v)
{
	(void)v;
	report_fact("host.tsc_after", "0x%lx", rdtsc());
}

static exit_handler student_invlpg;

static enum exit_verdict witness_invlpg(struct vcpu *v)
{
	report_fact("invlpg.qualification", "0x%lx", v->exit.qualification);
	return student_invlpg(v);
}

static void setup_invlpg(struct vcpu *v)
{
	(void)v;
	student_invlpg = exit_handler_for(EXIT_REASON_INVLPG);
	if (student_invlpg)
		exit_register(EXIT_REASON_INVLPG, witness_invlpg);
}

/* ---- guest programs ---- */

static void try_vmxon(u64 a) { __asm__ volatile("vmxon %0" : : "m"(a)); }
static void try_vmclear(u64 a) { __asm__ volatile("vmclear %0" : : "m"(a)); }
static void try_vmptrld(u64 a) { __asm__ volatile("vmptrld %0" : : "m"(a)); }
static void try_vmptrst(u64 a) { __asm__ volatile("vmptrst %0" : "=m"(a)); }
static void try_vmread(u64 a) { u64 x; __asm__ volatile("vmread %1, %0" : "=r"(x) : "r"(a)); }
static void try_vmwrite(u64 a) { __asm__ volatile("vmwrite %0, %0" : : "r"(a)); }
static void try_vmlaunch(u64 a) { (void)a; __asm__ volatile("vmlaunch"); }
static void try_vmresume(u64 a) { (void)a; __asm__ volatile("vmresume"); }
static void try_vmxoff(u64 a) { (void)a; __asm__ volatile("vmxoff"); }
static void try_invept(u64 a)
{
	struct invept_descriptor d = { a, 0 };
	__asm__ volatile("invept %0, %1" : : "m"(d), "r"((u64)INVEPT_ALL_CONTEXT));
}
static void try_invvpid(u64 a)
{
	struct invvpid_descriptor d = { 1, a };
	__asm__ volatile("invvpid %0, %1" : : "m"(d), "r"((u64)INVVPID_ALL_CONTEXT));
}

static void guest_vmx_instructions(u64 nonce)
{
	static void (*const attempts[])(u64) = {
		try_vmxon, try_vmclear, try_vmptrld, try_vmptrst, try_vmread, try_vmwrite,
		try_vmlaunch, try_vmresume, try_vmxoff, try_invept, try_invvpid,
	};
	u64 ud_mask = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(attempts); i++) {
		struct guest_fault f;
		if (guest_catch(attempts[i], 0x10000 + (nonce & 0xf000), &f) && f.vector == VEC_UD)
			ud_mask |= BIT(i);
	}
	guest_report("vmx.ud_mask", ud_mask);
}

static void request_injection(u64 packed) { hypercall(HC_INJECT, packed >> 32, (u32)packed); }

static void guest_inject(u64 nonce)
{
	static const char *const vector_keys[] = { "inject.0.vector", "inject.1.vector", "inject.2.vector" };
	static const char *const error_keys[] = { "inject.0.error", "inject.1.error", "inject.2.error" };
	const u64 requests[] = {
		(u64)VEC_UD << 32,
		(u64)VEC_GP << 32 | (nonce & 0xfff8),
		(u64)VEC_DB << 32 | 0x5555,	/* #DB has no error code: 0x5555 must not appear */
	};
	for (unsigned i = 0; i < ARRAY_SIZE(requests); i++) {
		struct guest_fault f = { ~0UL, ~0UL, 0 };
		guest_catch(request_injection, requests[i], &f);
		guest_report(vector_keys[i], f.vector);
		guest_report(error_keys[i], f.error_code);
	}
}

static void do_invd(u64 a) { (void)a; __asm__ volatile("invd"); }
static void do_xsetbv(u64 packed) { xsetbv((u32)(packed >> 32), (u32)packed); }

static void guest_invd_xsetbv(u64 nonce)
{
	static const char *const keys[] = { "xsetbv.x87_sse", "xsetbv.no_x87", "xsetbv.avx_no_sse",
					     "xsetbv.xcr1", "xsetbv.x87_sse_avx" };
	const u64 attempts[] = { 0x3, 0x2, 0x5, BIT(32) | 0x1, 0x7 };
	struct guest_fault f;
	(void)nonce;
	guest_report("invd.faulted", guest_catch(do_invd, 0, &f));
	write_cr4(read_cr4() | CR4_OSXSAVE);
	guest_report("xsetbv.supported", cpuid(0xd, 0).eax);
	for (unsigned i = 0; i < ARRAY_SIZE(attempts); i++) {
		bool faulted = guest_catch(do_xsetbv, attempts[i], &f);
		/* the fault's vector, or 0x100 | the XCR0 that resulted */
		guest_report(keys[i], faulted ? f.vector : 0x100 | xgetbv(0));
	}
}

static void guest_hlt(u64 nonce)
{
	unsigned n = 3 + nonce % 5;
	__asm__ volatile("sti");
	for (unsigned i = 0; i < n; i++)
		__asm__ volatile("hlt");
	guest_report("hlt.count", n);
	__asm__ volatile("cli; hlt");
	guest_report("hlt.woke_up_with_if_0", 1); /* never: the hypervisor must end the guest */
}

static void guest_tsc(u64 nonce)
{
	static const char *const keys[] = { "tsc.0", "tsc.1", "tsc.2" };
	unsigned n = 1 + (nonce & 1) * 2;
	for (unsigned i = 0; i < n; i++)
		guest_report(keys[i], rdtsc());
	guest_report("tsc.count", n);
}

static u64 invlpg_address(u64 nonce) { return (nonce & 0x3ffff000UL) | 0x40000123UL; }

static void guest_invlpg(u64 nonce)
{
	invlpg(invlpg_address(nonce));
	guest_report("invlpg.address", invlpg_address(nonce));
}

static void mov_dr7_high(u64 a) { __asm__ volatile("mov %0, %%dr7" : : "r"(a | BIT(32))); }

static void guest_mov_dr(u64 nonce)
{
	register u64 r9 __asm__("r9") = rotl(nonce, 17) & 0x7fffffffffffUL;
	register u64 r12 __asm__("r12");
	register u64 r10 __asm__("r10") = 0x600;
	u64 a = nonce & 0x7fffffffffffUL, c = rotl(nonce, 33) & 0x7fffffffffffUL, ra, rc, rd;
	struct guest_fault f;
	__asm__ volatile("mov %0, %%dr0" : : "b"(a));
	__asm__ volatile("mov %0, %%dr1" : : "r"(r9));
	__asm__ volatile("mov %0, %%dr3" : : "S"(c));
	__asm__ volatile("mov %0, %%dr7" : : "r"(r10));
	__asm__ volatile("mov %%dr0, %0" : "=c"(rc));
	__asm__ volatile("mov %%dr1, %0" : "=r"(r12));
	__asm__ volatile("mov %%dr3, %0" : "=D"(rd));
	__asm__ volatile("mov %%dr7, %0" : "=a"(ra));
	guest_report("dr.0", rc);
	guest_report("dr.1", r12);
	guest_report("dr.3", rd);
	guest_report("dr.7", ra);
	guest_report("dr.7_high_bits", guest_catch(mov_dr7_high, 0x400, &f) ? f.vector : 0x100);
}

static u64 in_keep_upper(u16 port, unsigned size)
{
	u64 rax = 0x1122334455667788UL;
	if (size == 1)
		__asm__ volatile("inb %w1, %b0" : "+a"(rax) : "Nd"(port));
	else
		__asm__ volatile("inl %w1, %k0" : "+a"(rax) : "Nd"(port));
	return rax;
}

static void guest_io_bitmap(u64 nonce)
{
	u32 x = (u32)(nonce >> 32);
	u32 r1, r2, r3;
	outb(DEVICE_BASE, (u8)x);
	outw(DEVICE_BASE + 1, (u16)(x >> 8));		/* 0x7fff-0x8000: both bitmaps */
	__asm__ volatile("outl %0, %w1" : : "a"(x ^ 0xa5a5a5a5U), "Nd"((u16)(DEVICE_BASE + 2)));
	guest_report("io.in1_7fff", inb(DEVICE_BASE + 1));	/* the last port of bitmap A */
	r1 = inb(DEVICE_BASE + 3);
	__asm__ volatile("inw %w1, %w0" : "=a"(r2) : "Nd"((u16)DEVICE_BASE));
	r2 &= 0xffff;
	__asm__ volatile("inl %w1, %0" : "=a"(r3) : "Nd"((u16)(DEVICE_BASE + 2)));
	guest_report("io.in1", r1);
	guest_report("io.in2", r2);
	guest_report("io.in4", r3);
	guest_report("io.inb_rax", in_keep_upper(DEVICE_BASE, 1));
	guest_report("io.inl_rax", in_keep_upper(DEVICE_BASE + 2, 4));
	inb(DEVICE_BASE - 1);				/* outside the device: no exit */
	inb(DEVICE_BASE + DEVICE_PORTS);
	guest_report("io.done", 1);
}

/* Unconditional I/O exiting instead of the bitmaps: every port exits, the device's and others. */
static void setup_io_unconditional(struct vcpu *v)
{
	setup_device(v);
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_USE_IO_BITMAPS, false);
	vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_UNCONDITIONAL_IO_EXITING, true);
}

static void guest_io_unconditional(u64 nonce)
{
	outb(DEVICE_BASE, (u8)nonce);
	guest_report("io.unconditional_in", inb(DEVICE_BASE));
	inb(DEVICE_BASE - 1);				/* not the device's: exits all the same */
	inb(DEVICE_BASE + DEVICE_PORTS);
}

static void guest_io_string(u64 nonce)
{
	u8 src[16];
	u16 words[3] = { 0, 0, 0 };
	u32 dword = (u32)rotl(nonce, 7);
	u64 n = 5 + nonce % 11, rcx, rsi, rdi;
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (u8)(nonce >> (i % 8 * 8)) ^ (u8)i;
	__asm__ volatile("rep outsb" : "=c"(rcx), "=S"(rsi) : "c"(n), "S"(src), "d"(DEVICE_BASE) : "memory");
	guest_report("str.outsb_rcx", rcx);
	guest_report("str.outsb_rsi", rsi - (u64)src);
	__asm__ volatile("rep insw" : "=c"(rcx), "=D"(rdi) : "c"(3UL), "D"(words), "d"(DEVICE_BASE + 2) : "memory");
	guest_report("str.insw_rdi", rdi - (u64)words);
	guest_report("str.insw_words", words[0] | (u64)words[1] << 16 | (u64)words[2] << 32);
	__asm__ volatile("outsl" : "=S"(rsi) : "S"(&dword), "d"(DEVICE_BASE + 2) : "memory");
	guest_report("str.outsl_rsi", rsi - (u64)&dword);
	__asm__ volatile("std; rep outsb; cld" : "=c"(rcx), "=S"(rsi) : "c"(3UL), "S"(src + 15), "d"(DEVICE_BASE) : "memory");
	guest_report("str.std_rsi", (u64)(src + 15) - rsi);
	u32 final;
	__asm__ volatile("inl %w1, %0" : "=a"(final) : "Nd"((u16)DEVICE_BASE));
	guest_report("str.final", final);
	guest_report("str.n", n);
}

static void do_wrmsr(u64 packed) { wrmsr((u32)(packed >> 40), packed & 0xffffffffffUL); }
static void do_rdmsr(u64 msr) { rdmsr((u32)msr); }

static void guest_msr(u64 nonce)
{
	struct guest_fault f;
	u64 kgs = (nonce & 0x7ffffffff000UL) | 0x8;
	guest_report("msr.sysenter_esp", rdmsr(MSR_IA32_SYSENTER_ESP));
	guest_report("msr.sysenter_esp_write",
		     guest_catch(do_wrmsr, (u64)MSR_IA32_SYSENTER_ESP << 40 | 0x1000, &f) ? f.vector : 0x100);
	wrmsr(MSR_IA32_KERNEL_GS_BASE, kgs);
	guest_report("msr.kernel_gs_base", rdmsr(MSR_IA32_KERNEL_GS_BASE));
	rdmsr(MSR_IA32_PAT);
	wrmsr(MSR_IA32_TSC_AUX, (u32)rotl(nonce, 9));
	guest_report("msr.tsc_aux", rdmsr(MSR_IA32_TSC_AUX));
	guest_report("msr.tsc_aux_high_bits",
		     guest_catch(do_wrmsr, (u64)MSR_IA32_TSC_AUX << 40 | BIT(32), &f) ? f.vector : 0x100);
	wrmsr(HV_MSR_SCRATCH, rotl(nonce, 21));
	guest_report("msr.scratch", rdmsr(HV_MSR_SCRATCH));
	guest_report("msr.unknown_read", guest_catch(do_rdmsr, 0x40000200, &f) ? f.vector : 0x100);
}

static void setup_msr(struct vcpu *v)
{
	(void)v;
	u64 esp = rotl(boot_params.nonce, 40) & 0x7ffffffffff0UL;
	vmcs_write(GUEST_IA32_SYSENTER_ESP, esp);
	report_fact("host.guest_sysenter_esp", "0x%lx", esp);
}

static void guest_wbinvd_pause(u64 nonce)
{
	unsigned a = 2 + nonce % 3, b = 3 + (nonce >> 8) % 4;
	for (unsigned i = 0; i < a; i++)
		wbinvd();
	for (unsigned i = 0; i < b; i++)
		__asm__ volatile("pause");
	guest_report("wbinvd.count", a);
	guest_report("pause.count", b);
}

static void user_hlt(u64 a) { (void)a; __asm__ volatile("hlt"); }
static void user_rdtsc(u64 a) { (void)a; rdtsc(); }
static void user_in(u64 port) { inb((u16)port); }
static void user_cpuid(u64 a) { *(u32 *)a = cpuid(HV_CPUID_LEAF, 0).ebx; }
static void kernel_getsec(u64 a) { (void)a; __asm__ volatile("getsec" : : "a"(0) : "ebx", "ecx", "edx"); }

static u64 vector_or_none(bool faulted, struct guest_fault *f) { return faulted ? f->vector : 0x100; }

static void guest_fault_vs_exit(u64 nonce)
{
	struct guest_fault f;
	static u32 signature;
	(void)nonce;
	write_cr4(read_cr4() | CR4_OSXSAVE);
	guest_report("prio.user_hlt", vector_or_none(guest_user(user_hlt, 0, &f), &f));
	write_cr4(read_cr4() | CR4_TSD);
	guest_report("prio.user_rdtsc_tsd", vector_or_none(guest_user(user_rdtsc, 0, &f), &f));
	write_cr4(read_cr4() & ~CR4_TSD);
	guest_report("prio.user_rdtsc", vector_or_none(guest_user(user_rdtsc, 0, &f), &f));
	guest_report("prio.user_in", vector_or_none(guest_user(user_in, DEVICE_BASE, &f), &f));
	guest_report("prio.user_invd", vector_or_none(guest_user(do_invd, 0, &f), &f));
	guest_report("prio.user_xsetbv", vector_or_none(guest_user(do_xsetbv, 0x3, &f), &f));
	guest_report("prio.getsec", vector_or_none(guest_catch(kernel_getsec, 0, &f), &f));
	guest_report("prio.user_cpuid", vector_or_none(guest_user(user_cpuid, (u64)&signature, &f), &f));
	guest_report("prio.user_cpuid_ebx", signature);
}

static void guest_exit_stats(u64 nonce)
{
	for (unsigned i = 0; i < 2 + nonce % 4; i++)
		cpuid(0, 0);
	wbinvd();
	__asm__ volatile("pause");
}

CHECK(02, vmx_insn, "vmx-instructions", .last_stage = STAGE_RUN, .guest = guest_vmx_instructions);
CHECK(02, inject, "inject", .last_stage = STAGE_RUN, .guest = guest_inject, .setup = setup_inject);
CHECK(02, invd_xsetbv, "invd-xsetbv", .last_stage = STAGE_RUN, .guest = guest_invd_xsetbv);
CHECK(02, hlt, "hlt", .last_stage = STAGE_RUN, .guest = guest_hlt);
CHECK(02, tsc_offset, "tsc-offset", .last_stage = STAGE_RUN, .guest = guest_tsc,
      .setup = setup_tsc_offset, .verify = verify_tsc);
CHECK(02, rdtsc_exit, "rdtsc-exit", .last_stage = STAGE_RUN, .guest = guest_tsc,
      .setup = setup_rdtsc_exit, .verify = verify_tsc);
CHECK(02, invlpg, "invlpg", .last_stage = STAGE_RUN, .guest = guest_invlpg, .setup = setup_invlpg);
CHECK(02, mov_dr, "mov-dr", .last_stage = STAGE_RUN, .guest = guest_mov_dr);
CHECK(02, io_bitmap, "io-bitmap", .last_stage = STAGE_RUN, .guest = guest_io_bitmap,
      .setup = setup_device);
CHECK(02, io_unconditional, "io-unconditional", .last_stage = STAGE_RUN,
      .guest = guest_io_unconditional, .setup = setup_io_unconditional);
CHECK(02, io_string, "io-string", .last_stage = STAGE_RUN, .guest = guest_io_string,
      .setup = setup_device);
CHECK(02, msr, "msr-bitmap", .last_stage = STAGE_RUN, .guest = guest_msr, .setup = setup_msr);
CHECK(02, wbinvd_pause, "wbinvd-pause", .last_stage = STAGE_RUN, .guest = guest_wbinvd_pause);
CHECK(02, fault_vs_exit, "fault-vs-exit", .last_stage = STAGE_RUN,
      .guest = guest_fault_vs_exit, .setup = setup_device);
CHECK(02, exit_stats, "exit-stats", .last_stage = STAGE_RUN, .guest = guest_exit_stats,
      .demo = true);
