"""The constants C and Python share, read from their one source: grader/harness/shared.h."""
import pathlib
import re

HEADER = pathlib.Path(__file__).resolve().parent / "harness" / "shared.h"
SHARED = {name: int(value, 0) for name, value in
          re.findall(r"^#define (\w+) (0x[0-9a-fA-F]+|\d+)\s*$", HEADER.read_text(), re.M)}


def _number(text, known):
    """The value of a C constant expression made of numbers, BIT(n), shifts, | and known names."""
    expr = re.sub(r"/\*.*?\*/|//.*$", "", text).strip()
    if re.fullmatch(r'"[^"\\]*"', expr):
        return expr[1:-1]
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)(?:U|UL|ULL|L|LL)\b", r"\1", expr)
    expr = re.sub(r"\((?:u8|u16|u32|u64|unsigned long|unsigned)\)", "", expr)
    if not re.fullmatch(r"[\w\s()|&^~<>+*-]*", expr):
        return None
    try:
        return eval(expr, {"__builtins__": {}, "BIT": lambda n: 1 << n}, known)  # noqa: S307
    except Exception:   # noqa: BLE001 (not a plain constant: skipped)
        return None


def c_constants(root=HEADER.parent.parent.parent):
    """Every object-like #define and enum constant with a plain value in the project's headers
    (common/include, the harness, grader/checks and the labs' labNN.h): the one source of the
    numbers and strings the C guests and the Python expectations share."""
    known = {}
    paths = [*sorted((root / "common" / "include").glob("*.h")), *sorted((root / "grader" / "harness").glob("*.h")),
             *sorted((root / "grader" / "checks").glob("*.h")), *sorted((root / "labs").glob("*/lab[0-9][0-9].h"))]
    for path in paths:
        text = path.read_text()
        for name, value in re.findall(r"^#define ([A-Z_][A-Z0-9_]*)[ \t]+(.+?)\s*$", text, re.M):
            v = _number(value, known)
            if v is not None:
                known[name] = v
        for body in re.findall(r"\benum\b[^{;]*\{([^}]*)\}", text):
            for name, value in re.findall(r"\b([A-Z_][A-Z0-9_]*)\s*=\s*([^,\n]+)", body):
                v = _number(value, known)
                if v is not None:
                    known[name] = v
    return known


C = c_constants()
