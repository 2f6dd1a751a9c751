# vmx-labs: build a lab's hypervisor image, run it in Bochs, grade it.
#
#   make run LAB=01                 boot your lab 01 hypervisor in Bochs (console in the terminal)
#   make run LAB=06 TRACE=1         the same, with the guest program's instruction trace (lab 06 on)
#   make grade LAB=02               grade your labs 01..02 (CHECK=name: one check)
#   make grade-batch LAB=04 SUBMISSIONS=dir   grade every submission in dir (docs/instructors.md)
#   make gradescope LAB=04          write a Gradescope autograder zip (docs/instructors.md)
#   make bench LAB=04               what each VM exit costs: a table, a chart in build/bench/
#   make test                       the project's own test run (what CI runs)
#   make dist DEST=folder           write a student release (no solutions) into an empty folder
#   make docs                       the diagrams and the docs site (build/site/index.html)
#   make help                       everything else
#
# Variables: LAB (a lab of labs.toml; default: the highest available), SOURCE (the tree lab LAB
# comes from: labs = your code, solutions = the reference, or a path to a copy of labs/; spaces
# are fine), EARLIER (the tree for labs before LAB, default SOURCE), CHECK (the check to run or
# grade), SEED (vary the nonces `make grade` uses), WERROR=1 (warnings are errors), TRACE=1 (make
# run: trace the guest program with lab 06's tracer, symbolised), BOCHS (use that binary),
# GRADE_TIMEOUT (seconds per Bochs run, default 10), HIDDEN=1 (instructors: also grader/hidden/).

LAB ?=
SOURCE ?= labs
EARLIER ?=
CHECK ?=
TRACE ?=
SEED ?=
HIDDEN ?=
WERROR ?= 0
DEST ?=

# Debian's python3 (it sees Debian's python3-pytest); a pyenv python3 first on PATH may not.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do $$p -c 'import pytest' 2>/dev/null && { command -v $$p; break; }; done)
PYTHON_ANY := $(or $(PYTHON),$(shell command -v /usr/bin/python3 || command -v python3))
LAB_ARGS = --lab "$(LAB)" --source "$(SOURCE)" --earlier "$(EARLIER)"
NEED_PYTEST = @test -n "$(PYTHON)" || { echo "make: pytest is missing. Run 'make deps' as root, or: apt-get install python3-pytest"; exit 1; }

.PHONY: all image run debug gdb grade grade-batch gradescope bench test dist docs skeletons check-skeletons deps deps-ok bochs \
	bochs-gdb probe clean help
.DEFAULT_GOAL := image
all: image

image: deps-ok
	@$(PYTHON_ANY) grader/build.py $(LAB_ARGS) --out build/lab$(LAB)-image $(if $(filter 1,$(WERROR)),--werror)

run: deps-ok
	@$(PYTHON_ANY) grader/run.py run $(LAB_ARGS) $(if $(CHECK),--check "$(CHECK)") $(if $(filter 1,$(TRACE)),--trace)

debug: deps-ok
	@$(PYTHON_ANY) grader/run.py debug $(LAB_ARGS) $(if $(CHECK),--check "$(CHECK)")

gdb: deps-ok
	@$(PYTHON_ANY) grader/run.py gdb $(LAB_ARGS) $(if $(CHECK),--check "$(CHECK)")

probe: deps-ok
	@$(PYTHON_ANY) grader/run.py probe

grade: deps-ok
	@$(PYTHON_ANY) grader/grade.py $(LAB_ARGS) $(if $(CHECK),--check "$(CHECK)") $(if $(SEED),--seed "$(SEED)") $(if $(filter 1,$(HIDDEN)),--hidden)

SUBMISSIONS ?=
OUT ?=
JOBS ?=
grade-batch: deps-ok
	@test -f grader/batch.py || { echo "make grade-batch is for instructors: it needs the full tree"; exit 2; }
	@test -n "$(SUBMISSIONS)" || { echo "make grade-batch: give SUBMISSIONS=<folder with one subfolder, .zip or .tar.gz per submission>"; exit 2; }
	@$(PYTHON_ANY) grader/batch.py --lab "$(LAB)" --submissions "$(SUBMISSIONS)" --earlier "$(or $(EARLIER),solutions)" \
		$(if $(CHECK),--check "$(CHECK)") $(if $(SEED),--seed "$(SEED)") $(if $(OUT),--out "$(OUT)") $(if $(JOBS),--jobs "$(JOBS)") $(if $(filter 1,$(HIDDEN)),--hidden) \
		$(if $(filter 1,$(SIMILARITY)),--similarity)

gradescope: deps-ok
	@test -f grader/gradescope.py || { echo "make gradescope is for instructors: it needs the full tree"; exit 2; }
	@$(PYTHON_ANY) grader/gradescope.py zip --lab "$(LAB)" $(if $(SEED),--seed "$(SEED)") $(if $(filter 1,$(HIDDEN)),--hidden) $(if $(OUT),--out "$(OUT)")

bench: deps-ok
	@sh grader/deps.sh bench
	@$(PYTHON_ANY) grader/bench.py $(LAB_ARGS)

# The project's own test run: warning-free builds, skeletons in sync, every reference solution
# at full marks, every untouched skeleton failing its own lab's checks with a marker ID,
# plausible bugs and hostile submissions caught, the student release working.
test: deps-ok
	@test -d grader/tests || { echo "make test checks the project itself and needs the full tree (solutions/, grader/tests/). Here: make grade LAB=NN"; exit 2; }
	$(NEED_PYTEST)
	@sh grader/deps.sh bench
	@$(PYTHON) -m pytest -c grader/pytest.ini grader/tests

dist: deps-ok
	@test -f grader/dist.py || { echo "make dist writes a student release from the full tree; this is one already"; exit 2; }
	@$(PYTHON_ANY) grader/dist.py "$(DEST)"

# docs/diagrams/*.dot -> docs/images/*.svg, then the students' site (no instructor pages).
docs:
	@test -f mkdocs.yml || { echo "make docs needs mkdocs.yml and grader/docsite.py (the full tree)"; exit 2; }
	@sh grader/deps.sh docs
	@$(PYTHON_ANY) grader/docsite.py build

skeletons:
	@$(PYTHON_ANY) grader/skeleton.py generate-all

check-skeletons:
	@$(PYTHON_ANY) grader/skeleton.py check-all

# Instructors: regenerate docs/instructors-bugs.md (which bugs each check catches) from the
# mutants, the checks and the markers (a test fails while the committed page is out of date).
.PHONY: instructor-tables
instructor-tables:
	@test -f grader/instructor_tables.py || { echo "make instructor-tables is for instructors: it needs the full tree"; exit 2; }
	@$(PYTHON_ANY) grader/instructor_tables.py write

deps:
	@sh grader/deps.sh bench

deps-ok:
	@sh grader/deps.sh

bochs:
	@grader/bochs.sh debugger

bochs-gdb:
	@grader/bochs.sh gdbstub

clean:
	rm -rf build

help:
	@sed -n '1,19p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: image debug gdb probe skeletons check-skeletons deps bochs bochs-gdb clean"
