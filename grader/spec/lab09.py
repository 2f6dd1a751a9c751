"""Lab 09: APIC virtualization. Guest programs: grader/checks/lab09.c. The values the guest reads
are modelled here from the nonce; the exits and their qualifications come from Bochs's record."""
from gradelib import C, check

LAB = "09"
TPR_START, TPR_MMIO, CR8_DROP = C["TPR_START"], C["TPR_MMIO"], C["CR8_DROP"]
VEC_HELD_CLASS, VEC_IPI_CLASS, LVT_MASKED = C["VEC_HELD_CLASS"], C["VEC_IPI_CLASS"], C["LVT_MASKED"]
STAGE_START, STAGE_LOWERED, STAGE_IF1 = C["STAGE_START"], C["STAGE_LOWERED"], C["STAGE_IF1"]
VEC_VID_HIGH_CLASS, VEC_VID_LEVEL_CLASS = C["VEC_VID_HIGH_CLASS"], C["VEC_VID_LEVEL_CLASS"]
VEC_POSTED_CLASS = C["VEC_POSTED_CLASS"]
APIC_ID, APIC_LVT_TIMER, APIC_CURRENT_COUNT = C["APIC_ID"], C["APIC_LVT_TIMER"], C["APIC_TIMER_CURRENT_COUNT"]
APIC_ICR_LOW, APIC_DEFAULT_BASE = C["APIC_ICR_LOW"], C["APIC_DEFAULT_BASE"]
READ, WRITE = C["APIC_ACCESS_LINEAR_READ"] << 12, C["APIC_ACCESS_LINEAR_WRITE"] << 12


def quals(want):
    return lambda seen: seen == want


@check(LAB, "tpr-shadow", 11, ["09-1"], "MOV to and from CR8 use VTPR in the virtual-APIC page, without exits")
def tpr_shadow(r):
    value = 1 + r.nonce % 14
    r.expect_eq("cr8.roundtrips", 16, "each of the 16 values written to CR8 reads back (SDM 30.3)")
    r.expect_eq("cr8.read", value, "the guest's last CR8 value reads back")
    r.expect_eq("vapic.vtpr", value << 4,
                "MOV to CR8 writes VTPR[7:4], the byte at 80H of the virtual-APIC page (SDM 30.3); "
                "the page must be the one VIRTUAL_APIC_ADDRESS names and \"use TPR shadow\" on")
    r.expect_eq("vapic.address_is_the_page", 1, "VIRTUAL_APIC_ADDRESS holds the page's physical address")
    r.expect_eq("host.tpr", 0, "the guest's CR8 must never reach the real local APIC's TPR")
    r.expect_absent("exits.CONTROL_REGISTER_ACCESS",
                    "with the TPR shadow, CR8-load and CR8-store exiting (on since lab 03) must be off: "
                    "CR8 accesses must not exit")


@check(LAB, "tpr-threshold", 11, ["09-2", "09-3"],
       "an interrupt the guest's priority holds back arrives when the guest lowers it (TPR threshold)")
def tpr_threshold(r):
    r.expect_eq("irq.count", 1, "the held interrupt arrives once")
    r.expect_eq("irq.vector", VEC_HELD_CLASS | (r.nonce & 0xF), "with its vector")
    r.expect_eq("irq.stage", STAGE_LOWERED,
                "only after the MOV to CR8 that drops VTPR[7:4] below the vector's class 5 (SDM 11.8.3.1: "
                "class equal to the priority's waits; TPR_THRESHOLD = the vector's class)")
    r.expect_eq("irq.before_next_instruction", 1,
                "and at once: the TPR-below-threshold exit follows that MOV (SDM 30.1.2)")
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
    r.expect_eq("apic.tpr_after_cr8", 0x50, "TPR (80H) reads VTPR: CR8 = 5 shows as 0x50 (SDM 30.4.2)")
    r.expect_eq("apic.cr8_after_tpr", TPR_MMIO >> 4, "a write to TPR (80H) is VTPR: CR8 reads its class")
    r.expect_eq("irq.count", 1, "the guest's self-IPI (ICR low, shorthand self, fixed) reaches the guest once; "
                "its IPI to all excluding self (shorthand 3) never (SDM 11.6.1: ICR bits 19:18)")
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


@check(LAB, "apic-access", 13, ["09-4", "09-5", "09-6"],
       "the guest's APIC page: every access but TPR exits (APIC-access), and is emulated on the virtual-APIC page")
def apic_access(r):
    apic_page(r, [READ | APIC_ID, WRITE | APIC_LVT_TIMER, READ | APIC_LVT_TIMER, READ | APIC_CURRENT_COUNT,
                  WRITE | APIC_ICR_LOW, WRITE | APIC_ICR_LOW], [])


@check(LAB, "apic-register-virtualization", 13, ["09-4", "09-7"],
       "with APIC-register virtualization the same program reads without exits and writes with APIC-write exits")
def apic_register_virtualization(r):
    apic_page(r, [READ | APIC_CURRENT_COUNT], [APIC_LVT_TIMER, APIC_ICR_LOW, APIC_ICR_LOW])


@check(LAB, "x2apic", 14, ["09-8", "09-9", "09-6"],
       "through the x2APIC MSRs: reads and TPR without exits, other writes exit (MSR bitmap) and are emulated")
def x2apic(r):
    r.expect_eq("x2apic.id", (r.nonce >> 16 & 0xFF) << 24,
                "RDMSR 802H reads the virtual-APIC page at 20H (SDM 30.5, with APIC-register virtualization)")
    r.expect_eq("x2apic.lvt", LVT_MASKED | (0x20 + r.nonce % 0xC0),
                "WRMSR 832H exits and is emulated at offset 320H ((ECX & FFH) << 4); RDMSR reads it back")
    r.expect_eq("x2apic.tpr_after_cr8", 0x50, "RDMSR 808H reads VTPR: CR8 = 5 shows as 0x50")
    r.expect_eq("x2apic.cr8_after_tpr", TPR_MMIO >> 4, "WRMSR 808H writes VTPR without an exit")
    r.expect_eq("irq.count", 1, "the self-IPI written to ICR (830H) reaches the guest once; the IPI to all "
                "excluding self (shorthand 3) never")
    r.expect_eq("irq.vector", VEC_IPI_CLASS | (r.nonce >> 8 & 0xF), "with its vector")
    r.expect_eq("irq.stage", STAGE_LOWERED, "after CR8 drops below its class")
    r.expect_eq("host.tpr", 0, "the guest's TPR writes never reach the real local APIC")
    r.expect_eq("host.lvt_timer_masked", 1, "nor its LVT writes")
    r.expect_absent("exits.RDMSR", "RDMSR of 800H-8FFH is virtualized: its read-bitmap bits stay 0")
    r.expect_exits("WRMSR", lambda q: len(q) == 3, "exactly three (832H, 830H twice)",
                   "WRMSR of x2APIC registers other than TPR (808H) must exit, TPR must not")
    r.expect_exits("TPR_BELOW_THRESHOLD", lambda q: len(q) == 1, "exactly one",
                   "the self-IPI waits for the TPR-below-threshold exit")
    r.expect_absent("exits.APIC_ACCESS", "x2APIC virtualization without the APIC-access page")


@check(LAB, "virtual-interrupt-delivery", 16, ["09-10", "09-11", "09-12", "09-13"],
       "requested virtual interrupts are delivered by the processor; virtual EOI exits only for the EOI-exit bitmap")
def virtual_interrupt_delivery(r):
    high, level = VEC_VID_HIGH_CLASS | (r.nonce & 0xF), VEC_VID_LEVEL_CLASS | (r.nonce >> 4 & 0xF)
    r.expect_eq("irq.count", 3, "three deliveries: both vectors, and the level-triggered one again after its EOI exit")
    r.expect_eq("irq.order", high << 16 | level << 8 | level,
                "highest first (RVI), then the next (SVI/VPPR), then the re-requested one (SDM 30.2)")
    r.expect_eq("irq.stage", STAGE_IF1, "never while the guest's RFLAGS.IF = 0 (SDM 30.2.2)")
    r.expect_eq("irq.in_service", 3, "each handler finds its vector in VISR")
    r.expect_eq("guest.eoi_then_next", 3,
                "each EOI write completes once; the EOI-induced exit is trap-like: RIP already past the write")
    r.expect_eq("vid.guest_interrupt_status", 0, "RVI and SVI are 0 at the end")
    r.expect_eq("vid.virr_visr_clear", 1, "VIRR and VISR are clear at the end")
    r.expect_exits("VIRTUALIZED_EOI", lambda q: q == [level, level], [hex(level), hex(level)],
                   "an EOI-induced exit (qualification = vector) for each EOI of the vector in the EOI-exit "
                   "bitmap, none for the other (SDM 30.1.3)")
    r.expect_absent("exits.INTERRUPT_WINDOW", "virtual-interrupt delivery needs no interrupt window")
    r.expect_absent("exits.APIC_ACCESS", "EOI writes are virtualized")
    r.expect_injections(lambda e: e == [], "none", "the processor delivers virtual interrupts: nothing is injected")


@check(LAB, "posted-interrupt", 16, ["09-14", "09-15"],
       "a posted interrupt reaches the guest through the notification vector without a VM exit")
def posted_interrupt(r):
    r.expect_eq("post.pir_and_on", 1, "after vapic_post(): the vector's PIR bit and ON set in the descriptor "
                "POSTED_INTERRUPT_DESCRIPTOR_ADDRESS names (SDM 30.6)")
    r.expect_eq("post.notification_pending", 1, "after vapic_post(): the self-IPI with the vector in "
                "POSTED_INTERRUPT_NOTIFICATION_VECTOR is pending at the local APIC")
    r.expect_eq("post.virr_untouched", 1, "after vapic_post(): VIRR and RVI untouched; the processor moves PIR "
                "into VIRR when the notification arrives (posting is not a virtual-interrupt request)")
    r.expect_eq("irq.count", 1, "the posted vector reaches the guest once")
    r.expect_eq("irq.vector", VEC_POSTED_CLASS | (r.nonce >> 12 & 0xF), "the vector posted in PIR")
    r.expect("irq.instructions_after_post", lambda v: int(v, 0) <= 1, "at most 0x1",
             "right after the VM entry that follows the post: the notification (a self-IPI) is recognized "
             "in VMX non-root operation and processed at once (SDM 30.6; Bochs takes it after the guest's "
             "first instruction)")
    r.expect_eq("irq.in_service", 1, "its handler finds it in VISR")
    r.expect_eq("irq.spurious_0xff", 0, "no notification without a posted vector (Bochs then delivers 0xff)")
    r.expect_eq("pid.clear", 1, "the processor cleared ON and PIR")
    r.expect_eq("pid.page_aligned", 1, "the descriptor in a page of its own (Bochs requires 4-KiB alignment)")
    r.expect_eq("host.notification_in_service", 0, "the processor wrote EOI for the notification")
    r.expect_eq("host.notification_requested", 0, "and no notification is left pending")
    r.expect_eq("vid.virr_visr_clear", 1, "the guest's EOI ended it")
    r.expect_absent("exits.EXTERNAL_INTERRUPT",
                    "the notification vector must not exit: process posted interrupts, with that vector")
    r.expect_injections(lambda e: e == [], "none", "nothing is injected")


# apic-tour: (exits besides the hypercalls, interrupts the guest took) of each phase
TOUR = {"tpr": (0, 0), "access": (7, 1), "regvirt": (5, 1), "x2apic": (4, 1), "vid": (2, 3), "posted": (0, 1)}


@check(LAB, "apic-tour", 6, ["09-1", "09-4", "09-7", "09-8", "09-10", "09-14"],
       "make run's tour: each step's program on a vCPU of its own, and the exits that remain")
def apic_tour(r):
    for key, (exits, interrupts) in TOUR.items():
        r.expect_eq(f"tour.{key}.exits", exits, f"the exits of the {key} phase (see the handout's table)")
        r.expect_eq(f"tour.{key}.interrupts", interrupts, f"the interrupts the {key} phase's guest takes")
    # Bochs's record of the whole tour: the phases' exits added up
    for reason, count in (("TPR_BELOW_THRESHOLD", 3), ("APIC_ACCESS", 7), ("APIC_WRITE", 3), ("WRMSR", 3),
                          ("VIRTUALIZED_EOI", 2)):
        r.expect_exits(reason, lambda q, n=count: len(q) == n, f"exactly {count}",
                       "the exits the tour's phases may still take (the handout's table)")
    r.expect_absent("exits.CONTROL_REGISTER_ACCESS", "CR8 never exits with the TPR shadow")
    r.expect_absent("exits.EXTERNAL_INTERRUPT", "the posted notification never exits")
