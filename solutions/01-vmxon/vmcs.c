/* Lab 01: the VMCS: make one current, then fill its controls, host state and guest state
 * (SDM Vol. 3C, chapter 25). */
#include "lab.h"
#include "lab01.h"

/* Allocate a VMCS, initialize it and make it the current VMCS. */
void vmcs_load(struct vcpu *v)
{
	/* BEGIN 01-5 unused: v
	 * Achieve: v->vmcs is a new VMCS whose launch state is clear and which is the current VMCS;
	 * any VMX instruction that does not succeed is reported and stops the hypervisor.
	 * SDM 25.11.3: "VMCLEAR should be executed for a VMCS before it is used for VM entry for
	 * the first time."
	 * Hints: docs/labs/01-vmxon.md, step 01-5.
	 */
	v->vmcs = page_alloc();
	*(u32 *)v->vmcs = (u32)(rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_REVISION_ID_MASK);
	enum vmx_status s = vmclear(virt_to_phys(v->vmcs));
	if (s != VMX_SUCCEED) {
		vmx_report_failure("VMCLEAR", s);
		panic("vmcs_load: VMCLEAR failed");
	}
	s = vmptrld(virt_to_phys(v->vmcs));
	if (s != VMX_SUCCEED) {
		vmx_report_failure("VMPTRLD", s);
		panic("vmcs_load: VMPTRLD failed");
	}
	/* END 01-5 */
}

/* The VM-execution, VM-exit and VM-entry controls for a 64-bit guest. */
void vmcs_setup_controls(struct vcpu *v)
{
	(void)v;
	/* BEGIN 01-6
	 * Achieve: the four control fields describe a 64-bit host and a 64-bit guest, request no
	 * optional VM exit, and hold only settings this processor allows; no guest exception causes
	 * a VM exit, and no CR3-target value is in use.
	 * SDM A.3.1: "VM entry allows control X to be 0 if bit X in the MSR is cleared to 0; if bit
	 * X in the MSR is set to 1, VM entry fails if control X is 0."
	 * Hints: docs/labs/01-vmxon.md, step 01-6.
	 */
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls(0, MSR_IA32_VMX_PINBASED_CTLS, "pin-based controls"));
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls(0, MSR_IA32_VMX_PROCBASED_CTLS, "primary processor-based controls"));
	vmcs_write(VM_EXIT_CONTROLS, vmx_adjust_controls(EXIT_HOST_ADDRESS_SPACE_SIZE, MSR_IA32_VMX_EXIT_CTLS,
							 "VM-exit controls"));
	vmcs_write(VM_ENTRY_CONTROLS,
		   vmx_adjust_controls(ENTRY_IA32E_MODE_GUEST, MSR_IA32_VMX_ENTRY_CTLS, "VM-entry controls"));
	vmcs_write(EXCEPTION_BITMAP, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	/* END 01-6 */
}

/* The state the processor loads on every VM exit: this hypervisor, as it runs now. */
void vmcs_setup_host(struct vcpu *v)
{
	(void)v;
	/* BEGIN 01-7
	 * Achieve: every VM exit puts the hypervisor back into exactly the state it runs in now:
	 * control registers, segment selectors, the bases of FS, GS, TR, GDTR and IDTR, and the
	 * SYSENTER MSRs. (HOST_RSP and HOST_RIP belong to the world switch, vmx_switch.S.)
	 * SDM 25.5: "processor state is loaded from these fields on every VM exit"
	 * Hints: docs/labs/01-vmxon.md, step 01-7.
	 */
	vmcs_write(HOST_CR0, read_cr0());
	vmcs_write(HOST_CR3, read_cr3());
	vmcs_write(HOST_CR4, read_cr4());
	vmcs_write(HOST_CS_SELECTOR, read_cs());
	vmcs_write(HOST_SS_SELECTOR, read_ss());
	vmcs_write(HOST_DS_SELECTOR, read_ds());
	vmcs_write(HOST_ES_SELECTOR, read_es());
	vmcs_write(HOST_FS_SELECTOR, read_fs());
	vmcs_write(HOST_GS_SELECTOR, read_gs());
	vmcs_write(HOST_TR_SELECTOR, read_tr());
	vmcs_write(HOST_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
	vmcs_write(HOST_GS_BASE, rdmsr(MSR_IA32_GS_BASE));
	vmcs_write(HOST_TR_BASE, (u64)kernel_tss);
	vmcs_write(HOST_GDTR_BASE, read_gdtr().base);
	vmcs_write(HOST_IDTR_BASE, read_idtr().base);
	vmcs_write(HOST_IA32_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
	vmcs_write(HOST_IA32_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
	vmcs_write(HOST_IA32_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
	/* END 01-7 */
}

/* The state VM entry loads: a 64-bit guest at v->guest_entry sharing the host's page tables. */
void vmcs_setup_guest(struct vcpu *v)
{
	/* BEGIN 01-8 unused: v
	 * Achieve: VM entry loads a 64-bit guest at CPL 0 that starts at v->guest_entry on the
	 * stack v->guest_stack, shares the host's control registers, GDT segments, TSS and IDT, has
	 * interrupts disabled, and finds no field in a state the entry checks reject.
	 * SDM 25.4: "VM entries load processor state from these fields and VM exits store processor
	 * state into these fields."
	 * Hints: docs/labs/01-vmxon.md, step 01-8.
	 */
	const u32 code64 = AR_TYPE(SEG_TYPE_CODE_RX_ACCESSED) | AR_S | AR_P | AR_L | AR_G;
	const u32 data = AR_TYPE(SEG_TYPE_DATA_RW_ACCESSED) | AR_S | AR_P | AR_DB | AR_G;
	const u32 tss = AR_TYPE(SEG_TYPE_TSS_BUSY_64) | AR_P;
	struct descriptor_table gdtr = read_gdtr(), idtr = read_idtr();

	vmcs_write(GUEST_CR0, read_cr0());
	vmcs_write(GUEST_CR3, read_cr3());
	vmcs_write(GUEST_CR4, read_cr4());
	vmcs_write(GUEST_DR7, 0x400);
	vmcs_write(GUEST_RSP, v->guest_stack);
	vmcs_write(GUEST_RIP, v->guest_entry);
	vmcs_write(GUEST_RFLAGS, RFLAGS_FIXED);
	vmcs_write_guest_segment(GUEST_CS_SELECTOR, SEL_KERNEL_CS64, 0, 0xffffffff, code64);
	vmcs_write_guest_segment(GUEST_SS_SELECTOR, SEL_KERNEL_DS, 0, 0xffffffff, data);
	vmcs_write_guest_segment(GUEST_DS_SELECTOR, SEL_KERNEL_DS, 0, 0xffffffff, data);
	vmcs_write_guest_segment(GUEST_ES_SELECTOR, SEL_KERNEL_DS, 0, 0xffffffff, data);
	vmcs_write_guest_segment(GUEST_FS_SELECTOR, SEL_KERNEL_DS, 0, 0xffffffff, data);
	vmcs_write_guest_segment(GUEST_GS_SELECTOR, SEL_KERNEL_DS, 0, 0xffffffff, data);
	vmcs_write_guest_segment(GUEST_TR_SELECTOR, SEL_TSS, (u64)kernel_tss, 103, tss);
	vmcs_write_guest_segment(GUEST_LDTR_SELECTOR, 0, 0, 0, AR_UNUSABLE);
	vmcs_write(GUEST_GDTR_BASE, gdtr.base);
	vmcs_write(GUEST_GDTR_LIMIT, gdtr.limit);
	vmcs_write(GUEST_IDTR_BASE, idtr.base);
	vmcs_write(GUEST_IDTR_LIMIT, idtr.limit);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(GUEST_IA32_SYSENTER_CS, 0);
	vmcs_write(GUEST_IA32_SYSENTER_ESP, 0);
	vmcs_write(GUEST_IA32_SYSENTER_EIP, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
	vmcs_write(GUEST_INTERRUPTIBILITY_STATE, 0);
	vmcs_write(GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
	vmcs_write(VMCS_LINK_POINTER, ~0UL);
	/* END 01-8 */
}
