"""Limits on what goscope reads and shows: ``--max-frames``, ``--max-goroutines`` and
``--max-list`` on the command line, ``set goscope max-frames`` (and the others) in GDB.

The oracles:

- the runtime's ``GOTRACEBACK=crash`` traceback of the ``crash`` program, whose deepest
  goroutine recurses 2000 calls deep: the runtime prints its innermost and outermost frames and
  how many it elided between them, so the stack has ``head + elided + tail`` frames. With a
  frame limit of 50, goscope shows exactly the traceback's first 50 frames and says how many
  it left out (the rest of that count); the traceback's goroutine count says how many
  goroutines a goroutine limit leaves unread;
- the ``panics`` program's own record of each goroutine's pending deferred calls and panics,
  for ``--max-list``;
- the ``printers`` program's own record of its slices, channels and maps, for ``set goscope
  max-list`` in the pretty printers.

Bad values are one line of error, on the command line (exit status 2) and in GDB (the
setting keeps its value).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from goscope import Target

from tests.gdbrun import GDB_NOISE, GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain
from tests.test_goroutines import (
    bt_document,
    describe,
    frame_differences,
    listed_ids,
    parse_bt,
    run_goscope,
)
from tests.test_panics import defer_problems, panic_problems
from tests.tracebacks import TracebackGoroutine, parse

#: The frame limit the tests set, as the runtime's own traceback shows about as many.
LIMIT = 50
#: The goroutine limit the tests set.
GOROUTINES = 5
#: Frames shown per goroutine by default, as before there were settings.
DEFAULT_MAX_FRAMES = 100_000


def frames_note(more: int) -> str:
    """The line goscope ends a stack with when the frame limit cut it short."""
    return (
        f"(... {more} more frame{'' if more == 1 else 's'} not shown: raise max-frames to see them)"
    )


def goroutines_note(more: int) -> str:
    """The line goscope ends a listing with when the goroutine limit left some unread."""
    s = "" if more == 1 else "s"
    return f"({more} more goroutine{s} not read: raise max-goroutines to read them)"


def crash_cores(fixture_matrix: list[Fixture]) -> list[Fixture]:
    chosen = [fx for fx in fixture_matrix if fx.program == "crash" and fx.core is not None]
    assert chosen, "the fixture matrix has no core of the crash program"
    for fx in chosen:
        assert not fx.missing_files(), f"{fx.id} is incomplete: {fx.missing_files()}"
    return chosen


def deepest(fx: Fixture) -> tuple[TracebackGoroutine, int]:
    """The traceback's goroutine in the 2000-deep recursion, and how many frames it has."""
    for g in parse(fx.traceback_text()):
        if (
            g.elided is not None
            and g.elided >= 0
            and any(f.function == "main.recurse" for f in g.frames)
        ):
            return g, len(g.head) + g.elided + len(g.tail)
    raise AssertionError(f"{fx.id}: no deep main.recurse stack with elided frames in traceback")


def head_problems(label: str, want: TracebackGoroutine, got: list[dict[str, Any]]) -> list[str]:
    """goscope's first frames against the traceback's innermost ones."""
    problems = []
    if len(got) != LIMIT:
        problems.append(f"{label}: {len(got)} frames shown, the limit is {LIMIT}")
    for index, (frame, mine) in enumerate(zip(want.head, got)):
        for problem in frame_differences(frame, mine):
            problems.append(f"{label}: frame {index} ({frame.function}): {problem}")
    return problems


def printed_frames(g: TracebackGoroutine) -> list[dict[str, Any]]:
    """The frames of a goroutine goscope printed, read back with the traceback parser."""
    frames: list[dict[str, Any]] = bt_document([g])["goroutines"][0]["frames"]
    return frames


def _for_each(fixtures: list[Fixture], check: Callable[[Fixture], list[str]]) -> None:
    problems = [
        p for found in in_parallel([lambda fx=fx: check(fx) for fx in fixtures]) for p in found
    ]
    assert not problems, "\n".join(problems)


# -- the command line -------------------------------------------------------------------------


def _cli_frames(fx: Fixture) -> list[str]:
    want, total = deepest(fx)
    core, exe = str(fx.core), str(fx.bin)
    text = run_goscope("bt", core, "--exe", exe, str(want.id), "--max-frames", str(LIMIT))
    if text.returncode != 0:
        return [describe(text)]
    problems = []
    printed = parse_bt(text.stdout)
    if [g.id for g in printed] != [want.id]:
        return [f"{fx.id}: bt {want.id} printed goroutines {[g.id for g in printed]}"]
    problems += head_problems(f"{fx.id} bt text", want, printed_frames(printed[0]))
    if frames_note(total - LIMIT) not in text.stdout.splitlines():
        problems.append(f"{fx.id}: no line {frames_note(total - LIMIT)!r}:\n{text.stdout[-600:]}")
    if printed[0].created_by != want.created_by:
        problems.append(f"{fx.id}: created by {printed[0].created_by} != {want.created_by}")
    as_json = run_goscope(
        "bt", core, "--exe", exe, "--json", "--max-frames", str(LIMIT), str(want.id)
    )
    if as_json.returncode != 0:
        return problems + [describe(as_json)]
    (g,) = json.loads(as_json.stdout)["goroutines"]
    problems += head_problems(f"{fx.id} bt --json", want, g["frames"])
    if g.get("more_frames") != total - LIMIT or g.get("error"):
        problems.append(
            f"{fx.id}: more_frames {g.get('more_frames')} (error {g.get('error')!r}), "
            f"the traceback has {total} frames"
        )
    # Unlimited: every frame, and nothing said about more.
    whole = run_goscope("bt", core, "--exe", exe, "--json", "--max-frames", "0", str(want.id))
    (g,) = json.loads(whole.stdout)["goroutines"] if whole.returncode == 0 else [{}]
    if len(g.get("frames") or []) != total or "more_frames" in g:
        problems.append(f"{fx.id}: --max-frames 0 shows {len(g.get('frames') or [])} of {total}")
    return problems


def test_max_frames_on_the_command_line(fixture_matrix: list[Fixture]) -> None:
    """``goscope bt ID --max-frames 50`` on the 2000-deep goroutine: the traceback's first 50
    frames, then how many more there are (text and JSON); 0 shows them all."""
    _for_each(crash_cores(fixture_matrix), _cli_frames)


def _cli_goroutines(fx: Fixture) -> list[str]:
    expected = [g.id for g in parse(fx.traceback_text())]
    unread = len(expected) - GOROUTINES
    core, exe = str(fx.core), str(fx.bin)
    limit = ["--max-goroutines", str(GOROUTINES)]
    problems = []
    listing = run_goscope("goroutines", core, "--exe", exe, *limit)
    as_json = run_goscope("goroutines", core, "--exe", exe, "--json", *limit)
    stacks = run_goscope("bt", core, "--exe", exe, *limit)
    for proc in (listing, as_json, stacks):
        if proc.returncode != 0:
            return [describe(proc)]
    ids = listed_ids(listing.stdout)
    if len(ids) != GOROUTINES or not set(ids) <= set(expected):
        problems.append(f"{fx.id}: listed {ids}, the traceback has {expected}")
    lines = listing.stdout.splitlines()
    if lines[-2:] != [f"{GOROUTINES} goroutines", goroutines_note(unread)]:
        problems.append(f"{fx.id}: the listing ends {lines[-2:]}")
    document = json.loads(as_json.stdout)
    if [g["id"] for g in document["goroutines"]] != ids or document.get("not_read") != unread:
        problems.append(
            f"{fx.id}: --json lists {[g['id'] for g in document['goroutines']]} with not_read "
            f"{document.get('not_read')}; the text {ids}, {unread} unread"
        )
    if [g.id for g in parse_bt(stacks.stdout)] != ids:
        problems.append(f"{fx.id}: bt shows {[g.id for g in parse_bt(stacks.stdout)]}, not {ids}")
    if stacks.stdout.splitlines()[-1:] != [goroutines_note(unread)]:
        problems.append(f"{fx.id}: bt ends {stacks.stdout.splitlines()[-1:]}")
    # A goroutine asked for by id is found whatever the limit.
    last = expected[-1] if expected[-1] not in ids else expected[0]
    one = run_goscope("bt", core, "--exe", exe, *limit, str(last))
    if one.returncode != 0 or [g.id for g in parse_bt(one.stdout)] != [last]:
        problems.append(f"{fx.id}: bt {last} with the limit:\n{describe(one)}")
    return problems


def test_max_goroutines_on_the_command_line(fixture_matrix: list[Fixture]) -> None:
    """``--max-goroutines 5``: ``goroutines`` (text and JSON) and ``bt`` show 5 of the
    traceback's goroutines and say how many of the others were not read."""
    _for_each(crash_cores(fixture_matrix), _cli_goroutines)


def test_bad_values_on_the_command_line(fixture_matrix: list[Fixture]) -> None:
    fx = crash_cores(fixture_matrix)[0]
    for option, value in (
        ("--max-frames", "x"),
        ("--max-frames", "-3"),
        ("--max-goroutines", "1.5"),
        ("--max-list", ""),
    ):
        proc = run_goscope("bt", str(fx.core), "--exe", str(fx.bin), f"{option}={value}")
        lines = proc.stderr.splitlines()
        assert proc.returncode == 2 and proc.stdout == "", describe(proc)
        shown = repr(value) if value else "nothing"
        assert lines == [
            f"goscope bt: error: argument {option}: {shown} is not a whole number of 0 or more "
            "(0 or `unlimited`: the built-in cap) (see goscope bt --help)"
        ], describe(proc)


def _cli_lists(fx: Fixture) -> list[str]:
    facts = fx.facts()
    crashed = set(facts.get("crash", {}).get("goroutines") or [])
    core, exe = str(fx.core), str(fx.bin)
    # Releases before go1.25 keep no repanicked mark.
    target = Target.open_core(core, exe)
    has_repanicked = target.layout_offset("runtime._panic", "repanicked") is not None
    defers = run_goscope("defer", core, "--exe", exe, "--json", "--max-list", "1")
    panics = run_goscope("panic", core, "--exe", exe, "--json", "--max-list", "1", "all")
    for proc in (defers, panics):
        if proc.returncode != 0:
            return [describe(proc)]
    got_defers = {g["id"]: g for g in json.loads(defers.stdout)["goroutines"]}
    got_panics = {g["id"]: g for g in json.loads(panics.stdout)["goroutines"]}
    problems: list[str] = []
    several = None
    for key, expected in facts["goroutines"].items():
        goid = int(key)
        want = expected.get("defers") or []
        if want:
            g = got_defers.get(goid, {})
            problems += defer_problems(goid, want[:1], g.get("defers") or [])
            if g.get("more_defers", 0) != len(want) - 1:
                problems.append(
                    f"{fx.id}: goroutine {goid}: more_defers {g.get('more_defers')}, "
                    f"the program recorded {len(want)} defers"
                )
            if len(want) > 1:
                several = (goid, len(want) - 1)
        want = expected.get("panics") or []
        if want:
            g = got_panics.get(goid, {})
            problems += panic_problems(
                goid, want[:1], g.get("panics") or [], goid in crashed, has_repanicked
            )
            if g.get("more_panics", 0) != len(want) - 1:
                problems.append(
                    f"{fx.id}: goroutine {goid}: more_panics {g.get('more_panics')}, "
                    f"the program recorded {len(want)} panics"
                )
    if several is None:
        return problems + [f"{fx.id}: no goroutine with two pending defers to cut short"]
    goid, more = several
    text = run_goscope("defer", core, "--exe", exe, "--max-list", "1", str(goid))
    s = "" if more == 1 else "s"
    note = f"(... {more} more deferred call{s} not shown: raise max-list to see them)"
    if text.returncode != 0 or note not in text.stdout.splitlines():
        problems.append(f"{fx.id}: no line {note!r}:\n{describe(text)}")
    return problems


def test_max_list_on_the_command_line(panics_fixture: Fixture) -> None:
    """``--max-list 1``: each goroutine's first pending deferred call and innermost panic as
    the program recorded them, and how many more it has."""
    problems = _cli_lists(panics_fixture)
    assert not problems, "\n".join(problems)


# -- GDB -------------------------------------------------------------------------------------


def marker(name: str) -> str:
    return f"@@{name}@@"


def _gdb_session(fx: Fixture) -> list[str]:
    want, total = deepest(fx)
    expected = [g.id for g in parse(fx.traceback_text())]
    commands = [
        echo(marker("default")),
        "show goscope max-frames",
        f"set goscope max-frames {LIMIT}",
        echo(marker("set")),
        "show goscope max-frames",
        echo(marker("bt")),
        f"go bt {want.id}",
        echo(marker("bad")),
        "set goscope max-frames -3",
        echo(marker("kept")),
        "show goscope max-frames",
        f"set goscope max-goroutines {GOROUTINES}",
        echo(marker("goroutines")),
        "go goroutines",
        "set goscope max-frames unlimited",
        "set goscope max-goroutines 0",
        echo(marker("unlimited")),
        "show goscope max-frames",
        echo(marker("whole")),
        f"go bt --json {want.id}",
        echo(marker("end")),
    ]
    run = run_gdb(commands, args=[str(fx.bin), str(fx.core)])
    return _gdb_problems(fx, run, want, total, expected)


def _gdb_problems(
    fx: Fixture, run: GdbRun, want: TracebackGoroutine, total: int, expected: list[int]
) -> list[str]:
    assert_clean(run)
    problems = []

    def block(start: str, end: str) -> str:
        return run.between(marker(start), marker(end)).strip()

    what = "the most frames shown per goroutine stack"
    for start, end, value in (
        ("default", "set", DEFAULT_MAX_FRAMES),
        ("set", "bt", LIMIT),
        ("kept", "goroutines", LIMIT),
        ("unlimited", "whole", "unlimited (up to 1048576)"),
    ):
        line = f"goscope max-frames is {value}: {what}."
        if block(start, end) != line:
            problems.append(f"{fx.id}: show goscope max-frames: {block(start, end)!r} != {line!r}")
    printed = parse_bt(block("bt", "bad"))
    if [g.id for g in printed] != [want.id]:
        return problems + [f"{fx.id}: go bt {want.id}:\n{block('bt', 'bad')}"]
    problems += head_problems(f"{fx.id} go bt", want, printed_frames(printed[0]))
    if frames_note(total - LIMIT) not in block("bt", "bad").splitlines():
        problems.append(f"{fx.id}: go bt has no line {frames_note(total - LIMIT)!r}")
    error = (
        "goscope max-frames: '-3' is not a whole number of 0 or more "
        "(0 or `unlimited`: the built-in cap)"
    )
    # GDB's own warnings about the core (a short `.reg-xstate` section) are not goscope's.
    said = "\n".join(ln for ln in run.stderr.splitlines() if ln and not GDB_NOISE.match(ln))
    if said != error:
        problems.append(f"{fx.id}: stderr {run.stderr.strip()!r}, expected {error!r}")
    listing = block("goroutines", "unlimited")
    ids = listed_ids(listing)
    if len(ids) != GOROUTINES or not set(ids) <= set(expected):
        problems.append(f"{fx.id}: go goroutines listed {ids} of {expected}")
    if goroutines_note(len(expected) - GOROUTINES) not in listing.splitlines():
        problems.append(f"{fx.id}: go goroutines does not end with the note:\n{listing}")
    (g,) = json.loads(block("whole", "end"))["goroutines"]
    if len(g["frames"]) != total or "more_frames" in g:
        problems.append(f"{fx.id}: unlimited, go bt shows {len(g['frames'])} of {total} frames")
    return problems


def test_settings_in_gdb(fixture_matrix: list[Fixture]) -> None:
    """``set goscope max-frames 50`` then ``go bt ID``: the traceback's first 50 frames and the
    count of the rest; ``show goscope max-frames`` prints the value; ``-3`` is refused with
    one line and the value stays; ``max-goroutines 5`` lists 5 and the count of the rest;
    ``unlimited`` shows every frame."""
    _for_each(crash_cores(fixture_matrix), _gdb_session)


_CHAN = re.compile(
    r"chan int len 0 cap 0 receivers \[(?P<ids>[\d ]+)(?: \.\.\.(?P<more>\d+) more)?\]"
)


def _printers_session(fx: Fixture) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="goscope-limits-") as tmp:
        out = Path(tmp) / "stdout.txt"
        commands = [
            f"run > {out} 2>&1",
            "frame function main.main",
            "set goscope max-list 2",
            echo(marker("slice")),
            "print 'main.strSlice'",
            echo(marker("chan")),
            "print 'main.receivers'",
            echo(marker("map")),
            "print 'main.smallMap'",
            "set goscope max-list unlimited",
            echo(marker("whole")),
            "print 'main.receivers'",
            echo(marker("end")),
        ]
        run = run_gdb(commands, args=[str(fx.bin)], timeout=240)
        stdout = out.read_text(errors="replace") if out.exists() else ""
    assert_clean(run)
    facts = next(
        json.loads(line[len("FIXTURE ") :])
        for line in stdout.splitlines()
        if line.startswith("FIXTURE ")
    )
    problems = []

    def value(start: str, end: str) -> str:
        text = run.between(marker(start), marker(end)).strip()
        return re.sub(r"^\$\d+ = ", "", text)

    strings = facts["slices"]["strSlice"]
    shown = ", ".join(json.dumps(s, ensure_ascii=False) for s in strings["elems"][:2])
    more = len(strings["elems"]) - 2
    want = (
        f"{strings['type']} len {strings['len']} cap {strings['cap']} = {{{shown}, ...{more} more}}"
    )
    if value("slice", "chan") != want:
        problems.append(f"{fx.id}: strSlice {value('slice', 'chan')!r} != {want!r}")
    receivers = sorted(facts["chans"]["receivers"]["receivers"])
    for start, end, limit in (("chan", "map", 2), ("whole", "end", None)):
        match = _CHAN.fullmatch(value(start, end))
        if match is None:
            problems.append(f"{fx.id}: receivers {value(start, end)!r}")
            continue
        ids = [int(i) for i in match["ids"].split()]
        hidden = int(match["more"] or 0)
        if limit is None and sorted(ids) != receivers:
            problems.append(f"{fx.id}: receivers {ids} != {receivers}")
        if limit is not None and (
            len(ids) != limit or not set(ids) <= set(receivers) or hidden != len(receivers) - limit
        ):
            problems.append(f"{fx.id}: receivers under max-list {limit}: {value(start, end)!r}")
    small = facts["maps"]["smallMap"]
    prefix = f"{small['type']} len {small['len']} = {{"
    text = value("map", "whole")
    suffix = f", [...] = ...{small['len'] - 2} more}}"
    if not (text.startswith(prefix) and text.endswith(suffix)) or text.count(" = ") != 4:
        problems.append(f"{fx.id}: smallMap {text!r} is not {prefix}2 entries{suffix}")
    return problems


def test_max_list_in_the_printers(toolchain: Toolchain, fixture_matrix: list[Fixture]) -> None:
    """``set goscope max-list 2``: a slice, a map and a channel's waiting goroutines show 2
    entries and how many more there are (the program's own record of them)."""
    fixtures = [
        fx
        for fx in fixture_matrix
        if fx.program == "printers"
        and fx.variant == "default"
        and fx.toolchain.name == toolchain.name
    ]
    assert fixtures, f"no printers fixture of {toolchain.name}"
    _for_each(fixtures, _printers_session)
