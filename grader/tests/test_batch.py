"""`make grade-batch` on a small mixed batch of lab 01 submissions: the reference, the untouched
skeleton, two plausible bugs, one that does not build, one that loops, one in a .zip, a .tar.gz,
and an archive whose entry escapes its folder. Two checks only (CHECK=...) to stay fast."""
import csv
import io
import os
import json
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile

import gradelib
from mutants import LOOPING, MUTANTS
from test_project import mutate

ROOT = gradelib.ROOT
CHECKS = "vmx-detect,cpuid-exit"


def mutant(ident):
    return next(m for m in MUTANTS + [LOOPING] if m[0] == ident)


def make_batch(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "reference").mkdir()
    subprocess.run(["cp", "-r", str(ROOT / "solutions" / "01-vmxon"), str(subs / "reference")], check=True)
    (subs / "skeleton").mkdir()
    subprocess.run(["cp", "-r", str(ROOT / "labs"), str(subs / "skeleton" / "labs")], check=True)
    for ident in ("feature-control-never-read", "detect-wrong-bit", LOOPING[0]):
        mutate(mutant(ident), tmp_path / ident).rename(subs / ident)
    broken = mutate(("x", "01", "vmxon.c", "#include \"lab.h\"", "#include \"lab.h\"\nint broken = ;"), tmp_path / "broken")
    broken.rename(subs / "no-build")
    with zipfile.ZipFile(subs / "zipped.zip", "w") as z:
        for p in (ROOT / "solutions" / "01-vmxon").iterdir():
            z.write(p, f"student/labs/01-vmxon/{p.name}")
    with tarfile.open(subs / "tarred.tar.gz", "w:gz") as t:
        t.add(str(ROOT / "solutions" / "01-vmxon"), "01-vmxon")
    with zipfile.ZipFile(subs / "escape.zip", "w") as z:
        z.writestr("../../outside.c", "int x;\n")
    with tarfile.open(subs / "link.tar.gz", "w:gz") as t:
        info = tarfile.TarInfo("labs/01-vmxon/vmxon.c")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(info)
    return subs


def test_batch_of_mixed_submissions(tmp_path):
    subs = make_batch(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "grader" / "batch.py"), "--lab", "01", "--submissions",
                           str(subs), "--check", CHECKS, "--out", str(out), "--timeout", "4", "--similarity"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert not (tmp_path / "outside.c").exists() and not (subs.parent / "outside.c").exists()
    rows = {r["submission"]: r for r in csv.DictReader(io.StringIO((out / "scores.csv").read_text()))}
    want = {"reference": 20, "zipped": 20, "tarred": 20, "skeleton": 0, "feature-control-never-read": 10,
            "detect-wrong-bit": 10, LOOPING[0]: 10, "no-build": 0, "escape": 0, "link": 0}
    assert {k: int(v["score"]) for k, v in rows.items()} == want, proc.stdout
    assert "does not build" in rows["no-build"]["reason"]
    assert "outside its folder" in rows["escape"]["reason"]
    assert "link" in rows["link"]["reason"]
    assert "TODO 01-" in rows["skeleton"]["reason"]
    assert "cpuid-exit" in rows[LOOPING[0]]["reason"]
    summary = (out / "failures.txt").read_text()
    assert "vmx-detect" in summary and "not built or not graded: 3" in summary
    assert (out / "failures.png").read_bytes()[:4] == b"\x89PNG"
    ident = json.loads((out / "run.json").read_text())
    assert ident["seed_fingerprint"] and len(ident["bochs_sha256"]) == 64 and len(ident["submissions"]) == 10
    for name in want:
        res = json.loads((out / name / "results.json").read_text())
        assert res["score"] == want[name]
        suite = ET.parse(out / name / "junit.xml").getroot()
        assert int(suite.get("tests")) == 2
        assert int(suite.get("failures")) == sum(1 for c in res["checks"] if not c["passed"])
        assert (out / name / "transcript.txt").exists()
    sim = (out / "similarity.txt").read_text()
    assert "01-vmxon/vmxon.c: 8 submissions" in sim, sim       # every one with a labs tree
    assert "100 %  reference  tarred" in sim and "100 %  reference  zipped" in sim, sim
    assert not [l for l in sim.splitlines() if " %  " in l and "skeleton" in l], sim   # nothing of its own
    failing = json.loads((out / "detect-wrong-bit" / "results.json").read_text())["checks"][0]
    assert "detect.vmx_supported" in failing["output"]
    assert (out / "detect-wrong-bit" / "logs" / "01-vmx-detect" / "bochs.log").exists()


def test_batch_bad_input_is_named(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "grader" / "batch.py"), "--lab", "01", "--submissions",
                           str(tmp_path / "nothing")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "is not a folder" in proc.stdout


def test_hidden_checks_only_when_asked(tmp_path):
    """grader/hidden/: built and graded with --hidden (HIDDEN=1), absent otherwise, left out of
    the student release; the skeleton fails it at a marker, the reference passes."""
    import dist
    assert "grader/hidden" in dist.INSTRUCTOR_ONLY
    subs = tmp_path / "subs"
    subs.mkdir()
    subprocess.run(["cp", "-r", str(ROOT / "solutions"), str(subs / "reference")], check=True)
    subprocess.run(["cp", "-r", str(ROOT / "labs"), str(subs / "skeleton")], check=True)
    base = [sys.executable, str(ROOT / "grader" / "batch.py"), "--lab", "01", "--submissions", str(subs),
            "--check", "hidden-cpuid-count", "--seed", "secret"]
    run = lambda *extra: subprocess.run(base + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, timeout=120)
    absent = run("--out", str(tmp_path / "none"))
    assert absent.returncode == 2 and "no check 'hidden-cpuid-count'" in absent.stdout
    proc = run("--out", str(tmp_path / "out"), "--hidden")
    assert proc.returncode == 0, proc.stdout
    rows = {r["submission"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "scores.csv").read_text()))}
    assert (rows["reference"]["score"], rows["skeleton"]["score"]) == ("5", "0"), proc.stdout
    assert "TODO 01-" in rows["skeleton"]["reason"]
    assert json.loads((tmp_path / "out" / "run.json").read_text())["hidden"] is True
    hidden_check = subprocess.run(
        [sys.executable, "-c", "import gradelib, gradescope; print([gradescope.visibility(c) for c in "
         "gradelib.load_checks('01') if c.name in ('vmxoff', 'hidden-cpuid-count')])"],
        cwd=ROOT / "grader", env=dict(os.environ, GRADE_HIDDEN="1"), stdout=subprocess.PIPE, text=True)
    assert hidden_check.stdout.strip() == "['visible', 'after_published']"   # Gradescope's visibility


def test_batch_sample_is_the_reference_and_its_mutants(tmp_path):
    """The class `make grade-batch`'s timing in docs/instructors.md is measured on."""
    import batch_sample
    from test_project import folder
    assert batch_sample.write_sample("04", 4, tmp_path / "class") == 4
    names = sorted(p.name for p in (tmp_path / "class").iterdir())
    assert names[0] == "001-reference" and names[2] == "003-reference"
    ref = ROOT / "solutions" / folder("04")
    for name in names:
        lab = tmp_path / "class" / name / "labs" / folder("04")
        same = all((lab / p.name).read_text() == p.read_text() for p in ref.iterdir() if p.is_file())
        assert same == name.endswith("reference"), f"{name}: a reference must be the reference, a mutant must differ"
