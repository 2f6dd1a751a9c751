#!/usr/bin/env python3
"""`make grade-batch`: grades every submission in a folder (one per subfolder, git repository,
.zip or .tar.gz) with `make grade`'s machinery: a sealed build per submission, every check in its
own Bochs run, evaluated from Bochs's record. Submissions are graded in parallel; one that does
not build, loops, floods or cheats gets a score and a reason and the batch goes on.

    batch.py --lab NN --submissions DIR [--earlier TREE] [--seed S] [--jobs N] [--check NAME[,NAME]]
             [--out DIR] [--timeout SECONDS] [--hidden] [--similarity]

Writes into --out (default build/batch-<time>): per submission <name>/transcript.txt,
results.json, junit.xml and logs/ of failed checks; for the batch scores.csv, failures.txt (how
many submissions failed each check), failures.png, run.json (the run's identity). Exit status 0
when every submission was graded (whatever the scores), 2 when the batch cannot run.
"""
import argparse
import concurrent.futures
import csv
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import answers  # noqa: E402
import bochs  # noqa: E402
import build  # noqa: E402
import grade  # noqa: E402
import gradelib  # noqa: E402
import manifest  # noqa: E402

ROOT = manifest.ROOT
MAX_BYTES = 20 * 1024 * 1024      # an unpacked submission: at most 20 MB ...
MAX_FILES = 2000                  # ... in at most 2000 files
ARCHIVES = (".zip", ".tar.gz", ".tgz")
# Bochs runs of every submission share one pool. A run spends much of its time waiting rather
# than computing, so three runs per job keep the cores busy (make grade LAB=04: 52 runs take
# 14.6 s with 2 at a time, 5.7 s with 6 at a time, on 2 cores).
RUNS_PER_JOB = 3
RUNS = None


class Unsafe(Exception):
    """An archive that cannot be unpacked safely; the message says why."""


def archive_name(path):
    for ext in ARCHIVES:
        if path.name.endswith(ext):
            return path.name[:-len(ext)]
    return None


def safe_member(name, dest):
    target = (dest / name).resolve()
    if pathlib.PurePosixPath(name).is_absolute() or not str(target).startswith(str(dest.resolve()) + os.sep):
        raise Unsafe(f"the archive's entry '{name}' lies outside its folder")
    return target


def unpack(archive, dest):
    """Unpacks a .zip or .tar.gz into dest: no path outside dest, no links, size and count limits."""
    dest.mkdir(parents=True)
    total = 0
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            if len(infos) > MAX_FILES:
                raise Unsafe(f"the archive holds {len(infos)} entries (at most {MAX_FILES})")
            for info in infos:
                target = safe_member(info.filename, dest)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise Unsafe(f"the archive's entry '{info.filename}' is a symbolic link")
                total += info.file_size
                if total > MAX_BYTES:
                    raise Unsafe(f"the archive unpacks to more than {MAX_BYTES >> 20} MB")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "wb") as out:
                    data = src.read(MAX_BYTES + 1)
                    if len(data) > info.file_size or len(data) > MAX_BYTES:
                        raise Unsafe(f"the archive's entry '{info.filename}' is larger than it says")
                    out.write(data)
        return
    with tarfile.open(archive, "r:gz") as t:
        members = t.getmembers()
        if len(members) > MAX_FILES:
            raise Unsafe(f"the archive holds {len(members)} entries (at most {MAX_FILES})")
        for m in members:
            target = safe_member(m.name, dest)
            if not (m.isfile() or m.isdir()):
                raise Unsafe(f"the archive's entry '{m.name}' is a link or a special file")
            total += m.size
            if total > MAX_BYTES:
                raise Unsafe(f"the archive unpacks to more than {MAX_BYTES >> 20} MB")
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with t.extractfile(m) as src, open(target, "wb") as out:
                out.write(src.read(MAX_BYTES + 1)[:MAX_BYTES])


def labs_tree(folder):
    """The copy of labs/ inside a submission: folder/labs, or folder itself, also one level down."""
    for _ in range(3):
        if (folder / "labs").is_dir():
            return folder / "labs"
        if any(p.name[:2].isdigit() and p.is_dir() for p in folder.iterdir()):
            return folder
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if len(entries) != 1 or not entries[0].is_dir():
            break
        folder = entries[0]
    raise Unsafe("no labs/ folder and no lab folder (NN-name/) in the submission")


def submissions(folder):
    found = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() and not p.is_symlink():
            found.append((p.name, p))
        elif p.is_file() and archive_name(p):
            found.append((archive_name(p), p))
    names = [n for n, _ in found]
    dup = {n for n in names if names.count(n) > 1}
    return [(n if n not in dup else p.name, p) for n, p in found]


def cause(r):
    todo = r.todo()
    return f" (TODO {todo[0]} reached)" if todo else " (timeout: loops or floods?)" if r.run.timed_out else ""


class Outcome:
    def __init__(self, name):
        self.name, self.results, self.reason, self.seconds = name, [], "", 0.0
        self.tree = None
        self.answers = None     # answers.Report of lab NN, or None (no tree, or no questions)


def select_checks(lab, names):
    """CHECK=a,b: only those checks (make grade's CHECK, comma-separated); else every check."""
    if not names:
        return grade.select_checks(lab, "")
    return [c for n in names.split(",") for c in grade.select_checks(lab, n.strip())]


def grade_submission(name, path, args, checks, binary, work, out):
    """Grades one submission; never raises for the submission's own faults."""
    o = Outcome(name)
    start = time.monotonic()
    transcript = [f"batch: {name}: labs 01..{args.lab}, earlier labs from {args.earlier}"]
    try:
        if path.is_file():
            unpacked = work / "unpacked" / name
            unpack(path, unpacked)
            path = unpacked
        tree = labs_tree(path)
        o.tree = tree
        built = build.build_image(args.lab, str(tree), args.earlier, work / "build" / name,
                                  layout_seed=args.seed)
        transcript += [f"batch: {note}" for note in built.notes]
        futures = [RUNS.submit(gradelib.grade_one, c, binary, built.image, work / "runs" / name / c.name,
                               args.seed, args.timeout, built.elf) for c in checks]
        for f in futures:
            o.results.append(f.result())
            transcript.append(gradelib.check_line(o.results[-1]))
        failed = [r for r in o.results if not r.passed]
        if failed:
            transcript.append("\n== what went wrong")
            for r in failed:
                dest = out / name / "logs" / f"{r.check.lab}-{r.check.name}"
                shutil.copytree(r.run.workdir, dest, ignore=shutil.ignore_patterns("disk.img*"))
                r.run.workdir = dest
                transcript.append(r.explain() + "\n")
            o.reason = "failed: " + ", ".join(r.check.name + cause(r) for r in failed)
        shutil.rmtree(work / "runs" / name, ignore_errors=True)
        shutil.rmtree(work / "build" / name, ignore_errors=True)
    except Unsafe as e:
        o.reason = f"not graded: unsafe or unusable submission: {e}"
    except build.BuildError as e:
        o.reason = f"does not build: {str(e).strip()}"
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as e:
        o.reason = f"not graded: the archive cannot be read: {e}"
    o.seconds = time.monotonic() - start
    got = sum(r.check.points for r in o.results if r.passed)
    if o.reason:
        transcript.append(f"batch: {o.reason}")
    transcript.append(f"  score: {got}/{sum(c.points for c in checks)}")
    if o.tree is not None:
        try:
            o.answers = answers.report(manifest.lab(args.lab), str(o.tree), display="labs")
        except Exception as e:      # never costs the submission its grade
            o.answers = answers.Report(args.lab, "", "answers.md", problem=f"not counted ({type(e).__name__})")
        if o.answers:
            transcript.append(o.answers.line())
    o.got = got
    write_submission(o, checks, out / name, "\n".join(transcript) + "\n")
    return o


def check_entries(o, checks):
    by_name = {r.check.name: r for r in o.results}
    for c in checks:
        r = by_name.get(c.name)
        passed = bool(r and r.passed)
        text = "" if passed else (r.explain() if r else o.reason)
        yield c, passed, text


def write_submission(o, checks, folder, transcript):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "transcript.txt").write_text(transcript)
    total = sum(c.points for c in checks)
    entries = list(check_entries(o, checks))
    (folder / "results.json").write_text(json.dumps({
        "submission": o.name, "score": o.got, "max_score": total, "reason": o.reason,
        "seconds": round(o.seconds, 2),
        "answers": o.answers.as_json() if o.answers else None,
        "checks": [{"lab": c.lab, "name": c.name, "score": c.points if ok else 0, "max_score": c.points,
                    "passed": ok, "output": text} for c, ok, text in entries]}, indent=2) + "\n")
    cases = []
    for c, ok, text in entries:
        case = f'  <testcase classname={quoteattr("lab" + c.lab)} name={quoteattr(c.name)}>'
        if not ok:
            case += f'\n    <failure message={quoteattr(text.splitlines()[0] if text else "failed")}>' \
                    f'{escape(text)}</failure>\n  '
        cases.append(case + "</testcase>")
    failures = sum(1 for _, ok, _ in entries if not ok)
    (folder / "junit.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={quoteattr(o.name)} tests="{len(entries)}" failures="{failures}" '
        f'time="{o.seconds:.2f}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def write_batch(outcomes, checks, out, identity):
    total = sum(c.points for c in checks)
    with open(out / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", *[f"{c.lab}-{c.name}" for c in checks], "score", "max_score", "reason"])
        for o in outcomes:
            passed = {r.check.name for r in o.results if r.passed}
            w.writerow([o.name, *[c.points if c.name in passed else 0 for c in checks], o.got, total, o.reason])
    counts = [(c, sum(1 for o in outcomes if c.name not in {r.check.name for r in o.results if r.passed}))
              for c in checks]
    lines = [f"{len(outcomes)} submissions; how many failed each check:",
             f"  {'lab':<4}{'check':<24}{'failed':>7}"]
    lines += [f"  {c.lab:<4}{c.name:<24}{n:>7}" for c, n in counts]
    not_graded = [o for o in outcomes if not o.results]
    lines.append(f"  not built or not graded: {len(not_graded)}")
    (out / "failures.txt").write_text("\n".join(lines) + "\n")
    chart(counts, len(outcomes), out)
    (out / "run.json").write_text(json.dumps(identity, indent=2) + "\n")
    return "\n".join(lines)


GNUPLOT = """set terminal pngcairo size 900,{height}
set output '{png}'
set title "lab {lab}: submissions failing each check (of {n})"
set style fill solid 0.6
set boxwidth 0.6 relative
set yrange [-0.5:{rows}-0.5]
set xrange [0:{n}]
unset key
plot '{data}' using (0):0:(0):2:($0-0.3):($0+0.3):ytic(1) with boxxyerror lc rgb "#c0392b"
"""


def chart(counts, n, out):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        (out / "failures.png.txt").write_text("gnuplot is missing: run 'make deps' as root, or: "
                                              "apt-get install gnuplot-nox\n")
        return
    data = out / "failures.dat"
    data.write_text("".join(f'"{c.lab} {c.name}" {k}\n' for c, k in counts))
    script = out / "failures.gp"
    q = lambda p: str(p).replace("'", "''")
    script.write_text(GNUPLOT.format(png=q(out / "failures.png"), data=q(data), lab=counts[-1][0].lab if counts else "",
                                     n=max(n, 1), rows=len(counts), height=120 + 28 * len(counts)))
    subprocess.run([gnuplot, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    data.unlink(missing_ok=True)
    script.unlink(missing_ok=True)


SIM_PAIR = re.compile(r"^(\S+) consists for (\d+) % of (\S+) material$")
TOP_PAIRS = 10


COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def code_lines(text):
    """The text's lines of code: comments and blank lines left out, each line stripped."""
    return [line.strip() for line in COMMENT.sub(" ", text).splitlines() if line.strip()]


def strip_skeleton(text, skeleton_lines):
    """The submission's own code: comments and the lab's skeleton lines left out."""
    return "".join(line + "\n" for line in code_lines(text) if line not in skeleton_lines)


def similarity(lab, outcomes, work, report):
    """The most similar pairs of submissions per lab file (sim_c from Debian's similarity-tester),
    the skeleton's own lines left out of both."""
    sim = shutil.which("sim_c")
    if not sim:
        text = "similarity: sim_c is missing: run 'make deps' as root, or: apt-get install similarity-tester"
        report.write_text(text + "\n")
        return text
    entry, lines = manifest.lab(lab), []
    for name in entry.files:
        skeleton_lines = set(code_lines((ROOT / "labs" / entry.folder / name).read_text()))
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for o in outcomes:
            src = o.tree / entry.folder / name if o.tree else None
            if src and src.is_file() and not src.is_symlink():
                dest = folder / f"{o.name}.c"
                dest.write_text(strip_skeleton(src.read_text(errors="replace")[:1 << 20], skeleton_lines))
                files.append(dest.name)
        pairs = {}
        if len(files) > 1:
            proc = subprocess.run([sim, "-p", "-e", "-s", "-t1", *files], cwd=folder, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=300)
            for line in proc.stdout.splitlines():
                m = SIM_PAIR.match(line.strip())
                if m:
                    key = tuple(sorted((m.group(1)[:-2], m.group(3)[:-2])))
                    pairs[key] = max(pairs.get(key, 0), int(m.group(2)))
        lines.append(f"{entry.folder}/{name}: {len(files)} submissions; most similar pairs (percent of the "
                     "first's own text found in the second, the skeleton's lines left out):")
        ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PAIRS]
        lines += [f"  {p:>3} %  {a}  {b}" for (a, b), p in ranked] or ["  no similar pairs"]
    text = "\n".join(lines)
    report.write_text(text + "\n")
    return text


def identity(args, binary):
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    with open(binary, "rb") as f:
        bochs_sha = hashlib.sha256(f.read()).hexdigest()
    return {"grader_commit": commit, "bochs_sha256": bochs_sha,
            "seed_fingerprint": hashlib.sha256(args.seed.encode()).hexdigest()[:12],
            "lab": args.lab, "earlier": args.earlier, "hidden": build.hidden(), "check": args.check or "all",
            "jobs": args.jobs, "timeout": args.timeout, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def batch(args, work):
    folder = pathlib.Path(args.submissions)
    if not folder.is_dir():
        raise build.BuildError(f"SUBMISSIONS={args.submissions} is not a folder: give the folder that holds "
                               "one subfolder, .zip or .tar.gz per submission")
    subs = submissions(folder)
    if not subs:
        raise build.BuildError(f"{args.submissions} holds no submission (subfolders, .zip or .tar.gz)")
    checks = select_checks(args.lab, args.check)
    out = pathlib.Path(args.out or ROOT / "build" / f"batch-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and any(out.iterdir()):
        raise build.BuildError(f"the output folder {out} is not empty: give another OUT or remove it")
    out.mkdir(parents=True, exist_ok=True)
    binary = bochs.bochs_binary()
    ref = build.build_image(args.lab, "solutions", "solutions", work / "reference", layout_seed=args.seed)
    gradelib.probe(binary, ref.image, work / "probe")
    ident = identity(args, binary)
    print(f"grade-batch: lab {args.lab}, {len(subs)} submissions, {len(checks)} checks each, "
          f"{args.jobs} jobs, output in {build.rel(out)}", flush=True)
    start, done, lock = time.monotonic(), [], threading.Lock()

    def one(sub):
        o = grade_submission(sub[0], sub[1], args, checks, binary, work, out)
        with lock:
            done.append(o)
            spent = time.monotonic() - start
            eta = spent / len(done) * (len(subs) - len(done))
            sys.stderr.write(f"\rgrade-batch: {len(done)}/{len(subs)} graded, {spent:.0f}s spent, "
                             f"~{eta:.0f}s to go   ")
            sys.stderr.flush()
        return o

    global RUNS
    RUNS = concurrent.futures.ThreadPoolExecutor(RUNS_PER_JOB * args.jobs)
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(one, subs))
    finally:
        RUNS.shutdown(wait=False, cancel_futures=True)
    sys.stderr.write("\n")
    elapsed = time.monotonic() - start
    ident["seconds"] = round(elapsed, 1)
    ident["submissions"] = {o.name: round(o.seconds, 2) for o in outcomes}
    total = sum(c.points for c in checks)
    for o in outcomes:
        print(f"  {o.name:<30} {o.got:>4}/{total:<4} {o.reason.splitlines()[0] if o.reason else ''}")
    print(write_batch(outcomes, checks, out, ident))
    if args.similarity:
        print(similarity(args.lab, outcomes, work / "similarity", out / "similarity.txt"))
    print(f"grade-batch: {len(outcomes)} submissions in {elapsed:.1f}s; reports in {build.rel(out)}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", default="")
    p.add_argument("--submissions", required=True)
    p.add_argument("--earlier", default="solutions")
    p.add_argument("--check", default="")
    p.add_argument("--seed", default="vmx-labs")
    p.add_argument("--out", default="")
    p.add_argument("--timeout", type=float, default=bochs.DEFAULT_TIMEOUT)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--hidden", action="store_true", help="also the hidden checks of grader/hidden/")
    p.add_argument("--similarity", action="store_true", help="report the most similar pairs per lab file")
    args = p.parse_args(argv)
    if args.hidden:
        os.environ["GRADE_HIDDEN"] = "1"
    args.earlier = args.earlier or "solutions"
    (ROOT / "build").mkdir(exist_ok=True)
    work = bochs.scratch_dir("batch-", ROOT / "build")
    try:
        args.lab = manifest.lab(args.lab or manifest.last().number).number
        return batch(args, work)
    except (build.BuildError, manifest.LabError, bochs.SetupError) as e:
        print(f"grade-batch: cannot grade: {e}")
        return 2
    except KeyboardInterrupt:
        bochs.kill_all()
        print("\ngrade-batch: interrupted: reports incomplete", flush=True)
        return 130
    finally:
        bochs.kill_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
