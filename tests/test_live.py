"""goscope on live processes in real GDB: the ``live`` fixture of every toolchain and variant,
attached with ``gdb -p PID`` and run under GDB until ``runtime.Breakpoint()``, with memory
read through ``/proc/PID/mem`` (``set goscope live-memory auto``) and through GDB
(``set goscope live-memory gdb``).

The oracle is the program's own ``runtime.Stack(buf, true)`` dump, printed (between
``=== BEGIN GOROUTINES ===`` and ``=== END GOROUTINES ===``) once its goroutines were parked.
``go goroutines`` must list every goroutine of the dump, and ``go bt all`` must show each with
the dump's state, creator (function, goroutine, file:line) and frames (function, file:line,
inlined or not, and the ``+0x`` offset of physical frames).

``runtime.Stack`` prints what a traceback shows at the default ``GOTRACEBACK`` level, which
leaves things out that goscope (like a crash traceback) shows:

- frames of functions in package ``runtime`` other than its exported ones
  (``runtime.gopark``, ``runtime.goexit``; ``runtime.Breakpoint`` stays) and the compiler's
  wrappers of ``go`` statements (``main.main.gowrap1``, or ``main.main.func1`` before Go 1.22:
  a function nested in the creator, at the position of the ``go`` statement that
  ``created by`` names): goscope's frames are compared after leaving out the same;
- the runtime's own goroutines (GC workers, finalizers): goscope may list more goroutines
  than the dump, but only ones whose every frame is in the runtime.

The goroutine that called ``runtime.Stack`` (the dump's ``running`` one, ``main``) has moved on
since; its oracle is the program's source: it is in ``main.main`` at the line of
``time.Sleep(time.Hour)`` when attached, and at the line of ``runtime.Breakpoint()`` (with
``runtime.Breakpoint`` above it) when stopped there. GDB must survive every command, and after
them ``continue`` must let the breakpoint run finish with exit status 0.
"""

from __future__ import annotations

import json
import os
import re
import select
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.gdbrun import LISTINGS, GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.live import start_program
from tests.harness.toolchains import Toolchain
from tests.test_goroutines import listed_ids, parse_bt
from tests.tracebacks import TracebackFrame, TracebackGoroutine, parse, printed_name

BEGIN, END = "=== BEGIN GOROUTINES ===", "=== END GOROUTINES ==="
_READY = re.compile(rb"READY pid=(\d+)")

ATTACH, BREAKPOINT = "attach", "breakpoint"
MEMORY_MODES = ("auto", "gdb")


def user_visible(function: str) -> bool:
    """Whether a traceback at the default GOTRACEBACK level shows a frame of `function` (as
    the runtime prints it): not package ``runtime`` unless exported."""
    if function.startswith("runtime."):
        rest = function[len("runtime.") :]
        return rest[:1].isupper()
    return "." in function


def source_line(fx: Fixture, text: str) -> int:
    """The line of the live program's main.go that is the statement `text`."""
    source = Path(__file__).resolve().parent / "fixtures" / "programs" / "live" / "main.go"
    for number, line in enumerate(source.read_text().splitlines(), start=1):
        if line.strip() == text:
            return number
    raise AssertionError(f"{fx.id}: no {text!r} in {source}")


def dump_of(fx: Fixture, stdout: str) -> list[TracebackGoroutine]:
    head, sep, rest = stdout.partition(BEGIN + "\n")
    assert sep, f"{fx.id}: no goroutine dump in the program's output:\n{stdout}"
    body, sep, _ = rest.partition(END)
    assert sep, f"{fx.id}: unterminated goroutine dump:\n{stdout}"
    goroutines = parse(body)
    assert goroutines, f"{fx.id}: empty goroutine dump:\n{body}"
    return goroutines


@dataclass
class LiveRun:
    fixture: Fixture
    scenario: str
    memory: str
    gdb: GdbRun
    stdout: str


def _commands(memory: str) -> list[str]:
    return [
        f"set goscope live-memory {memory}",
        echo("@@kind@@"),
        "python from goscope.gdb import process; print(process.current().target.kind)",
        *LISTINGS,
    ]


def _attach(fx: Fixture, memory: str, timeout: float = 60) -> LiveRun:
    proc = start_program(fx)
    try:
        assert proc.stdout is not None
        seen = b""
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        pid = None
        while pid is None and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                assert proc.poll() is None, f"{fx.id} exited early:\n{seen.decode()}"
                continue
            chunk = os.read(fd, 65536)
            assert chunk, f"{fx.id} closed its output early:\n{seen.decode()}"
            seen += chunk
            match = _READY.search(seen)
            if match:
                pid = int(match.group(1))
        assert pid is not None, f"{fx.id}: no READY line:\n{seen.decode()}"
        run = run_gdb(_commands(memory), args=[str(fx.bin), "-p", str(pid)], timeout=120)
        return LiveRun(fx, ATTACH, memory, run, seen.decode(errors="replace"))
    finally:
        proc.kill()
        proc.wait()


def _breakpoint(fx: Fixture, memory: str) -> LiveRun:
    with tempfile.TemporaryDirectory(prefix="goscope-live-") as tmp:
        out = Path(tmp) / "stdout.txt"
        commands = [
            f"run breakpoint > {out} 2>&1",
            *_commands(memory),
            "continue",
            echo("@@after@@"),
        ]
        run = run_gdb(commands, args=[str(fx.bin)], timeout=120)
        stdout = out.read_text(errors="replace") if out.exists() else ""
    return LiveRun(fx, BREAKPOINT, memory, run, stdout)


def go_statement_wrapper(frame: TracebackFrame, g: TracebackGoroutine) -> bool:
    """Whether `frame` is the function the compiler wraps a ``go`` statement's call in
    (``main.main.gowrap1``; ``main.main.func1`` before Go 1.22): a function nested in the
    creator, at the ``go`` statement's own position."""
    creator = g.created_by
    return (
        creator is not None
        and frame.function.startswith(creator.function + ".")
        and (frame.file, frame.line) == (creator.file, creator.line)
    )


def shown_frames(g: TracebackGoroutine) -> list[TracebackFrame]:
    """The frames of goscope's stack `g` that ``runtime.Stack`` would print."""
    return [f for f in g.frames if user_visible(f.function) and not go_statement_wrapper(f, g)]


def _frames_problems(label: str, want: list[TracebackFrame], mine: TracebackGoroutine) -> list[str]:
    shown = shown_frames(mine)
    if [f.function for f in shown] != [f.function for f in want]:
        return [f"{label}: functions {[f.function for f in shown]} != {[f.function for f in want]}"]
    problems = []
    for mine, theirs in zip(shown, want):
        if (mine.file, mine.line, mine.inlined) != (theirs.file, theirs.line, theirs.inlined):
            problems.append(
                f"{label} {theirs.function}: {mine.file}:{mine.line} inlined={mine.inlined} "
                f"!= {theirs.file}:{theirs.line} inlined={theirs.inlined}"
            )
        elif theirs.offset is not None and mine.offset != theirs.offset:
            problems.append(f"{label} {theirs.function}: +{mine.offset} != +{theirs.offset}")
    return problems


def check(live: LiveRun) -> list[str]:
    """Everything that disagrees with the oracle (empty when all is well)."""
    fx, run = live.fixture, live.gdb
    label = f"{fx.id} {live.scenario} live-memory={live.memory}"
    assert_clean(run)
    dump = dump_of(fx, live.stdout)
    problems: list[str] = []

    kind = run.between("@@kind@@", "@@goroutines@@").strip()
    wanted_kind = "proc" if live.memory == "auto" else "live"
    if kind != wanted_kind:
        problems.append(f"{label}: memory read as {kind!r}, expected {wanted_kind!r}")

    listed = set(listed_ids(run.between("@@goroutines@@", "@@bt@@")))
    stacks = {g.id: g for g in parse_bt(run.between("@@bt@@", "@@threads@@"))}
    if set(stacks) != listed:
        problems.append(f"{label}: go bt all shows {sorted(stacks)}, go goroutines {listed}")

    caller = [g for g in dump if g.status == "running"]
    for want in dump:
        mine = stacks.get(want.id)
        if mine is None:
            problems.append(f"{label}: goroutine {want.id} [{want.state}] missing")
            continue
        if want in caller:
            continue  # checked against the source below
        if mine.state != want.state:
            problems.append(f"{label}: goroutine {want.id} [{mine.state}] != [{want.state}]")
        problems += _frames_problems(f"{label}: goroutine {want.id}", want.frames, mine)
        theirs, ours = want.created_by, mine.created_by
        if theirs is not None and (
            ours is None
            or (printed_name(ours.function), ours.goid, ours.file, ours.line)
            != (theirs.function, theirs.goid, theirs.file, theirs.line)
        ):
            problems.append(f"{label}: goroutine {want.id} created by {ours} != {theirs}")

    dumped = {g.id for g in dump}
    for goid, g in stacks.items():
        if goid not in dumped and shown_frames(g):
            problems.append(
                f"{label}: goroutine {goid} is not in the dump but has frames outside the "
                f"runtime: {[f.function for f in g.frames]}"
            )

    problems += _check_main(live, stacks, caller)

    if live.scenario == BREAKPOINT:
        after = run.stdout.partition("@@end@@")[2]
        if "exited normally" not in after or "CONTINUED" not in live.stdout:
            problems.append(f"{label}: `continue` did not let the program finish:\n{after}")
    return problems


def _check_main(
    live: LiveRun, stacks: dict[int, TracebackGoroutine], caller: list[TracebackGoroutine]
) -> list[str]:
    fx = live.fixture
    label = f"{fx.id} {live.scenario} live-memory={live.memory}"
    main_id = int(fx_facts(live)["goroutines"]["main"])
    if [g.id for g in caller] != [main_id]:
        return [f"{label}: the dump's running goroutines {[g.id for g in caller]} != [{main_id}]"]
    mine = stacks.get(main_id)
    if mine is None:
        return [f"{label}: main goroutine {main_id} missing"]
    shown = shown_frames(mine)
    if live.scenario == BREAKPOINT:
        line = source_line(fx, "runtime.Breakpoint()")
        want = [("runtime.Breakpoint", None), ("main.main", line)]
        state = "running"
    else:
        line = source_line(fx, "time.Sleep(time.Hour)")
        want = [("time.Sleep", None), ("main.main", line)]
        state = "sleep"
    got = [(f.function, f.line if w is not None else None) for f, (_, w) in zip(shown, want)]
    if got != want or mine.state != state:
        return [f"{label}: main goroutine [{mine.state}] {got}, expected [{state}] {want}"]
    return []


def fx_facts(live: LiveRun) -> dict[str, object]:
    """The FIXTURE line the live program printed before READY."""
    for line in live.stdout.splitlines():
        if line.startswith("FIXTURE "):
            facts: dict[str, object] = json.loads(line[len("FIXTURE ") :])
            return facts
    raise AssertionError(f"{live.fixture.id}: no FIXTURE line in:\n{live.stdout}")


def test_live(toolchain: Toolchain, fixture_matrix: list[Fixture]) -> None:
    """Every variant of the toolchain's ``live`` fixture, attached and stopped at a
    breakpoint, with memory through /proc/PID/mem and through GDB."""
    fixtures = [
        f for f in fixture_matrix if f.program == "live" and f.toolchain.name == toolchain.name
    ]
    assert {f.variant for f in fixtures} == {"default", "stripped", "noopt", "pie"}, fixtures
    jobs = []
    for fx in fixtures:
        for memory in MEMORY_MODES:
            jobs.append(lambda fx=fx, memory=memory: _attach(fx, memory))
            jobs.append(lambda fx=fx, memory=memory: _breakpoint(fx, memory))
    runs = in_parallel(jobs, workers=4)
    problems = [p for live in runs for p in check(live)]
    assert not problems, "\n".join(problems)
