"""Lab 02: exit handling. Guest programs: grader/checks/lab02.c; the device and the values the
guests compute with are modelled here from the nonce. Each expectation names the SDM rule a
wrong value breaks; facts come from the image, exits and injections from Bochs's own record."""
import re

from gradelib import C, EXIT_NUMBERS, EXIT_REASONS, check

LAB = "02"
MASK64 = 2**64 - 1
CANONICAL_LOW = C["CANONICAL_LOW"]
VEC_DB, VEC_UD, VEC_GP = C["VEC_DB"], C["VEC_UD"], C["VEC_GP"]
NO_FAULT = C["NO_FAULT"]            # what a guest reports when nothing faulted
PERFORMED = C["XSETBV_PERFORMED"]   # | the new XCR0: what a guest reports of a performed XSETBV
SIGNATURE_EBX = int.from_bytes(C["HV_SIGNATURE"][:4].encode(), "little")
AT_INSN = ("at the instruction (0x2NN would mean RIP was moved NN bytes past it: a refused "
           "instruction is injected, never skipped, SDM 27.6.1)")
DEVICE, IMMEDIATE = C["DEVICE_BASE"], C["IMMEDIATE_BASE"]    # the accumulator's two windows
TOP_PORT = C["TOP_PORT"]    # io_intercept(TOP_PORT, 4): TOP_PORT and TOP_PORT + 1 only


def rotl(x, n, bits=64):
    mask = (1 << bits) - 1
    return ((x << n) | (x >> (bits - n))) & mask


class Accumulator:
    """grader/checks/lab02.c's device at ports 0x7ffe-0x8001 (and 0xe0-0xe3)."""

    def __init__(self, nonce):
        self.acc = nonce & 0xFFFFFFFF

    def out(self, offset, value):
        self.acc = rotl(self.acc, 5, 32) ^ value ^ offset

    def inp(self, offset, size):
        value = (self.acc ^ offset) & ((1 << (8 * size)) - 1)
        self.acc = rotl(self.acc, 3, 32)
        return value


def expect_injections(r, want, why):
    """Bochs's record of the events VM entries injected: want is a list of (vector, error code),
    error code None where the vector pushes none (Bochs logs the field whatever bit 11 says)."""
    got = r.bochs.injections
    ok = len(got) == len(want) and all(v == wv and (we is None or e == we)
                                       for (v, e), (wv, we) in zip(got, want))
    shown = lambda pairs: "[" + ", ".join(f"{v}" + ("" if e is None else f"/0x{e:x}") for v, e in pairs) + "]"
    r.expect_that("Bochs's record: injected vector/error code", ok, shown(got), shown(want), why)


def io_qual(port, size, is_in, string=False, rep=False, immediate=False):
    """SDM Table 28-5: the exit qualification of an I/O instruction."""
    return (size - 1) | is_in << 3 | string << 4 | rep << 5 | immediate << 6 | port << 16


def expect_io_exits(r, want, why, collapse=False):
    """The I/O exits Bochs recorded, as qualifications, equal `want`. With collapse, consecutive
    repeats of a string instruction's qualification count once (REP may exit per element)."""
    quals = r.bochs.qualifications(EXIT_NUMBERS["IO_INSTRUCTION"])
    if collapse:
        quals = [q for i, q in enumerate(quals) if i == 0 or quals[i - 1] != q or not q & 0x10]
    shown = lambda qs: "[" + ", ".join(hex(q) for q in qs) + "]"
    r.expect_that("Bochs's record: I/O exit qualifications", quals == want, shown(quals), shown(want), why)


@check(LAB, "vmx-instructions", 8, ["02-1", "02-4"],
       "VMXON, VMREAD, VMLAUNCH ... in the guest: VM exit, then #UD injected")
def vmx_instructions(r):
    r.expect_eq("vmx.ud_mask", 0x7FF, "all 11 VMX instructions (bit i = attempt i in "
                "lab02.c:guest_vmx_instructions) must raise #UD in the guest")
    r.expect_eq("vmx.ud_at_instruction_mask", 0x7FF, "each #UD points at its VMX instruction: "
                "inject without skipping (SDM 27.6.1: delivered as if it happened at GUEST_RIP)")
    for name in ("VMXON", "VMCLEAR", "VMPTRLD", "VMPTRST", "VMREAD", "VMWRITE", "VMLAUNCH",
                 "VMRESUME", "VMXOFF", "INVEPT", "INVVPID"):
        r.expect_eq(f"exits.{name}", 1, "each attempt exits once (SDM 26.1.2) and is answered with #UD")
    expect_injections(r, [(VEC_UD, None)] * 11, "one #UD (vector 6, hardware exception) per VMX instruction")


# (fact name, vector VEC_<NAME>, pushes an error code): SDM 7.3.1 and 27.2.1.3. Same order as lab02.c.
INJECTIONS = [(name, C[f"VEC_{name.upper()}"], has_error) for name, has_error in [
    ("ud", False), ("gp", True), ("db", False), ("de", False), ("bp", False), ("of", False),
    ("br", False), ("nm", False), ("df", True), ("ts", True), ("np", True), ("ss", True),
    ("pf", True), ("mf", False), ("ac", True), ("xm", False), ("ve", False)]]


@check(LAB, "inject", 8, ["02-1"], "exceptions injected at VM entry reach the guest's IDT handler")
def inject(r):
    want = []
    for i, (name, vector, has_error) in enumerate(INJECTIONS):
        error = (rotl(r.nonce, 3 * i + 1) & 0xFFF8) | 4
        r.expect_eq(f"inject.{name}.vector", vector, "the guest's handler sees the injected vector "
                    "(SDM 25.8.3: vector in bits 7:0, type 3 = hardware exception)")
        if has_error:
            r.expect_eq(f"inject.{name}.error", error, f"vector {vector} pushes an error code: "
                        "deliver-error-code (bit 11) = 1 and VM_ENTRY_EXCEPTION_ERROR_CODE (SDM 25.8.3)")
        else:
            r.expect_eq(f"inject.{name}.error", 0, f"vector {vector} pushes no error code: "
                        "deliver-error-code must be 0 (SDM 27.2.1.3)")
        want.append((vector, error if has_error else None))
    expect_injections(r, want, "one hardware exception per request, error codes exactly for "
                      "#DF, #TS, #NP, #SS, #GP, #PF and #AC")


@check(LAB, "invd-xsetbv", 8, ["02-1", "02-2", "02-3"],
       "INVD emulated; XSETBV validated like the processor, performed or answered with #GP(0)")
def invd_xsetbv(r):
    r.expect_eq("invd.faulted", 0, "INVD exits and the guest continues after it")
    r.expect_eq("exits.INVD", 1, "INVD always exits (SDM 26.1.2)")
    supported = r.int_fact("xsetbv.supported", 0)
    avx = (supported & 4) != 0
    avx512 = (supported & 0xE7) == 0xE7
    gp = "#GP(0) " + AT_INSN
    want = [("x87_sse", PERFORMED | 0x3, "XCR0 = 3 is valid: performed (0x100 | new XCR0)"),
            ("no_x87", VEC_GP, f"XCR0 bit 0 (x87) must be 1: {gp}"),
            ("avx_no_sse", VEC_GP, f"AVX (bit 2) without SSE (bit 1): {gp}"),
            ("xcr1", VEC_GP, f"ECX must be 0 (only XCR0 exists): {gp}"),
            ("x87_sse_avx", PERFORMED | 0x7 if avx else VEC_GP, "XCR0 = 7 is valid when CPUID.(0DH,0):EAX reports AVX"),
            ("unsupported_bit", VEC_GP, f"a bit CPUID.(0DH,0):EDX:EAX does not report: {gp}"),
            ("avx512_partial", VEC_GP, f"some but not all of the AVX-512 bits 7:5: {gp}"),
            ("avx512_without_avx", VEC_GP, f"AVX-512 bits 7:5 without AVX: {gp}"),
            ("avx512_all", PERFORMED | 0xE7 if avx512 else VEC_GP, "XCR0 = 0xe7 (all of 7:5 with AVX) is valid "
             "when CPUID reports it"),
            ("rcx_63_32_ignored", PERFORMED | 0x3, "XSETBV reads ECX: bits 63:32 of RCX do not select an XCR"),
            ("rax_rdx_63_32_ignored", PERFORMED | 0x3, "the value is EDX:EAX: bits 63:32 of RAX and RDX are ignored"),
            ("edx_bit", VEC_GP, f"EDX is bits 63:32 of the value (bit 32 is unsupported): {gp}")]
    for key, value, why in want:
        r.expect_eq(f"xsetbv.{key}", value, why)
    refused = sum(1 for _, value, _ in want if value == VEC_GP)
    r.expect_exits("XSETBV", lambda quals: len(quals) == len(want), f"{len(want)} exits",
                   "XSETBV always exits (SDM 26.1.2), once per attempt")
    expect_injections(r, [(VEC_GP, 0)] * refused, "each refused XSETBV gets #GP with error code 0")


@check(LAB, "hlt", 8, ["02-5", "02-6"], "HLT exiting: idle with IF=1, end the guest with IF=0")
def hlt(r):
    n = 3 + r.nonce % 5
    # The check watches the handler's verdict for each HLT exit, by the guest's RFLAGS.IF then.
    r.expect_eq("hlt.if_1.stopped", 0, "a HLT with RFLAGS.IF = 1 ended the guest: with IF = 1 an "
                "interrupt can wake it, so the handler skips it and resumes (02-6); only IF = 0 ends it")
    r.expect_eq("hlt.if_0.resumed", 0, "a HLT with RFLAGS.IF = 0 was resumed: nothing can wake it, so "
                "the handler must end the guest (02-6: EXIT_STOP)")
    r.expect_eq("hlt.if_1.resumed", n, f"each of the guest's {n} HLTs with IF = 1 exits and is resumed")
    r.expect_eq("hlt.if_0.stopped", 1, "the guest's last HLT, with IF = 0, exits and ends the guest")
    r.expect_eq("hlt.count", n, "every HLT with IF=1 exits and the guest continues after it")
    r.expect_absent("hlt.woke_up_with_if_0", "a HLT with IF=0 must end the guest (EXIT_STOP)")
    r.expect_absent("guest.done", "the guest never gets past its last HLT")
    why = ("HLT exiting (primary bit 7) must be on: no HLT exited" if not r.bochs.count(EXIT_NUMBERS["HLT"]) else
           f"one exit per HLT, {n} with IF = 1 and the last with IF = 0 (fewer: the guest was ended "
           "early, see the IF lines above)")
    r.expect_exits("HLT", lambda quals: len(quals) == n + 1, f"{n + 1} exits", why)


def expect_tscs(r, exiting):
    count = r.int_fact("tsc.count", 0)
    offset, before, after = (r.int_fact(k, 0) for k in ("host.tsc_offset", "host.tsc_before", "host.tsc_after"))
    r.expect_eq("tsc.count", 1 + (r.nonce & 1) * 2, "the guest read the TSC its nonce-chosen number of times")
    last = 0
    for i in range(count):
        value = r.int_fact(f"tsc.{i}", -1)
        r.expect(f"tsc.{i}", lambda v: before + offset <= value <= after + offset and value > last,
                 f"between 0x{before + offset:x} and 0x{after + offset:x}, increasing",
                 "the guest sees the host TSC plus TSC_OFFSET (SDM 26.3)")
        last = value
    r.expect_eq("tsc.rax_rdx_63_32", 0, "RDTSC loads EDX:EAX: bits 63:32 of RAX and RDX are cleared "
                "(Vol. 2, RDTSC)")
    if exiting:
        r.expect_exits("RDTSC", lambda quals: len(quals) == count, f"{count} exits",
                       "with RDTSC exiting every RDTSC exits once")
    else:
        r.expect_exits("RDTSC", lambda quals: not quals, "no exits",
                       "the check turned RDTSC exiting off; TSC offsetting needs no exit")


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
    r.expect_exits("INVLPG", lambda quals: quals == [address], f"one exit, qualification 0x{address:x}",
                   "INVLPG exiting (primary bit 9): the qualification is the linear address (SDM 28.2.1)")


MOV_DR_EXITS = C["MOV_DR_EXITS"]   # the MOV DR instructions lab02.c:guest_mov_dr executes


@check(LAB, "mov-dr", 8, ["02-1", "02-5", "02-9"],
       "MOV DR exits decoded (register, direction, DR) and emulated; DR7 lives in the VMCS")
def mov_dr(r):
    r.expect_eq("dr.0", r.nonce & CANONICAL_LOW, "MOV RBX->DR0 then DR0->RCX returns the value")
    r.expect_eq("dr.1", rotl(r.nonce, 17) & CANONICAL_LOW, "MOV R9->DR1 then DR1->R12 (registers 8-15: "
                "qualification bits 11:8)")
    r.expect_eq("dr.3", rotl(r.nonce, 33) & CANONICAL_LOW, "MOV RSI->DR3 then DR3->RDI")
    r.expect_eq("dr.7", 0x600, "MOV to/from DR7 goes through GUEST_DR7")
    r.expect_eq("dr.2_minus_rsp", 0, "MOV RSP->DR2 then DR2->R15: register 4 is RSP, which lives in "
                "GUEST_RSP")
    dr6 = 0xFFFF0FF0 | (0x400E & 0xE00F)
    r.expect_eq("dr.6", dr6, "MOV R8->DR6 then DR6->R13: DR6 is the processor's own register "
                "(bits 31:16 and 11:4 read as 1, SDM Vol. 3B 18.2.3)")
    r.expect_eq("dr.4_alias", dr6, "with CR4.DE = 0, DR4 is an alias of DR6 (SDM Vol. 3B 18.2.2)")
    r.expect_eq("dr.5_alias", 0x700, "with CR4.DE = 0, DR5 is an alias of DR7 (GUEST_DR7)")
    for dr in (7, 6, 5):
        r.expect_eq(f"dr.{dr}_high_bits", VEC_GP, f"MOV to DR{dr} with bits 63:32 set: #GP(0) {AT_INSN}")
    for dr in (4, 5):
        r.expect_eq(f"dr.{dr}_with_de", VEC_UD, f"DR{dr} with CR4.DE = 1: #UD {AT_INSN}; the MOV-DR "
                    "exit has priority over this #UD (SDM 26.1.3), so the hypervisor raises it")
    r.expect_eq("dr.user", VEC_GP, f"MOV DR at CPL 3: #GP(0) {AT_INSN}; the MOV-DR exit has priority "
                "over the CPL check (SDM 26.1.3), so the hypervisor checks the CPL (SS.DPL)")
    r.expect_eq("dr.breakpoint", VEC_DB, "a data breakpoint armed in DR0/DR7 fires: VM entry loads DR7 "
                "from GUEST_DR7 only with the 'load debug controls' entry control (SDM 27.3.2.1)")
    r.expect_eq("dr.breakpoint_dr6_3_0", 1, "and DR6.B0 reports it")
    r.expect_exits("MOV_DR", lambda quals: len(quals) == MOV_DR_EXITS and {0x14, 0x5, 0x210} <= set(quals),
                   f"{MOV_DR_EXITS} exits, including 0x14 and 0x5 (DR4/DR5 with CR4.DE = 1) and 0x210 (CPL 3)",
                   "MOV-DR exiting: every MOV DR exits, before its #UD and #GP checks (SDM 26.1.3)")
    expect_injections(r, [(VEC_GP, 0)] * 3 + [(VEC_UD, None)] * 2 + [(VEC_GP, 0)],
                      "#GP(0) for bits 63:32 (DR7, DR6, DR5), #UD for DR4/DR5 with CR4.DE, #GP(0) at CPL 3")


def io_bitmap_device(r):
    """The values lab02.c:guest_io_bitmap reads, in its order."""
    dev, x = Accumulator(r.nonce), (r.nonce >> 32) & 0xFFFFFFFF
    dev.out(0, x & 0xFF)
    dev.out(1, (x >> 8) & 0xFFFF)
    dev.out(2, x ^ 0xA5A5A5A5)
    want = [("io.in1_7fff", dev.inp(1, 1), "IN AL from port 0x7fff (the last bit of bitmap A)"),
            ("io.in1", dev.inp(3, 1), "IN AL from port 0x8001 (bitmap B)"),
            ("io.in2", dev.inp(0, 2), "IN AX from port 0x7ffe (bitmap A)"),
            ("io.in4", dev.inp(2, 4), "IN EAX from port 0x8000"),
            ("io.inb_rax", 0x1122334455667700 | dev.inp(0, 1), "IN AL keeps RAX bits 63:8"),
            ("io.inl_rax", dev.inp(2, 4), "IN EAX clears RAX bits 63:32 (a 32-bit register write)"),
            ("io.inw_rax", 0x1122334455660000 | dev.inp(0, 2), "IN AX keeps RAX bits 63:16")]
    dev.out(1, (x >> 16) & 0xFF)
    want.append(("io.imm_in2", dev.inp(2, 2), "OUT imm8/IN imm8 (qualification bit 6 = 1): the port is "
                 "bits 31:16 of the qualification, not DX (SDM 28.2.1)"))
    dev.out(0, x ^ 0x5A5A5A5A)
    want.append(("io.imm_in1", dev.inp(3, 1), "OUT EAX to imm8 0xe0, then IN AL from imm8 0xe3"))
    return want


@check(LAB, "io-bitmap", 8, ["02-11", "02-12"],
       "I/O bitmaps trap exactly the device's ports (across bitmaps A and B); IN/OUT emulated")
def io_bitmap(r):
    for key, value, why in io_bitmap_device(r):
        r.expect_eq(key, value, why)
    r.expect_eq("io.done", 1, "the guest continues after every I/O instruction")
    d, imm = DEVICE, IMMEDIATE
    want = [io_qual(d, 1, 0), io_qual(d + 1, 2, 0), io_qual(d + 2, 4, 0), io_qual(d + 1, 1, 1),
            io_qual(d + 3, 1, 1), io_qual(d, 2, 1), io_qual(d + 2, 4, 1), io_qual(d, 1, 1),
            io_qual(d + 2, 4, 1), io_qual(d, 2, 1), io_qual(imm + 1, 1, 0, immediate=True),
            io_qual(imm + 2, 2, 1, immediate=True), io_qual(imm, 4, 0, immediate=True),
            io_qual(imm + 3, 1, 1, immediate=True), io_qual(TOP_PORT + 1, 1, 1)]
    expect_io_exits(r, want, "exactly the accesses to trapped ports exit (SDM 25.6.4): the device at "
                    "0x7ffe-0x8001 (bitmaps A and B) and 0xe0-0xe3, and 0xffff from the range 0xfffe+4, "
                    "which stops at 0xffff: ports 0x0000/0x0001 (a wrapped range), 0x7ffd and 0x8002 must not")


@check(LAB, "io-unconditional", 4, ["02-12"],
       "unconditional I/O exiting (no bitmaps): every port exits; ports without a device pass through")
def io_unconditional(r):
    dev = Accumulator(r.nonce)
    dev.out(0, r.nonce & 0xFF)
    r.expect_eq("io.unconditional_in", dev.inp(0, 1), "the device still answers")
    d, ports = DEVICE, C["DEVICE_PORTS"]
    expect_io_exits(r, [io_qual(d, 1, 0), io_qual(d, 1, 1), io_qual(d - 1, 1, 1), io_qual(d + ports, 1, 1)],
                    "without I/O bitmaps, unconditional I/O exiting makes every access exit (SDM 26.1.3); "
                    "the handler performs 0x7ffd and 0x8002 on the real ports")


@check(LAB, "io-string", 8, ["02-12"],
       "INS/OUTS of 1, 2 and 4 bytes, with and without REP, forwards and backwards, 32-bit addresses, FS")
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
    insb = [dev.inp(1, 1) for _ in range(4)]
    r.expect_eq("str.insb_bytes", 0x5A5A5A5A00000000 | sum(b << (8 * i) for i, b in enumerate(insb)),
                "REP INSB stores 4 bytes, one byte each (size 1, IN: qualification bits 2:0 and 3), and "
                "nothing past them")
    r.expect_eq("str.insb_rdi", 4, "INSB advances RDI by 1 per byte")
    for w in (nonce & 0xFFFF, (nonce >> 16) & 0xFFFF):
        dev.out(2, w)
    r.expect_eq("str.outsw_rsi", 4, "REP OUTSW moves 2 words")
    r.expect_eq("str.insl_dword", dev.inp(3, 4), "INSD without REP stores one dword")
    for i in range(3):
        dev.out(0, src[i])
    r.expect_eq("str.a32_rcx", 0, "with a 32-bit address size (instruction information bits 9:7 = 1), "
                "REP counts ECX and writes it as a 32-bit register: RCX bits 63:32 become 0")
    r.expect_eq("str.a32_rsi", 3, "and ESI addresses the buffer: RSI bits 63:32 are ignored, then cleared")
    r.expect_eq("str.after_a32", dev.inp(0, 4), "the device saw the 3 bytes at ESI")
    for i in (4, 5):
        dev.out(0, src[i])
    r.expect_eq("str.fs_rsi", 6, "REP OUTSB FS:[RSI] advances RSI by 2")
    r.expect_eq("str.after_fs", dev.inp(0, 4), "OUTS with an FS override reads FS.base + RSI: the segment "
                "is instruction information bits 17:15, and FS keeps its base in 64-bit mode")
    dev.out(0, src[7])
    r.expect_eq("str.gs_rsi", 8, "OUTSB GS:[RSI] without REP advances RSI by 1")
    r.expect_eq("str.after_gs", dev.inp(0, 4), "OUTS with a GS override reads GS.base + RSI (GS keeps its "
                "base in 64-bit mode too)")
    r.expect_eq("str.final", dev.inp(0, 4), "the device saw every element in order")
    rep = dict(string=True, rep=True)
    want = [io_qual(DEVICE, 1, 0, **rep), io_qual(DEVICE + 2, 2, 1, **rep), io_qual(DEVICE + 2, 4, 0, string=True),
            io_qual(DEVICE, 1, 0, **rep), io_qual(DEVICE + 1, 1, 1, **rep), io_qual(DEVICE + 2, 2, 0, **rep),
            io_qual(DEVICE + 3, 4, 1, string=True), io_qual(DEVICE, 1, 0, **rep), io_qual(DEVICE, 4, 1),
            io_qual(DEVICE, 1, 0, **rep), io_qual(DEVICE, 4, 1), io_qual(DEVICE, 1, 0, string=True),
            io_qual(DEVICE, 4, 1), io_qual(DEVICE, 4, 1)]
    expect_io_exits(r, want, "one exit per string instruction (or per element), then the next "
                    "instruction: the guest skipped nothing and repeated nothing", collapse=True)


MSR_LOW = (C["MSR_LOW_FIRST"], C["MSR_LOW_LAST"])      # SDM 25.6.9: both ends inclusive
MSR_HIGH = (C["MSR_HIGH_FIRST"], C["MSR_HIGH_LAST"])
# lab02.c: msr_range_cases, in its order: (name, MSR, inside a bitmap range).
MSR_RANGE_CASES = [("low_first", MSR_LOW[0], True), ("low_last", MSR_LOW[1], True),
                   ("high_first", MSR_HIGH[0], True), ("high_last", MSR_HIGH[1], True),
                   ("after_low", MSR_LOW[1] + 1, False), ("before_high", MSR_HIGH[0] - 1, False),
                   ("after_high", MSR_HIGH[1] + 1, False)]
MSR_RANGE_ENDS = [msr for _, msr, inside in MSR_RANGE_CASES if inside]
HV_MSR_SCRATCH, MSR_UNIMPLEMENTED = C["HV_MSR_SCRATCH"], C["MSR_UNIMPLEMENTED"]   # lab02.c: guest_msr
TSC_AUX, SYSENTER_ESP = C["MSR_IA32_TSC_AUX"], C["MSR_IA32_SYSENTER_ESP"]
# Bochs's record of an RDMSR or WRMSR exit names the MSR (ECX): "VMEXIT: RDMSR 0x00001fff".
BOCHS_MSR_EXIT = re.compile(r"^\d{11}d\[CPU0\s*\] VMEXIT: (RD|WR)MSR 0x([0-9a-f]+)$", re.M)


def msr_exits(r, op):
    """The MSRs (ECX) of the RDMSR (op "RD") or WRMSR ("WR") exits in Bochs's record, in order."""
    return [int(m.group(2), 16) for m in BOCHS_MSR_EXIT.finditer(r.run.bochs_log) if m.group(1) == op]


def expect_msr_exits(r, op, want, why, only=None):
    """The RDMSR/WRMSR exits Bochs recorded, as MSR numbers (those in `only`, or all), equal `want`."""
    got = [m for m in msr_exits(r, op) if only is None or only(m)]
    shown = lambda msrs: "[" + ", ".join(hex(m) for m in msrs) + "]"
    r.expect_that(f"Bochs's record: {op}MSR exits (ECX)", got == want, shown(got), shown(want), why)


def expect_msr_ranges(r, gp):
    """msr_intercept() at the ends of both bitmap ranges and just outside them (SDM 25.6.9)."""
    for name, msr, inside in MSR_RANGE_CASES:
        if inside:
            low, high = MSR_LOW if msr <= MSR_LOW[1] else MSR_HIGH
            r.expect_eq(f"msr.range.{name}.panicked", 0, f"msr_intercept(0x{msr:x}) panicked, but MSR "
                        f"0x{msr:x} is in the range 0x{low:x}-0x{high:x}, which includes both its ends "
                        f"(SDM 25.6.9): it has bit 0x{msr - low:x} of its range's read and write bitmaps")
        else:
            r.expect_eq(f"msr.range.{name}.panicked", 1, f"MSR 0x{msr:x} is outside both bitmap ranges "
                        "(SDM 25.6.9), so it always exits (26.1.3) and has no bit: msr_intercept() must "
                        "panic rather than set another MSR's bit")
    for name, msr, inside in MSR_RANGE_CASES:
        if inside:
            for op in ("rdmsr", "wrmsr"):
                r.expect_eq(f"msr.range.{name}.{op}", VEC_GP, f"{op.upper()} of 0x{msr:x}, intercepted by "
                            f"the check and unknown to the policy: {gp}")
    for op in ("RD", "WR"):
        expect_msr_exits(r, op, MSR_RANGE_ENDS, f"after msr_intercept() of each end of both ranges, the "
                         f"guest's {op}MSR of each exits (its bit in the bitmap is set): "
                         f"{', '.join(hex(m) for m in MSR_RANGE_ENDS)}", only=lambda m: m in MSR_RANGE_ENDS)


@check(LAB, "msr-bitmap", 8, ["02-1", "02-13", "02-14"],
       "MSR bitmaps (low/high, read/write, both ends of each range): pass-through, read-only, virtual "
       "and unknown MSRs")
def msr_bitmap(r):
    gp = f"#GP(0) {AT_INSN}"
    expect_msr_ranges(r, gp)
    r.expect_eq("msr.sysenter_esp", r.int_fact("host.guest_sysenter_esp", "host.guest_sysenter_esp (not reported)"),
                "reads of IA32_SYSENTER_ESP pass through (the value VM entry loaded)")
    r.expect_eq("msr.sysenter_esp_write", VEC_GP, f"writes of IA32_SYSENTER_ESP exit (write bitmap for "
                f"low MSRs, offset 2048) and raise {gp}")
    r.expect_eq("msr.kernel_gs_base", (r.nonce & 0x7FFFFFFFF000) | 8,
                "IA32_KERNEL_GS_BASE (0xc0000102, next to TSC_AUX's bit) is the guest's own")
    r.expect_eq("msr.tsc_aux", rotl(r.nonce, 9) & 0xFFFFFFFF, "IA32_TSC_AUX is emulated: reads return the write")
    r.expect_eq("msr.tsc_aux_high_bits", VEC_GP, f"IA32_TSC_AUX has 32 bits: bits 63:32 set give {gp}")
    r.expect_eq("msr.scratch", rotl(r.nonce, 21), f"the virtual MSR {C['HV_MSR_SCRATCH']:#x} keeps 64 bits")
    r.expect_eq("msr.scratch_written_from_edx_eax", 0x0123456789ABCDEF, "WRMSR writes EDX:EAX and "
                "selects the MSR by ECX: bits 63:32 of RAX, RDX and RCX are ignored (Vol. 2, WRMSR)")
    r.expect_eq("msr.rdmsr_rax_rdx_63_32", 0, "RDMSR loads EDX:EAX: bits 63:32 of RAX and RDX are cleared")
    r.expect_eq("msr.unknown_read", VEC_GP, f"RDMSR of an MSR nobody implements: {gp}")
    r.expect_eq("msr.unknown_write", VEC_GP, f"WRMSR of an MSR nobody implements: {gp}")
    before = r.int_fact("host.tsc_aux_before")
    r.expect("host.tsc_aux_after", lambda v: int(v, 0) == before, f"0x{before or 0:x} (unchanged)",
             "the guest's IA32_TSC_AUX belongs to the hypervisor: its reads and writes must exit "
             "(bitmaps for high MSRs at offsets 1024 and 3072) and never reach the real MSR")
    policy = lambda msr: msr not in MSR_RANGE_ENDS
    rdmsrs = [HV_MSR_SCRATCH, TSC_AUX, HV_MSR_SCRATCH, MSR_UNIMPLEMENTED]
    expect_msr_exits(r, "RD", rdmsrs, "only TSC_AUX, the virtual MSR (twice) and the unknown MSR exit on "
                     "RDMSR; SYSENTER_ESP, KERNEL_GS_BASE and PAT must not (read bitmaps at offsets 0 and "
                     "1024)", only=policy)
    wrmsrs = [HV_MSR_SCRATCH, SYSENTER_ESP, TSC_AUX, TSC_AUX, HV_MSR_SCRATCH, MSR_UNIMPLEMENTED]
    expect_msr_exits(r, "WR", wrmsrs, "SYSENTER_ESP, TSC_AUX (twice), the virtual MSR (twice) and the unknown "
                     "MSR exit on WRMSR; KERNEL_GS_BASE must not (write bitmaps at offsets 2048 and 3072)",
                     only=policy)
    panics = sum(1 for _, _, inside in MSR_RANGE_CASES if not inside)
    ends = 2 * len(MSR_RANGE_ENDS)      # an RDMSR and a WRMSR of each end
    expect_injections(r, [(VEC_GP, 0)] * 4 + [(VEC_UD, None)] * panics + [(VEC_GP, 0)] * ends,
                      "#GP(0), error code 0, for the SYSENTER_ESP write, the TSC_AUX write with bits 63:32 and "
                      "both accesses to the unknown MSR; a #UD for each panic of msr_intercept() outside the "
                      "ranges (the check turns its shutdown into #UD); #GP(0) for the RDMSR and WRMSR of each "
                      "end of the ranges")


@check(LAB, "wbinvd-pause", 5, ["02-5", "02-10"], "WBINVD exiting and PAUSE exiting")
def wbinvd_pause(r):
    a, b = 2 + r.nonce % 3, 3 + (r.nonce >> 8) % 4
    r.expect_eq("wbinvd.count", a, "the guest continues after each WBINVD")
    r.expect_eq("pause.count", b, "the guest continues after each PAUSE")
    r.expect_exits("WBINVD_OR_WBNOINVD", lambda quals: len(quals) == a, f"{a} exits",
                   "WBINVD exiting (secondary bit 6, with 'activate secondary controls') must be on")
    r.expect_exits("PAUSE", lambda quals: len(quals) == b, f"{b} exits", "PAUSE exiting (primary bit 30) must be on")


@check(LAB, "fault-vs-exit", 5, ["02-1", "02-3", "02-5", "02-7", "02-11"],
       "faults that win over VM exits at CPL 3, and exits that happen anyway")
def fault_vs_exit(r):
    for key, why in (("user_hlt", "HLT at CPL 3"), ("user_rdtsc_tsd", "RDTSC at CPL 3 with CR4.TSD = 1"),
                     ("user_in", "IN at CPL 3 with IOPL 0 and no TSS permission"),
                     ("user_invd", "INVD at CPL 3"),
                     ("user_xsetbv", "XSETBV at CPL 3 (the hypervisor checks CPL if the CPU exits)")):
        r.expect_eq(f"prio.{key}", VEC_GP, f"{why} raises #GP(0) in the guest {AT_INSN}")
    r.expect_eq("prio.xsetbv_without_osxsave", VEC_UD, "XSETBV with CR4.OSXSAVE = 0 raises #UD before "
                "any exit (SDM 26.1.1: invalid-opcode exceptions come first)")
    r.expect_eq("prio.getsec", VEC_UD, "GETSEC with CR4.SMXE = 0 raises #UD, no VM exit")
    r.expect_eq("prio.user_rdtsc", NO_FAULT, "RDTSC at CPL 3 with CR4.TSD = 0 exits and is emulated")
    r.expect_eq("prio.user_cpuid", NO_FAULT, "CPUID at CPL 3 exits like at CPL 0")
    r.expect_eq("prio.user_cpuid_ebx", SIGNATURE_EBX, "and returns the hypervisor leaf")
    for reason in ("HLT", "IO_INSTRUCTION", "INVD", "GETSEC"):
        r.expect_absent(f"exits.{reason}", "the fault has priority: no VM exit (SDM 26.1.1)")
    r.expect_exits("RDTSC", lambda quals: len(quals) == 1, "1 exit", "only the CPL-3 RDTSC without CR4.TSD exits")
    r.expect_exits("XSETBV", lambda quals: len(quals) == 1, "1 exit", "only the CPL-3 XSETBV exits (Bochs "
                   "checks CPL after the exit); the one without CR4.OSXSAVE faults first")
    expect_injections(r, [(VEC_GP, 0)], "the hypervisor injects only XSETBV's #GP(0); the other faults "
                      "are the processor's own, raised before any exit")


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
    reason0 = EXIT_REASONS[0]
    r.expect_that(f"exit statistics line for basic exit reason 0 ({reason0})",
                  table.get(reason0) == counted.get(reason0), table.get(reason0), counted.get(reason0),
                  "reason 0 (exceptions and NMIs) is a basic exit reason like the others: count and print "
                  "it too (the table starts at reason 0)")
    r.expect_that("exit statistics table", table == counted and bool(counted), table, counted,
                  "one line '  NAME count' per exit reason that happened")
    r.expect_that("exit statistics total", total == sum(counted.values()), total,
                  sum(counted.values()), "a last line '  total N'")
    order = sorted(table, key=lambda name: EXIT_NUMBERS.get(name, 1 << 16))
    r.expect_that("exit statistics order", list(table) == order, list(table), order,
                  "lines in the order of the basic exit reasons (SDM Appendix C)")
    cpuids, uds = 2 + r.nonce % 4, 1 + (r.nonce >> 8) % 3
    r.expect_exits("CPUID", lambda quals: len(quals) == cpuids, f"{cpuids} exits",
                   "the guest's CPUIDs, each counted once")
    r.expect_exits("EXCEPTION_OR_NMI", lambda quals: len(quals) == uds, f"{uds} exits",
                   "the check sets #UD in the exception bitmap: each of the guest's UD2s exits (basic "
                   "reason 0) and the check gives the #UD back to the guest")
    r.expect_eq("stats.ud_caught", uds, "each #UD reached the guest's handler")
