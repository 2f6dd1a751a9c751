#!/usr/bin/env python3
"""Writes a sample class for `make grade-batch`: N submissions of one lab, half copies of the
reference and half the reference with one of the lab's mutants each (grader/mutants/), so a
batch's speed and its reports can be measured on submissions whose scores are known.

    batch_sample.py --lab 04 --count 100 DEST     DEST must not exist or be empty
"""
import argparse
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import manifest  # noqa: E402
from mutants import MUTANTS  # noqa: E402


def write_sample(lab, count, dest):
    entry = manifest.lab(lab)
    folder, lab = entry.folder, entry.number
    mutants = [m for m in MUTANTS if m[1] == lab]
    if not mutants:
        raise SystemExit(f"batch_sample: lab {lab} has no mutants in grader/mutants/")
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise SystemExit(f"batch_sample: {dest} is not empty")
    for i in range(count):
        mutant = mutants[(i // 2) % len(mutants)] if i % 2 else None
        name = f"{i + 1:03d}-{mutant[0] if mutant else 'reference'}"
        lab_dir = dest / name / "labs" / folder
        shutil.copytree(manifest.ROOT / "solutions" / folder, lab_dir)
        if mutant:
            path = lab_dir / mutant[2]
            text = path.read_text()
            if text.count(mutant[3]) != 1:
                raise SystemExit(f"batch_sample: mutant {mutant[0]}: its text is not in {mutant[2]} once")
            path.write_text(text.replace(mutant[3], mutant[4]))
    return count


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("dest")
    args = p.parse_args(argv)
    n = write_sample(args.lab, args.count, pathlib.Path(args.dest))
    print(f"batch_sample: {n} lab {args.lab} submissions in {args.dest} "
          f"(odd numbers: the reference; even: one mutant each)")


if __name__ == "__main__":
    main()
