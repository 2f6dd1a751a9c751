#!/usr/bin/env python3
"""`make grade`: builds the image once (sealed), runs every check of labs 01..LAB in its own
Bochs run, in parallel, prints a line per check as it finishes, then the failures explained
once, then the points, then how many written questions (answers.md) each lab has answered.
Exit status: 0 for full marks, 1 otherwise, 2 when it cannot grade, 130 when interrupted (no
score is printed then).

    grade.py --lab NN [--source TREE] [--earlier TREE] [--check NAME] [--seed SEED] [--hidden]
"""
import argparse
import concurrent.futures
import os
import pathlib
import shutil
import signal
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import answers  # noqa: E402
import bochs  # noqa: E402
import build  # noqa: E402
import gradelib  # noqa: E402
import manifest  # noqa: E402

ROOT = manifest.ROOT
LOGS = ROOT / "grade-logs"


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def select_checks(lab, name):
    checks = gradelib.load_checks(lab)
    if not name:
        return checks
    chosen = [c for c in checks if c.name == name]
    if not chosen:
        raise build.BuildError(f"there is no check '{name}' in labs 01..{lab}. The checks: "
                               + ", ".join(c.name for c in checks))
    return chosen


def totals(results):
    labs, got, total = gradelib.lab_points(results)
    lines = [f"  lab {lab} ({manifest.lab(lab).folder}): {g}/{t}" for lab, (g, t) in sorted(labs.items())]
    return lines, got, total


def grade(args, work):
    lab = manifest.lab(args.lab).number
    checks = select_checks(lab, args.check)
    earlier = args.earlier or args.source
    print(f"grade: labs 01..{lab}: lab {lab} from {args.source}" +
          (f", earlier labs from {earlier}" if int(lab) > 1 else ""), flush=True)
    built = build.build_image(lab, args.source, earlier, work / "build", layout_seed=args.seed,
                              compile_db=True)
    for note in built.notes:
        print(f"grade: {note}")
    binary = bochs.bochs_binary()
    gradelib.probe(binary, built.image, work / "probe")
    results = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(gradelib.grade_one, c, binary, built.image, work / "runs" / c.name,
                               args.seed, args.timeout, built.elf): c for c in checks}
        try:
            for done in concurrent.futures.as_completed(futures):
                r = done.result()
                results[r.check.name] = r
                print(gradelib.check_line(r), flush=True)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            bochs.kill_all()
            raise
    ordered = [results[c.name] for c in checks]
    failed = [r for r in ordered if not r.passed]
    if failed:
        keep = LOGS / f"{time.strftime('%Y%m%d-%H%M%S')}-lab{lab}-{os.getpid()}"
        print("\n== what went wrong")
        for r in failed:
            dest = keep / f"{r.check.lab}-{r.check.name}"
            shutil.copytree(r.run.workdir, dest, ignore=shutil.ignore_patterns("disk.img*"))
            r.run.workdir = dest
            print(r.explain() + "\n")
    lines, got, total = totals(ordered)
    print(f"== score ({args.source})")
    print("\n".join(lines))
    print(f"  score: {got}/{total}" + (f"   logs of failed checks: {build.rel(keep)}" if failed else ""))
    print_answers(lab, sorted({c.lab for c in checks}), args.source, earlier)
    return 0 if got == total else 1


def print_answers(lab, graded, source, earlier):
    """After the score: one line per graded lab with written questions (never part of the score)."""
    try:
        found = answers.reports([manifest.lab(n) for n in graded], lab, source, earlier)
    except Exception as e:      # the report must never cost a grade
        print(f"answers  not counted: {type(e).__name__}")
        return
    for r in found:
        print(r.line())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", default="")
    p.add_argument("--source", default="labs")
    p.add_argument("--earlier", default="")
    p.add_argument("--check", default="")
    p.add_argument("--seed", default="vmx-labs")
    p.add_argument("--timeout", type=float, default=bochs.DEFAULT_TIMEOUT)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--hidden", action="store_true", help="also the hidden checks of grader/hidden/")
    args = p.parse_args(argv)
    if args.hidden:
        os.environ["GRADE_HIDDEN"] = "1"
    args.lab = args.lab or manifest.last().number
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    (ROOT / "build").mkdir(exist_ok=True)
    work = bochs.scratch_dir("grade-", ROOT / "build")
    try:
        return grade(args, work)
    except (build.BuildError, manifest.LabError, bochs.SetupError) as e:
        print(f"grade: cannot grade: {e}")
        return 2
    except (Interrupted, KeyboardInterrupt) as e:
        bochs.kill_all()
        print(f"\ngrade: interrupted ({e or 'SIGINT'}): no score", flush=True)
        return 130
    finally:
        bochs.kill_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
