/* Lab 01: the VMCS: make one current, then fill its controls, host state and guest state
 * (SDM Vol. 3C, chapter 25). */
#include "lab.h"
#include "lab01.h"

/* Allocate a VMCS, initialize it and make it the current VMCS. */
void vmcs_load(struct vcpu *v)
{
	/* BEGIN 01-5 unused: v
	 * SDM 25.2 and 25.11.3: a VMCS region is 4-KByte aligned and starts with the VMCS revision
	 * identifier (IA32_VMX_BASIC bits 30:0). VMCLEAR initializes a new region (launch state
	 * "clear"); VMPTRLD then makes it the current VMCS, the one VMREAD, VMWRITE and VMLAUNCH use.
	 * Do: allocate v->vmcs, write the revision identifier, VMCLEAR it, VMPTRLD it. Panic with a
	 * report if an instruction fails.
	 * Hint: the same shape as vmx_on(); vmclear() and vmptrld() are in vmx.h.
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
	 * SDM 25.6-25.8 and A.3-A.5: every control field has bits the CPU requires to be 1 and
	 * bits it requires to be 0, reported by its capability MSR. A 64-bit host needs the
	 * "host address-space size" VM-exit control; a 64-bit guest needs the "IA-32e mode
	 * guest" VM-entry control. Lab 01 wants no optional exit: CPUID exits unconditionally.
	 * Do: write the pin-based and primary processor-based VM-execution controls (nothing
	 * requested), the VM-exit controls and the VM-entry controls, each through
	 * vmx_adjust_controls(); also an exception bitmap of 0 and a CR3-target count of 0.
	 * Hint: MSR_IA32_VMX_PINBASED_CTLS, ..._PROCBASED_CTLS, ..._EXIT_CTLS, ..._ENTRY_CTLS;
	 * the field names are in vmcs.h.
	 */
	vmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls(0, MSR_IA32_VMX_PINBASED_CTLS, "pin-based controls"));
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls(0, MSR_IA32_VMX_PROCBASED_CTLS,
				       "primary processor-based controls"));
	vmcs_write(VM_EXIT_CONTROLS, vmx_adjust_controls(EXIT_HOST_ADDRESS_SPACE_SIZE,
							 MSR_IA32_VMX_EXIT_CTLS, "VM-exit controls"));
	vmcs_write(VM_ENTRY_CONTROLS, vmx_adjust_controls(ENTRY_IA32E_MODE_GUEST,
							  MSR_IA32_VMX_ENTRY_CTLS, "VM-entry controls"));
	vmcs_write(EXCEPTION_BITMAP, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	/* END 01-6 */
}

/* The state the processor loads on every VM exit: this hypervisor, as it runs now. */
void vmcs_setup_host(struct vcpu *v)
{
	(void)v;
	/* BEGIN 01-7
	 * SDM 25.5 and 27.2.2-27.2.4: the host-state area holds CR0, CR3, CR4, the selectors of
	 * CS, SS, DS, ES, FS, GS and TR (RPL and TI bits 0; CS and TR not 0), the bases of FS, GS,
	 * TR, GDTR and IDTR, and the IA32_SYSENTER_CS/ESP/EIP MSRs. HOST_RSP and HOST_RIP are
	 * written by the world switch (vmx_switch.S) before each entry.
	 * Do: copy the current values into the host-state fields.
	 * Hint: read_cr0(), read_cs(), read_tr(), read_gdtr(), rdmsr(MSR_IA32_FS_BASE), ... are in
	 * x86.h; the TSS is kernel_tss (kernel.h).
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
	 * SDM 25.4 and 27.3.1: the guest-state area holds CR0, CR3, CR4, DR7, RSP, RIP, RFLAGS,
	 * and for each of CS, SS, DS, ES, FS, GS, LDTR and TR a selector, base, limit and access
	 * rights (Table 25-2; bit 16 = unusable), GDTR and IDTR base and limit, and non-register
	 * state. The checks of 27.3.1 apply: CR0/CR4 obey the fixed bits (so CR4.VMXE is 1), a
	 * 64-bit guest's CS has L=1, TR must be a busy TSS, RFLAGS bit 1 is 1, the VMCS link
	 * pointer is all ones when unused.
	 * Do: give the guest the host's control registers and GDT (CS 0x18, data 0x10, TR 0x30),
	 * LDTR unusable, RIP = v->guest_entry, RSP = v->guest_stack, RFLAGS = 0x2, DR7 = 0x400,
	 * activity state active, no interruptibility blocking, VMCS link pointer ~0.
	 * Hint: vmcs_write_guest_segment() (vmx.h) writes a segment's four fields; AR_* are in
	 * vmx_controls.h.
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
