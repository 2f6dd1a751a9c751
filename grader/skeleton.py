#!/usr/bin/env python3
"""Generate a lab's skeleton files from its solution files, or check they are in sync.

A solution file marks each exercise with a block:

        /* BEGIN 01-4 unused: v
         * SDM 25.11.5: what the SDM requires ...
         * Do: what to write.
         * Hint: where to look.
         */
        ... the reference code ...
        /* END 01-4 */

The skeleton keeps everything outside the blocks and turns each block into its comment,
headed "TODO 01-4", followed by (void) casts for the names after "unused:" and TODO("01-4"),
which stops the run with the marker's ID when reached.

    skeleton.py generate SOLUTION_DIR LAB_DIR    write LAB_DIR/<file> for each marked file
    skeleton.py check SOLUTION_DIR LAB_DIR       exit 1 if any skeleton differs from the generated one
    skeleton.py generate-all | check-all         the same for every available lab of labs.toml
"""
import pathlib
import re
import sys

BEGIN = re.compile(r"^(?P<indent>[ \t]*)/\* BEGIN (?P<id>\d\d-\d+)(?: unused: (?P<unused>[\w, ]+))?\s*$")
END = re.compile(r"^[ \t]*/\* END (?P<id>\d\d-\d+) \*/\s*$")


class MarkerError(Exception):
    pass


def skeleton_of(text, name):
    """Returns (skeleton text, list of marker IDs) for one solution file."""
    out, ids = [], []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if not m:
            if END.match(lines[i]):
                raise MarkerError(f"{name}:{i + 1}: END without BEGIN")
            out.append(lines[i])
            i += 1
            continue
        ident, indent = m["id"], m["indent"]
        if ident in ids:
            raise MarkerError(f"{name}:{i + 1}: marker {ident} appears twice")
        ids.append(ident)
        out.append(f"{indent}/* TODO {ident}\n")
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("*/"):
            out.append(lines[i])
            i += 1
        if i == len(lines):
            raise MarkerError(f"{name}: marker {ident}: its comment never ends")
        out.append(lines[i])
        for var in filter(None, (u.strip() for u in (m["unused"] or "").split(","))):
            out.append(f"{indent}(void){var};\n")
        out.append(f'{indent}TODO("{ident}");\n')
        i += 1
        while i < len(lines) and not END.match(lines[i]):
            if BEGIN.match(lines[i]):
                raise MarkerError(f"{name}:{i + 1}: marker {ident} is not closed before the next BEGIN")
            i += 1
        if i == len(lines):
            raise MarkerError(f"{name}: marker {ident} has no END")
        if END.match(lines[i])["id"] != ident:
            raise MarkerError(f"{name}:{i + 1}: END {END.match(lines[i])['id']} closes BEGIN {ident}")
        i += 1
    return "".join(out), ids


def marked_files(solution_dir):
    return sorted(p for p in pathlib.Path(solution_dir).iterdir() if p.suffix in (".c", ".h", ".S"))


def all_labs(mode):
    import manifest
    code = 0
    for lab in manifest.available():
        code |= main(["", mode, str(manifest.ROOT / "solutions" / lab.folder), str(manifest.ROOT / "labs" / lab.folder)])
    if code == 0:
        print("skeletons regenerated from solutions/" if mode == "generate" else "skeletons are in sync with solutions/")
    return code


def main(argv):
    if len(argv) == 2 and argv[1] in ("generate-all", "check-all"):
        return all_labs(argv[1][:-4])
    if len(argv) != 4 or argv[1] not in ("generate", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, solution_dir, lab_dir = argv[1], pathlib.Path(argv[2]), pathlib.Path(argv[3])
    stale = []
    try:
        for src in marked_files(solution_dir):
            text, _ = skeleton_of(src.read_text(), str(src))
            dst = lab_dir / src.name
            if mode == "generate":
                lab_dir.mkdir(parents=True, exist_ok=True)
                dst.write_text(text)
            elif not dst.exists() or dst.read_text() != text:
                stale.append(str(dst))
    except MarkerError as e:
        print(f"skeleton.py: {e}", file=sys.stderr)
        return 1
    if stale:
        print("skeleton.py: these skeletons differ from what their solutions generate:", file=sys.stderr)
        for s in stale:
            print(f"  {s}", file=sys.stderr)
        print("Fix: edit the solution, then run 'make skeletons' (never edit a skeleton by hand).",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
