"""Lab 01: VMXON and the first VM exit. The guest programs and stage observations these
checks read are in grader/checks/lab01.c and grader/harness/harness.c."""
import struct

from gradelib import check

LAB = "01"
HV_SIGNATURE = b"VMXLabsHyper"
HV_CPUID_LEAF = 0x40000000
CPUID_1_ECX_HYPERVISOR = 1 << 31
CR4_VMXE = 1 << 13
MASK64 = 2**64 - 1


@check(LAB, "vmx-detect", 10, ["01-1", "01-2"],
       "VMX support detected; IA32_FEATURE_CONTROL locked with VMXON outside SMX enabled")
def vmx_detect(r):
    r.expect_eq("detect.cpuid_vmx", 1, "Bochs's CPU model supports VMX")
    r.expect_eq("detect.vmx_supported", r.int_fact("detect.cpuid_vmx", 1),
                "vmx_supported() must return CPUID.1:ECX.VMX[bit 5]")
    r.expect_bits("detect.feature_control", 0b101, 0,
                  "IA32_FEATURE_CONTROL bit 0 (lock) and bit 2 (VMXON outside SMX) must be 1 (SDM 24.7)")


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


@check(LAB, "vmxon", 15, ["01-4"], "VMXON region set up and VMX root operation entered")
def vmxon(r):
    r.expect_eq("vmxon.region_aligned", 1, "the VMXON region must be a 4-KByte aligned page (SDM 25.11.5)")
    r.expect_eq("vmxon.region_revision", r.int_fact("vmxon.basic_revision", "IA32_VMX_BASIC[30:0]"),
                "the region starts with the VMCS revision identifier from IA32_VMX_BASIC[30:0]")
    r.expect_eq("vmxon.second_vmxon", "VMfailInvalid",
                "a second VMXON fails only in VMX root operation: vmx_on() must have executed VMXON")


@check(LAB, "vmcs-load", 15, ["01-5"], "a VMCS initialized with VMCLEAR and made current with VMPTRLD")
def vmcs_load(r):
    r.expect_eq("vmcs.region_aligned", 1, "the VMCS region must be a 4-KByte aligned page (SDM 25.2)")
    r.expect_eq("vmcs.region_revision", r.int_fact("vmcs.basic_revision", "IA32_VMX_BASIC[30:0]"),
                "the VMCS region starts with the revision identifier from IA32_VMX_BASIC[30:0]")
    r.expect_eq("vmcs.current_is_vcpu_vmcs", 1, "VMPTRST must name v->vmcs as the current VMCS")
    r.expect_eq("vmcs.second_vmxon", "VMfailValid 15",
                "with a current VMCS, VMXON in VMX root operation is VMfailValid, error 15")


@check(LAB, "first-exit", 20, ["01-6", "01-7", "01-8", "01-9"],
       "VMLAUNCH enters the 64-bit guest and its VMCALL exits back to the host")
def first_exit(r):
    r.expect_eq("guest.done", r.nonce ^ 0xFEEDFACE12345678,
                "the guest's VMCALL carries a value derived from this run's nonce; it reaches the "
                "host only through a working VM entry and VM exit")
    r.expect_eq("exits.VMCALL", 1, "exactly one VM exit: the guest's VMCALL")


def cpuid_digest(nonce):
    """What grader/checks/lab01.c:guest_cpuid computes from CPUID leaf 0x40000000."""
    ebx, ecx, edx = struct.unpack("<III", HV_SIGNATURE)
    rounds = 4 + nonce % 5
    digest = nonce
    for i in range(rounds):
        digest = ((digest << 13) | (digest >> 51)) & MASK64
        digest ^= (ebx | edx << 32) ^ ecx ^ HV_CPUID_LEAF ^ i
    return rounds, digest


def expect_cpuid(r):
    ebx, ecx, edx = struct.unpack("<III", HV_SIGNATURE)
    why = "leaf 0x40000000: EAX = highest hypervisor leaf, EBX/ECX/EDX = \"VMXLabsHyper\""
    r.expect_eq("cpuid.40000000.eax", HV_CPUID_LEAF, why)
    r.expect_eq("cpuid.40000000.ebx", ebx, why)
    r.expect_eq("cpuid.40000000.ecx", ecx, why)
    r.expect_eq("cpuid.40000000.edx", edx, why)
    host_ecx = r.int_fact("host.cpuid.1.ecx")
    r.expect_eq("cpuid.1.ecx", "the host's CPUID.1:ECX | bit 31" if host_ecx is None else host_ecx | CPUID_1_ECX_HYPERVISOR,
                "leaf 1: the real ECX with bit 31 (hypervisor present) set")
    r.expect_eq("cpuid.0.ebx", r.int_fact("host.cpuid.0.ebx", "the host's CPUID.0:EBX"),
                "other leaves pass the real CPUID through")
    rounds, digest = cpuid_digest(r.nonce)
    r.expect_eq("cpuid.rounds", rounds, "the guest ran its nonce-chosen number of rounds")
    r.expect_eq("cpuid.digest", digest,
                "CPUIDs of 2 to 5 bytes in a row: RIP must advance by the VM-exit instruction length")
    r.expect_eq("exits.CPUID", 3 + rounds, "every guest CPUID causes one VM exit")


@check(LAB, "cpuid-exit", 20, ["01-10", "01-11"],
       "CPUID exits emulated: hypervisor leaf and bit, RIP advanced by the instruction length")
def cpuid_exit(r):
    expect_cpuid(r)


@check(LAB, "vmxoff", 10, ["01-12"], "VMX operation left cleanly: VMCLEAR, VMXOFF, CR4.VMXE cleared")
def vmxoff(r):
    r.expect_eq("guest.done", 0, "the guest finished its CPUID program")
    r.expect_eq("vmxoff.cr4_vmxe", 0, "CR4.VMXE can only be cleared after VMXOFF; vmx_off() clears it")
    r.expect_eq("vmxoff.vmxon_again", "VMsucceed",
                "after VMXOFF a new VMXON must succeed (the processor is outside VMX operation)")
