"""Broken cores: goscope prints what it can read, marks what it cannot, and never hangs or
crashes — on the command line (``goscope goroutines`` / ``bt`` / ``threads``) and in GDB.

Each case is made from the ``crash-default`` core of every toolchain, copied and damaged:

- cut at half its size, and cut inside the heap arena that holds the goroutines;
- cut inside its ELF notes (no thread registers);
- paired with another program's executable ("different binary");
- a file that is not a core given as the core;
- the ``runtime.allgs`` slice header (found with ``go tool nm``) with every byte flipped;
- one parked goroutine's saved stack pointer (``g.sched.sp``) moved outside its stack. The
  goroutine's ``g`` is found independently of goscope's goroutine listing: ``allgs`` from the
  symbol table, read from the core's own segments, and each ``g``'s id at the offset DWARF
  gives (read through ``Target.layout_offset``); on Go 1.23 and later it must also be the
  ``gp=`` the runtime printed. ``sched.sp`` is at ``g+56`` on amd64 for every supported release.

What goscope still prints must agree with the runtime's traceback: every goroutine of the
traceback is either reported exactly as the runtime printed it or carries an error, never
silently wrong. A failure is one line on stderr (exit status 1, or 2 for a usage mistake);
in GDB one line, and GDB carries on to the end of the session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from goscope import Target

from tests.gdbrun import LISTINGS, assert_clean, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain
from tests.test_goroutines import compare, describe, run_goscope
from tests.tracebacks import parse

TIMEOUT = 60


def crash_default(fixtures: list[Fixture], toolchain: Toolchain, program: str = "crash") -> Fixture:
    for fx in fixtures:
        if fx.toolchain.name == toolchain.name and fx.program == program:
            if fx.variant == "default" and fx.core is not None:
                return fx
    raise AssertionError(f"no {program}-default fixture with a core for {toolchain.name}")


# -- reading a core without goscope --------------------------------------------------------------


def load_segments(core: Path) -> list[tuple[int, int, int]]:
    """``(vaddr, file offset, file size)`` of each PT_LOAD of an ELF64 little-endian core."""
    with open(core, "rb") as f:
        header = f.read(64)
        (phoff,) = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    segments = []
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", table, i * phentsize
        )
        if p_type == 1 and p_filesz:
            segments.append((p_vaddr, p_offset, p_filesz))
    return segments


def file_offset(core: Path, addr: int, size: int = 8) -> int:
    """Where the core holds `size` bytes of memory at `addr`."""
    for vaddr, offset, filesz in load_segments(core):
        if vaddr <= addr and addr + size <= vaddr + filesz:
            return offset + (addr - vaddr)
    raise AssertionError(f"{core}: no memory at {addr:#x} in the core")


def read_u64(core: Path, addr: int) -> int:
    with open(core, "rb") as f:
        f.seek(file_offset(core, addr))
        (value,) = struct.unpack("<Q", f.read(8))
    return int(value)


def write_u64(core: Path, addr: int, value: int) -> None:
    with open(core, "r+b") as f:
        f.seek(file_offset(core, addr))
        f.write(struct.pack("<Q", value))


def symbol(fx: Fixture, name: str) -> tuple[int, int]:
    """``(address, size)`` of a symbol, from ``go tool nm -size``."""
    proc = fx.toolchain.run(["tool", "nm", "-size", str(fx.bin)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3] == name:
            return int(fields[0], 16), int(fields[1])
    raise AssertionError(f"{fx.id}: no symbol {name} in go tool nm")


# -- running goscope on a broken core ----------------------------------------------------------


def cli(*args: str) -> Any:
    proc = run_goscope(*args, timeout=TIMEOUT)
    assert proc.returncode in (0, 1, 2), describe(proc)
    return proc


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("goscope: warning:")]


def assert_nothing_silently_wrong(fx: Fixture, document: dict[str, Any]) -> None:
    """Every goroutine of the traceback is either right or marked with an error."""
    result = compare(fx.id, fx.traceback_text(), document)
    marked = {g.get("id") for g in document["goroutines"] if g.get("error")}
    unreadable = [g for g in document["goroutines"] if g.get("error") and not g.get("id")]
    for problem in result.problems:
        match = re.match(r"goroutine (\d+)", problem)
        assert match, result.report()
        goid = int(match.group(1))
        if goid in marked:
            continue
        if "missing" in problem and unreadable:
            continue  # its allgs entry is reported as unreadable
        raise AssertionError(f"{problem}\n(not marked with an error)\n{result.report()}")


def gdb_session(fx: Fixture, core: Path, exe: Path | None = None) -> Any:
    run = run_gdb(LISTINGS, args=[str(exe or fx.bin), str(core)], timeout=TIMEOUT)
    assert_clean(run)
    return run


def assert_one_line_each(run: Any, needle: str) -> None:
    """GDB shows goscope's failure as one line per command (3 commands), no more."""
    lines = [line for line in run.stderr.splitlines() if needle in line]
    assert len(lines) == 3, run.describe()


# -- cases --------------------------------------------------------------------------------------


def test_truncated_at_half(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    core = tmp_path / "core"
    size = fx.core.stat().st_size
    with open(fx.core, "rb") as src, open(core, "wb") as dst:
        dst.write(src.read(size // 2))
    proc = cli("goroutines", str(core), "--exe", str(fx.bin), "--json")
    assert proc.returncode in (0, 1), describe(proc)
    assert "truncated" in proc.stderr, describe(proc)
    assert_nothing_silently_wrong(fx, json.loads(proc.stdout))
    text = cli("bt", str(core), "--exe", str(fx.bin), "all")
    assert text.returncode in (0, 1), describe(text)
    gdb_session(fx, core)


def test_truncated_inside_the_goroutines(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    """Cut just after one goroutine's ``g`` begins: whatever lies beyond reads as unreadable,
    and goscope says so instead of guessing."""
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    expected = parse(fx.traceback_text())
    gp = goroutine_gp(fx, fx.core, expected[len(expected) // 2].id)
    core = tmp_path / "core"
    with open(fx.core, "rb") as src, open(core, "wb") as dst:
        dst.write(src.read(file_offset(fx.core, gp) + 16))
    proc = cli("goroutines", str(core), "--exe", str(fx.bin), "--json")
    if proc.returncode == 1 and not proc.stdout:
        assert len(error_lines(proc.stderr)) == 1, describe(proc)
    else:
        document = json.loads(proc.stdout)
        assert any(g.get("error") for g in document["goroutines"]), describe(proc)
        assert proc.returncode == 1, describe(proc)
        assert_nothing_silently_wrong(fx, document)
    text = cli("goroutines", str(core), "--exe", str(fx.bin))
    assert text.returncode == 1, describe(text)
    if text.stdout:
        assert "error:" in text.stdout, describe(text)
    gdb_session(fx, core)


def test_truncated_inside_the_notes(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    with open(fx.core, "rb") as f:
        header = f.read(64)
        (phoff,) = struct.unpack_from("<Q", header, 0x20)
        f.seek(phoff)
        p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
    assert p_type == 4, "the first program header of a Linux core is PT_NOTE"
    core = tmp_path / "core"
    with open(fx.core, "rb") as src, open(core, "wb") as dst:
        dst.write(src.read(p_offset + p_filesz // 2))
    for command in ("goroutines", "bt", "threads"):
        proc = cli(command, str(core), "--exe", str(fx.bin))
        assert proc.returncode == 1, describe(proc)
        assert proc.stdout == "", describe(proc)
        lines = error_lines(proc.stderr)
        assert len(lines) == 1 and "truncated" in lines[0], describe(proc)
    gdb_session(fx, core)


def test_different_binary(toolchain: Toolchain, fixture_matrix: list[Fixture]) -> None:
    fx = crash_default(fixture_matrix, toolchain)
    other = crash_default(fixture_matrix, toolchain, program="panics")
    assert fx.core is not None
    for command in ("goroutines", "bt", "threads"):
        proc = cli(command, str(fx.core), "--exe", str(other.bin))
        assert proc.returncode == 1, describe(proc)
        assert proc.stdout == "", describe(proc)
        lines = error_lines(proc.stderr)
        assert len(lines) == 1 and "different binary" in lines[0], describe(proc)
    run = gdb_session(fx, fx.core, exe=other.bin)
    assert_one_line_each(run, "different binary")


def test_not_a_core(toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    fx = crash_default(fixture_matrix, toolchain)
    text = tmp_path / "notes.txt"
    text.write_text("not a core file\n" * 100)
    for target in (fx.bin, text):
        proc = cli("goroutines", str(target), "--exe", str(fx.bin))
        assert proc.returncode == 2, describe(proc)
        assert "not a core file" in proc.stderr, describe(proc)
        assert proc.stdout == "", describe(proc)
    # In GDB, the file is refused as a core; the commands then say there is no core.
    run = gdb_session(fx, text)
    assert_one_line_each(run, "no process or core file")


def test_corrupt_allgs(toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    addr, size = symbol(fx, "runtime.allgs")
    assert size == 24, "allgs is a slice: pointer, length, capacity"
    core = tmp_path / "core"
    shutil.copyfile(fx.core, core)
    with open(core, "r+b") as f:
        f.seek(file_offset(core, addr, size))
        header = f.read(size)
        f.seek(file_offset(core, addr, size))
        f.write(bytes(b ^ 0xFF for b in header))
    for command in ("goroutines", "bt"):
        proc = cli(command, str(core), "--exe", str(fx.bin))
        assert proc.returncode == 1, describe(proc)
        lines = error_lines(proc.stderr)
        if proc.stdout:
            assert "error:" in proc.stdout, describe(proc)
        else:
            assert len(lines) == 1 and "allgs" in lines[0], describe(proc)
    run = gdb_session(fx, core)
    if "error:" not in run.between("@@goroutines@@", "@@bt@@"):
        assert_one_line_each(run, "allgs")


def goroutine_gp(fx: Fixture, core: Path, goid: int) -> int:
    """The address of goroutine `goid`'s ``g``: ``allgs`` from the symbol table, read from the
    core's segments, each entry's id at the DWARF offset of ``runtime.g.goid``."""
    target = Target.open_core(str(fx.core), str(fx.bin))
    assert target.layout_source == "dwarf", "the default build carries DWARF"
    goid_offset = target.layout_offset("runtime.g", "goid")
    assert goid_offset is not None
    addr, _ = symbol(fx, "runtime.allgs")
    array, length = read_u64(core, addr), read_u64(core, addr + 8)
    assert 0 < length < 1 << 20, f"allgs length {length}"
    for i in range(length):
        gp = read_u64(core, array + 8 * i)
        if gp and read_u64(core, gp + goid_offset) == goid:
            return gp
    raise AssertionError(f"{fx.id}: goroutine {goid} not in allgs")


def test_saved_sp_outside_the_stack(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    expected = parse(fx.traceback_text())
    victim = next(g for g in expected if g.status == "chan receive")
    gp = goroutine_gp(fx, fx.core, victim.id)
    if victim.gp is not None:
        assert gp == victim.gp, f"allgs says {gp:#x}, the runtime printed gp={victim.gp:#x}"

    offset = Target.open_core(str(fx.core), str(fx.bin)).layout_offset("runtime.g", "sched.sp")
    assert offset == 56, f"runtime.g.sched.sp at {offset}, expected 56 on amd64"
    core = tmp_path / "core"
    shutil.copyfile(fx.core, core)
    assert read_u64(core, gp + offset) != 0x1000
    write_u64(core, gp + offset, 0x1000)

    proc = cli("goroutines", str(core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 1, describe(proc)
    document = json.loads(proc.stdout)
    broken = [g for g in document["goroutines"] if g.get("error")]
    assert [g["id"] for g in broken] == [victim.id], describe(proc)
    assert "0x1000" in broken[0]["error"], broken[0]
    # The error is typed: a corrupt record, and the address we wrote.
    assert broken[0]["error_kind"] == "corrupt", broken[0]
    assert broken[0]["error_addr"] == 0x1000, broken[0]
    assert all(g["error_kind"] is None for g in document["goroutines"] if not g.get("error"))
    result = compare(fx.id, fx.traceback_text(), document)
    others = [p for p in result.problems if not p.startswith(f"goroutine {victim.id}")]
    assert not others, result.report()
    assert result.goroutines_matched == result.goroutines - 1, result.report()

    text = cli("goroutines", str(core), "--exe", str(fx.bin))
    line = next(
        (x for x in text.stdout.splitlines() if re.match(rf"^[* ]\s*{victim.id} \[", x)), ""
    )
    assert "error:" in line and "0x1000" in line, describe(text)
    bt = cli("bt", str(core), "--exe", str(fx.bin), str(victim.id))
    assert bt.returncode == 1 and "error:" in bt.stdout, describe(bt)

    run = gdb_session(fx, core)
    listing = run.between("@@goroutines@@", "@@bt@@")
    assert "0x1000" in listing, run.describe()
    assert str(victim.id) in listing, run.describe()


@pytest.mark.parametrize("name", ["goroutines", "bt", "threads"])
def test_missing_core(name: str, tmp_path: Path) -> None:
    proc = cli(name, str(tmp_path / "no-such-core"), "--exe", str(tmp_path / "no-such-bin"))
    assert proc.returncode in (1, 2), describe(proc)
    assert proc.stdout == "", describe(proc)
    assert len(error_lines(proc.stderr)) >= 1, describe(proc)


def _not_regular_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Inputs that are no regular file, with what goscope must say of each."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    return {
        "fifo": (fifo, "named pipe (FIFO)"),
        "loop": (loop, "symlink loop"),
        "device": (Path("/dev/null"), "character device"),
        "directory": (tmp_path, "a directory"),
    }


@pytest.mark.parametrize("command", ["goroutines", "bt", "threads", "crash", "triage", "info"])
def test_not_a_regular_file(command: str, fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    # A FIFO given as CORE or --exe used to block every command until it was killed; each of
    # these is refused at once with one line naming what the file is, the same line whether
    # it is the core or the executable.
    fx = next(f for f in fixture_matrix if f.program == "crash" and f.core is not None)
    assert fx.core is not None
    for name, (path, said) in _not_regular_files(tmp_path).items():
        if command == "info":
            runs = [cli(command, str(path))]
        else:
            runs = [
                cli(command, str(path), "--exe", str(fx.bin)),
                cli(command, str(fx.core), "--exe", str(path)),
            ]
        for proc in runs:
            assert proc.returncode == 1, (name, describe(proc))
            assert proc.stdout == "", (name, describe(proc))
            lines = error_lines(proc.stderr)
            assert len(lines) == 1 and said in lines[0], (name, describe(proc))
            assert lines[0].startswith(f"goscope: cannot open {path}") or lines[0].startswith(
                f"goscope: {path} is "
            ), (name, describe(proc))


# -- damage that must be named for what it is -----------------------------------------------


def _damaged(fx: Fixture, tmp_path: Path, name: str) -> Path:
    """A copy of `fx`'s core with one kind of damage, each with a known cause."""
    assert fx.core is not None
    data = bytearray(fx.core.read_bytes())
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    (phnum,) = struct.unpack_from("<H", data, 0x38)
    headers = [struct.unpack_from("<IIQQQQ", data, phoff + 56 * i) for i in range(phnum)]
    if name == "zeroed-exe-header":
        # The core's copy of the executable's first page: the PT_LOAD whose file data starts
        # with the executable's own ELF header.
        exe_header = fx.bin.read_bytes()[:64]
        starts = [h[2] for h in headers if h[0] == 1 and h[5] >= 4096]
        at = next(o for o in starts if bytes(data[o : o + 64]) == exe_header)
        data[at : at + 4096] = bytes(4096)
    elif name == "truncated-1pct":
        data = data[: len(data) // 100]
    elif name == "phnum-xnum":
        struct.pack_into("<H", data, 0x38, 0xFFFF)
    elif name == "note-name-huge":
        note = next(h for h in headers if h[0] == 4)
        struct.pack_into("<I", data, note[2], 0x7FFFFFFF)
    core = tmp_path / f"{name}.core"
    core.write_bytes(bytes(data))
    return core


def test_zeroed_executable_header_is_damage(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    # A page of zeros is no other binary's header: the core is read, with a warning, and
    # every goroutine is still the runtime's.
    fx = crash_default(fixture_matrix, toolchain)
    core = _damaged(fx, tmp_path, "zeroed-exe-header")
    proc = cli("goroutines", str(core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    assert "different binary" not in proc.stderr, describe(proc)
    assert "is all zeros (a damaged core)" in proc.stderr, describe(proc)
    result = compare(fx.id, fx.traceback_text(), json.loads(proc.stdout))
    assert not result.problems, result.report()


def test_truncated_at_one_percent_says_the_data_is_missing(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    # The goroutine list's slice is intact; its data is past the end of the file. Every
    # command says so in the same words, exits 1, and prints no goroutine it did not read.
    fx = crash_default(fixture_matrix, toolchain)
    core = _damaged(fx, tmp_path, "truncated-1pct")
    for command in ("goroutines", "bt", "triage", "crash"):
        proc = cli(command, str(core), "--exe", str(fx.bin))
        assert proc.returncode == 1, (command, describe(proc))
        lines = error_lines(proc.stderr)
        assert len(lines) == 1, (command, describe(proc))
        assert "is not in the core" in lines[0] and "truncated" in lines[0], describe(proc)
        assert "implausible" not in lines[0], (command, describe(proc))
        assert "goroutine ?" not in proc.stdout, (command, describe(proc))
    listing = json.loads(cli("goroutines", str(core), "--exe", str(fx.bin), "--json").stdout)
    (record,) = listing["goroutines"]
    addr, _ = symbol(fx, "runtime.allgs")
    data = struct.unpack("<Q", fx.core.read_bytes()[file_offset(fx.core, addr) :][:8])[0]
    assert record["error_kind"] == "unreadable", record
    assert record["error_addr"] == data, (record, hex(data))
    triage = cli("triage", str(core), "--exe", str(fx.bin), "--json")
    document = json.loads(triage.stdout)
    assert document["total"] == 0 and document["groups"] == [], describe(triage)
    assert "is not in the core" in document["goroutines_error"], describe(triage)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("phnum-xnum", "e_phnum is 0xffff"),
        ("note-name-huge", "claims a name of 2147483647 bytes"),
    ],
)
def test_bad_header_fields_are_named(
    damage: str, said: str, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    for toolchain_fixtures in _by_toolchain(fixture_matrix):
        fx = crash_default(toolchain_fixtures, toolchain_fixtures[0].toolchain)
        core = _damaged(fx, tmp_path, damage)
        for command in ("goroutines", "bt", "threads"):
            proc = cli(command, str(core), "--exe", str(fx.bin))
            assert proc.returncode == 1, describe(proc)
            lines = error_lines(proc.stderr)
            assert len(lines) == 1 and said in lines[0], describe(proc)
            assert "no NT_PRSTATUS" not in lines[0], describe(proc)


def _by_toolchain(fixtures: list[Fixture]) -> list[list[Fixture]]:
    groups: dict[str, list[Fixture]] = {}
    for fx in fixtures:
        groups.setdefault(fx.toolchain.name, []).append(fx)
    return [groups[name] for name in sorted(groups)]
