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
