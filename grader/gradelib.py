"""The grading engine: checks are declared per lab (grader/spec/labNN.py); each boots its own
copy of the image with a nonce, reads the FACT lines the harness printed, and compares them
with what the SDM requires. A failure explains itself: GOOD / BAD / MISSING lines, the TODO
marker reached, the Bochs lines about a failed VM entry, a crash RIP as function and line."""
import dataclasses
import hashlib
import importlib
import os
import pathlib
import re
import subprocess

import bochs
import build
import manifest

ROOT = bochs.ROOT

FACT = re.compile(r"^FACT ([0-9a-f]{8}) ([^=\s]+)=(.*)$")
TODO = re.compile(r"^TODO (\d\d-\d+) reached \(([^)]*)\)")
HOST_RIP = re.compile(r"host exception (\S+) .*rip=(0x[0-9a-f]+)")
# Bochs's error-level words about a failed VM entry or abort (the debug-level record is below).
BOCHS_VMX = re.compile(r"^\d{11}[ep]\[CPU0\s*\] (VMFAIL:.*|VMENTER FAIL:.*|VMEXIT: .*|VMABORT.*)$")
# Bochs's own record of the run (debug level of cpu0, always on: grader/bochs.py): every VM exit
# with its qualification, every VM entry, every injection, every MSR access. The image can add
# only BIOS-port messages to bochs.log, which appear as [BIOS  ] lines, never as CPU 0 records
# (log_lines()).
# Bochs writes this error line for every EPT violation before it decides between a VM exit and a
# virtualization exception (#VE): it is not an exit. Exits are only the BOCHS_EXIT lines below.
BOCHS_EPT_VIOLATION_LINE = re.compile(r"^VMEXIT: EPT violation for guest paddr ")
BOCHS_EXIT = re.compile(r"^\d{11}d\[CPU0\s*\] VMEXIT reason = (\d+) \(.*\) qualification=0x([0-9a-f]+)$")
BOCHS_ENTRY = re.compile(r"^\d{11}d\[CPU0\s*\] (VMLAUNCH|VMRESUME) VMCS ptr: ")
# The guest's own record in Bochs's log: the TLB is flushed at every VM entry, so the first
# page walk after "VMENTER to ..." is the fetch of the guest's first instruction at its exact
# linear address, unless an event is delivered first (an injection, an interrupt, an exception).
BOCHS_ENTERED = re.compile(r"^\d{11}d\[CPU0\s*\] VMENTER to ")
BOCHS_WALK = re.compile(r"^\d{11}d\[CPU0\s*\] page walk for address 0x([0-9a-f]+)$")
BOCHS_EVENT = re.compile(r"^\d{11}d\[CPU0\s*\] (interrupt\(|exception\(|VMENTER: Injecting)")
BOCHS_INJECT = re.compile(r"^\d{11}d\[CPU0\s*\] VMENTER: Injecting vector 0x([0-9a-f]+) \(error_code 0x([0-9a-f]+)\)$")
# The same entries and exits with Bochs's tick count (one per guest instruction in this build) and
# the VMCS an entry used: lab 05 times slices and follows which VMCS ran.
BOCHS_TIMED = re.compile(r"^(\d{11})d\[CPU0\s*\] (?:(VMLAUNCH|VMRESUME) VMCS ptr: 0x([0-9a-f]+)$|"
                         r"VMEXIT reason = (\d+) )")
BOCHS_WITNESS = re.compile(r"^\d{11}e\[CPU0\s*\] VMFAIL: VMCS EXEC CTRL: too may CR3 targets (\d+)$")
BOCHS_MSR = re.compile(r"^(\d{11})d\[CPU0\s*\] (RD|WR)MSR: (?:read|write) ([0-9a-f]{8}):([0-9a-f]{8}) (?:from|to) MSR ([0-9a-f]+)$")
BOCHS_BOOT = re.compile(r"^(\d{11})i\[BIOS\s*\] Booting from ")
# The lines any pattern of BochsRecord can match (a cheap first test), and page walks, which
# matter only right after a VM entry.
BOCHS_RECORDED = re.compile(r"^\d{11}(?:d\[CPU0\s*\] (?:page walk |VMEXIT reason |VMLAUNCH |VMRESUME |VMENTER|"
                            r"RDMSR: |WRMSR: |interrupt\(|exception\()|e\[CPU0\s*\] VMFAIL: VMCS EXEC CTRL: too may|"
                            r"i\[BIOS\s*\] Booting from )")
BOCHS_ANY_WALK = re.compile(r"^\d{11}d\[CPU0\s*\] page walk ")
# A panic of Bochs itself ends the run at once; the one of the shutdown port is every run's end.
BOCHS_PANIC = re.compile(r"^\d{11}p\[(\w+)\s*\] >>PANIC<< (.*)$")
BOCHS_PANIC_CAUSES = {
    "EFER.LMA is set when CR0.PE=0": "a VM entry with \"IA-32e mode guest\" = 1 and CR4.PAE = 1 for a "
                                     "guest with CR0.PE = 0: the SDM fails that entry (27.3.1.1), Bochs "
                                     "panics instead",
}
BOCHS_TRIPLE = re.compile(r"(triple fault|3rd \(\d+\) exception with no resolution|shutdown status)",
                          re.IGNORECASE)


@dataclasses.dataclass
class Check:
    lab: str
    name: str
    points: int
    markers: tuple      # the lab steps this check exercises
    title: str
    verify: callable    # verify(result) records expectations


CHECKS = []


def check(lab, name, points, markers, title):
    """Declares a check: the decorated function states what the facts must be."""
    def register(fn):
        CHECKS.append(Check(lab, name, points, tuple(markers), title, fn))
        return fn
    return register


def load_checks(max_lab):
    """All checks of labs 01..max_lab, in lab order (grader/spec/labNN.py of each lab)."""
    for lab in manifest.chain(max_lab):
        importlib.import_module(f"spec.lab{lab.number}")
        if build.hidden() and (ROOT / "grader" / "hidden" / "spec" / f"lab{lab.number}.py").exists():
            importlib.import_module(f"hidden.spec.lab{lab.number}")
    return [c for c in CHECKS if int(c.lab) <= int(max_lab)]


from shared import C, SHARED  # noqa: E402,F401 (C: the C constants, for the specs)


def run_token(nonce):
    """The token the harness puts on its FACT lines (grader/harness/facts.c: run_token)."""
    x = (nonce * SHARED["TOKEN_MULTIPLIER"]) & (2**64 - 1)
    return f"{((x >> 32) ^ x) & 0xffffffff:08x}"


def witness(nonce):
    """The CR3-target count of the harness's closing witness (grader/harness/witness.c)."""
    return SHARED["WITNESS_BASE"] + (nonce >> SHARED["WITNESS_SHIFT"]) % SHARED["WITNESS_RANGE"]


def nonce_for(check_name, seed):
    """Deterministic per check and seed, so the same code scores the same every time."""
    digest = hashlib.sha256(f"{seed}:{check_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") | 1


def exit_reasons():
    """Basic exit reason number -> SDM name, read from the C header (one source for both)."""
    text = (ROOT / "common" / "include" / "vmx_exit.h").read_text()
    return {int(n): name for name, n in re.findall(r"X\((\w+), (\d+)\)", text)}


EXIT_REASONS = exit_reasons()
EXIT_NUMBERS = {name: n for n, name in EXIT_REASONS.items()}


def log_lines(log):
    """The lines of bochs.log. Split at newlines only: a message the image sends to a Bochs
    logging port (the BIOS's 0x402, ...) cannot hold a newline, but it can hold a carriage return
    that str.splitlines() would take for a line break, making a forged record line of its own."""
    return log.split("\n")


class BochsRecord:
    """What Bochs logged about VMX while running the image (its debug lines of cpu0)."""

    def __init__(self, log):
        self.exits, self.entries, self.injections, self.witnesses = [], 0, [], []
        self.msr_accesses, self.boot_tick = [], None   # (tick, "RD"/"WR", msr, value); the BIOS's boot
        self.timeline = []     # (tick, "VMLAUNCH"/"VMRESUME", VMCS address) or (tick, "exit", reason)
        # In order: ("exit", reason) and ("entry", what the guest did first: the address of the
        # instruction it fetched, "event" when an event was delivered first, None when it exited
        # before fetching anything).
        self.fetches, fetching = [], False
        for line in log_lines(log):
            if not BOCHS_RECORDED.match(line):
                continue    # none of the patterns below can match: most lines stop here
            if not fetching and BOCHS_ANY_WALK.match(line):
                continue
            if fetching:
                m = BOCHS_WALK.match(line)
                if m or BOCHS_EVENT.match(line) or BOCHS_EXIT.match(line):
                    first = int(m.group(1), 16) if m else "event" if BOCHS_EVENT.match(line) else None
                    self.fetches.append(("entry", first))
                    fetching = False
            if BOCHS_ENTERED.match(line):
                fetching = True
                continue
            m = BOCHS_MSR.match(line)
            if m:
                self.msr_accesses.append((int(m.group(1)), m.group(2), int(m.group(5), 16),
                                          int(m.group(3) + m.group(4), 16)))
                continue
            m = BOCHS_TIMED.match(line)
            if m:
                self.timeline.append((int(m.group(1)), m.group(2), int(m.group(3), 16)) if m.group(2)
                                     else (int(m.group(1)), "exit", int(m.group(4))))
            m = BOCHS_BOOT.match(line)
            if m and self.boot_tick is None:
                self.boot_tick = int(m.group(1))
            w = BOCHS_WITNESS.match(line)
            if w:
                self.witnesses.append(int(w.group(1)))
            m = BOCHS_EXIT.match(line)
            if m:
                self.exits.append((int(m.group(1)), int(m.group(2), 16)))
                self.fetches.append(("exit", int(m.group(1))))
            elif BOCHS_ENTRY.match(line):
                self.entries += 1
            else:
                m = BOCHS_INJECT.match(line)
                if m:
                    self.injections.append((int(m.group(1), 16), int(m.group(2), 16)))

    def msr_reads_after_boot(self, msr):
        """RDMSRs of `msr` by the image (after the BIOS booted it), as Bochs recorded them."""
        start = self.boot_tick if self.boot_tick is not None else float("inf")
        return [a for a in self.msr_accesses if a[1] == "RD" and a[2] == msr and a[0] > start]

    def resumes(self, reason):
        """For each exit of `reason`, where the guest went on: the address of the first
        instruction Bochs fetched after it, at the next VM entry that fetched one (None when an
        event was delivered first, or the guest never ran again)."""
        out = []
        for i, event in enumerate(self.fetches):
            if event == ("exit", reason):
                first = next((e[1] for e in self.fetches[i + 1:] if e[0] == "entry" and e[1] is not None), None)
                out.append(first if isinstance(first, int) else None)
        return out

    def reasons(self):
        """The basic reasons of the VM exits, in the order Bochs recorded them."""
        return [r for r, _ in self.exits]

    def count(self, reason):
        return sum(1 for r, _ in self.exits if r == reason)

    def qualifications(self, reason):
        return [q for r, q in self.exits if r == reason]


def as_int(text):
    return int(text, 0)


class Result:
    """The outcome of one check's run: its facts, the expectations compared, and diagnostics."""

    def __init__(self, check, run, elf=None):
        self.check, self.run, self.elf = check, run, elf
        self.nonce = run.nonce
        self.facts, self.lines, self.duplicates = {}, [], []
        token = run_token(run.nonce)
        for line in run.serial.splitlines():
            m = FACT.match(line)
            if m and m.group(1) == token:
                if m.group(2) in self.facts:
                    self.duplicates.append(m.group(2))
                self.facts[m.group(2)] = m.group(3).strip()
        # A FACT of this run that does not start a line had something printed before it, e.g. to
        # hide the harness's own copy of a fact that something else printed first.
        self.misplaced = sum(1 for m in re.finditer(f"FACT {token} ", run.serial)
                             if m.start() > 0 and run.serial[m.start() - 1] != "\n")
        self.bochs = BochsRecord(run.bochs_log)
        self.hypervisor_exits = {k: v for k, v in self.facts.items() if k.startswith("exits.")}
        # exits.<REASON> facts come from Bochs's record, not from the image.
        for k in self.hypervisor_exits:
            del self.facts[k]
        for reason in {r for r, _ in self.bochs.exits}:
            self.facts[f"exits.{EXIT_REASONS.get(reason, reason)}"] = str(self.bochs.count(reason))

    # ---- expectations, each printed as GOOD, BAD or MISSING ----
    def fact(self, key):
        return self.facts.get(key)

    def expect(self, key, ok, want, why):
        """Records key: GOOD when ok(value) holds, else BAD (or MISSING when absent)."""
        value = self.facts.get(key)
        if value is None:
            self.lines.append(("MISSING", f"{key}: expected {want} -- {why}"))
            return False
        try:
            good = ok(value)
        except ValueError:
            good = False
        self.lines.append(("GOOD" if good else "BAD",
                           f"{key} = {value}" + ("" if good else f", expected {want} -- {why}")))
        return good

    def expect_eq(self, key, want, why):
        if isinstance(want, int):
            return self.expect(key, lambda v: as_int(v) == want, hex(want), why)
        return self.expect(key, lambda v: v == want, want, why)

    def expect_bits(self, key, must_be_1, must_be_0, why):
        def ok(v):
            v = as_int(v)
            return (v & must_be_1) == must_be_1 and (v & must_be_0) == 0
        return self.expect(key, ok, f"bits 0x{must_be_1:x} set and 0x{must_be_0:x} clear", why)

    def expect_absent(self, key, why):
        """Records GOOD when the run never reported key (e.g. an exit that must not happen)."""
        value = self.facts.get(key)
        self.lines.append(("GOOD", f"{key} not reported") if value is None else
                          ("BAD", f"{key} = {value}, expected no such fact -- {why}"))
        return value is None

    def expect_that(self, what, ok, seen, want, why):
        """Records a derived comparison: `what` is seen as `seen`, must be `want`."""
        self.lines.append(("GOOD", f"{what} = {seen}") if ok else
                          ("BAD", f"{what} = {seen}, expected {want} -- {why}"))
        return ok

    def expect_exits(self, reason, ok, want, why):
        """Checks the VM exits Bochs recorded for `reason` (an SDM name): ok(list of their
        exit qualifications) must hold."""
        quals = self.bochs.qualifications(EXIT_NUMBERS[reason])
        shown = ", ".join(hex(q) for q in quals[:12]) + (", ..." if len(quals) > 12 else "")
        seen = f"Bochs's record: {len(quals)} {reason} exits, qualifications [{shown}]"
        good = bool(ok(quals))
        self.lines.append(("GOOD", seen) if good else ("BAD", f"{seen}, expected {want} -- {why}"))
        return good

    def expect_injections(self, ok, want, why):
        """Checks the events Bochs injected at VM entries: ok(list of (vector, error code))."""
        events = self.bochs.injections
        shown = ", ".join(f"{v:#x}/{e:#x}" for v, e in events[:12]) + (", ..." if len(events) > 12 else "")
        seen = f"Bochs's record: {len(events)} injected events (vector/error code) [{shown}]"
        good = bool(ok(events))
        self.lines.append(("GOOD", seen) if good else ("BAD", f"{seen}, expected {want} -- {why}"))
        return good

    def check_record(self):
        """The run's own account must agree with Bochs's: no fact twice, and the exit counts the
        hypervisor reported equal to the exits Bochs recorded."""
        if self.misplaced:
            self.lines.append(("BAD", f"{self.misplaced} FACT line(s) of this run did not start a line: "
                                      "something printed before them on the same line"))
        for key in sorted(set(self.duplicates)):
            self.lines.append(("BAD", f"{key} was reported more than once: a fact is printed once "
                                      "by the harness; a second copy means something else printed it"))
        if "check.complete" in self.facts and self.bochs.witnesses != [witness(self.nonce)]:
            self.lines.append(("BAD", "Bochs's record lacks the harness's closing witness (a failed VMLAUNCH "
                                      f"with CR3-target count {witness(self.nonce)}) -- the facts were "
                                      "printed by something other than the harness reaching its end"))
        if not self.hypervisor_exits:
            return
        names = set(self.hypervisor_exits) | {k for k in self.facts if k.startswith("exits.")}
        for key in sorted(names):
            mine, bochs = self.hypervisor_exits.get(key, "0"), self.facts.get(key, "0")
            if as_int(mine) != as_int(bochs):
                self.lines.append(("BAD", f"{key}: the hypervisor counted {mine}, Bochs recorded "
                                          f"{bochs} -- the exit counts in the image disagree with "
                                          "what the emulator saw"))

    def int_fact(self, key, default=None):
        value = self.facts.get(key)
        try:
            return as_int(value) if value is not None else default
        except ValueError:
            return default

    @property
    def passed(self):
        return bool(self.lines) and all(kind == "GOOD" for kind, _ in self.lines)

    # ---- diagnostics ----
    def todo(self):
        for line in self.run.serial.splitlines():
            m = TODO.match(line)
            if m:
                return m.group(1), m.group(2)
        return None

    def diagnostics(self):
        out = []
        serial = self.run.serial.splitlines()
        todo = self.todo()
        if todo:
            out.append(f"TODO {todo[0]} reached at {todo[1]}: implement that step (see its marker).")
        for line in serial:
            if line.startswith(("PANIC:", "VMX:", "EPT:", "GUEST EXCEPTION")):
                out.append(f"hypervisor: {line}")
            m = HOST_RIP.search(line)
            if m and self.elf:
                out.append(f"crash in VMX root operation: {m.group(1)} at {addr2line(self.elf, m.group(2))}")
        vmx_lines = [m.group(1) for m in map(BOCHS_VMX.search, log_lines(self.run.bochs_log))
                     if m and not BOCHS_WITNESS.match(m.group(0))]
        for line in vmx_lines[:8]:
            out.append(f"Bochs says: {line}")
        logged = sum(1 for line in vmx_lines if BOCHS_EPT_VIOLATION_LINE.match(line))
        if logged > self.bochs.count(EXIT_NUMBERS["EPT_VIOLATION"]):
            out.append(f"note: Bochs logs \"VMEXIT: EPT violation\" for every EPT violation, also one it "
                       f"delivered to the guest as a virtualization exception (#VE): {logged} such lines, "
                       f"{self.bochs.count(EXIT_NUMBERS['EPT_VIOLATION'])} EPT-violation VM exits in its record")
        for line in log_lines(self.run.bochs_log):
            if BOCHS_TRIPLE.search(line):
                out.append(f"Bochs says: {line.split(']', 1)[-1].strip()} (a triple fault: the "
                           "CPU could not deliver an exception, often a broken host state after a VM exit)")
                break
        for line in log_lines(self.run.bochs_log):
            m = BOCHS_PANIC.match(line)
            if m and not m.group(2).startswith("Shutdown port") and not BOCHS_TRIPLE.search(line):
                cause = next((why for text, why in BOCHS_PANIC_CAUSES.items() if text in m.group(2)), None)
                out.append(f"Bochs stopped with a panic: {m.group(2).strip()}" + (f" ({cause})" if cause else ""))
                break
        if self.run.capped:
            out.append(f"output limit reached: {self.run.capped} grew past its cap and the run was "
                       "stopped (something prints or fails in a loop)")
        if self.run.timed_out:
            seen = f"; Bochs recorded {len(self.bochs.exits)} VM exits" if self.bochs.exits else \
                "; Bochs recorded no VM exit"
            if self.bochs.exits:
                reason, qual = self.bochs.exits[-1]
                seen += f", the last one {EXIT_REASONS.get(reason, reason)} (qualification {qual:#x})"
            out.append(f"TIMEOUT: the run did not end within {self.run.seconds:.0f} s{seen}.")
        if not serial:
            out.append("The serial console is empty: the image did not boot (see bochs.log).")
        elif "END OF RUN" not in self.run.serial and not self.run.timed_out and not self.run.capped:
            out.append("The run stopped without 'END OF RUN' (Bochs ended it: see bochs.log).")
        if todo is None and not out and "check.complete" not in self.facts:
            out.append("The check did not complete. Last console lines:")
            out.extend(f"  | {line}" for line in serial[-6:])
        return out

    def explain(self):
        text = [f"check {self.check.name} (lab {self.check.lab}, tests steps {', '.join(self.check.markers)}; "
                f"it also runs the setup steps of every lab in the image): {self.check.title}"]
        text += [f"  {line}" for line in self.diagnostics()]
        for wanted in ("BAD", "MISSING", "GOOD"):
            text += [f"  {kind:8} {line}" for kind, line in self.lines if kind == wanted]
        text.append(f"  logs: {build.rel(self.run.workdir)}")
        return "\n".join(text)


def addr2line(elf, address):
    try:
        out = subprocess.run(["addr2line", "-f", "-C", "-e", str(elf), address],
                             stdout=subprocess.PIPE, text=True, timeout=10).stdout.split("\n")
        func, where = out[0], out[1]
        return f"{func} ({pathlib.Path(where.split(' ')[0]).name if where else '?'}) [{address}]" \
            if func != "??" else address
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return address


def grade_one(check, binary, image, workdir, seed="vmx-labs", timeout=bochs.DEFAULT_TIMEOUT, elf=None):
    """Boots the image for one check and evaluates it; returns the Result."""
    nonce = nonce_for(check.name, seed)
    run = bochs.boot(binary, image, check.name, nonce, workdir, timeout, lab=check.lab)
    return evaluate(check, run, elf)


def evaluate(check, run, elf=None):
    """The check's expectations on one run, with Bochs's record and the end of the harness."""
    result = Result(check, run, elf)
    check.verify(result)
    result.check_record()
    result.expect_eq("check.complete", check.name, "the harness reaches the end of the check")
    return result


def check_line(r):
    """One line per check: lab, name, verdict, points, seconds, and the TODO or timeout."""
    got = r.check.points if r.passed else 0
    extra = ""
    if not r.passed:
        todo = r.todo()
        extra = f"  (TODO {todo[0]} reached)" if todo else "  (timeout)" if r.run.timed_out else ""
    return (f"  lab {r.check.lab}  {r.check.name:<22} {'PASS' if r.passed else 'FAIL'}  "
            f"{got:>3}/{r.check.points:<3} {r.run.seconds:5.2f}s{extra}")


def lab_points(results):
    """{lab: [points got, points possible]}, and the totals."""
    labs = {}
    for r in results:
        entry = labs.setdefault(r.check.lab, [0, 0])
        entry[0] += r.check.points if r.passed else 0
        entry[1] += r.check.points
    return labs, sum(v[0] for v in labs.values()), sum(v[1] for v in labs.values())


def summary(results):
    """Points per check, per lab and in total (make test's summaries)."""
    labs, got, total = lab_points(results)
    lines = [check_line(r) for r in results]
    lines += [f"  lab {lab} total: {g}/{t}" for lab, (g, t) in sorted(labs.items())]
    lines.append(f"  score: {got}/{total}")
    return "\n".join(lines), got, total


# ---- building, probing, grading a whole lab ----

def c_checks(elf):
    """(lab, name) of every check the image defines in C (the ELF section .vmxlabs.checks)."""
    out = subprocess.run(["readelf", "-p", ".vmxlabs.checks", str(elf)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True).stdout
    pairs = re.findall(r"^\s*\[\s*[0-9a-f]+\]\s+(\d\d) (\S+)$", out, re.MULTILINE)
    return [(lab, name) for lab, name in pairs if lab != "00"]


def unpaired_checks(elf, lab):
    """Problems with the pairing of C checks (grader/checks) and expectations (grader/spec)."""
    defined = c_checks(elf)
    in_c = set(defined)
    in_py = {(c.lab, c.name) for c in load_checks(lab)}
    problems = [f"check '{n}' of lab {l} has a guest program in grader/checks but no expectations "
                f"in grader/spec/lab{l}.py" for l, n in sorted(in_c - in_py)]
    problems += [f"check '{n}' of lab {l} has expectations in grader/spec/lab{l}.py but no C "
                 "definition (CHECK) in grader/checks" for l, n in sorted(in_py - in_c)]
    names = [n for _, n in defined]
    problems += [f"check name '{n}' is defined twice in grader/checks" for n in sorted(set(names)) if names.count(n) > 1]
    return problems


# Every VMX feature the ten labs use (labs.toml), with the lab that first needs it.
REQUIRED_FEATURES = {f: lab.number for lab in manifest.LABS for f in lab.features}
MIN_BOCHS = (3, 0)


def check_bochs(binary, probe_facts=None, version=None):
    """Refuses a Bochs that cannot run every lab; returns the list of problems (empty = fine)."""
    problems = []
    version = version or bochs.bochs_version(binary)
    try:
        numbers = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        numbers = (0, 0)
    if numbers < MIN_BOCHS:
        problems.append(f"Bochs {version} at {binary} is too old: the monitor trap flag (lab 06) "
                        "first works in 2.8 and several VMX fixes came in 3.0. Unset BOCHS to use "
                        "the pinned Bochs 3.0 build (grader/bochs.sh builds it).")
    if probe_facts is not None:
        for feature, lab in REQUIRED_FEATURES.items():
            if probe_facts.get(f"probe.{feature}") != "1":
                problems.append(f"this Bochs (CPU model {bochs.CPU_MODEL}) lacks the VMX feature "
                                f"'{feature}' that lab {lab} needs. Fix: use the pinned Bochs 3.0 "
                                "(unset BOCHS) or a CPU model that has it.")
    return problems


def probe_stamp(binary):
    """A file that records a passed probe of this Bochs binary with this CPU model and feature list."""
    st = os.stat(binary)
    key = hashlib.sha256(f"{binary}:{st.st_size}:{st.st_mtime_ns}:{bochs.CPU_MODEL}:{sorted(REQUIRED_FEATURES)}"
                         .encode()).hexdigest()[:24]
    return build.CACHE / f"probe-{key}.ok"


def probe(binary, image, workdir):
    """Boots the image's probe check and checks this Bochs; raises SetupError when unusable.
    A binary that passed once (same file, same features asked) is not probed again."""
    stamp = probe_stamp(binary)
    if stamp.exists():
        return
    problems = check_bochs(binary)
    if not problems:
        run = bochs.boot(binary, image, "probe", 1, workdir, timeout=60)
        r = Result(Check("00", "probe", 0, (), "probe", lambda r: None), run)
        if "probe.vmx" not in r.facts:
            raise bochs.SetupError("the Bochs probe printed nothing: Bochs could not boot the image "
                                   f"(see {build.rel(workdir)}/bochs.log and its output:\n{run.stdout[-800:]})")
        problems = check_bochs(binary, r.facts)
    if problems:
        raise bochs.SetupError("\n".join(problems))
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(f"{binary} passed the probe\n")
