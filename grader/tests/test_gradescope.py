"""`make gradescope`: the autograder zip's run_autograder, in a temporary root laid out like
Gradescope's (ROOT/source = the unpacked zip, ROOT/submission, ROOT/results), on the reference
and on a submission that does not build; results.json checked against Gradescope's format."""
import json
import os
import shutil
import subprocess
import zipfile

import gradelib

ROOT = gradelib.ROOT
VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}


def valid(doc):
    assert isinstance(doc["score"], (int, float)) and isinstance(doc["output"], str)
    assert doc["tests"], doc
    for t in doc["tests"]:
        assert set(t) == {"name", "score", "max_score", "output", "visibility"}, t
        assert isinstance(t["name"], str) and t["visibility"] in VISIBILITY
        assert 0 <= t["score"] <= t["max_score"]
    assert doc["score"] == sum(t["score"] for t in doc["tests"])


def test_run_autograder_in_a_gradescope_layout(tmp_path):
    z = tmp_path / "autograder.zip"
    out = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "gradescope", "LAB=01", f"OUT={z}"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert out.returncode == 0, out.stdout
    names = zipfile.ZipFile(z).namelist()
    assert {"setup.sh", "run_autograder", "bochs_3.0+dfsg.orig.tar.xz", "grader/gradescope.json"} <= set(names)
    assert not any(n.startswith("build/") for n in names)
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(z) as archive:       # like unzip on Gradescope: with the files' modes
        for info in archive.infolist():
            archive.extract(info, root / "source")
            if info.external_attr >> 16:
                os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    env = dict(os.environ, GRADESCOPE_ROOT=str(root), GRADESCOPE_CHECK="vmx-detect,cpuid-exit")
    scores = {}
    for name, text in (("reference", None), ("broken", "int broken = ;\n")):
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        shutil.copytree(ROOT / "solutions" / "01-vmxon", root / "submission" / "01-vmxon")
        if text:
            with open(root / "submission" / "01-vmxon" / "vmxon.c", "a") as f:
                f.write(text)
        proc = subprocess.run([str(root / "source" / "run_autograder")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout
        doc = json.loads((root / "results" / "results.json").read_text())
        valid(doc)
        scores[name] = doc
    assert scores["reference"]["score"] == 20
    assert scores["broken"]["score"] == 0 and "does not build" in scores["broken"]["output"]
    assert "does not build" in scores["broken"]["tests"][0]["output"]
