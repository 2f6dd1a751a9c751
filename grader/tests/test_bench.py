"""`make bench`: it runs on the reference with every row, a CPUID round trip within twice the
floor, the hook by #VE cheaper than the hook by exits (lab 10) and a PNG chart; it refuses a
skeleton at its marker and a guest TSC that Bochs's log contradicts; it is linked into no graded
image."""
import re
import shutil
import subprocess

import pytest

import bench
import build
import gradelib
import manifest
import skeleton
from conftest import phase

LAST = manifest.available()[-1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_bench(capsys, *args):
    with phase("bench"):
        code = bench.main(["--lab", LAST.number, *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def ticks(output, label):
    """The ticks column of the table row `label`."""
    m = re.search(rf"^  {re.escape(label)} +(\d+) ", output, re.M)
    assert m, f"the table has no row '{label}':\n{output}"
    return int(m.group(1))


def test_bench_on_the_reference(capsys, tmp_path):
    png = tmp_path / "chart.png"
    code, output = run_bench(capsys, "--source", "solutions", "--png", str(png))
    assert code == 0, output
    for _, label, _, _ in bench.rows_for(LAST.number):
        ticks(output, label)
    assert ticks(output, "CPUID (lab 01)") <= 2 * ticks(output, "floor: CPUID, handler only moves RIP"), output
    assert ticks(output, "RDMSR, MSR bitmap bit clear") < 10, "an RDMSR whose bitmap bit is clear must not exit"
    if int(LAST.number) >= 7:
        assert ticks(output, "MMIO load, EPT violation (lab 07)") > ticks(output, "floor: CPUID, handler only moves RIP")
    if int(LAST.number) >= 10:
        by_ve = ticks(output, "hook, #VE + VMFUNC in the guest (lab 10)")
        by_exits = ticks(output, "hook, 2 EPT-violation exits (lab 10)")
        assert by_ve < ticks(output, "floor: CPUID, handler only moves RIP"), "the #VE hook must not exit"
        assert by_exits > ticks(output, "floor: CPUID, handler only moves RIP") and 10 * by_ve < by_exits, output
    assert "two runs with different nonces gave the same figures" in output
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert str(gradelib.ROOT) not in output


def tree_with(tmp_path, lab, file, old, new):
    """A copy of the reference's lab `lab` with `old` replaced by `new` in `file`."""
    tree = tmp_path / "tree"
    shutil.copytree(gradelib.ROOT / "solutions" / lab.folder, tree / lab.folder)
    path = tree / lab.folder / file
    assert path.read_text().count(old) == 1
    path.write_text(path.read_text().replace(old, new))
    return tree


@pytest.mark.parametrize("number, earlier, marker", [
    ("01", None, r"01-\d+"),       # every row needs lab 01's exit handling
    ("07", "solutions", "07-2"),   # from lab 07 on, the EPT is built with lab 07's functions
    ("10", "solutions", "10-5"),   # from lab 10 on, the hook rows use lab 10's views and #VE
], ids=["01", "07", "10"])
def test_bench_refuses_a_skeleton_at_its_marker(capsys, tmp_path, number, earlier, marker):
    """A lab's untouched skeleton stops the benchmark at the first marker it reaches, with no
    table and no chart."""
    lab = manifest.lab(number)
    tree = tmp_path / "tree"
    assert skeleton.main(["", "generate", str(gradelib.ROOT / "solutions" / lab.folder),
                          str(tree / lab.folder)]) == 0
    args = ["--lab", lab.number, "--source", str(tree), "--png", str(tmp_path / "x.png")]
    with phase("bench"):
        code = bench.main(args + (["--earlier", earlier] if earlier else []))
    out = capsys.readouterr()
    output = out.out + out.err
    assert code == 1, output
    assert re.search(rf"TODO {marker} reached", output), output
    assert "there is no table" in output and re.search(rf"implement step {marker}", output), output
    assert not (tmp_path / "x.png").exists()


def test_bench_refuses_a_tsc_that_bochs_contradicts(capsys, tmp_path):
    """A hypervisor that winds the guest's TSC back at each exit would look fast to the guest;
    Bochs's own time stamps say otherwise."""
    lab04 = manifest.lab("04")
    tree = tree_with(tmp_path, lab04, "events.c", "static void events_before_entry(struct vcpu *v)\n{\n",
                     "static void events_before_entry(struct vcpu *v)\n{\n"
                     "\tvmcs_write(TSC_OFFSET, vmcs_read(TSC_OFFSET) - 300);\n")
    with phase("bench"):
        code = bench.main(["--lab", "04", "--source", str(tree), "--earlier", "solutions",
                           "--png", str(tmp_path / "x.png")])
    output = capsys.readouterr().out
    assert code == 1, output
    assert "its figures cannot be used" in output and "the guest's TSC must tell the time Bochs tells" in output


def test_bench_is_in_no_graded_image(tmp_path):
    built = build.build_image(LAST.number, "solutions", out=tmp_path / "build")
    sections = subprocess.run(["readelf", "-p", ".vmxlabs.checks", str(built.elf)], stdout=subprocess.PIPE,
                              text=True).stdout
    assert "00 probe" in sections and "bench" not in sections
    assert "bench_guest" not in subprocess.run(["nm", str(built.elf)], stdout=subprocess.PIPE, text=True).stdout


def test_bench_of_lab_01_has_lab_01_rows_only(capsys, tmp_path):
    with phase("bench"):
        code = bench.main(["--lab", "01", "--source", "solutions", "--png", str(tmp_path / "x.png")])
    output = capsys.readouterr().out
    assert code == 0, output
    for _, label, lab, _ in bench.ROWS:
        assert (f"  {label} " in output) == (lab == "01"), output


def test_bench_builds_warning_free(tmp_path):
    with phase("bench"):
        build.build_image(LAST.number, "solutions", out=tmp_path / "build", werror=True, extra=bench.SOURCES)
