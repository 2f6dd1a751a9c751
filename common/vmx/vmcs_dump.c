/* A readable VMCS dump, grouped as SDM 25.3-25.9 groups the fields. */
#include "kernel.h"
#include "vmx.h"

static void dump_fields(const char *title, const enum vmcs_field *fields, size_t n)
{
	printf("  %s:\n", title);
	for (size_t i = 0; i < n; i++) {
		u64 value;
		if (vmread(fields[i], &value) == VMX_SUCCEED)
			printf("    %-48s 0x%lx\n", vmcs_field_name(fields[i]), value);
	}
}

#define DUMP(title, ...)                                                       \
	do {                                                                   \
		static const enum vmcs_field f[] = { __VA_ARGS__ };            \
		dump_fields(title, f, ARRAY_SIZE(f));                          \
	} while (0)

void vmcs_dump(void)
{
	u64 pa = ~0UL;
	if (vmptrst(&pa) != VMX_SUCCEED || pa == ~0UL) {
		printf("VMCS dump: no current VMCS\n");
		return;
	}
	printf("VMCS dump (current VMCS at 0x%lx):\n", pa);
	DUMP("VM-execution, VM-exit and VM-entry controls (SDM 25.6-25.8)",
	     PIN_BASED_VM_EXECUTION_CONTROLS, PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
	     SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, EXCEPTION_BITMAP, VM_EXIT_CONTROLS,
	     VM_ENTRY_CONTROLS, VM_ENTRY_INTERRUPTION_INFORMATION, CR0_GUEST_HOST_MASK,
	     CR0_READ_SHADOW, CR4_GUEST_HOST_MASK, CR4_READ_SHADOW, VMCS_LINK_POINTER);
	DUMP("guest-state area (SDM 25.4)",
	     GUEST_CR0, GUEST_CR3, GUEST_CR4, GUEST_DR7, GUEST_RSP, GUEST_RIP, GUEST_RFLAGS,
	     GUEST_CS_SELECTOR, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_ACCESS_RIGHTS,
	     GUEST_SS_SELECTOR, GUEST_SS_ACCESS_RIGHTS, GUEST_DS_SELECTOR, GUEST_DS_ACCESS_RIGHTS,
	     GUEST_ES_SELECTOR, GUEST_ES_ACCESS_RIGHTS, GUEST_FS_SELECTOR, GUEST_FS_ACCESS_RIGHTS,
	     GUEST_GS_SELECTOR, GUEST_GS_ACCESS_RIGHTS, GUEST_TR_SELECTOR, GUEST_TR_BASE,
	     GUEST_TR_LIMIT, GUEST_TR_ACCESS_RIGHTS, GUEST_LDTR_SELECTOR, GUEST_LDTR_ACCESS_RIGHTS,
	     GUEST_GDTR_BASE, GUEST_GDTR_LIMIT, GUEST_IDTR_BASE, GUEST_IDTR_LIMIT,
	     GUEST_IA32_EFER, GUEST_INTERRUPTIBILITY_STATE, GUEST_ACTIVITY_STATE);
	DUMP("host-state area (SDM 25.5)",
	     HOST_CR0, HOST_CR3, HOST_CR4, HOST_RSP, HOST_RIP, HOST_CS_SELECTOR, HOST_SS_SELECTOR,
	     HOST_DS_SELECTOR, HOST_ES_SELECTOR, HOST_FS_SELECTOR, HOST_GS_SELECTOR,
	     HOST_TR_SELECTOR, HOST_FS_BASE, HOST_GS_BASE, HOST_TR_BASE, HOST_GDTR_BASE,
	     HOST_IDTR_BASE, HOST_IA32_EFER);
	DUMP("VM-exit information (SDM 25.9)",
	     VM_INSTRUCTION_ERROR, EXIT_REASON, EXIT_QUALIFICATION, GUEST_LINEAR_ADDRESS,
	     GUEST_PHYSICAL_ADDRESS, VM_EXIT_INTERRUPTION_INFORMATION,
	     VM_EXIT_INTERRUPTION_ERROR_CODE, IDT_VECTORING_INFORMATION, IDT_VECTORING_ERROR_CODE,
	     VM_EXIT_INSTRUCTION_LENGTH, VM_EXIT_INSTRUCTION_INFORMATION);
}
