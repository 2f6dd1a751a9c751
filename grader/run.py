#!/usr/bin/env python3
"""Run, debug or probe a lab image in Bochs (called by `make run`, `make debug`, `make gdb`,
`make probe`).

    run.py run   --lab NN [--source TREE] [--earlier TREE] [--check NAME] [--nonce N] [--trace]
    run.py debug --lab NN [--source TREE] [--earlier TREE] [--check NAME]
    run.py gdb   --lab NN [--source TREE] [--earlier TREE] [--check NAME]
    run.py probe

The image is built (sealed, like `make grade` builds it) into build/run-labNN/; the run's
logs stay there.
"""
import argparse
import bisect
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bochs  # noqa: E402
import build  # noqa: E402
import gradelib  # noqa: E402
import manifest  # noqa: E402

DEMO_NONCE = 0x5EED
TRACE_LAB = 6           # TRACE=1 needs lab 06's tracer in the image
ROOT_BUILD = manifest.ROOT / "build"


def run_folder(command, lab):
    """A folder of its own for this run (build/run-labNN-XXXX); only the newest few are kept."""
    ROOT_BUILD.mkdir(exist_ok=True)
    old = sorted(ROOT_BUILD.glob(f"{command}-lab{lab}-*"), key=lambda p: p.stat().st_mtime)
    for stale in old[:-3]:
        shutil.rmtree(stale, ignore_errors=True)
    return pathlib.Path(tempfile.mkdtemp(prefix=f"{command}-lab{lab}-", dir=ROOT_BUILD))


def workdir_for(image, what):
    d = pathlib.Path(image).parent / what
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def ran_check(run, lab):
    """The check the run executed (the harness names it; the demo check when none was asked)."""
    name = run.check
    for line in run.serial.splitlines():
        if line.startswith("harness: running check '"):
            name = line.split("'")[1]
    return next((c for c in gradelib.load_checks(lab) if c.name == name), None)


def verdict(run, elf, lab):
    """The same diagnostics and verdict `make grade` gives this check."""
    check = ran_check(run, lab)
    if check is None:
        r = gradelib.Result(gradelib.Check("--", run.check or "(demo)", 0, (), "", lambda r: None), run, elf)
        return r.diagnostics(), False
    r = gradelib.evaluate(check, run, elf)
    if r.passed:
        return [f"check {check.name}: PASS ({check.points} points in make grade)"], True
    return [f"check {check.name}: FAIL", *r.explain().splitlines()[1:-1]], False


TRACE_LINE = "TRACE "   # grader/checks/lab06.c prints one per traced step: "TRACE 0x<rip>"


def cmd_run(args, binary):
    work = workdir_for(args.image, "run")
    print(f"run: booting lab {args.lab} in Bochs (check '{args.check or 'demo'}'), logs in "
          f"{build.rel(work)}", flush=True)
    shown, pending = 0, ""

    def show_console():
        """Streams the console; the trace's lines wait for the symbols at the end."""
        nonlocal shown, pending
        serial = work / "serial.txt"
        if serial.exists():
            text = serial.read_bytes()[shown:]
            shown += len(text)
            pending += text.decode(errors="replace").replace("\r", "")
            *lines, pending = pending.split("\n")
            sys.stdout.write("".join(f"{l}\n" for l in lines if not l.startswith(TRACE_LINE)))
            sys.stdout.flush()
    flags = bochs.BOOT_VERBOSE | (bochs.BOOT_TRACE if args.trace else 0)
    run = bochs.boot(binary, args.image, args.check, args.nonce, work, args.timeout, args.lab,
                     flags, show_console)
    show_console()
    sys.stdout.write(pending)
    if args.trace:
        print_trace(run.serial, args.elf)
        print(f"\nrun: Bochs ended after {run.seconds:.2f} s" + (" (deadline reached)" if run.timed_out else ""))
        print("run: no verdict with TRACE=1: the tracer's MTF exits change the run the check judges "
              "(run without TRACE for it)")
        return 0 if "check.complete=" in run.serial else 1
    notes, ok = verdict(run, args.elf, args.lab)
    print(f"\nrun: Bochs ended after {run.seconds:.2f} s" + (" (deadline reached)" if run.timed_out else ""))
    for line in notes:
        print(f"run: {line}")
    return 0 if ok else 1


def functions(elf):
    """The image's code symbols, sorted: [(address, name)] (nm)."""
    out = subprocess.run(["nm", "-n", str(elf)], stdout=subprocess.PIPE, text=True).stdout
    return [(int(p[0], 16), p[2]) for p in (l.split() for l in out.splitlines())
            if len(p) == 3 and p[1] in "Tt"]


def source_lines(elf, addresses):
    """file:line of each address (one addr2line for all of them)."""
    if not addresses:
        return []
    out = subprocess.run(["addr2line", "-e", str(elf), *[hex(a) for a in addresses]],
                         stdout=subprocess.PIPE, text=True).stdout.splitlines()
    return [pathlib.Path(l.split(" ")[0]).name if l and not l.startswith("??") else "?" for l in out]


def print_trace(serial, elf):
    """The steps lab 06's tracer recorded, each as address, function+offset and source line."""
    rips = [int(l[len(TRACE_LINE):], 16) for l in serial.splitlines()
            if l.startswith(TRACE_LINE + "0x")]
    if not rips:
        print("trace: no steps recorded (the guest program never ran, or lab 06's tracer is unfinished: "
              "see the TODO above)")
        return
    syms = functions(elf)
    starts = [a for a, _ in syms]
    print(f"trace: {len(rips)} steps; each is the guest RIP at an MTF exit, the next instruction to run")
    for rip, where in zip(rips, source_lines(elf, rips)):
        i = bisect.bisect_right(starts, rip) - 1
        name = f"{syms[i][1]}+{rip - syms[i][0]:#x}" if i >= 0 else "?"
        print(f"  {rip:#10x}  {name:<36} {where}")
    if len(rips) >= gradelib.C["TRACE_MODE_STEPS"]:
        print(f"trace: stopped after {len(rips)} steps (TRACE_MODE_STEPS, grader/checks/lab06_shared.h)")


def symbol_file(elf, work):
    """Bochs's `ldsym` format: one 'address name' line per symbol."""
    out = subprocess.run(["nm", "-n", str(elf)], stdout=subprocess.PIPE, text=True).stdout
    syms = work / "symbols.txt"
    syms.write_text("".join(f"{p[0]} {p[2]}\n" for p in (l.split() for l in out.splitlines())
                            if len(p) == 3 and p[1] in "TtDdBbRr"))
    return syms


DEBUG_HELP = """\
Bochs debugger, hypervisor symbols loaded. Useful commands (docs/debugging.md has more):
  vmexitbp            stop at every VM exit (again to turn off)
  lb "vcpu_run"       break at a symbol's address      b 0x8000   break at an address
  c                   continue                          s / n       step / step over
  r  sreg  creg       registers, segments, control registers
  x /4gx 0x7e00       examine memory                   u /10       disassemble at RIP
  info symbols "vmx"  symbols starting with vmx        q           quit
"""


def cmd_debug(args, binary):
    """Bochs 3.0 starts its debugger only with -dbg; -rc runs our commands file first."""
    work = workdir_for(args.image, "debug")
    rc = bochs.prepare(args.image, work, args.check, args.nonce, bochs.BOOT_VERBOSE, args.lab, magic_break=True)
    syms = symbol_file(args.elf, work)
    (work / "commands").write_text(f'ldsym global "{syms.name}"\n')
    print(DEBUG_HELP)
    print(f"serial console: {build.rel(work / 'serial.txt')} (also echoed here through port 0xE9)")
    return subprocess.call([binary, "-q", "-dbg", "-f", rc.name, "-rc", "commands"], cwd=work)


def cmd_gdb(args, binary_unused):
    binary = bochs.bochs_binary("gdbstub")
    work = workdir_for(args.image, "gdb")
    port = int(os.environ.get("GDB_PORT", "1234"))
    rc = bochs.prepare(args.image, work, args.check, args.nonce, bochs.BOOT_VERBOSE, args.lab, gdb_port=port)
    print(f"gdb: starting the gdb-stub Bochs on port {port}; logs in {build.rel(work)}")
    with open(work / "bochs.out", "wb") as out:
        proc = subprocess.Popen([binary, "-q", "-f", rc.name], cwd=work, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
    gdb = shutil.which("gdb")
    if not gdb:
        proc.kill()
        print("gdb: gdb is missing. Run 'make deps' as root, or: apt-get install gdb")
        return 1
    try:
        time.sleep(0.5)
        extra = shlex.split(os.environ.get("GDB_ARGS", ""))
        return subprocess.call([gdb, "-q", "-ex", "set architecture i386:x86-64",
                                "-ex", f"file {args.elf}", "-ex", f"target remote localhost:{port}",
                                *extra])
    finally:
        proc.kill()
        proc.wait()


def cmd_probe(args, binary):
    image = build.build_image(manifest.available()[0].number, "labs", out=ROOT_BUILD / "probe-image").image
    work = workdir_for(image, "probe")
    gradelib.probe(binary, image, work)
    print(f"probe: Bochs {bochs.bochs_version(binary)} at {binary} (CPU model {bochs.CPU_MODEL}) "
          f"has every VMX feature the labs need: {', '.join(gradelib.REQUIRED_FEATURES)}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["run", "debug", "gdb", "probe"])
    p.add_argument("--lab", default="")
    p.add_argument("--source", default="labs")
    p.add_argument("--earlier", default="")
    p.add_argument("--check", default="")
    p.add_argument("--nonce", type=lambda s: int(s, 0), default=DEMO_NONCE)
    p.add_argument("--timeout", type=float, default=bochs.DEFAULT_TIMEOUT)
    p.add_argument("--trace", action="store_true", help="print the guest program's instruction trace")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        binary = bochs.bochs_binary()
        if args.command in ("run", "debug", "gdb"):
            args.lab = manifest.lab(args.lab or manifest.last().number).number
            if getattr(args, "trace", False) and int(args.lab) < TRACE_LAB:
                print(f"run: TRACE=1 uses lab {TRACE_LAB:02d}'s tracer (the monitor trap flag): run it "
                      f"with LAB={TRACE_LAB:02d} or later (CHECK= picks any check, earlier labs' too)",
                      file=sys.stderr)
                return 2
            built = build.build_image(args.lab, args.source, args.earlier or None,
                                      run_folder(args.command, args.lab) / "image", compile_db=True)
            for note in built.notes:
                print(f"{args.command}: {note}")
            args.image, args.elf = built.image, built.elf
            gradelib.probe(binary, args.image, workdir_for(args.image, "probe"))
        return {"run": cmd_run, "debug": cmd_debug, "gdb": cmd_gdb, "probe": cmd_probe}[args.command](args, binary)
    except (bochs.SetupError, build.BuildError, manifest.LabError) as e:
        print(f"{args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        bochs.kill_all()


if __name__ == "__main__":
    sys.exit(main())
