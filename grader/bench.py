#!/usr/bin/env python3
"""`make bench`: what a VM exit costs. Builds labs 01..LAB (sealed, as `make grade` does) with
the benchmark guest (grader/bench/), boots it twice with different nonces, and prints, for each
exit the labs handle, the round trip in TSC ticks as the guest measured it and its ratio to the
floor (a CPUID handler that only moves RIP). Writes a chart to build/bench/bench-labNN.png.

    bench.py --lab NN [--source TREE] [--earlier TREE] [--png FILE]

Exit status: 0 with a table, 1 when the hypervisor cannot run the benchmark (the message says
which step), 2 when the image cannot be built or Bochs is missing.
"""
import argparse
import concurrent.futures
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bochs  # noqa: E402
import build  # noqa: E402
import gradelib  # noqa: E402
import manifest  # noqa: E402

ROOT = manifest.ROOT
OUT = ROOT / "build" / "bench"
SOURCES = sorted((ROOT / "grader" / "bench").glob("*.c"))
# Timed executions per row: one source, grader/bench/bench.h.
BENCH_H = (ROOT / "grader" / "bench" / "bench.h").read_text()
ITERATIONS = int(re.search(r"^#define BENCH_ITERATIONS (\d+)", BENCH_H, re.M).group(1))
HOOK_ITERATIONS = int(re.search(r"^#define BENCH_HOOK_ITERATIONS (\d+)", BENCH_H, re.M).group(1))
SEEDS = ("bench-1", "bench-2")
# The rows of grader/bench/bench_guest.c, in its order: key, what is timed, the first lab that
# handles it, and the exit reason (SDM name) of each timed execution (None: it must not exit).
# EXITS_PER_EXECUTION: the rows whose timed execution takes more than one exit.
ROWS = [
    ("floor", "floor: CPUID, handler only moves RIP", "01", "CPUID"),
    ("cpuid", "CPUID (lab 01)", "01", "CPUID"),
    ("vmcall", "VMCALL hypercall (harness)", "01", "VMCALL"),
    ("rdmsr", "RDMSR, MSR bitmap bit set (lab 02)", "02", "RDMSR"),
    ("rdmsr-no-exit", "RDMSR, MSR bitmap bit clear", "02", None),
    ("io", "IN, I/O bitmap bit set (lab 02)", "02", "IO_INSTRUCTION"),
    ("hlt", "HLT with IF=1 (lab 02)", "02", "HLT"),
    ("mov-cr0", "MOV to CR0, owned bit (lab 03)", "03", "CONTROL_REGISTER_ACCESS"),
    ("mmio", "MMIO load, EPT violation (lab 07)", "07", "EPT_VIOLATION"),
    ("hook-ve", "hook, #VE + VMFUNC in the guest (lab 10)", "10", None),
    ("hook-exits", "hook, 2 EPT-violation exits (lab 10)", "10", "EPT_VIOLATION"),
]
EXITS_PER_EXECUTION = {"hook-exits": 2}
ROW_ITERATIONS = {"hook-ve": HOOK_ITERATIONS, "hook-exits": HOOK_ITERATIONS}   # else ITERATIONS


def iterations(key):
    return ROW_ITERATIONS.get(key, ITERATIONS)


def rows_for(lab):
    return [r for r in ROWS if int(r[2]) <= int(lab)]


# The guest's figures and Bochs's differ by the few instructions around the timed one (the VM
# exit's own tick, the moves the compiler puts between the two RDTSCs).
AGREEMENT = 16


def expectations(lab):
    """What a run must show before its figures are used: every row complete, every result the
    instruction produced right, one exit per timed execution in Bochs's record (none for the
    RDMSR whose bitmap bit is clear), and the guest's ticks close to Bochs's own time stamps."""
    def verify(r):
        ok = True
        for key, *_ in [("tsc",), *rows_for(lab)]:
            ok &= r.expect_eq(f"bench.{key}.n", iterations(key), "the guest timed every execution of the row")
            ok &= all(r.int_fact(f"bench.{key}.{what}") is not None for what in ("total", "min", "max"))
            if key != "tsc" and r.fact(f"bench.{key}.n") is not None:
                ok &= r.expect_eq(f"bench.{key}.wrong", 0, "the instruction gave the guest a wrong result "
                                  "that many times (make grade names the step): timing a broken path means little")
        per_reason = {}
        for key, _, _, reason in rows_for(lab):
            if reason:
                per_reason[reason] = per_reason.get(reason, 0) + (iterations(key) + 1) * EXITS_PER_EXECUTION.get(key, 1)
        for reason, least in per_reason.items():
            exact = reason in ("RDMSR", "HLT", "EPT_VIOLATION")
            why = ("one exit per RDMSR of IA32_TSC_AUX, none for IA32_SYSENTER_CS, whose MSR-bitmap "
                   "read bit lab 02 leaves clear" if reason == "RDMSR" else
                   "one exit per load from the device page, none elsewhere: the identity EPT maps "
                   "everything else the guest touches" + ("; two per call and read of the hooked page "
                   "in the row that hooks by exits, none in the row that hooks by #VE and VMFUNC"
                   if int(lab) >= 10 else "") if reason == "EPT_VIOLATION" else
                   "one exit per execution")
            r.expect_exits(reason, (lambda q, n=least, e=exact: len(q) == n if e else len(q) >= n),
                           f"{'exactly' if exact else 'at least'} {least}", why)
        if ok:
            r.bench = figures(r, lab), host_ticks(r.run.bochs_log, lab)
            agree(r, lab)
    return gradelib.Check("00", "bench", 0, (), "the exit benchmark", verify)


def agree(r, lab):
    """Bochs's median round trip of each row within the fewest..most ticks the guest measured."""
    numbers, host = r.bench
    for key, _, _, reason in rows_for(lab):
        if reason:
            _, fewest, most = numbers[key]
            seen = host.get(key)
            per = EXITS_PER_EXECUTION.get(key, 1)
            if seen is not None and per > 1:    # the guest times all the exits of one execution
                fewest, most = fewest / per, most / per
            r.expect_that(f"bench.{key}: guest's fewest..most ticks vs. Bochs's log",
                          seen is not None and fewest - AGREEMENT <= seen <= most + AGREEMENT,
                          f"{fewest:.0f}..{most:.0f} vs. {seen if seen is not None else 'no run of exits'}",
                          f"Bochs's median within {AGREEMENT} ticks of that range", "the guest's TSC must "
                          "tell the time Bochs tells (did the hypervisor change TSC_OFFSET or RDTSC "
                          "exiting during the run?)")


EXIT_TICK = re.compile(r"^(\d{11})d\[CPU0\s*\] VMEXIT reason = (\d+) ")
ENTRY_TICK = re.compile(r"^(\d{11})d\[CPU0\s*\] (?:VMLAUNCH|VMRESUME) VMCS ptr: ")


def host_ticks(log, lab):
    """{row key: ticks from the VM exit to the next VM entry, as Bochs's own log stamps them}:
    the median over the row's run of consecutive exits of its reason (each row's run is the next
    one, in the guest's order, with at least one exit per timed execution). Exits of other
    reasons (an interrupt, a timer of a later lab) do not break a run."""
    timed = {gradelib.EXIT_NUMBERS[row[3]] for row in rows_for(lab) if row[3]}
    runs, exit_at = [], None
    for line in gradelib.log_lines(log):
        m = EXIT_TICK.match(line)
        if m:
            exit_at = (int(m.group(1)), int(m.group(2))) if int(m.group(2)) in timed else None
            continue
        m = ENTRY_TICK.match(line)
        if m and exit_at:
            if not runs or runs[-1][0] != exit_at[1]:
                runs.append((exit_at[1], []))
            runs[-1][1].append(int(m.group(1)) - exit_at[0])
            exit_at = None
    found, at = {}, 0
    for key, _, _, reason in rows_for(lab):
        if not reason:
            continue
        number = gradelib.EXIT_NUMBERS[reason]
        while at < len(runs) and not (runs[at][0] == number and
                                      len(runs[at][1]) > iterations(key) * EXITS_PER_EXECUTION.get(key, 1)):
            at += 1
        if at == len(runs):
            break
        found[key] = sorted(runs[at][1])[len(runs[at][1]) // 2]
        at += 1
    return found


def figures(result, lab):
    """{row key: (mean ticks of the round trip, fewest, most)}, the TSC reads taken off."""
    f = lambda key, what: result.int_fact(f"bench.{key}.{what}")
    tsc = f("tsc", "total") / ITERATIONS
    return {key: (f(key, "total") / iterations(key) - tsc, f(key, "min") - tsc, f(key, "max") - tsc)
            for key, *_ in rows_for(lab)}


def table(numbers, host, lab):
    floor = numbers["floor"][0]
    lines = [f"  {'exit type':<40} {'ticks':>7} {'x floor':>8} {'fewest..most':>14} {'host':>6}"]
    for key, label, _, _ in rows_for(lab):
        mean, fewest, most = numbers[key]
        lines.append(f"  {label:<40} {mean:>7.0f} {mean / floor:>8.2f} {f'{fewest:.0f}..{most:.0f}':>14} "
                     f"{host.get(key, '-'):>6}")
    return "\n".join(lines)


GNUPLOT = """\
set terminal png size 960,{height} font ",10"
set output '{png}'
set title "VM exit round trip, labs 01..{lab} from {source} (Bochs: 1 tick = 1 retired instruction)"
set xlabel "TSC ticks per round trip (mean of {iterations})"
set style fill solid 0.6 border -1
set xrange [0:*]
set yrange [{rows} - 0.4:-0.6]
set ytics nomirror scale 0
set grid xtics
set lmargin 38
set arrow from {floor}, graph 0 to {floor}, graph 1 nohead dashtype 2 lc rgb "#c00000"
set label "floor" at {floor}, graph 1 offset 0.5,-0.8 tc rgb "#c00000"
set rmargin 8
unset key
plot '{data}' using ($2 / 2):0:($2 / 2):(0.3):yticlabels(1) with boxxyerror lc rgb "#4472c4", \\
     '' using 2:0:(sprintf(" %.0f", $2)) with labels left
"""


def chart(numbers, lab, source, png, work):
    """The table as a bar chart (gnuplot, from Debian's gnuplot-nox)."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        raise bochs.SetupError("gnuplot is missing: the chart needs it. Run 'make deps' as root, "
                               "or: apt-get install gnuplot-nox")
    data = work / "bench.dat"
    data.write_text("".join(f'"{label}" {numbers[key][0]:.1f}\n' for key, label, _, _ in rows_for(lab)))
    script = work / "bench.gp"
    rows = len(rows_for(lab))
    quoted = lambda path: str(path).replace("'", "''")    # gnuplot's single-quoted strings
    script.write_text(GNUPLOT.format(png=quoted(png), data=quoted(data), lab=lab, source=source.replace('"', "'"),
                                     rows=rows, height=160 + 40 * rows, iterations=ITERATIONS,
                                     floor=numbers["floor"][0]))
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([gnuplot, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    if proc.returncode != 0 or not png.exists():
        raise bochs.SetupError(f"gnuplot could not draw the chart:\n{proc.stdout.strip()[-2000:]}")


def guest_function(elf, address):
    """The benchmark's function at `address` (the outermost of the functions inlined there)."""
    try:
        out = subprocess.run(["addr2line", "-f", "-i", "-e", str(elf), address], stdout=subprocess.PIPE,
                             text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return address
    names = [name for name in out[0::2] if name and name != "??"]
    return names[-1] if names else address


def refusal(r, lab):
    """Why a run gives no table: the step that stopped it, or the expectations it broke."""
    finished = "check.complete" in r.facts
    lines = ["bench: the benchmark " + ("ran, but its figures cannot be used:" if finished else
                                       "did not run to its end, so there is no table:")]
    lines += [f"  {line}" for line in r.diagnostics()]
    for m in re.finditer(r"^GUEST EXCEPTION .* at guest rip=(0x[0-9a-f]+)$", r.run.serial, re.M):
        lines.append(f"  the benchmark's guest took that exception in {guest_function(r.elf, m.group(1))}(), "
                     "which times one instruction: it must complete without an exception")
    if finished and "guest.done" not in r.facts and not r.run.serial.count("GUEST EXCEPTION"):
        lines.append("  the hypervisor ended the guest before it was done (an exit handler returned "
                     "EXIT_STOP); what the hypervisor printed last while the guest ran:")
        during = r.run.serial.split(f"FACT {gradelib.run_token(r.nonce)} host.cr0=")[0]
        lines += [f"  | {line}" for line in during.splitlines() if line and not line.startswith("FACT ")][-3:]
    if finished or not r.diagnostics():
        lines += [f"  {kind:8} {line}" for kind, line in r.lines if kind != "GOOD"]
    lines.append(f"  logs: {build.rel(r.run.workdir)}")
    todo = r.todo()
    lines.append(f"bench: implement step {todo[0]} first (make grade LAB={lab} shows what else is missing)"
                 if todo else f"bench: fix what the lines above name (make grade LAB={lab} checks every step)")
    return "\n".join(lines)


def work_folder(lab):
    """build/bench/labNN-XXXX for this run's image and logs; only the newest few are kept."""
    OUT.mkdir(parents=True, exist_ok=True)
    old = sorted(OUT.glob(f"lab{lab}-*"), key=lambda p: p.stat().st_mtime)
    for stale in old[:-2]:
        shutil.rmtree(stale, ignore_errors=True)
    return pathlib.Path(tempfile.mkdtemp(prefix=f"lab{lab}-", dir=OUT))


def bench(args):
    lab = manifest.lab(args.lab or manifest.last().number).number
    earlier = args.earlier or args.source
    print(f"bench: labs 01..{lab}: lab {lab} from {args.source}" +
          (f", earlier labs from {earlier}" if int(lab) > 1 else ""), flush=True)
    work = work_folder(lab)
    built = build.build_image(lab, args.source, earlier, work / "image", extra=SOURCES)
    for note in built.notes:
        print(f"bench: {note}")
    binary = bochs.bochs_binary()
    gradelib.probe(binary, built.image, work / "probe")
    check = expectations(lab)
    nonces = [gradelib.nonce_for("bench", seed) for seed in SEEDS]
    with concurrent.futures.ThreadPoolExecutor(len(nonces)) as pool:
        runs = list(pool.map(lambda i: bochs.boot(binary, built.image, "bench", nonces[i], work / f"run-{i + 1}",
                                                  args.timeout, lab), range(len(nonces))))
    results = [gradelib.evaluate(check, run, built.elf) for run in runs]
    for r in results:
        if not r.passed:
            print(refusal(r, lab))
            return 1
    numbers = [r.bench[0] for r in results]
    hooks = f" ({HOOK_ITERATIONS} for the hook rows)" if any(k in ROW_ITERATIONS for k, *_ in rows_for(lab)) else ""
    print(f"VM exit round trip in TSC ticks as the guest measured it: mean of {ITERATIONS} executions{hooks}, "
          "the cost of reading the TSC taken off; host: VM exit to VM entry in Bochs's log")
    print(table(*results[0].bench, lab))
    seconds = max(r.run.seconds for r in results)
    if [r.bench for r in results[:1]] * 2 == [r.bench for r in results]:
        print(f"bench: two runs with different nonces gave the same figures (Bochs: {seconds:.2f} s per run)")
    else:
        print("bench: the two runs gave different figures (second run below): something in this "
              "hypervisor depends on the nonce or on timing")
        print(table(*results[1].bench, lab))
    png = pathlib.Path(args.png) if args.png else OUT / f"bench-lab{lab}.png"
    chart(numbers[0], lab, args.source, png.resolve(), work)
    print(f"bench: chart in {build.rel(png)}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", default="")
    p.add_argument("--source", default="labs")
    p.add_argument("--earlier", default="")
    p.add_argument("--png", default="")
    p.add_argument("--timeout", type=float, default=bochs.DEFAULT_TIMEOUT)
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return bench(args)
    except (build.BuildError, manifest.LabError, bochs.SetupError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        bochs.kill_all()


if __name__ == "__main__":
    sys.exit(main())
