"""``go goroutines``, ``go bt``, ``goroutine_stack`` and ``go threads`` in real GDB on every
fixture core (every toolchain; default, stripped, ``-N -l``, PIE and cgo builds).

One ``gdb --batch BIN CORE`` session per fixture runs every command between ``echo`` markers.
The oracles: the runtime's ``GOTRACEBACK=crash`` traceback of the same crash (goroutine ids,
states, stacks, creators), and GDB's own ``info threads`` (the threads of the core).

- ``go goroutines`` lists every goroutine of the traceback, with the traceback's state;
- ``go goroutines --state "chan receive"`` lists exactly the traceback's goroutines whose
  state contains ``chan receive``;
- ``go bt N`` for every goroutine, and ``go bt all`` at once, print in the runtime's traceback
  format the same frames (function, file:line, inlined or not, fp, sp, pc, offset) and creator
  as the traceback;
- ``goroutine_stack N`` prints the same as ``go bt N``; ``goroutine_stack`` with no id prints
  the goroutine of the selected thread, which in a crash core is the one that crashed (the
  first one the traceback prints), or nothing when no goroutine crashed (a deadlock) and may
  print nothing when the runtime relayed a fatal signal to every thread (the core's selected
  thread is then the last one it reached);
- ``go threads`` lists every LWP that ``info threads`` lists;
- mistakes (an unknown id, a word that is not an id, no core loaded) are one line of error,
  and GDB carries on.
"""

from __future__ import annotations

import re

import pytest

from tests.gdbrun import GdbRun, assert_clean, echo, run_gdb
from tests.harness.fixture import Fixture
from tests.panic_oracle import parse_crash
from tests.test_goroutines import bt_document, compare, listed_ids, parse_bt
from tests.tracebacks import TracebackGoroutine, parse

CHAN_RECEIVE = "chan receive"
# The line before each other thread's report of a fatal signal the runtime relays to them all.
RELAY = "-----"


def marker(name: str) -> str:
    return f"@@{name}@@"


def _session(fx: Fixture, expected: list[TracebackGoroutine]) -> GdbRun:
    assert fx.core is not None
    other = next((g.id for g in expected if g.id != expected[0].id), expected[0].id)
    commands = [
        echo(marker("list")),
        "go goroutines",
        echo(marker("filter")),
        f'go goroutines --state "{CHAN_RECEIVE}"',
        echo(marker("current")),
        "goroutine_stack",
        echo(marker("stack")),
        f"goroutine_stack {other}",
    ]
    for g in expected:
        commands += [echo(marker(f"bt {g.id}")), f"go bt {g.id}"]
    commands += [
        echo(marker("all")),
        "go bt all",
        echo(marker("threads")),
        "go threads",
        echo(marker("info threads")),
        "info threads",
        echo(marker("unknown")),
        "go bt 999999",
        echo(marker("not an id")),
        "go bt seven",
        echo(marker("end")),
    ]
    return run_gdb(commands, args=[str(fx.bin), str(fx.core)])


def test_gdb_goroutines_on_core(fixture: Fixture) -> None:
    expected = parse(fixture.traceback_text())
    assert expected, f"{fixture.id}: no goroutine in traceback.txt"
    by_id = {g.id: g for g in expected}
    run = _session(fixture, expected)
    assert_clean(run)

    # go goroutines: every id of the traceback, each with the traceback's state.
    listing = run.between(marker("list"), marker("filter"))
    assert sorted(listed_ids(listing)) == sorted(by_id), run.describe()
    for line in listing.splitlines():
        match = re.match(r"^[* ]\s*(\d+) \[(.*?)\]", line)
        if match:
            assert match.group(2) == by_id[int(match.group(1))].state, line

    # The --state filter keeps exactly the traceback's goroutines in that state.
    filtered = run.between(marker("filter"), marker("current"))
    wanted = sorted(g.id for g in expected if CHAN_RECEIVE in g.state)
    assert sorted(listed_ids(filtered)) == wanted, run.describe()

    # goroutine_stack alone: the goroutine on the selected thread, the one that crashed.
    current = [g.id for g in parse_bt(run.between(marker("current"), marker("stack")))]
    crashed = parse_crash(fixture.traceback_text()).goroutine
    if crashed is None:
        assert current == [], run.describe()
    elif RELAY in fixture.traceback_text().splitlines():
        assert current in ([], [crashed.id]), run.describe()
    else:
        assert current == [crashed.id] == [expected[0].id], run.describe()

    # go bt N, for every goroutine: the traceback's stack, frame by frame.
    printed = []
    for g in expected:
        end = marker(f"bt {expected[expected.index(g) + 1].id}") if g != expected[-1] else None
        text = run.between(marker(f"bt {g.id}"), end or marker("all"))
        stacks = parse_bt(text)
        assert [s.id for s in stacks] == [g.id], f"go bt {g.id}:\n{text}"
        printed += stacks
    result = compare(fixture.id, fixture.traceback_text(), bt_document(printed))
    assert not result.problems, result.report()

    # go bt all: every goroutine of the traceback at once, frame by frame.
    everything = parse_bt(run.between(marker("all"), marker("threads")))
    result = compare(fixture.id, fixture.traceback_text(), bt_document(everything))
    assert not result.problems, result.report()

    # goroutine_stack N prints what go bt N prints.
    stack = run.between(marker("stack"), marker(f"bt {expected[0].id}"))
    other = parse_bt(stack)
    assert len(other) == 1, run.describe()
    same = next(p for p in printed if p.id == other[0].id)
    assert other[0].frames == same.frames and other[0].created_by == same.created_by

    # go threads: every LWP of `info threads`.
    threads = run.between(marker("threads"), marker("info threads"))
    info_threads = run.between(marker("info threads"), marker("unknown"))
    gdb_lwps = sorted(int(x) for x in re.findall(r"LWP (\d+)", info_threads))
    assert gdb_lwps, run.describe()
    go_lwps = sorted(
        int(m.group(1)) for m in re.finditer(r"^[* ]\s*(\d+)\s", threads, re.MULTILINE)
    )
    assert go_lwps == gdb_lwps, f"go threads:\n{threads}\ninfo threads:\n{info_threads}"

    # Mistakes are one line each, and GDB goes on.
    unknown = run.between(marker("unknown"), marker("not an id")) + run.stderr
    assert "go bt: no goroutine 999999" in unknown, run.describe()
    assert "not a goroutine id: 'seven'" in run.stderr, run.describe()


def test_gdb_goroutines_without_a_process(fixture_matrix: list[Fixture]) -> None:
    """With only an executable loaded, the commands say what is missing, in one line."""
    fx = next(f for f in fixture_matrix if f.crash)
    run = run_gdb(["go goroutines", "go bt 1", "go threads", "goroutine_stack"], args=[str(fx.bin)])
    assert_clean(run)
    lines = [line for line in run.stderr.splitlines() if "no process or core file" in line]
    assert len(lines) == 4, run.describe()


@pytest.mark.parametrize("command", ["go goroutines", "go bt", "go threads", "goroutine_stack"])
def test_gdb_help(command: str) -> None:
    run = run_gdb([f"help {command}"])
    assert_clean(run)
    assert "usage:" in run.stdout, run.describe()
