"""Well-known locations: the repository, the download/build cache and the fixtures directory."""

from __future__ import annotations

import os
from pathlib import Path

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
