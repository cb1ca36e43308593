"""goscope's pc -> function/file/line agrees with ``go tool addr2line`` of the same toolchain.

For every fixture binary, the oracle is asked about every function entry goscope lists and
about RANDOM_PCS pcs drawn uniformly inside randomly chosen functions (seeded per fixture, so a
failure reproduces). ``Binary.pc_line`` must print exactly what addr2line prints: the physical
function containing the pc and the raw ``file:line`` there. ``Binary.lookup`` must agree too:
its innermost frame has that ``file:line`` and its outermost frame is that function.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from types import ModuleType
from typing import Any, Sequence

from tests.harness.fixture import Fixture
from tests.harness.oracles import UNKNOWN, Location, addr2line

RANDOM_PCS = 1000
SHOWN_MISMATCHES = 10


def _pcs(fx: Fixture, functions: Sequence[tuple[str, int, int]]) -> list[int]:
    rng = random.Random(zlib.crc32(fx.id.encode()))
    ranges = [(entry, end) for _, entry, end in functions if end > entry]
    assert ranges, f"{fx.id}: no function with a non-empty pc range"
    pcs = [entry for _, entry, _ in functions]
    for _ in range(RANDOM_PCS):
        entry, end = rng.choice(ranges)
        pcs.append(rng.randrange(entry, end))
    return pcs


def _as_location(value: Any) -> Location:
    if value is None:
        return UNKNOWN
    name, file, line = value
    return (name, file, int(line))


def _differences(want: Location, got: Location) -> list[str]:
    return [f for f, a, b in zip(("function", "file", "line"), want, got) if a != b]


def _report(
    fx: Fixture,
    what: str,
    total: int,
    mismatches: list[tuple[int, Location, Any]],
    kinds: Counter[str],
) -> str:
    lines = [
        f"{fx.id}: {what} disagrees with go tool addr2line at {len(mismatches)} of {total} pcs "
        f"(differences: {dict(kinds)}); first {min(SHOWN_MISMATCHES, len(mismatches))}:"
    ]
    for pc, want, got in mismatches[:SHOWN_MISMATCHES]:
        lines.append(f"  {pc:#x}: addr2line {want!r}, goscope {got!r}")
    return "\n".join(lines)


def test_pc_line_matches_addr2line(fixture_binary: Fixture, native: ModuleType) -> None:
    fx = fixture_binary
    binary = native.Binary(str(fx.bin))
    functions = binary.functions()
    assert functions, f"{fx.id}: goscope lists no functions"
    pcs = _pcs(fx, functions)
    expected = addr2line(fx.toolchain, fx.bin, pcs)

    line_mismatches: list[tuple[int, Location, Any]] = []
    line_kinds: Counter[str] = Counter()
    lookup_mismatches: list[tuple[int, Location, Any]] = []
    lookup_kinds: Counter[str] = Counter()
    for pc, want in zip(pcs, expected):
        got = _as_location(binary.pc_line(pc))
        if got != want:
            line_mismatches.append((pc, want, got))
            line_kinds.update(_differences(want, got))

        # lookup: the innermost frame is at addr2line's file:line, the outermost frame is
        # addr2line's (physical) function; no frames where addr2line knows no function.
        frames = [_as_location(f) for f in binary.lookup(pc)]
        if want == UNKNOWN:
            problems = ["frames outside any function"] if frames else []
        elif not frames:
            problems = ["no frames"]
        else:
            inner, outer = frames[0], frames[-1]
            problems = [f"innermost {d}" for d in _differences(want, inner) if d != "function"]
            problems += ["outermost function"] if outer[0] != want[0] else []
        if problems:
            lookup_mismatches.append((pc, want, frames))
            lookup_kinds.update(problems)

    assert not line_mismatches, _report(fx, "pc_line", len(pcs), line_mismatches, line_kinds)
    assert not lookup_mismatches, _report(fx, "lookup", len(pcs), lookup_mismatches, lookup_kinds)


def test_functions_cover_entries(fixture_binary: Fixture, native: ModuleType) -> None:
    """Every listed function has entry < end, ranges are disjoint, and ``function(name)``
    finds a listed function of that name."""
    fx = fixture_binary
    binary = native.Binary(str(fx.bin))
    functions = sorted(binary.functions(), key=lambda f: f[1])
    by_name: dict[str, set[tuple[int, int]]] = {}
    for name, entry, end in functions:
        by_name.setdefault(name, set()).add((entry, end))
    bad = [f for f in functions if not f[1] < f[2]]
    assert not bad, f"{fx.id}: functions with empty or inverted ranges: {bad[:SHOWN_MISMATCHES]}"
    overlaps = [(a, b) for a, b in zip(functions, functions[1:]) if a[2] > b[1]]
    assert not overlaps, f"{fx.id}: overlapping functions: {overlaps[:SHOWN_MISMATCHES]}"
    wrong = []
    for name, ranges in by_name.items():
        found = binary.function(name)
        if found is None or tuple(found) not in ranges:
            wrong.append((name, found, sorted(ranges)))
    assert not wrong, f"{fx.id}: function(name) disagrees with functions(): {wrong[:10]}"
