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


def expect_vga_row(r):
    r.expect_eq("bios.vga_row", f"vmx-labs: a real-mode guest prints through the BIOS, nonce {nonce32(r):08x}",
                "the guest printed this with INT 10h AH = 0Eh on row 12: the machine's video BIOS ran as "
                "guest code and wrote the VGA text screen, which the hypervisor passes through")


def e820_map():
    """The map ug_e820_answer() gives: the guest's RAM usable, the rest of the machine's RAM
    (the hypervisor's) reserved."""
    ram, machine = C["UG_RAM_SIZE"], C["UG_MACHINE_RAM"]
    entries = [(0, C["E820_EBDA"], 1), (C["E820_EBDA"], 0xA0000 - C["E820_EBDA"], 2),
               (C["E820_BIOS"], 0x100000 - C["E820_BIOS"], 2), (0x100000, ram - 0x100000, 1),
               (ram, machine - ram, 2)]
    return ",".join(f"{b:#x}+{n:#x}:{t}" for b, n, t in entries)


def other_start(nonce):
    """lab08.c probe_other_start: CS, CS base, RIP, RSP of ug_setup_real_mode(v, cs, ip, sp)."""
    cs, ip, sp = 0x1000 | nonce & 0xFFF, nonce >> 12 & 0xFFFE, 0x1000 | nonce >> 20 & 0xFFE
    return f"{cs:#x}:{cs << 4:#x}:{ip:#x}:{sp:#x}"


def real_why(r):
    """What a wrong guest.real means: the guest folds in CR0.NE and CR4.VMXE as it reads them."""
    seen = r.int_fact("guest.real")
    extra = None if seen is None else (seen ^ nonce32(r) ^ C["REAL_XOR"])
    if extra and not extra & ~(CR0_NE | CR4_VMXE):
        shown = " and ".join(n for b, n in ((CR0_NE, "CR0.NE"), (CR4_VMXE, "CR4.VMXE")) if extra & b)
        return (f"the guest's MOV from CR0/CR4 read {shown} = 1: the hypervisor owns these bits, and "
                "the read shadow shows the guest the value it would have after reset, 0 (08-3, SDM 25.6.6)")
    return "the guest ran its 16-bit code at 0x7C00 and read the nonce through DS = 0"


def e820_why(r):
    """What a wrong guest.e820_count means."""
    seen = r.int_fact("guest.e820_count") or 0
    if seen & C["E820_BAD_SIGNATURE_ANSWERED"]:
        return ("a call with EDX != \"SMAP\" was answered with CF = 0: a call without the signature "
                "is an error, CF = 1 (ACPI, E820h; 08-10)")
    if seen & C["E820_SHORT_BUFFER_ANSWERED"]:
        return ("a call with ECX = 19, smaller than an entry, was answered with CF = 0: it is an "
                "error, CF = 1 (08-10)")
    return ("five E820h calls, each answered (CF = 0, EAX = \"SMAP\", ECX = 20, the entry at ES:DI with "
            "DI 16 bits), the last with EBX = 0; the guest's EDI has a nonzero high half")


def expect_only_vmcalls(r, count, why):
    reasons = r.bochs.reasons()
    r.expect_that("Bochs's record of VM exits", reasons == [VMCALL] * count,
                  ", ".join(str(x) for x in reasons[:12]) + (", ..." if len(reasons) > 12 else ""),
                  f"{count} exits, all VMCALL (18)", why)


@check(LAB, "ug-real-mode", 15, ["08-1", "08-2"],
       "a real-mode guest at 0000:7C00, as a BIOS leaves a boot sector, entered with unrestricted guest")
def ug_real_mode(r):
    r.expect_bits("ug.controls.secondary", CPU2_ENABLE_EPT | CPU2_UNRESTRICTED_GUEST, 0,
                  "\"unrestricted guest\" (secondary bit 7) on, with \"enable EPT\" (bit 1) (SDM 27.2.1.1)")
    r.expect_eq("start.cs", "0x0:0x0:0x7c00", "CS selector 0, base selector * 16 = 0, IP 0x7C00")
    r.expect_bits("start.cr0", CR0_NE, CR0_PE | CR0_PG,
                  "CR0 with PE = 0 and PG = 0 (real mode), NE = 1 (still fixed, SDM 27.3.1.1)")
    r.expect_eq("start.rflags", 2, "RFLAGS = 2: bit 1 is always 1, IF = 0, VM = 0")
    r.expect_eq("start.other", other_start(nonce32(r)),
                "ug_setup_real_mode(v, cs, ip, sp) with another cs, ip and sp: CS = cs with base "
                "cs * 16 (a real-mode address is base + offset, SDM 21.1.1), RIP = ip, RSP = sp")
    r.expect_eq("start.segments", ",".join(["0x0:0x0:0xffff"] * 5),
                "SS, DS, ES, FS, GS (selector:base:limit): selector 0, base 0, limit 0xFFFF, each of them "
                "overwritten (lab 01 left a 64-bit guest's segments there)")
    r.expect_eq("guest.real", nonce32(r) ^ C["REAL_XOR"], real_why(r))
    r.expect_eq("mode.real", "real", "the guest was in real mode (CR0.PE = 0) when it reported")
    expect_only_vmcalls(r, 2, "a report and the end: nothing else exits")
    expect_done(r)


@check(LAB, "ug-mode-walk", 20, ["08-3", "08-4"],
       "the guest walks from real mode to protected mode, PAE paging and IA-32e mode by itself")
def ug_mode_walk(r):
    n = nonce32(r)
    expect_only_vmcalls(r, 5, "only the guest's four reports and its end exit: its MOVs to CR0, CR3 "
                        "and CR4, its MOV from CR3 and its WRMSR to IA32_EFER are the processor's to do under "
                        "\"unrestricted guest\" (SDM 26.6); a hypervisor that owns CR0.PE/PG or "
                        "CR4.PAE, or keeps CR3-load or CR3-store exiting, makes them exit")
    for key, mode, value in (("real", "real", n ^ C["REAL_XOR"]),
                             ("protected", "protected", n ^ C["PROTECTED_XOR"]),
                             ("pae", "pae", pae_digest(n)),
                             ("ia32e", "ia32e", n ^ C["IA32E_XOR"] ^ data_word(n, 0))):
        r.expect_eq(f"guest.{key}", value, real_why(r) if key == "real" else f"the guest computed this in {mode} mode")
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


@check(LAB, "ug-pae-pdptes", 10, ["08-5"],
       "a guest the hypervisor puts into PAE paging: its four PDPTEs from the VMCS")
def ug_pae_pdptes(r):
    n = nonce32(r)
    pdpt = C["UG_PAE_PDPT"] + C["PAE_PDPT_SIZE"] * (1 + n % C["PAE_PDPT_SLOTS"])
    for i in range(4):
        r.expect_eq(f"pdpte.{i}", C["UG_PD"] + i * 0x1000 | (n >> 4 + 2 * i & 3) << 3 | 1,
                    f"GUEST_PDPTE{i} = the guest's PDPTE {i}, read at guest-physical {pdpt + 8 * i:#x}: "
                    f"CR3 = {pdpt | 0x18:#x}, whose bits 31:5 locate the PDPT (bits 4:0 are ignored, "
                    "SDM 5.4.1), through the EPT (SDM 27.3.2.4: with EPT the entry loads them from the VMCS)")
    r.expect_eq("guest.pae", pae_digest(nonce32(r)),
                "the guest read its four data pages, one through each PDPTE")
    r.expect_eq("mode.pae", "pae", "the guest was in PAE paging")
    expect_only_vmcalls(r, 2, "a report and the end")
    expect_done(r)


@check(LAB, "ug-real-mode-events", 15, ["08-6"],
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
                "(an external interrupt, SDM 21.1.4)")
    r.expect_eq("guest.exception", n ^ 1 << 16,
                "the #GP handler ran once and saw the IP after the VMCALL: no error code was pushed")
    r.expect_absent("guest.stray_vector_taken", "no other IVT entry was taken")
    r.expect_eq("inject.interrupt_info", 1 << 31 | vector,
                "the interruption-information field for the interrupt: valid, type 0 (external "
                "interrupt), no error code (SDM 25.8.3)")
    code = n & 0xFFF8
    hw, sw, ext = 3 << 8, 4 << 8, 0
    want = [(hw | GP | 1 << 11, code), (hw | 14 | 1 << 11, code), (hw | 6, 0), (sw | GP, 0), (ext | GP, 0)]
    r.expect_eq("inject.protected", ",".join(f"{1 << 31 | info:#x}/{ec:#x}" for info, ec in want),
                "ug_inject_event() for the same guest with CR0.PE = 1 (info/error code): #GP and #PF "
                "with their error code, #UD, INT 0Dh and external interrupt 0Dh without one: "
                "\"deliver error code\" exactly for a hardware exception that has one (SDM 27.2.1.3, 6.3.1)")
    r.expect_eq("mode.exception", "real", "the guest stayed in real mode")
    expect_only_vmcalls(r, 6, "three reports, two hypercalls that ask for events, the end: the "
                        "events themselves cause no exit")
    expect_done(r)


@check(LAB, "ug-entry-checks", 10, ["08-7"],
       "the entry rules of a real-mode unrestricted guest, checked before the entry")
def ug_entry_checks(r):
    want = ",".join(str(C[name]) for name in (
        "UG_STATE_OK", "UG_WITHOUT_EPT", "UG_PG_WITHOUT_PE", "UG_IA32E_WITHOUT_PG", "UG_SS_DPL_NOT_0",
        "UG_VM_IN_REAL_MODE", "UG_ERROR_CODE_IN_REAL_MODE")) + ",0,0,0,0,0,0,0," + str(C["UG_IA32E_WITHOUT_PG"])
    r.expect_eq("state.classified", want,
                "ug_check_guest_state() on the check's real-mode state, then one broken rule at a "
                "time: without EPT, PG without PE, IA-32e mode without paging, SS.DPL 3, RFLAGS.VM, "
                "an error code with PE = 0; then sound ones: an error code, RFLAGS.VM or SS.DPL 3 with PE = 1, "
                "IA-32e mode with PE, PG and PAE, PG without PE when the control is off or \"activate "
                "secondary controls\" is 0, an error code in an event that is not valid; last, IA-32e "
                "mode with PE and PG but without PAE "
                "(SDM 27.2.1, 27.3.1)")
    expect_only_vmcalls(r, 2, "the check restores the state after each sample: the guest runs "
                        "as in ug-real-mode")
    expect_done(r)


def expect_bios(r, reports):
    """`reports`: the guest's VMCALLs besides its seven E820h calls (two that fail, five entries)."""
    n = nonce32(r)
    r.expect_that("Bochs's record: VMCALL exits", r.bochs.count(VMCALL) == reports + 7, r.bochs.count(VMCALL),
                  reports + 7, f"the guest's {reports} reports and its end, and its seven E820h calls "
                  "through the hook: the BIOS answers every other service as guest code, without the "
                  "hypervisor")
    expect_vga_row(r)
    r.expect_eq("guest.disk", n ^ C["PARAMS_MAGIC_LOW"],
                "INT 13h AH = 42h read sector 1 of the boot disk (the grader's parameter sector: magic "
                "and this run's nonce) into the guest's memory: the disk's ports pass through")
    r.expect_eq("guest.e820_count", 5, e820_why(r))
    r.expect_eq("bios.e820", e820_map(),
                "the map the guest received: its own RAM usable, the machine's RAM beyond it (the "
                "hypervisor's) reserved; the BIOS's own map would call all 128 MiB usable")
    machine_mib = C["UG_MACHINE_RAM"] >> 20
    r.expect_eq("guest.e801", 0x3C00 | ((machine_mib - 16) << 4) << 16,
                "INT 15h AX = E801h is not E820h: the hook passed it on to the BIOS, which answered "
                "AX = 15 MiB in KiB, BX = the RAM above 16 MiB in 64-KiB blocks")
    r.expect_eq("bios.ports", "0x92=0x2", "the guest's write to port 0x92 exited and reached the "
                "check's stand-in, not the machine's A20 and reset logic")
    r.expect_eq("bios.shutdown_port", "Shutdown", "the APM power-off string rombios writes to port "
                "0x8900 exited byte by byte: Bochs was not powered off")
    ports = [0x60, 0x64, *range(0x400, 0x404), *range(0x500, 0x504), 0xCF9, 0x92] + [0x8900] * 8
    r.expect_exits("IO_INSTRUCTION", lambda qs: [q >> 16 for q in qs] == ports,
                   "ports [0x60, 0x64, 0x400-0x403, 0x500-0x503, 0xcf9 (the guest reads each), 0x92, "
                   "0x8900 x 8]", "each machine-wide port exits, and only those: the BIOS's own I/O "
                   "(disk, VGA, timers) passes through, whatever the bitmaps held before (SDM 25.6.4)")
    others = sorted({x for x in r.bochs.reasons() if x not in (VMCALL, 30)})
    r.expect_that("Bochs's record: other exit reasons", not others, others, "none",
                  "a BIOS guest needs no other exit")


@check(LAB, "ug-bios-services", 20, ["08-8", "08-9", "08-10"],
       "the machine's BIOS as guest code: INT 10h, 13h and 15h, the E820h hook, the ports kept back")
def ug_bios_services(r):
    expect_bios(r, 5)
    r.expect_eq("mode.e801", "real", "the guest called the BIOS in real mode")
    expect_done(r)


@check(LAB, "ug-bios-demo", 10, ["08-2", "08-3", "08-4", "08-8", "08-9", "08-10"],
       "make run's demo: the guest prints through the BIOS, then walks up to IA-32e mode")
def ug_bios_demo(r):
    n = nonce32(r)
    expect_bios(r, 8)
    r.expect_eq("guest.ia32e", n ^ C["IA32E_XOR"] ^ data_word(n, 0), "the guest reached IA-32e mode")
    r.expect_eq("mode.ia32e", "ia32e", "the VMCS saved it in IA-32e mode")
    r.expect_eq("efer.ia32e", EFER_LME | EFER_LMA, "with IA32_EFER.LME and LMA")
    expect_done(r)
