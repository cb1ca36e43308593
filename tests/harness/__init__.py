"""Test harness: Go toolchains, fixture programs, their builds and crash cores.

The harness installs every supported Go toolchain (``toolchains``), builds every fixture program
under ``tests/fixtures/programs`` with each toolchain and build variant (``build``), runs the
crashing ones with ``GOTRACEBACK=crash`` to capture the runtime's own traceback and a core file
(``capture``), and describes the results to the tests (``fixture``).

``Fixture``, ``load_fixtures``, ``Toolchain`` and ``all_toolchains`` are importable from here;
they are loaded lazily so that ``python3 -m tests.harness.<module>`` runs cleanly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Fixture", "Toolchain", "all_toolchains", "load_fixtures"]


def __getattr__(name: str) -> Any:
    if name in ("Fixture", "load_fixtures"):
        from tests.harness import fixture

        return getattr(fixture, name)
    if name in ("Toolchain", "all_toolchains"):
        from tests.harness import toolchains

        return getattr(toolchains, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
