/*
 * VMCS component encodings (SDM Vol. 3C, Appendix B), grouped by width and area as the SDM
 * lists them. One list feeds both the enum and the name table used in error reports and dumps.
 */
#pragma once

#define VMCS_FIELDS(X)                                   \
	/* B.1.1 16-bit control fields */                \
	X(VIRTUAL_PROCESSOR_ID, 0x00000000)              \
	X(POSTED_INTERRUPT_NOTIFICATION_VECTOR, 0x00000002) \
	X(EPTP_INDEX, 0x00000004)                        \
	/* B.1.2 16-bit guest-state fields */            \
	X(GUEST_ES_SELECTOR, 0x00000800)                 \
	X(GUEST_CS_SELECTOR, 0x00000802)                 \
	X(GUEST_SS_SELECTOR, 0x00000804)                 \
	X(GUEST_DS_SELECTOR, 0x00000806)                 \
	X(GUEST_FS_SELECTOR, 0x00000808)                 \
	X(GUEST_GS_SELECTOR, 0x0000080a)                 \
	X(GUEST_LDTR_SELECTOR, 0x0000080c)               \
	X(GUEST_TR_SELECTOR, 0x0000080e)                 \
	X(GUEST_INTERRUPT_STATUS, 0x00000810)            \
	X(GUEST_PML_INDEX, 0x00000812)                   \
	/* B.1.3 16-bit host-state fields */             \
	X(HOST_ES_SELECTOR, 0x00000c00)                  \
	X(HOST_CS_SELECTOR, 0x00000c02)                  \
	X(HOST_SS_SELECTOR, 0x00000c04)                  \
	X(HOST_DS_SELECTOR, 0x00000c06)                  \
	X(HOST_FS_SELECTOR, 0x00000c08)                  \
	X(HOST_GS_SELECTOR, 0x00000c0a)                  \
	X(HOST_TR_SELECTOR, 0x00000c0c)                  \
	/* B.2.1 64-bit control fields */                \
	X(IO_BITMAP_A, 0x00002000)                       \
	X(IO_BITMAP_B, 0x00002002)                       \
	X(MSR_BITMAP, 0x00002004)                        \
	X(VM_EXIT_MSR_STORE_ADDRESS, 0x00002006)         \
	X(VM_EXIT_MSR_LOAD_ADDRESS, 0x00002008)          \
	X(VM_ENTRY_MSR_LOAD_ADDRESS, 0x0000200a)         \
	X(EXECUTIVE_VMCS_POINTER, 0x0000200c)            \
	X(PML_ADDRESS, 0x0000200e)                       \
	X(TSC_OFFSET, 0x00002010)                        \
	X(VIRTUAL_APIC_ADDRESS, 0x00002012)              \
	X(APIC_ACCESS_ADDRESS, 0x00002014)               \
	X(POSTED_INTERRUPT_DESCRIPTOR_ADDRESS, 0x00002016) \
	X(VM_FUNCTION_CONTROLS, 0x00002018)              \
	X(EPT_POINTER, 0x0000201a)                       \
	X(EOI_EXIT_BITMAP_0, 0x0000201c)                 \
	X(EOI_EXIT_BITMAP_1, 0x0000201e)                 \
	X(EOI_EXIT_BITMAP_2, 0x00002020)                 \
	X(EOI_EXIT_BITMAP_3, 0x00002022)                 \
	X(EPTP_LIST_ADDRESS, 0x00002024)                 \
	X(VMREAD_BITMAP_ADDRESS, 0x00002026)             \
	X(VMWRITE_BITMAP_ADDRESS, 0x00002028)            \
	X(VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS, 0x0000202a) \
	X(XSS_EXITING_BITMAP, 0x0000202c)                \
	X(TSC_MULTIPLIER, 0x00002032)                    \
	/* B.2.2 64-bit read-only data field */          \
	X(GUEST_PHYSICAL_ADDRESS, 0x00002400)            \
	/* B.2.3 64-bit guest-state fields */            \
	X(VMCS_LINK_POINTER, 0x00002800)                 \
	X(GUEST_IA32_DEBUGCTL, 0x00002802)               \
	X(GUEST_IA32_PAT, 0x00002804)                    \
	X(GUEST_IA32_EFER, 0x00002806)                   \
	X(GUEST_IA32_PERF_GLOBAL_CTRL, 0x00002808)       \
	X(GUEST_PDPTE0, 0x0000280a)                      \
	X(GUEST_PDPTE1, 0x0000280c)                      \
	X(GUEST_PDPTE2, 0x0000280e)                      \
	X(GUEST_PDPTE3, 0x00002810)                      \
	/* B.2.4 64-bit host-state fields */             \
	X(HOST_IA32_PAT, 0x00002c00)                     \
	X(HOST_IA32_EFER, 0x00002c02)                    \
	X(HOST_IA32_PERF_GLOBAL_CTRL, 0x00002c04)        \
	/* B.3.1 32-bit control fields */                \
	X(PIN_BASED_VM_EXECUTION_CONTROLS, 0x00004000)   \
	X(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0x00004002) \
	X(EXCEPTION_BITMAP, 0x00004004)                  \
	X(PAGE_FAULT_ERROR_CODE_MASK, 0x00004006)        \
	X(PAGE_FAULT_ERROR_CODE_MATCH, 0x00004008)       \
	X(CR3_TARGET_COUNT, 0x0000400a)                  \
	X(VM_EXIT_CONTROLS, 0x0000400c)                  \
	X(VM_EXIT_MSR_STORE_COUNT, 0x0000400e)           \
	X(VM_EXIT_MSR_LOAD_COUNT, 0x00004010)            \
	X(VM_ENTRY_CONTROLS, 0x00004012)                 \
	X(VM_ENTRY_MSR_LOAD_COUNT, 0x00004014)           \
	X(VM_ENTRY_INTERRUPTION_INFORMATION, 0x00004016) \
	X(VM_ENTRY_EXCEPTION_ERROR_CODE, 0x00004018)     \
	X(VM_ENTRY_INSTRUCTION_LENGTH, 0x0000401a)       \
	X(TPR_THRESHOLD, 0x0000401c)                     \
	X(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0x0000401e) \
	X(PLE_GAP, 0x00004020)                           \
	X(PLE_WINDOW, 0x00004022)                        \
	/* B.3.2 32-bit read-only data fields */         \
	X(VM_INSTRUCTION_ERROR, 0x00004400)              \
	X(EXIT_REASON, 0x00004402)                       \
	X(VM_EXIT_INTERRUPTION_INFORMATION, 0x00004404)  \
	X(VM_EXIT_INTERRUPTION_ERROR_CODE, 0x00004406)   \
	X(IDT_VECTORING_INFORMATION, 0x00004408)         \
	X(IDT_VECTORING_ERROR_CODE, 0x0000440a)          \
	X(VM_EXIT_INSTRUCTION_LENGTH, 0x0000440c)        \
	X(VM_EXIT_INSTRUCTION_INFORMATION, 0x0000440e)   \
	/* B.3.3 32-bit guest-state fields */            \
	X(GUEST_ES_LIMIT, 0x00004800)                    \
	X(GUEST_CS_LIMIT, 0x00004802)                    \
	X(GUEST_SS_LIMIT, 0x00004804)                    \
	X(GUEST_DS_LIMIT, 0x00004806)                    \
	X(GUEST_FS_LIMIT, 0x00004808)                    \
	X(GUEST_GS_LIMIT, 0x0000480a)                    \
	X(GUEST_LDTR_LIMIT, 0x0000480c)                  \
	X(GUEST_TR_LIMIT, 0x0000480e)                    \
	X(GUEST_GDTR_LIMIT, 0x00004810)                  \
	X(GUEST_IDTR_LIMIT, 0x00004812)                  \
	X(GUEST_ES_ACCESS_RIGHTS, 0x00004814)            \
	X(GUEST_CS_ACCESS_RIGHTS, 0x00004816)            \
	X(GUEST_SS_ACCESS_RIGHTS, 0x00004818)            \
	X(GUEST_DS_ACCESS_RIGHTS, 0x0000481a)            \
	X(GUEST_FS_ACCESS_RIGHTS, 0x0000481c)            \
	X(GUEST_GS_ACCESS_RIGHTS, 0x0000481e)            \
	X(GUEST_LDTR_ACCESS_RIGHTS, 0x00004820)          \
	X(GUEST_TR_ACCESS_RIGHTS, 0x00004822)            \
	X(GUEST_INTERRUPTIBILITY_STATE, 0x00004824)      \
	X(GUEST_ACTIVITY_STATE, 0x00004826)              \
	X(GUEST_SMBASE, 0x00004828)                      \
	X(GUEST_IA32_SYSENTER_CS, 0x0000482a)            \
	X(VMX_PREEMPTION_TIMER_VALUE, 0x0000482e)        \
	/* B.3.4 32-bit host-state field */              \
	X(HOST_IA32_SYSENTER_CS, 0x00004c00)             \
	/* B.4.1 natural-width control fields */         \
	X(CR0_GUEST_HOST_MASK, 0x00006000)               \
	X(CR4_GUEST_HOST_MASK, 0x00006002)               \
	X(CR0_READ_SHADOW, 0x00006004)                   \
	X(CR4_READ_SHADOW, 0x00006006)                   \
	X(CR3_TARGET_VALUE0, 0x00006008)                 \
	X(CR3_TARGET_VALUE1, 0x0000600a)                 \
	X(CR3_TARGET_VALUE2, 0x0000600c)                 \
	X(CR3_TARGET_VALUE3, 0x0000600e)                 \
	/* B.4.2 natural-width read-only data fields */  \
	X(EXIT_QUALIFICATION, 0x00006400)                \
	X(IO_RCX, 0x00006402)                            \
	X(IO_RSI, 0x00006404)                            \
	X(IO_RDI, 0x00006406)                            \
	X(IO_RIP, 0x00006408)                            \
	X(GUEST_LINEAR_ADDRESS, 0x0000640a)              \
	/* B.4.3 natural-width guest-state fields */     \
	X(GUEST_CR0, 0x00006800)                         \
	X(GUEST_CR3, 0x00006802)                         \
	X(GUEST_CR4, 0x00006804)                         \
	X(GUEST_ES_BASE, 0x00006806)                     \
	X(GUEST_CS_BASE, 0x00006808)                     \
	X(GUEST_SS_BASE, 0x0000680a)                     \
	X(GUEST_DS_BASE, 0x0000680c)                     \
	X(GUEST_FS_BASE, 0x0000680e)                     \
	X(GUEST_GS_BASE, 0x00006810)                     \
	X(GUEST_LDTR_BASE, 0x00006812)                   \
	X(GUEST_TR_BASE, 0x00006814)                     \
	X(GUEST_GDTR_BASE, 0x00006816)                   \
	X(GUEST_IDTR_BASE, 0x00006818)                   \
	X(GUEST_DR7, 0x0000681a)                         \
	X(GUEST_RSP, 0x0000681c)                         \
	X(GUEST_RIP, 0x0000681e)                         \
	X(GUEST_RFLAGS, 0x00006820)                      \
	X(GUEST_PENDING_DEBUG_EXCEPTIONS, 0x00006822)    \
	X(GUEST_IA32_SYSENTER_ESP, 0x00006824)           \
	X(GUEST_IA32_SYSENTER_EIP, 0x00006826)           \
	/* B.4.4 natural-width host-state fields */      \
	X(HOST_CR0, 0x00006c00)                          \
	X(HOST_CR3, 0x00006c02)                          \
	X(HOST_CR4, 0x00006c04)                          \
	X(HOST_FS_BASE, 0x00006c06)                      \
	X(HOST_GS_BASE, 0x00006c08)                      \
	X(HOST_TR_BASE, 0x00006c0a)                      \
	X(HOST_GDTR_BASE, 0x00006c0c)                    \
	X(HOST_IDTR_BASE, 0x00006c0e)                    \
	X(HOST_IA32_SYSENTER_ESP, 0x00006c10)            \
	X(HOST_IA32_SYSENTER_EIP, 0x00006c12)            \
	X(HOST_RSP, 0x00006c14)                          \
	X(HOST_RIP, 0x00006c16)

#ifndef __ASSEMBLER__
enum vmcs_field {
#define VMCS_ENUM_ENTRY(name, encoding) name = encoding,
	VMCS_FIELDS(VMCS_ENUM_ENTRY)
#undef VMCS_ENUM_ENTRY
};

/* The field's SDM-derived name, or NULL for an encoding this list does not know. */
const char *vmcs_field_name(unsigned long encoding);
#else
#define HOST_RSP 0x00006c14
#define HOST_RIP 0x00006c16
#endif
