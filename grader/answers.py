"""The written questions of each lab: labs/NN-name/answers.md, reported by `make grade` and
`make grade-batch` (how many questions have an answer), never graded and never part of the score.

The file (docs/grading.md#written-answers):

    # Lab NN: answers
    (a paragraph)
    ## Question 1
    > the question, as in the handout

    Answer:
    <the answer>
    ## Question 2
    ...

A question is answered when the text after its `Answer:` line, up to the next `## ` heading, has
a non-blank line outside HTML comments. The file is read from the tree the lab was graded from,
as a regular file (not a symbolic link) of at most MAX_BYTES; anything else is reported, never
raised.
"""
import dataclasses
import os
import pathlib
import re
import stat

import manifest

ROOT = manifest.ROOT
NAME = "answers.md"
MAX_BYTES = 256 * 1024
QUESTION = re.compile(r"^##\s+Question\s+(\d+)\s*$")
HEADING = re.compile(r"^##\s")
ANSWER = re.compile(r"^Answer:(.*)$")
COMMENT = re.compile(r"<!--.*?(-->|\Z)", re.DOTALL)
HANDOUT_QUESTIONS = re.compile(r"^##\s+Questions\s*$")
HANDOUT_ITEM = re.compile(r"^\d+\.\s")


@dataclasses.dataclass
class Report:
    lab: str
    folder: str
    shown: str              # the file's path as the user knows it (relative to the repository)
    answered: int = 0
    questions: int = 0
    problem: str = ""       # "" when read; else why it was not

    def line(self):
        head = f"answers  lab {self.lab}: "
        if self.problem == "missing":
            template = f"labs/{self.folder}/{NAME}"
            get = f"git checkout -- {template}" if self.shown == template else f"copy the release's {template} there"
            return (head + f"{self.shown} is missing: the release has it ({get}), then answer below "
                    "each 'Answer:' line (not graded)")
        if self.problem:
            return head + f"{self.shown} not read: {self.problem} (not graded)"
        return head + f"{self.answered} of {self.questions} questions answered in {self.shown} (not graded)"

    def as_json(self):
        doc = {"answered": self.answered, "questions": self.questions}
        if self.problem:
            doc["problem"] = self.problem
        return doc


def count(text):
    """(answered, questions) of an answers.md text."""
    answered = questions = 0
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        if not QUESTION.match(lines[i]):
            i += 1
            continue
        questions += 1
        i += 1
        start = len(lines)
        body = []
        while i < len(lines) and not HEADING.match(lines[i]):
            if start == len(lines):
                m = ANSWER.match(lines[i].strip())
                if m:
                    start = i
                    body.append(m.group(1))
            else:
                body.append(lines[i])
            i += 1
        if any(line.strip() for line in COMMENT.sub("", "\n".join(body)).split("\n")):
            answered += 1
    return answered, questions


def read_capped(path):
    """The text of path, or raises ValueError saying why it is not read: a symbolic link, not a
    regular file, larger than MAX_BYTES. OSError for a file that vanished or cannot be opened."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise ValueError("it is a symbolic link: hand in the file itself")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("it is not a regular file")
    if st.st_size > MAX_BYTES:
        raise ValueError(f"it is {st.st_size} bytes, more than the {MAX_BYTES} read")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("it is not a regular file")
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"it is larger than the {MAX_BYTES} bytes read")
    return data.decode("utf-8", errors="replace")


def collapse(text):
    return " ".join(text.split())


def handout_texts(text):
    """The questions of a handout: the items of its `## Questions` numbered list, each joined
    into one line with its whitespace collapsed."""
    items, inside = [], False
    for line in text.splitlines():
        if HEADING.match(line):
            inside = bool(HANDOUT_QUESTIONS.match(line))
        elif inside and HANDOUT_ITEM.match(line):
            items.append(HANDOUT_ITEM.sub("", line, count=1))
        elif inside and items and line.startswith("   ") and line.strip():
            items[-1] += " " + line.strip()
        elif inside and items and line.strip() and not line.startswith(" "):
            inside = False      # the list ended: prose after it
    return [collapse(i) for i in items]


def answers_texts(text):
    """The questions quoted in an answers.md: the `> ` block of each `## Question N`, joined."""
    out, current = [], None
    for line in text.replace("\r\n", "\n").split("\n"):
        if QUESTION.match(line):
            current = []
            out.append(current)
        elif HEADING.match(line):
            current = None
        elif current is not None and line.startswith(">"):
            current.append(line[1:].strip())
        elif current is not None and ANSWER.match(line.strip()):
            current = None
    return [collapse(" ".join(q)) for q in out]


def handout_questions(lab):
    """The number of questions in the handout's `## Questions` section (0 without one)."""
    path = ROOT / lab.handout if lab.handout else None
    if not path or not path.is_file():
        return 0
    return len(handout_texts(path.read_text(errors="replace")))


def has_questions(lab):
    """Whether the lab asks written questions: the release's template exists or the handout asks."""
    return (ROOT / "labs" / lab.folder / NAME).is_file() or handout_questions(lab) > 0


def shown_path(tree, lab):
    """labs/04-events/answers.md for a tree in the repository; <tree as given>/04-events/... else."""
    p = pathlib.Path(tree)
    full = (p if p.is_absolute() else ROOT / p).resolve() / lab.folder / NAME
    try:
        return str(full.relative_to(ROOT))
    except ValueError:
        return str(p / lab.folder / NAME)


def report(lab, tree, display=None):
    """The Report of `lab` (a manifest.Lab) graded from `tree`; None when the lab asks nothing.
    `display`: the name to show for the tree (e.g. "labs" for a submission's copy)."""
    shown = f"{display}/{lab.folder}/{NAME}" if display else shown_path(tree, lab)
    p = pathlib.Path(tree)
    path = (p if p.is_absolute() else ROOT / p) / lab.folder / NAME
    try:
        text = read_capped(path)
    except FileNotFoundError:
        return Report(lab.number, lab.folder, shown, 0, handout_questions(lab), "missing") if has_questions(lab) else None
    except ValueError as e:
        return Report(lab.number, lab.folder, shown, 0, handout_questions(lab), str(e))
    except OSError as e:
        return Report(lab.number, lab.folder, shown, 0, handout_questions(lab), f"it cannot be read ({e.strerror or e})")
    answered, questions = count(text)
    if not questions and not has_questions(lab):
        return None
    return Report(lab.number, lab.folder, shown, answered, questions)


def reports(labs, top, source, earlier):
    """A Report per lab of `labs` (manifest.Lab) that asks questions: lab `top` (the LAB graded)
    read from `source`, the labs before it from `earlier`."""
    out = []
    for lab in sorted(labs, key=lambda l: int(l.number)):
        r = report(lab, source if int(lab.number) == int(top) else (earlier or source))
        if r:
            out.append(r)
    return out
