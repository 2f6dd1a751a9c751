# vmx-labs: build a lab's hypervisor image, run it in Bochs, grade it.
#
#   make run LAB=01                 boot your lab 01 hypervisor in Bochs (console in the terminal)
#   make grade                      grade all your labs (LAB=02: labs 01..02 only)
#   make test                       the project's own test run (what CI runs)
#   make help                       everything else
#
# Variables: LAB (01..10; default: the highest lab present), SOURCE (the tree lab LAB comes from: labs = your code, solutions =
# the reference, or a path to a copy of labs/), EARLIER (the tree for labs before LAB, default
# SOURCE), CHECK (the check `make run` shows), WERROR=1 (warnings are errors), V=1 (show
# compiler command lines), SEED (vary the nonces `make grade` uses), BOCHS (use that binary).

# Default: the highest lab present, so `make grade` grades every lab (earlier ones as regressions).
LAB ?= $(firstword $(subst -, ,$(lastword $(sort $(notdir $(wildcard solutions/[0-9][0-9]-*))))))
override LAB := $(shell printf '%02d' $$(echo '$(LAB)' | sed 's/^0*//; s/^$$/0/') 2>/dev/null)
SOURCE ?= labs
EARLIER ?= $(SOURCE)
CHECK ?=
WERROR ?= 0

# Debian's python3 (it sees Debian's python3-pytest); a pyenv python3 first on PATH may not.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do $$p -c 'import pytest' 2>/dev/null && { command -v $$p; break; }; done)
PYTHON_ANY := $(or $(PYTHON),$(shell command -v /usr/bin/python3 || command -v python3))

lab_dir = $(firstword $(wildcard $(1)/$(2)-*))
LAB_NUMBERS := $(shell seq -w 1 $(LAB) 2>/dev/null | sed 's/^\([0-9]\)$$/0\1/')
LAB_NAME := $(notdir $(call lab_dir,solutions,$(LAB)))
tree_for = $(if $(filter $(1),$(LAB)),$(SOURCE),$(EARLIER))
LAB_DIRS := $(foreach n,$(LAB_NUMBERS),$(call lab_dir,$(call tree_for,$(n)),$(n)))

tag = $(subst /,_,$(patsubst %/,%,$(1)))
BUILD ?= build/lab$(LAB)-$(call tag,$(SOURCE))$(if $(filter-out $(SOURCE),$(EARLIER)),-earlier-$(call tag,$(EARLIER)))
IMAGE := $(BUILD)/lab$(LAB).img
ELF := $(BUILD)/lab$(LAB).elf

V ?= 0
Q := $(if $(filter 1,$(V)),,@)
CC := gcc
LD := ld
OBJCOPY := objcopy
INCLUDES = -Icommon/include -Igrader/harness $(foreach d,$(LAB_DIRS),-I$(d))
CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) $(INCLUDES) -DLAB=$(LAB)U
ASFLAGS := -g $(INCLUDES) -D__ASSEMBLER__
LDFLAGS := -nostdlib -static -no-pie -z max-page-size=4096 --no-warn-rwx-segments -z noexecstack

COMMON_SRC := $(wildcard common/boot/*.S common/kernel/*.c common/kernel/*.S common/vmx/*.c \
	common/vmx/*.S common/guest/*.c common/guest/*.S) $(wildcard grader/harness/*.c)
CHECK_SRC := grader/checks/probe.c $(foreach n,$(LAB_NUMBERS),$(wildcard grader/checks/lab$(n).c grader/checks/lab$(n)_*.c grader/checks/lab$(n)_*.S))
LAB_SRC := $(foreach d,$(LAB_DIRS),$(wildcard $(d)/*.c $(d)/*.S))
# Each object keeps its source's path under $(BUILD)/obj; sources outside the repo get /ext.
obj_of = $(BUILD)/obj/$(subst ..,__,$(patsubst /%,ext/%,$(1))).o
OBJS := $(foreach s,$(COMMON_SRC) $(CHECK_SRC) $(LAB_SRC),$(call obj_of,$(s)))
HEADERS := $(wildcard common/include/*.h grader/harness/*.h) $(foreach d,$(LAB_DIRS),$(wildcard $(d)/*.h))

.PHONY: all image run debug gdb grade test skeletons check-skeletons deps bochs bochs-gdb \
	probe clean help check-lab deps-ok
.DEFAULT_GOAL := image
all: image

check-lab:
	@test -n "$(LAB_NAME)" || { echo "make: there is no lab $(LAB) (labs: $(notdir $(wildcard solutions/[0-9][0-9]-*)))"; exit 2; }
	@for d in $(foreach n,$(LAB_NUMBERS),$(call tree_for,$(n))/$(notdir $(call lab_dir,solutions,$(n)))); do \
	  test -d $$d || { echo "make: $$d does not exist (SOURCE=$(SOURCE) EARLIER=$(EARLIER)); use EARLIER=solutions to take earlier labs from the reference"; exit 2; }; done

image: check-lab $(IMAGE)
	@echo "built $(IMAGE) (lab $(LAB) from $(SOURCE), earlier labs from $(EARLIER))"

define compile_rule
$(call obj_of,$(1)): $(1) $(HEADERS)
	@mkdir -p $$(dir $$@)
	@echo "  CC      $(1)"
	$(Q)$(if $(filter %.S,$(1)),$(CC) $(ASFLAGS) -c $$< -o $$@,$(CC) $(CFLAGS) -c $$< -o $$@)
endef
$(foreach s,$(COMMON_SRC) $(CHECK_SRC) $(LAB_SRC),$(eval $(call compile_rule,$(s))))

$(ELF): $(OBJS) common/boot/kernel.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(LDFLAGS) -T common/boot/kernel.ld -o $@ $(OBJS)

# A flat disk image padded to whole cylinders of 16 heads x 63 sectors.
$(IMAGE): $(ELF)
	$(Q)$(OBJCOPY) -O binary $< $@.tmp
	@size=$$(stat -c %s $@.tmp); cyl=516096; truncate -s $$(( (size + cyl - 1) / cyl * cyl )) $@.tmp
	@mv $@.tmp $@

run: deps-ok image
	@$(PYTHON_ANY) grader/run.py run --image $(IMAGE) --elf $(ELF) --lab $(LAB) $(if $(CHECK),--check $(CHECK))

debug: deps-ok image
	@$(PYTHON_ANY) grader/run.py debug --image $(IMAGE) --elf $(ELF) --lab $(LAB) $(if $(CHECK),--check $(CHECK))

gdb: deps-ok image
	@$(PYTHON_ANY) grader/run.py gdb --image $(IMAGE) --elf $(ELF) --lab $(LAB) $(if $(CHECK),--check $(CHECK))

probe: deps-ok
	@$(PYTHON_ANY) grader/run.py probe

grade: deps-ok check-lab
	@test -n "$(PYTHON)" || { echo "make: pytest is missing. Run 'make deps' as root, or: apt-get install python3-pytest"; exit 1; }
	@$(PYTHON) -m pytest -c grader/pytest.ini -q grader/grading --lab $(LAB) --source $(SOURCE) --earlier $(EARLIER) $(if $(SEED),--seed $(SEED))

# The project's own test run: warning-free builds, skeletons in sync, every reference solution
# at full marks, every untouched skeleton failing its own lab's checks with a marker ID.
test: deps-ok
	@test -n "$(PYTHON)" || { echo "make: pytest is missing. Run 'make deps' as root, or: apt-get install python3-pytest"; exit 1; }
	@$(PYTHON) -m pytest -c grader/pytest.ini grader/tests

skeletons:
	@for d in solutions/[0-9][0-9]-*; do $(PYTHON_ANY) grader/skeleton.py generate $$d labs/$$(basename $$d) || exit 1; done
	@echo "skeletons regenerated from solutions/"

check-skeletons:
	@for d in solutions/[0-9][0-9]-*; do $(PYTHON_ANY) grader/skeleton.py check $$d labs/$$(basename $$d) || exit 1; done
	@echo "skeletons are in sync with solutions/"

deps deps-ok:
	@sh grader/deps.sh

bochs:
	@grader/bochs.sh debugger

bochs-gdb:
	@grader/bochs.sh gdbstub

clean:
	rm -rf build

help:
	@sed -n '1,12p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: image debug gdb probe skeletons check-skeletons deps bochs bochs-gdb clean"
