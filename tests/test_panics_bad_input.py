"""Broken ``_panic`` and ``_defer`` lists: goscope reads what it can, says what is wrong in one
line, and never hangs — on the command line and in GDB.

Each case damages a copy of the ``panics-default`` core of every toolchain, at addresses found
without goscope: the goroutine's ``g`` from ``runtime.allgs`` (symbol table) and the field
offsets DWARF gives (``Target.layout_offset``):

- the crashing goroutine's first ``_panic`` linked to itself (a cyclic list);
- a parked goroutine's first ``_defer`` linked to itself;
- the crashing goroutine's panic value pointing at unmapped memory (a wild pointer) and at a
  type descriptor that is not one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from goscope import Target

from tests.gdbrun import assert_clean, echo, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain
from tests.test_core_bad_input import (
    TIMEOUT,
    cli,
    crash_default,
    goroutine_gp,
    read_u64,
    write_u64,
)
from tests.test_goroutines import describe
from tests.tracebacks import parse

WILD = 0xDEAD0000


def offset(fx: Fixture, ty: str, field: str) -> int:
    value = Target.open_core(str(fx.core), str(fx.bin)).layout_offset(ty, field)
    assert value is not None, f"{fx.id}: no {ty}.{field} in the layout"
    return int(value)


def damaged(fx: Fixture, tmp_path: Path) -> Path:
    assert fx.core is not None
    core = tmp_path / "core"
    shutil.copyfile(fx.core, core)
    return core


def crashing_gp(fx: Fixture, core: Path) -> tuple[int, int]:
    """The id and ``g`` of the goroutine the runtime's traceback printed first (the one
    that panicked)."""
    first = parse(fx.traceback_text())[0]
    return first.id, goroutine_gp(fx, core, first.id)


def gdb_lines(fx: Fixture, core: Path, commands: list[str]) -> Any:
    steps: list[str] = []
    for i, command in enumerate(commands):
        steps += [echo(f"@@{i}@@"), command]
    steps.append(echo("@@end@@"))
    run = run_gdb(steps, args=[str(fx.bin), str(core)], timeout=TIMEOUT)
    assert_clean(run)
    assert "@@end@@" in run.stdout, run.describe()
    return run


def test_cyclic_panic_list(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    fx = crash_default(fixture_matrix, toolchain, "panics")
    core = damaged(fx, tmp_path)
    goid, gp = crashing_gp(fx, core)
    first = read_u64(core, gp + offset(fx, "runtime.g", "_panic"))
    assert first != 0, f"{fx.id}: goroutine {goid} has no panic"
    write_u64(core, first + offset(fx, "runtime._panic", "link"), first)

    proc = cli("panic", str(core), "--exe", str(fx.bin), "--json", str(goid))
    assert proc.returncode == 1, describe(proc)
    (g,) = json.loads(proc.stdout)["goroutines"]
    assert "cyclic" in (g.get("error") or ""), g
    assert (g.get("error_kind"), g.get("error_addr")) == ("corrupt", first), g
    assert len(g["panics"]) == 1, g["panics"]
    text = cli("panic", str(core), "--exe", str(fx.bin), str(goid))
    assert text.returncode == 1 and "could not be read entirely" in text.stderr, describe(text)
    crash = cli("crash", str(core), "--exe", str(fx.bin))
    assert crash.returncode in (0, 1), describe(crash)

    run = gdb_lines(fx, core, ["go panic", "go crash", f"go bt {goid}"])
    assert "cyclic" in run.stdout, run.describe()


def test_cyclic_defer_list(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    fx = crash_default(fixture_matrix, toolchain, "panics")
    core = damaged(fx, tmp_path)
    # A goroutine with deferred calls pending in `_defer` records (not open-coded ones).
    listing = cli("defer", str(fx.core), "--exe", str(fx.bin), "--json")
    assert listing.returncode == 0, describe(listing)
    holder = next(
        g
        for g in json.loads(listing.stdout)["goroutines"]
        if sum(1 for d in g["defers"] if d["kind"] in ("heap", "stack")) >= 2
    )
    gp = goroutine_gp(fx, core, holder["id"])
    first = read_u64(core, gp + offset(fx, "runtime.g", "_defer"))
    assert first != 0
    write_u64(core, first + offset(fx, "runtime._defer", "link"), first)

    proc = cli("defer", str(core), "--exe", str(fx.bin), "--json", str(holder["id"]))
    assert proc.returncode == 1, describe(proc)
    (g,) = json.loads(proc.stdout)["goroutines"]
    assert "cyclic" in (g.get("error") or ""), g
    assert (g.get("error_kind"), g.get("error_addr")) == ("corrupt", first), g
    assert 1 <= len(g["defers"]) < len(holder["defers"]) + 1, g["defers"]
    listing_after = cli("goroutines", str(core), "--exe", str(fx.bin), "--json")
    assert listing_after.returncode == 1, describe(listing_after)

    run = gdb_lines(fx, core, [f"go defer {holder['id']}", "go defer all"])
    assert "cyclic" in run.stdout, run.describe()


def test_wild_panic_value(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    fx = crash_default(fixture_matrix, toolchain, "panics")
    for field in ("arg.data", "arg._type"):
        core = damaged(fx, tmp_path)
        goid, gp = crashing_gp(fx, core)
        first = read_u64(core, gp + offset(fx, "runtime.g", "_panic"))
        write_u64(core, first + offset(fx, "runtime._panic", field), WILD)

        proc = cli("panic", str(core), "--exe", str(fx.bin), "--json", str(goid))
        assert proc.returncode in (0, 1), describe(proc)
        (g,) = json.loads(proc.stdout)["goroutines"]
        innermost = g["panics"][0]
        assert innermost.get("error") or not innermost.get("exact"), innermost
        if innermost.get("error"):
            # The decoder says what kind of failure it was and, for memory that is not
            # there, where.
            assert innermost.get("error_kind") in ("unreadable", "corrupt"), innermost
            if innermost["error_kind"] == "unreadable":
                assert WILD <= innermost.get("error_addr", -1) < WILD + 0x1000, innermost
        assert len(g["panics"]) >= 2, g["panics"]
        text = cli("panic", str(core), "--exe", str(fx.bin), str(goid))
        assert "Traceback" not in text.stderr, describe(text)
        run = gdb_lines(fx, core, ["go panic", "go crash"])
        assert "panic:" in run.stdout, run.describe()
