"""``goscope heap`` and ``go heap``: a walk of every heap arena and span of a core.

Oracle: the crash program records what ``runtime.ReadMemStats`` returned just before it crashed
(``memstats`` on its FIXTURE line), after one ``runtime.GC()`` and with the GC then switched
off, so nothing is freed between that record and the core. The walk counts what the spans
hold (allocation bits, span states, the page allocator's bitmaps), independently of the
runtime's counters, and must agree with the record within 5% on every toolchain and variant
(and not fall below it where nothing can have been freed since):

- ``HeapInuse`` (bytes of in-use spans), ``HeapObjects`` and ``HeapAlloc`` (objects whose
  allocation bit is set or whose index is below the span's ``freeindex``; large objects as
  whole spans), ``StackInuse`` (bytes of manual spans);
- ``HeapIdle``, not recorded itself but ``HeapSys - HeapInuse`` (free pages of the page
  allocator, the pages cached by Ps, go1.26's scavenged padding below the heap base).

On the fixture cores the spans in use, the stacks and the idle pages agree exactly, and the
objects exceed the record by the two or three small objects of the panic path
(``preprintpanics``: a string and the interface holding it); the 5% bound covers the runtime's
own work between the record and the crash (test_triage_sched.py lists it).

Also: the text of ``goscope heap`` and of ``go heap`` in GDB (sessions in parallel) shows the
figures of the JSON; a core cut among its span structs gives partial totals and warnings, and
span structs overwritten with a state no span has are reported, never a crash or a traceback.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from goscope import Target

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain
from tests.test_core_bad_input import crash_default, file_offset, read_u64, symbol
from tests.test_goroutines import describe, run_goscope

BOUND = 0.05
NOT_FREED = ("HeapInuse", "HeapObjects", "HeapAlloc", "StackInuse")
TEXT, JSON, END = "@@text@@", "@@json@@", "@@end@@"
FIGURES = {
    "in use": "heap_inuse",
    "allocated": "heap_alloc",
    "idle": "heap_idle",
    "released": "heap_released",
    "stacks": "stack_inuse",
    "large": "large_bytes",
}


def heap(fx: Fixture, core: Path | None = None, *extra: str) -> Any:
    return run_goscope("heap", str(core or fx.core), "--exe", str(fx.bin), *extra)


def heap_json(fx: Fixture) -> dict[str, Any]:
    proc = heap(fx, None, "--json")
    assert proc.returncode == 0, describe(proc)
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def figures(text: str) -> dict[str, int]:
    """The byte counts of the summary lines (`in use:   516096 bytes ...`)."""
    found = {}
    for name, key in FIGURES.items():
        match = re.search(rf"^\s*{name}:\s+(\d+) bytes", text, re.MULTILINE)
        if match:
            found[key] = int(match.group(1))
    return found


def test_totals_agree_with_read_memstats(crash_core: Fixture) -> None:
    """HeapInuse, HeapObjects, HeapAlloc, StackInuse and HeapIdle within 5% of the record."""
    recorded = crash_core.facts()["memstats"]
    walk = heap_json(crash_core)
    assert walk["warnings"] == [], walk["warnings"]
    assert walk["found"] == ("scan" if crash_core.variant == "stripped" else "symbol")
    totals = walk["totals"]
    got = {
        "HeapInuse": totals["heap_inuse"],
        "HeapObjects": totals["heap_objects"],
        "HeapAlloc": totals["heap_alloc"],
        "StackInuse": totals["stack_inuse"],
        "HeapIdle": totals["heap_idle"],
    }
    expected = dict(recorded)
    expected["HeapIdle"] = recorded["HeapSys"] - recorded["HeapInuse"]
    # Nothing is freed after the record (the GC is off, stacks go back to the heap only in
    # a GC), so what is in use or allocated cannot be below it; idle pages may be taken.
    low = {name: expected[name] * (1 - BOUND) for name in got}
    low.update({name: expected[name] for name in NOT_FREED})
    wrong = {
        name: (value, expected[name])
        for name, value in got.items()
        if not (isinstance(value, int) and low[name] <= value <= expected[name] * (1 + BOUND))
    }
    assert not wrong, f"{crash_core.id}: goscope vs ReadMemStats: {wrong}"
    # The released pages are idle pages.
    assert 0 <= totals["heap_released"] <= totals["heap_idle"], totals
    classes = walk["size_classes"]
    assert [c["bytes"] for c in classes] == sorted((c["bytes"] for c in classes), reverse=True)
    for c in classes:
        assert c["objects"] <= c["slots"] and c["bytes"] == c["objects"] * c["size"], c


@pytest.fixture(scope="module")
def gdb_runs(request: pytest.FixtureRequest) -> dict[str, GdbRun]:
    """``go heap`` and ``go heap --json`` in GDB on every crash core, sessions in parallel."""
    from conftest import all_fixtures

    cores = [f for f in all_fixtures(request.config) if f.crash and f.program == "crash"]
    commands = [echo(TEXT), "go heap --top 3", echo(JSON), "go heap --json", echo(END)]

    def session(fx: Fixture) -> GdbRun:
        return run_gdb(commands, args=[str(fx.bin), str(fx.core)], timeout=300)

    runs = in_parallel([lambda fx=fx: session(fx) for fx in cores])
    return {fx.id: run for fx, run in zip(cores, runs)}


def between(output: str, start: str, end: str) -> str:
    return output.split(start + "\n", 1)[1].split(end + "\n", 1)[0]


def test_text_and_gdb_show_the_json(crash_core: Fixture, gdb_runs: dict[str, GdbRun]) -> None:
    """`goscope heap`, `go heap` and `go heap --json` print the figures of `goscope heap
    --json`, and the size classes holding the most bytes, as many as --top says."""
    walk = heap_json(crash_core)
    totals = walk["totals"]
    expected = {key: totals[key] for key in FIGURES.values()}
    text = heap(crash_core, None, "--top", "3")
    assert text.returncode == 0, describe(text)
    assert figures(text.stdout) == expected, text.stdout
    top = [c["class"] for c in walk["size_classes"][:3]]
    rows = re.findall(r"^\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+$", text.stdout, re.MULTILINE)
    assert [int(r) for r in rows] == top, text.stdout

    run = gdb_runs[crash_core.id]
    assert_clean(run)
    gdb_text = between(run.stdout, TEXT, JSON)
    assert figures(gdb_text) == expected, run.describe()
    gdb_json = json.loads(between(run.stdout, JSON, END))
    assert gdb_json["totals"] == totals, run.describe()
    assert gdb_json["size_classes"] == walk["size_classes"], run.describe()


@dataclass
class ArenaSpans:
    """Where the core holds the span map of the arena holding the goroutines, its entry in
    the arena table, and the spans it names."""

    map_end: int
    entry: int
    spans: list[int]


def heap_spans(fx: Fixture, core: Path) -> ArenaSpans:
    """Read from the core without goscope: the span structs (sorted by address) of the arena
    holding the goroutines that are in use or hold stacks (``mspan.state`` 1 or 2) and that
    the span map names at their own first page (``mspan.startAddr``); freed spans leave
    entries behind."""
    target = Target.open_core(str(core), str(fx.bin))
    offsets = [
        target.layout_offset(t, f)
        for t, f in (
            ("runtime.mheap", "arenas"),
            ("runtime.heapArena", "spans"),
            ("runtime.mspan", "startAddr"),
            ("runtime.mspan", "state"),
        )
    ]
    assert all(o is not None for o in offsets), offsets
    arenas_off, spans_off, start_off, state_off = (int(o or 0) for o in offsets)
    mheap, _ = symbol(fx, "runtime.mheap_")
    l2 = read_u64(core, mheap + arenas_off)
    # The arena of a goroutine: runtime.allgs[0] is a heap object.
    allgs, _ = symbol(fx, "runtime.allgs")
    g = read_u64(core, read_u64(core, allgs))
    index = (g + (1 << 47)) // (64 << 20)
    base = (index * (64 << 20) - (1 << 47)) % (1 << 64)
    arena = read_u64(core, l2 + 8 * index)
    spans = arena + spans_off
    with open(core, "rb") as f:
        f.seek(file_offset(core, spans, 8192 * 8))
        table = f.read(8192 * 8)
    named = set()
    for page in range(8192):
        (span,) = struct.unpack_from("<Q", table, 8 * page)
        if span and read_u64(core, span + start_off) == base + page * 8192:
            if read_u64(core, span + state_off) & 0xFF in (1, 2):
                named.add(span)
    assert len(named) > 2, f"{fx.id}: the arena of {g:#x} has {len(named)} spans"
    return ArenaSpans(
        map_end=file_offset(core, spans, 8192 * 8) + 8192 * 8,
        entry=file_offset(core, l2 + 8 * index),
        spans=sorted(named),
    )


def test_truncated_core(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    """Cut among the span structs: the spans before the cut are counted, the others are
    warnings; exit status 1 on the command line, warning lines in GDB, no traceback."""
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    recorded = fx.facts()["memstats"]
    core = tmp_path / "core"
    shutil.copy(fx.core, core)
    arena = heap_spans(fx, core)
    # The middle of the span structs the core holds after the arena table's entry and the
    # span map, so that the walk finds the arena and counts the spans before the cut.
    after = sorted(
        o
        for o in (file_offset(core, span) for span in arena.spans)
        if o > max(arena.entry, arena.map_end)
    )
    assert len(after) >= 2, f"{fx.id}: too few span structs after the span map"
    cut = after[len(after) // 2]
    with open(core, "r+b") as f:
        f.truncate(cut)
    proc = heap(fx, core, "--json")
    assert proc.returncode == 1, describe(proc)
    assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr, describe(proc)
    walk = json.loads(proc.stdout)
    assert any("unreadable" in w for w in walk["warnings"]), walk["warnings"]
    totals = walk["totals"]
    counted = totals["heap_inuse"] + totals["stack_inuse"]
    assert 0 < counted < recorded["HeapInuse"] + recorded["StackInuse"], totals
    run = run_gdb([echo(TEXT), "go heap", echo(END)], args=[str(fx.bin), str(core)], timeout=120)
    assert_clean(run)
    assert "warning:" in between(run.stdout, TEXT, END), run.describe()


def test_corrupt_spans(toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    """Span structs whose state byte says no span state (0xff): each is a warning, the other
    spans are still counted, exit status 1."""
    fx = crash_default(fixture_matrix, toolchain)
    assert fx.core is not None
    recorded = fx.facts()["memstats"]
    core = tmp_path / "core"
    shutil.copy(fx.core, core)
    state = Target.open_core(str(core), str(fx.bin)).layout_offset("runtime.mspan", "state")
    assert state is not None
    named = heap_spans(fx, core).spans
    broken = named[:: max(1, len(named) // 3)][:3]
    with open(core, "r+b") as f:
        for span in broken:
            f.seek(file_offset(core, span + state, 1))
            f.write(b"\xff")
    proc = heap(fx, core, "--json")
    assert proc.returncode == 1, describe(proc)
    walk = json.loads(proc.stdout)
    reported = {int(m, 16) for w in walk["warnings"] for m in re.findall(r"span (0x[0-9a-f]+)", w)}
    assert set(broken) <= reported, walk["warnings"]
    counted = walk["totals"]["heap_inuse"] + walk["totals"]["stack_inuse"]
    assert 0 < counted < recorded["HeapInuse"] + recorded["StackInuse"], walk["totals"]
