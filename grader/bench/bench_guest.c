/* The exit benchmark's guest: each row executes one instruction between two RDTSCs, many times,
 * and reports the ticks (total, fewest, most) and how often the instruction's result was wrong.
 * Under Bochs one TSC tick is one retired instruction, so the figures count instructions. */
#include "bench.h"
#include "lab.h"
#include "trap.h"
#if __has_include("lab02.h")
#define BENCH_LAB02 1
#endif
#if __has_include("lab03.h")
#define BENCH_LAB03 1
#endif
#if __has_include("lab07.h")
#define BENCH_LAB07 1
#endif
#if __has_include("lab10.h")
#define BENCH_LAB10 1
#endif

static u64 nonce;

struct row {
	const char *name;                /* FACT keys bench.<name>.* */
	u64 (*once)(u64 i, u64 *result); /* ticks of execution i; *result what it produced */
	u64 (*expected)(u64 i);          /* the correct result of execution i, or NULL */
	void (*before)(void), (*after)(void);
	u64 iterations; /* timed executions; 0: BENCH_ITERATIONS */
};

/* ---- the timed executions: RDTSC, the instruction, RDTSC ---- */

static u64 tsc_only(u64 i, u64 *result)
{
	(void)i;
	u64 t0 = rdtsc();
	*result = rdtsc() - t0;
	return *result;
}

/* CPUID of the hypervisor's own leaf (lab 01): EBX holds the first 4 bytes of its signature. */
static u64 cpuid_once(u64 i, u64 *result)
{
	u32 a = HV_CPUID_LEAF, b, c = 0, d;
	(void)i;
	u64 t0 = rdtsc();
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	u64 t = rdtsc() - t0;
	*result = b;
	return t;
}

static u64 cpuid_signature(u64 i)
{
	u32 b;
	(void)i;
	memcpy(&b, HV_SIGNATURE, 4);
	return b;
}

static void floor_on(void) { hypercall(HC_BENCH_FLOOR, 1, 0); }
static void floor_off(void) { hypercall(HC_BENCH_FLOOR, 0, 0); }

static u64 vmcall_once(u64 i, u64 *result)
{
	u64 t0 = rdtsc();
	*result = hypercall(HC_BENCH_ECHO, nonce ^ i, 0);
	return rdtsc() - t0;
}

static u64 vmcall_echo(u64 i) { return nonce ^ i ^ BENCH_ECHO_MIX; }

#ifdef BENCH_LAB02
/* RDMSR of IA32_TSC_AUX: lab 02's policy intercepts it in the MSR bitmap and keeps its value. */
static u64 tsc_aux_once(u64 i, u64 *result)
{
	(void)i;
	u64 t0 = rdtsc();
	*result = rdmsr(MSR_IA32_TSC_AUX);
	return rdtsc() - t0;
}

static u64 tsc_aux_value(u64 i)
{
	(void)i;
	return (u32)nonce;
}
static void tsc_aux_write(void) { wrmsr(MSR_IA32_TSC_AUX, (u32)nonce); }

/* RDMSR of IA32_SYSENTER_CS: not intercepted, so no exit (the bitmap's other side). */
static u64 sysenter_cs_once(u64 i, u64 *result)
{
	(void)i;
	u64 t0 = rdtsc();
	*result = rdmsr(MSR_IA32_SYSENTER_CS);
	return rdtsc() - t0;
}

/* IN of 4 bytes from the bench's counter device, a port set in the I/O bitmap. */
static u64 in_once(u64 i, u64 *result)
{
	u32 value;
	(void)i;
	u64 t0 = rdtsc();
	__asm__ volatile("inl %1, %0" : "=a"(value) : "d"((u16)BENCH_PORT));
	u64 t = rdtsc() - t0;
	*result = value;
	return t;
}

static u64 in_count(u64 i) { return (u32)(nonce + i); }

static void interrupts_on(void) { __asm__ volatile("sti"); }
static void interrupts_off(void) { cli(); }

/* HLT with RFLAGS.IF = 1: lab 02 moves the guest past it. */
static u64 hlt_once(u64 i, u64 *result)
{
	(void)i;
	u64 t0 = rdtsc();
	hlt();
	*result = 0;
	return rdtsc() - t0;
}
#endif

#ifdef BENCH_LAB03
/* MOV to CR0 that flips TS, a bit lab 03 owns, so every write differs from the read shadow. */
static u64 cr0_once(u64 i, u64 *result)
{
	u64 cr0 = read_cr0();
	cr0 = i % 2 == 0 ? cr0 | CR0_TS : cr0 & ~CR0_TS;
	u64 t0 = rdtsc();
	write_cr0(cr0);
	u64 t = rdtsc() - t0;
	*result = read_cr0() & CR0_TS;
	return t;
}

static u64 cr0_ts(u64 i) { return i % 2 == 0 ? CR0_TS : 0; }
static void cr0_ts_clear(void) { write_cr0(read_cr0() & ~CR0_TS); }
#endif

#ifdef BENCH_LAB07
/* An 8-byte load (REX.W 8B) from the device page: an EPT violation, emulated by lab 07. */
static u64 mmio_once(u64 i, u64 *result)
{
	u64 value;
	(void)i;
	u64 t0 = rdtsc();
	__asm__ volatile("mov (%1), %0" : "=r"(value) : "r"((u64)BENCH_MMIO_GPA) : "memory");
	u64 t = rdtsc() - t0;
	*result = value;
	return t;
}

static u64 mmio_count(u64 i) { return nonce ^ i; }
#endif

#ifdef BENCH_LAB10
/* A call into the hooked page and a read of its first qword: the hook must run (the patched
 * code's result) and the read must see the original code (the difference is XORed in). */
static u64 hook_once(u64 i, u64 *result)
{
	u64 value, bytes;
	u64 t0 = rdtsc();
	__asm__ volatile("call *%2\n\tmov (%2), %1"
			 : "=&a"(value), "=&r"(bytes)
			 : "r"((u64)BENCH_HOOK_GPA), "D"(nonce ^ i)
			 : "rcx", "memory");
	u64 t = rdtsc() - t0;
	*result = value ^ bytes ^ *(const u64 *)bench_hook_original;
	return t;
}

static u64 hook_value(u64 i) { return (nonce ^ i) * BENCH_HOOK_MUL; }
extern struct idt_gate guest_idt[IDT_VECTORS];

/* The bench's #VE handler in the guest's IDT (guest_main() filled it with the runtime's stubs),
 * then #VE on. */
static void hook_by_ve(void)
{
	u64 handler = (u64)bench_ve_handler;
	struct idt_gate *g = &guest_idt[VEC_VE];
	g->offset_low = (u16)handler;
	g->offset_mid = (u16)(handler >> 16);
	g->offset_high = (u32)(handler >> 32);
	hypercall(HC_BENCH_HOOK, BENCH_HOOK_BY_VE, 0);
}

static void hook_by_exits(void) { hypercall(HC_BENCH_HOOK, BENCH_HOOK_BY_EXITS, 0); }
static void hook_off(void) { hypercall(HC_BENCH_HOOK, BENCH_HOOK_OFF, 0); }
#endif

static const struct row rows[] = {
	{ "tsc", tsc_only, NULL, NULL, NULL, 0 },
	{ "floor", cpuid_once, NULL, floor_on, floor_off, 0 },
	{ "cpuid", cpuid_once, cpuid_signature, NULL, NULL, 0 },
	{ "vmcall", vmcall_once, vmcall_echo, NULL, NULL, 0 },
#ifdef BENCH_LAB02
	{ "rdmsr", tsc_aux_once, tsc_aux_value, tsc_aux_write, NULL, 0 },
	{ "rdmsr-no-exit", sysenter_cs_once, NULL, NULL, NULL, 0 },
	{ "io", in_once, in_count, NULL, NULL, 0 },
	{ "hlt", hlt_once, NULL, interrupts_on, interrupts_off, 0 },
#endif
#ifdef BENCH_LAB03
	{ "mov-cr0", cr0_once, cr0_ts, NULL, cr0_ts_clear, 0 },
#endif
#ifdef BENCH_LAB07
	{ "mmio", mmio_once, mmio_count, NULL, NULL, 0 },
#endif
#ifdef BENCH_LAB10
	{ "hook-ve", hook_once, hook_value, hook_by_ve, hook_off, BENCH_HOOK_ITERATIONS },
	{ "hook-exits", hook_once, hook_value, hook_by_exits, hook_off, BENCH_HOOK_ITERATIONS },
#endif
};

static void report(const struct row *r, const char *what, u64 value)
{
	char key[64];
	snprintf(key, sizeof(key), "bench.%s.%s", r->name, what);
	guest_report(key, value);
}

/* Execution 0 warms up (first use of a path); executions 1..BENCH_ITERATIONS (or the row's
 * own count) are timed. */
static void run_row(const struct row *r)
{
	u64 total = 0, fewest = ~0UL, most = 0, wrong = 0, result;
	u64 iterations = r->iterations ? r->iterations : BENCH_ITERATIONS;
	if (r->before)
		r->before();
	for (u64 i = 0; i <= iterations; i++) {
		u64 t = r->once(i, &result);
		if (r->expected && result != r->expected(i))
			wrong++;
		if (i == 0)
			continue;
		total += t;
		fewest = t < fewest ? t : fewest;
		most = t > most ? t : most;
	}
	if (r->after)
		r->after();
	report(r, "n", iterations);
	report(r, "total", total);
	report(r, "min", fewest);
	report(r, "max", most);
	report(r, "wrong", wrong);
}

void bench_guest(u64 run_nonce)
{
	nonce = run_nonce;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		run_row(&rows[i]);
}
