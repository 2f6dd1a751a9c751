"""Lab 04: event blocking, event injection and task-switch exits. Guest programs:
grader/checks/lab04.c (interrupts, NMIs) and grader/checks/lab04_tasks.S (task switches)."""
from gradelib import check

LAB = "04"


@check(LAB, "extint-reinject", 10, ["04-1", "04-2", "04-5"],
       "the APIC timer's interrupt exits (acknowledged) and is injected into the guest")
def extint_reinject(r):
    r.expect_eq("irq.count", 1, "the guest's handler runs once")
    r.expect_eq("irq.vector", 0x41, "with the vector the exit reported")
    r.expect_eq("exits.EXTERNAL_INTERRUPT", 1, "external-interrupt exiting must be on")


@check(LAB, "extint-consume", 5, ["04-2"],
       "the hypervisor's own vectors are consumed: EOI, never injected")
def extint_consume(r):
    r.expect_eq("irq.count", 0, "vector 0xe5 (>= HV_VECTOR_BASE) never reaches the guest")
    r.expect_eq("host.host_interrupts", 1, "the hypervisor counts it")
    r.expect_eq("host.in_service", 0, "and ends it with EOI (its ISR bit is clear)")


@check(LAB, "extint-direct", 5, ["04-1"],
       "without external-interrupt exiting the guest's own handler takes the interrupt")
def extint_direct(r):
    r.expect_eq("irq.count", 1, "the check turned exiting off: the guest's IDT handles it")
    r.expect_eq("irq.vector", 0x44, "the timer's vector")
    r.expect_absent("exits.EXTERNAL_INTERRUPT", "no VM exit for it")


@check(LAB, "interrupt-window", 15, ["04-5"],
       "an interrupt that comes while IF = 0 waits for STI plus one instruction")
def interrupt_window(r):
    r.expect_eq("irq.arrived_with_if0", 0, "never inject while the guest's RFLAGS.IF = 0")
    r.expect_eq("irq.rip_is_window_label", 1,
                "it arrives right after the instruction that follows STI (interrupt-window exit)")
    r.expect_eq("irq.count", 1, "exactly once")
    r.expect_eq("exits.INTERRUPT_WINDOW", 1, "interrupt-window exiting armed, then turned off")


@check(LAB, "sti-shadow", 10, ["04-5"],
       "a queued interrupt is not injected while the guest is in an STI shadow")
def sti_shadow(r):
    r.expect_eq("irq.rip_after_shadow", 1,
                "blocking by STI (interruptibility bit 0) forbids injection: wait one instruction")
    r.expect_eq("irq.vector", 0x46, "the queued vector")
    r.expect_eq("exits.INTERRUPT_WINDOW", 1, "the hypervisor used interrupt-window exiting")


@check(LAB, "nmi-window", 15, ["04-1", "04-3", "04-5"],
       "NMI exiting, virtual NMIs and NMI-window exiting: blocking by NMI until IRET")
def nmi_window(r):
    r.expect_eq("nmi.count", 2, "both self-NMIs reach the guest's handler")
    r.expect_eq("nmi.max_depth", 1, "the second waits for the first handler's IRET, never nests")
    r.expect_eq("exits.EXCEPTION_OR_NMI", 2, "NMI exiting: each NMI exits")
    r.expect_eq("exits.NMI_WINDOW", 1, "the second NMI waits for an NMI-window exit")


@check(LAB, "idt-vectoring", 10, ["04-4"],
       "an interrupt whose delivery caused a VM exit is delivered again (IDT-vectoring information)")
def idt_vectoring(r):
    r.expect_eq("vectoring.info", 0x80000043, "the #GP exit came during delivery of vector 0x43")
    r.expect_eq("irq.count", 1, "after the gate is repaired the interrupt must not be lost")
    r.expect_eq("irq.vector", 0x43, "the same vector")


SEL_TSS_A, SEL_TSS_SHORT, SEL_TSS_NOT_PRESENT, SEL_TSS_E, SEL_TSS_F = 0x18, 0x38, 0x40, 0x48, 0x50
TSS_AVAILABLE = 0x9
EFLAGS_NT = 0x4000
VEC_TS, VEC_NP, VEC_GP = 10, 11, 13


@check(LAB, "task-jmp", 6, ["04-6", "04-7", "04-8"],
       "JMP to a TSS: state saved and loaded, old task's busy bit cleared, NT unchanged")
def task_jmp(r):
    r.expect_eq("tasks.b_ebx", (r.nonce & 0xFFFFFFFF) ^ 0xB0B0B0B0, "task B starts with the EBX of its TSS")
    r.expect_eq("tasks.b_nt_jmp", 0, "a JMP does not set NT")
    r.expect_eq("tasks.a_ebx_after_jmp", (r.nonce >> 32) | 1, "task A's EBX survives A -> B -> A")
    r.expect_eq("tasks.b_type_after_jmp", TSS_AVAILABLE, "B's JMP back to A cleared B's busy bit")
    r.expect("exits.TASK_SWITCH", lambda v: int(v, 0) >= 2, "at least 2", "every task switch exits")


@check(LAB, "task-call-iret", 6, ["04-7", "04-8"],
       "CALL to a TSS sets NT and the back link; IRET with NT returns and frees the task")
def task_call_iret(r):
    r.expect_eq("tasks.b_nt_call", EFLAGS_NT, "a CALL runs the new task with NT = 1")
    r.expect_eq("tasks.b_back_link", SEL_TSS_A, "and writes the old TSS selector into its back link")
    r.expect_eq("tasks.a_ebx_after_call", (r.nonce >> 32) | 1, "IRET resumes task A with its registers")
    r.expect_eq("tasks.b_type_after_iret", TSS_AVAILABLE, "IRET clears the busy bit of the task it leaves")
    r.expect_eq("tasks.a_nt_after_iret", 0, "task A runs on with NT = 0")


@check(LAB, "task-gate", 6, ["04-4", "04-7", "04-8"],
       "INT n through a task gate: a nested task; the event is not delivered twice")
def task_gate(r):
    r.expect_eq("tasks.c_nt", EFLAGS_NT, "a task gate nests the task (NT = 1)")
    r.expect_eq("tasks.c_back_link", SEL_TSS_A, "with the back link to A")
    r.expect_eq("tasks.a_ebx_after_gate", (r.nonce >> 32) | 1, "A resumes after its INT")
    r.expect_eq("tasks.c_type_after_iret", TSS_AVAILABLE, "C is free again after its IRET")
    r.expect_eq("tasks.cr0_ts", 8, "every task switch sets CR0.TS (seen through the read shadow)")


@check(LAB, "task-bad-tss", 6, ["04-6"], "a bad new TSS gives the guest the fault the SDM names")
def task_bad_tss(r):
    # The processor checks the descriptor before the exit (Bochs does: the first three come
    # from it); for E and F the check damages the descriptor after the exit, so only the
    # hypervisor's own checks (04-6) can raise the fault.
    r.expect_eq("tasks.hv_short_vector", VEC_TS, "E's limit shrank below 67H after the exit: #TS")
    r.expect_eq("tasks.hv_short_error", SEL_TSS_E, "error code = the new TSS selector")
    r.expect_eq("tasks.hv_np_vector", VEC_NP, "F became not present after the exit: #NP")
    r.expect_eq("tasks.hv_np_error", SEL_TSS_F, "error code = the new TSS selector")
    r.expect_absent("tasks.damaged_task_ran", "the hypervisor must not switch to a damaged TSS")
    r.expect_eq("tasks.short_vector", VEC_TS, "TSS limit below 67H: #TS")
    r.expect_eq("tasks.short_error", SEL_TSS_SHORT, "error code = the new TSS selector")
    r.expect_eq("tasks.np_vector", VEC_NP, "TSS not present: #NP")
    r.expect_eq("tasks.np_error", SEL_TSS_NOT_PRESENT, "error code = the new TSS selector")
    r.expect_eq("tasks.busy_vector", VEC_GP, "JMP to a busy TSS: #GP")
    r.expect_eq("tasks.busy_error", SEL_TSS_A, "error code = the new TSS selector")


@check(LAB, "task-double-fault", 6, ["04-7", "04-8"],
       "a double fault through a task gate: error code pushed on the new task's stack")
def task_double_fault(r):
    r.expect_eq("tasks.d_expected", 1, "task D runs only for the deliberate double fault")
    r.expect_eq("tasks.d_error", 0, "#DF pushes error code 0 on task D's stack")
    r.expect_eq("tasks.d_esp", r.int_fact("host.tss_d_stack_top", "task D's stack top"),
                "after popping it, ESP is back at the top of D's stack (the push happened)")
    r.expect_eq("tasks.d_back_link", SEL_TSS_A, "a task gate sets the back link")
    r.expect_eq("exits.TASK_SWITCH", 9,
                "JMP, JMP, CALL, IRET, INT gate, IRET, the two damaged TSSes, #DF gate: 9 exits")
