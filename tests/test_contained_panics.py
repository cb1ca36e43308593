"""A panic in the Rust core never reaches the user as a panic: every entry point of the binding
turns it into ``goscope.InternalError`` saying what was being done, the command line prints
it as one ``goscope: ...`` line (exit status 1), and GDB prints one error line for the command
and goes on.

``GOSCOPE_TEST_PANIC=TEXT`` makes every guarded call whose description contains TEXT panic
inside its guard (see ``rust/python/src/errors.rs``). The descriptions are read from the
binding's sources, so that an entry point added later without a call here fails
``test_every_guard_has_a_call``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from goscope import Binary, InternalError, Target, UnreadableMemoryError, _native

from tests.gdbrun import GdbRun, assert_clean, errors_by_command, in_parallel, run_marked
from tests.harness.fixture import Fixture
from tests.harness.paths import REPO_ROOT, SITE_DIR
from tests.test_hostile import GDB_COMMANDS as HOSTILE_GDB_COMMANDS

VARIABLE = "GOSCOPE_TEST_PANIC"
INJECTED = f"a panic injected by {VARIABLE}"
BUG = "(this is a goscope bug; please report it)"
#: An address in the Go heap's usual range, for `heap --why`.
HEAP_ADDRESS = 0xC000_0000_00


def guard_descriptions() -> set[str]:
    """What every guarded call of the binding says it is doing (the tests' own excepted),
    directly or through ``PyTarget::json_of``."""
    found: set[str] = set()
    for source in sorted((REPO_ROOT / "rust" / "python" / "src").glob("*.rs")):
        text = source.read_text()
        text = text.split("#[cfg(test)]", 1)[0]
        found |= set(re.findall(r'\bguard\(\s*"([^"]+)"', text))
        # PyTarget::json_of runs its `during` under guard.
        found |= set(re.findall(r'\bjson_of\(\s*py,\s*"([^"]+)"', text))
    return found


@dataclass
class Opened:
    """A fixture's core and executable, opened before the panic is asked for."""

    fx: Fixture
    target: Target
    binary: Binary
    pc: int
    tmp: Path


def _stacks(o: Opened) -> Any:
    return o.target.write_stacks(lambda _text: None)


def _listing(o: Opened) -> Any:
    return o.target.write_listing(lambda _text: None)


def _goroutines_to_fd(o: Opened) -> Any:
    with open(o.tmp / "goroutines.json", "wb") as out:
        return o.target.write_goroutines_json(out.fileno())


def _type_descriptor(o: Opened) -> Any:
    # Any address reaches the guarded call; one holding no descriptor fails as memory does.
    try:
        return o.target.type_descriptor(HEAP_ADDRESS)
    except UnreadableMemoryError:
        return None


def _live(o: Opened) -> Any:
    return Target.live(o.binary, lambda _addr, size: bytes(size), [])


#: One call (or several) that reaches each guarded description.
CALLS: dict[str, list[Callable[[Opened], Any]]] = {
    "opening the binary": [lambda o: Binary(str(o.fx.bin))],
    "checking an input file": [lambda o: _native.check_input(str(o.fx.core), "core file")],
    "opening the core file": [lambda o: Target.open_core(str(o.fx.core), str(o.fx.bin))],
    "reading the process's runtime": [_live],
    "listing goroutines": [lambda o: o.target.goroutines_json(), _listing],
    "writing goroutines": [_goroutines_to_fd],
    "writing goroutine stacks": [_stacks],
    "reading the crash": [lambda o: o.target.crash_json()],
    "grouping goroutines": [lambda o: o.target.groups_json()],
    "analysing goroutines": [
        lambda o: o.target.triage_json(),
        lambda o: o.target.triage_report_json(),
    ],
    "walking the heap": [lambda o: o.target.heap_json()],
    "analysing the heap": [lambda o: o.target.heap_report_json("type", 10)],
    "finding what keeps an object alive": [lambda o: o.target.heap_why_json(HEAP_ADDRESS)],
    "writing the heap profile": [lambda o: o.target.heap_pprof(o.tmp / "heap.pb.gz")],
    "listing Ps": [lambda o: o.target.ps_json()],
    "reading the scheduler and memory statistics": [lambda o: o.target.scheduler_json()],
    "reading a goroutine": [lambda o: o.target.goroutine_json(1)],
    "listing threads": [lambda o: o.target.threads_json()],
    "listing Ms": [lambda o: o.target.ms_json()],
    "describing the target": [lambda o: o.target.info_json()],
    "reading the Go version": [lambda o: o.target.go_version],
    "looking up a field's offset": [lambda o: o.target.layout_offset("runtime.g", "goid")],
    "reading a type descriptor": [_type_descriptor],
    "reading the binary's build information": [lambda o: o.binary.info_json()],
    "looking up a pc": [lambda o: o.binary.pc_line(o.pc)],
    "looking up the frames at a pc": [lambda o: o.binary.lookup(o.pc)],
    "listing functions": [lambda o: o.binary.functions()],
    "looking up a function": [lambda o: o.binary.function("main.main")],
    "looking up the pcs of a line": [lambda o: o.binary.pcs_for_line("main.go", 1)],
    "finding a function's body": [lambda o: o.binary.body_start(o.pc)],
    "finding inlined copies of a function": [lambda o: o.binary.inlined_copies("main.main")],
    "looking up a frame": [
        lambda o: _native.FrameUnwinder(o.binary, 0, True).lookup_pc(o.pc, False)
    ],
    "reading the runtime's struct layouts": [lambda o: _native.FrameUnwinder(o.binary, 0, True)],
    "unwinding a frame": [
        lambda o: _native.FrameUnwinder(o.binary, 0, False).step(
            o.pc, 0x1000, lambda: None, True, False, False, lambda addr, n: bytes(n)
        )
    ],
    "making a debug file from pclntab": [lambda o: _native.symbol_file(o.binary)],
}


@pytest.fixture(scope="module")
def subject(fixture_matrix: list[Fixture]) -> Fixture:
    """The newest toolchain's ``crash`` program: what is checked here is the binding's, not
    the runtime's, so one core is enough."""
    crashes = [f for f in fixture_matrix if f.program == "crash" and f.variant == "default"]
    assert crashes, "no crash fixture"

    def version(fx: Fixture) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", fx.toolchain.name))

    return max(crashes, key=version)


def test_every_guard_has_a_call() -> None:
    described = guard_descriptions()
    assert described, "no guarded calls found in rust/python/src"
    assert described == set(CALLS), (
        f"guarded calls with no call here: {sorted(described - set(CALLS))}; "
        f"calls for no guarded call: {sorted(set(CALLS) - described)}"
    )


@pytest.mark.parametrize("during", sorted(CALLS))
def test_a_panic_is_an_internal_error(
    during: str, subject: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert subject.core is not None
    target = Target.open_core(str(subject.core), str(subject.bin))
    binary = Binary(str(subject.bin))
    start = binary.function("main.main")
    assert start is not None
    opened = Opened(subject, target, binary, start[0], tmp_path)
    # Unset, the same calls succeed: what fails below fails because of the injected panic.
    for call in CALLS[during]:
        call(opened)
    monkeypatch.setenv(VARIABLE, during)
    for call in CALLS[during]:
        with pytest.raises(InternalError) as raised:
            call(opened)
        message = str(raised.value)
        assert message.startswith(f"internal error while {during}: {INJECTED} at "), message
        assert "errors.rs:" in message and message.endswith(BUG), message
        assert "\n" not in message, message
    monkeypatch.delenv(VARIABLE)
    # The panic left nothing behind: the target still answers.
    for call in CALLS[during]:
        call(opened)


# -- the command line -------------------------------------------------------------------------

#: Command-line runs and the guarded call each reaches first after opening the core.
CLI: list[tuple[list[str], str]] = [
    (["goroutines"], "listing goroutines"),
    (["goroutines", "--json"], "writing goroutines"),
    (["bt", "all"], "writing goroutine stacks"),
    (["threads"], "listing threads"),
    (["crash"], "reading the crash"),
    (["triage"], "analysing goroutines"),
    (["heap"], "analysing the heap"),
    (["heap", "--totals"], "walking the heap"),
    (["heap", "--why", hex(HEAP_ADDRESS)], "finding what keeps an object alive"),
    (["info"], "reading the binary's build information"),
]


def run_cli(args: list[str], panic: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), env.get("PYTHONPATH")]))
    env[VARIABLE] = panic
    return subprocess.run(
        [sys.executable, "-m", "goscope", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        env=env,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str], during: str) -> None:
    what = f"$ goscope {' '.join(proc.args[3:])}\n{proc.stdout[-2000:]}\n{proc.stderr}"
    assert proc.returncode == 1, what
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, what
    assert lines[0].startswith(f"goscope: internal error while {during}: {INJECTED}"), what
    assert "Traceback" not in proc.stdout + proc.stderr, what


@pytest.mark.parametrize(("args", "during"), CLI, ids=[" ".join(args) for args, _ in CLI])
def test_command_line_prints_one_line(args: list[str], during: str, subject: Fixture) -> None:
    assert subject.core is not None
    target = [str(subject.core), "--exe", str(subject.bin)]
    if args[0] == "info":
        target = [str(subject.bin)]
    one_error_line(run_cli([args[0], *target, *args[1:]], during), during)


def test_command_line_on_a_panic_opening_the_core(subject: Fixture) -> None:
    assert subject.core is not None
    for args in (["goroutines"], ["triage", "--json"], ["heap"], ["bt", "all"]):
        proc = run_cli([args[0], str(subject.core), "--exe", str(subject.bin), *args[1:]], "*")
        one_error_line(proc, "opening the core file")


# -- GDB --------------------------------------------------------------------------------------

#: Every ``go`` command and ``bt``, as the hostile inputs run them.
GDB_COMMANDS = [c.format(why=hex(HEAP_ADDRESS), goid=1) for c in HOSTILE_GDB_COMMANDS]

#: The guarded calls a GDB session on a core reaches, and "*" (every one, from loading the
#: executable on).
GDB_PANICS = (
    "*",
    "opening the core file",
    "listing goroutines",
    "writing goroutine stacks",
    "reading the crash",
    "analysing goroutines",
    "analysing the heap",
    "finding what keeps an object alive",
    "reading a goroutine",
    "listing threads",
    "looking up a frame",
    "reading the runtime's struct layouts",
)


def gdb_session(fx: Fixture, panic: str) -> GdbRun:
    return run_marked(
        GDB_COMMANDS, args=[str(fx.bin), str(fx.core)], env={VARIABLE: panic}, timeout=300
    )


def test_gdb_prints_one_line_per_command(subject: Fixture) -> None:
    runs = in_parallel([partial(gdb_session, subject, panic) for panic in GDB_PANICS], workers=2)
    problems: list[str] = []
    for panic, run in zip(GDB_PANICS, runs):
        try:
            assert_clean(run)
        except AssertionError as error:
            problems.append(f"== {VARIABLE}={panic}: {error}")
            continue
        errors = errors_by_command(run, GDB_COMMANDS)
        found = [
            f"{command}: {len(lines)} error lines: {lines}"
            for command, lines in errors.items()
            if len(lines) > 1
        ]
        injected = [line for lines in errors.values() for line in lines if INJECTED in line]
        wanted = "internal error while " + ("" if panic == "*" else panic)
        # A panic in the unwinder's calls leaves the frames to GDB's own unwinder, silently.
        silent = panic in ("looking up a frame", "reading the runtime's struct layouts")
        if not silent and not any(wanted in line for line in injected):
            found.append(f"no command reported the injected panic ({wanted!r})")
        bt = GDB_COMMANDS.index("bt")
        if silent and "#0 " not in run.between(f"@@{bt}@@", f"@@{bt + 1}@@"):
            found.append("bt printed no frame")
        if found:
            problems += [f"== {VARIABLE}={panic}", *found, run.describe()]
    assert not problems, "\n".join(problems)
