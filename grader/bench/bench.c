/* The exit benchmark (make bench): a guest that times the round trip of each exit the labs
 * handle with its own RDTSC. Not a graded check: it is linked only into the image make bench
 * builds, as check "bench" of lab 00 (like the probe, outside the pairing with grader/spec). */
#include "bench.h"
#include "check.h"
#include "io_device.h"
#include "lab.h"
#include "params.h"
#if __has_include("lab02.h")
#include "lab02.h"
#endif
#if __has_include("lab07.h")
#include "lab07.h"
#endif
#if __has_include("lab10.h")
#include "lab10.h"
#endif

/* ---- host side: the floor handler, the bench's hypercalls, its I/O device ---- */

static exit_handler lab_cpuid; /* the lab's CPUID handler while the floor one is in */

/* The floor: the least a handler can do, move the guest past the instruction. */
static enum exit_verdict floor_handler(struct vcpu *v)
{
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

static void floor_handler_use(bool on)
{
	if (on) {
		lab_cpuid = exit_handler_for(EXIT_REASON_CPUID);
		exit_register(EXIT_REASON_CPUID, floor_handler);
	} else {
		exit_register(EXIT_REASON_CPUID, lab_cpuid);
	}
}

#if __has_include("lab10.h")
/* The hooked page's code: the original (view 0, read/write) and the patch (view 1, execute-only). */
__asm__(".pushsection .rodata.bench_hook, \"a\"\n"
	".globl bench_hook_original, bench_hook_patched, bench_hook_end\n"
	"bench_hook_original:\n\tmov %rdi, %rax\n\tmovabs $0x0123456789abcdef, %rcx\n"
	"\txor %rcx, %rax\n\tret\n"
	"bench_hook_patched:\n\tmov %rdi, %rax\n\tmovabs $0x2545f4914f6cdd1d, %rcx\n"
	"\timul %rcx, %rax\n\tret\n"
	"bench_hook_end:\n\t.popsection");

/* The guest's #VE handler (guest_idt, vector 20): at the hooked page, a fetch goes to view 1 and
 * a read to view 0 with VMFUNC, the busy dword cleared; anything else is counted and cleared. */
u64 bench_ve_area, bench_ve_other;
__asm__(".pushsection .text.bench_ve, \"ax\"\n"
	".globl bench_ve_handler\n"
	"bench_ve_handler:\n"
	"\tpush %rax\n\tpush %rcx\n\tpush %rsi\n"
	"\tmov bench_ve_area(%rip), %rsi\n"
	"\tmov 24(%rsi), %rax\n\tand $~0xfff, %rax\n\tcmp $0x1fe000, %rax\n\tjne 2f\n"
	"\txor %ecx, %ecx\n\ttestb $4, 8(%rsi)\n\tjz 1f\n\tmov $1, %ecx\n"
	"1:\txor %eax, %eax\n\tvmfunc\n\tjmp 3f\n"
	"2:\tincq bench_ve_other(%rip)\n"
	"3:\tmovl $0, 4(%rsi)\n"
	"\tpop %rsi\n\tpop %rcx\n\tpop %rax\n\tiretq\n"
	"\t.popsection");
_Static_assert(BENCH_HOOK_GPA == 0x1fe000, "bench_ve_handler compares with this page");


static exit_handler lab_violation;
static enum exit_verdict hook_violation(struct vcpu *v);

/* #VE on only for the row that measures it: the MMIO row's violations must stay exits. The
 * bench's EPT-violation handler only for the row that hooks by exits: the MMIO row's path stays
 * the lab's alone. */
static void hook_mode(u64 mode)
{
	exit_register(EXIT_REASON_EPT_VIOLATION,
		      mode == BENCH_HOOK_BY_EXITS ? hook_violation : lab_violation);
	u64 secondary = vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) & ~CPU2_EPT_VIOLATION_VE;
	if (mode == BENCH_HOOK_BY_VE)
		secondary |= CPU2_EPT_VIOLATION_VE;
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, secondary);
}

/* The same hook done by the hypervisor: each violation at the hooked page exits, and the
 * handler points EPT_POINTER at the view that allows the access. */
static enum exit_verdict hook_violation(struct vcpu *v)
{
	u64 gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	if ((gpa & ~(PAGE_SIZE - 1)) != BENCH_HOOK_GPA)
		return lab_violation ? lab_violation(v) : EXIT_STOP;
	vmcs_write(EPT_POINTER, lab10(v)->eptp_list[ept_qual_fetch(v->exit.qualification) ? 1 : 0]);
	return EXIT_RESUME;
}

/* The views (lab 10's functions): view 0 the original code read/write, view 1 the patch
 * execute-only; #VE off until the row that uses it (the guest installs its handler then). */
static void bench_hook(struct vcpu *v)
{
	u8 *original = page_alloc(), *patched = page_alloc();
	memcpy(original, bench_hook_original, (u64)(bench_hook_patched - bench_hook_original));
	memcpy(patched, bench_hook_patched, (u64)(bench_hook_end - bench_hook_patched));
	ve_enable(v);
	bench_ve_area = (u64)lab10(v)->ve_info;
	ept_map(v, BENCH_HOOK_GPA, virt_to_phys(original), SIZE_4K, EPT_READ | EPT_WRITE);
	vmfunc_enable(v);
	unsigned view = ept_view_add(v);
	if (view != 1)
		panic("bench: ept_view_add() returned view %u, the first view added must be 1", view);
	ept_view_map(v, view, BENCH_HOOK_GPA, virt_to_phys(patched), EPT_EXECUTE);
	lab_violation = exit_handler_for(EXIT_REASON_EPT_VIOLATION);
	hook_mode(BENCH_HOOK_OFF);
}
#endif

static enum exit_verdict bench_hypercall(struct vcpu *v)
{
	switch (v->regs.rax) {
	case HC_BENCH_FLOOR:
		floor_handler_use(v->regs.rdi != 0);
		v->regs.rax = 0;
		break;
	case HC_BENCH_ECHO:
		v->regs.rax = v->regs.rdi ^ BENCH_ECHO_MIX;
		break;
	default:
#if __has_include("lab10.h")
		if (v->regs.rax == HC_BENCH_HOOK) { /* after the switch: the other rows' path unchanged */
			hook_mode(v->regs.rdi);
			break;
		}
#endif
		printf("VMX: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

#if __has_include("lab02.h")
static u32 device_state; /* IN returns it and counts it up */

static u32 device_in(u16 port, unsigned size)
{
	(void)port;
	(void)size;
	return device_state++;
}

static void device_out(u16 port, unsigned size, u32 value)
{
	(void)port;
	(void)size;
	device_state = value;
}

static const struct io_device bench_device = {
	"bench counter", BENCH_PORT, 1, device_in, device_out,
};
#endif

#if __has_include("lab07.h")
static u64 mmio_reads; /* a load returns nonce ^ how many loads came before */

static u64 mmio_read(u64 offset, unsigned size)
{
	(void)offset;
	(void)size;
	return boot_params.nonce ^ mmio_reads++;
}

static void mmio_write(u64 offset, unsigned size, u64 value)
{
	(void)offset;
	(void)size;
	mmio_reads = value;
}

static const struct mmio_device bench_mmio = {
	.name = "bench counter",
	.gpa = BENCH_MMIO_GPA,
	.size = PAGE_SIZE,
	.read = mmio_read,
	.write = mmio_write,
};

/* From lab 07 on, the guest runs with EPT: an identity map of the first 1 GiB, built with the
 * lab's ept_enable() and ept_map(), without the device's page. */
static void bench_ept(struct vcpu *v)
{
	ept_enable(v, false);
	for (u64 gpa = 0; gpa < SIZE_2M; gpa += SIZE_4K)
		if (gpa != BENCH_MMIO_GPA)
			ept_map(v, gpa, gpa, SIZE_4K, EPT_RWX);
	for (u64 gpa = SIZE_2M; gpa < SIZE_1G; gpa += SIZE_2M)
		ept_map(v, gpa, gpa, SIZE_2M, EPT_RWX);
	mmio_device_register(&bench_mmio);
}
#endif

/* After every lab's setup: the guest reads the TSC without an exit (lab 02 turns on RDTSC
 * exiting), the bench's hypercalls, from lab 02 on its I/O port in the I/O bitmap, from lab 07
 * on its identity EPT and device page. */
static void bench_setup(struct vcpu *v)
{
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, primary & ~CPU_RDTSC_EXITING);
	hypercall_extend(bench_hypercall);
#if __has_include("lab02.h")
	device_state = (u32)boot_params.nonce;
	io_device_register(&bench_device);
	io_intercept(v, BENCH_PORT, 1);
#else
	(void)v;
#endif
#if __has_include("lab07.h")
	bench_ept(v);
#endif
#if __has_include("lab10.h")
	bench_hook(v);
#endif
}

CHECK(00, bench, "bench", .last_stage = STAGE_RUN, .guest = bench_guest, .setup = bench_setup);
