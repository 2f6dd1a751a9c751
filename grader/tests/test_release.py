"""`make test`, part two: the course's promises.

- hostile submissions score 0 on what they target: facts forged with the token, the reference
  included or linked, host files pulled in, harness internals used, grader sections added;
- grading is sealed and clean: old timestamps, two grades at once, Ctrl-C and SIGTERM, output
  floods, SOURCE with spaces, LAB validated;
- the student release (make dist) works without solutions/ and contains none of them.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import build
import dist
import gradelib
import manifest
from conftest import phase

ROOT = gradelib.ROOT
FIRST = manifest.available()[0]
SECOND = manifest.available()[1]
PY = sys.executable


def submission(root, lab=FIRST, edit=None):
    """A copy of the reference lab in root/labs, with edit(text of each file) applied."""
    dest = root / "labs" / lab.folder
    shutil.copytree(ROOT / "solutions" / lab.folder, dest)
    for path in dest.iterdir():
        if edit and path.suffix == ".c":
            path.write_text(edit(path.name, path.read_text()))
    return root / "labs"


def hostile(code, into="vmxon.c"):
    """An edit that makes vmx_supported() (run first by every check) call hostile code."""
    def edit(name, text):
        if name != into:
            return text
        assert text.count("bool vmx_supported(void)") == 1
        return (text.replace("bool vmx_supported(void)", "static bool vmx_supported_real(void)") +
                f"\n{code}\nbool vmx_supported(void)\n{{\n\thostile();\n\treturn vmx_supported_real();\n}}\n")
    return edit


def grade_cli(*args, env=None, timeout=120):
    proc = subprocess.run([PY, str(ROOT / "grader" / "grade.py"), *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return proc.returncode, proc.stdout


def score(out):
    line = [l for l in out.splitlines() if l.strip().startswith("score:")]
    return line[-1].split()[1] if line else None


# ---- hostile submissions ----

REFUSED = [
    ("include-reference", lambda n, t: '#include "../../solutions/01-vmxon/vmxon.c"\n' if n == "vmxon.c" else t,
     "is not allowed: a lab file may include only the project's lab headers"),
    ("include-absolute", lambda n, t: f'#include "{ROOT}/solutions/01-vmxon/vmxon.c"\n' if n == "vmxon.c" else t,
     "is not allowed"),
    ("include-host-file", lambda n, t: t + '\n#include "/etc/passwd"\n' if n == "cpuid.c" else t,
     "cpuid.c:"),
    ("incbin-host-file", lambda n, t: t + '\n__asm__(".incbin \\"/etc/passwd\\"");\n' if n == "cpuid.c" else t,
     "file access (.incbin, .include, ...) is not allowed"),
    ("harness-guest-pointer", hostile("extern void *guest_program_to_run;\n"
                                      "static void hostile(void) { guest_program_to_run = 0; }"),
     "uses 'guest_program_to_run', which is not part of the lab API"),
    ("harness-report-fact", hostile('void report_fact(const char *k, const char *f, ...);\n'
                                    'static void hostile(void) { report_fact("vmxon.region_aligned", "1"); }'),
     "uses 'report_fact', which is not part of the lab API"),
    ("parameter-sector", hostile("extern char boot_params[];\nstatic void hostile(void) { boot_params[0] = 0; }"),
     "uses 'boot_params'"),
    ("check-table-entry", hostile('static const char fake[] __attribute__((section(".checks.01"), used)) = "x";\n'
                                  "static void hostile(void) {}"),
     "section .checks.01 is not allowed in a lab file"),
    ("check-table-symbol", hostile("const void *const __checks_start[1] = { 0 };\nstatic void hostile(void) {}"),
     "defines '__checks_start', a name that belongs to the grader or the linker script"),
    ("harness-function", hostile("void harness_witness(void) {}\nstatic void hostile(void) {}"),
     "defines 'harness_witness'"),
    ("harness-rip-advance", hostile("static void hostile(void) { vmx_advance_rip(0); }"),
     "uses 'vmx_advance_rip', which is not part of the lab API"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_submission_is_refused(case, tmp_path):
    ident, edit, says = case
    with phase("hostile"):
        code, out = grade_cli("--lab", FIRST.number, "--source", str(submission(tmp_path, edit=edit)))
    assert code == 2 and score(out) is None, out
    assert says in out, out
    assert "root:" not in out and str(ROOT) not in out, "the transcript shows a host file or path"


def test_symlink_to_reference_is_refused(tmp_path):
    labs = submission(tmp_path)
    target = labs / FIRST.folder / FIRST.files[0]
    target.unlink()
    target.symlink_to(ROOT / "solutions" / FIRST.folder / FIRST.files[0])
    code, out = grade_cli("--lab", FIRST.number, "--source", str(labs))
    assert code == 2 and score(out) is None and "is a symbolic link" in out, out


def test_sandbox_hides_host_files(tmp_path):
    """An .incbin the scan cannot see (the path spelled in octal escapes) still reads nothing:
    the compiler's sandbox sees no file of the machine outside the toolchain."""
    secret = tmp_path / "secret.txt"
    secret.write_text("vmx-labs-secret-4711\n")
    spelled = "".join(f"\\{ord(c):03o}" for c in str(secret))
    sneaky = f'\n__asm__(".section .rodata\\n.inc" "bin \\"{spelled}\\"\\n.previous");\n'
    labs = submission(tmp_path, edit=lambda n, t: t + sneaky if n == "cpuid.c" else t)
    code, out = grade_cli("--lab", FIRST.number, "--source", str(labs))
    assert code == 2 and "does not compile" in out, out
    assert "vmx-labs-secret-4711" not in out
    env = dict(os.environ, VMXLABS_SANDBOX="none")     # without the sandbox the same file is read
    code, out = grade_cli("--lab", FIRST.number, "--source", str(labs), "--check", "vmx-detect", env=env)
    assert "does not compile" not in out, out


def forged_facts_edit(facts):
    """vmx_supported() prints the given FACT lines (with the run's token) and ends the run."""
    text = "".join(l + "\n" for l in facts).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return hostile(f'static void hostile(void) {{ printf("%s", "{text}"); shutdown(); }}')


@pytest.mark.parametrize("target", ["vmx-detect", "cpuid-exit", "io-bitmap"])
def test_forged_facts_score_nothing(target, tmp_path):
    """Replays every fact the reference prints for the target check, token included."""
    check = next(c for c in gradelib.load_checks(SECOND.number) if c.name == target)
    with phase("hostile"):
        ref = build.build_image(check.lab, "solutions", out=tmp_path / "ref")
        binary = gradelib.bochs.bochs_binary()
        honest = gradelib.grade_one(check, binary, ref.image, tmp_path / "honest", elf=ref.elf)
        assert honest.passed, honest.explain()
        facts = [l for l in honest.run.serial.splitlines() if l.startswith("FACT ")]
        labs = submission(tmp_path / "sub", edit=forged_facts_edit(facts))
        forged = build.build_image(check.lab, "solutions" if check.lab != FIRST.number else str(labs),
                                   str(labs), tmp_path / "forged")
        result = gradelib.grade_one(check, binary, forged.image, tmp_path / "run", elf=forged.elf)
    assert not result.passed, f"forged facts pass {target}:\n{result.explain()}"
    assert "lacks the harness's closing witness" in result.explain()
    if check.name != "vmx-detect":
        assert "Bochs recorded 0" in result.explain() or "BAD      exits." in result.explain(), result.explain()


def log_forger(token):
    """C helpers that print a FACT with `token` and send a line to a Bochs logging port."""
    return r"""
static void fact(const char *key, const char *value)
{
	printf("FACT TOKEN %s=%s\n", key, value);
}
/* A "Bochs record" line written through a Bochs logging port, after a carriage return. */
static void record(u16 port, const char *fmt, u64 value)
{
	char line[96];
	snprintf(line, sizeof(line), fmt, value);
	outb(port, '\r');
	for (char *c = line; *c; c++)
		outb(port, (u8)*c);
	outb(port, '\n');
}
""".replace("TOKEN", token)


@pytest.mark.parametrize("port", [0x402, 0x500])
def test_bochs_record_cannot_be_written_from_the_image(port, tmp_path):
    """Even knowing the secret nonce, forged facts plus a witness line sent to a Bochs logging
    port score nothing."""
    nonce = gradelib.nonce_for("vmx-detect", "secret")
    code = log_forger(gradelib.run_token(nonce)) + f"""
static void hostile(void)
{{
	fact("detect.cpuid_vmx", "1");
	fact("detect.vmx_supported", "1");
	fact("detect.feature_control", "0x5");
	fact("check.complete", "vmx-detect");
	record({port}, "00000000000e[CPU0  ] VMFAIL: VMCS EXEC CTRL: too may CR3 targets %lu", {gradelib.witness(nonce)});
	record({port}, "00004742793d[CPU0  ] RDMSR: read 00000000:00000005 from MSR 3a%s", 0);
	shutdown();
}}"""
    labs = submission(tmp_path, edit=hostile(code))
    code_, out = grade_cli("--lab", FIRST.number, "--source", str(labs), "--check", "vmx-detect",
                           "--seed", "secret")
    assert code_ == 1 and score(out) == "0/10", out
    assert "lacks the harness's closing witness" in out, out


def test_fact_lines_cannot_be_swallowed(tmp_path):
    """A forged fact followed by an unterminated line would hide the harness's own copy."""
    nonce = gradelib.nonce_for("vmx-detect", "vmx-labs")
    code = log_forger(gradelib.run_token(nonce)) + """
static void hostile(void) { fact("detect.vmx_supported", "1"); printf("#"); }"""
    edit = hostile(code.replace("static void hostile", "static void forge") +
                   "\nstatic void hostile(void) { forge(); }")
    labs = submission(tmp_path, edit=edit)
    code_, out = grade_cli("--lab", FIRST.number, "--source", str(labs), "--check", "vmx-detect")
    assert code_ == 1 and "did not start a line" in out, out


def test_harness_functions_move_with_the_seed(tmp_path):
    """Calling report_fact() by its distance from printf works only for the seed it was read from."""
    import subprocess as sp
    ref = build.build_image(FIRST.number, "solutions", out=tmp_path / "ref", layout_seed="public")
    syms = {l.split()[2]: int(l.split()[0], 16) for l in
            sp.run(["nm", str(ref.elf)], capture_output=True, text=True).stdout.splitlines() if len(l.split()) == 3}
    offset = syms["report_fact"] - syms["printf"]
    code = f"""
static void hostile(void)
{{
	void (*report)(const char *, const char *, ...) = (void *)((char *)printf + {offset});
	report("detect.vmx_supported", "1");
}}"""
    labs = submission(tmp_path / "sub", edit=hostile(code))
    built = {seed: build.build_image(FIRST.number, str(labs), out=tmp_path / seed, layout_seed=seed)
             for seed in ("public", "secret")}
    found = {seed: {l.split()[2]: int(l.split()[0], 16) for l in
                    sp.run(["nm", str(b.elf)], capture_output=True, text=True).stdout.splitlines()
                    if len(l.split()) == 3} for seed, b in built.items()}
    assert found["public"]["report_fact"] - found["public"]["printf"] == offset
    assert found["secret"]["report_fact"] - found["secret"]["printf"] != offset


def test_parameter_sector_is_wiped(tmp_path):
    """The check's name and nonce are not at their fixed address once the kernel runs."""
    code = """
static void hostile(void)
{
	printf("sector: check '%s' nonce 0x%lx\\n", (const char *)0x7e08, *(volatile u64 *)0x7e38);
}"""
    labs = submission(tmp_path, edit=hostile(code))
    built = build.build_image(FIRST.number, str(labs), out=tmp_path / "build")
    check = next(c for c in gradelib.load_checks(FIRST.number) if c.name == "vmx-detect")
    result = gradelib.grade_one(check, gradelib.bochs.bochs_binary(), built.image, tmp_path / "run", elf=built.elf)
    assert "sector: check '' nonce 0x0" in result.run.serial, result.run.serial[-2000:]


def test_hypercall_handler_cannot_be_replaced(tmp_path):
    """A lab may not take the grader's VMCALL exits (the fact protocol), not even later."""
    code = """
static enum exit_verdict own_vmcall(struct vcpu *v) { (void)v; return EXIT_RESUME; }
static void grab(struct vcpu *v) { (void)v; if (!exit_handler_for(EXIT_REASON_VMCALL)) exit_register(EXIT_REASON_VMCALL, own_vmcall); }
static void hostile(void) { exit_set_before_entry(grab); }"""
    labs = submission(tmp_path, edit=hostile(code))
    code_, out = grade_cli("--lab", FIRST.number, "--source", str(labs), "--check", "first-exit")
    assert code_ == 1 and "exit reason 18 (VMCALL) belongs to the grader" in out, out


# ---- clean, sealed grading ----

def test_regrade_with_old_timestamps_rebuilds(tmp_path):
    labs = submission(tmp_path)
    code, out = grade_cli("--lab", FIRST.number, "--source", str(labs))
    assert code == 0 and score(out) == "100/100", out
    for name in FIRST.files:    # the untouched skeleton, with timestamps older than the objects
        path = labs / FIRST.folder / name
        shutil.copyfile(ROOT / "labs" / FIRST.folder / name, path)
        os.utime(path, (946684800, 946684800))
    code, out = grade_cli("--lab", FIRST.number, "--source", str(labs))
    assert code == 1 and score(out) == "0/100", out


def test_two_grades_at_once(tmp_path):
    good, bad = submission(tmp_path / "good"), tmp_path / "bad" / "labs"
    shutil.copytree(ROOT / "labs" / FIRST.folder, bad / FIRST.folder)
    with phase("concurrency"):
        procs = [subprocess.Popen([PY, str(ROOT / "grader" / "grade.py"), "--lab", FIRST.number,
                                   "--source", str(s), "--jobs", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for s in (good, bad)]
        outs = [p.communicate(timeout=120)[0] for p in procs]
    assert procs[0].returncode == 0 and score(outs[0]) == "100/100", outs[0]
    assert procs[1].returncode == 1 and score(outs[1]) == "0/100", outs[1]
    logs = [l.split("logs of failed checks: ")[1] for l in outs[1].splitlines() if "logs of failed checks" in l]
    assert logs and (ROOT / logs[0]).is_dir() and "mv: cannot stat" not in outs[0] + outs[1]


# Where a grade's Bochs runs: its scratch folder is in /dev/shm when that is a tmpfs with room
# (bochs.scratch_dir), else in build/.
GRADE_SCRATCH = (str(ROOT / "build"), "/dev/shm/vmxlabs-grade-")


def bochs_processes_under(prefixes):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "bochs" in os.readlink(f"/proc/{pid}/exe") and \
                    os.readlink(f"/proc/{pid}/cwd").startswith(tuple(prefixes)):
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_grade_leaves_no_bochs(sig, tmp_path):
    labs = submission(tmp_path, edit=hostile("static void hostile(void) { for (;;) __asm__ volatile(\"pause\"); }"))
    with phase("concurrency"):
        proc = subprocess.Popen([PY, str(ROOT / "grader" / "grade.py"), "--lab", FIRST.number, "--source",
                                 str(labs)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while not bochs_processes_under(GRADE_SCRATCH) and time.monotonic() < deadline:
            time.sleep(0.05)
        started = bool(bochs_processes_under(GRADE_SCRATCH))
        time.sleep(0.3)
        proc.send_signal(sig)
        out = proc.communicate(timeout=30)[0]
    assert started, "no Bochs run of the grade was seen within 30 s: the test would prove nothing"
    assert proc.returncode == 130 and "interrupted" in out and score(out) is None, out
    time.sleep(0.2)
    assert not bochs_processes_under(GRADE_SCRATCH), "Bochs kept running after the grade was interrupted"


def test_port_e9_flood_is_capped(tmp_path):
    flood = hostile("static void hostile(void) { for (;;) outb(0xe9, 'x'); }")
    code, out = grade_cli("--lab", FIRST.number, "--source", str(submission(tmp_path, edit=flood)),
                          "--check", "vmx-detect")
    assert code == 1 and "output limit reached: bochs.out" in out, out


def test_source_with_spaces_and_lab_validation(tmp_path):
    labs = submission(tmp_path / "my submission")
    proc = subprocess.run(["make", "--no-print-directory", "grade", f"LAB={int(FIRST.number)}",
                           f"SOURCE={labs}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0 and score(proc.stdout) == "100/100", proc.stdout
    proc = subprocess.run(["make", "--no-print-directory", "grade", "LAB=1x"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode != 0 and "LAB='1x' is not a lab number. The labs are: 01 (01-vmxon)" in proc.stdout


# ---- the student release ----

def make_in(folder, *args):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=folder, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)


def classroom_step(dest, lab):
    """The release's GitHub Classroom workflow: one step per check, the check's points each (100
    per lab); returns the command of lab `lab`'s first step."""
    import re
    flow = (dest / ".github" / "workflows" / "classroom.yml").read_text()
    steps = re.findall(r"command: make --no-print-directory grade LAB=(\d+) CHECK=(\S+)\n\s+timeout: \d+\n"
                       r"\s+max-score: (\d+)", flow)
    checks = gradelib.load_checks(manifest.available()[-1].number)
    assert [(c.lab, c.name, str(c.points)) for c in checks] == steps
    for n in {c.lab for c in checks}:
        assert sum(int(p) for l, _, p in steps if l == n) == 100
    assert "autograding-grading-reporter" in flow and "actions/cache" in flow
    lab_steps = [(l, c) for l, c, _ in steps if l == lab]
    return f"make --no-print-directory grade LAB={lab_steps[0][0]} CHECK={lab_steps[0][1]}"


def reference_answer_lines():
    """The lines of the reference answers (solutions/NN-name/answers.md) below each `Answer:`."""
    return {l for path in ROOT.glob("solutions/*/answers.md") for l in dist.answer_lines(path.read_text())}


def assert_answers_shipped(dest):
    """Every lab's answers.md template ships as it is; no line of a reference answer ships."""
    for lab in manifest.available():
        template = ROOT / "labs" / lab.folder / "answers.md"
        if template.exists():
            assert (dest / "labs" / lab.folder / "answers.md").read_text() == dist.student_text(template.read_text())
    secret = reference_answer_lines()
    for path in dest.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            shipped = {l.strip() for l in path.read_text(errors="replace").splitlines()}
            assert not shipped & secret, f"{path.relative_to(dest)} holds a reference answer"


def test_student_release(tmp_path):
    dest = tmp_path / "s"
    with phase("release"):
        assert dist.main(["", str(dest)]) == 0
        assert not (dest / "solutions").exists() and not (dest / "grader" / "mutants").exists()
        assert dist.leaks(dest) == []
        assert not (dest / "docs" / "instructors-bugs.md").exists()
        assert not (dest / "grader" / "instructor_tables.py").exists()
        assert (dest / ".clang-format").is_file() and (dest / ".editorconfig").is_file()
        assert_answers_shipped(dest)
        run = make_in(dest, "run", f"LAB={FIRST.number}")
        first = make_in(dest, "grade", f"LAB={FIRST.number}")
        step = classroom_step(dest, FIRST.number)
        step_before = subprocess.run(step, shell=True, cwd=dest, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, timeout=300)
        for name in FIRST.files:
            shutil.copyfile(ROOT / "solutions" / FIRST.folder / name, dest / "labs" / FIRST.folder / name)
        done = make_in(dest, "grade", f"LAB={FIRST.number}")
        step_after = subprocess.run(step, shell=True, cwd=dest, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=300)
    # The Classroom workflow's step: 0 points (non-zero status) for the skeleton, full for the reference.
    assert step_before.returncode != 0 and f"TODO {FIRST.number}-" in step_before.stdout, step_before.stdout
    assert step_after.returncode == 0, step_after.stdout
    assert run.returncode != 0 and f"TODO {FIRST.number}-1 reached" in run.stdout, run.stdout
    checks = [c for c in gradelib.load_checks(FIRST.number)]
    for c in checks:
        assert f"{c.name}" in first.stdout
    assert first.stdout.count(f"(TODO {FIRST.number}-") == len(checks), first.stdout
    assert score(first.stdout) == "0/100" and score(done.stdout) == "100/100", done.stdout
    assert dist.main(["", str(dest)]) == 2      # a non-empty DEST is refused
