"""``goscope triage`` and ``go triage`` on every crash core: goroutines grouped by identical
stacks must be exactly the runtime's traceback goroutines grouped by their printed frames
(function, file:line, inlined or not), the crashed goroutine's group first, then the largest;
the counts add up to the traceback's goroutines."""

from __future__ import annotations

import json
from collections import defaultdict

from tests.gdbrun import assert_clean, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.oracles import version_m
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


def test_channels_hold_the_goroutines_the_runtime_shows_waiting(fixture: Fixture) -> None:
    """Every goroutine the traceback shows in ``chan receive`` is a receiver of a channel the
    report lists, every ``chan send`` one a sender, every ``select`` one either; and nobody
    else waits on those channels."""
    proc = run_goscope("triage", str(fixture.core), "--exe", str(fixture.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    channels = json.loads(proc.stdout)["blocking"]["channels"]
    receivers = {i for c in channels for i in c["receivers"]}
    senders = {i for c in channels for i in c["senders"]}
    want_recv, want_send, want_select = set(), set(), set()
    for g in parse(fixture.traceback_text()):
        state = g.state.split(",")[0]
        if state == "chan receive":
            want_recv.add(g.id)
        elif state == "chan send":
            want_send.add(g.id)
        elif state == "select":
            want_select.add(g.id)
    assert want_recv <= receivers, (want_recv, channels)
    assert want_send <= senders, (want_send, channels)
    assert all(i in receivers or i in senders for i in want_select), (want_select, channels)
    assert receivers | senders == want_recv | want_send | want_select, channels
    assert all(not c.get("error") for c in channels), channels


def test_build_facts_match_go_version_m(fixture: Fixture) -> None:
    """The report's build section: what ``go version -m`` prints about the binary."""
    proc = run_goscope("triage", str(fixture.core), "--exe", str(fixture.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    build = json.loads(proc.stdout)["build"]
    oracle = version_m(fixture.toolchain, fixture.bin)
    assert build["path"] == oracle.path
    assert oracle.main is not None and build["main"]["path"] == oracle.main.path
    assert [tuple(kv) for kv in build["settings"]] == list(oracle.settings)
    text = run_goscope("triage", str(fixture.core), "--exe", str(fixture.bin))
    assert oracle.main.path in text.stdout.splitlines()[2], text.stdout[:400]


def _package(function: str) -> str:
    name = function.split("[", 1)[0]
    slash = name.rfind("/")
    dot = name.find(".", slash + 1)
    return name[:dot] if dot >= 0 else name


def test_where_frame_is_the_programs_own(fixture: Fixture) -> None:
    """Each group's ``where_frame`` is its innermost frame in the program's own code — package
    main or a module ``go version -m`` lists — else its innermost frame outside the runtime
    (``runtime``, ``internal/runtime/...``; ``internal/poll`` and the like are not)."""
    proc = run_goscope("triage", str(fixture.core), "--exe", str(fixture.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    oracle = version_m(fixture.toolchain, fixture.bin)
    modules = [m.path for m in [oracle.main, *oracle.deps] if m is not None]
    if oracle.path:
        modules.append(oracle.path)

    def own(function: str) -> bool:
        package = _package(function)
        return package == "main" or any(
            package == m or package.startswith(m + "/") for m in modules
        )

    def runtime(function: str) -> bool:
        package = _package(function)
        return package == "runtime" or package.startswith(
            ("runtime/internal/", "internal/runtime/")
        )

    for group in json.loads(proc.stdout)["groups"]:
        functions = [f["function"] for f in group["frames"]]
        expected = next((i for i, f in enumerate(functions) if own(f)), None)
        if expected is None:
            expected = next((i for i, f in enumerate(functions) if not runtime(f)), None)
        if expected is None and functions:
            expected = 0
        assert group.get("where_frame") == expected, (group["ids"][:5], functions)
