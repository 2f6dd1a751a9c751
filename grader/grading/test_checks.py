"""`make grade`: every check of labs 01..LAB, one Bochs run each, with points."""
import pathlib
import shutil

import pytest

import bochs
import conftest
import gradelib

LOG_DIR = gradelib.ROOT / "grade-logs"
RESULTS = []


def pytest_generate_tests(metafunc):
    if "check" in metafunc.fixturenames:
        checks = gradelib.load_checks(metafunc.config.getoption("--lab"))
        metafunc.parametrize("check", checks, ids=[f"{c.lab}-{c.name}" for c in checks])


@pytest.fixture(scope="session")
def lab_image(request, tmp_path_factory):
    opt = request.config.getoption
    lab = f"{int(opt('--lab')):02d}"
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    try:
        image, elf = gradelib.build(lab, opt("--source"), opt("--earlier"))
        binary = bochs.bochs_binary()
        gradelib.probe(binary, image, tmp_path_factory.mktemp("probe"))
    except (gradelib.BuildError, bochs.SetupError) as e:
        pytest.exit(f"cannot grade: {e}", returncode=1)
    yield binary, image, elf
    text, got, total = gradelib.summary(RESULTS)
    conftest.SUMMARIES.append((f"score for lab {lab} ({opt('--source')})", text +
                               (f"\n  logs of failed checks: {LOG_DIR}" if got < total else "")))


def test_check(check, lab_image, request, tmp_path):
    binary, image, elf = lab_image
    opt = request.config.getoption
    result = gradelib.grade_one(check, binary, image, tmp_path / "run", opt("--seed"),
                                opt("--timeout"), elf)
    RESULTS.append(result)
    if not result.passed:
        kept = LOG_DIR / f"{check.lab}-{check.name}"
        shutil.copytree(result.run.workdir, kept, dirs_exist_ok=True)
        result.run.workdir = kept
        pytest.fail(result.explain(), pytrace=False)
