"""``go info`` in real GDB, on every fixture binary of every toolchain and variant.

Each binary is examined the ways a user meets it: the executable alone (``gdb BIN``), a core
(``gdb BIN CORE``), a live process attached by pid (``gdb -p PID``) and a process run under GDB
and stopped at ``runtime.Breakpoint()``. The oracles: ``go version -m`` of the toolchain that
built the binary for the Go version, and GDB's own ``info proc mappings`` with the ELF program
headers for the load bias. The sessions are independent, so they all run up front on a thread
pool and each test reads its session's output.

Also: sourcing the script twice is harmless, ``help go info`` shows the argparse help, and a
checkout without a build (``GOSCOPE_SITE`` pointing at an empty directory) prints one
actionable line.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.live import start_live
from tests.harness.oracles import version_m

TEXT, JSON, MAPS, END = "@@text@@", "@@json@@", "@@maps@@", "@@end@@"

EXEC, CORE, ATTACH, BREAKPOINT = "executable", "core", "attach", "breakpoint"


@dataclass(frozen=True)
class Session:
    fixture: Fixture
    mode: str
    run: GdbRun
    pid: int | None = None


def _info_commands(with_memory: bool) -> list[str]:
    commands = [echo(TEXT), "go info", echo(JSON), "go info --json", echo(MAPS)]
    if with_memory:
        commands.append("info proc mappings")
    commands.append(echo(END))
    return commands


def _session(fx: Fixture, mode: str) -> Session:
    if mode == EXEC:
        return Session(fx, mode, run_gdb(_info_commands(False), args=[str(fx.bin)]))
    if mode == CORE:
        assert fx.core is not None
        return Session(fx, mode, run_gdb(_info_commands(True), args=[str(fx.bin), str(fx.core)]))
    if mode == BREAKPOINT:
        commands = ["run breakpoint >/dev/null 2>&1", *_info_commands(True), "kill"]
        return Session(fx, mode, run_gdb(commands, args=[str(fx.bin)]))
    proc, pid = start_live(fx)
    try:
        run = run_gdb(_info_commands(True), args=[str(fx.bin), "-p", str(pid)])
    finally:
        proc.kill()
        proc.wait()
    return Session(fx, mode, run, pid)


@pytest.fixture(scope="session")
def sessions(fixture_matrix: list[Fixture]) -> dict[tuple[str, str], Session]:
    jobs = []
    for fx in fixture_matrix:
        jobs.append(partial(_session, fx, EXEC))
        if fx.crash:
            jobs.append(partial(_session, fx, CORE))
        if fx.program == "live":
            jobs.append(partial(_session, fx, ATTACH))
            jobs.append(partial(_session, fx, BREAKPOINT))
    return {(s.fixture.id, s.mode): s for s in in_parallel(jobs)}


@pytest.fixture(scope="session")
def go_versions(fixture_matrix: list[Fixture]) -> dict[str, str]:
    """``go version -m`` of every fixture binary: its Go version, by fixture id."""
    jobs = [partial(version_m, fx.toolchain, fx.bin) for fx in fixture_matrix]
    return {fx.id: v.go_version for fx, v in zip(fixture_matrix, in_parallel(jobs))}


# -- oracles ----------------------------------------------------------------------------------


def _first_load_page(binary: Path) -> int:
    """Lowest PT_LOAD virtual address of an ELF64 little-endian file, rounded to its page."""
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{binary}: not ELF64 LE"
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    lowest: int | None = None
    for index in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + index * phentsize)
        (p_vaddr,) = struct.unpack_from("<Q", data, phoff + index * phentsize + 0x10)
        if p_type == 1 and (lowest is None or p_vaddr < lowest):
            lowest = p_vaddr
    assert lowest is not None, f"{binary}: no PT_LOAD"
    return lowest & ~0xFFF


_MAPPING = re.compile(
    r"^\s*(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(?:[rwxps-]{4}\s+)?(\S.*)$"
)


def _load_bias_oracle(fx: Fixture, maps: str) -> int:
    """Where GDB (``info proc mappings``) says the binary's first page is, minus its link
    address."""
    rows = []
    for line in maps.splitlines():
        match = _MAPPING.match(line)
        if match:
            rows.append((int(match.group(1), 16), int(match.group(2), 16), match.group(3)))
    real = os.path.realpath(fx.bin)
    mine = [row for row in rows if os.path.realpath(row[2]) == real]
    if not mine:
        mine = [row for row in rows if os.path.basename(row[2]) == fx.bin.name]
    starts = [start for start, offset, _ in mine if offset == 0]
    assert starts, f"{fx.id}: the binary is in no mapping of `info proc mappings`:\n{maps}"
    return min(starts) - _first_load_page(fx.bin)


# -- checks -----------------------------------------------------------------------------------


def _text_go_version(text: str) -> str | None:
    match = re.search(r"^  Go version\s+(.+?)(?: \(not in the tested range\))?$", text, re.M)
    return match.group(1) if match else None


def _check(session: Session, go_version: str) -> dict[str, Any]:
    run = session.run
    fx = session.fixture
    assert_clean(run)
    text = run.between(TEXT, JSON)
    assert _text_go_version(text) == go_version, run.describe()
    assert "What this means" in text, run.describe()
    assert str(fx.bin) in text, run.describe()
    body = run.between(JSON, MAPS)
    info = json.loads(body)
    assert info["go_version"] == go_version
    assert isinstance(info["notes"], list) and all(isinstance(n, str) for n in info["notes"])
    return info


def _check_with_memory(session: Session, go_version: str, kind: str) -> None:
    info = _check(session, go_version)
    run = session.run
    fx = session.fixture
    assert info["loaded"]["kind"] == kind, run.describe()
    expected_bias = _load_bias_oracle(fx, run.between(MAPS, END))
    assert info["load_bias"] == expected_bias, run.describe()
    text = run.between(TEXT, JSON)
    if info["pie"]:
        assert f"load bias {expected_bias:#x}" in text, run.describe()
    else:
        assert expected_bias == 0


def test_go_info_on_executable(
    fixture_binary: Fixture,
    sessions: dict[tuple[str, str], Session],
    go_versions: dict[str, str],
) -> None:
    session = sessions[(fixture_binary.id, EXEC)]
    info = _check(session, go_versions[fixture_binary.id])
    assert "loaded" not in info and "load_bias" not in info
    if info["pie"]:
        assert "known once the program runs" in session.run.between(TEXT, JSON)


def test_go_info_on_core(
    fixture: Fixture,
    sessions: dict[tuple[str, str], Session],
    go_versions: dict[str, str],
) -> None:
    session = sessions[(fixture.id, CORE)]
    _check_with_memory(session, go_versions[fixture.id], "core file")
    assert f"core file ({fixture.core})" in session.run.between(TEXT, JSON)


def _live_fixtures(matrix: list[Fixture]) -> list[Fixture]:
    live = [fx for fx in matrix if fx.program == "live"]
    assert live, "the fixture matrix has no `live` program"
    return live


def test_go_info_attached_to_live_process(
    fixture_matrix: list[Fixture],
    sessions: dict[tuple[str, str], Session],
    go_versions: dict[str, str],
) -> None:
    for fx in _live_fixtures(fixture_matrix):
        session = sessions[(fx.id, ATTACH)]
        _check_with_memory(session, go_versions[fx.id], "live process")
        assert f"live process (pid {session.pid})" in session.run.between(TEXT, JSON)


def test_go_info_stopped_at_runtime_breakpoint(
    fixture_matrix: list[Fixture],
    sessions: dict[tuple[str, str], Session],
    go_versions: dict[str, str],
) -> None:
    for fx in _live_fixtures(fixture_matrix):
        session = sessions[(fx.id, BREAKPOINT)]
        assert "SIGTRAP" in session.run.output, session.run.describe()
        _check_with_memory(session, go_versions[fx.id], "live process")


# -- loading and help -------------------------------------------------------------------------


def _any_binary(matrix: list[Fixture]) -> Fixture:
    return next(fx for fx in matrix if fx.variant == "default")


def test_sourcing_twice_is_harmless(fixture_matrix: list[Fixture]) -> None:
    fx = _any_binary(fixture_matrix)
    script = Path(__file__).resolve().parents[1] / "gdb-scripts" / "goscope.py"
    run = run_gdb(
        [f"source {script}", echo(TEXT), "go info", echo(END), "help go"], args=[str(fx.bin)]
    )
    assert_clean(run)
    assert run.between(TEXT, END).count("Go binary") == 1
    assert run.stdout.count("go info --") == 1, run.describe()
    assert "goscope:" not in run.output, run.describe()


def test_help_go_info() -> None:
    run = run_gdb(["help go info", "help go"])
    assert_clean(run)
    assert "usage: go info" in run.stdout, run.describe()
    assert "--json" in run.stdout
    assert "What this means" not in run.stdout
    assert "go info -- Show the Go version" in run.stdout, run.describe()


def test_set_goscope_verbose() -> None:
    run = run_gdb(["show goscope verbose", "set goscope verbose on", "show goscope verbose"])
    assert_clean(run)
    assert "goscope verbose is off." in run.stdout, run.describe()
    assert "goscope verbose is on." in run.stdout, run.describe()


def test_not_built_prints_one_actionable_line(tmp_path: Path) -> None:
    run = run_gdb(["go info"], env={"GOSCOPE_SITE": str(tmp_path)})
    assert_clean(run)
    lines = [line for line in run.output.splitlines() if line.startswith("goscope:")]
    assert len(lines) == 1, run.describe()
    assert "native module not built" in lines[0]
    assert "scripts/setup" in lines[0]
    # Without goscope, `go` is GDB's own alias of `goto-bookmark`.
    assert "Go binary" not in run.stdout


def test_broken_native_module_prints_one_line(tmp_path: Path) -> None:
    package = tmp_path / "goscope"
    package.mkdir()
    (package / "__init__.py").write_text("from goscope._native import Binary\n")
    (package / "_native.abi3.so").write_bytes(b"not a shared object")
    run = run_gdb([], env={"GOSCOPE_SITE": str(tmp_path)})
    assert_clean(run)
    lines = [line for line in run.output.splitlines() if line.startswith("goscope:")]
    assert len(lines) == 1, run.describe()
    assert "native module cannot be loaded" in lines[0]


def test_go_info_without_executable() -> None:
    run = run_gdb(["go info"])
    assert_clean(run)
    assert run.stderr.strip() == "no executable loaded; use `file BINARY`", run.describe()


def test_go_info_on_core_without_executable(fixture_matrix: list[Fixture]) -> None:
    fx = next(f for f in fixture_matrix if f.crash and f.core is not None)
    run = run_gdb(["go info"], args=["-c", str(fx.core)])
    assert_clean(run)
    error = [line for line in run.stderr.splitlines() if "no executable loaded" in line]
    assert len(error) == 1, run.describe()
    assert error[0].startswith("no executable loaded; use `file BINARY`")


def test_go_info_usage_error(fixture_matrix: list[Fixture]) -> None:
    fx = _any_binary(fixture_matrix)
    run = run_gdb(["go info --no-such-option"], args=[str(fx.bin)])
    assert_clean(run)
    assert run.stderr.strip() == (
        "go info: unrecognized arguments: --no-such-option (see `help go info`)"
    ), run.describe()
