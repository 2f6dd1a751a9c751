"""The constants C and Python share, read from their one source: grader/harness/shared.h."""
import pathlib
import re

HEADER = pathlib.Path(__file__).resolve().parent / "harness" / "shared.h"
SHARED = {name: int(value, 0) for name, value in
          re.findall(r"^#define (\w+) (0x[0-9a-fA-F]+|\d+)\s*$", HEADER.read_text(), re.M)}
