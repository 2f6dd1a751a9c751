"""Booting an image in Bochs: the pinned binary, a generated bochsrc, one private copy of the
image per run, a deadline, and the two logs (serial console and Bochs's own log)."""
import dataclasses
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import tempfile
import time

from shared import SHARED

ROOT = pathlib.Path(__file__).resolve().parent.parent
CPU_MODEL = "corei7_skylake_x"   # has every VMX feature the ten labs use (see `make probe`)
IPS = 1_000_000                  # instructions per emulated second: fixed, so runs repeat exactly;
                                 # low, so the BIOS and the serial port cost few instructions
TIME0 = 946684800                # the emulated wall clock at power-on (2000-01-01)
MEGS = 128
CYLINDER_BYTES = 16 * 63 * 512
PARAMS_OFFSET = SHARED["PARAMS_SECTOR_OFFSET"]   # struct boot_params (common/include/params.h)
PARAMS_MAGIC = b"VMXPARAM"
DEFAULT_TIMEOUT = float(os.environ.get("GRADE_TIMEOUT", "10"))   # a correct run needs < 0.5 s
# Per run: the serial console, Bochs's stdout (port 0xE9) and bochs.log are streamed to disk and
# the run is stopped when one of them grows past its cap.
OUTPUT_CAPS = {"serial.txt": 1 << 20, "bochs.out": 512 << 10, "bochs.log": 16 << 20}
BIOS = "/usr/share/bochs/BIOS-bochs-latest"
VGABIOS = "/usr/share/vgabios/vgabios.bin"


class SetupError(Exception):
    """Something the machine lacks; the message names the cause and the fix."""


def bochs_binary(flavour="debugger"):
    """The pinned Bochs (built on first use by grader/bochs.sh), or $BOCHS."""
    for path, what in ((BIOS, "bochsbios"), (VGABIOS, "vgabios")):
        if not os.path.exists(path):
            raise SetupError(f"{path} is missing. Run 'make deps' as root, or: apt-get install {what}")
    proc = subprocess.run([str(ROOT / "grader" / "bochs.sh"), flavour], stdout=subprocess.PIPE,
                          stderr=None, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SetupError("no usable Bochs: grader/bochs.sh failed (its messages are above)")
    return proc.stdout.strip().splitlines()[-1]


def bochs_version(binary):
    """The version from Bochs's banner, e.g. '3.0'."""
    try:
        out = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"cannot run Bochs at {binary}: {e}")
    for line in out.splitlines():
        if "Bochs x86 Emulator" in line:
            return line.split("Emulator", 1)[1].strip().split()[0]
    return "unknown"


BOOT_VERBOSE = 1   # the boot flags of common/include/params.h
BOOT_TRACE = 2


def write_params(image, check, nonce, flags=0, lab=0):
    """Writes the check name, nonce, lab and flags into the image's parameter sector."""
    with open(image, "r+b") as f:
        f.seek(PARAMS_OFFSET)
        if f.read(8) != PARAMS_MAGIC:
            raise SetupError(f"{image} has no parameter sector: is it an image built by this Makefile?")
        name = check.encode()
        if len(name) >= SHARED["PARAMS_CHECK_SIZE"]:
            raise ValueError(f"check name too long: {check}")
        f.seek(PARAMS_OFFSET + SHARED["PARAMS_CHECK_OFFSET"])
        f.write(name.ljust(SHARED["PARAMS_CHECK_SIZE"], b"\0"))
        f.seek(PARAMS_OFFSET + SHARED["PARAMS_NONCE_OFFSET"])
        f.write(struct.pack("<Q", nonce))
        f.seek(PARAMS_OFFSET + SHARED["PARAMS_LAB_OFFSET"])
        f.write(struct.pack("<I", int(lab)))
        f.seek(PARAMS_OFFSET + SHARED["PARAMS_FLAGS_OFFSET"])
        f.write(struct.pack("<I", flags))


def bochsrc(disk, serial, log, cylinders, *, gdb_port=None, magic_break=False):
    lines = [
        f"megs: {MEGS}",
        f"cpu: model={CPU_MODEL}, count=1, ips={IPS}, reset_on_triple_fault=0, ignore_bad_msrs=0",
        f"clock: sync=none, time0={TIME0}",
        f"romimage: file={BIOS}, options=fastboot",
        f"vgaromimage: file={VGABIOS}",
        "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14",
        f"ata0-master: type=disk, path={disk}, mode=flat, cylinders={cylinders}, heads=16, spt=63",
        "boot: disk",
        f"com1: enabled=1, mode=file, dev={serial}",
        "port_e9_hack: enabled=1",
        f"log: {log}",
        "panic: action=fatal",
        "error: action=report",
        # nogui=ignore: the build's once-a-second "ips =" line is written from a SIGALRM handler,
        # which deadlocks (a futex wait, forever) when it interrupts a write to bochs.log; a run
        # longer than a second (make bench, a loaded machine) could hang.
        "info: action=report, nogui=ignore",
        "debug: action=ignore, cpu0=report",
        "display_library: nogui",
    ]
    if magic_break:
        lines.append("magic_break: enabled=1")
    if gdb_port:
        lines.append(f"gdbstub: enabled=1, port={gdb_port}, text_base=0, data_base=0, bss_base=0")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class Run:
    check: str
    nonce: int
    serial: str
    bochs_log: str
    stdout: str
    timed_out: bool
    seconds: float
    workdir: pathlib.Path
    capped: str = ""        # the output that reached its cap, if any


def prepare(image, workdir, check, nonce, flags=0, lab=0, **rc_options):
    """Copies the image into workdir, writes parameters and a bochsrc; returns the rc path."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    disk = workdir / "disk.img"
    shutil.copyfile(image, disk)
    size = disk.stat().st_size
    if size % CYLINDER_BYTES:
        raise SetupError(f"{image}: size {size} is not a whole number of cylinders; rebuild it with make")
    write_params(disk, check, nonce, flags, lab)
    rc = workdir / "bochsrc"
    rc.write_text(bochsrc(disk.name, "serial.txt", "bochs.log", size // CYLINDER_BYTES, **rc_options))
    for old in ("serial.txt", "bochs.log"):
        (workdir / old).unlink(missing_ok=True)
    return rc


def bochs_env():
    """Bochs's environment: glibc backs its large allocations (the instruction cache, guest
    memory) with huge pages where the kernel allows it, a third of the page faults of a run."""
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), "glibc.malloc.hugetlb=1"]))
    return env


SCRATCH_MIN_FREE = 1 << 30


def scratch_dir(prefix, fallback):
    """A fresh folder for a grade's builds and Bochs runs: in /dev/shm when it is a writable
    tmpfs with room (Bochs writes its log a line at a time; in memory that costs a third of the
    system time of a grade), else in `fallback`. The caller removes it."""
    shm = pathlib.Path("/dev/shm")
    try:
        st = os.statvfs(shm)
        if shm.is_dir() and os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize >= SCRATCH_MIN_FREE:
            return pathlib.Path(tempfile.mkdtemp(prefix=f"vmxlabs-{prefix}", dir=shm))
    except OSError:
        pass
    fallback.mkdir(parents=True, exist_ok=True)
    return pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=fallback))


RUNNING = set()   # Bochs processes alive now: kill_all() ends them on an interrupt


def kill_all():
    """Kills every Bochs this process started (its whole process group)."""
    for proc in list(RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def watch(proc, workdir, timeout, on_tick=None):
    """Waits for Bochs, stopping it at the deadline or when an output reaches its cap; calls
    on_tick() while it waits (make run shows the console as it grows)."""
    start, timed_out, capped = time.monotonic(), False, ""
    while proc.poll() is None:
        if on_tick:
            on_tick()
        for name, cap in OUTPUT_CAPS.items():
            path = workdir / name
            if path.exists() and path.stat().st_size > cap:
                capped = name
        if capped or time.monotonic() - start > timeout:
            timed_out = not capped
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        try:
            proc.wait(timeout=0.02)     # returns as soon as Bochs ends
        except subprocess.TimeoutExpired:
            pass
    return timed_out, capped, time.monotonic() - start


def read_capped(path):
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        return f.read(OUTPUT_CAPS.get(path.name, 2 << 20)).decode(errors="replace")


def boot(binary, image, check, nonce, workdir=None, timeout=DEFAULT_TIMEOUT, lab=0, flags=0,
         on_tick=None):
    """Boots image with the given check and nonce; returns what the run left behind."""
    workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="vmxlabs-"))
    prepare(image, workdir, check, nonce, flags, lab)
    # Bochs 3.0 enters its debugger only with -dbg (make debug): a plain run just runs.
    with open(workdir / "bochs.out", "wb") as out:
        proc = subprocess.Popen([binary, "-q", "-f", "bochsrc"], cwd=workdir, env=bochs_env(),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        RUNNING.add(proc)
        try:
            timed_out, capped, seconds = watch(proc, workdir, timeout, on_tick)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            RUNNING.discard(proc)
    return Run(check, nonce, read_capped(workdir / "serial.txt").replace("\r", ""),
               read_capped(workdir / "bochs.log"), read_capped(workdir / "bochs.out"),
               timed_out, seconds, workdir, capped)
