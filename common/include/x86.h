/* Architectural constants (SDM Vol. 3A ch. 2, 4) and special instructions as inline one-liners. */
#pragma once
#include "types.h"

/* CR0 (SDM 2.5) */
#define CR0_PE BIT(0)  /* Protection Enable */
#define CR0_MP BIT(1)  /* Monitor Coprocessor */
#define CR0_EM BIT(2)  /* Emulation */
#define CR0_TS BIT(3)  /* Task Switched */
#define CR0_ET BIT(4)  /* Extension Type */
#define CR0_NE BIT(5)  /* Numeric Error */
#define CR0_WP BIT(16) /* Write Protect */
#define CR0_AM BIT(18) /* Alignment Mask */
#define CR0_NW BIT(29) /* Not Write-through */
#define CR0_CD BIT(30) /* Cache Disable */
#define CR0_PG BIT(31) /* Paging */

/* CR4 (SDM 2.5) */
#define CR4_VME BIT(0)         /* Virtual-8086 Mode Extensions */
#define CR4_PVI BIT(1)         /* Protected-Mode Virtual Interrupts */
#define CR4_TSD BIT(2)         /* Time Stamp Disable */
#define CR4_DE BIT(3)          /* Debugging Extensions */
#define CR4_PSE BIT(4)         /* Page Size Extensions */
#define CR4_PAE BIT(5)         /* Physical Address Extension */
#define CR4_MCE BIT(6)         /* Machine-Check Enable */
#define CR4_PGE BIT(7)         /* Page Global Enable */
#define CR4_PCE BIT(8)         /* Performance-Monitoring Counter Enable */
#define CR4_OSFXSR BIT(9)      /* OS support for FXSAVE/FXRSTOR */
#define CR4_OSXMMEXCPT BIT(10) /* OS support for unmasked SIMD FP exceptions */
#define CR4_UMIP BIT(11)       /* User-Mode Instruction Prevention */
#define CR4_VMXE BIT(13)       /* VMX-Enable */
#define CR4_SMXE BIT(14)       /* SMX-Enable */
#define CR4_OSXSAVE BIT(18)    /* XSAVE and Processor Extended States Enable */

/* RFLAGS (SDM 2.3) */
/* SDM Vol. 3B 18.2.4: DR7's local breakpoint enables L0-L3 (bits 0, 2, 4, 6); a task switch clears them. */
#define DR7_LOCAL_ENABLES 0x55

#define RFLAGS_CF BIT(0)
#define RFLAGS_FIXED BIT(1) /* reserved, always 1 */
#define RFLAGS_PF BIT(2)
#define RFLAGS_ZF BIT(6)
#define RFLAGS_TF BIT(8)
#define RFLAGS_IF BIT(9)
#define RFLAGS_DF BIT(10)
#define RFLAGS_IOPL (3UL << 12)
#define RFLAGS_NT BIT(14)
#define RFLAGS_RF BIT(16)
#define RFLAGS_VM BIT(17)

/* IA32_EFER (SDM 2.2.1) */
#define EFER_SCE BIT(0)  /* SYSCALL Enable */
#define EFER_LME BIT(8)  /* IA-32e Mode Enable */
#define EFER_LMA BIT(10) /* IA-32e Mode Active */
#define EFER_NXE BIT(11) /* Execute Disable Bit Enable */

/* Model-specific registers (SDM Vol. 4) */
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_DEBUGCTL 0x1d9
#define MSR_IA32_PAT 0x277
#define MSR_IA32_VMX_BASIC 0x480
#define MSR_IA32_VMX_PINBASED_CTLS 0x481
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482
#define MSR_IA32_VMX_EXIT_CTLS 0x483
#define MSR_IA32_VMX_ENTRY_CTLS 0x484
#define MSR_IA32_VMX_MISC 0x485
#define MSR_IA32_VMX_CR0_FIXED0 0x486
#define MSR_IA32_VMX_CR0_FIXED1 0x487
#define MSR_IA32_VMX_CR4_FIXED0 0x488
#define MSR_IA32_VMX_CR4_FIXED1 0x489
#define MSR_IA32_VMX_VMCS_ENUM 0x48a
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x490
#define MSR_IA32_VMX_VMFUNC 0x491
#define MSR_IA32_EFER 0xc0000080
#define MSR_IA32_FS_BASE 0xc0000100
#define MSR_IA32_GS_BASE 0xc0000101
#define MSR_IA32_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC_AUX 0xc0000103

/* IA32_FEATURE_CONTROL (SDM 24.7) */
#define FEATURE_CONTROL_LOCK BIT(0)
#define FEATURE_CONTROL_VMXON_INSIDE_SMX BIT(1)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX BIT(2)

/* CPUID.1:ECX feature bits */
#define CPUID_1_ECX_VMX BIT(5)
#define CPUID_1_ECX_HYPERVISOR BIT(31)

/* Exception vectors (SDM 7.3.1) */
enum {
	VEC_DE = 0,
	VEC_DB = 1,
	VEC_NMI = 2,
	VEC_BP = 3,
	VEC_OF = 4,
	VEC_BR = 5,
	VEC_UD = 6,
	VEC_NM = 7,
	VEC_DF = 8,
	VEC_TS = 10,
	VEC_NP = 11,
	VEC_SS = 12,
	VEC_GP = 13,
	VEC_PF = 14,
	VEC_MF = 16,
	VEC_AC = 17,
	VEC_MC = 18,
	VEC_XM = 19,
	VEC_VE = 20,
	VEC_CP = 21,
};

struct cpuid_regs {
	u32 eax, ebx, ecx, edx;
};

/* A GDTR or IDTR image as SGDT/SIDT store it. */
struct descriptor_table {
	u16 limit;
	u64 base;
} __packed;

static inline struct cpuid_regs cpuid(u32 leaf, u32 subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 value)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)value), "d"((u32)(value >> 32)));
}

#define DEFINE_CR_ACCESSORS(n) \
	static inline u64 read_cr##n(void) \
	{ \
		u64 v; \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); \
		return v; \
	} \
	static inline void write_cr##n(u64 v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR_ACCESSORS(0)
DEFINE_CR_ACCESSORS(2)
DEFINE_CR_ACCESSORS(3)
DEFINE_CR_ACCESSORS(4)
DEFINE_CR_ACCESSORS(8)

static inline u64 read_dr7(void)
{
	u64 v;
	__asm__ volatile("mov %%dr7, %0" : "=r"(v));
	return v;
}

static inline u64 read_rflags(void)
{
	u64 v;
	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}

#define DEFINE_SEG_READER(seg) \
	static inline u16 read_##seg(void) \
	{ \
		u16 v; \
		__asm__ volatile("mov %%" #seg ", %0" : "=r"(v)); \
		return v; \
	}
DEFINE_SEG_READER(cs)
DEFINE_SEG_READER(ss)
DEFINE_SEG_READER(ds)
DEFINE_SEG_READER(es)
DEFINE_SEG_READER(fs)
DEFINE_SEG_READER(gs)

static inline u16 read_tr(void)
{
	u16 v;
	__asm__ volatile("str %0" : "=r"(v));
	return v;
}

static inline u16 read_ldtr(void)
{
	u16 v;
	__asm__ volatile("sldt %0" : "=r"(v));
	return v;
}

static inline struct descriptor_table read_gdtr(void)
{
	struct descriptor_table d;
	__asm__ volatile("sgdt %0" : "=m"(d));
	return d;
}

static inline struct descriptor_table read_idtr(void)
{
	struct descriptor_table d;
	__asm__ volatile("sidt %0" : "=m"(d));
	return d;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* XCR0 (SDM Vol. 1, 13.3) */
#define XCR0_X87 BIT(0)
#define XCR0_SSE BIT(1)
#define XCR0_AVX BIT(2)
#define XCR0_AVX512 (BIT(5) | BIT(6) | BIT(7)) /* opmask, ZMM_Hi256, Hi16_ZMM: all or none */

static inline u64 xgetbv(u32 xcr)
{
	u32 lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
	return ((u64)hi << 32) | lo;
}

static inline void xsetbv(u32 xcr, u64 value)
{
	__asm__ volatile("xsetbv" : : "c"(xcr), "a"((u32)value), "d"((u32)(value >> 32)));
}

static inline void invlpg(u64 linear_address)
{
	__asm__ volatile("invlpg (%0)" : : "r"(linear_address) : "memory");
}

static inline void wbinvd(void) { __asm__ volatile("wbinvd" : : : "memory"); }

/* DR0-DR3 and DR6 by number (DR7 of a guest lives in the VMCS). */
static inline u64 read_dr(unsigned n)
{
	u64 v = 0;
	switch (n) {
	case 0:
		__asm__ volatile("mov %%dr0, %0" : "=r"(v));
		break;
	case 1:
		__asm__ volatile("mov %%dr1, %0" : "=r"(v));
		break;
	case 2:
		__asm__ volatile("mov %%dr2, %0" : "=r"(v));
		break;
	case 3:
		__asm__ volatile("mov %%dr3, %0" : "=r"(v));
		break;
	case 6:
		__asm__ volatile("mov %%dr6, %0" : "=r"(v));
		break;
	case 7:
		__asm__ volatile("mov %%dr7, %0" : "=r"(v));
		break;
	}
	return v;
}

static inline void write_dr(unsigned n, u64 v)
{
	switch (n) {
	case 0:
		__asm__ volatile("mov %0, %%dr0" : : "r"(v));
		break;
	case 1:
		__asm__ volatile("mov %0, %%dr1" : : "r"(v));
		break;
	case 2:
		__asm__ volatile("mov %0, %%dr2" : : "r"(v));
		break;
	case 3:
		__asm__ volatile("mov %0, %%dr3" : : "r"(v));
		break;
	case 6:
		__asm__ volatile("mov %0, %%dr6" : : "r"(v));
		break;
	case 7:
		__asm__ volatile("mov %0, %%dr7" : : "r"(v));
		break;
	}
}

static inline void cli(void) { __asm__ volatile("cli"); }
static inline void hlt(void) { __asm__ volatile("hlt"); }

/* 4-level paging (SDM 5.5, Tables 5-15 to 5-20): the bits a page walk reads */
#define PTE_PRESENT BIT(0)
#define PTE_WRITABLE BIT(1)
#define PTE_USER BIT(2)
#define PTE_PAGE_SIZE BIT(7)                            /* PDPTE: 1-GiB page; PDE: 2-MiB page */
#define PTE_ADDRESS_MASK 0x000ffffffffff000UL           /* 51:12 (of a large page: 51:30 or 51:21) */
#define CPUID_80000008_EAX_MAXPHYADDR(eax) ((eax)&0xff) /* 7:0 */
