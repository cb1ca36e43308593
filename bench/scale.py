"""The ``scale`` fixture program (tests/fixtures/programs/scale), built once with the machine's
Go in the default variant, and its crash cores with N parked goroutines.

Everything lives in ``~/.cache/goscope/bench/scale-<go version>-<source hash>/``: ``bin``, and
``cores/<N>/`` with ``core``, ``traceback.txt`` (the runtime's own listing of every goroutine),
``stdout.txt`` (the program's FIXTURE line) and ``meta.json``. A changed program or toolchain
gets a new directory (and the stale one is removed); an existing complete one is reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from measure import REPO_ROOT, count_matches, say
from tools import ToolError, bench_cache

from tests.harness.build import COMMON_BUILD_FLAGS
from tests.harness.capture import CaptureError, capture
from tests.harness.toolchains import Toolchain

PROGRAM_DIR = REPO_ROOT / "tests" / "fixtures" / "programs" / "scale"
CAPTURE_TIMEOUT = 900.0
# The first line of each goroutine in a Go traceback.
GOROUTINE_HEADER = rb"^goroutine \d+ "


@dataclass(frozen=True)
class ScaleCore:
    n: int
    bin: Path
    core: Path
    traceback: Path
    runtime_count: int  # goroutines in the runtime's own traceback


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in PROGRAM_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(PROGRAM_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_dir(toolchain: Toolchain) -> Path:
    return bench_cache() / f"scale-{toolchain.name}-{_source_hash()}"


def binary(toolchain: Toolchain) -> Path:
    """The scale program built by TOOLCHAIN (default variant), building it when missing."""
    directory = build_dir(toolchain)
    bin_path = directory / "bin"
    if bin_path.is_file():
        return bin_path
    # Builds of older sources by the same toolchain, and their cores, are stale.
    for stale in bench_cache().glob(f"scale-{toolchain.name}-*"):
        if stale != directory and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    say(f"building the scale program with {toolchain.version} ...")
    tmp = directory / "bin.partial"
    proc = subprocess.run(
        [str(toolchain.go), "build", *COMMON_BUILD_FLAGS, "-o", str(tmp), "."],
        cwd=PROGRAM_DIR,
        env=toolchain.env({"CGO_ENABLED": "0"}),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolError(f"go build of {PROGRAM_DIR} failed:\n{proc.stderr[-3000:]}")
    tmp.rename(bin_path)
    return bin_path


def count_traceback_goroutines(path: Path) -> int:
    """The ``goroutine N [...]:`` headers in a GOTRACEBACK=crash listing."""
    return count_matches(path, GOROUTINE_HEADER)


def core(toolchain: Toolchain, n: int) -> ScaleCore:
    """A core of the scale program with N parked goroutines, captured when missing."""
    bin_path = binary(toolchain)
    directory = build_dir(toolchain) / "cores" / str(n)
    meta_path = directory / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        meta = None
    if meta is None or not (directory / "core").is_file():
        say(f"capturing a core with {n} goroutines ...")
        try:
            result = capture([str(bin_path), str(n)], directory, timeout=CAPTURE_TIMEOUT)
        except CaptureError as exc:
            raise ToolError(f"capturing the scale program with {n} goroutines: {exc}") from None
        fixture = _fixture_line(directory / "stdout.txt")
        if fixture.get("n") != n:
            raise ToolError(f"{directory}/stdout.txt: no FIXTURE line for n={n}")
        meta = {
            "n": n,
            "go_version": fixture.get("go_version"),
            "parked": fixture.get("parked"),
            "core_source": result.core_source,
            "capture_seconds": result.seconds,
            "runtime_count": count_traceback_goroutines(directory / "traceback.txt"),
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return ScaleCore(
        n=n,
        bin=bin_path,
        core=directory / "core",
        traceback=directory / "traceback.txt",
        runtime_count=int(meta["runtime_count"]),
    )


def _fixture_line(path: Path) -> dict[str, object]:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("FIXTURE "):
            value = json.loads(line[len("FIXTURE ") :])
            if isinstance(value, dict):
                return value
    return {}
