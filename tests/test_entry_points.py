"""The entry points as the README documents them, run the way a user runs them:

- ``build/site/bin/goscope`` from another directory, with no PYTHONPATH;
- the wheel from ``build/wheels`` installed into a fresh virtualenv: ``goscope`` on its PATH,
  and ``goscope gdb-init`` printing the line with which GDB (whose Python is not the
  virtualenv's) loads that installation.

The oracles are the runtime's own traceback (goroutine ids and states) and ``go version -m``.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

from tests.gdbrun import PANIC_MARKERS, TRACEBACK_MARKERS, assert_clean, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.oracles import version_m
from tests.harness.paths import REPO_ROOT, SITE_DIR
from tests.test_cli import describe
from tests.test_goroutines import listed_ids
from tests.tracebacks import parse_by_id

WHEELS = REPO_ROOT / "build" / "wheels"
SITE_COMMAND = SITE_DIR / "bin" / "goscope"


def _user_env() -> dict[str, str]:
    """The environment of a user's shell: nothing pointing Python at the build."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GOSCOPE_SITE")}
    env.pop("NO_COLOR", None)
    return env


def _run(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env if env is not None else _user_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    for marker in TRACEBACK_MARKERS + PANIC_MARKERS + ("ModuleNotFoundError",):
        assert marker not in proc.stdout + proc.stderr, describe(proc)
    return proc


def _by_toolchain(fixtures: list[Fixture], program: str, variant: str) -> list[Fixture]:
    """One fixture per toolchain: `program` built in `variant`."""
    chosen = [f for f in fixtures if f.program == program and f.variant == variant and f.core]
    assert chosen, f"no {program}-{variant} fixture in the matrix"
    return chosen


def _assert_goroutines_match(fx: Fixture, stdout: str) -> None:
    assert fx.core is not None
    oracle = parse_by_id(fx.traceback_text())
    document = json.loads(stdout)
    shown = {g["id"]: g for g in document["goroutines"]}
    assert sorted(shown) == sorted(oracle), fx.id
    for goid, block in oracle.items():
        state = shown[goid]["wait_reason"] or shown[goid]["status"]
        assert block.status in (state, shown[goid]["status"]), (fx.id, goid, block.state)


def test_site_command_from_another_directory(fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    assert SITE_COMMAND.is_file(), "scripts/setup did not install build/site/bin/goscope"
    proc = _run([str(SITE_COMMAND), "--version"], tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.startswith("goscope "), describe(proc)
    for fx in _by_toolchain(fixture_matrix, "crash", "stripped"):
        assert fx.core is not None
        proc = _run(
            [str(SITE_COMMAND), "goroutines", str(fx.core), "--exe", str(fx.bin), "--json"],
            tmp_path,
        )
        assert proc.returncode == 0, describe(proc)
        _assert_goroutines_match(fx, proc.stdout)


def test_site_command_through_a_link(tmp_path: Path) -> None:
    # A user's ~/bin/goscope -> checkout/build/site/bin/goscope.
    link = tmp_path / "bin" / "goscope"
    link.parent.mkdir()
    link.symlink_to(SITE_COMMAND)
    proc = _run([str(link), "--help"], tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "SUBCOMMAND" in proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel from build/wheels installed; its bin directory."""
    wheels = sorted(WHEELS.glob("goscope-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {WHEELS}, found {wheels}"
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(root)
    bin_dir = root / "bin"
    proc = _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheels[0])],
        root,
    )
    assert proc.returncode == 0, describe(proc)
    return bin_dir


def _venv_env(bin_dir: Path) -> dict[str, str]:
    env = _user_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def test_wheel_gives_goscope_on_path(
    installed: Path, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    env = _venv_env(installed)
    for fx in _by_toolchain(fixture_matrix, "crash", "default"):
        assert fx.core is not None
        proc = _run(
            ["goscope", "goroutines", str(fx.core), "--exe", str(fx.bin), "--json"], tmp_path, env
        )
        assert proc.returncode == 0, describe(proc)
        _assert_goroutines_match(fx, proc.stdout)
        proc = _run(["goscope", "info", str(fx.bin), "--json"], tmp_path, env)
        assert proc.returncode == 0, describe(proc)
        assert json.loads(proc.stdout)["go_version"] == version_m(fx.toolchain, fx.bin).go_version


def test_gdb_init_loads_the_installed_package(
    installed: Path, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    env = _venv_env(installed)
    proc = _run(["goscope", "gdb-init"], tmp_path, env)
    assert proc.returncode == 0, describe(proc)
    line = proc.stdout.strip()
    assert line.startswith("source "), describe(proc)
    script = Path(line[len("source ") :])
    assert script.is_file() and str(script).startswith(str(installed.parent)), line
    fx = _by_toolchain(fixture_matrix, "crash", "stripped")[0]
    assert fx.core is not None
    oracle = parse_by_id(fx.traceback_text())
    # GDB's embedded Python is the system one, which knows nothing of the virtualenv; the
    # package is found through the sourced line alone.
    run = run_gdb(
        [line, "python import goscope; print('from', goscope.__file__)", "go goroutines"],
        source=False,
        args=[str(fx.bin), str(fx.core)],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ""},
    )
    assert_clean(run)
    assert f"from {installed.parent}" in run.stdout, run.describe()
    assert sorted(listed_ids(run.stdout)) == sorted(oracle), run.describe()


def test_gdb_init_json(installed: Path, tmp_path: Path) -> None:
    proc = _run(["goscope", "gdb-init", "--json"], tmp_path, _venv_env(installed))
    assert proc.returncode == 0, describe(proc)
    assert Path(json.loads(proc.stdout)["source"]).name == "gdbinit.py"


def test_gdb_init_takes_no_target_options(installed: Path, tmp_path: Path) -> None:
    """`gdb-init` reads no target: --exe and --color are refused, not silently ignored."""
    for option in (["--exe", "bin"], ["--color", "always"]):
        proc = _run(["goscope", "gdb-init", *option], tmp_path, _venv_env(installed))
        assert proc.returncode == 2, describe(proc)
        assert "unrecognized arguments" in proc.stderr, describe(proc)
