"""Lab 09: APIC virtualization. Guest programs: grader/checks/lab09.c. The values the guest reads
are modelled here from the nonce; the exits and their qualifications come from Bochs's record."""
from gradelib import C, check

LAB = "09"
TPR_START, TPR_MMIO, CR8_DROP = C["TPR_START"], C["TPR_MMIO"], C["CR8_DROP"]
VEC_HELD_CLASS, VEC_IPI_CLASS, LVT_MASKED = C["VEC_HELD_CLASS"], C["VEC_IPI_CLASS"], C["LVT_MASKED"]
STAGE_START, STAGE_LOWERED = C["STAGE_START"], C["STAGE_LOWERED"]
APIC_ID, APIC_LVT_TIMER, APIC_CURRENT_COUNT = C["APIC_ID"], C["APIC_LVT_TIMER"], C["APIC_TIMER_CURRENT_COUNT"]
APIC_ICR_LOW, APIC_DEFAULT_BASE = C["APIC_ICR_LOW"], C["APIC_DEFAULT_BASE"]
READ, WRITE = C["APIC_ACCESS_LINEAR_READ"] << 12, C["APIC_ACCESS_LINEAR_WRITE"] << 12


def quals(want):
    return lambda seen: seen == want


@check(LAB, "tpr-shadow", 8, ["09-1"], "MOV to and from CR8 use VTPR in the virtual-APIC page, without exits")
def tpr_shadow(r):
    value = 1 + r.nonce % 14
    r.expect_eq("cr8.roundtrips", 16, "each of the 16 values written to CR8 reads back (SDM 29.3)")
    r.expect_eq("cr8.read", value, "the guest's last CR8 value reads back")
    r.expect_eq("vapic.vtpr", value << 4,
                "MOV to CR8 writes VTPR[7:4], the byte at 80H of the virtual-APIC page (SDM 29.3); "
                "the page must be the one VIRTUAL_APIC_ADDRESS names and \"use TPR shadow\" on")
    r.expect_eq("vapic.address_is_the_page", 1, "VIRTUAL_APIC_ADDRESS holds the page's physical address")
    r.expect_eq("host.tpr", 0, "the guest's CR8 must never reach the real local APIC's TPR")
    r.expect_absent("exits.CONTROL_REGISTER_ACCESS",
                    "with the TPR shadow, CR8-load and CR8-store exiting (on since lab 03) must be off: "
                    "CR8 accesses must not exit")


@check(LAB, "tpr-threshold", 8, ["09-2", "09-3"],
       "an interrupt the guest's priority holds back arrives when the guest lowers it (TPR threshold)")
def tpr_threshold(r):
    r.expect_eq("irq.count", 1, "the held interrupt arrives once")
    r.expect_eq("irq.vector", VEC_HELD_CLASS | (r.nonce & 0xF), "with its vector")
    r.expect_eq("irq.stage", STAGE_LOWERED,
                "only after the MOV to CR8 that drops VTPR[7:4] below the vector's class 5 (SDM 11.8.3.1: "
                "class equal to the priority's waits; TPR_THRESHOLD = the vector's class)")
    r.expect_eq("irq.before_next_instruction", 1,
                "and at once: the TPR-below-threshold exit follows that MOV (SDM 29.1.2)")
    r.expect_eq("guest.next_instruction_ran", 1,
                "the exit is trap-like: RIP is already past the MOV; moving it skips the guest's next instruction")
    r.expect_exits("TPR_BELOW_THRESHOLD", lambda q: len(q) == 1, "exactly one",
                   "one TPR-below-threshold exit, and the threshold back to 0 after it")
    r.expect_absent("exits.CONTROL_REGISTER_ACCESS", "CR8 accesses never exit with the TPR shadow")
    r.expect_injections(lambda e: e == [(VEC_HELD_CLASS | (r.nonce & 0xF), 0)],
                        "one injection of the held vector", "delivered through lab 04's queue after the exit")


def apic_page(r, access_exits, write_exits):
    ipi = VEC_IPI_CLASS | (r.nonce >> 8 & 0xF)
    r.expect_eq("apic.id", (r.nonce >> 16 & 0xFF) << 24, "reads of the APIC page return the virtual-APIC page's ID")
    r.expect_eq("apic.lvt_write_then_next", 1, "the LVT write completes once and the guest goes on")
    r.expect_eq("apic.lvt", LVT_MASKED | (0x20 + r.nonce % 0xC0), "the LVT timer reads back what the guest wrote")
    r.expect_eq("apic.current_count", (r.nonce >> 24 & 0xFFFFFFFF) | 1, "the current count comes from the virtual-APIC page")
    r.expect_eq("apic.tpr_after_cr8", 0x50, "TPR (80H) reads VTPR: CR8 = 5 shows as 0x50 (SDM 29.4.2)")
    r.expect_eq("apic.cr8_after_tpr", TPR_MMIO >> 4, "a write to TPR (80H) is VTPR: CR8 reads its class")
    r.expect_eq("irq.count", 1, "the guest's self-IPI (ICR low, shorthand self, fixed) reaches the guest once")
    r.expect_eq("irq.vector", ipi, "with the vector the guest wrote to ICR")
    r.expect_eq("irq.stage", STAGE_LOWERED,
                "after the guest lowers CR8 below its class 3, never while VTPR is 0x30")
    r.expect_eq("host.lvt_timer_masked", 1, "the real local APIC's LVT timer is untouched (masked)")
    r.expect_eq("vapic.access_address", APIC_DEFAULT_BASE, "APIC_ACCESS_ADDRESS: the page the guest uses as its APIC")
    r.expect_exits("APIC_ACCESS", quals(access_exits), [hex(q) for q in access_exits],
                   "offset (bits 11:0) and access type (bits 15:12) of each APIC-access exit")
    r.expect_exits("APIC_WRITE", quals(write_exits), [hex(q) for q in write_exits],
                   "APIC-write exits, with the offset written")
    r.expect_exits("TPR_BELOW_THRESHOLD", lambda q: len(q) == 1, "exactly one",
                   "the self-IPI waits for the TPR-below-threshold exit")
    r.expect_absent("exits.CONTROL_REGISTER_ACCESS", "CR8 accesses never exit with the TPR shadow")


@check(LAB, "apic-access", 10, ["09-4", "09-5", "09-6"],
       "the guest's APIC page: every access but TPR exits (APIC-access), and is emulated on the virtual-APIC page")
def apic_access(r):
    apic_page(r, [READ | APIC_ID, WRITE | APIC_LVT_TIMER, READ | APIC_LVT_TIMER, READ | APIC_CURRENT_COUNT,
                  WRITE | APIC_ICR_LOW], [])


@check(LAB, "apic-register-virtualization", 10, ["09-4", "09-7"],
       "with APIC-register virtualization the same program reads without exits and writes with APIC-write exits")
def apic_register_virtualization(r):
    apic_page(r, [READ | APIC_CURRENT_COUNT], [APIC_LVT_TIMER, APIC_ICR_LOW])
