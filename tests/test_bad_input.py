"""Bad input never crashes goscope: one line naming the problem, in GDB and on the CLI.

Inputs: a text file, a non-Go ELF (/bin/ls), an empty file, a missing path, a Go binary cut at
10 %, 50 % and 90 % of its size and inside its ELF header, a Go binary with its pclntab magic
overwritten, its function table scribbled over or its counts made absurd, and one with a
corrupted ``.go.buildinfo`` (magic, then the version string's length). The sections are found
by parsing the ELF section headers here, independently of goscope.

For each: the Python API raises the right ``GoscopeError`` subclass; ``goscope info X`` exits
non-zero with one ``goscope: ...`` line on stderr; in GDB, ``go info X`` and ``file X`` + ``go
info`` print that one line, no traceback, no panic text, and GDB carries on. A corrupted build
info is not fatal: what the pclntab gives is still reported, the problem is named once, and the
CLI exits 1.
"""

from __future__ import annotations

import re
import shutil
import struct
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest

from tests.gdbrun import GdbRun, assert_clean, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.test_cli import describe, goscope


@dataclass(frozen=True)
class BadInput:
    name: str
    path: Path
    error: str
    """Name of the GoscopeError subclass the Python API raises ("" when it opens)."""
    message: str
    """Regex the one-line message must match."""


def _sections(data: bytes) -> dict[str, tuple[int, int]]:
    """Section name -> (file offset, size) of an ELF64 little-endian file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(index: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + index * shentsize
        )
        return name, offset, size

    _, strtab, _ = header(shstrndx)
    result = {}
    for index in range(shnum):
        name_offset, offset, size = header(index)
        start = strtab + name_offset
        name = data[start : data.index(b"\0", start)].decode()
        result[name] = (offset, size)
    return result


def _source_binary(matrix: list[Fixture]) -> Fixture:
    candidates = [fx for fx in matrix if fx.variant == "default" and not fx.cgo]
    assert candidates, "no default-variant fixture binary"
    return max(candidates, key=lambda fx: fx.toolchain.version)


@pytest.fixture(scope="session")
def bad_inputs(
    fixture_matrix: list[Fixture], tmp_path_factory: pytest.TempPathFactory
) -> list[BadInput]:
    root = tmp_path_factory.mktemp("bad-input")
    source = _source_binary(fixture_matrix).bin
    data = source.read_bytes()
    sections = _sections(data)
    inputs: list[BadInput] = []

    def write(name: str, content: bytes, error: str, message: str) -> None:
        path = root / name
        path.write_bytes(content)
        inputs.append(BadInput(name, path, error, message))

    def patched(section: str, at: int, replacement: bytes) -> bytes:
        offset, size = sections[section]
        assert at + len(replacement) <= size
        copy = bytearray(data)
        copy[offset + at : offset + at + len(replacement)] = replacement
        return bytes(copy)

    write("text", b"this is not a binary\n", "NotElfError", r"not an ELF")
    write("empty", b"", "NotElfError", r"empty|not an ELF")
    ls = root / "ls"
    shutil.copyfile("/bin/ls", ls)
    inputs.append(BadInput("ls", ls, "NotGoBinaryError", r"not a Go binary"))
    inputs.append(
        BadInput("missing", root / "no-such-file", "TargetIOError", r"No such file|cannot open")
    )
    truncated = r"truncated|incomplete|ends early|past the end|malformed ELF"
    for percent in (10, 50, 90):
        cut = data[: len(data) * percent // 100]
        write(f"truncated-{percent}", cut, "TruncatedError", truncated)
    write("truncated-header", data[:40], "TruncatedError", truncated)

    pclntab = r"pc/line table|pclntab"
    write("pclntab-magic", patched(".gopclntab", 0, b"\0\0\0\0"), "CorruptError", pclntab)
    pcln_start = sections[".gopclntab"][0]
    (functab,) = struct.unpack_from("<Q", data, pcln_start + 64)
    write(
        "pclntab-functab",
        patched(".gopclntab", functab, b"\xff" * 4096),
        "CorruptError",
        pclntab,
    )
    write("pclntab-counts", patched(".gopclntab", 8, b"\xff" * 16), "CorruptError", pclntab)

    buildinfo = r"build ?info"
    write("buildinfo-magic", patched(".go.buildinfo", 0, b"\0" * 14), "", buildinfo)
    write("buildinfo-length", patched(".go.buildinfo", 32, b"\xff" * 8), "", buildinfo)
    return inputs


def _ids(inputs: list[BadInput]) -> list[str]:
    return [i.name for i in inputs]


def _fatal(inputs: list[BadInput]) -> list[BadInput]:
    return [i for i in inputs if i.error]


def _python_error(native: ModuleType, bad: BadInput) -> str:
    try:
        native.Binary(str(bad.path))
    except native.GoscopeError as error:
        return str(error)
    raise AssertionError(f"{bad.name}: Binary() opened it")


def test_python_api_raises_the_right_error(bad_inputs: list[BadInput], native: ModuleType) -> None:
    for bad in _fatal(bad_inputs):
        with pytest.raises(getattr(native, bad.error)) as caught:
            native.Binary(str(bad.path))
        message = str(caught.value)
        assert "\n" not in message, f"{bad.name}: multi-line message {message!r}"
        assert re.search(bad.message, message), f"{bad.name}: {message!r}"
    missing = next(b for b in bad_inputs if b.name == "missing")
    with pytest.raises(OSError):
        native.Binary(str(missing.path))


def test_cli_one_line_and_nonzero_exit(bad_inputs: list[BadInput], native: ModuleType) -> None:
    for bad in _fatal(bad_inputs):
        proc = goscope("info", str(bad.path))
        assert proc.returncode == 1, describe(proc)
        assert proc.stdout == "", describe(proc)
        lines = proc.stderr.splitlines()
        assert lines == [f"goscope: {_python_error(native, bad)}"], describe(proc)
        assert re.search(bad.message, lines[0]), describe(proc)


def test_cli_corrupt_buildinfo_reports_the_rest(bad_inputs: list[BadInput]) -> None:
    for bad in bad_inputs:
        if bad.error:
            continue
        proc = goscope("info", str(bad.path))
        assert proc.returncode == 1, describe(proc)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("goscope: "), describe(proc)
        assert re.search(bad.message, lines[0]), describe(proc)
        assert "Functions" in proc.stdout and "Go version     unknown" in proc.stdout


@pytest.fixture(scope="session")
def gdb_sessions(bad_inputs: list[BadInput]) -> dict[tuple[str, str], GdbRun]:
    """Two sessions per input: ``go info X``, and ``file X`` then ``go info``."""
    jobs = []
    keys = []
    for bad in bad_inputs:
        keys.append((bad.name, "argument"))
        jobs.append(partial(run_gdb, [f"go info {bad.path}"]))
        keys.append((bad.name, "file"))
        jobs.append(partial(run_gdb, [f"file {bad.path}", "go info"]))
    return dict(zip(keys, in_parallel(jobs)))


def test_gdb_one_line_and_survives(
    bad_inputs: list[BadInput],
    gdb_sessions: dict[tuple[str, str], GdbRun],
    native: ModuleType,
) -> None:
    for bad in _fatal(bad_inputs):
        expected = _python_error(native, bad)
        run = gdb_sessions[(bad.name, "argument")]
        assert_clean(run)
        assert run.stderr.splitlines() == [expected], run.describe()

        run = gdb_sessions[(bad.name, "file")]
        assert_clean(run)
        errors = run.stderr.splitlines()
        if "no executable loaded; use `file BINARY`" in errors:
            # GDB itself refused the file; its own message says why, goscope adds its line.
            assert errors.count("no executable loaded; use `file BINARY`") == 1
        else:
            assert errors.count(expected) == 1, run.describe()


def test_gdb_corrupt_buildinfo_reports_the_rest(
    bad_inputs: list[BadInput], gdb_sessions: dict[tuple[str, str], GdbRun]
) -> None:
    for bad in bad_inputs:
        if bad.error:
            continue
        for mode in ("argument", "file"):
            run = gdb_sessions[(bad.name, mode)]
            assert_clean(run)
            named = [line for line in run.output.splitlines() if re.search(bad.message, line)]
            unreadable = [line for line in named if "unreadable" in line]
            assert len(unreadable) == 1, run.describe()
            assert "Functions" in run.stdout, run.describe()
