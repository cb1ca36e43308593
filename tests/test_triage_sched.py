"""The scheduler and memory section of ``goscope triage`` on every crash core.

Oracles:

- The crash program records what ``runtime.ReadMemStats`` returned just before it crashed
  (``memstats`` on its FIXTURE line), after one ``runtime.GC()`` and with the GC switched off by
  ``debug.SetGCPercent(-1)``, which also waits for a running mark phase to end. So the core
  must show NumGC exactly, GOGC off, the GC phase off, at least one forced GC, no memory limit
  (the harness clears GOMEMLIMIT), and GOMAXPROCS Ps as the program recorded.
- The runtime's traceback: the goroutine it prints first, when ``[running]``, is the crashing
  one, and the P of its M must be running. Its M comes from the header's ``m=`` (Go 1.23 on),
  or else from the thread the goroutine runs on.

The statistics may differ from the record only by what happens between the moment
ReadMemStats computed them and the crash. The program allocates nothing there (it writes its line
from a buffer made before) and nothing is freed (runtime.GC returns with the sweep done, the
program then waits for the background sweeper to hand back the work buffers, and the GC is off).
What remains is the runtime's own work:

- the panic path: ``preprintpanics`` turns the runtime error into its message, a string and the
  interface holding it (16 and 64 bytes; go1.21 makes one more small object);
- ReadMemStats restarting the world: ``startTheWorld`` wakes a P, and when no M is idle it makes
  one, which allocates the m, its g0 and gsignal goroutines and (go1.23 on) two profiling stacks:
  5 objects and about 6.5 KiB in go1.27; their stacks may make the stack pool take 32 KiB spans
  from the heap, moving them from HeapSys to StackInuse;
- the crashing goroutine's stack may grow once on its way to the crash.

So objects and bytes allocated may exceed the record by two Ms and the panic path
(OBJECT_SLACK, ALLOC_SLACK), the heap in use by a fresh one-page span for each of those objects
(HEAP_SLACK), StackInuse by the stack spans (STACK_SLACK), and HeapSys may lose what StackInuse
gains. Sys counts all memory obtained from the OS, and those moves stay inside it: Sys must be
equal, as must NumGC and Frees.
"""

from __future__ import annotations

import json
from typing import Any

from tests.harness.fixture import Fixture
from tests.test_goroutines import describe, run_goscope
from tests.tracebacks import parse

OBJECT_SLACK = 16
ALLOC_SLACK = 16 << 10
HEAP_SLACK = OBJECT_SLACK * 8192
STACK_SLACK = 128 << 10

P_STATES = {"idle", "running", "syscall", "gcstop", "dead"}
GC_PHASES = {"off", "mark", "mark termination"}


def triage(fx: Fixture, *extra: str) -> dict[str, Any]:
    proc = run_goscope("triage", str(fx.core), "--exe", str(fx.bin), "--json", *extra)
    assert proc.returncode == 0, describe(proc)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_scheduler_section(fixture: Fixture) -> None:
    """Every value is found, with symbols or without, and the crashing goroutine's P runs."""
    report = triage(fixture)
    sched = report["scheduler"]
    assert sched["unavailable"] == {}, sched
    assert sched["gomaxprocs"] == len(sched["ps"]) == len(report["process"]["ps"]) > 0
    assert {p["status"] for p in sched["ps"]} <= P_STATES, sched["ps"]
    assert sum(sched["p_states"].values()) == sched["gomaxprocs"]
    assert sched["runq_local"] == sum(p["runq"] for p in sched["ps"])
    assert isinstance(sched["runq_global"], int) and sched["runq_global"] >= 0
    assert sched["gc"]["phase"] in GC_PHASES
    stats = sched["memstats"]
    assert stats is not None
    # What ReadMemStats guarantees of any process: heap and stacks are whole pages, the live
    # heap lies in the spans in use, and all of it was obtained from the OS.
    assert stats["heap_inuse"] % 8192 == 0 and stats["stack_inuse"] % 8192 == 0, stats
    assert 0 < stats["heap_alloc"] <= stats["heap_inuse"] <= stats["heap_sys"], stats
    assert stats["heap_sys"] + stats["stack_inuse"] <= stats["sys"], stats
    assert stats["mallocs"] - stats["frees"] == stats["heap_objects"] > 0, stats
    stripped = fixture.variant == "stripped"
    expected_how = {"scan", "code"} if stripped else {"symbol"}
    assert set(sched["found"].values()) <= expected_how, sched["found"]

    dump = parse(fixture.traceback_text())
    first = dump[0] if dump else None
    if first is None or not first.state.startswith("running"):
        return
    m = first.m if isinstance(first.m, int) else None
    if m is None:
        on = [t for t in report["process"]["threads"] if t.get("g") == first.id]
        assert on, (first.id, report["process"]["threads"])
        m = on[0]["m"]
    held = [p for p in sched["ps"] if p["m"] == m]
    assert [p["status"] for p in held] == ["running"], (first.id, m, sched["ps"])


def test_memstats_agree_with_read_memstats(crash_core: Fixture) -> None:
    """goscope's figures are what ReadMemStats returned, up to the crash path's allocations;
    the GC state is what the program set."""
    facts = crash_core.facts()
    recorded = facts["memstats"]
    sched = triage(crash_core)["scheduler"]
    stats = sched["memstats"]
    assert stats is not None, sched["unavailable"]
    got = {
        "NumGC": stats["num_gc"],
        "HeapInuse": stats["heap_inuse"],
        "HeapObjects": stats["heap_objects"],
        "HeapAlloc": stats["heap_alloc"],
        "HeapSys": stats["heap_sys"],
        "StackInuse": stats["stack_inuse"],
        "Sys": stats["sys"],
        "TotalAlloc": stats["total_alloc"],
        "Mallocs": stats["mallocs"],
        "Frees": stats["frees"],
    }
    # goscope minus ReadMemStats may lie in [low, high]; absent means equal.
    slack = {
        "HeapInuse": (0, HEAP_SLACK),
        "HeapObjects": (0, OBJECT_SLACK),
        "HeapAlloc": (0, ALLOC_SLACK),
        "HeapSys": (-STACK_SLACK, 0),
        "StackInuse": (0, STACK_SLACK),
        "TotalAlloc": (0, ALLOC_SLACK),
        "Mallocs": (0, OBJECT_SLACK),
    }
    wrong = {
        name: (value, recorded[name])
        for name, value in got.items()
        if not slack.get(name, (0, 0))[0] <= value - recorded[name] <= slack.get(name, (0, 0))[1]
    }
    assert not wrong, f"(goscope, ReadMemStats): {wrong}"
    gc = sched["gc"]
    assert (gc["phase"], gc["gc_percent"], gc["memory_limit"]) == ("off", -1, 2**63 - 1), gc
    assert stats["num_forced_gc"] >= 1, stats
    assert sched["gomaxprocs"] == facts["gomaxprocs"], sched["ps"]


def test_text_shows_the_section(fixture_matrix: list[Fixture]) -> None:
    """The text report has the section, with the recorded number of GCs."""
    cores = [fx for fx in fixture_matrix if fx.program == "crash" and fx.core is not None]
    assert cores
    for fx in (cores[0], cores[-1]):
        proc = run_goscope("triage", str(fx.core), "--exe", str(fx.bin))
        assert proc.returncode == 0, describe(proc)
        assert "Scheduler and memory" in proc.stdout, describe(proc)
        cycles = fx.facts()["memstats"]["NumGC"]
        word = "cycle" if cycles == 1 else "cycles"
        assert f"GC off, {cycles:,} {word} completed" in proc.stdout, describe(proc)
        assert f"GOMAXPROCS {fx.facts()['gomaxprocs']}:" in proc.stdout, describe(proc)
        assert "unavailable" not in proc.stdout, describe(proc)
