"""GDB's own ``bt`` on Go stacks with goscope loaded: the pclntab unwinder, the frame filter
that names frames of stripped binaries, and ``go goroutine ID`` on core files.

Oracle: the runtime's ``GOTRACEBACK=crash`` traceback of the same core. In one GDB session per
core, ``go goroutine N`` then ``bt`` runs for every goroutine the traceback prints, and the
frames GDB shows — function, file name and line, inlined calls included — must be the
traceback's frames:

- a goroutine that runs on no thread is shown from its saved registers: ``bt`` (which hides
  the thread's own frame 0) must show exactly the traceback's frames;
- a goroutine running on a thread selects that thread, whose stack may hold more (the signal
  handler, the system call below the goroutine's frames, the system stack it switched to):
  the traceback's frames must be the outermost frames of ``bt``, reached through
  ``runtime.systemstack``, ``runtime.asmcgocall`` and signal frames.

Frames of stripped binaries get their names from the frame filter; of the others from GDB's
DWARF. GDB must survive every command and nothing may be left as ``??``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.tracebacks import TracebackGoroutine, parse_by_id, printed_name

# One GDB frame line: `#N  0xADDR in FUNC (ARGS) at FILE:LINE`, the address and the `#N` being
# absent on lines of calls inlined into the frame above.
_FRAME = re.compile(
    r"^(?:#(?P<level>\d+)\s+)?(?:0x[0-9a-f]+ in )?"
    r"(?P<function>\S+) \(.*\) at (?P<file>\S+):(?P<line>\d+)$"
)
_BEGIN, _END = "@@go-bt-begin {}@@", "@@go-bt-end {}@@"

Frame = tuple[str, str, int]


def _key(function: str, file: str, line: int) -> Frame:
    return (printed_name(function), PurePosixPath(file).name, line)


def gdb_frames(text: str) -> list[Frame]:
    frames = []
    for line in text.splitlines():
        match = _FRAME.match(line.strip())
        if match:
            frames.append(_key(match["function"], match["file"], int(match["line"])))
    return frames


def traceback_frames(g: TracebackGoroutine) -> list[Frame]:
    return [_key(f.function, f.file, f.line) for f in [*g.head, *g.tail]]


def _matches(got: list[Frame], g: TracebackGoroutine, running: bool) -> bool:
    """Whether GDB's frames are the traceback's: all of them, or (for a goroutine on a
    thread) its outermost ones; where the traceback elided frames in the middle of a deep
    stack, its first and last frames around the gap."""
    head = [_key(f.function, f.file, f.line) for f in g.head]
    tail = [_key(f.function, f.file, f.line) for f in g.tail]
    if g.state.startswith("syscall") and g.elided is None and head:
        # The traceback starts at the pc saved on entering the system call; the thread has
        # gone on into the call from the same function since.
        inner = head[0][0]
        rest = head[1:]
        return (
            len(got) > len(rest)
            and got[-len(head)][0] == inner
            and got[len(got) - len(rest) :] == rest
        )
    if g.elided is None:
        return got[-len(head) :] == head if running else got == head
    if got[-len(tail) :] != tail:
        return False
    if running:
        return any(got[i : i + len(head)] == head for i in range(len(got) - len(head) + 1))
    return got[: len(head)] == head and len(got) > len(head) + len(tail)


# The crash program in every variant (stripped: names from pclntab; the others from DWARF),
# the deadlocks program, whose goroutines wait on every kind of object, and the fatal-error
# programs, whose crashing threads are on the system stack (throw, morestack, a signal in C).
def _chosen(fixture: Fixture) -> bool:
    return fixture.program in ("crash", "deadlocks") or fixture.program.startswith("fatal-")


def _session(fixture: Fixture, ids: list[int]) -> GdbRun:
    # GDB stops a backtrace at main.main unless told otherwise; the traceback goes on to
    # runtime.main and runtime.goexit.
    commands = ["set backtrace past-main on"]
    for goid in ids:
        commands += [
            echo(_BEGIN.format(goid)),
            f"go goroutine {goid}",
            "bt",
            echo(_END.format(goid)),
        ]
    commands.append("go goroutine")
    assert fixture.core is not None
    return run_gdb(commands, args=[str(fixture.bin), str(fixture.core)])


def test_bt_after_go_goroutine_matches_traceback(fixture_matrix: list[Fixture]) -> None:
    chosen = [f for f in fixture_matrix if f.crash and _chosen(f)]
    assert chosen, "no crash or deadlocks cores in the fixture matrix"
    expected = {f.id: parse_by_id(f.traceback_text()) for f in chosen}
    runs = in_parallel(
        [lambda f=f: _session(f, sorted(expected[f.id])) for f in chosen]  # type: ignore[misc]
    )
    failures: list[str] = []
    details: list[str] = []
    checked = 0
    for fixture, run in zip(chosen, runs):
        assert_clean(run)
        assert run.survived, run.describe()
        for goid, g in expected[fixture.id].items():
            shown = run.between(_BEGIN.format(goid), _END.format(goid))
            got = gdb_frames(shown)
            want = traceback_frames(g)
            checked += 1
            if "??" in shown:
                failures.append(f"{fixture.id} goroutine {goid}: `??` in bt:\n{shown}")
                continue
            # `go goroutine` says when it selected the thread the goroutine runs on.
            running = "running on thread" in shown
            ok = _matches(got, g, running)
            if not ok:
                failures.append(
                    f"{fixture.id} goroutine {goid} [{g.state}]: {len(want)} traceback frames, "
                    f"{len(got)} in bt"
                )
                details.append(
                    f"{fixture.id} goroutine {goid} [{g.state}]:\n  traceback: {want}\n"
                    f"  gdb bt:    {got}\n{shown}"
                )
    assert not failures, (
        f"{len(failures)} of {checked} goroutines differ:\n"
        + "\n".join(failures)
        + "\n\n"
        + "\n".join(details[:2])
    )


@pytest.mark.parametrize("argument", ["999999", "abc"])
def test_go_goroutine_bad_id(fixture_matrix: list[Fixture], argument: str) -> None:
    fixture = next(f for f in fixture_matrix if f.crash and f.program == "crash")
    assert fixture.core is not None
    run = run_gdb([f"go goroutine {argument}", "bt 1"], args=[str(fixture.bin), str(fixture.core)])
    assert_clean(run)
    assert run.survived, run.describe()
    errors = [line for line in run.output.splitlines() if line.startswith("go goroutine")]
    assert len(errors) == 1, run.describe()
