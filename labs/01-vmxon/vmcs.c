/* Lab 01: the VMCS: make one current, then fill its controls, host state and guest state
 * (SDM Vol. 3C, chapter 25). */
#include "lab.h"
#include "lab01.h"

/* Allocate a VMCS, initialize it and make it the current VMCS. */
void vmcs_load(struct vcpu *v)
{
	/* TODO 01-5
	 * SDM 25.2 and 25.11.3: a VMCS region is 4-KByte aligned and starts with the VMCS revision
	 * identifier (IA32_VMX_BASIC bits 30:0). VMCLEAR initializes a new region (launch state
	 * "clear"); VMPTRLD then makes it the current VMCS, the one VMREAD, VMWRITE and VMLAUNCH use.
	 * Do: allocate v->vmcs, write the revision identifier, VMCLEAR it, VMPTRLD it. Panic with a
	 * report if an instruction fails.
	 * Hint: the same shape as vmx_on(); vmclear() and vmptrld() are in vmx.h.
	 */
	(void)v;
	TODO("01-5");
}

/* The VM-execution, VM-exit and VM-entry controls for a 64-bit guest. */
void vmcs_setup_controls(struct vcpu *v)
{
	(void)v;
	/* TODO 01-6
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
	TODO("01-6");
}

/* The state the processor loads on every VM exit: this hypervisor, as it runs now. */
void vmcs_setup_host(struct vcpu *v)
{
	(void)v;
	/* TODO 01-7
	 * SDM 25.5 and 27.2.2-27.2.4: the host-state area holds CR0, CR3, CR4, the selectors of
	 * CS, SS, DS, ES, FS, GS and TR (RPL and TI bits 0; CS and TR not 0), the bases of FS, GS,
	 * TR, GDTR and IDTR, and the IA32_SYSENTER_CS/ESP/EIP MSRs. HOST_RSP and HOST_RIP are
	 * written by the world switch (vmx_switch.S) before each entry.
	 * Do: copy the current values into the host-state fields.
	 * Hint: read_cr0(), read_cs(), read_tr(), read_gdtr(), rdmsr(MSR_IA32_FS_BASE), ... are in
	 * x86.h; the TSS is kernel_tss (kernel.h).
	 */
	TODO("01-7");
}

/* The state VM entry loads: a 64-bit guest at v->guest_entry sharing the host's page tables. */
void vmcs_setup_guest(struct vcpu *v)
{
	/* TODO 01-8
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
	(void)v;
	TODO("01-8");
}
