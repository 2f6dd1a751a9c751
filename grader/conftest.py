"""pytest glue for `make test` (grader/tests): options, phase times, parallel runs, summaries."""
import collections
import concurrent.futures
import contextlib
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import bochs  # noqa: E402

SUMMARIES = []                          # (title, text) printed at the end of the run
PHASES = collections.OrderedDict()      # phase -> seconds spent in it
JOBS = os.cpu_count() or 2


@contextlib.contextmanager
def phase(name):
    """Adds the time spent inside to the phase's total (printed at the end)."""
    start = time.monotonic()
    try:
        yield
    finally:
        PHASES[name] = PHASES.get(name, 0.0) + time.monotonic() - start


def parallel(fn, items):
    """fn over items on every core (the work is Bochs runs and compilers: processes)."""
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        try:
            return list(pool.map(fn, items))
        except BaseException:
            bochs.kill_all()
            raise


def pytest_sessionstart(session):
    session.config._vmxlabs_start = time.monotonic()


def pytest_terminal_summary(terminalreporter, config):
    for title, text in SUMMARIES:
        terminalreporter.write_sep("=", title)
        terminalreporter.write_line(text)
    total = time.monotonic() - getattr(config, "_vmxlabs_start", time.monotonic())
    terminalreporter.write_sep("=", "time per phase")
    for name, seconds in PHASES.items():
        terminalreporter.write_line(f"  {name:<12} {seconds:6.1f} s")
    terminalreporter.write_line(f"  {'other':<12} {max(0.0, total - sum(PHASES.values())):6.1f} s")
    terminalreporter.write_line(f"  {'total':<12} {total:6.1f} s")
