"""pytest configuration: fixture matrix, parametrization and access to the goscope package.

Tests ask for any of these arguments and are parametrized over the whole matrix:

- ``fixture``: every fixture with a core (crashing programs), ids like ``go1.22.10-crash-pie``;
- ``fixture_binary``: every fixture binary, including programs that do not crash (``live``);
- ``toolchain``: every supported Go toolchain;
- ``panics_fixture`` / ``fatal_fixture`` / ``deadlocks_fixture``: the builds of the panics
  program / of the ``fatal-*`` programs / of the deadlocks program.
- ``crash_core``: every build of the crash program, the one that records its memstats.

``fixture_matrix`` gives the whole list at once.

The fixtures are built once per test run: if ``$GOSCOPE_FIXTURES/manifest.json`` (default
``build/fixtures``) is missing or out of date, the builder runs first. A fixture that is missing
or incomplete is a test failure, never a skip.

``build/site`` (where ``scripts/setup`` installs the goscope wheel) is put on ``sys.path`` so
that ``import goscope`` and ``import goscope._native`` find the build of this checkout.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness.build import build, manifest_is_current  # noqa: E402
from tests.harness.fixture import Fixture, load_fixtures  # noqa: E402
from tests.harness.paths import SITE_DIR, fixtures_dir  # noqa: E402
from tests.harness.toolchains import Toolchain, all_toolchains  # noqa: E402

if SITE_DIR.is_dir() and str(SITE_DIR) not in sys.path:
    sys.path.insert(0, str(SITE_DIR))

_FIXTURES: list[Fixture] | None = None


def all_fixtures(config: pytest.Config) -> list[Fixture]:
    """Every fixture of the matrix, building whatever is missing or stale first (once)."""
    global _FIXTURES
    if _FIXTURES is None:
        root = fixtures_dir()
        if not manifest_is_current(root):
            # Let the builder's progress through to the terminal: it can take minutes.
            capture = config.pluginmanager.getplugin("capturemanager")
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                build(root=root)
        _FIXTURES = load_fixtures(root)
    return _FIXTURES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fixture" in metafunc.fixturenames:
        cores = [f for f in all_fixtures(metafunc.config) if f.crash]
        metafunc.parametrize("fixture", cores, ids=[f.id for f in cores], indirect=True)
    # Fixtures of one family: the panics program, the fatal-error programs.
    for name, wanted in (
        ("panics_fixture", lambda f: f.program == "panics"),
        ("fatal_fixture", lambda f: f.program.startswith("fatal-")),
        ("deadlocks_fixture", lambda f: f.program == "deadlocks"),
    ):
        if name in metafunc.fixturenames:
            chosen = [f for f in all_fixtures(metafunc.config) if f.crash and wanted(f)]
            metafunc.parametrize(name, chosen, ids=[f.id for f in chosen], indirect=True)
    if "crash_core" in metafunc.fixturenames:
        cores = [f for f in all_fixtures(metafunc.config) if f.crash and f.program == "crash"]
        if not cores:
            raise RuntimeError("the fixture matrix has no build of the crash program")
        metafunc.parametrize("crash_core", cores, ids=[f.id for f in cores])
    if "fixture_binary" in metafunc.fixturenames:
        binaries = all_fixtures(metafunc.config)
        metafunc.parametrize(
            "fixture_binary", binaries, ids=[f.id for f in binaries], indirect=True
        )
    if "toolchain" in metafunc.fixturenames:
        toolchains = all_toolchains()
        metafunc.parametrize(
            "toolchain", toolchains, ids=[t.name for t in toolchains], indirect=True
        )


def _complete(fx: Fixture) -> Fixture:
    missing = fx.missing_files()
    if missing:
        pytest.fail(f"fixture {fx.id} is incomplete, missing: {', '.join(map(str, missing))}")
    return fx


@pytest.fixture
def fixture(request: pytest.FixtureRequest) -> Fixture:
    """A crashing fixture program's binary, core, traceback and stdout."""
    return _complete(request.param)


@pytest.fixture
def panics_fixture(request: pytest.FixtureRequest) -> Fixture:
    """A build of the panics program, with its core."""
    return _complete(request.param)


@pytest.fixture
def fatal_fixture(request: pytest.FixtureRequest) -> Fixture:
    """A build of one of the fatal-error programs, with its core."""
    return _complete(request.param)


@pytest.fixture
def deadlocks_fixture(request: pytest.FixtureRequest) -> Fixture:
    """A build of the deadlocks program, with its core."""
    return _complete(request.param)


@pytest.fixture
def fixture_binary(request: pytest.FixtureRequest) -> Fixture:
    """Any fixture program's binary (core, traceback and stdout only if it crashes)."""
    return _complete(request.param)


@pytest.fixture
def toolchain(request: pytest.FixtureRequest) -> Toolchain:
    """A supported Go toolchain."""
    return request.param


@pytest.fixture(scope="session")
def fixture_matrix(pytestconfig: pytest.Config) -> list[Fixture]:
    """Every fixture of the matrix, for tests that look at several at once."""
    return all_fixtures(pytestconfig)


@pytest.fixture(scope="session")
def native() -> ModuleType:
    """``goscope._native``; a test that needs it fails (not skips) when it cannot be imported."""
    try:
        import goscope._native as module
    except ImportError as exc:
        pytest.fail(
            f"cannot import goscope._native ({exc}); build it with scripts/setup, which "
            f"installs the package into {SITE_DIR}"
        )
    return module
