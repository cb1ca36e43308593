"""``goscope triage`` and ``go triage`` on every crash core: goroutines grouped by identical
stacks must be exactly the runtime's traceback goroutines grouped by their printed frames
(function, file:line, inlined or not), the crashed goroutine's group first, then the largest;
the counts add up to the traceback's goroutines."""

from __future__ import annotations

import json
from collections import defaultdict

from tests.gdbrun import assert_clean, run_gdb
from tests.harness.fixture import Fixture
from tests.test_goroutines import describe, run_goscope
from tests.tracebacks import parse


def oracle_groups(fx: Fixture) -> list[frozenset[int]]:
    groups: dict[tuple[tuple[str, str, int, bool], ...], set[int]] = defaultdict(set)
    for g in parse(fx.traceback_text()):
        key = tuple((f.function, f.file, f.line, f.inlined) for f in g.frames)
        groups[key].add(g.id)
    return [frozenset(ids) for ids in groups.values()]


def test_groups_match_the_traceback(fixture: Fixture) -> None:
    proc = run_goscope("triage", str(fixture.core), "--exe", str(fixture.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    report = json.loads(proc.stdout)
    groups = report["groups"]
    expected = oracle_groups(fixture)
    assert sorted(map(sorted, expected)) == sorted(sorted(g["ids"]) for g in groups), describe(proc)
    assert report["total"] == sum(len(ids) for ids in expected)
    assert all(g["count"] == len(g["ids"]) for g in groups)
    crashed = (report.get("crash") or {}).get("goroutine")
    if crashed is not None:
        assert groups[0]["crashed"] and crashed in groups[0]["ids"], groups[0]
        rest = groups[1:]
    else:
        assert not any(g["crashed"] for g in groups)
        rest = groups
    counts = [g["count"] for g in rest]
    assert counts == sorted(counts, reverse=True), counts


def test_gdb_triage(fixture_matrix: list[Fixture]) -> None:
    """``go triage`` in GDB prints the command line's report."""
    for fx in fixture_matrix:
        if fx.program != "crash" or fx.variant != "stripped" or fx.core is None:
            continue
        run = run_gdb(["go triage"], args=[str(fx.bin), str(fx.core)])
        assert_clean(run)
        cli = run_goscope("triage", str(fx.core), "--exe", str(fx.bin))
        assert cli.returncode == 0, describe(cli)
        for line in cli.stdout.splitlines():
            if line.startswith("["):
                assert line in run.stdout, run.describe()
        assert "Goroutines in" in run.stdout, run.describe()
