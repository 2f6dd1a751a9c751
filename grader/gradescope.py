#!/usr/bin/env python3
"""`make gradescope LAB=NN [SEED=...] [HIDDEN=1]`: writes build/gradescope-labNN.zip, an autograder
for Gradescope: the project's tracked files, the pinned Bochs source tarball (checked by sha256
when setup.sh builds it), setup.sh and run_autograder. run_autograder calls

    gradescope.py run [--root /autograder]

which grades ROOT/submission with make grade-batch's machinery and writes
ROOT/results/results.json in Gradescope's format.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import batch  # noqa: E402
import bochs  # noqa: E402
import build  # noqa: E402
import gradelib  # noqa: E402
import manifest  # noqa: E402

ROOT = manifest.ROOT
TARBALL = "bochs_3.0+dfsg.orig.tar.xz"
CONFIG = "grader/gradescope.json"     # in the zip: lab, seed, hidden

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once on its Ubuntu base image, as root, with the zip in /autograder/source.
set -euo pipefail
apt-get update
apt-get install -y build-essential xz-utils python3 gnuplot-nox zip unzip
cd /autograder/source
BOCHS_TARBALL=/autograder/source/{tarball} bash grader/bochs.sh debugger
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this per submission: grade /autograder/submission, write results.json.
cd "${GRADESCOPE_ROOT:-/autograder}/source" || exit 2
exec python3 grader/gradescope.py run --root "${GRADESCOPE_ROOT:-/autograder}"
"""


def tracked_files():
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], stdout=subprocess.PIPE, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def write_zip(lab, seed, hidden, dest):
    tarball = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "vmx-labs" / "src" / TARBALL
    if not tarball.exists():
        raise build.BuildError(f"the Bochs source tarball is not in the cache: run 'grader/bochs.sh' once "
                               f"(it fetches {TARBALL}), or put it there by hand")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for f in tracked_files():
            z.write(ROOT / f, f)
        z.write(tarball, TARBALL)
        z.writestr(CONFIG, json.dumps({"lab": lab, "seed": seed, "hidden": hidden}) + "\n")
        for name, text in (("setup.sh", SETUP.format(tarball=TARBALL)), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            z.writestr(info, text)


def visibility(check):
    """Checks of grader/hidden/ stay hidden until the instructor publishes the grades."""
    return "after_published" if check.verify.__module__.startswith("hidden.") else "visible"


def run(root):
    """Grades root/submission; writes root/results/results.json. Never raises for the submission."""
    config = json.loads((ROOT / CONFIG).read_text()) if (ROOT / CONFIG).exists() else {}
    lab = manifest.lab(os.environ.get("GRADESCOPE_LAB") or config.get("lab") or manifest.last().number).number
    seed = os.environ.get("GRADESCOPE_SEED") or config.get("seed") or "vmx-labs"
    if config.get("hidden"):
        os.environ["GRADE_HIDDEN"] = "1"
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    (ROOT / "build").mkdir(exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="gradescope-", dir=ROOT / "build"))
    args = types.SimpleNamespace(lab=lab, earlier="solutions", seed=seed, timeout=bochs.DEFAULT_TIMEOUT,
                                 check=os.environ.get("GRADESCOPE_CHECK", ""))
    try:
        checks = batch.select_checks(lab, args.check)
        binary = bochs.bochs_binary()
        batch.RUNS = concurrent.futures.ThreadPoolExecutor(batch.RUNS_PER_JOB * (os.cpu_count() or 2))
        o = batch.grade_submission("submission", root / "submission", args, checks, binary, work, work / "out")
        tests = [{"name": f"lab {c.lab} {c.name}: {c.title}", "score": c.points if ok else 0,
                  "max_score": c.points, "output": text or "passed", "visibility": visibility(c)}
                 for c, ok, text in batch.check_entries(o, checks)]
        doc = {"score": o.got, "tests": tests, "visibility": "visible",
               "output": (o.reason or "all checks passed") + (f"\n{o.answers.line()}" if o.answers else "")}
    except (build.BuildError, manifest.LabError, bochs.SetupError, OSError) as e:
        doc = {"score": 0, "tests": [], "output": f"the autograder cannot grade: {e}"}
    finally:
        if batch.RUNS:
            batch.RUNS.shutdown(wait=False, cancel_futures=True)
        bochs.kill_all()
        shutil.rmtree(work, ignore_errors=True)
    (results / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"gradescope: score {doc['score']}; {doc['output'].splitlines()[0]}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    z = sub.add_parser("zip")
    z.add_argument("--lab", default="")
    z.add_argument("--seed", default="vmx-labs")
    z.add_argument("--hidden", action="store_true")
    z.add_argument("--out", default="")
    r = sub.add_parser("run")
    r.add_argument("--root", default="/autograder")
    args = p.parse_args(argv)
    try:
        if args.cmd == "run":
            return run(pathlib.Path(args.root))
        lab = manifest.lab(args.lab or manifest.last().number).number
        dest = pathlib.Path(args.out or ROOT / "build" / f"gradescope-lab{lab}.zip")
        write_zip(lab, args.seed, args.hidden, dest)
        print(f"gradescope: autograder for lab {lab} written to {build.rel(dest)} (upload it in the "
              "assignment's Configure Autograder page)")
        return 0
    except (build.BuildError, manifest.LabError, subprocess.CalledProcessError) as e:
        print(f"gradescope: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
