"""Lab 07: EPT. The guest (grader/checks/lab07_guest.S) lives in its own guest-physical space,
which grader/checks/lab07.c builds with the student's ept_map(); the values it reads and writes
are modelled here from the nonce. Facts about the EPT come from the grader's own walk of the
tables the VMCS's EPTP points to; exits and their qualifications from Bochs's record."""
from gradelib import C, check

LAB = "07"
MASK64 = 2**64 - 1
DONE_XOR = C["DONE_XOR"]
PAGE = 0x1000
WB = 6                      # memory type write-back (SDM 11.11; EPT leaf bits 5:3, EPTP bits 2:0)
LARGE_PAGE = 1 << 7         # EPT leaf bit 7
# Table 28-7: the bits of an EPT-violation qualification the checks compare (0-5, 7, 8); bits
# 9-12 (the guest translation's U/S, R/W, NX; NMI unblocking) are left out.
QUAL_COMPARED = 0x1BF
READ, WRITE, FETCH = 1, 2, 4
ALLOWED_R, ALLOWED_W, ALLOWED_X = 1 << 3, 1 << 4, 1 << 5
LINEAR_VALID, FINAL = 1 << 7, 1 << 8


def rotl(x, n):
    return ((x << n) | (x >> (64 - n))) & MASK64


def big_digest(nonce):
    """lab07_guest.S phase_ram: one qword per page of the 2-MiB leaf, filled by lab07.c."""
    digest = 0
    for page in range(512):
        offset = page * PAGE + (nonce & 0xFF8)
        digest = rotl(digest, 5) ^ (((nonce ^ offset) * 0x100000001B3) & MASK64)
    return digest


def demand_digest(nonce):
    digest = 0
    for k in range(C["DEMAND_TOUCHES"]):
        digest = rotl(digest, 7) ^ ((k << 56 | k) ^ nonce)
    return digest


def protect_mask(nonce):
    return nonce ^ rotl(nonce, C["PROTECT_MASK_ROTATE"])


def dirty_mask(nonce):
    return nonce ^ rotl(nonce, C["DIRTY_MASK_ROTATE"]) ^ C["DIRTY_MASK_XOR"]


def expect_done(r):
    r.expect_eq("guest.done", r.nonce ^ DONE_XOR,
                "the guest ran to its end in its own memory and said so with a value from the nonce")


def expect_isolated(r):
    """lab07_space.c's audit of every leaf of the EPT the VMCS names, after the run."""
    r.expect_eq("isolation.bad_leaves", 0,
                "after the run, every EPT leaf maps what the check asked for, or a demand page on a "
                "fresh page from page_alloc(): no leaf added anywhere else, nothing of the hypervisor")
    r.expect_absent("isolation.first_bad_leaf", "no leaf outside the guest's memory")


def expect_violations(r, quals, why):
    """Bochs's record of EPT violations, bits QUAL_COMPARED of each qualification, in order."""
    r.expect_exits("EPT_VIOLATION", lambda qs: [q & QUAL_COMPARED for q in qs] == quals,
                   "[" + ", ".join(hex(q) for q in quals) + "] (bits 0-5, 7, 8)", why)


@check(LAB, "ept-eptp", 6, ["07-1", "07-2"],
       "the EPT pointer: write-back, a 4-level walk, A/D as asked, from IA32_VMX_EPT_VPID_CAP")
def ept_eptp(r):
    r.expect_eq("eptp.made_without_ad", 0x123000 | WB | 3 << 3,
                "ept_make_eptp(0x123000, false): bits 2:0 memory type WB (6), bits 5:3 the walk length "
                "minus 1 (3), bit 6 clear, bits 51:12 the PML4 address (SDM 25.6.11, Table 25-9)")
    r.expect_eq("eptp.made_with_ad", 0xABC000 | WB | 3 << 3 | 1 << 6,
                "ept_make_eptp(0xabc000, true): as above with bit 6 (accessed and dirty flags)")
    r.expect("eptp.vmcs", lambda v: int(v, 0) & 0xFFF == WB | 3 << 3 | 1 << 6, "low bits 0x5e",
             "the VMCS's EPT_POINTER: WB, 4-level walk, A/D on (the checks ask for A/D)")
    r.expect_eq("eptp.root_is_vcpu_pml4", 1, "EPT_POINTER holds lab07(v)->pml4's address")
    r.expect_bits("eptp.primary_controls", 1 << 31, 0, "activate secondary controls (bit 31) must be on")
    r.expect_bits("eptp.secondary_controls", 1 << 1, 0, "enable EPT (secondary bit 1) must be on")
    reads = r.bochs.msr_reads_after_boot(C["MSR_IA32_VMX_EPT_VPID_CAP"])
    r.expect_that("Bochs's record of RDMSR IA32_VMX_EPT_VPID_CAP (0x48c)", bool(reads), len(reads),
                  "at least 1", "the EPTP is built from what the processor offers (SDM A.10)")
    r.expect_eq("guest.big_digest", big_digest(r.nonce), "with that EPTP the guest reads its memory")
    expect_isolated(r)
    expect_done(r)


def expect_leaf(r, name, level, permissions, why):
    r.expect_eq(f"leaf.{name}.level", level, why)
    hpa = r.int_fact(f"leaf.{name}.hpa", 0)
    want = hpa | permissions | WB << 3 | (LARGE_PAGE if level > 1 else 0)
    r.expect(f"leaf.{name}.entry", lambda v: int(v, 0) & 0x000FFFFFFFFFF0FF == want, hex(want),
             f"the leaf holds the host address, the permissions asked for, memory type WB (bits 5:3)"
             f"{' and the page-size bit 7' if level > 1 else ''} (SDM 29.3.2); accessed/dirty ignored")


@check(LAB, "ept-leaves", 10, ["07-3"],
       "EPT leaves of 4 KiB, 2 MiB and 1 GiB: where the walk ends and what the leaf holds")
def ept_leaves(r):
    expect_leaf(r, "ram", 1, 7, "guest RAM is mapped with 4-KiB leaves: the walk ends at a PTE")
    r.expect_eq("leaf.ram.path", 7,
                "the non-leaf entries on the walk to RAM allow read, write and execute: the permissions "
                "of every entry on the way apply (SDM 29.3.2), so a table made for a read-only leaf "
                "must not pass its permissions on (the check maps the read-only leaves first)")
    expect_leaf(r, "big", 2, 1, "a 2-MiB mapping is one PDE with bit 7 (Table 29-4)")
    expect_leaf(r, "huge", 3, 1, "a 1-GiB mapping is one PDPTE with bit 7 (Table 29-2)")
    r.expect_eq("guest.big_digest", big_digest(r.nonce),
                "the guest reads, through the 2-MiB leaf, what the check put in the host block behind it")
    r.expect_eq("guest.huge_read", MASK64,
                "a read through the 1-GiB leaf reaches host-physical 1 GiB + offset, where Bochs has "
                "no memory (all ones); a wrong leaf is a misconfiguration or a violation instead")
    r.expect_absent("exits.EPT_VIOLATION", "every page the guest reads is mapped")
    r.expect_absent("exits.EPT_MISCONFIGURATION", "no entry may be misconfigured")
    expect_isolated(r)
    expect_done(r)


@check(LAB, "ept-isolation", 8, ["07-2", "07-3", "07-10"],
       "the guest reaches only its own memory: no leaf onto the hypervisor's")
def ept_isolation(r):
    r.expect_eq("isolation.bad_leaves", 0,
                "every EPT leaf maps what the check asked for, or a fresh page from page_alloc() for the demand "
                "region; nothing maps the hypervisor's memory or the EPT tables themselves")
    r.expect_absent("isolation.first_bad_leaf", "no leaf outside the guest's memory")
    r.expect_eq("isolation.demand_pages", C["DEMAND_TOUCHES"], "one fresh page per page touched")
    expect_violations(r, [READ | LINEAR_VALID | FINAL] * C["DEMAND_TOUCHES"] +
                      [WRITE | LINEAR_VALID | FINAL, READ | LINEAR_VALID | FINAL] * 2,
                      "one exit per demand page, one per device access, none for RAM or the "
                      "2-MiB and 1-GiB pages")
    r.expect_eq("guest.big_digest", big_digest(r.nonce), "the guest reads its own memory")
    expect_done(r)


@check(LAB, "ept-demand", 10, ["07-9", "07-10"],
       "demand mapping: a page of the demand region is backed by a fresh host page at first touch")
def ept_demand(r):
    expect_violations(r, [READ | LINEAR_VALID | FINAL] * C["DEMAND_TOUCHES"],
                      "each page's first touch (a read) exits once as not present (bits 5:3 = 0); "
                      "mapped then, the access is retried and never exits again")
    r.expect_eq("guest.demand_first_reads", 0, "a fresh page reads 0: no other page's data")
    r.expect_eq("guest.demand_digest", demand_digest(r.nonce),
                "each guest page keeps what was written to it: a host page of its own")
    r.expect_eq("isolation.bad_leaves", 0, "the new leaves map fresh host pages, nothing else")
    r.expect_eq("isolation.demand_pages", C["DEMAND_TOUCHES"], "one leaf per page touched")
    expect_done(r)


@check(LAB, "ept-mmio", 12, ["07-9", "07-13", "07-14"],
       "an MMIO device page: loads and stores decoded from the guest's instruction and emulated")
def ept_mmio(r):
    latch = (r.nonce & 0xFFFFFFFF) ^ C["MMIO_LATCH_XOR"]
    expect_violations(r, [WRITE | LINEAR_VALID | FINAL, READ | LINEAR_VALID | FINAL] * 2,
                      "four device accesses, each exits once (nothing is mapped there)")
    r.expect_eq("device.accesses", "W4@0x10,R8@0x8,W8@0x18,R4@0x0",
                "the device sees each access once, of the size and kind of the instruction: a store "
                "(89, C7) calls write, a load (8B) read; REX.W makes 8 bytes")
    r.expect_eq("device.latch", latch, "the 4-byte store carries the source register's low half")
    r.expect_eq("device.wide", 0xFFFFFFFF87654321,
                "C7 with REX.W stores its 32-bit immediate sign-extended to 64 bits")
    r.expect_eq("guest.mmio_mix", (latch * C["MMIO_MIX_MULTIPLIER"]) & MASK64,
                "the 8-byte load puts the device's value into the destination register")
    r.expect_absent("mmio.used_exit_length",
                    "the guest's RIP moves by the decoded instruction's length: the VM-exit instruction "
                    "length is not defined for EPT violations (SDM 28.2.5); the check hands the handler "
                    "one no instruction has")
    r.expect_eq("guest.mmio_id", latch ^ C["MMIO_ID_XOR"],
                "a 4-byte load writes the low half and zeroes bits 63:32 of the register; the "
                "instruction ran from a 4-KiB guest page, so the walk must handle both page sizes")
    expect_isolated(r)
    expect_done(r)


@check(LAB, "ept-write-protect", 10, ["07-6", "07-9", "07-11"],
       "write protection: the first write to each protected page is recorded, then allowed")
def ept_write_protect(r):
    mask = protect_mask(r.nonce)
    expect_violations(r, [WRITE | ALLOWED_R | ALLOWED_X | LINEAR_VALID | FINAL] * bin(mask).count("1"),
                      "one exit per page written (the second write to it no longer exits); reads "
                      "never exit; the leaf still allows read and execute")
    r.expect_eq("protect.recorded", mask, "the pages the guest wrote, each recorded (bit i = page i)")
    r.expect_eq("protect.recorded_count", bin(mask).count("1"),
                "each page recorded once, in a list ept_write_protect() emptied (the check left a page "
                "of an earlier round in it)")
    r.expect_eq("protect.recorded_elsewhere", 0, "as 4-KiB-aligned guest-physical addresses")
    r.expect_eq("protect.written", mask, "every write happened once permission was given back")
    r.expect_eq("lookup.execute_only", 1,
                "ept_lookup() finds an execute-only 4-KiB leaf: an entry is present when any of bits 2:0 "
                "is set (SDM 29.3.2), not only read")
    expect_isolated(r)
    expect_done(r)


@check(LAB, "ept-dirty-log", 10, ["07-7", "07-8"],
       "dirty logging with the EPT dirty flags: the pages written during a phase, with no exit")
def ept_dirty_log(r):
    mask = dirty_mask(r.nonce)
    r.expect_eq("dirty.flags", mask,
                "the dirty flags (bit 9) in the leaves: cleared at the start (the check set them all "
                "before), set by the processor for exactly the pages written (SDM 29.3.5)")
    r.expect_eq("dirty.collected", mask, "ept_dirty_log_collect() reports those pages")
    r.expect_eq("dirty.written", mask, "the guest's writes went through")
    r.expect_absent("exits.EPT_VIOLATION", "dirty logging costs no exit")
    expect_isolated(r)
    expect_done(r)


@check(LAB, "ept-invept", 8, ["07-5", "07-6", "07-7"],
       "INVEPT after every change that needs it: write protection, clearing dirty flags")
def ept_invept(r):
    for phase, what in (("protect", "taking write permission away"),
                        ("dirty", "clearing dirty flags")):
        r.expect(f"invept.{phase}.count", lambda v: int(v, 0) >= 1, "at least 1",
                 f"{what} needs INVEPT (SDM 29.4.3): Bochs flushes at every VM entry, so the guest "
                 "cannot show it; the grader counts the INVEPTs executed")
        r.expect_eq(f"invept.{phase}.type", C["INVEPT_SINGLE_CONTEXT"],
                    "single-context, which IA32_VMX_EPT_VPID_CAP[25] offers: only this EPTP's")
        r.expect_eq(f"invept.{phase}.eptp_is_current", 1, "for the EPTP in the VMCS")
    expect_violations(r, [WRITE | ALLOWED_R | ALLOWED_X | LINEAR_VALID | FINAL] *
                      bin(protect_mask(r.nonce)).count("1"),
                      "one exit per write-protected page written; dirty logging exits never")
    expect_isolated(r)
    expect_done(r)


@check(LAB, "ept-pml", 8, ["07-15", "07-16"],
       "page-modification logging: every page whose dirty flag was set, once, across full logs")
def ept_pml(r):
    touches = C["DEMAND_TOUCHES"]
    r.expect_eq("pml.ram_pages", C["GUEST_RAM_SIZE"] // PAGE,
                "the guest wrote every page of its RAM: each is logged (SDM 29.3.6)")
    r.expect_eq("pml.demand_pages", touches, "and each demand page it wrote")
    r.expect_eq("pml.duplicates", 0, "a page is logged when its dirty flag goes from 0 to 1: once")
    r.expect_eq("pml.elsewhere", 0,
                "every drained entry is a 4-KiB-aligned address the guest wrote: entries index + 1 "
                "to 511 of each round, all 512 when the index wrapped to 0xFFFF")
    r.expect_eq("pml.entries", C["GUEST_RAM_SIZE"] // PAGE + touches, "nothing lost, nothing extra")
    r.expect("exits.PAGE_MODIFICATION_LOG_FULL", lambda v: int(v, 0) >= 1, "at least 1",
             "more pages than one log holds (512): the log fills, exits, is drained and reset to 511")
    expect_violations(r, [READ | LINEAR_VALID | FINAL] * touches, "the demand phase's first touches")
    r.expect_eq("guest.demand_digest", demand_digest(r.nonce), "the guest's writes all happened")
    expect_isolated(r)
    expect_done(r)


@check(LAB, "ept-misconfig", 8, ["07-12"],
       "EPT misconfigurations: each rule of SDM 29.3.3.1, and a guest that meets one is stopped")
def ept_misconfig(r):
    r.expect_eq("exits.EPT_MISCONFIGURATION", 1,
                "the guest read a page whose leaf is write-only: one EPT misconfiguration")
    r.expect_absent("guest.misconfig_survived", "the hypervisor stops the guest there")
    r.expect_absent("guest.done", "the guest never gets past the misconfigured page")
    r.expect_eq("misconfig.classified", "1,0,3,3,4,4,4,4,4,0,0,0,0,4,1,3,4",
                "ept_entry_misconfig() for: write-only, sound PTE, memory type 2, memory type 7, PS "
                "in a PML4E, bit 3 in a non-leaf PDE, a 2-MiB leaf with bit 13, a 1-GiB leaf with bit "
                "21, bit 45 (MAXPHYADDR is 40), execute-only (supported), not present, sound "
                "non-leaf PDPTE, sound 1-GiB leaf, bits 6:3 set in a non-leaf PDPTE, "
                "write-only PML4E, memory type 3, a 2-MiB leaf with bit 12 (bits 20:12 are reserved "
                "there; PAT is a bit of guest paging, not of EPT) (1 write without read, 3 memory type, "
                "4 reserved bit)")
    expect_isolated(r)


@check(LAB, "ept-two-guests", 10, ["07-2", "07-3", "07-9", "07-10"],
       "two guests on lab 05's scheduler, each in its own EPT: neither reaches the other or the hypervisor")
def ept_two_guests(r):
    ram_pages = C["GUEST_RAM_SIZE"] // PAGE
    touches = C["DEMAND_TOUCHES"]
    for g, other in (("a", "b"), ("b", "a")):
        r.expect_eq(f"two.{g}.done", r.nonce ^ DONE_XOR, f"guest {g.upper()} ran to its end in its own memory")
        r.expect_eq(f"two.{g}.lost", 0, f"guest {g.upper()} read back its pattern from every page it wrote: "
                    "nothing else wrote there")
        r.expect_eq(f"two.{g}.not_caught", 0, f"every store of guest {g.upper()} beyond its space exited "
                    "(an EPT violation): nothing is mapped there")
        probes = r.int_fact(f"two.{g}.probes", 0)
        r.expect(f"two.{g}.probes", lambda v: int(v, 0) >= 60, "at least 60",
                 "pages beyond the guest's space it tries: one per 2 MiB of host memory and the host "
                 "addresses of the other guest's RAM, both EPT PML4s and both VMCSs")
        r.expect_eq(f"two.{g}.caught", probes, "the grader saw each of those stores exit")
        r.expect_eq(f"two.{g}.leaves", ram_pages + touches,
                    f"guest {g.upper()}'s EPT (the grader walks it from its VMCS's EPT pointer) maps its "
                    "RAM and the demand pages it touched, nothing else")
        r.expect_eq(f"two.{g}.bad_leaves", 0,
                    "each leaf maps the guest's own RAM or a fresh page for its demand region: no host "
                    f"page of guest {other.upper()}, no EPT table, no page of the hypervisor")
        r.expect_absent(f"two.{g}.first_bad_leaf", "no leaf outside the guest's own memory")
        r.expect_eq(f"two.{g}.own_pages", ram_pages + touches,
                    f"the grader finds guest {g.upper()}'s pattern in each of its pages, in host memory")
        r.expect_eq(f"two.{g}.stray_pages", 0, f"and in no other host page: guest {g.upper()} changed "
                    f"nothing of guest {other.upper()} or of the hypervisor")
        r.expect_absent(f"two.{g}.first_stray", "no pattern outside the guest's own pages")
        r.expect(f"two.{g}.preemptions", lambda v: int(v, 0) >= 2, "at least 2",
                 "the timer ended the guest's slice while it swept: the guests ran interleaved "
                 "(sched_add gives each guest its slice, sched_run switches VMCSs)")
    r.expect_eq("two.shared_pages", 0, "the two EPTs share no host page, neither a leaf nor a table")
    r.expect_eq("two.image_unchanged", 1, "the hypervisor's code and constants are unchanged")
    exits = 2 * touches + r.int_fact("two.a.probes", 0) + r.int_fact("two.b.probes", 0)
    qual = WRITE | LINEAR_VALID | FINAL
    r.expect_exits("EPT_VIOLATION", lambda qs: [q & QUAL_COMPARED for q in qs] == [qual] * exits,
                   f"{exits} exits, each {qual:#x} (bits 0-5, 7, 8)",
                   "one exit per demand page of each guest and one per store beyond its space, each a "
                   "write to a page with nothing mapped (bits 5:3 = 0)")
