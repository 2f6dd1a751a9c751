"""The GitHub Classroom workflow of the student release (make dist writes it to
.github/workflows/classroom.yml): on each push, a GitHub-hosted Ubuntu runner installs the
packages, builds Bochs (cached between runs), grades every check with `make grade LAB=NN
CHECK=name` (one autograding step each, its points the check's) and reports the points in the
form GitHub Classroom's autograding reads."""
import gradelib
import manifest

TARBALL = "bochs_3.0+dfsg.orig.tar.xz"

HEAD = """# GitHub Classroom autograding (written by make dist; docs/instructors.md in the full tree).
name: Autograding Tests
on: [push, workflow_dispatch, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - uses: actions/checkout@v4
      - uses: actions/cache@v4
        with:
          path: ~/.cache/vmx-labs
          key: vmx-labs-bochs-${{{{ hashFiles('grader/bochs.sh') }}}}
      - name: packages and Bochs
        run: |
          sudo sh grader/deps.sh
          if [ -f .ci/{tarball} ]; then export BOCHS_TARBALL=$PWD/.ci/{tarball}; fi
          bash grader/bochs.sh >/dev/null
"""

STEP = """      - name: lab {lab} {name}
        id: {ident}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: lab {lab} {name}
          command: {command}
          timeout: 5
          max-score: {points}
"""

TAIL = """      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}
        with:
          runners: {runners}
"""


def command(check):
    return f"make --no-print-directory grade LAB={check.lab} CHECK={check.name}"


def steps():
    """(id, check) for every check of every available lab."""
    checks = gradelib.load_checks(manifest.available()[-1].number)
    return [(f"lab{c.lab}-{c.name}", c) for c in checks]


def workflow():
    out = HEAD.format(tarball=TARBALL)
    for ident, c in steps():
        out += STEP.format(lab=c.lab, name=c.name, ident=ident, command=command(c), points=c.points)
    env = "\n".join(f"          {ident.upper()}_RESULTS: "
                    f"\"${{{{ steps.{ident}.outputs.result }}}}\"" for ident, _ in steps())
    return out + TAIL.format(env=env, runners=",".join(ident for ident, _ in steps()))
