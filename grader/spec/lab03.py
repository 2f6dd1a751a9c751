"""Lab 03: CR0/CR4 guest/host masks and read shadows, CLTS/LMSW, CR3 and CR8 exiting.
Guest programs: grader/checks/lab03.c."""
from gradelib import check

LAB = "03"
VEC_NM, VEC_GP = 7, 13
NO_FAULT = 0x100
CR0_PE, CR0_MP, CR0_TS, CR0_NE, CR0_WP = 1 << 0, 1 << 1, 1 << 3, 1 << 5, 1 << 16
CR4_TSD, CR4_VMXE = 1 << 2, 1 << 13


@check(LAB, "cr0-shadow", 25, ["03-1", "03-3", "03-7"],
       "CR0: owned bits read from the shadow, writes emulated, real CR0 kept legal")
def cr0_shadow(r):
    initial = r.int_fact("host.cr0_initial")
    if initial is None:
        return r.expect_eq("host.cr0_initial", "the guest's CR0", "the run ended before the guest started")
    r.expect_eq("cr0.initial", initial, "the read shadow starts as the guest's CR0")
    r.expect_eq("cr0.after_ne_clear", initial & ~CR0_NE,
                "clearing NE (owned) exits; the guest then reads NE = 0 from the shadow")
    r.expect_eq("cr0.smsw", (initial & ~CR0_NE) & 0xFFFF, "SMSW reads the shadow too")
    r.expect_eq("cr0.after_wp", (initial & ~CR0_NE) ^ CR0_WP, "WP is not owned: the write goes through")
    for key, why in (("pg_clear", "clearing PG in IA-32e mode"),
                     ("nw_without_cd", "NW = 1 with CD = 0"), ("high_bits", "bits 63:32 set")):
        r.expect_eq(f"cr0.{key}", VEC_GP, f"MOV to CR0 with {why} raises #GP(0)")
    r.expect_bits("host.guest_cr0", CR0_NE, 0, "the real CR0 keeps NE = 1 (a VMX fixed bit)")
    r.expect_bits("host.cr0_shadow", 0, CR0_NE, "the shadow holds the NE = 0 the guest wrote")
    r.expect("exits.CONTROL_REGISTER_ACCESS", lambda v: int(v, 0) >= 1, "at least 1",
             "a write that changes an owned bit exits")


@check(LAB, "cr4-vmxe", 20, ["03-1", "03-4", "03-7"], "CR4: VMXE hidden and refused, PAE kept, others free")
def cr4_vmxe(r):
    initial = r.int_fact("host.cr4_initial")
    if initial is None:
        return r.expect_eq("host.cr4_initial", "the guest's CR4", "the run ended before the guest started")
    r.expect_eq("cr4.initial", initial & ~CR4_VMXE, "the guest reads CR4.VMXE = 0")
    r.expect_eq("cr4.set_vmxe", VEC_GP, "setting CR4.VMXE exits and raises #GP(0): no nested VMX")
    r.expect_eq("cr4.after_tsd", (initial & ~CR4_VMXE) | CR4_TSD, "TSD is not owned: set without an exit")
    r.expect_eq("cr4.clear_pae", VEC_GP, "clearing PAE in IA-32e mode raises #GP(0)")
    r.expect_eq("cr4.reserved_bit", VEC_GP, "a reserved CR4 bit raises #GP(0)")
    r.expect_bits("host.guest_cr4", CR4_VMXE, 0, "the real CR4 keeps VMXE = 1")
    r.expect_eq("exits.CONTROL_REGISTER_ACCESS", 2, "only the VMXE and PAE writes touch owned bits")


@check(LAB, "clts-lmsw", 20, ["03-5", "03-7"],
       "CLTS and LMSW under the mask: when they exit, and what the real CR0 keeps when not")
def clts_lmsw(r):
    r.expect_eq("ts.start_fpu", VEC_NM, "the check made real TS = 1 with shadow TS = 0: x87 raises #NM")
    r.expect_eq("ts.start_view", 0, "the guest reads TS from the shadow")
    r.expect_eq("ts.clts_no_exit_fpu", VEC_NM,
                "CLTS with TS owned and shadow TS = 0 does not exit and leaves real TS = 1")
    r.expect_eq("ts.set_view", CR0_TS, "setting TS exits; the shadow records it")
    r.expect_eq("ts.clts_exit_view", 0, "CLTS with shadow TS = 1 exits and clears it")
    r.expect_eq("ts.clts_exit_fpu", NO_FAULT, "... in the real CR0 too")
    r.expect_eq("lmsw.ts_view", CR0_TS, "LMSW setting TS exits and is emulated")
    r.expect_eq("lmsw.ts_fpu", VEC_NM, "... real TS = 1")
    r.expect_eq("lmsw.mp_view", CR0_MP, "LMSW changing only MP (not owned) sets the real MP")
    r.expect_eq("lmsw.pe_view", CR0_PE, "LMSW cannot clear PE (this one exits: it clears TS)")
    r.expect_eq("lmsw.pe_ts_view", 0, "... and it does clear TS")
    r.expect_eq("ts.final_fpu", NO_FAULT, "the last CLTS leaves TS = 0")
    r.expect_eq("exits.CONTROL_REGISTER_ACCESS", 4, "MOV to CR0 (TS), CLTS, LMSW (TS set), LMSW (TS clear) exit; the last CLTS finds shadow TS = 0")


@check(LAB, "cr3-exiting", 20, ["03-1", "03-2", "03-6", "03-7"],
       "CR3-load/store exiting and CR3-target values")
def cr3_exiting(r):
    original, target, other = (r.int_fact(f"host.cr3_{k}", f"host.cr3_{k} (not reported)") for k in ("original", "target", "other"))
    r.expect_eq("cr3.read0", original, "MOV from CR3 exits and returns GUEST_CR3")
    r.expect_eq("cr3.read_target", target, "a load of a CR3-target value happens without an exit")
    r.expect_eq("cr3.read_other", other, "a load of another value exits and is emulated")
    r.expect_eq("cr3.read_back", original, "the original CR3 is a target value too")
    r.expect_eq("cr3.beyond_maxphyaddr", VEC_GP, "a CR3 with bits above MAXPHYADDR raises #GP(0)")
    r.expect("exits.CONTROL_REGISTER_ACCESS", lambda v: int(v, 0) in (5, 6), "5 or 6",
             "4 stores and the non-target load exit; the two target loads must not "
             "(the faulting load may fault before exiting)")


@check(LAB, "cr8-exiting", 15, ["03-1", "03-6", "03-7"], "CR8 load/store exiting without a TPR shadow")
def cr8_exiting(r):
    tpr = 1 + r.nonce % 15
    r.expect_eq("cr8.read", tpr, "MOV to CR8 then from CR8: the hypervisor keeps the guest's TPR")
    r.expect_eq("cr8.too_big", VEC_GP, "CR8 above 15 raises #GP(0)")
    r.expect_eq("cr8.read_after", tpr, "the failed write changed nothing")
    r.expect_eq("host.vcpu_cr8", tpr, "the TPR lives in v->cr8")
    r.expect_eq("host.real_cr8", 0, "the host's own CR8 is untouched")
    r.expect("exits.CONTROL_REGISTER_ACCESS", lambda v: int(v, 0) in (3, 4), "3 or 4",
             "every MOV to or from CR8 exits")
