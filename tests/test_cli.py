"""The ``goscope`` command line on every fixture binary: ``goscope info BIN [--json]``.

The oracle for the Go version is ``go version -m`` of the toolchain that built the binary.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gdbrun import PANIC_MARKERS, TRACEBACK_MARKERS
from tests.harness.fixture import Fixture
from tests.harness.oracles import version_m
from tests.harness.paths import SITE_DIR

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def goscope(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs ``build/site/bin/goscope ARGS``, the documented command, with no PYTHONPATH."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("NO_COLOR", None)
    proc = subprocess.run(
        [str(SITE_DIR / "bin" / "goscope"), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    for marker in TRACEBACK_MARKERS + PANIC_MARKERS:
        assert marker not in proc.stdout + proc.stderr, describe(proc)
    return proc


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ {' '.join(map(str, proc.args))}\nexit status {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


def _text_go_version(text: str) -> str | None:
    match = re.search(r"^  Go version\s+(.+?)(?: \(not in the tested range\))?$", text, re.M)
    return match.group(1) if match else None


def test_info_text(fixture_binary: Fixture) -> None:
    fx = fixture_binary
    oracle = version_m(fx.toolchain, fx.bin)
    proc = goscope("info", str(fx.bin))
    assert proc.returncode == 0, describe(proc)
    assert proc.stderr == "", describe(proc)
    assert not ANSI.search(proc.stdout), "colour on a pipe"
    assert _text_go_version(proc.stdout) == oracle.go_version, describe(proc)
    assert oracle.path is not None
    assert re.search(rf"^  Main package\s+{re.escape(oracle.path)}$", proc.stdout, re.M)
    for key, value in oracle.settings:
        shown = re.escape(value) if value else r"\(empty\)"
        assert re.search(rf"^  {re.escape(key)}\s+{shown}$", proc.stdout, re.M), (
            f"build setting {key}={value} missing\n{describe(proc)}"
        )
    assert "What this means" in proc.stdout


def test_info_json(fixture_binary: Fixture) -> None:
    fx = fixture_binary
    oracle = version_m(fx.toolchain, fx.bin)
    proc = goscope("info", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    info = json.loads(proc.stdout)
    assert info["go_version"] == oracle.go_version
    assert info["file"] == str(fx.bin)
    assert [tuple(item) for item in info["settings"]] == oracle.settings
    notes = info["notes"]
    assert notes and all(isinstance(note, str) for note in notes)
    if fx.variant == "stripped":
        assert any(note.startswith("No DWARF") for note in notes)
        assert any("symbol table is stripped" in note for note in notes)
    if fx.variant == "noopt":
        assert any("-N -l" in note for note in notes)
    if fx.variant == "pie":
        assert info["pie"] is True
        assert any("load bias" in note for note in notes)
    if ("CGO_ENABLED", "1") in oracle.settings:
        assert any(note.startswith("CGO_ENABLED=1") for note in notes)


def _a_core(matrix: list[Fixture]) -> Fixture:
    for fx in matrix:
        if fx.crash and fx.core is not None:
            return fx
    pytest.fail("the fixture matrix has no core")


def test_info_core_with_exe(fixture_matrix: list[Fixture]) -> None:
    fx = _a_core(fixture_matrix)
    assert fx.core is not None
    proc = goscope("info", str(fx.core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    assert json.loads(proc.stdout)["file"] == str(fx.bin)


def test_info_core_without_exe_is_a_usage_error(fixture_matrix: list[Fixture]) -> None:
    fx = _a_core(fixture_matrix)
    assert fx.core is not None
    proc = goscope("info", str(fx.core))
    assert proc.returncode == 2, describe(proc)
    assert "--exe" in proc.stderr
    assert proc.stdout == ""


def test_colour(fixture_matrix: list[Fixture]) -> None:
    fx = fixture_matrix[0]
    coloured = goscope("info", str(fx.bin), "--color", "always")
    assert coloured.returncode == 0 and ANSI.search(coloured.stdout), describe(coloured)
    assert ANSI.sub("", coloured.stdout) == goscope("info", str(fx.bin)).stdout
    as_json = goscope("info", str(fx.bin), "--json", "--color", "always")
    assert not ANSI.search(as_json.stdout)


def test_usage_errors() -> None:
    assert goscope().returncode == 2
    assert goscope("info").returncode == 2
    assert goscope("no-such-subcommand", "x").returncode == 2
    version = goscope("--version")
    assert version.returncode == 0 and version.stdout.startswith("goscope "), describe(version)


def test_console_script(fixture_matrix: list[Fixture]) -> None:
    """The ``goscope`` entry point that the wheel installs runs the same command line."""
    script = SITE_DIR / "bin" / "goscope"
    assert script.is_file(), f"{script} missing; run scripts/setup"
    env = dict(os.environ, PYTHONPATH=str(SITE_DIR))
    proc = subprocess.run(
        [str(script), "info", str(fixture_matrix[0].bin), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["file"] == str(fixture_matrix[0].bin)


def test_package_exports() -> None:
    env = dict(os.environ, PYTHONPATH=str(SITE_DIR))
    code = (
        "import goscope\n"
        "assert issubclass(goscope.TargetIOError, goscope.GoscopeError)\n"
        "assert issubclass(goscope.TargetIOError, OSError)\n"
        "for name in ('NotElfError', 'NotGoBinaryError', 'TruncatedError', 'CorruptError',\n"
        "             'UnsupportedError', 'UnsupportedArchError', 'UnreadableMemoryError',\n"
        "             'InternalError'):\n"
        "    assert issubclass(getattr(goscope, name), goscope.GoscopeError), name\n"
        "assert issubclass(goscope.UnsupportedArchError, goscope.UnsupportedError)\n"
        "assert goscope.GoscopeError.__module__ == 'goscope'\n"
        "print(goscope.__version__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(SITE_DIR / "goscope" / "py.typed").is_file()
    assert Path(SITE_DIR / "goscope" / "_native.pyi").is_file()


def _notes_for(**raw: object) -> list[str]:
    from goscope.binary_info import BinaryInfo
    from goscope.implications import notes

    base: dict[str, object] = {
        "file": "/x",
        "go_version": "go1.24.1",
        "dwarf": "present",
        "symbols": True,
        "pie": False,
        "settings": [],
    }
    base.update(raw)
    return [note.text for note in notes(BinaryInfo(base))]


@pytest.mark.parametrize("version", ["go1.20.14", "go1.28.0", "go1.19rc1", "go2.0.0"])
def test_untested_go_version_is_a_warning(version: str) -> None:
    first = _notes_for(go_version=version)[0]
    assert first.startswith(f"{version} is outside the range goscope is tested with")
    assert "1.21" in first and "1.27" in first


@pytest.mark.parametrize("version", ["go1.21.0", "go1.27.3", "go1.23rc1", "go1.26.6 X:nodwarf5"])
def test_tested_go_version_has_no_warning(version: str) -> None:
    assert not any("tested" in note for note in _notes_for(go_version=version))


def test_notes_follow_build_settings() -> None:
    stripped = _notes_for(
        dwarf="absent",
        symbols=False,
        settings=[["-trimpath", "true"], ["CGO_ENABLED", "1"]],
        main={"path": "example.com/app", "version": "(devel)", "sum": "", "replace": None},
    )
    assert any(n.startswith("No DWARF") and "variable names" in n for n in stripped)
    assert any("`break FUNC`" in n for n in stripped)
    assert any("set substitute-path example.com/app" in n for n in stripped)
    assert any(n.startswith("CGO_ENABLED=1") for n in stripped)
    assert any(n.startswith("Optimized build") for n in stripped)

    unoptimized = _notes_for(settings=[["-gcflags", "all=-N -l"]])
    assert any("every variable and every line" in n for n in unoptimized)
    assert not any(n.startswith("Optimized build") for n in unoptimized)

    godebug = _notes_for(settings=[["DefaultGODEBUG", "a=1,b=0"]])
    assert any("2 GODEBUG default(s)" in n and "not a breakpoint" in n for n in godebug)

    assert any("load bias" in n for n in _notes_for(pie=True))
    assert any("compressed" in n for n in _notes_for(dwarf="compressed"))
