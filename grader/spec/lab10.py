"""Lab 10: VM functions (EPTP switching) and virtualization exceptions. The guest
(grader/checks/lab10_guest.S) runs in lab 07's guest-physical space with its own #VE and #UD
handlers; the values it reads are modelled here from the nonce. The views come from the grader's
own walk of the EPTs the EPTP list names; exits, their qualifications and injections from
Bochs's record."""
from gradelib import C, check

LAB = "10"
MASK64 = 2**64 - 1
WB_4LEVEL_AD = 6 | 3 << 3 | 1 << 6      # EPTP bits 6:0 (Table 25-9): WB, walk length 4, A/D
READ, WRITE, FETCH = 1, 2, 4
ALLOWED_R = 1 << 3
LINEAR_VALID, FINAL = 1 << 7, 1 << 8
QUAL_COMPARED = 0x1BF                   # Table 28-7 bits 0-5, 7, 8
R, W, X = 1, 2, 4


def view_values(nonce):
    return (nonce * C["VF_VIEW0_MUL"]) & MASK64, (nonce * C["VF_VIEW1_MUL"]) & MASK64


def rotl(x, n):
    return ((x << n) | (x >> (64 - n))) & MASK64


def expect_done(r):
    r.expect_eq("guest.done", r.nonce ^ C["DONE_XOR"], "the guest ran to its end and said so with a value "
                "from the nonce")


def expect_no_exits(r, reason, why):
    r.expect_exits(reason, lambda qs: not qs, "none", why)


def expect_views(r, view0_rights, view1_rights, why):
    """The leaf of the page in each view, by the grader's walk from each EPTP of the list."""
    v0, v1 = r.int_fact("views.view0_hpa", 0), r.int_fact("views.view1_hpa", 0)
    r.expect_eq("views.view0_leaf", v0 | view0_rights, f"view 0 (EPTP-list entry 0): {why[0]}")
    r.expect_eq("views.view1_leaf", v1 | view1_rights, f"view 1 (EPTP-list entry 1): {why[1]}")


def expect_enabled(r):
    r.expect_bits("views.secondary_controls", 1 << 13, 0,
                  "\"enable VM functions\" (secondary bit 13) must be on (SDM 25.6.2)")
    r.expect_bits("views.vm_function_controls", 1, 0,
                  "VM-function control bit 0 enables EPTP switching (SDM 25.6.14)")
    r.expect_eq("views.list_address_is_list", 1, "EPTP_LIST_ADDRESS holds the list's address")
    r.expect_eq("views.added", 1, "the first view ept_view_add() adds is EPTP-list entry 1 (entry 0 is "
                "the EPT the vCPU had)")
    r.expect_eq("views.eptp1_low", WB_4LEVEL_AD, "EPTP-list entry 1 is an EPT pointer as EPT_POINTER is: "
                "WB, a 4-level walk, A/D as on (SDM 26.5.6.3: VMFUNC applies the VM-entry checks)")
    reads = r.bochs.msr_reads_after_boot(C["MSR_IA32_VMX_VMFUNC"])
    r.expect_that("Bochs's record of RDMSR IA32_VMX_VMFUNC (0x491)", bool(reads), len(reads), "at least 1",
                  "EPTP switching is used only if the processor offers it (SDM A.11)")


@check(LAB, "vmfunc-switch", 25, ["10-1", "10-2", "10-3"],
       "EPTP switching: VMFUNC moves the guest between two EPT views without a VM exit")
def vmfunc_switch(r):
    first, second = view_values(r.nonce)
    expect_enabled(r)
    r.expect_eq("guest.view_first", first, "in view 0 the page is the guest's RAM page")
    r.expect_eq("guest.view_switched", second,
                "after VMFUNC(0, 1) the same guest-physical page is view 1's host page (SDM 26.5.6.3)")
    r.expect_eq("guest.view_back", first, "after VMFUNC(0, 0) view 0 again, unchanged by the copy")
    expect_views(r, R | W | X, R | W | X, ("the guest's RAM page", "a host page of its own, in tables of "
                                           "its own: view 0 is unchanged"))
    r.expect_eq("views.lab07_pml4_is_view0", 1, "lab07(v)->pml4 is view 0's table again after "
                "ept_view_map(): lab 07's steps (demand paging, write protection) work on view 0")
    r.expect_eq("views.eptp_index", 0, "VMFUNC wrote each index into the EPTP-index field: 0 at the end")
    r.expect_eq("views.eptp_is_list_entry", 1, "EPT_POINTER is the list entry the EPTP index names")
    expect_no_exits(r, "VMFUNC", "a valid EPTP switch never exits")
    expect_no_exits(r, "EPT_VIOLATION", "both views map every page the guest reads")
    expect_done(r)


@check(LAB, "vmfunc-invalid", 19, ["10-4"],
       "VMFUNCs the processor refuses exit (reason 59); the guest gets #UD and keeps its view")
def vmfunc_invalid(r):
    first, _ = view_values(r.nonce)
    r.expect_exits("VMFUNC", lambda qs: qs == [0, 0, 0], "[0x0, 0x0, 0x0]",
                   "an index >= 512, an entry that is no valid EPTP and a function the VM-function "
                   "controls do not enable each exit with reason 59, qualification 0 (SDM 26.5.6)")
    r.expect_eq("host.vmfunc_failures", 3, "the handler saw the three exits")
    r.expect_injections(lambda ev: [e for e in ev if e[0] == C["VEC_UD"]] == [(C["VEC_UD"], 0)] * 3,
                        "three #UD (vector 6, no error code)",
                        "the hypervisor answers each refused VMFUNC with #UD, as a processor without "
                        "the function would")
    r.expect_eq("guest.ud_count", 3, "the guest's #UD handler ran once per refused VMFUNC")
    r.expect_eq("guest.ud_at_vmfunc", 3, "each #UD's RIP pointed at the VMFUNC: the exit is fault-like "
                "(SDM 26.5.6.2), so the hypervisor injects #UD without moving RIP (the guest's handler skips it)")
    r.expect_eq("guest.view_after", first, "a refused VMFUNC changes nothing: still view 0")
    r.expect_eq("views.eptp_index", 0, "a refused VMFUNC changes nothing, the EPTP index included (SDM 26.5.6.2): "
                "the handler injects #UD and leaves EPTP_INDEX and EPT_POINTER alone")
    r.expect_eq("views.eptp_is_list_entry", 1, "EPT_POINTER is still the list entry the EPTP index names")
    expect_done(r)


@check(LAB, "ve-delivery", 25, ["10-5", "10-6"],
       "#VE: an EPT violation delivered to the guest, the busy dword, and \"suppress #VE\"")
def ve_delivery(r):
    offset = r.nonce & 0xFF8
    gpa = C["VF_PROBE_GPA"] + offset
    r.expect_eq("ve.info_address_is_area", 1, "the VMCS holds the information area's address (SDM 25.6)")
    r.expect_bits("ve.secondary_controls", 1 << 18, 0, "\"EPT-violation #VE\" (secondary bit 18) must be on")
    r.expect_bits("ve.exception_bitmap", 0, 1 << C["VEC_VE"],
                  "exception-bitmap bit 20 would turn every #VE into a VM exit (SDM 26.5.7.2)")
    r.expect_eq("guest.ve_reason", 0xFFFFFFFF << 32 | 48,
                "the area's first qword: exit reason 48 and the busy dword FFFFFFFFH (SDM 26.5.7.2)")
    r.expect("guest.ve_qual", lambda v: int(v, 0) & QUAL_COMPARED == READ | LINEAR_VALID | FINAL,
             hex(READ | LINEAR_VALID | FINAL), "the qualification an exit would have had: a read, nothing "
             "allowed (not present), linear address valid, final translation (bits 0-5, 7, 8)")
    r.expect_eq("guest.ve_gla", C["VF_WINDOW_LINEAR"] + gpa, "the guest-linear address of the read")
    r.expect_eq("guest.ve_gpa", gpa, "the guest-physical address of the read")
    r.expect_eq("guest.ve_busy", 0xFFFFFFFF, "a second #VE sets the busy dword again, the guest left it set")
    r.expect_eq("guest.probe_read", r.nonce ^ C["VF_PROBE_FILL"],
                "the third read, with the busy dword set, exited; the hypervisor mapped the page")
    r.expect_eq("guest.suppress_read", r.nonce, "the write to the \"suppress #VE\" page exited and was let through")
    r.expect_eq("guest.ve_count", 3, "#VEs: two unmapped reads and the write to the read-only page without "
                "\"suppress #VE\"; none for the busy case or the suppressed page")
    r.expect_eq("host.probe_exits", 1, "one exit for the read made while the busy dword was set")
    r.expect_eq("host.suppress_exits", 1, "one exit for the write to the page with \"suppress #VE\"")
    r.expect_exits("EPT_VIOLATION", lambda qs: [q & QUAL_COMPARED for q in qs] ==
                   [READ | LINEAR_VALID | FINAL, WRITE | ALLOWED_R | LINEAR_VALID | FINAL],
                   "[0x181, 0x18a] (bits 0-5, 7, 8)",
                   "only two violations exit: the read while busy (SDM 26.5.7.1) and the write to the "
                   "page whose leaf has bit 63 (29.3.3.2); the three #VEs are not exits")
    r.expect_eq("guest.ve_eptp_indexes", 1, "every #VE reported EPTP index 0 (no VMFUNC ran)")
    expect_done(r)


def hook_calls(nonce):
    return C["VF_HOOK_CALLS_BASE"] + (nonce & 3)


def hook_result(nonce):
    digest = 0
    for i in range(hook_calls(nonce)):
        digest = rotl(digest, 9) ^ (((nonce + i) & MASK64) * C["VF_HOOK_MUL"] & MASK64)
    return digest


@check(LAB, "vmfunc-hook", 31, ["10-1", "10-2", "10-3", "10-5", "10-6"],
       "a guest-resident agent: hooked code runs, its page reads clean, and no VM exit for either")
def vmfunc_hook(r):
    calls = hook_calls(r.nonce)
    expect_views(r, R | W, X, ("the original page, read/write, not executable",
                               "the hooked copy, execute-only"))
    r.expect_eq("views.view1_suppress", 1, "ept_view_suppress_ve(v, 1, 0x%x, true) sets bit 63 (\"suppress #VE\", "
                "SDM 29.3.2) of the leaf in view 1's own tables (the grader's walk from EPTP-list entry 1; -1: no "
                "leaf)" % C["VF_SUPPRESS_GPA"])
    r.expect_eq("views.view0_suppress", 0, "... and not in view 0's: each view has its own leaves, and "
                "\"suppress #VE\" in one view must not change another (the grader's walk from entry 0)")
    r.expect_eq("views.lab07_pml4_is_view0", 1, "lab07(v)->pml4 is view 0's table again after "
                "ept_view_map() and ept_view_suppress_ve() on view 1")
    r.expect_eq("guest.hook_result", hook_result(r.nonce), "every call ran the hook (view 1's page)")
    r.expect_eq("guest.hooked", calls, "the hook counted every call")
    r.expect("guest.hook_read_low", lambda v: int(v, 0) == r.int_fact("hook.original_low"),
             "hook.original_low", "reads of the hooked page see the original bytes (view 0's page)")
    r.expect("guest.hook_read_high", lambda v: int(v, 0) == r.int_fact("hook.original_high"),
             "hook.original_high", "all of them")
    r.expect_eq("guest.ve_count", 2 * calls, "two #VEs per call: the fetch in view 0, the read in view 1")
    r.expect_eq("guest.ve_eptp_indexes", 3, "#VEs reported EPTP index 0 (the fetches) and 1 (the reads): "
                "the index VMFUNC set")
    expect_no_exits(r, "EPT_VIOLATION", "every violation became a #VE the agent handled")
    expect_no_exits(r, "VMFUNC", "every view switch was valid")
    r.expect_that("Bochs's record: the reasons of all VM exits", set(r.bochs.reasons()) <= {18},
                  sorted(set(r.bochs.reasons())), "[18] (VMCALL) only",
                  "the hook costs no VM exit: the only exits are the guest's hypercalls")
    expect_done(r)
