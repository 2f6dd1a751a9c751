"""docs/glossary.md: its format, and that every handout link into it names a real term.

Fast (no build, no Bochs). The glossary is one `## X` group per first letter, one `### Term`
heading per term, alphabetical, each term followed by a line
`**中文** <Chinese term> · **SDM** <3C 28.2.1[, ...]> · **Lab** <01-10[, ...]>` and a short text.
A section is of Volume 3 (`3C 28.2.1`, appendix `3C A.7`), of Volume 2 (`2A 3`, optionally the
instruction: `2A 3 INT3`) or, for a non-SDM term, of the named specification (`ACPI 6.5 15.1`).
The handouts' "What to read in the SDM" tables link terms as `../glossary.md#anchor`; every such
anchor must be a heading of the glossary (issue 13).
"""
import dataclasses
import pathlib
import re

import pytest

import docsite

ROOT = pathlib.Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "glossary.md"
HANDOUTS = ROOT / "docs" / "labs"

META = re.compile(r"\*\*中文\*\* (?P<zh>\S.*?) · \*\*SDM\*\* (?P<sdm>\S.*?) · \*\*Lab\*\* (?P<lab>\S.*)")
SDM_REF = re.compile(r"3[ABCD] (?:[A-C]\.)?\d+(?:\.\d+)*"         # Vol. 3, appendices A-C
                     r"|2[ABCD] \d+(?:\.\d+)*(?: [A-Z][A-Z0-9]*)?"   # Vol. 2 [instruction]
                     r"|ACPI \d+\.\d+ \d+(?:\.\d+)*")                # the ACPI specification
HEADING_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]*")
CJK = re.compile(r"[\u4e00-\u9fff]")
LABS = {f"{n:02d}" for n in range(1, 11)}
# A link into the glossary from elsewhere (../glossary.md#x, glossary.md#x) and inside it (#x).
GLOSSARY_LINK = re.compile(r"\]\((?:[./]*/)?(?:docs/)?glossary\.md#([^)\s]*)\)")
LOCAL_LINK = re.compile(r"\]\(#([^)\s]*)\)")
SDM_SECTION = "## What to read in the SDM"


class GlossaryError(Exception):
    pass


@dataclasses.dataclass
class Term:
    heading: str
    letter: str
    zh: str
    sdm: str
    lab: str
    body: str
    line: int


def anchor(heading):
    """GitHub's anchor for a heading (the one the docs' link check and the site use)."""
    return docsite.github_slug(heading)


def parse(text):
    """The terms of a glossary, in file order; GlossaryError names the first line that breaks the
    format (a term without its metadata line or text, a heading outside a letter group, ...)."""
    terms, letter, current = [], None, None
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if line.startswith("### "):
            if letter is None:
                raise GlossaryError(f"line {number}: term {line[4:]!r} before the first '## X' group")
            current = Term(line[4:].strip(), letter, "", "", "", "", number)
            terms.append(current)
        elif line.startswith("## "):
            letter = line[3:].strip()
            if not re.fullmatch(r"[A-Z]|0-9", letter):        # '## 0-9': "4-level paging"
                raise GlossaryError(f"line {number}: group heading {line!r} is not one capital letter "
                                    "(or 0-9)")
            current = None
        elif re.match(r"#{1,6}(\s|$)", line):          # any other heading ("#VE" is text)
            if number != 1 or not line.startswith("# "):
                raise GlossaryError(f"line {number}: unexpected heading {line!r}")
        elif current is not None and line.strip():
            if not current.zh:
                meta = META.fullmatch(line.strip())
                if not meta:
                    raise GlossaryError(f"line {number}: {current.heading!r} needs "
                                        "'**中文** ... · **SDM** ... · **Lab** NN' right below it")
                current.zh, current.sdm, current.lab = meta["zh"], meta["sdm"], meta["lab"]
            else:
                current.body += line.strip() + " "
    for term in terms:
        if not term.zh:
            raise GlossaryError(f"line {term.line}: {term.heading!r} has no metadata line")
        if not term.body:
            raise GlossaryError(f"line {term.line}: {term.heading!r} has no text")
    return terms


def problems(terms):
    """Every broken rule of the glossary's terms, as readable lines (empty: all good)."""
    found = []
    seen = {}
    for term in terms:
        where = f"line {term.line} {term.heading!r}"
        if not HEADING_CHARS.fullmatch(term.heading):
            found.append(f"{where}: a heading has only ASCII letters, digits, spaces and hyphens")
        if not CJK.search(term.zh):
            found.append(f"{where}: the Chinese term {term.zh!r} has no Chinese character")
        for ref in term.sdm.split(", "):
            if not SDM_REF.fullmatch(ref):
                found.append(f"{where}: SDM section {ref!r} is not like '3C 28.2.1', '3C A.7', "
                         "'2A 3 INT3' or 'ACPI 6.5 15.1'")
        labs = term.lab.split(", ")
        if not set(labs) <= LABS:
            found.append(f"{where}: lab {term.lab!r} is not 01 .. 10 (several: '01, 04')")
        elif labs != sorted(set(labs)):
            found.append(f"{where}: labs {term.lab!r} are not in increasing order")
        if term.heading[:1].upper() != term.letter and not (term.letter == "0-9"
                                                             and term.heading[:1].isdigit()):
            found.append(f"{where}: listed under '## {term.letter}'")
        key = anchor(term.heading)
        if key in seen:
            found.append(f"{where}: same anchor #{key} as line {seen[key]}")
        seen.setdefault(key, term.line)
    keys = [t.heading.lower() for t in terms]
    for before, after in zip(terms, terms[1:]):
        if before.heading.lower() > after.heading.lower():
            found.append(f"line {after.line} {after.heading!r}: not in alphabetical order "
                         f"(comes after {before.heading!r})")
    if len(set(keys)) != len(keys):
        found.append("two headings differ only in case")
    return found


def sdm_table_links(handout_text):
    """The glossary anchors linked from the handout's "What to read in the SDM" section."""
    section = []
    inside = False
    for line in handout_text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == SDM_SECTION
        elif inside:
            section.append(line)
    return GLOSSARY_LINK.findall("\n".join(section))


def missing_table_links(glossary_text, handouts):
    """(handout name, anchor) for each SDM-table link of the handouts that names no term."""
    anchors = {anchor(t.heading) for t in parse(glossary_text)}
    return [(path.name, link) for path in sorted(handouts)
            for link in sdm_table_links(path.read_text(encoding="utf-8")) if link not in anchors]


@pytest.fixture(scope="module")
def text():
    return GLOSSARY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def terms(text):
    return parse(text)


def test_glossary_parses(terms):
    assert len(terms) >= 120, f"only {len(terms)} terms in {GLOSSARY.name}"


def test_every_term_has_chinese_sdm_lab_sorted_unique(terms):
    found = problems(terms)
    assert not found, "docs/glossary.md:\n" + "\n".join(found)


def test_links_inside_the_glossary_resolve(text, terms):
    anchors = {anchor(t.heading) for t in terms}
    broken = sorted(set(LOCAL_LINK.findall(text)) - anchors)
    assert not broken, f"docs/glossary.md links to missing terms: {broken}"


def test_sdm_tables_link_only_existing_terms(text):
    handouts = sorted(HANDOUTS.glob("*.md"))
    assert handouts, f"no handouts in {HANDOUTS}"
    missing = missing_table_links(text, handouts)
    assert not missing, ("'What to read in the SDM' links to terms docs/glossary.md lacks: "
                         + ", ".join(f"{name} -> #{link}" for name, link in missing))


def labs_missing_from_terms(glossary_text, handouts):
    """(handout name, anchor) for each SDM-table link of a handout NN-*.md to a term whose Lab
    field does not list NN."""
    labs = {anchor(t.heading): t.lab.split(", ") for t in parse(glossary_text)}
    return [(path.name, link) for path in sorted(handouts)
            for link in sdm_table_links(path.read_text(encoding="utf-8"))
            if link in labs and path.name[:2] not in labs[link]]


def test_terms_list_the_labs_that_link_them(text):
    missing = labs_missing_from_terms(text, HANDOUTS.glob("*.md"))
    assert not missing, ("a handout's 'What to read in the SDM' links a term whose Lab field lacks "
                         "that lab: " + ", ".join(f"{name} -> #{link}" for name, link in missing))


def test_every_glossary_link_in_the_docs_resolves(terms):
    """Beyond the SDM tables: any link into the glossary from the docs or the README."""
    anchors = {anchor(t.heading) for t in terms}
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = [f"{page.relative_to(ROOT)} -> #{link}" for page in pages if page.exists()
              for link in GLOSSARY_LINK.findall(page.read_text(encoding="utf-8"))
              if link not in anchors]
    assert not broken, "links to terms docs/glossary.md lacks: " + ", ".join(broken)


GOOD = """\
# Glossary

Intro.

## E

### EPT violation
**中文** EPT 违例 · **SDM** 3C 29.3.3.2 · **Lab** 07

Exit reason 48.

## V

### VM-entry controls
**中文** VM 进入控制 · **SDM** 3C 25.8.1, 3C 27.2.1.3 · **Lab** 01

The controls of VM entry.
"""

HANDOUT = """\
# Lab 99

## What to read in the SDM

| Topic | Sections |
| --- | --- |
| [VM-entry controls](../glossary.md#vm-entry-controls) | 25.8.1 |
| [EPT violations](../glossary.md#ept-violation) | 29.3.3.2 |
{extra}
## Background

A [link outside the table](../glossary.md#not-checked-here) is left to the docs-wide test.
"""


def test_a_missing_term_is_caught(tmp_path):
    """The checks pass on a good glossary and bite on a table link to a term it lacks."""
    (tmp_path / "99-good.md").write_text(HANDOUT.format(extra=""), encoding="utf-8")
    assert problems(parse(GOOD)) == []
    assert missing_table_links(GOOD, tmp_path.glob("*.md")) == []

    (tmp_path / "98-bad.md").write_text(HANDOUT.format(
        extra="| [monitor trap flag](../glossary.md#monitor-trap-flag) | 26.5.2 |\n"), encoding="utf-8")
    assert missing_table_links(GOOD, tmp_path.glob("*.md")) == [("98-bad.md", "monitor-trap-flag")]

    fixed = GOOD + ("\n## M\n\n### Monitor trap flag\n**中文** 监控陷阱标志 · **SDM** 3C 26.5.2 · "
                    "**Lab** 06\n\nExit reason 37.\n")
    with pytest.raises(AssertionError):                 # ## M after ## V: out of order
        assert problems(parse(fixed)) == []
    assert missing_table_links(fixed, tmp_path.glob("*.md")) == []


def test_a_term_without_the_linking_lab_is_caught(tmp_path):
    """A handout of lab 99 links two terms of labs 01 and 07: both lack 99; listing it fixes that."""
    (tmp_path / "99-good.md").write_text(HANDOUT.format(extra=""), encoding="utf-8")
    assert labs_missing_from_terms(GOOD, tmp_path.glob("*.md")) == [
        ("99-good.md", "vm-entry-controls"), ("99-good.md", "ept-violation")]
    fixed = GOOD.replace("**Lab** 01", "**Lab** 01, 99").replace("**Lab** 07", "**Lab** 07, 99")
    assert labs_missing_from_terms(fixed, tmp_path.glob("*.md")) == []


def test_a_digit_group_comes_first():
    digits = "## 0-9\n\n### 4-level paging\n**中文** 4 级分页 · **SDM** 3A 5.5 · **Lab** 07\n\nCR3 to PTE.\n\n"
    assert problems(parse(GOOD.replace("## E\n\n", digits + "## E\n\n"))) == []
    late = GOOD + "\n" + digits
    assert any("not in alphabetical order" in line for line in problems(parse(late)))


@pytest.mark.parametrize("sdm, lab", [
    ("3C A.7", "07"), ("3C A.3.1, 3C 27.2.1.2", "05, 06"), ("2A 3 INT3", "06"), ("2B 4", "03"),
    ("3A 5.1.4, 2A 3 CPUID", "03"), ("ACPI 6.5 15.1", "08"), ("3C 29.3.3.2", "01, 04, 10"),
])
def test_other_sources_and_several_labs_are_accepted(sdm, lab):
    good = GOOD.replace("**SDM** 3C 29.3.3.2 · **Lab** 07", f"**SDM** {sdm} · **Lab** {lab}")
    assert problems(parse(good)) == []


@pytest.mark.parametrize("old, new, message", [
    ("**中文** EPT 违例 ·", "**中文** EPT violation ·", "no Chinese character"),
    ("**SDM** 3C 29.3.3.2", "**SDM** SDM 29.3.3.2", "is not like"),
    ("**SDM** 3C 25.8.1, 3C 27.2.1.3", "**SDM** 3C 25.8.1, Appendix A", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** 3C A", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** 3C D.1", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** 2 MOV", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** 2A INT3", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** 2A 3 INT n", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** ACPI 15.1", "is not like"),
    ("**SDM** 3C 29.3.3.2", "**SDM** ACPI, E820", "is not like"),
    ("**Lab** 07", "**Lab** 11", "is not 01 .. 10"),
    ("**Lab** 07", "**Lab** 04, 11", "is not 01 .. 10"),
    ("**Lab** 07", "**Lab** 04,07", "is not 01 .. 10"),
    ("**Lab** 07", "**Lab** 07, 04", "not in increasing order"),
    ("**Lab** 07", "**Lab** 07, 07", "not in increasing order"),
    ("### VM-entry controls", "### VM entry controls (25.8.1)", "only ASCII letters"),
    ("### VM-entry controls", "### Entry controls", "listed under"),
    ("### VM-entry controls", "### 5-level paging", "listed under"),
    ("## E\n\n### EPT violation", "## 0-9\n\n### EPT violation", "listed under"),
    ("## E\n\n", "## E\n\n### Exception bitmap\n**中文** 异常位图 · **SDM** 3C 25.6.3 · **Lab** 06\n\n"
     "One bit per vector.\n\n", "not in alphabetical order"),
    ("### VM-entry controls", "### EPT Violation", "same anchor"),
])
def test_a_broken_term_is_caught(old, new, message):
    assert old in GOOD
    found = problems(parse(GOOD.replace(old, new)))
    assert any(message in line for line in found), found


@pytest.mark.parametrize("old, new, message", [
    ("**中文** EPT 违例 · **SDM** 3C 29.3.3.2 · **Lab** 07\n", "", "needs '**中文**"),
    ("Exit reason 48.\n", "", "has no text"),
    ("## E\n", "", "before the first"),
    ("## V\n", "## Vm\n", "not one capital letter"),
    ("## V\n", "## 0-8\n", "not one capital letter"),
])
def test_a_malformed_glossary_is_refused(old, new, message):
    with pytest.raises(GlossaryError, match=re.escape(message)):
        parse(GOOD.replace(old, new))
