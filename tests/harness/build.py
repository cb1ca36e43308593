"""Build the fixture matrix: every toolchain x every build variant x every fixture program.

Each program lives in ``tests/fixtures/programs/<name>/`` (its own Go module) with a
``fixture.json`` saying whether it crashes, whether it uses cgo and which variants to build::

    {"crash": true, "cgo": false, "variants": ["default", "stripped", "noopt", "pie"]}

Every fixture goes to ``$GOSCOPE_FIXTURES/<toolchain>/<program>-<variant>/``: ``bin``, and for
crashing programs ``core``, ``traceback.txt`` (stderr: the runtime's ``GOTRACEBACK=crash``
output) and ``stdout.txt``; ``meta.json`` records how it was built and run. A fixture whose
meta.json carries the current inputs hash (program sources, toolchain, variant, harness version)
is not rebuilt. ``manifest.json`` at the top lists every fixture, and is only written when the
whole matrix is complete: any fixture that cannot be built, or that crashes without leaving a
core, makes the build fail.

``python3 -m tests.harness.build [-j N] [--only PATTERN]`` runs it from the shell.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from tests.harness.capture import CaptureError, capture
from tests.harness.fixture import MANIFEST
from tests.harness.paths import PROGRAMS_DIR, file_lock, fixtures_dir
from tests.harness.toolchains import Toolchain, all_toolchains

# Bump when a change to the harness changes what a fixture directory contains.
HARNESS_VERSION = "1"

VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "stripped": ("-trimpath", "-ldflags=-s -w"),
    "noopt": ("-gcflags=all=-N -l",),
    "pie": ("-buildmode=pie",),
}

# Fixtures are built inside the project's git checkout; VCS stamping would make their build
# info depend on the checkout's state (and fails in a repository without commits).
COMMON_BUILD_FLAGS: tuple[str, ...] = ("-buildvcs=false",)

BUILD_TIMEOUT = 900
RUN_TIMEOUT = 60

# Variables of the calling environment that would change how a fixture runs.
_RUN_SCRUBBED_ENV = ("GOTRACEBACK", "GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT")


class BuildError(RuntimeError):
    """At least one fixture could not be built."""


@dataclass(frozen=True)
class Program:
    name: str
    dir: Path
    crash: bool
    cgo: bool
    variants: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """One fixture to build: PROGRAM built by TOOLCHAIN in VARIANT."""

    toolchain: Toolchain
    program: Program
    variant: str
    inputs_hash: str

    @property
    def id(self) -> str:
        return f"{self.toolchain.name}-{self.program.name}-{self.variant}"

    @property
    def rel_dir(self) -> str:
        return f"{self.toolchain.name}/{self.program.name}-{self.variant}"


def programs() -> list[Program]:
    """Every fixture program, in name order."""
    result = []
    for directory in sorted(PROGRAMS_DIR.iterdir()):
        config_path = directory / "fixture.json"
        if not (directory / "go.mod").is_file() or not config_path.is_file():
            continue
        config = json.loads(config_path.read_text())
        variants = tuple(config.get("variants", list(VARIANTS)))
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            raise BuildError(f"{config_path}: unknown variants {unknown}")
        result.append(
            Program(
                name=directory.name,
                dir=directory,
                crash=bool(config.get("crash", True)),
                cgo=bool(config.get("cgo", False)),
                variants=variants,
            )
        )
    return result


def _source_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def plan(toolchains: Sequence[Toolchain] | None = None) -> list[Job]:
    """Every fixture of the matrix, ordered so that jobs running side by side on a cold build
    cache mostly need different standard-library builds."""
    toolchains = list(toolchains) if toolchains is not None else all_toolchains()
    jobs = []
    for program in programs():
        sources = _source_digest(program.dir)
        for variant in program.variants:
            for toolchain in toolchains:
                inputs = {
                    "harness_version": HARNESS_VERSION,
                    "program": program.name,
                    "sources": sources,
                    "toolchain": toolchain.name,
                    "go_version": toolchain.version,
                    "goroot": str(toolchain.goroot),
                    "variant": variant,
                    "flags": [*COMMON_BUILD_FLAGS, *VARIANTS[variant]],
                    "cgo": program.cgo,
                    "crash": program.crash,
                }
                inputs_hash = hashlib.sha256(
                    json.dumps(inputs, sort_keys=True).encode()
                ).hexdigest()
                jobs.append(Job(toolchain, program, variant, inputs_hash))
    return jobs


def _is_current(job: Job, root: Path) -> bool:
    directory = root / job.rel_dir
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("inputs_hash") != job.inputs_hash or not (directory / "bin").is_file():
        return False
    if job.program.crash:
        return all((directory / name).is_file() for name in ("core", "traceback.txt", "stdout.txt"))
    return True


def _run_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _RUN_SCRUBBED_ENV}


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def build_one(job: Job, root: Path) -> dict[str, Any]:
    """Build (and for crashing programs, run) one fixture; return its meta.json content."""
    directory = root / job.rel_dir
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    started = time.monotonic()

    flags = [*COMMON_BUILD_FLAGS, *VARIANTS[job.variant]]
    argv = [str(job.toolchain.go), "build", *flags, "-o", str(directory / "bin"), "."]
    build_env = {"CGO_ENABLED": "1" if job.program.cgo else "0"}
    env = job.toolchain.env(build_env)
    with open(directory / "build.log", "wb") as log:
        try:
            proc = subprocess.run(
                argv,
                cwd=job.program.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BuildError(f"{job.id}: go build timed out after {BUILD_TIMEOUT}s") from None
    if proc.returncode != 0:
        raise BuildError(
            f"{job.id}: go build exited with {proc.returncode}:\n{_tail(directory / 'build.log')}"
        )

    meta: dict[str, Any] = {
        "id": job.id,
        "toolchain": job.toolchain.name,
        "go_version": job.toolchain.version,
        "goroot": str(job.toolchain.goroot),
        "go": str(job.toolchain.go),
        "program": job.program.name,
        "variant": job.variant,
        "cgo": job.program.cgo,
        "crash": job.program.crash,
        "build": {
            "argv": argv,
            "cwd": str(job.program.dir),
            "flags": flags,
            "env": {
                **build_env,
                **{k: env[k] for k in ("GOROOT", "GOTOOLCHAIN", "GOCACHE", "GOPATH", "GOMODCACHE")},
            },
            "seconds": round(time.monotonic() - started, 3),
        },
        "run": None,
        "exit_status": None,
        "signal": None,
        "core_source": None,
        "inputs_hash": job.inputs_hash,
        "harness_version": HARNESS_VERSION,
    }

    if job.program.crash:
        try:
            result = capture(
                [str(directory / "bin")], directory, env=_run_env(), timeout=RUN_TIMEOUT
            )
        except CaptureError as exc:
            raise BuildError(f"{job.id}: {exc}") from None
        traceback = (directory / "traceback.txt").read_text(errors="replace")
        if "goroutine 1 " not in traceback:
            raise BuildError(f"{job.id}: no goroutine traceback in traceback.txt")
        stdout = (directory / "stdout.txt").read_text(errors="replace")
        if "\nFIXTURE " not in "\n" + stdout:
            raise BuildError(f"{job.id}: no FIXTURE line in stdout.txt")
        run = asdict(result)
        run["argv"] = ["./bin"]
        run["core"] = "core"
        meta["run"] = run
        meta["exit_status"] = result.exit_status
        meta["signal"] = result.signal
        meta["core_source"] = result.core_source

    meta["seconds"] = round(time.monotonic() - started, 3)
    (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _manifest(jobs: Sequence[Job], toolchains: Sequence[Toolchain]) -> dict[str, Any]:
    return {
        "harness_version": HARNESS_VERSION,
        "toolchains": [t.to_json() for t in toolchains],
        "fixtures": [
            {
                "id": job.id,
                "dir": job.rel_dir,
                "toolchain": job.toolchain.to_json(),
                "program": job.program.name,
                "variant": job.variant,
                "cgo": job.program.cgo,
                "crash": job.program.crash,
                "inputs_hash": job.inputs_hash,
            }
            for job in jobs
        ],
    }


def manifest_is_current(root: Path | None = None) -> bool:
    """Whether ROOT/manifest.json describes the current matrix and every fixture is built."""
    root = root or fixtures_dir()
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    jobs = plan()
    listed = {(e["id"], e["inputs_hash"]) for e in manifest.get("fixtures", [])}
    if manifest.get("harness_version") != HARNESS_VERSION:
        return False
    if listed != {(job.id, job.inputs_hash) for job in jobs}:
        return False
    return all(_is_current(job, root) for job in jobs)


def build(
    jobs_parallel: int | None = None,
    only: str | None = None,
    root: Path | None = None,
    log: bool = True,
) -> Path:
    """Build every fixture that is missing or out of date; return the fixtures directory.

    ONLY restricts the build to fixture ids matching a shell pattern (``go1.22*-crash-*``).
    Raises BuildError when any fixture fails; manifest.json is then removed. Without ONLY,
    or when the restricted build leaves the whole matrix complete, manifest.json is written.
    """
    root = root or fixtures_dir()
    parallel = jobs_parallel or os.cpu_count() or 1

    def say(message: str) -> None:
        if log:
            print(message, file=sys.stderr, flush=True)

    toolchains = all_toolchains()
    jobs = plan(toolchains)
    wanted = [j for j in jobs if only is None or fnmatch.fnmatchcase(j.id, only)]
    if only is not None and not wanted:
        raise BuildError(f"no fixture matches {only!r}")

    with file_lock(root / ".build.lock"):
        todo = [j for j in wanted if not _is_current(j, root)]
        say(
            f"fixtures: {len(jobs)} in the matrix, {len(wanted)} selected, "
            f"{len(wanted) - len(todo)} up to date, building {len(todo)} with -j {parallel} "
            f"into {root}"
        )
        started = time.monotonic()
        failures: list[str] = []
        if todo:
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                futures = {pool.submit(build_one, job, root): job for job in todo}
                for done, future in enumerate(as_completed(futures), 1):
                    job = futures[future]
                    try:
                        meta = future.result()
                    except Exception as exc:  # noqa: BLE001 - every failure is reported below
                        failures.append(f"{job.id}: {exc}")
                        say(f"[{done}/{len(todo)}] FAILED {job.id}: {exc}")
                        continue
                    how = f", core from {meta['core_source']}" if meta["crash"] else ""
                    say(f"[{done}/{len(todo)}] {job.id} ({meta['seconds']:.1f}s{how})")
        manifest_path = root / MANIFEST
        if failures:
            manifest_path.unlink(missing_ok=True)
            raise BuildError(
                f"{len(failures)} of {len(todo)} fixtures failed:\n" + "\n".join(failures)
            )
        incomplete = [j.id for j in jobs if not _is_current(j, root)]
        if incomplete:
            manifest_path.unlink(missing_ok=True)
            say(f"manifest.json not written: {len(incomplete)} fixtures of the matrix not built")
        else:
            tmp = manifest_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(_manifest(jobs, toolchains), indent=2) + "\n")
            tmp.rename(manifest_path)
        say(f"fixtures: done in {time.monotonic() - started:.1f}s")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.harness.build",
        description="Build every fixture program with every toolchain and variant, run the "
        "crashing ones and keep their cores.",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=os.cpu_count(), help="fixtures built in parallel"
    )
    parser.add_argument(
        "--only", metavar="PATTERN", help="only fixture ids matching this shell pattern"
    )
    parser.add_argument("--list", action="store_true", help="list the matrix and exit")
    args = parser.parse_args(argv)
    if args.list:
        for job in plan():
            print(f"{job.id}\t{job.rel_dir}")
        return 0
    try:
        build(args.jobs, args.only)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
