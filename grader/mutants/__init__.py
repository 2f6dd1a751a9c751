"""Plausible bugs per lab (labNN.py), proven caught by `make test`. Instructor-only."""
import importlib
import pathlib

MUTANTS = []
for _path in sorted(pathlib.Path(__file__).parent.glob("lab[0-9][0-9].py")):
    MUTANTS += importlib.import_module(f"mutants.{_path.stem}").MUTANTS
from mutants.lab01 import LOOPING  # noqa: E402,F401
