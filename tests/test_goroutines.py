"""``goscope goroutines CORE --exe BIN --json`` and ``goscope bt`` against the Go runtime's own
traceback of the same crash, for every fixture with a core.

The oracle is ``traceback.txt``: what the runtime printed with ``GOTRACEBACK=crash`` just
before the core was written. For every goroutine printed there goscope must report the same
id; the same state (wait reason or status, minutes waited, ``locked to thread``); the same
creator (function, goroutine, file:line); and the same frames in the same order: function,
file:line and whether the call was inlined, plus the ``pc``, ``sp``, ``fp`` and ``+0x``
offset of every physical frame. Where the runtime elided the middle of a deep stack, the
printed innermost and outermost frames are compared and the count of elided frames must add
up. goscope must not report goroutines the runtime did not print.

The runtime prints ``runtime.gopanic`` as ``panic`` and type arguments as ``[...]``; goscope's
names are compared after the same rewriting (:func:`tests.tracebacks.printed_name`).

Each fixture is its own test (one CLI call); ``test_match_rate`` runs every fixture at once on
a thread pool and prints the match rate of each and overall (shown with ``-s`` or ``-rP``, and
in the failure message).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.gdbrun import PANIC_MARKERS, TRACEBACK_MARKERS, in_parallel
from tests.harness.fixture import Fixture
from tests.harness.paths import SITE_DIR
from tests.tracebacks import TracebackFrame, TracebackGoroutine, parse, parse_by_id, printed_name

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_goscope(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs ``build/site/bin/goscope ARGS``, the documented command, with no PYTHONPATH; a
    hang is a failure, and so is a Python traceback or a Rust panic in the output."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("NO_COLOR", None)
    try:
        proc = subprocess.run(
            [str(SITE_DIR / "bin" / "goscope"), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"goscope {' '.join(args)} did not finish in {timeout} s") from error
    for marker in TRACEBACK_MARKERS + PANIC_MARKERS:
        assert marker not in proc.stdout + proc.stderr, describe(proc)
    return proc


def describe(proc: subprocess.CompletedProcess[str], limit: int = 4000) -> str:
    stdout = proc.stdout if len(proc.stdout) <= limit else proc.stdout[:limit] + "\n[...]"
    return (
        f"$ {' '.join(map(str, proc.args))}\nexit status {proc.returncode}\n"
        f"--- stdout ---\n{stdout}\n--- stderr ---\n{proc.stderr}"
    )


def goroutines_json(fx: Fixture) -> dict[str, Any]:
    assert fx.core is not None
    proc = run_goscope("goroutines", str(fx.core), "--exe", str(fx.bin), "--json")
    assert proc.returncode == 0, describe(proc)
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


# -- comparison -------------------------------------------------------------------------------


def state_of(g: dict[str, Any]) -> str:
    """The header's bracket text the runtime would print for a goscope goroutine object."""
    state = str(g.get("wait_reason") or g.get("status"))
    minutes = g.get("wait_minutes")
    if isinstance(minutes, int) and minutes >= 1:
        state += f", {minutes} minutes"
    if g.get("locked_to_thread"):
        state += ", locked to thread"
    return state


def frame_differences(want: TracebackFrame, got: dict[str, Any]) -> list[str]:
    """What differs between the runtime's frame and goscope's; empty when they agree."""
    problems = []
    name = printed_name(str(got.get("function")))
    if name != want.function:
        problems.append(f"function {name!r} != {want.function!r}")
    if (got.get("file"), got.get("line")) != (want.file, want.line):
        problems.append(f"at {got.get('file')}:{got.get('line')} != {want.file}:{want.line}")
    if bool(got.get("inlined")) != want.inlined:
        problems.append(f"inlined {bool(got.get('inlined'))} != {want.inlined}")
    for key in ("pc", "sp", "fp"):
        expected = getattr(want, key)
        if expected is not None and got.get(key) != expected:
            problems.append(f"{key} {_hex(got.get(key))} != {expected:#x}")
    if want.offset is not None and got.get("offset") != want.offset:
        problems.append(f"offset {_hex(got.get('offset'))} != {want.offset:#x}")
    return problems


def _hex(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) else repr(value)


@dataclass
class Comparison:
    """How one fixture's goroutines compare with its traceback."""

    fixture: str
    goroutines: int = 0
    goroutines_matched: int = 0
    frames: int = 0
    frames_matched: int = 0
    problems: list[str] = field(default_factory=list)

    def rate(self) -> str:
        return (
            f"{self.goroutines_matched}/{self.goroutines} goroutines, "
            f"{self.frames_matched}/{self.frames} frames"
        )

    def report(self, limit: int = 40) -> str:
        shown = self.problems[:limit]
        more = len(self.problems) - len(shown)
        lines = [f"{self.fixture}: {self.rate()} match the runtime's traceback", *shown]
        if more:
            lines.append(f"... and {more} more")
        return "\n".join(lines)


def _compare_frames(want: TracebackGoroutine, got: list[dict[str, Any]], out: Comparison) -> bool:
    """Compares the printed frames with goscope's (head and tail around an elision)."""
    pairs: list[tuple[int, TracebackFrame, dict[str, Any] | None]] = []
    for i, frame in enumerate(want.head):
        pairs.append((i, frame, got[i] if i < len(got) else None))
    for i, frame in enumerate(want.tail):
        index = len(got) - len(want.tail) + i
        ok_index = index >= len(want.head)
        pairs.append((index, frame, got[index] if ok_index else None))
    all_ok = True
    for index, frame, mine in pairs:
        out.frames += 1
        if mine is None:
            out.problems.append(f"goroutine {want.id} frame {index} ({frame.function}): missing")
            all_ok = False
            continue
        problems = frame_differences(frame, mine)
        if problems:
            out.problems.append(
                f"goroutine {want.id} frame {index} ({frame.function}): {'; '.join(problems)}"
            )
            all_ok = False
        else:
            out.frames_matched += 1
    if want.elided is None and len(got) != len(want.head):
        out.problems.append(
            f"goroutine {want.id}: {len(got)} frames, the traceback has {len(want.head)}"
        )
        all_ok = False
    if want.elided is not None and want.elided >= 0:
        total = len(want.head) + want.elided + len(want.tail)
        if len(got) != total:
            out.problems.append(
                f"goroutine {want.id}: {len(got)} frames, the traceback has {total} "
                f"({len(want.head)} + {want.elided} elided + {len(want.tail)})"
            )
            all_ok = False
    return all_ok


def compare(fixture_id: str, traceback_text: str, document: dict[str, Any]) -> Comparison:
    """Compares goscope's goroutines with the runtime's traceback of the same crash."""
    expected = parse_by_id(traceback_text)
    out = Comparison(fixture=fixture_id, goroutines=len(expected))
    got = {g.get("id"): g for g in document.get("goroutines", [])}
    for goid in sorted(set(got) - set(expected), key=lambda x: (x is None, x)):
        out.problems.append(f"goroutine {goid}: reported by goscope, not by the runtime")
    for goid, want in expected.items():
        mine = got.get(goid)
        if mine is None:
            out.problems.append(f"goroutine {goid} [{want.state}]: missing")
            out.frames += len(want.frames)
            continue
        ok = True
        if mine.get("error"):
            out.problems.append(f"goroutine {goid}: error {mine['error']!r}")
            ok = False
        if state_of(mine) != want.state:
            out.problems.append(f"goroutine {goid}: state {state_of(mine)!r} != {want.state!r}")
            ok = False
        if want.gp is not None and mine.get("gp") != want.gp:
            out.problems.append(f"goroutine {goid}: gp {_hex(mine.get('gp'))} != {want.gp:#x}")
            ok = False
        if want.gp is not None and mine.get("m") != want.m:
            out.problems.append(f"goroutine {goid}: m {mine.get('m')} != {want.m}")
            ok = False
        ok = _compare_creator(want, mine, out) and ok
        if not want.stack_unavailable:
            ok = _compare_frames(want, mine.get("frames") or [], out) and ok
        if ok:
            out.goroutines_matched += 1
    return out


def _compare_creator(want: TracebackGoroutine, mine: dict[str, Any], out: Comparison) -> bool:
    creator = mine.get("created_by")
    if want.created_by is None:
        if creator is not None:
            out.problems.append(f"goroutine {want.id}: created by {creator}, the runtime: none")
            return False
        return True
    expected = want.created_by
    if not isinstance(creator, dict):
        out.problems.append(f"goroutine {want.id}: no creator, the runtime: {expected}")
        return False
    got = (
        printed_name(str(creator.get("function"))),
        creator.get("goid"),
        creator.get("file"),
        creator.get("line"),
        creator.get("offset"),
    )
    # The runtime prints no +0x for a `go` statement at its function's very entry.
    wanted = (expected.function, expected.goid, expected.file, expected.line, expected.offset)
    if got != wanted:
        out.problems.append(f"goroutine {want.id}: created by {got} != {wanted}")
        return False
    return True


def parse_bt(text: str) -> list[TracebackGoroutine]:
    """Reads goscope's ``bt`` text with the traceback parser, leaving out goscope's own notes
    (hidden system-stack frames, labels), which are not traceback lines."""
    notes = ("(", "labels: ")
    return parse("\n".join(line for line in text.splitlines() if not line.startswith(notes)))


def bt_document(printed: list[TracebackGoroutine]) -> dict[str, Any]:
    """goscope's ``bt`` text, read back with :func:`parse_bt`, as a goroutines document that
    :func:`compare` can check against the runtime's traceback."""
    return {
        "goroutines": [
            {
                "id": g.id,
                "gp": g.gp,
                "m": g.m,
                "status": g.status,
                "locked_to_thread": g.locked_to_thread,
                "wait_minutes": g.minutes,
                "created_by": None
                if g.created_by is None
                else {
                    "function": g.created_by.function,
                    "goid": g.created_by.goid,
                    "file": g.created_by.file,
                    "line": g.created_by.line,
                    "offset": g.created_by.offset,
                },
                "frames": [
                    {
                        "function": f.function,
                        "file": f.file,
                        "line": f.line,
                        "inlined": f.inlined,
                        "pc": f.pc,
                        "sp": f.sp,
                        "fp": f.fp,
                        "offset": f.offset,
                    }
                    for f in g.frames
                ],
            }
            for g in printed
        ]
    }


# -- tests ------------------------------------------------------------------------------------


def test_goroutines_json_match_traceback(fixture: Fixture) -> None:
    document = goroutines_json(fixture)
    assert document.get("go_version") == fixture.facts().get("go_version", document["go_version"])
    result = compare(fixture.id, fixture.traceback_text(), document)
    print(f"{fixture.id}: {result.rate()}")
    assert result.goroutines > 0, f"{fixture.id}: no goroutine in traceback.txt"
    assert not result.problems, result.report()


def test_bt_text_matches_traceback(fixture: Fixture) -> None:
    """``goscope bt CORE --exe BIN all`` prints stacks in the runtime's own format: read back
    with the traceback parser, they agree with the runtime's traceback."""
    assert fixture.core is not None
    proc = run_goscope("bt", str(fixture.core), "--exe", str(fixture.bin), "all")
    assert proc.returncode == 0, describe(proc)
    printed = parse_bt(proc.stdout)
    document = bt_document(printed)
    result = compare(fixture.id, fixture.traceback_text(), document)
    assert not result.problems, result.report() + "\n\n" + describe(proc)
    # In colour, the same text with ANSI codes around parts of it.
    coloured = run_goscope(
        "bt", str(fixture.core), "--exe", str(fixture.bin), "all", "--color", "always"
    )
    assert coloured.returncode == 0, describe(coloured)
    assert ANSI.search(coloured.stdout), describe(coloured)
    assert ANSI.sub("", coloured.stdout) == proc.stdout


class _RateSummary:
    """A plugin, registered by :func:`test_match_rate` in a run without xdist workers, that
    repeats the match-rate table in pytest's terminal summary."""

    def __init__(self, table: str) -> None:
        self.table = table

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("=", "goscope goroutines vs the runtime's tracebacks")
        terminalreporter.write_line(self.table)


def test_match_rate(fixture_matrix: list[Fixture], pytestconfig: pytest.Config) -> None:
    """Every fixture at once: the match rate of each and overall (target: 100%)."""
    cores = [fx for fx in fixture_matrix if fx.crash]
    assert cores, "no fixture with a core"

    def one(fx: Fixture) -> Comparison:
        return compare(fx.id, fx.traceback_text(), goroutines_json(fx))

    results = in_parallel([lambda fx=fx: one(fx) for fx in cores])
    total = Comparison(fixture="overall")
    lines = []
    for result in results:
        lines.append(f"  {result.fixture:<28} {result.rate()}")
        total.goroutines += result.goroutines
        total.goroutines_matched += result.goroutines_matched
        total.frames += result.frames
        total.frames_matched += result.frames_matched
        total.problems += [f"{result.fixture}: {p}" for p in result.problems]
    g_rate = 100 * total.goroutines_matched / max(1, total.goroutines)
    f_rate = 100 * total.frames_matched / max(1, total.frames)
    lines.append(
        f"  {'overall':<28} {total.rate()} ({g_rate:.2f}% of goroutines, {f_rate:.2f}% of "
        f"frames, {len(cores)} cores)"
    )
    table = "goroutines matching the runtime's traceback:\n" + "\n".join(lines)
    print(table)
    manager = pytestconfig.pluginmanager
    if manager.get_plugin("terminalreporter") is not None and not hasattr(
        pytestconfig, "workerinput"
    ):
        manager.register(_RateSummary(table), "goscope-goroutine-match-rate")
    assert not total.problems, table + "\n\n" + total.report()


def test_comparison_finds_differences(fixture_matrix: list[Fixture]) -> None:
    """The comparison is not vacuous: a wrong frame, state, creator or a missing goroutine in
    goscope's document are each reported."""
    fx = next(f for f in fixture_matrix if f.crash and f.program == "crash")
    text = fx.traceback_text()
    expected = parse_by_id(text)

    def tampered(change: Any) -> Comparison:
        document = goroutines_json(fx)
        change(document["goroutines"])
        return compare(fx.id, text, document)

    assert not tampered(lambda gs: None).problems

    def wrong_line(gs: list[dict[str, Any]]) -> None:
        gs[0]["frames"][0]["line"] += 1

    def wrong_sp(gs: list[dict[str, Any]]) -> None:
        next(f for f in gs[1]["frames"] if not f["inlined"])["sp"] += 8

    def wrong_state(gs: list[dict[str, Any]]) -> None:
        gs[1]["wait_reason"] = "sleep" if gs[1]["wait_reason"] != "sleep" else "select"

    def wrong_creator(gs: list[dict[str, Any]]) -> None:
        gs[1]["created_by"]["goid"] = 12345

    def dropped_inline(gs: list[dict[str, Any]]) -> None:
        for g in gs:
            g["frames"] = [f for f in g["frames"] if not f["inlined"]]

    def missing(gs: list[dict[str, Any]]) -> None:
        del gs[-1]

    for change in (wrong_line, wrong_sp, wrong_state, wrong_creator, dropped_inline, missing):
        result = tampered(change)
        assert result.problems, change.__name__
        assert result.goroutines_matched < len(expected), change.__name__


@pytest.mark.parametrize(
    "name, printed",
    [
        ("runtime.gopanic", "panic"),
        ("main.waitGeneric[go.shape.float64]", "main.waitGeneric[...]"),
        ("main.(*List[go.shape.int]).Push", "main.(*List[...]).Push"),
        ("main.F[go.shape.struct { X []int }]", "main.F[...]"),
        ("main.main.func1", "main.main.func1"),
    ],
)
def test_printed_name(name: str, printed: str) -> None:
    assert printed_name(name) == printed


def listed_ids(text: str) -> list[int]:
    """Goroutine ids of a ``goroutines`` text listing (``*`` marks the current one)."""
    ids = []
    for line in text.splitlines():
        words = line.lstrip(" *").split(" ", 1)
        if words and words[0].isdigit() and len(words) > 1 and words[1].startswith("["):
            ids.append(int(words[0]))
    return ids


def _filter_oracle(g: TracebackGoroutine, option: str, value: str) -> bool:
    functions = [f.function for f in g.frames]
    if option == "--state":
        return value.lower() in g.state.lower()
    if option == "--wait-reason":
        return g.status.lower() == value.lower()
    if option == "--function":
        return any(value in f for f in functions)
    if option == "--user":
        return any(not is_runtime_printed(f) for f in functions)
    raise AssertionError(option)


def is_runtime_printed(function: str) -> bool:
    """Whether a function as the runtime prints it belongs to the runtime itself."""
    if function == "panic":
        return True
    name = function.split("[", 1)[0]
    package = name[: name.find(".", name.rfind("/") + 1)]
    return package == "runtime" or package.startswith(("runtime/internal/", "internal/runtime/"))


_FILTERS = [
    ("--state", "chan receive"),
    ("--state", "running"),
    ("--wait-reason", "sync.Mutex.Lock"),
    ("--function", "main.recurse"),
    ("--function", "chanrecv"),
    ("--user", ""),
]


def test_filters(fixture_matrix: list[Fixture]) -> None:
    """``goscope goroutines`` filters (text and JSON) keep exactly the goroutines of the
    traceback that satisfy them, on the ``crash`` cores of the oldest and newest toolchain."""
    chosen = [
        fx
        for fx in fixture_matrix
        if fx.program == "crash" and fx.toolchain.name in ("go1.21.13", "go1.27.3")
    ]
    jobs = []
    for fx in chosen:
        for option, value in _FILTERS:
            jobs.append((fx, option, value))

    def run(job: tuple[Fixture, str, str]) -> str | None:
        fx, option, value = job
        assert fx.core is not None
        words = [option] + ([value] if value else [])
        expected = sorted(
            g.id for g in parse(fx.traceback_text()) if _filter_oracle(g, option, value)
        )
        text = run_goscope("goroutines", str(fx.core), "--exe", str(fx.bin), *words)
        as_json = run_goscope("goroutines", str(fx.core), "--exe", str(fx.bin), "--json", *words)
        if text.returncode != 0 or as_json.returncode != 0:
            return describe(text) + describe(as_json)
        got_text = sorted(listed_ids(text.stdout))
        got_json = sorted(g["id"] for g in json.loads(as_json.stdout)["goroutines"])
        if got_text != expected or got_json != expected:
            return (
                f"{fx.id} {' '.join(words)}: runtime {expected}, text {got_text}, "
                f"json {got_json}\n{text.stdout}"
            )
        return None

    failures = [f for f in in_parallel([lambda job=job: run(job) for job in jobs]) if f]
    assert not failures, "\n\n".join(failures)


def test_goroutines_needs_a_core(fixture_matrix: list[Fixture]) -> None:
    fx = next(f for f in fixture_matrix if f.crash)
    assert fx.core is not None
    not_core = run_goscope("goroutines", str(fx.bin))
    assert not_core.returncode == 2, describe(not_core)
    assert "not a core file" in not_core.stderr, describe(not_core)
    no_exe = run_goscope("bt", str(fx.core))
    assert no_exe.returncode == 2, describe(no_exe)
    assert "--exe" in no_exe.stderr, describe(no_exe)
    bad_id = run_goscope("bt", str(fx.core), "--exe", str(fx.bin), "seven")
    assert bad_id.returncode == 2, describe(bad_id)
    unknown = run_goscope("bt", str(fx.core), "--exe", str(fx.bin), "1", "999999")
    assert unknown.returncode == 1, describe(unknown)
    assert "no goroutine 999999" in unknown.stderr, describe(unknown)
    assert parse_bt(unknown.stdout)[0].id == 1, describe(unknown)


def test_write_stacks_callback(fixture_matrix: list[Fixture]) -> None:
    """``Target.write_stacks`` hands the text to its callback in pieces that add up to what
    ``goscope bt all`` prints, and an exception the callback raises (GDB's pager quitting,
    Ctrl-C) stops the listing and reaches the caller unchanged."""
    from goscope import Target

    fx = next(f for f in fixture_matrix if f.crash)
    assert fx.core is not None
    target = Target.open_core(str(fx.core), str(fx.bin))
    pieces: list[str] = []
    written, _, missing = target.write_stacks(pieces.append)
    printed = run_goscope("bt", str(fx.core), "--exe", str(fx.bin), "all")
    assert "".join(pieces) == printed.stdout and written == len(parse_bt(printed.stdout))
    assert missing == []
    _, _, missing = target.write_stacks(pieces.append, [1, 999999])
    assert missing == [999999]

    class Stop(Exception):
        pass

    def stop(text: str) -> None:
        raise Stop(text[:20])

    with pytest.raises(Stop):
        target.write_stacks(stop)
