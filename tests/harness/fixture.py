"""What tests see of a built fixture: its files, how it was built and by which toolchain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.paths import fixtures_dir
from tests.harness.toolchains import Toolchain

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Fixture:
    """One program built by one toolchain in one variant, and what running it produced.

    ``core`` is None for programs that are not meant to crash (``live``). ``traceback`` is the
    program's stderr: for crashing programs, the runtime's ``GOTRACEBACK=crash`` output.
    """

    id: str  # "go1.22.10-crash-pie"
    dir: Path
    toolchain: Toolchain
    program: str  # "crash", "panics", "live", "cgo"
    variant: str  # "default", "stripped", "noopt", "pie"
    cgo: bool
    crash: bool
    bin: Path
    core: Path | None
    traceback: Path | None
    stdout: Path | None
    meta: Path

    @property
    def go(self) -> Path:
        """The ``go`` command of the toolchain that built this fixture."""
        return self.toolchain.go

    def meta_json(self) -> dict[str, Any]:
        return json.loads(self.meta.read_text())

    def stdout_text(self) -> str:
        if self.stdout is None:
            raise FileNotFoundError(f"{self.id} has no stdout.txt")
        return self.stdout.read_text()

    def traceback_text(self) -> str:
        if self.traceback is None:
            raise FileNotFoundError(f"{self.id} has no traceback.txt")
        return self.traceback.read_text()

    def facts(self) -> dict[str, Any]:
        """The JSON object the program printed about itself on its ``FIXTURE {...}`` line."""
        for line in self.stdout_text().splitlines():
            if line.startswith("FIXTURE "):
                return json.loads(line[len("FIXTURE ") :])
        raise ValueError(f"{self.id}: no FIXTURE line in {self.stdout}")

    def missing_files(self) -> list[Path]:
        """Files this fixture should have but does not."""
        wanted = [self.bin, self.meta]
        if self.crash:
            wanted += [p for p in (self.core, self.traceback, self.stdout) if p is not None]
            if self.core is None:
                wanted.append(self.dir / "core")
        return [p for p in wanted if not p.is_file()]


def fixture_from_entry(entry: dict[str, Any], root: Path) -> Fixture:
    """A Fixture from one ``fixtures`` entry of manifest.json (paths relative to ROOT)."""
    directory = root / entry["dir"]
    tc = entry["toolchain"]
    toolchain = Toolchain(
        name=tc["name"],
        version=tc["version"],
        goroot=Path(tc["goroot"]),
        go=Path(tc["go"]),
        source=tc["source"],
    )
    crash = bool(entry["crash"])
    return Fixture(
        id=entry["id"],
        dir=directory,
        toolchain=toolchain,
        program=entry["program"],
        variant=entry["variant"],
        cgo=bool(entry["cgo"]),
        crash=crash,
        bin=directory / "bin",
        core=directory / "core" if crash else None,
        traceback=directory / "traceback.txt" if crash else None,
        stdout=directory / "stdout.txt" if crash else None,
        meta=directory / "meta.json",
    )


def load_fixtures(root: Path | None = None) -> list[Fixture]:
    """Every fixture listed in ROOT/manifest.json (ROOT defaults to the fixtures directory)."""
    root = root or fixtures_dir()
    manifest = json.loads((root / MANIFEST).read_text())
    return [fixture_from_entry(entry, root) for entry in manifest["fixtures"]]
