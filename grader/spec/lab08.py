"""Lab 08: the unrestricted guest. The guest (grader/checks/lab08_guest.S) starts in real mode
at 0000:7C00 in its own guest-physical space (2 MiB, mapped with lab 07's ept_map()); what it
computes in each mode is modelled here from the nonce. The mode the VMCS holds at each report,
the controls and the classified states come from the harness; exits and injected events from
Bochs's record."""
from gradelib import C, check

LAB = "08"
MASK32 = 2**32 - 1
VMCALL = 18
GP = 13
IF = 1 << 9
EFER_LME, EFER_LMA = 1 << 8, 1 << 10
CPU2_ENABLE_EPT, CPU2_UNRESTRICTED_GUEST = 1 << 1, 1 << 7
ENTRY_IA32E_MODE_GUEST, ENTRY_LOAD_IA32_EFER = 1 << 9, 1 << 15
EXIT_SAVE_IA32_EFER = 1 << 20
CR0_PE, CR0_NE, CR0_PG = 1, 1 << 5, 1 << 31
CR4_PAE, CR4_VMXE = 1 << 5, 1 << 13


def nonce32(r):
    return r.nonce & MASK32


def rotl32(x, n):
    return ((x << n) | (x >> (32 - n))) & MASK32


def data_word(nonce, i):
    """lab08.c: data page i holds (nonce32 ^ i) * DATA_MULTIPLIER at DATA_OFFSET."""
    return ((nonce ^ i) * C["DATA_MULTIPLIER"]) & MASK32


def pae_digest(nonce):
    """lab08_guest.S pae_digest: the 4 data pages, one through each PDPTE."""
    digest = 0
    for i in range(4):
        digest = rotl32(digest, 5) ^ data_word(nonce, i)
    return digest


def expect_done(r):
    r.expect("guest.done", lambda v: int(v, 0) & MASK32 == nonce32(r) ^ C["DONE_XOR"],
             hex(nonce32(r) ^ C["DONE_XOR"]),
             "the guest ran to its end and said so with a value from the nonce")


def expect_only_vmcalls(r, count, why):
    reasons = r.bochs.reasons()
    r.expect_that("Bochs's record of VM exits", reasons == [VMCALL] * count,
                  ", ".join(str(x) for x in reasons[:12]) + (", ..." if len(reasons) > 12 else ""),
                  f"{count} exits, all VMCALL (18)", why)


@check(LAB, "ug-real-mode", 20, ["08-1", "08-2"],
       "a real-mode guest at 0000:7C00, as a BIOS leaves a boot sector, entered with unrestricted guest")
def ug_real_mode(r):
    r.expect_bits("ug.controls.secondary", CPU2_ENABLE_EPT | CPU2_UNRESTRICTED_GUEST, 0,
                  "\"unrestricted guest\" (secondary bit 7) on, with \"enable EPT\" (bit 1) (SDM 27.2.1.1)")
    r.expect_eq("start.cs", "0x0:0x0:0x7c00", "CS selector 0, base selector * 16 = 0, IP 0x7C00")
    r.expect_bits("start.cr0", CR0_NE, CR0_PE | CR0_PG,
                  "CR0 with PE = 0 and PG = 0 (real mode), NE = 1 (still fixed, SDM 27.3.1.1)")
    r.expect_eq("start.rflags", 2, "RFLAGS = 2: bit 1 is always 1, IF = 0, VM = 0")
    r.expect_eq("guest.real", nonce32(r) ^ C["REAL_XOR"],
                "the guest ran its 16-bit code at 0x7C00 and read the nonce through DS = 0")
    r.expect_eq("mode.real", "real", "the guest was in real mode (CR0.PE = 0) when it reported")
    expect_only_vmcalls(r, 2, "a report and the end: nothing else exits")
    expect_done(r)


@check(LAB, "ug-mode-walk", 25, ["08-3", "08-4"],
       "the guest walks from real mode to protected mode, PAE paging and IA-32e mode by itself")
def ug_mode_walk(r):
    n = nonce32(r)
    expect_only_vmcalls(r, 5, "only the guest's four reports and its end exit: its MOVs to CR0, CR3 "
                        "and CR4 and its WRMSR to IA32_EFER are the processor's to do under "
                        "\"unrestricted guest\" (SDM 26.6); a hypervisor that owns CR0.PE/PG or "
                        "CR4.PAE, or keeps CR3-load exiting, makes them exit")
    for key, mode, value in (("real", "real", n ^ C["REAL_XOR"]),
                             ("protected", "protected", n ^ C["PROTECTED_XOR"]),
                             ("pae", "pae", pae_digest(n)),
                             ("ia32e", "ia32e", n ^ C["IA32E_XOR"] ^ data_word(n, 0))):
        r.expect_eq(f"guest.{key}", value, f"the guest computed this in {mode} mode")
        r.expect_eq(f"mode.{key}", mode, f"the VMCS saved the guest in {mode} mode at that report")
    for key in ("real", "protected", "pae"):
        r.expect_eq(f"efer.{key}", 0, "the guest's IA32_EFER stays 0 until it sets LME: \"load "
                    "IA32_EFER\" with GUEST_IA32_EFER = 0 at the first entry, so the host's LME does "
                    "not leak into the guest (SDM 27.3.2.1), and \"save IA32_EFER\" at each exit")
    r.expect_eq("efer.ia32e", EFER_LME | EFER_LMA,
                "the guest set LME, then PG: the processor set LMA; \"save IA32_EFER\" keeps both "
                "in GUEST_IA32_EFER across the exit (SDM 28.3)")
    r.expect_bits("ug.controls.entry", ENTRY_LOAD_IA32_EFER, ENTRY_IA32E_MODE_GUEST,
                  "at the first entry: \"load IA32_EFER\" on, \"IA-32e mode guest\" off")
    r.expect_bits("ug.controls.exit", EXIT_SAVE_IA32_EFER, 0, "\"save IA32_EFER\" on")
    r.expect_bits("ug.controls.cr0_mask", CR0_NE, CR0_PE | CR0_PG,
                  "the CR0 guest/host mask keeps NE (still fixed) and leaves PE and PG to the guest")
    r.expect_bits("ug.controls.cr4_mask", CR4_VMXE, CR4_PAE, "the CR4 mask leaves PAE to the guest")
    expect_done(r)


@check(LAB, "ug-pae-pdptes", 15, ["08-5"],
       "a guest the hypervisor puts into PAE paging: its four PDPTEs from the VMCS")
def ug_pae_pdptes(r):
    for i in range(4):
        r.expect_eq(f"pdpte.{i}", C["UG_PD"] + i * 0x1000 | 1,
                    f"GUEST_PDPTE{i} = the guest's PDPTE {i}, read at guest-physical CR3 + {8 * i} "
                    "through the EPT (SDM 27.3.2.4: with EPT the entry loads them from the VMCS)")
    r.expect_eq("guest.pae", pae_digest(nonce32(r)),
                "the guest read its four data pages, one through each PDPTE")
    r.expect_eq("mode.pae", "pae", "the guest was in PAE paging")
    expect_only_vmcalls(r, 2, "a report and the end")
    expect_done(r)


@check(LAB, "ug-real-mode-events", 20, ["08-6"],
       "an external interrupt and #GP injected into a real-mode guest, delivered through its IVT")
def ug_real_mode_events(r):
    n = nonce32(r)
    vector = C["INTERRUPT_BASE"] + (n & 0x3F)
    r.expect_injections(lambda events: events == [(vector, 0), (GP, 0)],
                        f"[{vector:#x}/0x0, 0xd/0x0]",
                        "the interrupt the guest asked for, then #GP, neither with an error code: in "
                        "real mode \"deliver error code\" must be 0 (SDM 27.2.1.3)")
    r.expect_eq("guest.interrupt", n ^ 1 << 16 ^ IF << 4,
                "the guest's IVT handler ran once, saw the IP after the guest's VMCALL and IF = 1 "
                "(an external interrupt, SDM 20.1.4)")
    r.expect_eq("guest.exception", n ^ 1 << 16,
                "the #GP handler ran once and saw the IP after the VMCALL: no error code was pushed")
    r.expect_absent("guest.stray_vector_taken", "no other IVT entry was taken")
    r.expect_eq("mode.exception", "real", "the guest stayed in real mode")
    expect_only_vmcalls(r, 6, "three reports, two hypercalls that ask for events, the end: the "
                        "events themselves cause no exit")
    expect_done(r)


@check(LAB, "ug-entry-checks", 20, ["08-7"],
       "the entry rules of a real-mode unrestricted guest, checked before the entry")
def ug_entry_checks(r):
    want = ",".join(str(C[name]) for name in (
        "UG_STATE_OK", "UG_WITHOUT_EPT", "UG_PG_WITHOUT_PE", "UG_IA32E_WITHOUT_PG", "UG_SS_DPL_NOT_0",
        "UG_VM_IN_REAL_MODE", "UG_ERROR_CODE_IN_REAL_MODE")) + ",0,0,0,0,0"
    r.expect_eq("state.classified", want,
                "ug_check_guest_state() on the check's real-mode state, then one broken rule at a "
                "time: without EPT, PG without PE, IA-32e mode without paging, SS.DPL 3, RFLAGS.VM, "
                "an error code with PE = 0; then sound ones: an error code, RFLAGS.VM or SS.DPL 3 with PE = 1, "
                "IA-32e mode with PE, PG and PAE, and PG without PE when the control is off "
                "(SDM 27.2.1, 27.3.1)")
    expect_done(r)
