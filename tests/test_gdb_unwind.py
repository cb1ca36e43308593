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
import tempfile
from pathlib import Path, PurePosixPath

import pytest

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain
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
            if not want:
                # The runtime printed no frames ("goroutine running on other thread; stack
                # unavailable"): goscope's must at least reach the stack's bottom.
                if not got or got[-1][0] != "runtime.goexit":
                    failures.append(f"{fixture.id} goroutine {goid}: bt ends early:\n{shown}")
                continue
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


# --- live: GDB's own commands at a breakpoint inside a goroutine ---------------------------

_LIVE_BT, _LIVE_UP, _LIVE_FINISH = "@@live-bt@@", "@@live-up@@", "@@live-finish@@"
_LIVE_MAIN, _LIVE_LOCALS = "@@live-main@@", "@@live-locals@@"
_STOPS_SOURCE = Path(__file__).parent / "fixtures" / "programs" / "stops" / "main.go"


def _main_waits_at(statement: str) -> int:
    """The line of a statement of the stops program's main function."""
    for number, text in enumerate(_STOPS_SOURCE.read_text().splitlines(), 1):
        if text.strip() == statement:
            return number
    raise AssertionError(f"no `{statement}` line in {_STOPS_SOURCE}")


def _stack_dump(stdout: str) -> tuple[list[Frame], Frame | None]:
    """The worker's frames as the program printed them at the `record` line (runtime.Stack),
    without recordStack's own frame, and where the `go` statement that created it is."""
    from tests.tracebacks import parse

    text = stdout.partition("=== STACK work ===\n")[2].partition("=== END STACK ===")[0]
    goroutines = parse(text)
    assert len(goroutines) == 1, f"no stack dump in the program's output:\n{stdout}"
    g = goroutines[0]
    frames = traceback_frames(g)
    assert frames and frames[0][0] == "main.recordStack", frames
    creator = g.created_by
    made_by = None if creator is None else _key(creator.function, creator.file, creator.line)
    return frames[1:], made_by


def _shown_by_runtime_stack(frame: Frame, creator: Frame | None) -> bool:
    """Whether runtime.Stack prints `frame`: not the runtime's unexported functions, and not
    the wrapper the compiler makes for a `go` statement (a function nested in the creator, at
    the statement's position)."""
    from tests.test_live import user_visible

    if not user_visible(frame[0]):
        return False
    return not (
        creator is not None and frame[0].startswith(creator[0] + ".") and frame[1:] == creator[1:]
    )


def _live_session(fixture: Fixture, line: int) -> tuple[GdbRun, str]:
    with tempfile.TemporaryDirectory(prefix="goscope-unwind-") as tmp:
        out = Path(tmp) / "stdout.txt"
        commands = [
            "set backtrace past-main on",
            f"go break main.go:{line}",
            f"run breakpoint > {out} 2>&1",
            echo(_LIVE_BT),
            "bt",
            echo(_LIVE_UP),
            "up",
            "down",
            # On to the runtime.Breakpoint() trap in the same function (a breakpoint may
            # report twice when the goroutine was preempted on it), and out of it.
            "python [gdb.execute('continue') for _ in range(5) "
            "if gdb.newest_frame().name() != 'runtime.breakpoint']",
            echo(_LIVE_MAIN),
            "go goroutine 1",
            "bt",
            echo(_LIVE_LOCALS),
            "frame function main.main",
            "info locals",
            "go goroutine",
            echo(_LIVE_FINISH),
            "finish",
            echo("@@live-end@@"),
            "continue",
        ]
        run = run_gdb(commands, args=[str(fixture.bin)], timeout=180)
        stdout = out.read_text(errors="replace") if out.exists() else ""
    return run, stdout


def test_bt_up_finish_at_a_breakpoint_in_a_goroutine(
    toolchain: Toolchain, fixture_matrix: list[Fixture]
) -> None:
    """Stopped by `go break` at the line where the worker goroutine records its own stack,
    `bt` shows the frames the runtime printed there (the ones runtime.Stack shows) and `up`
    names the caller; stopped by runtime.Breakpoint() further on, `finish` returns into the
    caller — in every variant, stripped included, where GDB's names and lines come from
    goscope."""
    from tests.test_gdb_break import standalone_facts

    builds = [
        f for f in fixture_matrix if f.program == "stops" and f.toolchain.name == toolchain.name
    ]
    assert len(builds) == 4, [f.id for f in builds]
    lines = {f.id: standalone_facts(f)["lines"]["record"] for f in builds}
    runs = in_parallel([lambda f=f: _live_session(f, lines[f.id]) for f in builds])  # type: ignore[misc]
    problems = []
    for fixture, (run, stdout) in zip(builds, runs):
        assert_clean(run)
        assert run.survived, run.describe()
        want, creator = _stack_dump(stdout)
        shown = run.between(_LIVE_BT, _LIVE_UP)
        got = [f for f in gdb_frames(shown) if _shown_by_runtime_stack(f, creator)]
        if "??" in shown or got != want:
            problems.append(f"{fixture.id}: bt\n  runtime.Stack: {want}\n  gdb bt: {got}\n{shown}")
        up = run.between(_LIVE_UP, _LIVE_MAIN)
        # The main goroutine, parked on a live process, shown without writing a register:
        # its only frame runtime.Stack would show is main.main, at the receive.
        # While the worker runs, main waits for its result; until the scheduler has run it
        # again after the worker sent its id, it is runnable and still where it received that.
        main_bt = run.between(_LIVE_MAIN, _LIVE_LOCALS)
        main_frames = gdb_frames(main_bt)
        visible = [f for f in main_frames if _shown_by_runtime_stack(f, None)]
        statement = "worker := <-id" if "[runnable]" in main_bt else "sum := <-result"
        if visible != [("main.main", "main.go", _main_waits_at(statement))] or (
            not main_frames or main_frames[-1][0] != "runtime.goexit"
        ):
            problems.append(f"{fixture.id}: go goroutine 1; bt:\n{main_bt}")
        # Without optimisation DWARF locates main's locals; GDB reads them in the goroutine's
        # frame as goscope unwound it (the channel printer shows the goroutine waiting).
        if fixture.variant == "noopt":
            locals_text = run.between(_LIVE_LOCALS, _LIVE_FINISH).partition("[Back to")[0]
            for local in ("id = chan int64", "result = chan int"):
                if local not in locals_text:
                    problems.append(f"{fixture.id}: `info locals` lacks {local!r}:\n{locals_text}")
        if "#1 " not in up.replace("#1  ", "#1 ") or want[1][0] not in up:
            problems.append(f"{fixture.id}: `up` did not show {want[1][0]}:\n{up}")
        # runtime.breakpoint returns into runtime.Breakpoint, or into main.work where that
        # was inlined.
        finished = run.between(_LIVE_FINISH, "@@live-end@@")
        returned = re.search(r"^0x[0-9a-f]+ in (\S+) \(", finished, re.MULTILINE)
        if returned is None or returned[1] not in ("main.work", "runtime.Breakpoint"):
            problems.append(f"{fixture.id}: `finish` did not return to the caller:\n{finished}")
        if '"result"' not in stdout:
            problems.append(f"{fixture.id}: the program did not finish:\n{run.describe()}")
    assert not problems, "\n".join(problems)
