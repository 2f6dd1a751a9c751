"""The list of labs (labs.toml at the top of the repository): the one place that names them."""
import dataclasses
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "labs.toml"


class LabError(Exception):
    """A lab number that names no available lab; the message lists the labs."""


@dataclasses.dataclass(frozen=True)
class Lab:
    number: str
    folder: str
    title: str
    files: tuple = ()
    api: tuple = ()
    features: tuple = ()
    handout: str = ""
    status: str = "planned"

    @property
    def available(self):
        return self.status == "available"


def _load():
    data = tomllib.loads(MANIFEST.read_text())
    labs = [Lab(**{k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()})
            for entry in data["lab"]]
    return labs, tuple(data["lab_headers"])


LABS, LAB_HEADERS = _load()


def available():
    return [lab for lab in LABS if lab.available]


def numbers():
    return [lab.number for lab in available()]


def lab(number):
    """The available lab named by `number` ("1", "01", ...); LabError says which labs exist."""
    text = str(number).strip()
    listing = ", ".join(f"{l.number} ({l.folder})" for l in available())
    if not text.isdigit():
        raise LabError(f"LAB={text!r} is not a lab number. The labs are: {listing}.")
    for entry in LABS:
        if int(entry.number) == int(text):
            if not entry.available:
                raise LabError(f"lab {entry.number} ({entry.title}) is planned, not available yet. "
                               f"The labs are: {listing}.")
            return entry
    raise LabError(f"there is no lab {text}. The labs are: {listing}.")


def chain(number):
    """Labs 01..number, in order."""
    last = lab(number)
    return [l for l in available() if int(l.number) <= int(last.number)]


def last():
    return available()[-1]
