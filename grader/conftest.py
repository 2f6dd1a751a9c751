"""pytest glue shared by `make grade` (grader/grading) and `make test` (grader/tests)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import gradelib  # noqa: E402

SUMMARIES = []   # (title, text) printed at the end of the run


def pytest_addoption(parser):
    parser.addoption("--lab", default="01", help="grade labs 01..LAB")
    parser.addoption("--source", default="labs", help="tree for lab LAB: labs, solutions or a path")
    parser.addoption("--earlier", default=None, help="tree for earlier labs (default: --source)")
    parser.addoption("--seed", default="vmx-labs", help="seed for the per-check nonces")
    parser.addoption("--timeout", type=float, default=gradelib.bochs.DEFAULT_TIMEOUT,
                     help="seconds one Bochs run may take")


def pytest_terminal_summary(terminalreporter):
    for title, text in SUMMARIES:
        terminalreporter.write_sep("=", title)
        terminalreporter.write_line(text)
