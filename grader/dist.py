#!/usr/bin/env python3
"""`make dist DEST=folder`: writes a student release into an empty folder: common/, the
skeletons, the grader without its instructor-only parts (mutants, project tests), the docs and
the README, as a fresh git repository. No reference code: the release is checked for every
line of every solution block and of every reference answer (solutions/NN-name/answers.md)
before it is committed; the answers templates (labs/NN-name/answers.md) ship.

    dist.py DEST
"""
import pathlib
import shutil
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import manifest  # noqa: E402
import classroom  # noqa: E402
import docsite  # noqa: E402
import skeleton  # noqa: E402

ROOT = manifest.ROOT
TAKEN = ["Makefile", "README.md", "labs.toml", "mkdocs.yml", ".gitignore", ".clang-format", ".editorconfig", "common", "labs", "docs", "grader"]
INSTRUCTOR_ONLY = {"grader/mutants", "grader/tests", "grader/dist.py", "grader/batch.py", "docs/instructors.md", "grader/hidden", "grader/gradescope.py", "grader/classroom.py",
                   "grader/instructor_tables.py", "docs/instructors-bugs.md"}


class DistError(Exception):
    pass


def ignore(folder, names):
    here = pathlib.Path(folder).resolve().relative_to(ROOT)
    return [n for n in names if str(here / n) in INSTRUCTOR_ONLY or n in ("__pycache__", "build", "grade-logs")]


def student_text(text):
    """Drops the parts of a Markdown file marked for instructors (as the docs site does)."""
    return docsite.drop_instructor_blocks(text)


def secret_lines():
    """Lines of solution blocks that appear nowhere a student may see (skeletons, common, grader)."""
    public = set()
    for path in [*ROOT.glob("labs/*/*"), *ROOT.glob("common/*/*"), *ROOT.glob("grader/checks/*"),
                 *ROOT.glob("grader/harness/*")]:
        if path.is_file():
            public |= {l.strip() for l in path.read_text(errors="replace").splitlines()}
    secrets = {}
    for lab in manifest.available():
        for path in sorted((ROOT / "solutions" / lab.folder).glob("*.[ch]")):
            inside = False
            for line in path.read_text().splitlines():
                if skeleton.BEGIN.match(line):
                    inside, in_comment = True, True
                    continue
                if skeleton.END.match(line):
                    inside = False
                    continue
                if inside and in_comment:
                    in_comment = not line.strip().startswith("*/")
                    continue
                s = line.strip()
                if inside and len(s) >= 16 and s not in public:
                    secrets[s] = f"solutions/{lab.folder}/{path.name}"
        path = ROOT / "solutions" / lab.folder / "answers.md"
        if path.is_file():
            for s in answer_lines(path.read_text(errors="replace")):
                if s not in public:
                    secrets[s] = f"solutions/{lab.folder}/answers.md"
    return secrets


def answer_lines(text):
    """The lines of the answers in an answers.md (below each `Answer:`, outside code fences and
    comments, long enough to be an answer's own words): the reference answers must never ship."""
    found, inside, fence = [], False, False
    for line in text.splitlines():
        s = line.strip()
        if line.startswith("## "):
            inside = False
        elif s.startswith("Answer:"):
            inside = True
        elif s.startswith("```"):
            fence = not fence
        elif inside and not fence and len(s) >= 24 and not s.startswith(("<!--", ">", "|")):
            found.append(s)
    return found


def leaks(dest):
    """(file in dest, solution file) for every solution-block line found in the release."""
    secrets, found = secret_lines(), []
    for path in dest.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            for line in path.read_text(errors="replace").splitlines():
                if line.strip() in secrets:
                    found.append((str(path.relative_to(dest)), secrets[line.strip()], line.strip()))
    return found


def make_release(dest):
    dest = pathlib.Path(dest)
    if not str(dest):
        raise DistError("say where: make dist DEST=<an empty folder>")
    if dest.exists() and any(dest.iterdir()):
        raise DistError(f"{dest} is not empty: give an empty or new folder")
    dest.mkdir(parents=True, exist_ok=True)
    for name in TAKEN:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copyfile(src, dest / name)
    flow = dest / ".github" / "workflows" / "classroom.yml"
    flow.parent.mkdir(parents=True)
    flow.write_text(classroom.workflow())
    for md in dest.rglob("*.md"):
        md.write_text(student_text(md.read_text()))
    found = leaks(dest)
    if found:
        shutil.rmtree(dest)
        raise DistError("the release would contain reference code:\n  " + "\n  ".join(
            f"{f}: a line of {s}: {l}" for f, s, l in found[:20]))
    git = ["git", "-c", "user.name=vmx-labs", "-c", "user.email=vmx-labs@localhost", "-C", str(dest)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "vmx-labs: student release"]):
        subprocess.run(git + args, check=True)
    return dest


def main(argv):
    try:
        dest = make_release(argv[1] if len(argv) > 1 else "")
    except DistError as e:
        print(f"dist: {e}", file=sys.stderr)
        return 2
    print(f"dist: student release written to {dest} (labs {', '.join(manifest.numbers())}; "
          "no solutions, no mutants, no project tests). In it: make run LAB=01, make grade LAB=01")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
