"""Well-known locations: the repository, the download/build cache and the fixtures directory."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAMS_DIR = REPO_ROOT / "tests" / "fixtures" / "programs"
SITE_DIR = REPO_ROOT / "build" / "site"


def cache_dir() -> Path:
    """``$GOSCOPE_CACHE``, or ``~/.cache/goscope``."""
    env = os.environ.get("GOSCOPE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "goscope"


def toolchains_dir() -> Path:
    return cache_dir() / "toolchains"


def fixtures_dir() -> Path:
    """``$GOSCOPE_FIXTURES``, or ``<repo>/build/fixtures``."""
    env = os.environ.get("GOSCOPE_FIXTURES")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "build" / "fixtures"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock held on `path` (created if missing), so that concurrent runs of the
    harness install toolchains and build fixtures one at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
