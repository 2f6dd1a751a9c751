/* Lab 01 checks: the bring-up stages, the first VM exit, CPUID emulation and VMXOFF. */
#include "check.h"
#include "lab.h"
#include "lab01.h"

CHECK(01, detect, "vmx-detect", .last_stage = STAGE_DETECT);
CHECK(01, fixed_bits, "fixed-bits", .last_stage = STAGE_FIXED_BITS);
CHECK(01, vmxon, "vmxon", .last_stage = STAGE_VMXON);
CHECK(01, vmcs, "vmcs-load", .last_stage = STAGE_VMCS);

/* The guest's first instruction that exits is VMCALL(HC_DONE, value derived from the nonce):
 * the value can only reach the grader if VM entry worked and the exit came back to the host. */
static void guest_first_exit(u64 nonce)
{
	hypercall(HC_DONE, nonce ^ 0xfeedface12345678UL, 0);
}
CHECK(01, first_exit, "first-exit", .last_stage = STAGE_RUN, .guest = guest_first_exit);

/* CPUID with 0 to 3 redundant DS prefixes: 2 to 5 bytes long, so only the VM-exit
 * instruction length moves RIP past each one. */
static struct cpuid_regs cpuid_encoded(u32 leaf, unsigned prefixes)
{
	struct cpuid_regs r;
#define CPUID_WITH(prefix)                                                      \
	__asm__ volatile(prefix "cpuid"                                        \
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)  \
			 : "a"(leaf), "c"(0))
	switch (prefixes) {
	case 0: CPUID_WITH(""); break;
	case 1: CPUID_WITH(".byte 0x3e\n\t"); break;
	case 2: CPUID_WITH(".byte 0x3e, 0x3e\n\t"); break;
	default: CPUID_WITH(".byte 0x3e, 0x3e, 0x3e\n\t"); break;
	}
#undef CPUID_WITH
	return r;
}

static u64 rotl(u64 x, unsigned n) { return (x << n) | (x >> (64 - n)); }

static void guest_cpuid(u64 nonce)
{
	struct cpuid_regs hv = cpuid(HV_CPUID_LEAF, 0), one = cpuid(1, 0), zero = cpuid(0, 0);
	guest_report("cpuid.40000000.eax", hv.eax);
	guest_report("cpuid.40000000.ebx", hv.ebx);
	guest_report("cpuid.40000000.ecx", hv.ecx);
	guest_report("cpuid.40000000.edx", hv.edx);
	guest_report("cpuid.1.ecx", one.ecx);
	guest_report("cpuid.0.ebx", zero.ebx);

	unsigned rounds = 4 + nonce % 5;
	u64 digest = nonce;
	for (unsigned i = 0; i < rounds; i++) {
		struct cpuid_regs r = cpuid_encoded(HV_CPUID_LEAF, (nonce >> (2 * i)) & 3);
		digest = rotl(digest, 13) ^ (r.ebx | (u64)r.edx << 32) ^ r.ecx ^ r.eax ^ i;
	}
	guest_report("cpuid.rounds", rounds);
	guest_report("cpuid.digest", digest);
}

/* What the real CPU says, read in VMX root operation, for the grader to compare. */
static void verify_cpuid(struct vcpu *v)
{
	(void)v;
	report_fact("host.cpuid.1.ecx", "0x%x", cpuid(1, 0).ecx);
	report_fact("host.cpuid.0.ebx", "0x%x", cpuid(0, 0).ebx);
}
CHECK(01, cpuid_exit, "cpuid-exit", .last_stage = STAGE_RUN, .guest = guest_cpuid,
      .verify = verify_cpuid);
CHECK(01, vmxoff, "vmxoff", .last_stage = STAGE_VMXOFF, .guest = guest_cpuid,
      .verify = verify_cpuid, .demo = true);
