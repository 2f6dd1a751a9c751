"""Lab 02: exit handling. Guest programs: grader/checks/lab02.c; the device and the values the
guests compute with are modelled here from the nonce."""
import re

from gradelib import check

LAB = "02"
MASK64 = 2**64 - 1
CANONICAL_LOW = 0x7FFFFFFFFFFF
VEC_DB, VEC_UD, VEC_GP = 1, 6, 13
NO_FAULT = 0x100            # what a guest reports when nothing faulted
SIGNATURE_EBX = int.from_bytes(b"VMXL", "little")


def rotl(x, n, bits=64):
    mask = (1 << bits) - 1
    return ((x << n) | (x >> (bits - n))) & mask


class Accumulator:
    """grader/checks/lab02.c's device at ports 0x7ffe-0x8001."""

    def __init__(self, nonce):
        self.acc = nonce & 0xFFFFFFFF

    def out(self, offset, value):
        self.acc = rotl(self.acc, 5, 32) ^ value ^ offset

    def inp(self, offset, size):
        value = (self.acc ^ offset) & ((1 << (8 * size)) - 1)
        self.acc = rotl(self.acc, 3, 32)
        return value


@check(LAB, "vmx-instructions", 8, ["02-1", "02-4"],
       "VMXON, VMREAD, VMLAUNCH ... in the guest: VM exit, then #UD injected")
def vmx_instructions(r):
    r.expect_eq("vmx.ud_mask", 0x7FF, "all 11 VMX instructions (bit i = attempt i in "
                "lab02.c:guest_vmx_instructions) must raise #UD in the guest")
    for name in ("VMXON", "VMREAD", "VMLAUNCH", "INVEPT"):
        r.expect_eq(f"exits.{name}", 1, "each attempt exits once and is answered with #UD")


@check(LAB, "inject", 8, ["02-1"], "exceptions injected at VM entry reach the guest's IDT handler")
def inject(r):
    want = [(VEC_UD, 0), (VEC_GP, r.nonce & 0xFFF8), (VEC_DB, 0)]
    for i, (vector, error) in enumerate(want):
        r.expect_eq(f"inject.{i}.vector", vector, "the guest's handler sees the injected vector")
        r.expect_eq(f"inject.{i}.error", error, "#GP carries its error code; #UD and #DB push none "
                    "(deliver-error-code must be 0 for them)")


@check(LAB, "invd-xsetbv", 8, ["02-1", "02-2", "02-3"],
       "INVD emulated; XSETBV validated like the processor, performed or answered with #GP(0)")
def invd_xsetbv(r):
    r.expect_eq("invd.faulted", 0, "INVD exits and the guest continues after it")
    r.expect_eq("exits.INVD", 1, "INVD always exits")
    r.expect_eq("xsetbv.x87_sse", 0x103, "XCR0 = 3 is valid: performed (0x100 | new XCR0)")
    r.expect_eq("xsetbv.no_x87", VEC_GP, "XCR0 bit 0 must be 1: #GP(0)")
    r.expect_eq("xsetbv.avx_no_sse", VEC_GP, "AVX without SSE: #GP(0)")
    r.expect_eq("xsetbv.xcr1", VEC_GP, "ECX must be 0: #GP(0)")
    avx = (r.int_fact("xsetbv.supported", 0) & 4) != 0
    r.expect_eq("xsetbv.x87_sse_avx", 0x107 if avx else VEC_GP,
                "XCR0 = 7 is valid when CPUID.(0DH,0):EAX reports AVX")


@check(LAB, "hlt", 8, ["02-5", "02-6"], "HLT exiting: idle with IF=1, end the guest with IF=0")
def hlt(r):
    n = 3 + r.nonce % 5
    r.expect_eq("hlt.count", n, "every HLT with IF=1 exits and the guest continues after it")
    r.expect_eq("exits.HLT", n + 1, "HLT exiting must be on: one exit per HLT")
    r.expect_absent("hlt.woke_up_with_if_0", "a HLT with IF=0 must end the guest (EXIT_STOP)")
    r.expect_absent("guest.done", "the guest never gets past its last HLT")


def expect_tscs(r, exiting):
    count = r.int_fact("tsc.count", 0)
    offset, before, after = (r.int_fact(k, 0) for k in ("host.tsc_offset", "host.tsc_before", "host.tsc_after"))
    r.expect_eq("tsc.count", 1 + (r.nonce & 1) * 2, "the guest read the TSC its nonce-chosen number of times")
    last = 0
    for i in range(count):
        value = r.int_fact(f"tsc.{i}", -1)
        r.expect(f"tsc.{i}", lambda v: before + offset <= value <= after + offset and value > last,
                 f"between 0x{before + offset:x} and 0x{after + offset:x}, increasing",
                 "the guest sees the host TSC plus TSC_OFFSET")
        last = value
    if exiting:
        r.expect_eq("exits.RDTSC", count, "with RDTSC exiting every RDTSC exits once")
    else:
        r.expect_absent("exits.RDTSC", "the check turned RDTSC exiting off")


@check(LAB, "tsc-offset", 5, ["02-5"], "TSC offsetting: the guest reads TSC + TSC_OFFSET without exits")
def tsc_offset(r):
    expect_tscs(r, exiting=False)


@check(LAB, "rdtsc-exit", 7, ["02-7"], "RDTSC exiting: the emulated RDTSC returns TSC + TSC_OFFSET")
def rdtsc_exit(r):
    expect_tscs(r, exiting=True)


@check(LAB, "invlpg", 5, ["02-8"], "INVLPG exiting: the exit qualification is the linear address")
def invlpg(r):
    address = (r.nonce & 0x3FFFF000) | 0x40000123
    r.expect_eq("invlpg.qualification", address, "INVLPG exiting must be on; the exit names the address")
    r.expect_eq("invlpg.address", address, "the guest continues after its INVLPG")
    r.expect_eq("exits.INVLPG", 1, "one INVLPG, one exit")


@check(LAB, "mov-dr", 8, ["02-1", "02-9"],
       "MOV DR exits decoded (register, direction, DR) and emulated; DR7 lives in the VMCS")
def mov_dr(r):
    r.expect_eq("dr.0", r.nonce & CANONICAL_LOW, "MOV RBX->DR0 then DR0->RCX returns the value")
    r.expect_eq("dr.1", rotl(r.nonce, 17) & CANONICAL_LOW, "MOV R9->DR1 then DR1->R12 (registers 8-15)")
    r.expect_eq("dr.3", rotl(r.nonce, 33) & CANONICAL_LOW, "MOV RSI->DR3 then DR3->RDI")
    r.expect_eq("dr.7", 0x600, "MOV to/from DR7 goes through GUEST_DR7")
    r.expect_eq("dr.7_high_bits", VEC_GP, "MOV to DR7 with bits 63:32 set raises #GP(0)")
    r.expect_eq("exits.MOV_DR", 9, "MOV-DR exiting on: every MOV DR exits")


@check(LAB, "io-bitmap", 8, ["02-11", "02-12"],
       "I/O bitmaps trap exactly the device's ports (across bitmaps A and B); IN/OUT emulated")
def io_bitmap(r):
    dev, x = Accumulator(r.nonce), (r.nonce >> 32) & 0xFFFFFFFF
    dev.out(0, x & 0xFF)
    dev.out(1, (x >> 8) & 0xFFFF)
    dev.out(2, x ^ 0xA5A5A5A5)
    r.expect_eq("io.in1_7fff", dev.inp(1, 1), "IN AL from port 0x7fff (the last bit of bitmap A)")
    r.expect_eq("io.in1", dev.inp(3, 1), "IN AL from port 0x8001 (bitmap B)")
    r.expect_eq("io.in2", dev.inp(0, 2), "IN AX from port 0x7ffe (bitmap A)")
    r.expect_eq("io.in4", dev.inp(2, 4), "IN EAX from port 0x8000")
    r.expect_eq("io.inb_rax", 0x1122334455667700 | dev.inp(0, 1), "IN AL keeps RAX bits 63:8")
    r.expect_eq("io.inl_rax", dev.inp(2, 4), "IN EAX clears RAX bits 63:32")
    r.expect_eq("exits.IO_INSTRUCTION", 9,
                "exactly the 9 accesses to ports 0x7ffe-0x8001 exit; 0x7ffd and 0x8002 do not")


@check(LAB, "io-unconditional", 4, ["02-12"],
       "unconditional I/O exiting (no bitmaps): every port exits; ports without a device pass through")
def io_unconditional(r):
    dev = Accumulator(r.nonce)
    dev.out(0, r.nonce & 0xFF)
    r.expect_eq("io.unconditional_in", dev.inp(0, 1), "the device still answers")
    r.expect_eq("exits.IO_INSTRUCTION", 4, "all 4 accesses exit, 0x7ffd and 0x8002 too; the handler "
                "performs those on the real ports")


@check(LAB, "io-string", 8, ["02-12"], "INS/OUTS with and without REP, forwards and backwards")
def io_string(r):
    nonce, dev = r.nonce, Accumulator(r.nonce)
    src = [((nonce >> (i % 8 * 8)) & 0xFF) ^ i for i in range(16)]
    n = 5 + nonce % 11
    for i in range(n):
        dev.out(0, src[i])
    r.expect_eq("str.outsb_rcx", 0, "REP leaves RCX = 0")
    r.expect_eq("str.outsb_rsi", n, "OUTSB advances RSI by 1 per byte")
    words = [dev.inp(2, 2) for _ in range(3)]
    r.expect_eq("str.insw_words", words[0] | words[1] << 16 | words[2] << 32, "REP INSW stores 3 words")
    r.expect_eq("str.insw_rdi", 6, "INSW advances RDI by 2 per word")
    dev.out(2, rotl(nonce, 7) & 0xFFFFFFFF)
    r.expect_eq("str.outsl_rsi", 4, "OUTSD without REP moves one dword")
    for i in (15, 14, 13):
        dev.out(0, src[i])
    r.expect_eq("str.std_rsi", 3, "with RFLAGS.DF = 1, OUTSB walks backwards")
    r.expect_eq("str.final", dev.inp(0, 4), "the device saw every byte in order")


@check(LAB, "msr-bitmap", 8, ["02-1", "02-13", "02-14"],
       "MSR bitmaps (low/high, read/write): pass-through, read-only, virtual and unknown MSRs")
def msr_bitmap(r):
    r.expect_eq("msr.sysenter_esp", r.int_fact("host.guest_sysenter_esp", "host.guest_sysenter_esp (not reported)"),
                "reads of IA32_SYSENTER_ESP pass through (the value VM entry loaded)")
    r.expect_eq("msr.sysenter_esp_write", VEC_GP, "writes of IA32_SYSENTER_ESP exit and raise #GP(0)")
    r.expect_eq("msr.kernel_gs_base", (r.nonce & 0x7FFFFFFFF000) | 8,
                "IA32_KERNEL_GS_BASE (high range) is the guest's own")
    r.expect_eq("msr.tsc_aux", rotl(r.nonce, 9) & 0xFFFFFFFF, "IA32_TSC_AUX is emulated: reads return the write")
    r.expect_eq("msr.tsc_aux_high_bits", VEC_GP, "IA32_TSC_AUX has 32 bits: bits 63:32 set give #GP(0)")
    r.expect_eq("msr.scratch", rotl(r.nonce, 21), "the virtual MSR 0x40000100 keeps 64 bits")
    r.expect_eq("msr.unknown_read", VEC_GP, "an MSR nobody implements raises #GP(0)")
    r.expect_eq("exits.RDMSR", 3, "only TSC_AUX, the virtual MSR and the unknown MSR exit on RDMSR "
                "(SYSENTER_ESP, KERNEL_GS_BASE and PAT must not: check the read bitmaps)")
    r.expect("exits.WRMSR", lambda v: int(v, 0) in (3, 4), "3 or 4",
             "SYSENTER_ESP, TSC_AUX and the virtual MSR exit on WRMSR, KERNEL_GS_BASE must not "
             "(the bad TSC_AUX write may fault before exiting)")


@check(LAB, "wbinvd-pause", 5, ["02-5", "02-10"], "WBINVD exiting and PAUSE exiting")
def wbinvd_pause(r):
    a, b = 2 + r.nonce % 3, 3 + (r.nonce >> 8) % 4
    r.expect_eq("wbinvd.count", a, "the guest continues after each WBINVD")
    r.expect_eq("pause.count", b, "the guest continues after each PAUSE")
    r.expect_eq("exits.WBINVD_OR_WBNOINVD", a, "WBINVD exiting (secondary control) must be on")
    r.expect_eq("exits.PAUSE", b, "PAUSE exiting must be on")


@check(LAB, "fault-vs-exit", 5, ["02-1", "02-3", "02-5", "02-7", "02-11"],
       "faults that win over VM exits at CPL 3, and exits that happen anyway")
def fault_vs_exit(r):
    for key, why in (("user_hlt", "HLT at CPL 3"), ("user_rdtsc_tsd", "RDTSC at CPL 3 with CR4.TSD = 1"),
                     ("user_in", "IN at CPL 3 with IOPL 0 and no TSS permission"),
                     ("user_invd", "INVD at CPL 3"),
                     ("user_xsetbv", "XSETBV at CPL 3 (the hypervisor checks CPL if the CPU exits)")):
        r.expect_eq(f"prio.{key}", VEC_GP, f"{why} raises #GP(0) in the guest")
    r.expect_eq("prio.getsec", VEC_UD, "GETSEC with CR4.SMXE = 0 raises #UD, no VM exit")
    r.expect_eq("prio.user_rdtsc", NO_FAULT, "RDTSC at CPL 3 with CR4.TSD = 0 exits and is emulated")
    r.expect_eq("prio.user_cpuid", NO_FAULT, "CPUID at CPL 3 exits like at CPL 0")
    r.expect_eq("prio.user_cpuid_ebx", SIGNATURE_EBX, "and returns the hypervisor leaf")
    for reason in ("HLT", "IO_INSTRUCTION", "INVD", "GETSEC"):
        r.expect_absent(f"exits.{reason}", "the fault has priority: no VM exit")
    r.expect_eq("exits.RDTSC", 1, "only the CPL-3 RDTSC without CR4.TSD exits")


STAT_LINE = re.compile(r"^  (\S+) (\d+)$")


@check(LAB, "exit-stats", 5, ["02-10", "02-15"], "the exit-statistics table matches the exits that happened")
def exit_stats(r):
    lines = r.run.serial.splitlines()
    table, total = {}, None
    if "exit statistics:" in lines:
        for line in lines[lines.index("exit statistics:") + 1:]:
            m = STAT_LINE.match(line)
            if not m:
                break
            if m.group(1) == "total":
                total = int(m.group(2))
                break
            table[m.group(1)] = int(m.group(2))
    counted = {k[len("exits."):]: int(v) for k, v in r.facts.items() if k.startswith("exits.")}
    r.expect_that("exit statistics table", table == counted and bool(counted), table, counted,
                  "one line '  NAME count' per exit reason that happened")
    r.expect_that("exit statistics total", total == sum(counted.values()), total,
                  sum(counted.values()), "a last line '  total N'")
