"""`make test`: the project's promises, checked on every lab that exists.

- every image builds warning-free (-Wall -Wextra -Werror), skeletons equal their generated form;
- each reference solution scores full marks (also with another seed for the nonces);
- each untouched skeleton fails every check of its lab, quickly, with one of its TODO markers;
- plausible bugs are caught by the check meant to catch them, with a message naming the cause;
- runs are deterministic, loops end at the deadline, and a Bochs without the features is refused.
"""
import pathlib
import shutil
import subprocess
import sys

import pytest

import bochs
import conftest  # noqa: F401 (grader/conftest.py: sys.path, summaries)
import gradelib
import skeleton
from mutants import LOOPING, MUTANTS

LABS = gradelib.lab_names()                      # e.g. ["01-vmxon"]
NUMBERS = [name[:2] for name in LABS]


@pytest.fixture(scope="session")
def binary(tmp_path_factory):
    path = bochs.bochs_binary()
    image, _ = gradelib.build("01", "solutions", build_dir=tmp_path_factory.mktemp("probe-build"))
    gradelib.probe(path, image, tmp_path_factory.mktemp("probe"))
    return path


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Builds on demand and caches: (lab, variant) -> (image, elf); variant solution|skeleton."""
    cache = {}

    def get(lab, variant):
        if (lab, variant) not in cache:
            base = tmp_path_factory.mktemp(f"lab{lab}-{variant}")
            if variant == "solution":
                source = "solutions"
            else:   # the skeleton as generated from the solution, never a student's edits
                source = base / "tree"
                name = next(n for n in LABS if n.startswith(lab))
                assert skeleton.main(["", "generate", str(gradelib.ROOT / "solutions" / name),
                                      str(source / name)]) == 0
            cache[lab, variant] = gradelib.build(lab, str(source), "solutions", base / "build", werror=True)
        return cache[lab, variant]
    return get


def grade(binary, image, elf, checks, workdir, seed="vmx-labs", timeout=bochs.DEFAULT_TIMEOUT):
    return [gradelib.grade_one(c, binary, image, workdir / c.name, seed, timeout, elf) for c in checks]


def test_skeletons_in_sync():
    for name in LABS:
        code = skeleton.main(["", "check", str(gradelib.ROOT / "solutions" / name),
                              str(gradelib.ROOT / "labs" / name)])
        assert code == 0, f"labs/{name} differs from what solutions/{name} generates: run make skeletons"


@pytest.mark.parametrize("lab", NUMBERS)
@pytest.mark.parametrize("variant", ["solution", "skeleton"])
def test_builds_warning_free(images, lab, variant):
    images(lab, variant)    # gradelib.BuildError (with the compiler's words) fails the test


@pytest.mark.parametrize("lab", NUMBERS)
def test_solution_full_marks(binary, images, lab, tmp_path):
    image, elf = images(lab, "solution")
    results = grade(binary, image, elf, gradelib.load_checks(lab), tmp_path)
    text, got, total = gradelib.summary(results)
    conftest.SUMMARIES.append((f"reference solution, labs 01..{lab}", text))
    failed = [r.explain() for r in results if not r.passed]
    assert not failed, "\n\n".join(failed)
    assert got == total > 0


@pytest.mark.parametrize("lab", NUMBERS)
def test_solution_passes_with_other_nonces(binary, images, lab, tmp_path):
    image, elf = images(lab, "solution")
    checks = [c for c in gradelib.load_checks(lab) if c.lab == lab]
    results = grade(binary, image, elf, checks, tmp_path, seed="another seed")
    assert all(r.passed for r in results), "\n\n".join(r.explain() for r in results if not r.passed)
    assert {r.nonce for r in results}.isdisjoint(
        {gradelib.nonce_for(c.name, "vmx-labs") for c in checks})


@pytest.mark.parametrize("lab", NUMBERS)
def test_skeleton_fails_each_check_with_marker(binary, images, lab, tmp_path):
    image, elf = images(lab, "skeleton")
    checks = [c for c in gradelib.load_checks(lab) if c.lab == lab]
    results = grade(binary, image, elf, checks, tmp_path, timeout=20)
    text, got, total = gradelib.summary(results)
    conftest.SUMMARIES.append((f"untouched skeleton of lab {lab} (earlier labs: solutions)", text))
    for r in results:
        assert not r.passed, f"the skeleton passes check {r.check.name}: the check asserts too little"
        assert not r.run.timed_out, f"check {r.check.name} hangs on the skeleton"
        todo = r.todo()
        assert todo and todo[0].startswith(f"{lab}-"), \
            f"check {r.check.name} failed without reaching a lab {lab} TODO marker:\n{r.explain()}"
        assert f"TODO {todo[0]} reached" in r.explain()
    assert got == 0


def mutate(solution_lab, file, old, new, root):
    """A copy of the reference lab with one plausible bug in it."""
    tree = root / "tree"
    name = next(n for n in LABS if n.startswith(solution_lab))
    shutil.copytree(gradelib.ROOT / "solutions" / name, tree / name)
    path = tree / name / file
    text = path.read_text()
    assert text.count(old) == 1, f"mutant text not found exactly once in {file}: {old}"
    path.write_text(text.replace(old, new))
    return tree


def run_mutant(binary, mutant, tmp_path, timeout=15):
    ident, lab, file, old, new, check_name, shows = mutant
    tree = mutate(lab, file, old, new, tmp_path)
    image, elf = gradelib.build(lab, str(tree), "solutions", tmp_path / "build")
    check = next(c for c in gradelib.load_checks(lab) if c.name == check_name)
    return gradelib.grade_one(check, binary, image, tmp_path / "run", timeout=timeout, elf=elf), shows


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m[1]}-{m[0]}" for m in MUTANTS])
def test_check_catches_plausible_bug(binary, mutant, tmp_path):
    result, shows = run_mutant(binary, mutant, tmp_path)
    explanation = result.explain()
    assert not result.passed, f"check {result.check.name} does not catch bug {mutant[0]}"
    assert shows in explanation, f"the explanation does not show '{shows}':\n{explanation}"


def test_looping_guest_ends_at_deadline(binary, tmp_path):
    result, shows = run_mutant(binary, LOOPING, tmp_path, timeout=3)
    assert result.run.timed_out and not result.passed
    assert shows in result.explain()
    assert result.run.seconds < 10


def test_runs_are_deterministic(binary, images, tmp_path):
    image, _ = images("01", "solution")
    runs = [bochs.boot(binary, image, "vmxoff", 12345, tmp_path / str(i)) for i in range(2)]
    assert runs[0].serial == runs[1].serial and "check.complete=vmxoff" in runs[0].serial


def test_build_error_is_explained(tmp_path):
    tree = mutate("01", "cpuid.c", "struct cpuid_regs r;", "struct cpuid_regs r", tmp_path)
    with pytest.raises(gradelib.BuildError) as e:
        gradelib.build("01", str(tree), "solutions", tmp_path / "build")
    assert "cpuid.c" in str(e.value) and "error" in str(e.value) and "Fix the compiler errors" in str(e.value)


def test_old_bochs_is_refused(tmp_path):
    fake = tmp_path / "bochs"
    fake.write_text("#!/bin/sh\necho '                        Bochs x86 Emulator 2.7'\n")
    fake.chmod(0o755)
    problems = gradelib.check_bochs(str(fake))
    assert problems and "monitor trap flag" in problems[0]
    proc = subprocess.run(["make", "-C", str(gradelib.ROOT), "--no-print-directory", "probe",
                           f"BOCHS={fake}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode != 0 and "too old" in proc.stdout


def test_missing_feature_is_named(binary):
    facts = {f"probe.{f}": "1" for f in gradelib.REQUIRED_FEATURES}
    assert gradelib.check_bochs(binary, facts) == []
    facts["probe.monitor-trap-flag"] = "0"
    problems = gradelib.check_bochs(binary, facts)
    assert len(problems) == 1 and "'monitor-trap-flag' that lab 06 needs" in problems[0]


@pytest.mark.parametrize("text, message", [
    ("/* END 01-1 */\n", "END without BEGIN"),
    ("/* BEGIN 01-1\n * x\n */\ncode\n", "has no END"),
    ("/* BEGIN 01-1\n */\n/* END 01-2 */\n", "END 01-2 closes BEGIN 01-1"),
])
def test_skeleton_generator_rejects_bad_markers(text, message):
    with pytest.raises(skeleton.MarkerError, match=message):
        skeleton.skeleton_of(text, "x.c")


def test_skeleton_generator_output():
    text = "int f(int v)\n{\n\t/* BEGIN 01-7 unused: v\n\t * SDM 1.2: rule.\n\t */\n\treturn v;\n\t/* END 01-7 */\n}\n"
    out, ids = skeleton.skeleton_of(text, "x.c")
    assert ids == ["01-7"]
    assert out == "int f(int v)\n{\n\t/* TODO 01-7\n\t * SDM 1.2: rule.\n\t */\n\t(void)v;\n\tTODO(\"01-7\");\n}\n"
