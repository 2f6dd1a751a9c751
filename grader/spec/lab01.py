"""Lab 01: VMXON and the first VM exit. The guest programs and stage observations these
checks read are in grader/checks/lab01.c and grader/harness/harness.c. Each expectation states
the SDM rule it holds the code to; the inputs that expose a violation are chosen in the C side."""
import struct

from gradelib import C, check

LAB = "01"
HV_SIGNATURE = C["HV_SIGNATURE"].encode()
HV_CPUID_LEAF = C["HV_CPUID_LEAF"]
CPUID_1_ECX_HYPERVISOR = C["CPUID_1_ECX_HYPERVISOR"]
CR4_VMXE = C["CR4_VMXE"]
MASK64 = 2**64 - 1
FEATURE_CONTROL_LOCK, FEATURE_CONTROL_VMXON_OUTSIDE_SMX = C["FEATURE_CONTROL_LOCK"], C["FEATURE_CONTROL_VMXON_OUTSIDE_SMX"]
FEATURE_CONTROL_VMXON_INSIDE_SMX = C["FEATURE_CONTROL_VMXON_INSIDE_SMX"]
CPUID_IGNORED_SUBLEAF = C["CPUID_IGNORED_SUBLEAF"]
RFLAGS_RESERVED_1 = C["RFLAGS_FIXED"]
RFLAGS_AC = 1 << 18     # SDM 2.3; x86.h names no AC bit
# TF, IF, DF, IOPL, NT, RF, VM, AC: none is set by a VM entry with RFLAGS = 0x2
RFLAGS_MUST_BE_0 = (C["RFLAGS_TF"] | C["RFLAGS_IF"] | C["RFLAGS_DF"] | C["RFLAGS_IOPL"] | C["RFLAGS_NT"]
                    | C["RFLAGS_RF"] | C["RFLAGS_VM"] | RFLAGS_AC)
VEC_UD = C["VEC_UD"]
SHUTDOWN_PORT = C["SHUTDOWN_PORT"]
SEL_CODE, SEL_DATA, SEL_TSS = C["SEL_KERNEL_CS64"], C["SEL_KERNEL_DS"], C["SEL_TSS"]


def io_port(qualification):
    """Table 28-5: bits 31:16 of an I/O exit qualification are the port."""
    return (qualification >> 16) & 0xFFFF


@check(LAB, "vmx-detect", 10, ["01-1", "01-2"],
       "VMX support detected; IA32_FEATURE_CONTROL locked with VMXON outside SMX enabled")
def vmx_detect(r):
    r.expect_eq("detect.cpuid_vmx", 1, "Bochs's CPU model supports VMX")
    r.expect_eq("detect.vmx_supported", r.int_fact("detect.cpuid_vmx", 1),
                "vmx_supported() must return CPUID.1:ECX.VMX[bit 5]")
    r.expect_bits("detect.feature_control", FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_OUTSIDE_SMX, 0,
                  "IA32_FEATURE_CONTROL bit 0 (lock) and bit 2 (VMXON outside SMX) must be 1 (SDM 24.7)")
    reads = len(r.bochs.msr_reads_after_boot(C["MSR_IA32_FEATURE_CONTROL"]))
    r.expect_that("Bochs's record: RDMSRs of IA32_FEATURE_CONTROL after boot", reads >= 2, reads,
                  "at least 2 (vmx_enable_feature_control(), then the harness)",
                  "vmx_enable_feature_control() must read IA32_FEATURE_CONTROL: only its lock and "
                  "enable bits say whether to write it or to give up (SDM 24.7)")


@check(LAB, "fixed-bits", 10, ["01-3"], "CR0 and CR4 obey the VMX fixed bits; CR4.VMXE is set")
def fixed_bits(r):
    f = {k: r.int_fact(f"fixed.{k}") for k in ("cr0_fixed0", "cr0_fixed1", "cr4_fixed0", "cr4_fixed1")}
    if None in f.values():
        for key in ("fixed.cr0", "fixed.cr4"):
            r.expect(key, lambda v: False, "a value checked against the fixed-bit MSRs",
                     "the fixed-bit MSRs were not reported: the run ended early")
        return
    r.expect_bits("fixed.cr0", f["cr0_fixed0"], MASK64 & ~f["cr0_fixed1"],
                  "bits set in IA32_VMX_CR0_FIXED0 must be 1, bits clear in FIXED1 must be 0 (SDM 24.8)")
    r.expect_bits("fixed.cr4", f["cr4_fixed0"] | CR4_VMXE, MASK64 & ~f["cr4_fixed1"],
                  "CR4.VMXE must be 1, and CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1 (SDM 24.8)")


def fixed(r, reg):
    """SDM 24.8: the register the fixed-bit rule makes of the emulated input."""
    value, f0, f1 = (r.int_fact(f"inputs.{k}") for k in (reg, f"{reg}_fixed0", f"{reg}_fixed1"))
    if None in (value, f0, f1):
        return f"({reg} | {reg.upper()}_FIXED0) & {reg.upper()}_FIXED1"
    return ((value | f0) & f1) | (CR4_VMXE if reg == "cr4" else 0)


@check(LAB, "bring-up-inputs", 10, ["01-1", "01-2", "01-3"],
       "the detect, feature-control and fixed-bit steps under inputs the machine never gives the host")
def bring_up_inputs(r):
    r.expect_eq("inputs.vmx_supported.only_vmx_bit", 1,
                "CPUID.1:ECX = only bit 5: VMX is supported exactly when ECX bit 5 is 1 (SDM 24.6)")
    r.expect_eq("inputs.vmx_supported.all_but_vmx_bit", 0,
                "CPUID.1:ECX = every bit but 5: VMX is not supported (SDM 24.6); no other bit counts")
    r.expect_eq("inputs.fixed_bits.cr0", fixed(r, "cr0"),
                "CR0 with NE clear and CD, NW set, CR0_FIXED1 forbidding CD and NW: every bit set "
                "in FIXED0 must become 1 and every bit clear in FIXED1 must become 0 (SDM 24.8, A.7)")
    r.expect_eq("inputs.fixed_bits.cr4", fixed(r, "cr4"),
                "CR4 with PGE set, CR4_FIXED1 forbidding PGE, CR4_FIXED0 asking for OSFXSR: "
                "CR4 = (CR4 | FIXED0) & FIXED1, with VMXE (SDM 24.8, A.8)")
    r.expect_eq("inputs.unlocked.writes", 1,
                "IA32_FEATURE_CONTROL unlocked (0): one WRMSR must enable VMXON and lock it (SDM 24.7)")
    r.expect_bits("inputs.unlocked.written", FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_OUTSIDE_SMX, 0,
                  "the WRMSR to an unlocked IA32_FEATURE_CONTROL must set bit 2 (VMXON outside SMX) "
                  "and bit 0 (lock); VMXON raises #GP while the lock bit is 0 (SDM 24.7)")
    r.expect_eq("inputs.locked_enabled.writes", 0,
                "IA32_FEATURE_CONTROL locked with bit 2 set: no WRMSR, because a WRMSR to it raises "
                "#GP once the lock bit is set (SDM 24.7)")
    r.expect_eq("inputs.locked_disabled.panicked", 1,
                "IA32_FEATURE_CONTROL locked with bit 2 clear: VMXON can never succeed until reset "
                "(SDM 24.7), so vmx_enable_feature_control() must panic, not return")
    r.expect("inputs.locked_disabled.console", lambda v: "PANIC" in v, "a PANIC message",
             "the locked-and-disabled IA32_FEATURE_CONTROL must be reported with panic()")
    inside = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_INSIDE_SMX
    r.expect_eq("inputs.locked_inside_smx_only.panicked", 1,
                f"IA32_FEATURE_CONTROL = {inside:#x}, locked with bit 1 (VMXON inside SMX) set and bit 2 "
                "(VMXON outside SMX) clear: VMXON outside SMX is impossible until reset (SDM 24.7); "
                "bit 1 does not enable it, so vmx_enable_feature_control() must test bit 2 and panic")
    r.expect("inputs.locked_inside_smx_only.console", lambda v: "PANIC" in v, "a PANIC message",
             f"IA32_FEATURE_CONTROL = {inside:#x} (bit 2 clear) must be reported with panic()")
    both = inside | FEATURE_CONTROL_VMXON_OUTSIDE_SMX
    r.expect_eq("inputs.locked_inside_and_outside.panicked", 0,
                f"IA32_FEATURE_CONTROL = {both:#x}, locked with bits 1 and 2 set: VMXON outside SMX is "
                "enabled (SDM 24.7), whatever bit 1 says; no panic")
    r.expect_eq("inputs.locked_inside_and_outside.writes", 0,
                f"IA32_FEATURE_CONTROL = {both:#x} is locked: no WRMSR (it would raise #GP, SDM 24.7)")
    r.expect_exits("IO_INSTRUCTION", lambda quals: any(io_port(q) == SHUTDOWN_PORT for q in quals),
                   f"an OUT to port {SHUTDOWN_PORT:#x}",
                   "Bochs's record must show the guest's panic() reaching shutdown()")
    r.expect_eq("exits.WRMSR", 1, "Bochs recorded the WRMSRs: exactly one, for the unlocked MSR")


@check(LAB, "vmxon", 10, ["01-4"], "VMXON region set up and VMX root operation entered")
def vmxon(r):
    r.expect_eq("vmxon.region_aligned", 1, "the VMXON region must be a 4-KByte aligned page (SDM 25.11.5)")
    r.expect_eq("vmxon.region_revision", r.int_fact("vmxon.basic_revision", "IA32_VMX_BASIC[30:0]"),
                "the region starts with the VMCS revision identifier from IA32_VMX_BASIC[30:0]")
    r.expect_eq("vmxon.second_vmxon", "VMfailInvalid",
                "a second VMXON fails only in VMX root operation: vmx_on() must have executed VMXON")


@check(LAB, "vmcs-load", 5, ["01-5"], "a VMCS initialized with VMCLEAR and made current with VMPTRLD")
def vmcs_load(r):
    r.expect_eq("vmcs.region_aligned", 1, "the VMCS region must be a 4-KByte aligned page (SDM 25.2)")
    r.expect_eq("vmcs.region_revision", r.int_fact("vmcs.basic_revision", "IA32_VMX_BASIC[30:0]"),
                "the VMCS region starts with the revision identifier from IA32_VMX_BASIC[30:0]")
    r.expect_eq("vmcs.current_is_vcpu_vmcs", 1, "VMPTRST must name v->vmcs as the current VMCS")
    r.expect_eq("vmcs.second_vmxon", "VMfailValid 15",
                "with a current VMCS, VMXON in VMX root operation is VMfailValid, error 15")


CONTROLS = {   # name in the facts: (wanted bits, capability MSR that decides the rest)
    "pin": (0, "IA32_VMX_TRUE_PINBASED_CTLS"),
    "primary": (0, "IA32_VMX_TRUE_PROCBASED_CTLS"),
    "exit": (C["EXIT_HOST_ADDRESS_SPACE_SIZE"], "IA32_VMX_TRUE_EXIT_CTLS"),
    "entry": (C["ENTRY_IA32E_MODE_GUEST"], "IA32_VMX_TRUE_ENTRY_CTLS"),
}


def expect_controls(r):
    """SDM A.2-A.5: each control = the requested bits plus the allowed 0-settings (bits 31:0 of
    the TRUE_ MSR when IA32_VMX_BASIC[55] is 1), and no bit the allowed 1-settings forbid."""
    for name, (wanted, msr) in CONTROLS.items():
        cap = r.int_fact(f"controls.{name}_capability")
        want = f"the requested bits | {msr}[31:0]" if cap is None else wanted | (cap & 0xFFFFFFFF)
        r.expect_eq(f"controls.{name}", want,
                    f"the {name} controls must be the requested ones ({wanted:#x}) plus the bits "
                    f"{msr} requires (its bits 31:0; the TRUE_ MSR because IA32_VMX_BASIC[55] = 1, "
                    "SDM A.2); nothing more, so no unrequested exit")
    r.expect_eq("controls.exception_bitmap", 0,
                "exception bitmap 0: no guest exception causes a VM exit (SDM 25.6.3)")
    r.expect_eq("controls.cr3_target_count", 0,
                "CR3-target count 0 (at most 4 are allowed, SDM 27.2.1.1)")


@check(LAB, "first-exit", 10, ["01-6", "01-7", "01-8", "01-9"],
       "VMLAUNCH enters the 64-bit guest and its VMCALL exits back to the host")
def first_exit(r):
    r.expect_eq("guest.done", r.nonce ^ C["FIRST_EXIT_DONE_XOR"],
                "the guest's VMCALL carries a value derived from this run's nonce; it reaches the "
                "host only through a working VM entry and VM exit")
    r.expect_eq("exits.VMCALL", 1, "exactly one VM exit: the guest's VMCALL")
    expect_controls(r)


HOST_STATE = {   # field after the exit: what loads it (SDM 28.5.1, 28.5.2)
    "cr0": "HOST_CR0", "cr3": "HOST_CR3", "cr4": "HOST_CR4",
    "cs": "HOST_CS_SELECTOR", "ss": "HOST_SS_SELECTOR", "ds": "HOST_DS_SELECTOR",
    "es": "HOST_ES_SELECTOR", "fs": "HOST_FS_SELECTOR", "gs": "HOST_GS_SELECTOR",
    "tr": "HOST_TR_SELECTOR", "fs_base": "HOST_FS_BASE (IA32_FS_BASE)",
    "gs_base": "HOST_GS_BASE (IA32_GS_BASE)", "tr_base": "HOST_TR_BASE (the TSS, kernel_tss)",
    "gdtr_base": "HOST_GDTR_BASE", "idtr_base": "HOST_IDTR_BASE",
    "sysenter_cs": "HOST_IA32_SYSENTER_CS", "sysenter_esp": "HOST_IA32_SYSENTER_ESP",
    "sysenter_eip": "HOST_IA32_SYSENTER_EIP",
    "efer": "the \"host address-space size\" exit control (LMA, LME; EFER is not loaded, 28.5.1)",
    "pat": "the host's own IA32_PAT, loaded only with the \"load IA32_PAT\" exit control",
}


@check(LAB, "host-state", 10, ["01-7"],
       "after a VM exit the host runs with exactly the state it had before the entry")
def host_state(r):
    names = [k[len("host.before."):] for k in r.facts if k.startswith("host.before.")]
    for name in names or HOST_STATE:
        field = HOST_STATE.get(name, "the host-state area")
        before = r.int_fact(f"host.before.{name}")
        r.expect_eq(f"host.{name}", "the host's value before the run" if before is None else before,
                    f"after a VM exit this comes from {field} (SDM 28.5); it must be the host's own "
                    "value, even where a wrong one would not crash this host")
    r.expect_exits("VMCALL", lambda quals: len(quals) == 1, "1",
                   "Bochs must record the one VM exit whose host-state load is compared")


@check(LAB, "guest-state", 10, ["01-6", "01-8"],
       "the guest starts with the state 01-8 describes: registers, segments, GDTR, its own exceptions")
def guest_state(r):
    r.expect_bits("guest.rflags", RFLAGS_RESERVED_1, RFLAGS_MUST_BE_0,
                  "VM entry loads RFLAGS from GUEST_RFLAGS = 0x2: bit 1 set, IF, TF, DF, IOPL, NT, "
                  "RF, VM, AC clear (SDM 25.4.1, 27.3.1.4)")
    r.expect_eq("guest.cr0", r.int_fact("host.before.cr0", "the host's CR0"),
                "GUEST_CR0 = the host's CR0, which obeys the fixed bits (SDM 27.3.1.1)")
    r.expect_eq("guest.cr3", r.int_fact("host.before.cr3", "the host's CR3"),
                "GUEST_CR3 = the host's CR3; the guest reads it without a VM exit because the "
                "TRUE_ controls let CR3-store exiting be 0 (SDM A.2, A.3.2)")
    host_cr4 = r.int_fact("host.before.cr4")
    r.expect("guest.cr4", lambda v: int(v, 0) | CR4_VMXE == host_cr4, "the host's CR4 (a later "
             "lab may hide VMXE from the guest)" if host_cr4 is None else hex(host_cr4),
             "GUEST_CR4 = the host's CR4, VMXE included (SDM 27.3.1.1)")
    for seg, sel in (("cs", SEL_CODE), ("ss", SEL_DATA), ("ds", SEL_DATA), ("es", SEL_DATA),
                     ("fs", SEL_DATA), ("gs", SEL_DATA), ("tr", SEL_TSS), ("ldtr", 0)):
        r.expect_eq(f"guest.{seg}", sel, f"VM entry loads the {seg.upper()} selector from "
                    f"GUEST_{seg.upper()}_SELECTOR (SDM 27.3.2.2)")
    r.expect_eq("guest.gdtr_base", r.int_fact("host.before.gdtr_base", "the host's GDTR base"),
                "GUEST_GDTR_BASE = the host's GDT, which the guest shares")
    r.expect_eq("guest.gdtr_limit", r.int_fact("guest_state.host_gdtr_limit", "the host's GDTR limit"),
                "GUEST_GDTR_LIMIT = the host's GDTR limit")
    r.expect_eq("guest_state.vmcs_idtr_base", r.int_fact("host.before.idtr_base", "the host's IDTR base"),
                "GUEST_IDTR_BASE = the host's IDT (read back from the VMCS before the entry)")
    r.expect_eq("guest_state.vmcs_idtr_limit", r.int_fact("guest_state.host_idtr_limit", "the host's IDTR limit"),
                "GUEST_IDTR_LIMIT = the host's IDTR limit (read back from the VMCS before the entry)")
    r.expect_eq("guest.fs_read", r.nonce, "an FS-relative load reads base + offset: GUEST_FS_BASE "
                "must be 0, not the host's FS base (a value ~vector means the load faulted)")
    r.expect_eq("guest.gs_read", r.nonce ^ 1, "a GS-relative load reads base + offset: GUEST_GS_BASE "
                "must be 0, not the host's GS base (a value ~vector means the load faulted)")
    for seg, sel in (("cs", SEL_CODE), ("ss", SEL_DATA), ("ds", SEL_DATA), ("es", SEL_DATA),
                     ("fs", SEL_DATA), ("gs", SEL_DATA)):
        field = f"GUEST_{seg.upper()}"
        r.expect_eq(f"guest_state.{seg}_access_rights",
                    r.int_fact(f"guest_state.{seg}_descriptor_access_rights", "the GDT descriptor's"),
                    f"{field}_ACCESS_RIGHTS (accessed bit aside) must be what the GDT descriptor of "
                    f"selector {sel:#x} says: type, S, DPL, P, AVL, L, D/B, G (SDM 25.4.1: the hidden "
                    "part of a segment register is its descriptor's, as a segment load would leave "
                    "it; a 64-bit guest ignores some of these bits, a mode switch would not)")
        r.expect_eq(f"guest_state.{seg}_limit",
                    r.int_fact(f"guest_state.{seg}_descriptor_limit", "the GDT descriptor's"),
                    f"{field}_LIMIT must be the limit of the GDT descriptor of selector {sel:#x}, "
                    "scaled by its G bit (SDM 25.4.1, Vol. 3A 3.4.5)")
    r.expect_eq("guest.ud2_vector", VEC_UD, "UD2 in the guest must reach the guest's own IDT as #UD")
    r.expect_exits("EXCEPTION_OR_NMI", lambda quals: not quals, "none",
                   "exception bitmap 0: a guest exception must not cause a VM exit (SDM 25.6.3)")


def cpuid_digest(nonce):
    """What grader/checks/lab01.c:guest_cpuid computes from CPUID leaf 0x40000000."""
    ebx, ecx, edx = struct.unpack("<III", HV_SIGNATURE)
    rounds = 4 + nonce % 5
    digest = nonce
    for i in range(rounds):
        digest = ((digest << 13) | (digest >> 51)) & MASK64
        digest ^= (ebx | edx << 32) ^ ecx ^ HV_CPUID_LEAF ^ i
    return rounds, digest


def cpuid_rule(leaf):
    """What the hypervisor may change in the real answer of `leaf`."""
    if leaf == 1:
        return ("plus ECX bit 31 (hypervisor present), whatever ECX held on input: leaf 1 has no "
                "subleaves (SDM Vol. 2A CPUID)")
    if leaf & 0xFFFFFF00 == HV_CPUID_LEAF:
        return ("only leaf 0x40000000 is the hypervisor's: its EAX says it is the highest one, so "
                "the leaves above it pass through")
    return "nothing else changes"


HV_SUBLEAVES = (0, CPUID_IGNORED_SUBLEAF)   # the subleaves grader/checks/lab01.c tries on 0x40000000


def expect_cpuid(r):
    ebx, ecx, edx = struct.unpack("<III", HV_SIGNATURE)
    hv = {"eax": C["HV_CPUID_MAX_LEAF"], "ebx": ebx, "ecx": ecx, "edx": edx}
    for subleaf in HV_SUBLEAVES:
        for reg, value in hv.items():
            r.expect_eq(f"cpuid.40000000.{subleaf:x}.{reg}", value,
                        f"leaf 0x40000000, ECX = {subleaf:#x} (upper halves of RAX and RCX dirty): "
                        "EAX = highest hypervisor leaf, EBX/ECX/EDX = \"VMXLabsHyper\", whatever ECX "
                        "holds (the leaf has no subleaves); CPUID reads only EAX and ECX")
    host = sorted(k for k in r.facts if k.startswith("host.cpuid."))
    if not host:
        r.expect("host.cpuid.0.0.eax", lambda v: False, "the real CPUID values",
                 "the host's CPUID values were not reported: the run ended early")
    for key in host:
        want = r.int_fact(key)
        leaf, subleaf = key.split(".")[2:4]
        if (leaf, key.endswith(".ecx")) == ("1", True):
            want |= CPUID_1_ECX_HYPERVISOR
        r.expect_eq(key[len("host."):], want,
                    f"leaf {leaf} subleaf {subleaf}: the real CPUID with the guest's EAX and ECX "
                    f"(subleaf!), zero-extended to 64 bits; {cpuid_rule(int(leaf, 16))}")
    rounds, digest = cpuid_digest(r.nonce)
    r.expect_eq("cpuid.rounds", rounds, "the guest ran its nonce-chosen number of rounds")
    r.expect_eq("cpuid.digest", digest,
                "CPUIDs of 2 to 5 bytes in a row: RIP must advance by the VM-exit instruction length "
                "(SDM 28.2.5)")
    r.expect_eq("exits.CPUID", len(HV_SUBLEAVES) + len(host) // 4 + rounds,
                "Bochs recorded the CPUID exits: one per guest CPUID")


@check(LAB, "cpuid-exit", 10, ["01-10", "01-11"],
       "CPUID exits emulated: hypervisor leaf and bit, real leaves and subleaves, RIP advanced")
def cpuid_exit(r):
    r.expect_eq("cpuid.skip", C["CPUID_SKIP_RIGHT"],
                "the host saw where each CPUID exit resumed the guest: right after the instruction, "
                "at RIP + the VM-exit instruction length (SDM 28.2.5). The guest's CPUIDs carry 0 to 3 "
                "prefixes (2 to 5 bytes); resuming inside one runs its remaining bytes as code, hence "
                "guest exceptions and missing results below")
    expect_cpuid(r)


@check(LAB, "interrupt-shadow", 5, ["01-11"],
       "skipping an emulated CPUID ends blocking by STI and by MOV SS, not blocking by NMI")
def interrupt_shadow(r):
    r.expect_eq("shadow.sti_cpuid_late_by", 0,
                "STI; CPUID with an interrupt pending: blocking by STI ends once the CPUID completes "
                "(SDM 25.4.2), so the skip must clear it and the interrupt must arrive right after "
                "the CPUID, not one instruction later")
    r.expect_eq("shadow.mov_ss_cpuid_late_by", 0,
                "MOV SS; CPUID with an interrupt pending: blocking by MOV SS ends once the CPUID "
                "completes (SDM 25.4.2), so the skip must clear it too")
    r.expect_eq("shadow.nmis", 2, "the guest's two self-NMIs must both arrive")
    r.expect_eq("shadow.nmi_nesting", 1,
                "CPUID in an NMI handler with a second NMI pending: blocking by NMI lasts until the "
                "handler's IRET (SDM 25.4.2), so the skip must keep that bit and clear only the "
                "STI and MOV-SS bits; else the second NMI nests")
    r.expect_eq("exits.CPUID", 3, "Bochs recorded the three CPUID exits: two in a shadow, one in "
                "the NMI handler")


VMCLEAR_ERROR, VMPTRLD_ERROR = C["VMCLEAR_ERROR_INVALID_ADDRESS"], C["VMPTRLD_ERROR_BAD_REVISION"]
ENTRY_CONTROLS_ERROR, ENTRY_HOST_STATE_ERROR = (C["VM_ENTRY_ERROR_INVALID_CONTROLS"],
                                                C["VM_ENTRY_ERROR_INVALID_HOST_STATE"])
RUN, RUN_LAUNCHED = "vcpu_run()", "vcpu_run() with v->launched set"
FAILURES = {   # scenario: (instruction that fails, the step, its VMX instructions, the error of a
               # VMfailValid answer, None for VMfailInvalid)
    "vmxon": ("VMXON", "vmx_on()", ["VMXON"], None),
    "vmcs_load_vmclear": ("VMCLEAR", "vmcs_load()", ["VMCLEAR"], None),
    "vmptrld": ("VMPTRLD", "vmcs_load()", ["VMCLEAR", "VMPTRLD"], None),
    "vmx_off_vmclear": ("VMCLEAR", "vmx_off()", ["VMCLEAR"], None),
    "vmxoff": ("VMXOFF", "vmx_off()", ["VMCLEAR", "VMXOFF"], None),
    "vmcs_load_vmclear_valid": ("VMCLEAR", "vmcs_load()", ["VMCLEAR"], VMCLEAR_ERROR),
    "vmptrld_valid": ("VMPTRLD", "vmcs_load()", ["VMCLEAR", "VMPTRLD"], VMPTRLD_ERROR),
    "vmx_off_vmclear_valid": ("VMCLEAR", "vmx_off()", ["VMCLEAR"], VMCLEAR_ERROR),
    "vmlaunch": ("VMLAUNCH", RUN, ["VMLAUNCH"], None),
    "vmlaunch_valid": ("VMLAUNCH", RUN, ["VMLAUNCH"], ENTRY_CONTROLS_ERROR),
    "vmresume": ("VMRESUME", RUN_LAUNCHED, ["VMRESUME"], None),
    "vmresume_valid": ("VMRESUME", RUN_LAUNCHED, ["VMRESUME"], ENTRY_HOST_STATE_ERROR),
}


def failure_status(error):
    """SDM 31.2: how the failure reads, as vmx_report_failure() prints it."""
    if error is None:
        return "VMfailInvalid", "VMfailInvalid (CF = 1, SDM 31.2)"
    return (f"VMfailValid, VM-instruction error {error}",
            f"VMfailValid (ZF = 1, VM-instruction error {error}, SDM 31.2, 31.4); a step that "
            "tests only for VMfailInvalid (CF) misses it")
INSTRUCTION_ORDER = {
    "vmx_on()": "VMXON",
    "vmcs_load()": "VMCLEAR, then VMPTRLD (SDM 25.11.3)",
    "vmx_off()": "VMCLEAR, then VMXOFF (SDM 25.11.3, 31.3)",
    RUN: "VMLAUNCH while v->launched is false (SDM 31.3)",
    RUN_LAUNCHED: "VMRESUME once v->launched is set (SDM 31.3)",
}
# How each step reports a failure (the console must show it before the panic).
REPORTER = {
    RUN: "vmx_entry_failed() names the entry instruction and its status before the panic; a "
         "failed entry ran no guest and caused no VM exit, so a console about a VM exit means "
         "vcpu_run() went on to handle an exit that never happened",
}
REPORTER[RUN_LAUNCHED] = REPORTER[RUN]


@check(LAB, "vmx-failures", 5, ["01-4", "01-5", "01-9", "01-12"],
       "a VMX instruction that fails (VMfailInvalid or VMfailValid) is reported and stops the hypervisor")
def vmx_failures(r):
    for scenario, (instruction, step, sequence, error) in FAILURES.items():
        status, rule = failure_status(error)
        r.expect(f"failures.{scenario}.instructions", lambda v, want=sequence: v.split() == want,
                 " ".join(sequence),
                 f"{step} executes {INSTRUCTION_ORDER[step]} and stops at the first that fails "
                 f"(here {instruction})")
        r.expect_eq(f"failures.{scenario}.panicked", 1,
                    f"{instruction} answered {rule}: {step} must check the status (anything but "
                    "VMsucceed is a failure), report it and panic instead of carrying on")
        want = f"{instruction} failed: {status}"
        r.expect(f"failures.{scenario}.console", lambda v, w=want: w in v, f"\"{want}\"",
                 REPORTER.get(step, "vmx_report_failure() names the instruction and its status "
                              "before the panic"))
    for instruction in sorted({i for i, _, _, _ in FAILURES.values()}):
        r.expect_exits(instruction, lambda quals: len(quals) > 0, "at least one",
                       f"Bochs must record the guest's {instruction} exits that this check answered")


@check(LAB, "vmxoff", 5, ["01-12"], "VMX operation left cleanly: VMCLEAR, VMXOFF, CR4.VMXE cleared")
def vmxoff(r):
    r.expect_eq("guest.done", 0, "the guest finished its CPUID program")
    r.expect("exits.CPUID", lambda v: int(v) > 0, "at least one", "Bochs recorded the guest's CPUID exits")
    r.expect_eq("vmxoff.cr4_vmxe", 0, "CR4.VMXE can only be cleared after VMXOFF; vmx_off() clears it")
    r.expect_eq("vmxoff.vmlaunch_error", 7,
                "VMCLEAR before VMXOFF leaves the VMCS clear: VMLAUNCH of it (after a new VMXON) "
                "must fail on its controls (error 7), not with error 4 \"VMLAUNCH with non-clear "
                "VMCS\" (SDM 25.11.3, 31.3)")
    r.expect_eq("vmxoff.vmxon_again", "VMsucceed",
                "after VMXOFF a new VMXON must succeed (the processor is outside VMX operation)")
