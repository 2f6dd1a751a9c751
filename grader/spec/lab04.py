"""Lab 04: event blocking, event injection and task-switch exits. Guest programs:
grader/checks/lab04.c (interrupts, NMIs) and grader/checks/lab04_tasks.S (task switches)."""
from gradelib import C, check

LAB = "04"


VEC_NMI, VEC_UD, VEC_NM, VEC_TS, VEC_NP, VEC_GP = (C[f"VEC_{v}"] for v in ("NMI", "UD", "NM", "TS", "NP", "GP"))
VEC_DB, VEC_BP = C["VEC_DB"], C["VEC_BP"]
EXTERNAL_INTERRUPT, HARDWARE_EXCEPTION, SOFTWARE_INTERRUPT = (
    C[f"INTR_TYPE_{t}"] for t in ("EXTERNAL_INTERRUPT", "HARDWARE_EXCEPTION", "SOFTWARE_INTERRUPT"))
PRIVILEGED_SOFTWARE_EXCEPTION, SOFTWARE_EXCEPTION = (
    C[f"INTR_TYPE_{t}"] for t in ("PRIVILEGED_SOFTWARE_EXCEPTION", "SOFTWARE_EXCEPTION"))
VALID, DELIVER_ERROR_CODE, NMI_UNBLOCKING_DUE_TO_IRET = (
    C[f"INTR_INFO_{b}"] for b in ("VALID", "DELIVER_ERROR_CODE", "NMI_UNBLOCKING_DUE_TO_IRET"))
TYPE_SHIFT = C["INTR_INFO_TYPE_SHIFT"]
BAD_SELECTOR = C["BAD_SELECTOR"]    # beyond the guest's GDT limit: loading it is #GP(0xfff8)
# The vector of each check's interrupt (grader/checks/lab04_shared.h)
VEC_REINJECT, VEC_HOST, VEC_DIRECT, VEC_WINDOW = C["VEC_REINJECT"], C["VEC_HOST"], C["VEC_DIRECT"], C["VEC_WINDOW"]
VEC_SHADOW, VEC_MOV_SS_SHADOW, VEC_ORDER_LOW, VEC_ORDER_HIGH = (
    C["VEC_SHADOW"], C["VEC_MOV_SS_SHADOW"], C["VEC_ORDER_LOW"], C["VEC_ORDER_HIGH"])
VEC_VECTORING, VEC_SOFT = C["VEC_VECTORING"], C["VEC_SOFT"]
VEC_TASK_GATE, VEC_EXTINT_TASK_GATE, VEC_REDELIVER = C["VEC_TASK_GATE"], C["VEC_EXTINT_TASK_GATE"], C["VEC_REDELIVER"]


def intr_info(vector, kind, error_code=False):
    """Interruption information (SDM 25.8.3, 28.2.4): vector 7:0, type 10:8, bit 11, valid 31."""
    return VALID | kind << TYPE_SHIFT | vector | (DELIVER_ERROR_CODE if error_code else 0)


def expect_injections(r, want, why):
    """What Bochs injected at VM entries, as (vector, error code), must be exactly `want`."""
    seen = r.bochs.injections
    return r.expect_that("Bochs's record of injections (vector, error code)", seen == want,
                         [(hex(v), hex(e)) for v, e in seen], [(hex(v), hex(e)) for v, e in want], why)


@check(LAB, "extint-reinject", 6, ["04-1", "04-2", "04-5"],
       "the APIC timer's interrupt exits (acknowledged) and is injected into the guest")
def extint_reinject(r):
    r.expect_eq("irq.count", 1, "the guest's handler runs once")
    r.expect_eq("irq.vector", VEC_REINJECT, "with the vector the exit reported (0xdf < HV_VECTOR_BASE: the guest's)")
    r.expect_eq("exits.EXTERNAL_INTERRUPT", 1,
                "external-interrupt exiting must be on, and acknowledge interrupt on exit too: an "
                "interrupt not acknowledged stays pending in the APIC and exits again")
    expect_injections(r, [(VEC_REINJECT, 0)],
                      "one injection, of the vector the exit interruption information reported "
                      "(valid only with acknowledge interrupt on exit, SDM 28.2.2)")


@check(LAB, "extint-consume", 4, ["04-2"],
       "the hypervisor's own vectors are consumed: EOI, never injected")
def extint_consume(r):
    r.expect_eq("irq.count", 0, "vector 0xe0 (= HV_VECTOR_BASE, the hypervisor's) never reaches the guest")
    r.expect_eq("host.host_interrupts", 1, "the hypervisor counts it")
    r.expect_eq("host.in_service", 0, "and ends it with EOI (its ISR bit is clear)")
    r.expect_eq("exits.EXTERNAL_INTERRUPT", 1, "the interrupt exits once")
    expect_injections(r, [], "the hypervisor's vector is never injected")


@check(LAB, "extint-direct", 4, ["04-1"],
       "without external-interrupt exiting the guest's own handler takes the interrupt")
def extint_direct(r):
    r.expect_eq("irq.count", 1, "the check turned exiting off: the guest's IDT handles it")
    r.expect_eq("irq.vector", VEC_DIRECT, "the timer's vector")
    r.expect_absent("exits.EXTERNAL_INTERRUPT", "no VM exit for it")
    expect_injections(r, [], "nothing was queued: nothing may be injected")


@check(LAB, "interrupt-window", 8, ["04-5"],
       "an interrupt that comes while IF = 0 waits for STI plus one instruction")
def interrupt_window(r):
    r.expect_eq("irq.arrived_with_if0", 0, "never inject while the guest's RFLAGS.IF = 0")
    r.expect_eq("irq.rip_is_window_label", 1,
                "it arrives right after the instruction that follows STI (interrupt-window exit)")
    r.expect_eq("irq.count", 1, "exactly once")
    r.expect_eq("exits.INTERRUPT_WINDOW", 1,
                "interrupt-window exiting armed, then turned off once nothing waits (SDM 26.7.5)")
    expect_injections(r, [(VEC_WINDOW, 0)], "one injection, after the window exit")


def first_instruction_blocked(r, vector, blocking):
    r.expect_eq("irq.rip_after_shadow", 1,
                f"blocking by {blocking} forbids injection (SDM 27.3.1.5): wait one instruction")
    r.expect_eq("irq.vector", vector, "the queued event")
    r.expect_eq("irq.count", 1, "delivered once")
    expect_injections(r, [(vector, 0)], "one injection, after the window exit")


@check(LAB, "sti-shadow", 5, ["04-5"],
       "a queued interrupt is not injected while the guest is in an STI shadow")
def sti_shadow(r):
    first_instruction_blocked(r, VEC_SHADOW, "STI (interruptibility bit 0)")
    r.expect_eq("exits.INTERRUPT_WINDOW", 1, "the hypervisor used interrupt-window exiting")


@check(LAB, "mov-ss-shadow", 5, ["04-5"],
       "a queued interrupt is not injected while the guest is in a MOV SS shadow")
def mov_ss_shadow(r):
    first_instruction_blocked(r, VEC_MOV_SS_SHADOW, "MOV SS (interruptibility bit 1)")
    r.expect_eq("exits.INTERRUPT_WINDOW", 1, "the hypervisor used interrupt-window exiting")


@check(LAB, "nmi-shadow", 5, ["04-5"],
       "a queued NMI is not injected while the guest is in a MOV SS shadow")
def nmi_shadow(r):
    first_instruction_blocked(r, VEC_NMI, "MOV SS (interruptibility bit 1), for NMIs too,")
    r.expect_eq("exits.NMI_WINDOW", 1, "the hypervisor used NMI-window exiting")
    r.expect_absent("exits.INTERRUPT_WINDOW", "no interrupt waits: interrupt-window exiting stays off")


@check(LAB, "event-order", 5, ["04-5"],
       "an NMI and two interrupts wait at once: one event per entry, the NMI first")
def event_order(r):
    r.expect_eq("irq.order", VEC_NMI << 16 | VEC_ORDER_HIGH << 8 | VEC_ORDER_LOW, "NMI, then 0x48, then 0x45: the guest's handlers ran in this order")
    r.expect_eq("exits.INTERRUPT_WINDOW", 2,
                "each interrupt waits for the interrupt window that follows the previous event's delivery")
    r.expect_absent("exits.NMI_WINDOW", "the NMI went in at the first entry")
    expect_injections(r, [(VEC_NMI, 0), (VEC_ORDER_HIGH, 0), (VEC_ORDER_LOW, 0)],
                      "one event per VM entry (a second write replaces the first): NMI, then the "
                      "highest vector")


@check(LAB, "nmi-window", 8, ["04-1", "04-3", "04-5"],
       "NMI exiting, virtual NMIs and NMI-window exiting: blocking by NMI until IRET")
def nmi_window(r):
    r.expect_eq("nmi.count", 2, "both self-NMIs reach the guest's handler")
    r.expect_eq("nmi.max_depth", 1, "the second waits for the first handler's IRET, never nests")
    r.expect_eq("exits.EXCEPTION_OR_NMI", 2, "NMI exiting: each NMI exits")
    r.expect_eq("exits.NMI_WINDOW", 1, "the second NMI waits for an NMI-window exit, which is then turned off")
    expect_injections(r, [(VEC_NMI, 0), (VEC_NMI, 0)], "each NMI injected once")


@check(LAB, "exception-reflect", 5, ["04-3"],
       "exceptions that exit through the exception bitmap reach the guest unchanged")
def exception_reflect(r):
    r.expect_eq("fault.gp_vector", VEC_GP, "the #GP reaches the guest's handler")
    r.expect_eq("fault.gp_error", BAD_SELECTOR,
                "with the error code of the VM-exit interruption error code (bit 11 says it is valid)")
    r.expect_eq("fault.ud_vector", VEC_UD, "the #UD too (it has no error code)")
    r.expect_eq("exits.EXCEPTION_OR_NMI", 2, "each exits once (exception bitmap)")
    expect_injections(r, [(VEC_GP, BAD_SELECTOR), (VEC_UD, 0)], "each reflected once, #GP with its error code")


@check(LAB, "nmi-iret-fault", 5, ["04-3"],
       "an IRET that unblocked NMIs and then faulted: blocking by NMI restored before re-entry")
def nmi_iret_fault(r):
    r.expect_eq("iret_fault.exit_info", intr_info(VEC_GP, HARDWARE_EXCEPTION, True) | NMI_UNBLOCKING_DUE_TO_IRET,
                "the NMI handler's IRETQ to a non-canonical RIP exits with #GP(0) and bit 12 set "
                "(NMI unblocking due to IRET, SDM 28.2.3)")
    r.expect_eq("iret_fault.blocking_by_nmi", 1,
                "bit 12 set: restore blocking by NMI (interruptibility bit 3) before the next entry, "
                "since the guest runs that IRET again")
    r.expect_eq("fault.iret_vector", VEC_GP, "the #GP reaches the guest's handler")
    r.expect_eq("irq.count", 1, "the NMI handler ran once")
    expect_injections(r, [(VEC_NMI, 0), (VEC_GP, 0)], "the NMI, then the reflected #GP(0)")


@check(LAB, "idt-vectoring", 5, ["04-4"],
       "an interrupt whose delivery caused a VM exit is delivered again (IDT-vectoring information)")
def idt_vectoring(r):
    r.expect_eq("vectoring.info", intr_info(VEC_VECTORING, EXTERNAL_INTERRUPT),
                "the #GP exit came during delivery of external interrupt 0x43")
    r.expect_eq("irq.count", 1, "after the gate is repaired the interrupt must not be lost")
    r.expect_eq("irq.vector", VEC_VECTORING, "the same vector")
    expect_injections(r, [(VEC_VECTORING, 0), (VEC_VECTORING, 0)],
                      "injected, then injected again from the IDT-vectoring information (SDM 28.2.4)")


@check(LAB, "idt-vectoring-soft", 5, ["04-4"],
       "INT n, INT3 and ICEBP whose delivery caused a VM exit are delivered again, after the instruction")
def idt_vectoring_soft(r):
    r.expect_eq("vectoring.bp_info", intr_info(VEC_BP, SOFTWARE_EXCEPTION),
                "the #GP exit came during delivery of INT3 (type 6, software exception)")
    r.expect_eq("bp.vector", VEC_BP, "after the repair the guest's #BP handler runs")
    r.expect_eq("bp.rip_after_int3", 1,
                "type 6 needs the VM-entry instruction length too (SDM 27.2.1.3), = the exit's (1): "
                "the #BP handler returns after the INT3, not to it")
    r.expect_eq("vectoring.info", intr_info(VEC_SOFT, SOFTWARE_INTERRUPT),
                "the #GP exit came during delivery of INT 0x49 (type 4, software interrupt)")
    r.expect_eq("irq.count", 1, "re-delivered once: without the VM-entry instruction length the "
                "handler returns to the INT itself, which runs again")
    r.expect_eq("irq.vector", VEC_SOFT, "with its vector")
    r.expect_eq("irq.rip_after_int", 1,
                "type 4 needs the VM-entry instruction length = the exit's (2): the handler "
                "returns after the INT")
    r.expect_eq("vectoring.db_info", intr_info(VEC_DB, PRIVILEGED_SOFTWARE_EXCEPTION),
                "the #GP exit came during delivery of ICEBP (opcode F1: type 5, privileged software exception)")
    r.expect_eq("db.vector", VEC_DB, "after the repair the guest's #DB handler runs")
    r.expect_eq("db.rip_after_icebp", 1,
                "type 5 needs the VM-entry instruction length too (SDM 27.2.1.3), = the exit's (1): "
                "the #DB handler returns after the ICEBP, not to it")
    expect_injections(r, [(VEC_BP, 0), (VEC_SOFT, 0), (VEC_DB, 0)],
                      "INT3, INT 0x49 and ICEBP each injected again once (the processor ran them the first time)")


@check(LAB, "idt-vectoring-error", 5, ["04-4"],
       "an exception whose delivery caused a VM exit is delivered again, with its error code")
def idt_vectoring_error(r):
    r.expect_eq("vectoring.info", intr_info(VEC_GP, HARDWARE_EXCEPTION, True),
                "the #NP exit came during delivery of #GP (type 3, with an error code)")
    r.expect_eq("vectoring.error", BAD_SELECTOR, "its error code")
    r.expect_eq("fault.gp_vector", VEC_GP, "after the repair the guest's #GP handler runs")
    r.expect_eq("fault.gp_error", BAD_SELECTOR,
                "with the IDT-vectoring error code as the VM-entry exception error code")
    expect_injections(r, [(VEC_GP, BAD_SELECTOR)], "the #GP injected again, with its error code")


# The 32-bit guest's GDT selectors (grader/checks/lab04_shared.h)
SEL_CODE32, SEL_DATA, SEL_TSS_A, SEL_TSS_B, SEL_TSS_C, SEL_TSS_D = (
    C[f"SEL_{s}"] for s in ("CODE32", "DATA", "TSS_A", "TSS_B", "TSS_C", "TSS_D"))
SEL_TSS_SHORT, SEL_TSS_NOT_PRESENT, SEL_TSS_E, SEL_TSS_F, SEL_TSS_G, SEL_TSS_H = (
    C[f"SEL_{s}"] for s in ("TSS_SHORT", "TSS_NOT_PRESENT", "TSS_E", "TSS_F", "TSS_G", "TSS_H"))
SEL_DATA2, SEL_DATA3, SEL_DATA4, SEL_DATA5, SEL_LDT, SEL_TSS_I, SEL_TSS_J, SEL_TSS_K = (
    C[f"SEL_{s}"] for s in ("DATA2", "DATA3", "DATA4", "DATA5", "LDT", "TSS_I", "TSS_J", "TSS_K"))
TSS_AVAILABLE, TSS_BUSY = C["SYS_TYPE_TSS32_AVAILABLE"], C["SYS_TYPE_TSS32_BUSY"]
EFLAGS_NT = C["EFLAGS_NT"]
A_EFLAGS = C["A_EFLAGS"]    # what task A sets before its JMP (lab04_tasks.S)
DR7_AFTER_SWITCH = C["DR7_ALL_ENABLES"] & ~C["DR7_LOCAL_ENABLES"]   # the check's DR7 with L0-L3 cleared
CALL, IRET, JMP, GATE = (C[f"TASK_SWITCH_{s}"] for s in ("CALL", "IRET", "JMP", "IDT_GATE"))


def switch(source, selector):
    """A task-switch exit qualification (SDM Table 28-2): selector 15:0, source 31:30."""
    return source << 30 | selector


# Every task switch of the guest program, in order (the three bad TSSes fault before any exit).
SWITCHES = [switch(JMP, SEL_TSS_B), switch(JMP, SEL_TSS_A), switch(CALL, SEL_TSS_B),
            switch(IRET, SEL_TSS_A), switch(IRET, SEL_TSS_A), switch(GATE, SEL_TSS_C),
            switch(IRET, SEL_TSS_A), switch(GATE, SEL_TSS_J), switch(IRET, SEL_TSS_A),
            switch(GATE, SEL_TSS_K), switch(IRET, SEL_TSS_A), switch(GATE, SEL_TSS_K), switch(IRET, SEL_TSS_A),
            switch(JMP, SEL_TSS_E), switch(JMP, SEL_TSS_F), switch(JMP, SEL_TSS_G),
            switch(JMP, SEL_TSS_I), switch(JMP, C["SEL_TSS_H_RPL3"]), switch(GATE, SEL_TSS_D)]


def a_registers(r):
    """Task A's general registers at its JMP to B: EBX is the canary, the others differ from it."""
    k = (r.nonce >> 32) | 1
    return {"eax": k ^ 0x11111111, "ecx": k ^ 0x22222222, "edx": k ^ 0x33333333, "ebx": k,
            "ebp": k ^ 0x66666666, "esi": k ^ 0x77777777, "edi": k ^ 0x88888888}


def b_registers(r):
    """Task B's general registers as its TSS holds them (lab04_tasks.c: new_task_b)."""
    k = (r.nonce & 0xFFFFFFFF) ^ 0xB0B0B0B0
    return {"eax": k ^ 0x01010101, "ecx": k ^ 0x02020202, "edx": k ^ 0x03030303, "ebx": k,
            "ebp": k ^ 0x06060606, "esi": k ^ 0x07070707, "edi": k ^ 0x08080808}


def no_fault_for_sound_tss(r):
    """lab04_tasks.c stops the run at the first fault the hypervisor raises for a task switch whose
    new TSS the check left sound; that fault is the cause of everything missing after it."""
    vector = r.int_fact("tasks.sound_tss_fault")
    why = ""
    if vector is not None:
        name = {VEC_TS: "#TS", VEC_NP: "#NP", VEC_GP: "#GP"}.get(vector, f"exception {vector:#x}")
        why = (f"the hypervisor raised {name}({r.int_fact('tasks.sound_tss_fault_error', -1):#x}) for the "
               f"task switch to TSS {r.int_fact('tasks.sound_tss_selector', -1):#x}, which is sound: present, "
               f"a 32-bit TSS, busy only for IRET, limit {r.int_fact('tasks.sound_tss_limit', -1):#x} "
               "(a limit of exactly 67H is legal: only one below 67H is #TS, SDM 8.3 step 4). "
               "The check stopped the run at that exit: the facts after it are missing")
    r.expect_absent("tasks.sound_tss_fault", why)


def expect_switches(r, first, why):
    r.expect_exits("TASK_SWITCH", lambda quals: quals[:len(first)] == first,
                   " ".join(hex(q) for q in first) + " first", why)


@check(LAB, "task-jmp", 5, ["04-6", "04-7", "04-8"],
       "JMP to a TSS: every dynamic field saved, every field loaded, busy bits, no link, no NT")
def task_jmp(r):
    no_fault_for_sound_tss(r)
    for reg, value in a_registers(r).items():
        r.expect_eq(f"tasks.a_saved_{reg}", value,
                    f"SDM 8.3 step 8: the old TSS gets the old task's {reg.upper()}")
    r.expect_eq("tasks.a_saved_esp", r.int_fact("tasks.a_esp_at_jmp", -1), "and its ESP (from the VMCS)")
    r.expect_eq("tasks.a_saved_eip", r.int_fact("host.a_after_jmp", -1),
                "saved EIP = the instruction after the JMP (guest RIP + exit instruction length)")
    r.expect_eq("tasks.a_saved_eflags", A_EFLAGS, "saved EFLAGS = the guest's RFLAGS (JMP leaves NT alone)")
    for seg, sel in [("es", SEL_DATA2), ("cs", SEL_CODE32), ("ss", SEL_DATA5), ("ds", SEL_DATA),
                     ("fs", SEL_DATA3), ("gs", SEL_DATA4)]:
        r.expect_eq(f"tasks.a_saved_{seg}", sel, f"the old TSS gets the old task's {seg.upper()} selector")
    for reg, value in b_registers(r).items():
        r.expect_eq(f"tasks.b_{reg}", value, f"SDM 8.3 step 12: {reg.upper()} is loaded from the new TSS")
    r.expect_eq("tasks.b_esp", r.int_fact("host.tss_b_stack_top", -1), "and ESP")
    for seg, sel in [("es", SEL_DATA3), ("ss", SEL_DATA2), ("ds", SEL_DATA4), ("fs", SEL_DATA5),
                     ("gs", SEL_DATA)]:
        r.expect_eq(f"tasks.b_{seg}", sel, f"{seg.upper()} is loaded from the new TSS")
    r.expect_eq("tasks.b_ldtr", SEL_LDT, "LDTR is loaded from the new TSS's LDT selector")
    r.expect_eq("tasks.b_cr3", r.int_fact("host.tss_b_cr3", -1), "CR3 is loaded from the new TSS (paging is on)")
    r.expect_eq("tasks.b_dr7", DR7_AFTER_SWITCH, "a task switch clears DR7's local enables L0-L3, not G0-G3")
    r.expect_eq("tasks.b_nt_jmp", 0, "a JMP does not set NT")
    r.expect_eq("tasks.b_back_link_jmp", 0, "a JMP does not write the new TSS's back link")
    r.expect_eq("tasks.a_type_in_jmp", TSS_AVAILABLE, "a JMP clears the old task's busy bit")
    r.expect_eq("tasks.b_type_in_jmp", TSS_BUSY, "and sets the new task's busy bit")
    r.expect_eq("tasks.a_ebx_after_jmp", (r.nonce >> 32) | 1, "task A's EBX survives A -> B -> A")
    r.expect_eq("tasks.a_ecx_after_jmp", a_registers(r)["ecx"], "and its ECX")
    r.expect_eq("tasks.a_eflags_after_jmp", A_EFLAGS, "and its EFLAGS")
    r.expect_eq("tasks.a_ss_after_jmp", SEL_DATA5, "and SS, reloaded from A's TSS")
    r.expect_eq("tasks.a_fs_after_jmp", SEL_DATA3, "and FS")
    r.expect_eq("tasks.a_ldtr_after_jmp", 0, "A's TSS has no LDT: LDTR is null again")
    r.expect_eq("tasks.b_type_after_jmp", TSS_AVAILABLE, "B's JMP back to A cleared B's busy bit")
    expect_switches(r, SWITCHES[:2], "JMP to B, then JMP to A: each exits (SDM 26.4.2)")


@check(LAB, "task-call-iret", 5, ["04-7", "04-8"],
       "CALL to a TSS sets NT and the back link; IRET with NT returns and frees the task")
def task_call_iret(r):
    no_fault_for_sound_tss(r)
    r.expect_eq("tasks.b_nt_call", EFLAGS_NT, "a CALL runs the new task with NT = 1")
    r.expect_eq("tasks.b_back_link", SEL_TSS_A, "and writes the old TSS selector into its back link")
    r.expect_eq("tasks.a_type_in_call", TSS_BUSY, "a CALL leaves the old task busy (it is nested)")
    r.expect_eq("tasks.a_saved_eip_call", r.int_fact("host.a_after_call", -1),
                "saved EIP = the instruction after the CALL")
    r.expect_eq("tasks.a_ebx_after_call", (r.nonce >> 32) | 1, "IRET resumes task A with its registers")
    r.expect_eq("tasks.b_type_after_iret", TSS_AVAILABLE, "IRET clears the busy bit of the task it leaves")
    r.expect_eq("tasks.b_saved_nt_iret", 0, "IRET clears NT in the EFLAGS it saves for the task it leaves")
    r.expect_eq("tasks.b_saved_eip_iret", r.int_fact("host.b_after_iret", -1),
                "saved EIP = the instruction after the IRET")
    r.expect_eq("tasks.a_nt_after_iret", 0, "task A runs on with NT = 0")
    expect_switches(r, SWITCHES[:5], "CALL to B (source 0), then IRET to A (source 1), twice")


@check(LAB, "task-gate", 5, ["04-4", "04-7", "04-8"],
       "INT n through a task gate: a nested task; the event is not delivered twice; CR0.TS")
def task_gate(r):
    no_fault_for_sound_tss(r)
    r.expect_eq("tasks.c_nt", EFLAGS_NT, "a task gate nests the task (NT = 1)")
    r.expect_eq("tasks.c_back_link", SEL_TSS_A, "with the back link to A")
    r.expect_eq("tasks.a_type_in_gate", TSS_BUSY, "a task gate leaves the old task busy")
    r.expect_eq("tasks.c_type_in_gate", TSS_BUSY, "and makes the new one busy")
    r.expect_eq("tasks.a_saved_eip_int", r.int_fact("host.a_after_int", -1),
                "INT n (a software interrupt): saved EIP = the instruction after the INT")
    r.expect_eq("tasks.a_ebx_after_gate", (r.nonce >> 32) | 1, "A resumes after its INT")
    r.expect_eq("tasks.c_type_after_iret", TSS_AVAILABLE, "C is free again after its IRET")
    r.expect_eq("tasks.a_saved_eip_extint", r.int_fact("host.a_extint_point", -1),
                "an external interrupt through a task gate (type 0): saved EIP = guest RIP, "
                "no instruction length added (SDM 28.2.5 defines one only for instructions)")
    r.expect_eq("tasks.cr0_ts", C["CR0_TS"], "every task switch sets CR0.TS (seen through the read shadow)")
    r.expect_eq("tasks.nm_vector", VEC_NM, "and in GUEST_CR0 itself: an x87 instruction raises #NM")
    r.expect_eq("tasks.nm_after_clts", 0, "until CLTS")
    r.expect_eq("tasks.a_saved_eip_int3", r.int_fact("host.a_after_int3", -1),
                "INT3 through a task gate (type 6, software exception): saved EIP = the instruction "
                "after the INT3, as for INT n (SDM 8.3, 28.2.5)")
    r.expect_eq("tasks.a_saved_eip_icebp", r.int_fact("host.a_after_icebp", -1),
                "ICEBP through a task gate (type 5, privileged software exception): saved EIP = the "
                "instruction after it (SDM 8.3, 28.2.5)")
    r.expect_absent("tasks.soft_gate_ran_again",
                    "task K was entered a third time: A ran its INT3 or ICEBP again, since its saved EIP "
                    "pointed at the instruction instead of after it (types 5 and 6 add the instruction length)")
    r.expect_eq("tasks.redelivered_count", 1,
                "interrupt 0x52, queued at J's task gate, exited during its delivery (#NP, gate not present) "
                "when A ran again: inject it again from the IDT-vectoring information. The flag that says a "
                "task gate's event was delivered (vectored_event_done) covers that one exit only: clear it "
                "when you use it, or every later event whose delivery exits is lost (SDM 28.2.4)")
    r.expect_eq("tasks.redeliver_vectoring", intr_info(VEC_REDELIVER, EXTERNAL_INTERRUPT),
                "the #NP exit came during delivery of external interrupt 0x52")
    r.expect_eq("tasks.redelivered_eip", r.int_fact("host.a_extint_point", -1),
                "an external interrupt returns to where A was interrupted, no length added")
    expect_switches(r, SWITCHES[:13], "the gates' switches exit with source 3 and C's, J's, then K's selector")
    gate_vectors = [v for v, _ in r.bochs.injections if v in (VEC_TASK_GATE, VEC_EXTINT_TASK_GATE, VEC_BP, VEC_DB)]
    r.expect_that("Bochs's record of injections of vectors 0x50, 0x51, #BP and #DB",
                  gate_vectors == [VEC_EXTINT_TASK_GATE], gate_vectors, [VEC_EXTINT_TASK_GATE],
                  "the queued interrupt 0x51 is injected once; the emulated task switch delivered it, INT 0x50, "
                  "INT3 and ICEBP: injecting any of them again delivers it twice")


@check(LAB, "task-bad-tss", 5, ["04-6"], "a bad new TSS gives the guest the fault the SDM names")
def task_bad_tss(r):
    no_fault_for_sound_tss(r)
    # The processor checks the descriptor before the exit (Bochs does: the first three come
    # from it); for E..I the check damages the descriptor after the exit, so only the
    # hypervisor's own checks (04-6) can raise the fault.
    for key, vector, selector, rule in [
            ("hv_short", VEC_TS, SEL_TSS_E, "E's limit shrank below 67H after the exit: #TS"),
            ("hv_np", VEC_NP, SEL_TSS_F, "F became not present after the exit: #NP"),
            ("hv_code", VEC_GP, SEL_TSS_G, "G became a code segment (S = 1, type bits 1001b): not a TSS: #GP"),
            ("hv_ldt", VEC_GP, SEL_TSS_I, "I became an LDT descriptor (S = 0, type 2): not a TSS: #GP"),
            ("hv_busy", VEC_GP, SEL_TSS_H, "H became busy: a JMP to a busy TSS is #GP")]:
        r.expect_eq(f"tasks.{key}_vector", vector, rule)
        r.expect_eq(f"tasks.{key}_error", selector,
                    "error code = the new TSS selector with bits 1:0 (RPL) cleared")
    r.expect_eq("tasks.hv_iret_vector", VEC_TS,
                "A's busy bit was cleared after B's IRET exited: IRET to a task that is not busy is #TS")
    r.expect_eq("tasks.hv_iret_error", SEL_TSS_A, "error code = the selector of the task IRET returns to")
    r.expect_absent("tasks.damaged_task_ran", "the hypervisor must not switch to a damaged TSS")
    r.expect_eq("tasks.short_vector", VEC_TS, "TSS limit below 67H: #TS")
    r.expect_eq("tasks.short_error", SEL_TSS_SHORT, "error code = the new TSS selector")
    r.expect_eq("tasks.np_vector", VEC_NP, "TSS not present: #NP")
    r.expect_eq("tasks.np_error", SEL_TSS_NOT_PRESENT, "error code = the new TSS selector")
    r.expect_eq("tasks.busy_vector", VEC_GP, "JMP to a busy TSS: #GP")
    r.expect_eq("tasks.busy_error", SEL_TSS_A, "error code = the new TSS selector")
    faults = [(VEC_TS, SEL_TSS_A), (VEC_EXTINT_TASK_GATE, 0), (VEC_REDELIVER, 0), (VEC_REDELIVER, 0), (VEC_TS, SEL_TSS_E), (VEC_NP, SEL_TSS_F), (VEC_GP, SEL_TSS_G), (VEC_GP, SEL_TSS_I),
              (VEC_GP, SEL_TSS_H)]
    r.expect_that("Bochs's record of injections (vector, error code)", r.bochs.injections == faults,
                  r.bochs.injections, faults, "exactly the six faults of the damaged TSSes and the queued "
                  "interrupts (0x52 twice: its first delivery exits), nothing else")
    expect_switches(r, SWITCHES[:18], "the JMPs to E..I exit (sound at that time); the bad ones do not")


@check(LAB, "task-double-fault", 5, ["04-7", "04-8"],
       "a double fault through a task gate: error code pushed on the new task's stack")
def task_double_fault(r):
    no_fault_for_sound_tss(r)
    r.expect_eq("tasks.d_expected", 1, "task D runs only for the deliberate double fault")
    r.expect_eq("tasks.d_error", 0, "#DF pushes error code 0 on task D's stack")
    r.expect_eq("tasks.d_esp", r.int_fact("host.tss_d_stack_top", -1),
                "after popping it, ESP is back at the top of D's stack (the push happened)")
    r.expect_eq("tasks.d_back_link", SEL_TSS_A, "a task gate sets the back link")
    r.expect_eq("tasks.a_saved_eip_df", r.int_fact("host.a_df_jmp", -1),
                "a hardware exception (type 3): saved EIP = the faulting instruction, no length added")
    r.expect_exits("TASK_SWITCH", lambda quals: quals == SWITCHES,
                   " ".join(hex(q) for q in SWITCHES),
                   "JMP, JMP, CALL, IRET twice, INT gate, IRET, interrupt gate, IRET, INT3 gate, IRET, "
                   "ICEBP gate, IRET, five damaged TSSes, #DF gate: 19 exits")
