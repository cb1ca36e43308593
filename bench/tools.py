"""The tools the benchmarks run: goscope (its timing binary, CLI and GDB script) and the peers
(``go tool addr2line``, Go's ``runtime-gdb.py``, Delve), each installed or built when missing.

Everything is cached under ``~/.cache/goscope`` (``$GOSCOPE_CACHE``): Delve in ``bin/``, the
benchmarks' inputs in ``bench/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import REPO_ROOT, say

from tests.harness.paths import SITE_DIR, cache_dir
from tests.harness.toolchains import Toolchain, machine_toolchain

DELVE_VERSION = "v1.27.2"
GOSCOPE_BENCH = REPO_ROOT / "target" / "release" / "goscope-bench"
GDB_SCRIPT = REPO_ROOT / "gdb-scripts" / "goscope.py"


class ToolError(RuntimeError):
    """A tool the benchmark needs could not be found, built or installed."""


def bench_cache() -> Path:
    path = cache_dir() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine_go() -> Toolchain:
    """The machine's own Go toolchain, which builds the benchmark's inputs."""
    toolchain = machine_toolchain()
    if toolchain is None:
        raise ToolError("no Go toolchain on this machine (go on PATH or /usr/local/go)")
    return toolchain


def goscope_bench(build: bool = True) -> tuple[Path, str]:
    """target/release/goscope-bench, built first with cargo when BUILD.

    Returns the path and a note: a failed build falls back to an existing binary, and says so.
    """
    note = ""
    if build:
        say("building goscope-bench (cargo build --release -p goscope-core) ...")
        proc = subprocess.run(
            ["cargo", "build", "--release", "-p", "goscope-core", "--bin", "goscope-bench"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            if not GOSCOPE_BENCH.is_file():
                raise ToolError(f"cargo build failed:\n{proc.stderr[-3000:]}")
            note = "cargo build failed; timed the goscope-bench already in target/release"
            say(f"warning: {note}:\n{proc.stderr[-1500:]}")
    if not GOSCOPE_BENCH.is_file():
        raise ToolError(f"{GOSCOPE_BENCH} is missing; run without --no-build")
    return GOSCOPE_BENCH, note


def site_env() -> dict[str, str]:
    """The environment in which ``python3 -m goscope.cli`` runs the build in build/site."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SITE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


def goscope_cli() -> list[str]:
    return [sys.executable, "-m", "goscope.cli"]


def setup_goscope() -> None:
    """Build the wheel and install it into build/site (scripts/setup, idempotent)."""
    say("building goscope into build/site (scripts/setup) ...")
    proc = subprocess.run(
        [str(REPO_ROOT / "scripts" / "setup")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        say(f"warning: scripts/setup failed:\n{(proc.stdout + proc.stderr)[-2000:]}")


def cli_has(subcommand: str) -> bool:
    """Whether ``goscope --help`` lists SUBCOMMAND."""
    try:
        proc = subprocess.run(
            [*goscope_cli(), "--help"],
            env=site_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and any(
        line.split()[:1] == [subcommand] for line in proc.stdout.splitlines()
    )


def gdb_has_go_command(words: str) -> bool:
    """Whether ``help go WORDS`` knows the command once gdb-scripts/goscope.py is sourced."""
    try:
        proc = subprocess.run(
            ["gdb", "--nx", "--batch", "-ex", f"source {GDB_SCRIPT}", "-ex", f"help go {words}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    output = proc.stdout + proc.stderr
    return proc.returncode == 0 and "Undefined" not in output and bool(proc.stdout.strip())


@dataclass(frozen=True)
class Delve:
    path: Path
    version: str


def delve(toolchain: Toolchain) -> Delve:
    """Delve DELVE_VERSION in $CACHE/bin, installed with ``go install`` when missing."""
    bin_dir = cache_dir() / "bin"
    dlv = bin_dir / "dlv"
    version = _delve_version(dlv)
    if version != DELVE_VERSION.lstrip("v"):
        say(f"installing Delve {DELVE_VERSION} into {bin_dir} (go install) ...")
        bin_dir.mkdir(parents=True, exist_ok=True)
        proc = toolchain.run(
            ["install", f"github.com/go-delve/delve/cmd/dlv@{DELVE_VERSION}"],
            extra_env={"GOBIN": str(bin_dir), "CGO_ENABLED": "0"},
            timeout=900,
        )
        if proc.returncode != 0:
            raise ToolError(f"go install dlv@{DELVE_VERSION} failed:\n{proc.stderr[-2000:]}")
        version = _delve_version(dlv)
        if version is None:
            raise ToolError(f"{dlv} was installed but does not run")
    return Delve(dlv, version or "")


def _delve_version(dlv: Path) -> str | None:
    if not dlv.is_file():
        return None
    try:
        proc = subprocess.run(
            [str(dlv), "version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in proc.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def addr2line(toolchain: Toolchain) -> Path:
    """The binary ``go tool addr2line`` runs (built into the Go build cache on first use)."""
    proc = toolchain.run(["tool", "-n", "addr2line"], timeout=600)
    path = Path(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    if proc.returncode != 0 or path is None or not path.is_file():
        raise ToolError(f"go tool -n addr2line failed:\n{proc.stderr[-2000:]}")
    return path


def runtime_gdb_py(toolchain: Toolchain) -> Path:
    path = toolchain.goroot / "src" / "runtime" / "runtime-gdb.py"
    if not path.is_file():
        raise ToolError(f"{path} is missing")
    return path
