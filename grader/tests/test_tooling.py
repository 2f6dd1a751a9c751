"""Tooling around the grade: the written-answers report of `make grade` and `make grade-batch`,
the instructors' page generated from the mutants (docs/instructors-bugs.md), the
compile_commands.json a build writes for editors, and the C style of .clang-format."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import answers
import build
import dist
import gradelib
import instructor_tables
import manifest

ROOT = gradelib.ROOT
FIRST = manifest.available()[0]
SECOND = manifest.available()[1]
PY = sys.executable

SAMPLE = """# Lab 01: answers
Write your answer below each `Answer:` line. `make grade` counts the answered questions; it does
not grade them.
## Question 1
> What does VMXON need?

Answer:
A 4-KiB aligned region with the revision identifier.
## Question 2
> Why is it
> split over two lines?

Answer:
<!-- your answer here -->

## Question 3
> A third one?

Answer:
<!-- a comment
   over two lines -->
But an answer after it.
"""


# ---- the answers report ----

@pytest.mark.parametrize("text,want", [
    (SAMPLE, (2, 3)),
    (SAMPLE.replace("But an answer after it.\n", ""), (1, 3)),      # only a comment: unanswered
    (SAMPLE.replace("A 4-KiB aligned region with the revision identifier.\n", "   \n"), (1, 3)),
    ("## Question 1\n> q\n\nAnswer: on the same line\n", (1, 1)),
    ("## Question 1\n> q\nno answer line at all\n## Question 2\n> r\n\nAnswer:\n\n", (0, 2)),
    ("## Question 1\n> q\n\nAnswer:\n<!-- never closed\nstill a comment\n", (0, 1)),
    ("# Lab 01: answers\nno questions\n", (0, 0)),
    ("## Question 1\r\n> q\r\n\r\nAnswer:\r\nyes\r\n", (1, 1)),
], ids=["sample", "comment-only", "blank-only", "same-line", "no-answer-line", "unclosed-comment",
        "no-questions", "crlf"])
def test_answers_are_counted(text, want):
    assert answers.count(text) == want


def tree_with(tmp_path, text=None, lab=FIRST, name="labs"):
    """A copy of the reference of `lab` in tmp_path/name, with answers.md holding `text`."""
    tree = tmp_path / name
    (tree / lab.folder).mkdir(parents=True)
    for f in lab.files:
        shutil.copyfile(ROOT / "solutions" / lab.folder / f, tree / lab.folder / f)
    if text is not None:
        (tree / lab.folder / "answers.md").write_text(text)
    return tree


def test_answers_are_read_safely(tmp_path, monkeypatch):
    """A hostile tree cannot make the report read another file, hang on a FIFO, eat memory or crash."""
    monkeypatch.setattr(answers, "has_questions", lambda lab: True)
    tree = tree_with(tmp_path)
    target = tree / FIRST.folder / "answers.md"
    cases = {
        "symlink": lambda: target.symlink_to("/etc/passwd"),
        "folder": lambda: target.mkdir(),
        "fifo": lambda: os.mkfifo(target),
        "huge": lambda: target.write_bytes(b"## Question 1\nAnswer:\nx\n" * (answers.MAX_BYTES // 10)),
        "binary": lambda: target.write_bytes(bytes(range(256)) * 64),
    }
    for what, make in cases.items():
        make()
        r = answers.report(FIRST, str(tree))
        line = r.line()
        assert line.startswith(f"answers  lab {FIRST.number}: ") and "(not graded)" in line, line
        if what in ("symlink", "folder", "fifo", "huge"):
            assert r.problem and "not read" in line and "root:" not in line, (what, line)
        else:
            assert (r.answered, r.questions) == (0, 0) and not r.problem, (what, line)
        if target.is_dir() and not target.is_symlink():
            target.rmdir()
        else:
            target.unlink()


def test_missing_answers_say_how_to_get_them_back(tmp_path, monkeypatch):
    monkeypatch.setattr(answers, "has_questions", lambda lab: True)
    tree = tree_with(tmp_path)
    line = answers.report(FIRST, str(tree), display="labs").line()
    assert f"labs/{FIRST.folder}/answers.md is missing" in line, line
    assert f"git checkout -- labs/{FIRST.folder}/answers.md" in line, line
    elsewhere = answers.report(FIRST, str(tree)).line()
    assert "is missing" in elsewhere and f"copy the release's labs/{FIRST.folder}/answers.md there" in elsewhere
    monkeypatch.setattr(answers, "has_questions", lambda lab: False)
    assert answers.report(FIRST, str(tree)) is None     # a lab without questions says nothing


def test_answers_come_from_the_tree_each_lab_came_from(tmp_path):
    """Lab LAB from SOURCE, the labs before it from EARLIER, as the grade takes their code."""
    source = tree_with(tmp_path, "## Question 1\nAnswer:\nmine\n", lab=SECOND, name="source")
    earlier = tree_with(tmp_path, "## Question 1\nAnswer:\n\n## Question 2\nAnswer:\nyes\n", name="earlier")
    found = {r.lab: r for r in answers.reports([FIRST, SECOND], SECOND.number, str(source), str(earlier))}
    assert (found[FIRST.number].answered, found[FIRST.number].questions) == (1, 2)
    assert (found[SECOND.number].answered, found[SECOND.number].questions) == (1, 1)
    assert str(earlier) in found[FIRST.number].shown and str(source) in found[SECOND.number].shown
    inside = answers.report(FIRST, "solutions")
    assert inside is None or inside.shown == f"solutions/{FIRST.folder}/answers.md"


def test_reference_answers_never_ship(tmp_path, monkeypatch):
    """make dist refuses a release that holds a line of a reference answer (a template ships)."""
    fake = tmp_path / "root"
    tree_with(fake, SAMPLE, name="solutions")
    (fake / "labs" / FIRST.folder).mkdir(parents=True)
    (fake / "labs" / FIRST.folder / "answers.md").write_text(SAMPLE.replace(
        "A 4-KiB aligned region with the revision identifier.", ""))
    monkeypatch.setattr(dist, "ROOT", fake)
    assert dist.answer_lines(SAMPLE) == ["A 4-KiB aligned region with the revision identifier."]
    release = tmp_path / "release"
    shutil.copytree(fake / "labs", release / "labs")
    assert dist.leaks(release) == []
    (release / "docs").mkdir()
    (release / "docs" / "notes.md").write_text("  A 4-KiB aligned region with the revision identifier.\n")
    assert [(f, s) for f, s, _ in dist.leaks(release)] == [("docs/notes.md", f"solutions/{FIRST.folder}/answers.md")]


@pytest.mark.parametrize("lab", manifest.available(), ids=[l.number for l in manifest.available()])
def test_answers_files_follow_the_handout(lab):
    """labs/NN-name/answers.md (shipped, unanswered) and solutions/NN-name/answers.md (every
    question answered) quote the handout's questions, in its order."""
    asked = answers.handout_texts((ROOT / lab.handout).read_text())
    template, reference = (ROOT / t / lab.folder / "answers.md" for t in ("labs", "solutions"))
    if not asked and not template.exists() and not reference.exists():
        pytest.skip(f"lab {lab.number} asks no written questions (no '## Questions' in {lab.handout})")
    assert asked, f"{lab.handout} has no '## Questions' list, but answers.md files exist"
    for path, answered in ((template, 0), (reference, len(asked))):
        shown = path.relative_to(ROOT)
        assert path.is_file(), f"{shown} is missing: lab {lab.number}'s handout asks {len(asked)} questions"
        text = path.read_text()
        assert text.startswith(f"# Lab {lab.number}: answers\n"), f"{shown}: the first line is not '# Lab {lab.number}: answers'"
        quoted = answers.answers_texts(text)
        for i, (a, q) in enumerate(zip(asked, quoted), 1):
            assert a == q, f"{shown}: question {i} differs from the handout's:\n  handout: {a}\n  answers: {q}"
        assert len(quoted) == len(asked), f"{shown} quotes {len(quoted)} questions, the handout asks {len(asked)}"
        assert answers.count(text) == (answered, len(asked)), f"{shown}: answered {answers.count(text)}"


def test_handout_and_answers_questions_are_parsed():
    handout = ("## Steps\n1. not a question\n## Questions\n\n1. First, over\n   two  lines?\n"
               "2. Second?\n\nProse after the list.\n3. not in the list\n## Challenges\n1. no\n")
    assert answers.handout_texts(handout) == ["First, over two lines?", "Second?"]
    text = "# Lab 01: answers\n## Question 1\n> First, over\n>   two lines?\n\nAnswer:\n> quoted in an answer\n"
    assert answers.answers_texts(text) == ["First, over two lines?"]


def grade(*args):
    proc = subprocess.run([PY, str(ROOT / "grader" / "grade.py"), *args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=180)
    return proc.returncode, proc.stdout


def test_grade_reports_answers_after_the_score(tmp_path):
    tree = tree_with(tmp_path, SAMPLE)
    code, out = grade("--lab", FIRST.number, "--source", str(tree), "--check", "vmx-detect")
    lines = out.splitlines()
    want = f"answers  lab {FIRST.number}: 2 of 3 questions answered in {tree}/{FIRST.folder}/answers.md (not graded)"
    assert code == 0 and "  score: 10/10" in lines and want in lines, out
    assert lines.index(want) > lines.index("  score: 10/10")
    (tree / FIRST.folder / "answers.md").write_text(SAMPLE.replace("A 4-KiB", "<!-- A 4-KiB").replace(
        "identifier.", "identifier. -->").replace("But an answer after it.", ""))
    code, out = grade("--lab", FIRST.number, "--source", str(tree), "--check", "vmx-detect")
    assert code == 0 and "  score: 10/10" in out.splitlines(), out
    assert f"answers  lab {FIRST.number}: 0 of 3 questions answered" in out, out


def test_batch_results_record_answers(tmp_path):
    subs = tmp_path / "subs"
    tree_with(subs / "alice", SAMPLE)
    tree_with(subs / "bob")
    (subs / "bob" / "labs" / FIRST.folder / "answers.md").symlink_to("/etc/passwd")
    out = tmp_path / "out"
    proc = subprocess.run([PY, str(ROOT / "grader" / "batch.py"), "--lab", FIRST.number, "--submissions",
                           str(subs), "--check", "vmx-detect", "--out", str(out), "--jobs", "1"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout
    alice = json.loads((out / "alice" / "results.json").read_text())
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert alice["score"] == bob["score"] == 10, proc.stdout
    assert alice["answers"] == {"answered": 2, "questions": 3}
    assert bob["answers"]["answered"] == 0 and "symbolic link" in bob["answers"]["problem"]
    transcript = (out / "alice" / "transcript.txt").read_text()
    assert f"2 of 3 questions answered in labs/{FIRST.folder}/answers.md" in transcript
    assert "root:" not in (out / "bob" / "transcript.txt").read_text()


# ---- the instructors' page of bugs per check ----

def test_instructor_page_is_up_to_date():
    assert instructor_tables.PAGE.read_text() == instructor_tables.generate(), \
        "docs/instructors-bugs.md is stale: run make instructor-tables and commit it"


def test_instructor_page_follows_the_mutants(monkeypatch):
    """A new mutant (or a changed check or marker) makes the committed page stale; the page
    names every mutant and check but shows no reference code."""
    page = instructor_tables.generate()
    ident, lab, file, text, new, check, shows = instructor_tables.MUTANTS[0]
    extra = ("a-bug-added-later", lab, file, text, new, check, shows)
    monkeypatch.setattr(instructor_tables, "MUTANTS", [*instructor_tables.MUTANTS, extra])
    stale = instructor_tables.generate()
    assert stale != page and "a bug added later" in stale and "a bug added later" not in page
    assert instructor_tables.main(["", "check"]) == 1
    for m in instructor_tables.MUTANTS:
        assert f"| {instructor_tables.in_words(m[0])} |" in stale
    for c in gradelib.load_checks(manifest.last().number):
        assert f"| `{c.name}` | {c.points} |" in page
    secrets = dist.secret_lines()
    leaked = [l for l in page.splitlines() if l.strip() in secrets]
    assert not leaked, leaked
    for m in instructor_tables.MUTANTS:
        for code in (m[3], m[4]):
            for line in code.splitlines():
                if len(line.strip()) >= 24:
                    assert line.strip() not in page, f"mutant {m[0]}: the page shows code: {line.strip()}"


def test_instructor_page_stays_out_of_the_release():
    for path in ("docs/instructors-bugs.md", "grader/instructor_tables.py"):
        assert path in dist.INSTRUCTOR_ONLY
        folder, name = path.rsplit("/", 1)
        assert name in dist.ignore(str(ROOT / folder), [name])


# ---- editors: compile_commands.json and the C style ----

def test_compile_commands_after_a_build(tmp_path):
    """make image (grader/build.py) writes compile_commands.json at the root: every file of the
    image, a sealed lab file at its real path with the lab headers' folders."""
    db = ROOT / "compile_commands.json"
    proc = subprocess.run([PY, str(ROOT / "grader" / "build.py"), "--lab", SECOND.number, "--source", "labs",
                           "--earlier", "solutions", "--out", str(tmp_path / "image")], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout
    entries = json.loads(db.read_text())
    by_file = {e["file"]: e for e in entries}
    assert all(os.path.isabs(e["directory"]) and os.path.isfile(e["file"]) for e in entries)
    for name in SECOND.files:
        entry = by_file[str(ROOT / "labs" / SECOND.folder / name)]
        args = entry["arguments"]
        assert args[0] == build.CC and all(f in args for f in build.CFLAGS)
        assert f"-I{ROOT / 'common' / 'include'}" in args and f"-I{ROOT / 'labs' / SECOND.folder}" in args
        assert f"-I{ROOT / 'grader' / 'harness'}" not in args     # not visible to a sealed lab file
    for name in FIRST.files:
        assert str(ROOT / "solutions" / FIRST.folder / name) in by_file
    assert str(ROOT / "common" / "kernel" / "main.c") in by_file
    assert any(f.endswith(".S") for f in by_file)
    assert "compile_commands.json" in (ROOT / ".gitignore").read_text().split()


def test_sealed_build_lists_the_submitted_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "COMPILE_DB", tmp_path / "compile_commands.json")
    tree = tree_with(tmp_path / "sub")
    build.build_image(FIRST.number, str(tree), out=tmp_path / "image", compile_db=True)
    files = {e["file"] for e in json.loads((tmp_path / "compile_commands.json").read_text())}
    assert {str(tree / FIRST.folder / n) for n in FIRST.files} <= files


FORMATTED = ["common/*/*.[ch]", "grader/harness/*.[ch]", "grader/checks/*.[ch]", "solutions/*/*.[ch]",
             "labs/*/*.[ch]", "grader/bench/*.[ch]", "grader/hidden/*/*.[ch]"]


def test_c_files_follow_clang_format():
    """The project's C (common/, the grader's, the solutions and the generated skeletons) is as
    .clang-format writes it: a student's clang-format changes nothing they did not write."""
    tool = shutil.which("clang-format")
    if not tool:
        pytest.skip("clang-format is not installed (apt-get install clang-format): the C style is not checked")
    files = sorted(str(p.relative_to(ROOT)) for pattern in FORMATTED for p in ROOT.glob(pattern))
    assert files
    proc = subprocess.run([tool, "--style=file", "--dry-run", "--Werror", *files], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, "clang-format would change these files (clang-format -i them):\n" + proc.stdout[-3000:]
