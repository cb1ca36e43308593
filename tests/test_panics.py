"""Panics in flight, pending deferred calls and the crash cause, against two oracles, on every
toolchain and variant:

- the runtime's own output of the crash (traceback.txt): the ``panic: ...`` lines with their
  ``[recovered]`` marks, ``fatal error: ...``, and ``[signal ...]``;
- what each fixture program recorded about itself on its FIXTURE line: for every goroutine it
  parked mid-panic or with deferred calls pending, the panics innermost first (message as Go
  prints it, type, recovered / repanicked / goexit) and the calls still to run, next first
  (deferred function, kind — open-coded, heap, stack, rangefunc — and the frame it belongs to).

The crashing goroutine's values were replaced by their ``Error()``/``String()`` text before the
runtime printed them (``preprintpanics``), so for it only messages and marks are compared;
its types are what the runtime left in memory.
"""

from __future__ import annotations

import json
from typing import Any

from goscope import Target
from goscope.render.panics import panic_lines, signal_text
from goscope.render.style import PLAIN

from tests.gdbrun import assert_clean, echo, run_gdb
from tests.harness.fixture import Fixture
from tests.test_goroutines import describe, run_goscope


def printed_panic_lines(traceback: str) -> list[str]:
    """The runtime's ``panic: ...`` block: from the first ``panic: `` line to the blank line."""
    lines = traceback.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("panic: ")), None)
    if start is None:
        return []
    block = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("[signal ") or line.startswith("goroutine "):
            break
        block.append(line)
    return block


def goroutines_json(fx: Fixture) -> dict[int, dict[str, Any]]:
    proc = run_goscope("goroutines", str(fx.core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    return {g["id"]: g for g in json.loads(proc.stdout)["goroutines"]}


def custom_type(name: str) -> bool:
    """A type of the program itself (or its modules), whose methods goscope cannot run."""
    package = name.lstrip("*").split(".")[0]
    return package not in ("runtime", "errors", "fmt", "string", "int", "float64", "bool")


def panic_problems(
    goid: int,
    want: list[dict[str, Any]],
    got: list[dict[str, Any]],
    crashed: bool,
    has_repanicked: bool,
) -> list[str]:
    problems = []
    if len(want) != len(got):
        return [f"goroutine {goid}: {len(got)} panics, the program recorded {len(want)}: {got}"]
    for i, (w, g) in enumerate(zip(want, got)):
        where = f"goroutine {goid} panic {i}"
        for flag in ("recovered", "goexit"):
            if bool(w.get(flag)) != bool(g.get(flag)):
                problems.append(f"{where}: {flag} {g.get(flag)}, the program: {w.get(flag)}")
        # Releases before go1.25 keep no repanicked mark (and print none).
        if has_repanicked and bool(w.get("repanicked")) != bool(g.get("repanicked")):
            problems.append(
                f"{where}: repanicked {g.get('repanicked')}, the program: {w['repanicked']}"
            )
        if w.get("goexit"):
            continue
        if not crashed and g.get("type") != w.get("type"):
            problems.append(f"{where}: type {g.get('type')!r}, the program: {w.get('type')!r}")
        if w.get("address"):
            # The text holds an address the program could not know in advance.
            continue
        if not crashed and not g.get("exact") and custom_type(str(w.get("type"))):
            # A method of the program's own type makes the text; memory gives its type and
            # fields, which is what goscope shows (and says is not exact).
            if not str(g.get("message", "")).startswith(str(w.get("type"))):
                problems.append(f"{where}: {g.get('message')!r} is not {w.get('type')} and fields")
            continue
        if g.get("message") != w.get("message") or not g.get("exact"):
            problems.append(
                f"{where}: message {g.get('message')!r} (exact={g.get('exact')}), "
                f"the program: {w.get('message')!r}"
            )
    return problems


def defer_problems(goid: int, want: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    if len(want) != len(got):
        return [f"goroutine {goid}: {len(got)} pending defers {got}, the program recorded {want}"]
    problems = []
    for i, (w, g) in enumerate(zip(want, got)):
        names = w["function"] if isinstance(w["function"], list) else [w["function"]]
        if g.get("function") not in names:
            problems.append(f"goroutine {goid} defer {i}: {g.get('function')!r} not in {names}")
        if g.get("kind") != w.get("kind"):
            problems.append(
                f"goroutine {goid} defer {i}: kind {g.get('kind')}, the program: {w.get('kind')}"
            )
        if w.get("frame") and g.get("frame") != w["frame"]:
            problems.append(
                f"goroutine {goid} defer {i}: frame {g.get('frame')}, the program: {w['frame']}"
            )
    return problems


def test_panics_and_defers_match_the_program(panics_fixture: Fixture) -> None:
    fx = panics_fixture
    facts = fx.facts()
    crashed = set(facts.get("crash", {}).get("goroutines") or [])
    target = Target.open_core(str(fx.core), str(fx.bin))
    has_repanicked = target.layout_offset("runtime._panic", "repanicked") is not None
    got = goroutines_json(fx)
    problems: list[str] = []
    for key, expected in facts["goroutines"].items():
        goid = int(key)
        g = got.get(goid)
        if g is None:
            problems.append(f"goroutine {goid} ({expected.get('name')}): not listed")
            continue
        assert not g.get("error"), g
        problems += panic_problems(
            goid, expected.get("panics", []), g["panics"], goid in crashed, has_repanicked
        )
        problems += defer_problems(goid, expected.get("defers", []), g["defers"])
    assert not problems, f"{fx.id}:\n" + "\n".join(problems)


def test_printed_panics_match_the_runtime(panics_fixture: Fixture) -> None:
    """``goscope panic`` of the crashing goroutine prints the runtime's own panic block."""
    fx = panics_fixture
    expected = printed_panic_lines(fx.traceback_text())
    assert expected, f"{fx.id}: no panic lines in traceback.txt"
    proc = run_goscope("crash", str(fx.core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    crash = json.loads(proc.stdout)["crash"]
    assert crash["goroutine"] in (fx.facts().get("crash", {}).get("goroutines") or []), crash
    assert panic_lines(crash["panics"], PLAIN) == expected, crash["panics"]
    assert crash["summary"].startswith("panic: "), crash["summary"]
    text = run_goscope("panic", str(fx.core), "--exe", str(fx.bin))
    assert text.returncode == 0, describe(text)
    for line in expected:
        assert line in text.stdout, describe(text)


def test_fatal_errors(fatal_fixture: Fixture) -> None:
    """``goscope crash`` names the fatal error and the signal the program recorded and the
    runtime printed."""
    fx = fatal_fixture
    facts = fx.facts()["crash"]
    traceback = fx.traceback_text().splitlines()
    proc = run_goscope("crash", str(fx.core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    crash = json.loads(proc.stdout)["crash"]
    fatal = facts.get("fatal_error")
    if fatal is not None:
        assert f"fatal error: {fatal}" in traceback, f"{fx.id}: the runtime printed no {fatal!r}"
        assert crash["fatal_error"] == fatal, crash
        assert crash["summary"].startswith(f"fatal error: {fatal}"), crash["summary"]
    signal = facts.get("signal")
    if signal is not None:
        got = crash.get("goroutine_signal") or crash.get("handled_signal")
        assert got is not None, f"{fx.id}: no signal in {crash}"
        assert (got["name"], got["code"]) == (signal["name"], signal["code"]), got
        if signal.get("addr") is not None:
            assert got["addr"] == signal["addr"], got
    printed = next((line for line in traceback if line.startswith("[signal ")), None)
    if printed is not None:
        assert signal_text(crash["goroutine_signal"]) == printed, crash


def test_nil_dereference_is_named(fixture_matrix: list[Fixture]) -> None:
    """The crash program dies of a nil dereference in a frameless leaf: the signal the runtime
    printed, and the words "nil pointer dereference"."""
    checked = 0
    for fx in fixture_matrix:
        if fx.program != "crash" or fx.core is None:
            continue
        signal = next(
            line for line in fx.traceback_text().splitlines() if line.startswith("[signal ")
        )
        proc = run_goscope("crash", str(fx.core), "--exe", str(fx.bin), "--json")
        assert proc.returncode == 0, describe(proc)
        crash = json.loads(proc.stdout)["crash"]
        assert signal_text(crash["goroutine_signal"]) == signal, f"{fx.id}: {crash}"
        assert crash["goroutine_signal"]["nil_dereference"], crash
        assert "nil pointer dereference" in crash["summary"], crash["summary"]
        checked += 1
    assert checked >= 8 * 4, f"only {checked} crash fixtures"


def test_gdb_commands(panics_fixture: Fixture) -> None:
    """``go crash``, ``go panic`` and ``go defer all`` in GDB print what the command line prints."""
    fx = panics_fixture
    if fx.variant != "default":
        return _gdb_on_stripped(fx)
    run = run_gdb(
        [
            echo("@@crash@@"),
            "go crash",
            echo("@@panic@@"),
            "go panic",
            echo("@@defer@@"),
            "go defer all",
            echo("@@end@@"),
        ],
        args=[str(fx.bin), str(fx.core)],
    )
    assert_clean(run)
    for line in printed_panic_lines(fx.traceback_text()):
        assert line in run.between("@@crash@@", "@@panic@@"), run.describe()
        assert line in run.between("@@panic@@", "@@defer@@"), run.describe()
    defers = run.between("@@defer@@", "@@end@@")
    cli = run_goscope("defer", str(fx.core), "--exe", str(fx.bin))
    assert defers.strip() == cli.stdout.strip(), run.describe()


def _gdb_on_stripped(fx: Fixture) -> None:
    run = run_gdb(["go crash", "go defer all"], args=[str(fx.bin), str(fx.core)])
    assert_clean(run)
    assert printed_panic_lines(fx.traceback_text())[0] in run.stdout, run.describe()
