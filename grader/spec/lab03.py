"""Lab 03: CR0/CR4 guest/host masks and read shadows, CLTS/LMSW, CR3 and CR8 exiting.
Guest programs: grader/checks/lab03.c. Every MOV there that may exit names its register, so
the exit qualifications Bochs records (SDM Table 28-3) are listed here exactly."""
import re

from gradelib import C, EXIT_NUMBERS, ROOT, check

LAB = "03"
VEC_UD, VEC_NM, VEC_GP = C["VEC_UD"], C["VEC_NM"], C["VEC_GP"]
NO_FAULT = C["NO_FAULT"]
CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_NE = (C[f"CR0_{b}"] for b in ("PE", "MP", "EM", "TS", "NE"))
CR0_WP, CR0_AM = C["CR0_WP"], C["CR0_AM"]
CR4_TSD, CR4_DE, CR4_VMXE = C["CR4_TSD"], C["CR4_DE"], C["CR4_VMXE"]
LMSW_REGISTER_SOURCE, LMSW_MEMORY_SOURCE = C["LMSW_REGISTER_SOURCE"], C["LMSW_MEMORY_SOURCE"]

# SDM Table 28-3: exit qualification of a control-register access.
MOV_TO_CR, MOV_FROM_CR, CLTS, LMSW = (C[f"CR_ACCESS_{k}"] for k in ("MOV_TO_CR", "MOV_FROM_CR", "CLTS", "LMSW"))
# Register numbers in bits 11:8, in the order of enum gpr (common/include/vmx_exit.h)
GPRS = [name.lower() for name in re.findall(r"\bGPR_(\w+)", (ROOT / "common" / "include" / "vmx_exit.h").read_text())]
CR8_READ_SHIFT = C["CR8_READ_SHIFT"]   # cr8-exiting reads register n's write back through register n + 3
CR3_TARGETS_ANSWERED = C["CR3_TARGETS_ANSWERED"]   # cr3-exiting's IA32_VMX_MISC for cr3_target_add() in the guest


def mov_to(cr, reg):
    return cr | MOV_TO_CR << 4 | GPRS.index(reg) << 8


def mov_from(cr, reg):
    return cr | MOV_FROM_CR << 4 | GPRS.index(reg) << 8


def lmsw(source, memory=False):
    return LMSW << 4 | int(memory) << 6 | source << 16


def cr_qual(q):
    """(control register, access type) of a CR-access qualification (bits 3:0, 5:4)."""
    return q & 0xF, (q >> 4) & 3


def describe(q):
    """A CR-access qualification in words, as Table 28-3 reads it."""
    cr, kind, reg = q & 0xF, (q >> 4) & 3, GPRS[(q >> 8) & 0xF].upper()
    if kind == CLTS:
        return "CLTS"
    if kind == LMSW:
        return f"LMSW 0x{q >> 16:x} ({'memory' if q & 0x40 else 'register'})"
    return f"MOV to CR{cr} from {reg}" if kind == MOV_TO_CR else f"MOV from CR{cr} to {reg}"


def expect_cr_exits(r, want, why):
    """Bochs's record of CONTROL_REGISTER_ACCESS exits must be exactly `want`, in order."""
    got = r.bochs.qualifications(EXIT_NUMBERS["CONTROL_REGISTER_ACCESS"])
    diff = next((i for i in range(max(len(got), len(want)))
                 if i >= len(got) or i >= len(want) or got[i] != want[i]), None)
    if diff is None:
        shown = f"{len(want)} exits"
    elif diff >= len(got):
        shown = f"{len(want)} exits; exit {diff + 1} missing: {describe(want[diff])}"
    elif diff >= len(want):
        shown = f"{len(want)} exits; exit {diff + 1} must not happen: {describe(got[diff])}"
    else:
        shown = f"{len(want)} exits; exit {diff + 1}: {describe(want[diff])}, not {describe(got[diff])}"
    r.expect_exits("CONTROL_REGISTER_ACCESS", lambda quals: quals == want, shown, why)


def expect_gp_injections(r, count, why, then=()):
    """Bochs's record of injected events: `count` times #GP with error code 0, then `then`."""
    got, want = r.bochs.injections, [(VEC_GP, 0)] * count + list(then)
    r.expect_that("Bochs's record: injected (vector, error code)", got == want,
                  ", ".join(f"({v:#x}, {e:#x})" for v, e in got) or "none",
                  ", ".join(f"({v:#x}, {e:#x})" for v, e in want), why)


def expect_gp_at_instruction(r, prefix):
    r.expect_eq(f"{prefix}.gp_rip_offset", 0, "the #GP is injected with RIP unchanged: it reports the "
                "MOV itself, which did not complete (skip the instruction only when it is emulated)")
    r.expect_eq(f"{prefix}.gp_error_code", 0, "MOV to a control register raises #GP(0): error code 0")


@check(LAB, "cr0-shadow", 20, ["03-1", "03-3", "03-7"],
       "CR0: owned bits read from the shadow, emulated writes land in both shadow and real CR0")
def cr0_shadow(r):
    initial, fixed0 = r.int_fact("host.cr0_initial"), r.int_fact("fixed.cr0_fixed0")
    if initial is None or fixed0 is None:
        return r.expect_eq("host.cr0_initial", "the guest's CR0", "the run ended before the guest started")
    r.expect_eq("cr0.initial", initial, "the read shadow starts as the guest's CR0")
    ne_clear = initial & ~CR0_NE
    r.expect_eq("cr0.after_ne_clear", ne_clear,
                "clearing NE (owned) exits; the guest then reads NE = 0 from the shadow (SDM 26.3)")
    r.expect_eq("cr0.smsw", ne_clear & 0xFFFF, "SMSW reads the shadow too")
    r.expect_eq("cr0.after_wp", ne_clear ^ CR0_WP, "WP is not owned: the write goes through without an exit")
    last = ne_clear ^ CR0_TS ^ CR0_AM
    r.expect_eq("cr0.after_ts_am_wp", last,
                "a write that changes TS (owned) exits; its AM and WP (guest-owned, read from the real "
                "CR0) must reach GUEST_CR0 too")
    r.expect_eq("host.cr0_shadow", last, "the shadow holds the whole value the guest last wrote")
    r.expect_eq("host.guest_cr0", last | fixed0,
                "the real CR0 is the guest's value with the CR0 fixed bits set (PE, NE, PG: SDM 24.8)")
    expect_cr_exits(r, [mov_to(0, "r13"), mov_to(0, "r9")],
                    "a MOV to CR0 exits exactly when it changes an owned bit away from the shadow "
                    "(SDM 26.1.3): NE and TS here, not the WP flip")


@check(LAB, "cr0-faults", 15, ["03-3", "03-7"],
       "CR0: the #GP rules of MOV to CR0, enforced by the hypervisor when the write exits; a legal "
       "write among them emulated")
def cr0_faults(r):
    initial, fixed0 = r.int_fact("host.cr0_initial"), r.int_fact("fixed.cr0_fixed0")
    if initial is None or fixed0 is None:
        return r.expect_eq("host.cr0_initial", "the guest's CR0", "the run ended before the guest started")
    for key, why in (("high_bits", "bits 63:32 set"), ("nw_without_cd", "NW = 1 with CD = 0")):
        r.expect_eq(f"cr0.{key}", VEC_GP, f"MOV to CR0 with {why} raises #GP(0) (SDM Vol. 2, MOV CR); "
                    "this write exits because it changes an owned bit, so the hypervisor must raise it")
    expect_gp_at_instruction(r, "cr0")
    legal = (initial ^ CR0_TS) & ~CR0_NE
    r.expect_eq("cr0.legal_write", NO_FAULT,
                "flipping TS and clearing NE breaks no #GP rule of MOV to CR0: the write exits "
                "(TS and NE are owned) and must be emulated, not refused")
    r.expect_eq("cr0.after_legal", legal,
                "after the legal write the guest reads its new TS and NE = 0 from the shadow (SDM 26.3)")
    for key, why in (("pg_without_pe", "PG = 1 with PE = 0"), ("pg_clear", "PG cleared in IA-32e mode")):
        r.expect_eq(f"cr0.{key}", VEC_GP, f"MOV to CR0 with {why} raises #GP(0) (SDM Vol. 2, MOV CR); "
                    "this write exits because it changes an owned bit, so the hypervisor must raise it")
    r.expect_eq("cr0.nw_without_cd_no_exit", VEC_GP,
                "with no owned bit changed the write does not exit: the processor raises #GP itself")
    r.expect_eq("cr0.final", legal, "a refused write changes nothing the guest can read: CR0 stays "
                "as the legal write left it")
    r.expect_eq("host.cr0_shadow", legal, "the shadow holds the value of the legal write; the refused "
                "writes leave it alone")
    r.expect_eq("host.guest_cr0", legal | fixed0,
                "the real CR0 is the legal write's value with the CR0 fixed bits set (NE stays 1: "
                "SDM 24.8); the refused writes leave it alone")
    expect_cr_exits(r, [mov_to(0, "r13")] * 2 + [mov_to(0, "r10")] + [mov_to(0, "r13")] * 2,
                    "each of the 4 faulting writes changes an owned bit (NE, PE or PG) and exits, and "
                    "so does the legal write (TS, NE)")
    expect_gp_injections(r, 4, "the hypervisor injects #GP(0) once per refused write, never for the "
                         "legal one; the processor raises the fifth #GP itself")


@check(LAB, "cr4-vmxe", 15, ["03-1", "03-4", "03-7"], "CR4: VMXE hidden and refused, PAE kept, #GP rules, others free")
def cr4_vmxe(r):
    initial = r.int_fact("host.cr4_initial")
    if initial is None:
        return r.expect_eq("host.cr4_initial", "the guest's CR4", "the run ended before the guest started")
    view = initial & ~CR4_VMXE
    r.expect_eq("cr4.initial", view, "the guest reads CR4.VMXE = 0: the shadow hides VMX")
    r.expect_eq("cr4.set_vmxe", VEC_GP, "setting CR4.VMXE exits and raises #GP(0): no nested VMX")
    r.expect_eq("cr4.after_tsd", view | CR4_TSD, "TSD is not owned: set without an exit")
    r.expect_eq("cr4.clear_pae", VEC_GP, "clearing PAE in IA-32e mode raises #GP(0) (SDM 10.8.5)")
    r.expect_eq("cr4.reserved_bit", VEC_GP,
                "a CR4 bit that IA32_VMX_CR4_FIXED1 has 0 is reserved: setting it raises #GP(0) "
                "(this write exits: the check owns DE too and flips it)")
    last = view ^ CR4_DE ^ CR4_TSD
    r.expect_eq("cr4.de_tsd", NO_FAULT, "flipping DE and TSD is a legal write")
    r.expect_eq("cr4.after_de_tsd", last, "the emulated write shows in the shadow (DE) and the real CR4 (TSD)")
    r.expect_eq("cr4.user_rdtsc", VEC_GP,
                "the real CR4 got the guest-owned TSD of the emulated write: RDTSC at CPL 3 raises #GP")
    r.expect_eq("host.cr4_shadow", last, "the shadow holds the whole value the guest last wrote")
    r.expect_eq("host.guest_cr4", last | r.int_fact("fixed.cr4_fixed0", CR4_VMXE),
                "the real CR4 is that value with the CR4 fixed bits set (VMXE: SDM 24.8)")
    expect_cr_exits(r, [mov_to(4, "r14")] * 4,
                    "only the writes that change VMXE, PAE or DE (owned) exit, not the TSD flips")
    expect_gp_injections(r, 3, "the VMXE, PAE and reserved-bit writes get #GP(0) from the hypervisor")


@check(LAB, "clts-lmsw", 20, ["03-5", "03-7"],
       "CLTS and LMSW under the mask: when they exit, and what they change")
def clts_lmsw(r):
    initial = r.int_fact("host.cr0_initial", 0)
    start = initial & C["CR0_VIEW"] & ~(CR0_TS | CR0_NE)     # the check set shadow TS = NE = 0
    r.expect_eq("ts.start_fpu", VEC_NM, "the check made real TS = 1 with shadow TS = 0: x87 raises #NM")
    r.expect_eq("ts.start_view", start, "the guest reads TS and NE from the shadow")
    r.expect_eq("ts.clts_no_exit_fpu", VEC_NM,
                "CLTS with TS owned and shadow TS = 0 does not exit and leaves real TS = 1 (SDM 26.3)")
    r.expect_eq("ts.set_view", start | CR0_TS, "setting TS exits; the shadow records it")
    r.expect_eq("ts.clts_exit_fault", NO_FAULT, "CLTS never faults at CPL 0: access type 2 (bits 5:4) is "
                "CLTS, not a MOV to CR0 from a register")
    r.expect_eq("ts.clts_exit_view", start,
                "CLTS with shadow TS = 1 exits and clears TS only: it starts from the guest's view "
                "of CR0 (shadow NE = 0), not from the real CR0")
    r.expect_eq("ts.clts_exit_fpu", NO_FAULT, "... in the real CR0 too")
    r.expect_eq("lmsw.reg_fault", NO_FAULT, "LMSW 0xfffb is legal")
    r.expect_eq("lmsw.reg_view", CR0_PE | CR0_MP | CR0_TS,
                "LMSW loads bits 3:0 of its source only (source 0xfffb: NE stays 0), guest-owned MP included")
    r.expect_eq("lmsw.reg_fpu", VEC_NM, "... real TS = 1")
    r.expect_eq("lmsw.mp_view", CR0_PE | CR0_TS, "LMSW changing only MP (not owned) does not exit")
    r.expect_eq("lmsw.memory_fault", NO_FAULT,
                "LMSW with PE = 0 in its source is legal: LMSW never clears PE")
    r.expect_eq("lmsw.memory_view", CR0_PE | CR0_MP,
                "LMSW from memory (source 0xabc2 in qualification bits 31:16): PE stays 1, MP = 1, TS = 0")
    r.expect_eq("ts.final_fpu", NO_FAULT, "the last CLTS finds shadow TS = 0 and real TS = 0")
    r.expect_bits("host.cr0_shadow", 0, CR0_NE, "the shadow keeps the guest's NE = 0: CLTS and LMSW never change NE")
    r.expect_bits("host.cr0_shadow", CR0_PE | CR0_MP, CR0_TS,
                  "the last emulated LMSW (source 0xabc2) left PE = 1, MP = 1, TS = 0 in the shadow")
    r.expect_bits("host.guest_cr0", CR0_PE | CR0_MP | CR0_NE, CR0_TS, "the real CR0 keeps NE = 1")
    expect_cr_exits(r, [mov_to(0, "r10"), CLTS << 4, lmsw(LMSW_REGISTER_SOURCE), lmsw(LMSW_MEMORY_SOURCE, memory=True)],
                    "MOV to CR0 (TS), CLTS (shadow TS = 1) and the two LMSWs that change TS exit; CLTS "
                    "with shadow TS = 0 and LMSW changing only MP do not (SDM 26.1.3)")


@check(LAB, "cr3-exiting", 15, ["03-1", "03-2", "03-6", "03-7"],
       "CR3-load/store exiting and CR3-target values")
def cr3_exiting(r):
    original, first_target, last_target, other = (
        r.int_fact(f"host.cr3_{k}", f"host.cr3_{k} (not reported)")
        for k in ("original", "target_first", "target_last", "other"))
    supported = r.int_fact("host.cr3_targets_supported", "host.cr3_targets_supported (not reported)")
    r.expect_eq("host.cr3_target_count", supported,
                "the guest's CR3 and the check's 3 values fill every CR3-target value the processor "
                "has (IA32_VMX_MISC bits 24:16): CR3_TARGET_COUNT counts them")
    r.expect_eq("cr3.read0", original, "MOV from CR3 exits and returns GUEST_CR3 (to R9)")
    r.expect_eq("cr3.read_target", first_target, "a load of a CR3-target value happens without an exit (read to RSP)")
    r.expect_eq("cr3.read_target_last", last_target, "... the last one too")
    r.expect_eq("cr3.read_other", other, "a load of another value (from RSP) exits and is emulated")
    r.expect_eq("cr3.read_back", original, "the original CR3 is a target value too")
    r.expect_eq("cr3.beyond_maxphyaddr", VEC_GP,
                "a CR3 with the bit at MAXPHYADDR (CPUID 80000008H:EAX[7:0]) set raises #GP(0)")
    expect_gp_at_instruction(r, "cr3")
    r.expect_eq("cr3.read_after", original, "the refused load changed nothing")
    expect_cr_exits(r, [mov_from(3, "r9"), mov_from(3, "rsp"), mov_from(3, "r15"), mov_to(3, "rsp"),
                        mov_from(3, "r8"), mov_from(3, "rcx"), mov_to(3, "r13"), mov_from(3, "rdx")],
                    "every MOV from CR3 exits (CR3-store exiting), every load of a value that is not "
                    "a CR3-target value exits (CR3-load exiting), and the 4 target loads do not")
    expect_cr3_target_limit(r)
    expect_gp_injections(r, 1, "the load beyond MAXPHYADDR gets #GP(0) from the hypervisor (then the "
                         "check turns the shutdown of cr3_target_add()'s two panics into #UD)",
                         then=[(VEC_UD, 0)] * 2)


def expect_cr3_target_limit(r):
    """cr3_target_add() run in the guest on the check's own VMCS and IA32_VMX_MISC."""
    supported = r.int_fact("host.cr3_targets_supported", "host.cr3_targets_supported (not reported)")
    r.expect_eq("cr3_add.full.unsupported_field", "none",
                "with all n CR3-target values in use (n = IA32_VMX_MISC bits 24:16), one more "
                "cr3_target_add() must be refused before it writes a field past CR3-target value n-1 "
                "(here the VMCS has no such field): a CR3_TARGET_COUNT above n makes VM entry fail "
                "(SDM 25.6.7, A.6)")
    r.expect_eq("cr3_add.full.panicked", 1, "... and panic() itself, not return or carry on")
    r.expect("cr3_add.full.console", lambda v: "PANIC" in v and "VMX:" not in v,
             "the step's own PANIC line, no failed VMWRITE before it",
             "the panic must come from cr3_target_add(), not from a VMWRITE that failed")
    r.expect_eq("cr3_add.full.count", supported, "the refused call leaves CR3_TARGET_COUNT at n")
    r.expect_eq("cr3_add.answered.panics", 1 << CR3_TARGETS_ANSWERED,
                f"bit i set: call i panicked. With IA32_VMX_MISC answering {CR3_TARGETS_ANSWERED} "
                f"CR3-target values, calls 0-{CR3_TARGETS_ANSWERED - 1} fill them and call "
                f"{CR3_TARGETS_ANSWERED} must panic: n comes from IA32_VMX_MISC bits 24:16, and a count "
                "above n fails VM entry (SDM 25.6.7, A.6)")
    r.expect_eq("cr3_add.answered.count", CR3_TARGETS_ANSWERED, "CR3_TARGET_COUNT stops at n")
    for i in range(2):
        r.expect_eq(f"cr3_add.answered.value{i}", ((r.nonce + i) & 0xFFFFFF) << 12,
                    f"call {i} stores its value in CR3-target value {i}")


@check(LAB, "cr8-exiting", 15, ["03-1", "03-6", "03-7"], "CR8 load/store exiting without a TPR shadow")
def cr8_exiting(r):
    tpr = 1 + r.nonce % 15
    for kind, control in ((MOV_FROM_CR, "CR8-store"), (MOV_TO_CR, "CR8-load")):
        got = [q for q in r.bochs.qualifications(EXIT_NUMBERS["CONTROL_REGISTER_ACCESS"])
               if cr_qual(q) == (8, kind)]
        what = "MOV from CR8" if kind == MOV_FROM_CR else "MOV to CR8"
        r.expect_that(f"Bochs's record: {what} exits", bool(got), len(got), "at least one",
                      f"{control} exiting on, no TPR shadow: every {what} exits (SDM 25.6.2, 26.1.3)")
    r.expect_eq("cr8.initial", 0, "the guest's TPR starts at 0")
    r.expect_eq("cr8.wrong_registers", 0,
                "bit n set: a TPR (0-14) written through general register n did not come back through "
                f"register n + {CR8_READ_SHIFT}: bits 11:8 of the qualification name the register, "
                "0-15, with 4 = RSP in GUEST_RSP")
    r.expect_eq("cr8.max_fault", NO_FAULT, "15 is a legal TPR: MOV to CR8 raises #GP(0) only above 15")
    r.expect_eq("cr8.max", 15, "... and reads back as 15")
    r.expect_eq("cr8.read", tpr, "MOV to CR8 then from CR8: the hypervisor keeps the guest's TPR")
    r.expect_eq("cr8.too_big", VEC_GP, "CR8 above 15 raises #GP(0): bits 63:4 are reserved")
    expect_gp_at_instruction(r, "cr8")
    r.expect_eq("cr8.bit32", VEC_GP, "... bit 32 too (all 64 bits count)")
    r.expect_eq("cr8.read_after", tpr, "the failed writes changed nothing")
    r.expect_eq("host.vcpu_cr8", tpr, "the TPR lives in the vCPU's lab 03 state")
    r.expect_eq("host.real_cr8", 0, "the host's own CR8 (the local APIC's TPR) is untouched")
    sweep = []
    for n in range(16):
        sweep += [mov_to(8, GPRS[n]), mov_from(8, GPRS[(n + CR8_READ_SHIFT) % 16])]
    expect_cr_exits(r, [mov_from(8, "r10")] + sweep +
                    [mov_to(8, "r11"), mov_from(8, "r12"), mov_to(8, "r9"), mov_from(8, "rbx"),
                     mov_to(8, "r13"), mov_to(8, "r13"), mov_from(8, "rdi")],
                    "every MOV to or from CR8 exits (CR8-load and CR8-store exiting, no TPR shadow)")
    expect_gp_injections(r, 2, "the writes of 16 and of bit 32 get #GP(0) from the hypervisor")
