"""``goscope triage`` names the goroutines that are stuck for good, and only them.

Oracles: the ids each scenario of the ``deadlocks`` program recorded about itself (an AB-BA
lock cycle, a three-goroutine channel cycle, senders leaked by timed-out requests, a WaitGroup
that never finishes, an RWMutex writer behind a reader that never unlocks, and healthy
goroutines blocked on things others can release); the runtime's traceback (each goroutine's
wait reason, and the address of the object it waits on where its frame prints it); the
runtime's own ``all goroutines are asleep - deadlock!``; and the programs that have no stuck
goroutine at all.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.harness.fixture import Fixture
from tests.test_goroutines import describe, run_goscope
from tests.tracebacks import TracebackGoroutine, parse_by_id

# Scenario → the kind goscope names it, and the wait reasons its goroutines show.
DEADLOCK_KINDS = {
    "lock_cycle": "lock cycle",
    "channel_cycle": "channel cycle",
    "rwmutex": "rwmutex writer behind reader",
    "waitgroup": "waitgroup never done",
}
REASONS = {
    "lock_cycle": {"sync.Mutex.Lock"},
    "channel_cycle": {"chan receive"},
    "leaked_senders": {"chan send"},
    "waitgroup": {"sync.WaitGroup.Wait", "semacquire"},
    "rwmutex": {"chan receive", "sync.RWMutex.Lock", "sync.RWMutex.RLock"},
}
# Frames whose first argument is the object the goroutine waits on.
OBJECT_FRAMES = re.compile(
    r"(\(\*Mutex\)\.lockSlow|\(\*WaitGroup\)\.Wait|\(\*RWMutex\)\.R?Lock|"
    r"^runtime\.chanrecv|^runtime\.chansend)$"
)


def triage(fx: Fixture) -> dict[str, Any]:
    proc = run_goscope("triage", str(fx.core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)


def waited_objects(blocking: dict[str, Any], goid: int) -> set[int]:
    return {o["addr"] for o in blocking["objects"] if goid in o["waiters"]}


def printed_object(g: TracebackGoroutine) -> int | None:
    """The address the traceback prints as the waited object's, when it prints one exactly."""
    for frame in g.frames:
        if OBJECT_FRAMES.search(frame.function) and frame.args:
            first = frame.args.split(",")[0].strip()
            if first.startswith("0x") and not first.endswith("?"):
                return int(first, 16)
    return None


def flagged(blocking: dict[str, Any]) -> set[int]:
    ids = {i for d in blocking["deadlocks"] for i in d["goroutines"]}
    return ids | {i for leak in blocking["leaks"] if leak["stuck"] for i in leak["goroutines"]}


def test_each_scenario_is_named_with_exactly_its_goroutines(deadlocks_fixture: Fixture) -> None:
    fx = deadlocks_fixture
    report = triage(fx)
    blocking = report["blocking"]
    stuck: dict[str, list[int]] = fx.facts()["stuck"]
    got = {d["kind"]: sorted(d["goroutines"]) for d in blocking["deadlocks"]}
    want = {kind: sorted(stuck[name]) for name, kind in DEADLOCK_KINDS.items()}
    assert got == want and len(blocking["deadlocks"]) == len(want), blocking["deadlocks"]
    leaks = [(leak["kind"], sorted(leak["goroutines"])) for leak in blocking["leaks"]]
    assert leaks == [("chan send", sorted(stuck["leaked_senders"]))], blocking["leaks"]
    assert not flagged(blocking) & set(stuck["healthy"])

    traceback = parse_by_id(fx.traceback_text())
    checked = 0
    for name, reasons in REASONS.items():
        for goid in stuck[name]:
            g = traceback[goid]
            assert g.status in reasons, (goid, g.state)
            printed = printed_object(g)
            if printed is not None:
                assert printed in waited_objects(blocking, goid), (goid, printed)
                checked += 1
    # Optimized builds print most arguments exactly; every build prints some.
    assert checked >= 4

    # The lock cycle: each mutex is held (by its pending deferred Unlock) by the other.
    a, b = stuck["lock_cycle"]
    for waiter, holder in ((a, b), (b, a)):
        (mutex,) = [o for o in blocking["objects"] if waiter in o["waiters"]]
        assert mutex["kind"] == "mutex" and mutex["holders"] == [holder], mutex
        assert mutex["holder_evidence"] == {str(holder): "deferred call"}, mutex


def test_all_goroutines_asleep_is_a_deadlock_of_them_all(fatal_fixture: Fixture) -> None:
    fx = fatal_fixture
    facts = fx.facts()
    blocking = triage(fx)["blocking"]
    if facts["crash"]["fatal_error"] == "all goroutines are asleep - deadlock!":
        named = sorted(int(i) for i in facts["goroutines"])
        assert [(d["kind"], d["goroutines"]) for d in blocking["deadlocks"]] == [
            ("all goroutines asleep", named)
        ], blocking
        assert not [leak for leak in blocking["leaks"] if leak["stuck"]]
    else:
        assert not flagged(blocking), blocking


def test_programs_without_stuck_goroutines_report_none(fixture: Fixture) -> None:
    if fixture.program in ("deadlocks", "fatal-deadlock", "leaks"):
        # Stuck by design; test_heap_graph.py checks the leaks program's.
        return
    blocking = triage(fixture)["blocking"]
    assert blocking["deadlocks"] == [], blocking["deadlocks"]
    assert [leak for leak in blocking["leaks"] if leak["stuck"]] == [], blocking["leaks"]
