/* Basic exit reasons (SDM Vol. 3C, Appendix C) and the exit-information layouts (SDM 28.2). */
#pragma once
#include "types.h"

#define EXIT_REASONS(X) \
	X(EXCEPTION_OR_NMI, 0) \
	X(EXTERNAL_INTERRUPT, 1) \
	X(TRIPLE_FAULT, 2) \
	X(INIT_SIGNAL, 3) \
	X(START_UP_IPI, 4) \
	X(IO_SMI, 5) \
	X(OTHER_SMI, 6) \
	X(INTERRUPT_WINDOW, 7) \
	X(NMI_WINDOW, 8) \
	X(TASK_SWITCH, 9) \
	X(CPUID, 10) \
	X(GETSEC, 11) \
	X(HLT, 12) \
	X(INVD, 13) \
	X(INVLPG, 14) \
	X(RDPMC, 15) \
	X(RDTSC, 16) \
	X(RSM, 17) \
	X(VMCALL, 18) \
	X(VMCLEAR, 19) \
	X(VMLAUNCH, 20) \
	X(VMPTRLD, 21) \
	X(VMPTRST, 22) \
	X(VMREAD, 23) \
	X(VMRESUME, 24) \
	X(VMWRITE, 25) \
	X(VMXOFF, 26) \
	X(VMXON, 27) \
	X(CONTROL_REGISTER_ACCESS, 28) \
	X(MOV_DR, 29) \
	X(IO_INSTRUCTION, 30) \
	X(RDMSR, 31) \
	X(WRMSR, 32) \
	X(VM_ENTRY_FAILURE_INVALID_GUEST_STATE, 33) \
	X(VM_ENTRY_FAILURE_MSR_LOADING, 34) \
	X(MWAIT, 36) \
	X(MONITOR_TRAP_FLAG, 37) \
	X(MONITOR, 39) \
	X(PAUSE, 40) \
	X(VM_ENTRY_FAILURE_MACHINE_CHECK_EVENT, 41) \
	X(TPR_BELOW_THRESHOLD, 43) \
	X(APIC_ACCESS, 44) \
	X(VIRTUALIZED_EOI, 45) \
	X(ACCESS_TO_GDTR_OR_IDTR, 46) \
	X(ACCESS_TO_LDTR_OR_TR, 47) \
	X(EPT_VIOLATION, 48) \
	X(EPT_MISCONFIGURATION, 49) \
	X(INVEPT, 50) \
	X(RDTSCP, 51) \
	X(VMX_PREEMPTION_TIMER_EXPIRED, 52) \
	X(INVVPID, 53) \
	X(WBINVD_OR_WBNOINVD, 54) \
	X(XSETBV, 55) \
	X(APIC_WRITE, 56) \
	X(RDRAND, 57) \
	X(INVPCID, 58) \
	X(VMFUNC, 59) \
	X(ENCLS, 60) \
	X(RDSEED, 61) \
	X(PAGE_MODIFICATION_LOG_FULL, 62) \
	X(XSAVES, 63) \
	X(XRSTORS, 64) \
	X(PCONFIG, 65) \
	X(SPP_RELATED_EVENT, 66) \
	X(UMWAIT, 67) \
	X(TPAUSE, 68) \
	X(LOADIWKEY, 69) \
	X(ENCLV, 70) \
	X(ENQCMD_PASID_TRANSLATION_FAILURE, 72) \
	X(ENQCMDS_PASID_TRANSLATION_FAILURE, 73) \
	X(BUS_LOCK, 74) \
	X(INSTRUCTION_TIMEOUT, 75)

enum exit_reason {
#define EXIT_REASON_ENUM_ENTRY(name, number) EXIT_REASON_##name = number,
	EXIT_REASONS(EXIT_REASON_ENUM_ENTRY)
#undef EXIT_REASON_ENUM_ENTRY
		EXIT_REASON_TABLE_SIZE = 128, /* room for every 16-bit basic reason the SDM may add */
};

/* 28.2.1 Exit reason field */
#define EXIT_REASON_BASIC(r) ((r)&0xffff) /* 15:0 */
#define EXIT_REASON_ENCLAVE_MODE BIT(27)
#define EXIT_REASON_PENDING_MTF BIT(28)
#define EXIT_REASON_FROM_VMX_ROOT BIT(29)
#define EXIT_REASON_VM_ENTRY_FAILURE BIT(31)

/* 28.2.2 VM-exit / 25.8.3 VM-entry interruption information (also IDT-vectoring information) */
#define INTR_INFO_VECTOR(i) ((i)&0xff)     /* 7:0 */
#define INTR_INFO_TYPE(i) (((i) >> 8) & 7) /* 10:8 */
#define INTR_INFO_TYPE_SHIFT 8
#define INTR_INFO_DELIVER_ERROR_CODE BIT(11)
#define INTR_INFO_NMI_UNBLOCKING_DUE_TO_IRET BIT(12)
#define INTR_INFO_VALID BIT(31)

enum interruption_type {
	INTR_TYPE_EXTERNAL_INTERRUPT = 0,
	INTR_TYPE_NMI = 2,
	INTR_TYPE_HARDWARE_EXCEPTION = 3,
	INTR_TYPE_SOFTWARE_INTERRUPT = 4,
	INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION = 5,
	INTR_TYPE_SOFTWARE_EXCEPTION = 6,
	INTR_TYPE_OTHER_EVENT = 7,
};

/* The basic exit reason's name, e.g. "CPUID", or NULL when the SDM defines none. */
const char *exit_reason_name(unsigned reason);

/* General-purpose registers as exit qualifications and instruction information number them
 * (SDM Tables 28-3, 28-4 and 28-8). */
enum gpr {
	GPR_RAX,
	GPR_RCX,
	GPR_RDX,
	GPR_RBX,
	GPR_RSP,
	GPR_RBP,
	GPR_RSI,
	GPR_RDI,
	GPR_R8,
	GPR_R9,
	GPR_R10,
	GPR_R11,
	GPR_R12,
	GPR_R13,
	GPR_R14,
	GPR_R15,
};

/* Interruption information (SDM 25.8.3, 28.2.2, 28.2.4): the layout an injection writes. */
static inline u32 intr_info(u8 vector, enum interruption_type type, bool error_code)
{
	return INTR_INFO_VALID | (u32)type << INTR_INFO_TYPE_SHIFT | vector |
	       (error_code ? INTR_INFO_DELIVER_ERROR_CODE : 0);
}

/* Table 28-2: exit qualification of a task switch. */
enum task_switch_source {
	TASK_SWITCH_CALL = 0,
	TASK_SWITCH_IRET = 1,
	TASK_SWITCH_JMP = 2,
	TASK_SWITCH_IDT_GATE = 3,
};
static inline u16 ts_qual_selector(u64 q) { return (u16)q; } /* 15:0 */
static inline enum task_switch_source ts_qual_source(u64 q)
{
	return (enum task_switch_source)((q >> 30) & 3);
} /* 31:30 */

/* Table 28-3: exit qualification of a control-register access. */
enum cr_access_type {
	CR_ACCESS_MOV_TO_CR = 0,
	CR_ACCESS_MOV_FROM_CR = 1,
	CR_ACCESS_CLTS = 2,
	CR_ACCESS_LMSW = 3,
};
static inline unsigned cr_qual_cr(u64 q) { return q & 0xf; } /* 3:0 */
static inline enum cr_access_type cr_qual_access_type(u64 q)
{
	return (enum cr_access_type)((q >> 4) & 3);
} /* 5:4 */
static inline bool cr_qual_lmsw_memory_operand(u64 q) { return q & BIT(6); }          /* 6 */
static inline enum gpr cr_qual_register(u64 q) { return (enum gpr)((q >> 8) & 0xf); } /* 11:8 */
static inline u16 cr_qual_lmsw_source(u64 q) { return (u16)(q >> 16); }               /* 31:16 */

/* Table 28-4: exit qualification of a MOV DR. */
static inline unsigned dr_qual_dr(u64 q) { return q & 7; }       /* 2:0 */
static inline bool dr_qual_from_dr(u64 q) { return q & BIT(4); } /* 4: 0 = MOV to DR, 1 = MOV from DR */
static inline enum gpr dr_qual_register(u64 q) { return (enum gpr)((q >> 8) & 0xf); } /* 11:8 */

/* Table 28-5: exit qualification of an I/O instruction. */
static inline unsigned io_qual_size(u64 q) { return (unsigned)(q & 7) + 1; } /* 2:0 holds size - 1 */
static inline bool io_qual_in(u64 q) { return q & BIT(3); }                  /* 3: 1 = IN, 0 = OUT */
static inline bool io_qual_string(u64 q) { return q & BIT(4); }              /* 4 */
static inline bool io_qual_rep(u64 q) { return q & BIT(5); }                 /* 5 */
static inline bool io_qual_immediate(u64 q) { return q & BIT(6); } /* 6: 1 = port in the instruction */
static inline u16 io_qual_port(u64 q) { return (u16)(q >> 16); }   /* 31:16 */

/* Table 28-8: VM-exit instruction information for INS and OUTS. */
enum address_size { ADDRESS_SIZE_16 = 0, ADDRESS_SIZE_32 = 1, ADDRESS_SIZE_64 = 2 };
static inline enum address_size ins_outs_info_address_size(u64 i)
{
	return (enum address_size)((i >> 7) & 7);
} /* 9:7 */
static inline unsigned ins_outs_info_segment(u64 i) { return (i >> 15) & 7; } /* 17:15: 0 ES ... 5 GS */

/* SDM 25.4.1: a segment's access rights; the DPL of SS is the CPL. */
static inline unsigned ar_dpl(u32 ar) { return (ar >> 5) & 3; } /* 6:5 */
/* Segment registers as instruction information numbers them (SDM Table 28-8, bits 17:15). */
enum segment_register { SEGREG_ES, SEGREG_CS, SEGREG_SS, SEGREG_DS, SEGREG_FS, SEGREG_GS };

/* Table 28-7: exit qualification of an EPT violation. Bits 5:3 are the access rights of the
 * translation (the AND over the EPT paging-structure entries walked; 0 for a not-present one). */
enum ept_access { EPT_ACCESS_READ = 1, EPT_ACCESS_WRITE = 2, EPT_ACCESS_EXECUTE = 4 };
static inline bool ept_qual_read(u64 q) { return q & BIT(0); }          /* 0: data read */
static inline bool ept_qual_write(u64 q) { return q & BIT(1); }         /* 1: data write */
static inline bool ept_qual_fetch(u64 q) { return q & BIT(2); }         /* 2: instruction fetch */
static inline unsigned ept_qual_allowed(u64 q) { return (q >> 3) & 7; } /* 5:3: R (3), W (4), X (5) allowed */
static inline bool ept_qual_linear_valid(u64 q) { return q & BIT(7); }  /* 7: GUEST_LINEAR_ADDRESS is valid */
static inline bool ept_qual_final_translation(u64 q)
{
	return q & BIT(8);
} /* 8 (if 7): 1 = the access, 0 = a guest page walk */
static inline bool ept_qual_nmi_unblocking(u64 q) { return q & BIT(12); } /* 12: NMI unblocking due to IRET */

/* Table 28-6: exit qualification of an APIC-access exit (for a linear access or one during
 * event delivery); an APIC-write exit's qualification is the offset alone (SDM 30.4.3.3). */
enum apic_access_type {
	APIC_ACCESS_LINEAR_READ = 0,
	APIC_ACCESS_LINEAR_WRITE = 1,
	APIC_ACCESS_LINEAR_FETCH = 2,
	APIC_ACCESS_EVENT_DELIVERY = 3,
	APIC_ACCESS_PHYSICAL_EVENT = 10,
	APIC_ACCESS_PHYSICAL = 15,
};
static inline unsigned apic_access_qual_offset(u64 q) { return q & 0xfff; } /* 11:0 */
static inline enum apic_access_type apic_access_qual_type(u64 q)
{
	return (enum apic_access_type)((q >> 12) & 0xf);
} /* 15:12 */
