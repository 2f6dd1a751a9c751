/* The probe: which VMX features this Bochs offers. It runs no lab code, so every image has it. */
#include "check.h"
#include "lab.h"

struct feature {
	const char *name;
	u32 msr;      /* 0: CPUID.1:ECX */
	u64 bit;      /* in the MSR's allowed-1 half (controls) or in the MSR itself */
	bool control; /* a control MSR: look at bits 63:32 of its TRUE_ version */
};

static const struct feature features[] = {
	{ "io-bitmaps", MSR_IA32_VMX_PROCBASED_CTLS, CPU_USE_IO_BITMAPS, true },
	{ "msr-bitmaps", MSR_IA32_VMX_PROCBASED_CTLS, CPU_USE_MSR_BITMAPS, true },
	{ "secondary-controls", MSR_IA32_VMX_PROCBASED_CTLS, CPU_ACTIVATE_SECONDARY_CONTROLS, true },
	{ "tpr-shadow", MSR_IA32_VMX_PROCBASED_CTLS, CPU_USE_TPR_SHADOW, true },
	{ "nmi-window-exiting", MSR_IA32_VMX_PROCBASED_CTLS, CPU_NMI_WINDOW_EXITING, true },
	{ "monitor-trap-flag", MSR_IA32_VMX_PROCBASED_CTLS, CPU_MONITOR_TRAP_FLAG, true },
	{ "virtual-nmis", MSR_IA32_VMX_PINBASED_CTLS, PIN_VIRTUAL_NMIS, true },
	{ "preemption-timer", MSR_IA32_VMX_PINBASED_CTLS, PIN_ACTIVATE_VMX_PREEMPTION_TIMER, true },
	{ "save-preemption-timer", MSR_IA32_VMX_EXIT_CTLS, EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE, true },
	{ "acknowledge-interrupt-on-exit", MSR_IA32_VMX_EXIT_CTLS, EXIT_ACKNOWLEDGE_INTERRUPT_ON_EXIT, true },
	{ "ept", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_ENABLE_EPT, true },
	{ "ept-4-level-walk", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_PAGE_WALK_4, false },
	{ "ept-write-back", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_MEMTYPE_WB, false },
	{ "ept-2mb-pages", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_2MB_PAGES, false },
	{ "ept-1gb-pages", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_1GB_PAGES, false },
	{ "ept-accessed-dirty", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_ACCESSED_DIRTY, false },
	{ "page-modification-logging", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_ENABLE_PML, true },
	{ "invept", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_INVEPT, false },
	{ "invept-single-context", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_INVEPT_SINGLE_CONTEXT, false },
	{ "invept-all-context", MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_INVEPT_ALL_CONTEXT, false },
	{ "vpid", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_ENABLE_VPID, true },
	{ "invvpid", MSR_IA32_VMX_EPT_VPID_CAP, VPID_CAP_INVVPID, false },
	{ "unrestricted-guest", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_UNRESTRICTED_GUEST, true },
	{ "apic-access", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_VIRTUALIZE_APIC_ACCESSES, true },
	{ "apic-register-virtualization", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_APIC_REGISTER_VIRTUALIZATION,
	  true },
	{ "virtual-interrupt-delivery", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_VIRTUAL_INTERRUPT_DELIVERY, true },
	{ "vm-functions", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_ENABLE_VM_FUNCTIONS, true },
	{ "eptp-switching", MSR_IA32_VMX_VMFUNC, VMFUNC_EPTP_SWITCHING, false },
	{ "ept-violation-ve", MSR_IA32_VMX_PROCBASED_CTLS2, CPU2_EPT_VIOLATION_VE, true },
	{ "activity-state-hlt", MSR_IA32_VMX_MISC, VMX_MISC_ACTIVITY_HLT, false },
};

static bool has(const struct feature *f)
{
	if (f->control)
		return vmx_controls_allowed((u32)f->bit, f->msr);
	return (rdmsr(f->msr) & f->bit) != 0;
}

static void report_features(struct vcpu *v)
{
	(void)v;
	bool vmx = (cpuid(1, 0).ecx & CPUID_1_ECX_VMX) != 0;
	report_fact("probe.vmx", "%d", vmx);
	if (!vmx)
		return;
	u64 basic = rdmsr(MSR_IA32_VMX_BASIC);
	report_fact("probe.true-controls", "%d", (basic & VMX_BASIC_TRUE_CONTROLS) != 0);
	report_fact("probe.vmcs-revision", "0x%lx", basic & VMX_BASIC_REVISION_ID_MASK);
	report_fact("probe.cr3-targets", "%lu", VMX_MISC_CR3_TARGET_COUNT(rdmsr(MSR_IA32_VMX_MISC)));
	for (size_t i = 0; i < ARRAY_SIZE(features); i++) {
		char key[64];
		snprintf(key, sizeof(key), "probe.%s", features[i].name);
		report_fact(key, "%d", has(&features[i]));
	}
}

CHECK(00, probe, "probe", .last_stage = STAGE_NONE, .verify = report_features);
