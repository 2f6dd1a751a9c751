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

/* ---- host side: the floor handler, the bench's hypercalls, its I/O device ---- */

static exit_handler lab_cpuid;	/* the lab's CPUID handler while the floor one is in */

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
		printf("VMX: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

#if __has_include("lab02.h")
static u32 device_state;	/* IN returns it and counts it up */

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
static u64 mmio_reads;	/* a load returns nonce ^ how many loads came before */

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
	.name = "bench counter", .gpa = BENCH_MMIO_GPA, .size = PAGE_SIZE,
	.read = mmio_read, .write = mmio_write,
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
}

CHECK(00, bench, "bench", .last_stage = STAGE_RUN, .guest = bench_guest, .setup = bench_setup);
