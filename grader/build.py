#!/usr/bin/env python3
"""Builds a lab image: the grader's own code (common/, the harness, the checks) and the reference
from a content-addressed object cache, and every other lab tree sealed:

- only the files labs.toml lists for each lab are taken, as regular files of bounded size;
- each is scanned: it may include only the project's lab headers, and nothing that reads a host
  file (absolute paths, .incbin, .include, #include_next, #embed, ...) is accepted;
- it is compiled in a fresh folder, inside a bubblewrap sandbox that sees only that folder, the
  lab headers and the compiler, every time (no timestamps involved);
- its object may reference only the lab API (the library in common/), and contain only code,
  data and its own lab's setup/finish hooks (no check tables, no grader sections).

    build.py --lab NN [--source TREE] [--earlier TREE] [--out DIR] [--werror]
"""
import argparse
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import manifest  # noqa: E402

ROOT = manifest.ROOT
CACHE = ROOT / "build" / "cache"
CC, LD, OBJCOPY = "gcc", "ld", "objcopy"
CFLAGS = ["-std=gnu11", "-O2", "-g", "-ffreestanding", "-fno-pic", "-fno-pie",
          "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-mno-red-zone",
          "-mgeneral-regs-only", "-mcmodel=small", "-Wall", "-Wextra"]
ASFLAGS = ["-g", "-D__ASSEMBLER__"]
LDFLAGS = ["-nostdlib", "-static", "-no-pie", "-z", "max-page-size=4096",
           "--no-warn-rwx-segments", "-z", "noexecstack"]
CYLINDER_BYTES = 16 * 63 * 512
MAX_SOURCE_BYTES = 256 * 1024
MAX_MESSAGE = 6000
JOBS = os.cpu_count() or 2
# Library symbols a lab file may not use: the grader's parameter sector and the kernel's entry
# points belong to the harness.
NOT_LAB_API = {"boot_params", "boot_sector_params", "boot_params_take", "kmain", "harness_main",
               "guest_program_to_run", "_start", "exit_reserve"}


class BuildError(Exception):
    """The image cannot be built; the message names the cause and the fix."""


@dataclasses.dataclass
class Image:
    image: pathlib.Path
    elf: pathlib.Path
    notes: list


def rel(path):
    try:
        return str(pathlib.Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def tree_path(tree):
    """labs | solutions | a path (relative to the repository or absolute)."""
    p = pathlib.Path(tree)
    return (p if p.is_absolute() else (ROOT / p)).resolve()


def is_reference(tree):
    return tree_path(tree) == (ROOT / "solutions").resolve()


def grader_sources(chain):
    srcs = [*sorted((ROOT / "common").glob("*/*.S")), *sorted((ROOT / "common").glob("*/*.c")),
            *sorted((ROOT / "grader" / "harness").glob("*.c")), ROOT / "grader" / "checks" / "probe.c"]
    folders = [ROOT / "grader" / "checks"] + ([ROOT / "grader" / "hidden" / "checks"] if hidden() else [])
    for lab in chain:
        srcs += sorted(p for folder in folders for p in folder.glob(f"lab{lab.number}*")
                       if p.suffix in (".c", ".S"))
    return srcs


def hidden():
    """GRADE_HIDDEN=1 (make grade HIDDEN=1, make grade-batch HIDDEN=1): the instructors' hidden
    checks of grader/hidden/ are built and graded too."""
    return os.environ.get("GRADE_HIDDEN") == "1" and (ROOT / "grader" / "hidden").is_dir()


def api_dirs(chain):
    """The folders of the lab headers: always the grader's own copies (labs/<folder>)."""
    return [ROOT / "labs" / lab.folder for lab in chain]


def headers_digest(dirs):
    h = hashlib.sha256()
    for d in dirs:
        for p in sorted(pathlib.Path(d).glob("*.h")):
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def run_tool(args, cwd=ROOT, timeout=120):
    try:
        return subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", timeout=timeout)
    except FileNotFoundError:
        raise BuildError(f"{args[0]} is missing. Run 'make deps' as root, or: apt-get install gcc binutils")
    except subprocess.TimeoutExpired:
        raise BuildError(f"{' '.join(args[:2])} ... took longer than {timeout} s and was stopped")


def clipped(text):
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "\n... (output cut)"


# ---- the grader's own code and the reference: cached by content ----

def cached_object(src, includes, digest, werror):
    """Compiles src (trusted) into the cache unless an object of the same content is there."""
    flags = (ASFLAGS if src.suffix == ".S" else CFLAGS + (["-Werror"] if werror else []))
    incs = [f"-I{rel(d)}" for d in includes]
    key = hashlib.sha256("\0".join([src.name, *flags, *incs, digest]).encode() + src.read_bytes()).hexdigest()
    obj = CACHE / f"{key[:40]}.o"
    if obj.exists():
        return obj
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / f"{key[:40]}.{os.getpid()}.{id(src)}.tmp"
    proc = run_tool([CC, *flags, f"-fdebug-prefix-map={ROOT}=.", *incs, "-c", rel(src), "-o", str(tmp)])
    if proc.returncode != 0 or proc.stdout.strip() and werror:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"{rel(src)} does not compile:\n{clipped(proc.stdout)}")
    os.replace(tmp, obj)
    return obj


def compile_trusted(srcs, includes, werror):
    """Every header a trusted source may see is in the cache key: the include folders and the
    folders of the sources themselves (e.g. grader/checks/labNN_shared.h)."""
    digest = headers_digest([*includes, *sorted({s.parent for s in srcs})])
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        return list(pool.map(lambda s: cached_object(s, includes, digest, werror), srcs))


# ---- a submission: sealed ----

HASH = r"(?:#|%:|\?\?=)"    # a directive starts with #, or its digraph or trigraph
INCLUDE = re.compile(rf'^\s*{HASH}\s*include\s*(?:"([^"/\\]+)"|<([^>/\\]+)>)\s*$')
FORBIDDEN = [
    (re.compile(rf"^\s*{HASH}\s*(include_next|import|embed|line|pragma\s+GCC\s+dependency)\b"),
     "reads or names a file of the machine"),
    (re.compile(r"incbin|\.include\b|__has_include", re.IGNORECASE),
     "assembler and preprocessor file access (.incbin, .include, ...) is not allowed"),
    (re.compile(r"_Pragma|\bpragma\b"), "pragmas are not allowed in lab files"),
    (re.compile(r'"\s*/[^"*/]'), "absolute paths are not allowed in lab files"),
]


def splice_lines(text):
    """Joins backslash-continued lines as the preprocessor does, keeping later line numbers."""
    out = []
    for logical in re.split(r"(?<!\\)\n", text):
        pieces = logical.split("\\\n")
        out.append("".join(pieces) + "\n" * (len(pieces) - 1))
    return "\n".join(out)


def strip_comments(text):
    """The text with comments blanked out (line numbers kept); strings stay as they are."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def scan(name, text, allowed):
    """Problems with one lab file, each naming file and line."""
    problems = []
    for number, line in enumerate(strip_comments(splice_lines(text)).splitlines(), 1):
        if re.match(rf"^\s*{HASH}\s*include\b", line):
            m = INCLUDE.match(line)
            header = m and (m.group(1) or m.group(2))
            if header not in allowed:
                what = f'"{header}"' if header else "of a path or a computed name"
                problems.append(f"{name}:{number}: #include {what} is not allowed: a lab file may "
                                f"include only the project's lab headers ({', '.join(sorted(allowed))})")
            continue
        for pattern, why in FORBIDDEN:
            if pattern.search(line):
                problems.append(f"{name}:{number}: {why}")
                break
    return problems


def take_files(lab, tree, dest):
    """Copies the lab's listed files from tree into dest; returns notes about other files."""
    folder = tree_path(tree) / lab.folder
    if not folder.is_dir():
        raise BuildError(f"{rel(folder)} does not exist: lab {lab.number} is taken from {tree}. "
                         "Point SOURCE (or EARLIER, for labs before LAB) at a folder that holds "
                         f"{lab.folder}/, or use EARLIER=solutions for the reference's earlier labs.")
    problems = []
    for name in lab.files:
        path = folder / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            problems.append(f"{lab.folder}/{name} is missing: every file labs.toml lists for lab {lab.number} must be handed in")
            continue
        if os.path.islink(path):
            problems.append(f"{lab.folder}/{name} is a symbolic link: hand in the file itself")
        elif not os.path.isfile(path):
            problems.append(f"{lab.folder}/{name} is not a regular file")
        elif st.st_size > MAX_SOURCE_BYTES:
            problems.append(f"{lab.folder}/{name} is {st.st_size} bytes, more than the {MAX_SOURCE_BYTES} allowed")
        else:
            (dest / lab.folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / lab.folder / name)
    if problems:
        raise BuildError("the submission cannot be graded:\n  " + "\n  ".join(problems))
    ignored = sorted(p.name for p in folder.iterdir() if p.name not in lab.files and p.name not in lab.api
                     and p.name not in ("README.md", "answers.md"))
    return [f"ignored (not listed for lab {lab.number} in labs.toml): {lab.folder}/{', '.join(ignored)}"] if ignored else []


def sandbox_prefix(stage, out):
    """bwrap arguments that let the compiler see /usr, the staging folder and the output only."""
    mode = os.environ.get("VMXLABS_SANDBOX", "bwrap")
    if mode == "none":
        return None
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise BuildError("bubblewrap is missing: lab files from a submission are compiled in a "
                         "sandbox. Run 'make deps' as root, or: apt-get install bubblewrap "
                         "(VMXLABS_SANDBOX=none compiles without it, for your own code only)")
    args = [bwrap]
    for d in ("/usr/bin", "/usr/lib", "/usr/lib64", "/usr/libexec"):
        if os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.path.realpath(f"/{link}")
        if os.path.islink(f"/{link}") and target.startswith("/usr/"):
            args += ["--symlink", target[1:], f"/{link}"]
    return args + ["--ro-bind", str(stage), "/sub", "--bind", str(out), "/out", "--tmpfs", "/tmp",
                   "--dev", "/dev", "--unshare-all", "--die-with-parent",
                   "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin", "--chdir", "/sub"]


def compile_sealed(chain_labs, stage, out, werror):
    """Compiles every staged lab file; returns the objects. Messages name labs/<folder>/<file>."""
    prefix = sandbox_prefix(stage, out)
    jobs = []
    for lab in chain_labs:
        for name in lab.files:
            src = f"labs/{lab.folder}/{name}"
            obj = f"{lab.folder}-{name}.o"
            cmd = [CC, *CFLAGS, *(["-Werror"] if werror else []), "-fdebug-prefix-map=/sub=.",
                   f"-fdebug-prefix-map={stage}=.", "-Iinclude", "-c", src]
            if prefix:
                jobs.append((src, out / obj, prefix + cmd + ["-o", f"/out/{obj}"], None))
            else:
                jobs.append((src, out / obj, cmd + ["-o", str(out / obj)], stage))

    def one(job):
        src, obj, cmd, cwd = job
        proc = run_tool(cmd, cwd=cwd or stage, timeout=60)
        if proc.returncode != 0 or not obj.exists():
            if prefix and "bwrap:" in proc.stdout:
                raise BuildError(f"the compiler sandbox (bubblewrap) does not work here: {proc.stdout.strip()}\n"
                                 "VMXLABS_SANDBOX=none compiles without it (only for code you trust)")
            raise BuildError(f"{src} does not compile:\n{clipped(proc.stdout)}\nFix the compiler errors above, then try again.")
        if werror and proc.stdout.strip():
            raise BuildError(f"{src} compiles with warnings:\n{clipped(proc.stdout)}")
        return obj
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        return list(pool.map(one, jobs))


def stage_submission(chain, chain_labs, trees, work):
    """The sandbox's view: include/ (lab headers) and labs/<folder>/<file> (the submission)."""
    stage = work / "sub"
    include = stage / "include"
    include.mkdir(parents=True)
    allowed = set(manifest.LAB_HEADERS)
    for name in manifest.LAB_HEADERS:
        shutil.copyfile(ROOT / "common" / "include" / name, include / name)
    for d in api_dirs(chain):
        for h in d.glob("*.h"):
            shutil.copyfile(h, include / h.name)
            allowed.add(h.name)
    notes, problems = [], []
    for lab in chain_labs:
        notes += take_files(lab, trees[lab.number], stage / "labs")
        for name in lab.files:
            path = stage / "labs" / lab.folder / name
            problems += scan(f"{lab.folder}/{name}", path.read_text(errors="replace"), allowed)
    if problems:
        raise BuildError("the submission uses what lab files may not:\n  " + "\n  ".join(problems))
    return stage, notes


# ---- checks on the objects of a submission ----

ALLOWED_SECTION = re.compile(r"^(\.rela)?(\.text|\.data|\.rodata|\.bss)(\.[\w.]+)?$|^(\.rela)?\.debug_\w+$|"
                             r"^\.(comment|symtab|strtab|shstrtab|group)$|^\.note\.(GNU-stack|gnu\.property)$")


def nm(objs, *flags):
    """{object path: set of symbol names} from one nm call."""
    out = run_tool(["nm", "-P", "-A", *flags, *map(str, objs)]).stdout
    found = {str(o): set() for o in objs}
    for line in out.splitlines():
        where, _, rest = line.partition(": ")
        if rest.split():
            found.setdefault(where, set()).add(rest.split()[0])
    return found


def sections(objs):
    """{object path: section names} from one readelf call."""
    out = run_tool(["readelf", "-S", "-W", *map(str, objs)]).stdout
    found, current = {}, None
    for line in out.splitlines():
        if line.startswith("File: "):
            current = found.setdefault(line[6:].strip(), [])
        m = re.match(r"^\s*\[\s*\d+\]\s+(\S+)", line)
        if m and current is not None:
            current.append(m.group(1))
    if len(objs) == 1:
        found = {str(objs[0]): re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.M)}
    return found


def check_objects(sub_objs, lab_of, library_objs, grader_objs):
    """Sections, referenced and defined symbols of the submission's objects: the lab API only,
    and no name of the grader's (nor the linker script's __ names) defined again."""
    api = set().union(*nm(library_objs, "-g", "--defined-only").values()) - NOT_LAB_API
    defined = nm(sub_objs, "-g", "--defined-only")
    api |= set().union(*defined.values())
    reserved = set().union(*nm(grader_objs, "-g", "--defined-only").values())
    undefined, found_sections = nm(sub_objs, "-u"), sections(sub_objs)
    problems = []
    for obj in sub_objs:
        name = f"{lab_of[obj].folder}/{obj.name[len(lab_of[obj].folder) + 1:-2]}"
        for sym in sorted(s for s in defined.get(str(obj), set()) if s in reserved or s.startswith("__")):
            problems.append(f"{name}: defines '{sym}', a name that belongs to the grader or the linker script")
    for obj in sub_objs:
        lab, name = lab_of[obj], f"{lab_of[obj].folder}/{obj.name[len(lab_of[obj].folder) + 1:-2]}"
        own_hooks = re.compile(rf"^(\.rela)?\.lab_(setup|finish)\.{lab.number}$")
        for s in found_sections.get(str(obj), []):
            if s != "NULL" and not ALLOWED_SECTION.match(s) and not own_hooks.match(s):
                problems.append(f"{name}: section {s} is not allowed in a lab file (lab files hold "
                                f"code, data and LAB_SETUP/LAB_FINISH({lab.number}, ...) hooks)")
        for sym in sorted(undefined.get(str(obj), set()) - api):
            problems.append(f"{name}: uses '{sym}', which is not part of the lab API "
                            "(common/include and the labs' labNN.h)")
    if problems:
        raise BuildError("the submission uses what lab files may not:\n  " + "\n  ".join(problems))


# ---- the image ----

def link(objs, out, lab):
    elf, image = out / f"lab{lab}.elf", out / f"lab{lab}.img"
    proc = run_tool([LD, *LDFLAGS, "-T", "common/boot/kernel.ld", "-o", str(elf), *map(str, objs)])
    if proc.returncode != 0:
        raise BuildError(f"the lab {lab} image does not link:\n{clipped(proc.stdout)}\n"
                         "Fix the errors above (an undefined reference names a function a lab must define).")
    proc = run_tool([OBJCOPY, "-O", "binary", str(elf), str(image)])
    if proc.returncode != 0:
        raise BuildError(f"objcopy failed:\n{clipped(proc.stdout)}")
    size = image.stat().st_size
    os.truncate(image, (size + CYLINDER_BYTES - 1) // CYLINDER_BYTES * CYLINDER_BYTES)
    return image, elf


def layout_padding(layout_seed, out):
    """Two objects of padding (code, read-only data, data, bss) whose sizes follow from the seed:
    one between the library and the harness, one before the labs' code. Without the seed, the
    distance from a lab's code or data (or from printf) to the harness's functions and variables
    is unknown, so a submission cannot reach them by address."""
    digest = hashlib.sha256(f"layout:{layout_seed}".encode()).digest()
    pads = []
    CACHE.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        cached = CACHE / f"pad-{digest.hex()[:24]}-{i}.o"
        if cached.exists():
            pads.append(cached)
            continue
        size = lambda k, limit: 16 * (1 + int.from_bytes(digest[8 * i + 2 * k:8 * i + 2 * k + 2], "little") % limit)
        src = out / f"pad{i}.S"
        src.write_text(f'\t.section .text.layout_pad{i},"ax",@progbits\n\t.skip {size(0, 2048)}, 0xcc\n'
                       f'\t.section .rodata.layout_pad{i},"a",@progbits\n\t.skip {size(1, 256)}\n'
                       f'\t.section .data.layout_pad{i},"aw",@progbits\n\t.skip {size(2, 256)}\n'
                       f'\t.section .bss.layout_pad{i},"aw",@nobits\n\t.skip {size(3, 256)}\n')
        proc = run_tool([CC, *ASFLAGS, "-c", str(src), "-o", str(src.with_suffix(".o"))])
        if proc.returncode != 0:
            raise BuildError(f"layout padding does not assemble:\n{clipped(proc.stdout)}")
        tmp = CACHE / f"{cached.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        shutil.copyfile(src.with_suffix(".o"), tmp)     # out may be on another file system (/dev/shm)
        os.replace(tmp, cached)
        pads.append(cached)
    return pads


# ---- compile_commands.json, for editors (clangd, VS Code) ----

COMPILE_DB = ROOT / "compile_commands.json"


def compile_entries(chain, trees, sources, includes, reference, submitted, werror):
    """One entry per C or assembler file of the image, with the flags it is compiled with. A
    sealed lab file is listed at its real path (labs/<folder>/<file>, or the SOURCE tree's), with
    the repository's own header folders in place of the sandbox's include/ copy of them."""
    werr = ["-Werror"] if werror else []
    sealed = [ROOT / "common" / "include", *api_dirs(chain)]   # what the sandbox's include/ holds
    entries = []

    def add(src, flags, dirs):
        src = pathlib.Path(src).resolve()
        entries.append({"directory": str(ROOT), "file": str(src),
                        "arguments": [CC, *flags, *[f"-I{d}" for d in dirs], "-c", str(src),
                                      "-o", f"{src.stem}.o"]})
    for src in sources:
        add(src, ASFLAGS if src.suffix == ".S" else CFLAGS + werr, includes)
    for lab in reference + submitted:
        for name in lab.files:
            add(tree_path(trees[lab.number]) / lab.folder / name, CFLAGS + werr,
                includes if lab in reference else sealed)
    return entries


def write_compile_db(entries):
    """Replaces compile_commands.json at the repository's root in one step (no half-written file
    when two builds finish at once)."""
    tmp = COMPILE_DB.with_name(f".compile_commands.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries, indent=1) + "\n")
    os.replace(tmp, COMPILE_DB)


def build_image(lab, source="labs", earlier=None, out=None, werror=False, trusted=False,
                layout_seed="vmx-labs", extra=(), compile_db=False):
    """Builds the image of `lab` with lab `lab` from `source` and earlier labs from `earlier`.
    Trees other than solutions/ are sealed, unless `trusted` (the project's own variants of the
    reference, e.g. its mutants, which then share the object cache). `extra`: more of the
    grader's own sources, linked with the harness (make bench's grader/bench/). `compile_db`:
    also write compile_commands.json for this image (make image, make run, make grade)."""
    chain = manifest.chain(lab)
    lab = chain[-1].number
    earlier = earlier or source
    trees = {l.number: (source if l.number == lab else earlier) for l in chain}
    (ROOT / "build").mkdir(exist_ok=True)
    out = pathlib.Path(out or tempfile.mkdtemp(prefix=f"lab{lab}-", dir=ROOT / "build")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    includes = [ROOT / "common" / "include", ROOT / "grader" / "harness", *api_dirs(chain)]
    sources = grader_sources(chain) + [pathlib.Path(e) for e in extra]
    library = compile_trusted(sources, includes, werror)
    reference = [l for l in chain if trusted or is_reference(trees[l.number])]
    ref_objs = compile_trusted([tree_path(trees[l.number]) / l.folder / f for l in reference for f in l.files],
                               includes, werror)
    submitted = [l for l in chain if l not in reference]
    if compile_db:
        write_compile_db(compile_entries(chain, trees, sources, includes, reference, submitted, werror))
    sub_objs, notes = [], []
    if submitted:
        work = out / "sealed"
        shutil.rmtree(work, ignore_errors=True)
        (work / "obj").mkdir(parents=True)
        stage, notes = stage_submission(chain, submitted, trees, work)
        sub_objs = compile_sealed(submitted, stage, work / "obj", werror)
        lab_of = {o: next(l for l in submitted if o.name.startswith(l.folder + "-")) for o in sub_objs}
        lib_only = [o for o, s in zip(library, sources) if "grader" not in s.parts]
        check_objects(sub_objs, lab_of, lib_only + ref_objs, library)
    pads = layout_padding(layout_seed, out)
    common = [o for o, s in zip(library, sources) if "grader" not in s.parts]
    grader = [o for o in library if o not in common]
    image, elf = link(common + pads[:1] + grader + pads[1:] + ref_objs + sub_objs, out, lab)
    import gradelib  # the pairing of C checks and expectations
    problems = gradelib.unpaired_checks(elf, lab)
    if problems:
        raise BuildError("the checks of this grader do not pair up:\n  " + "\n  ".join(problems))
    return Image(image, elf, notes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", default="")
    p.add_argument("--source", default="labs")
    p.add_argument("--earlier", default="")
    p.add_argument("--out")
    p.add_argument("--werror", action="store_true")
    a = p.parse_args(argv)
    try:
        built = build_image(a.lab or manifest.last().number, a.source, a.earlier or None,
                            a.out and pathlib.Path(a.out), a.werror, compile_db=True)
    except (BuildError, manifest.LabError) as e:
        print(f"build: {e}", file=sys.stderr)
        return 2
    for note in built.notes:
        print(f"build: {note}")
    print(f"built {rel(built.image)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
