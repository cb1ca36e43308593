"""``go break`` and the report of ``runtime.Breakpoint()`` stops in real GDB, on the ``stops``
fixture of every toolchain and variant (stripped: no symbols, no DWARF; pie: set before
``run``, so the breakpoints wait for the load bias).

The program says where its lines are (``runtime.Caller``): the line of work's call of
recordStack (L1), the body line of add (L2, inlined into work but in the noopt build) and the
line of ``runtime.Breakpoint()``; and which goroutine runs work. Two sessions per build, one
with ``go break main.go:L1`` and ``go break main.go:L2`` (and a breakpoint whose condition is
false, which must never stop), one with ``go break main.work`` and
``go break main.add``, each run the program to its end: the pcs GDB stops at must be, as
``go tool addr2line`` says, on L1 then on L2 (work's breakpoint after its prologue, at its
first statement), in the worker goroutine; then goscope must report the
``runtime.Breakpoint()`` stop with the worker goroutine and the caller's file:line, and
``continue`` must let the program exit 0.

A goroutine can be preempted at a breakpoint before GDB steps over it and then runs the same
instruction again, so a stop may repeat; repeated stops at one pc count once.

Bad input (no such file or line, no such function, `if` without a condition, no location, no
executable) must be one
line of error each.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain

VARIANTS = {"default", "stripped", "noopt", "pie"}
CONTINUES = 8

_STOP_PC = re.compile(r"^@@stop pc=(0x[0-9a-f]+)$", re.MULTILINE)
_STOPPED = re.compile(r"^goscope: stopped at (.+) in goroutine (\d+)$", re.MULTILINE)
_BREAKPOINT = re.compile(
    r"^goscope: runtime\.Breakpoint\(\) in goroutine (\d+), called from (\S+) \((.+):(\d+)\); "
    r"`continue` resumes$",
    re.MULTILINE,
)
_PLACED = re.compile(
    r"^(?:goscope: Breakpoint \d+ at 0x[0-9a-f]+|Breakpoint \d+ at 0x[0-9a-f]+"
    r"|Breakpoint pending until the program runs \(PIE\)): (.+)$",
    re.MULTILINE,
)
# `info proc mappings`: start, end, size, offset, [perms,] objfile
_MAPPING = re.compile(r"^\s*(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+.*?(/\S+)$")

# Prints the pc of every stop, after goscope's own stop line.
_STOP_HOOK = (
    "python gdb.events.stop.connect(lambda e: gdb.write('@@stop pc=%#x\\n' % "
    "(int(gdb.parse_and_eval('$pc')) & 0xffffffffffffffff)))"
)


def facts_of(text: str, label: str) -> dict[str, Any]:
    for line in text.splitlines():
        if line.startswith("FIXTURE "):
            facts: dict[str, Any] = json.loads(line[len("FIXTURE ") :])
            return facts
    raise AssertionError(f"{label}: no FIXTURE line in:\n{text}")


def standalone_facts(fx: Fixture) -> dict[str, Any]:
    """The facts of a run without a debugger (no runtime.Breakpoint call): the lines."""
    proc = subprocess.run(
        [str(fx.bin)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"{fx.id} exited {proc.returncode}:\n{proc.stderr}"
    return facts_of(proc.stdout, fx.id)


@dataclass
class Session:
    fixture: Fixture
    specs: tuple[str, ...]
    gdb: GdbRun
    stdout: str


def session(fx: Fixture, specs: tuple[str, ...]) -> Session:
    with tempfile.TemporaryDirectory(prefix="goscope-break-") as tmp:
        out = Path(tmp) / "stdout.txt"
        commands = [
            echo("@@placed@@"),
            *(f"go break {spec}" for spec in specs),
            echo("@@run@@"),
            _STOP_HOOK,
            f"run breakpoint > {out} 2>&1",
            echo("@@mappings@@"),
            "info proc mappings",
            echo("@@continue@@"),
            *(["continue"] * CONTINUES),
        ]
        run = run_gdb(commands, args=[str(fx.bin)], timeout=180)
        stdout = out.read_text(errors="replace") if out.exists() else ""
    return Session(fx, specs, run, stdout)


def first_segment_address(path: Path) -> int:
    """The link-time address of the ELF64 segment that maps the start of the file."""
    data = path.read_bytes()
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr = struct.unpack_from("<IIQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_offset == 0:  # PT_LOAD
            return int(p_vaddr)
    raise AssertionError(f"{path}: no PT_LOAD segment at file offset 0")


def load_bias(fx: Fixture, mappings: str) -> int:
    """Where GDB says the file's start is mapped, less where the linker put it."""
    binary = fx.bin.resolve()
    for line in mappings.splitlines():
        match = _MAPPING.match(line)
        if match and int(match.group(2), 16) == 0 and Path(match.group(3)).resolve() == binary:
            return int(match.group(1), 16) - first_segment_address(binary)
    raise AssertionError(f"{fx.id}: no mapping of {binary} at offset 0 in:\n{mappings}")


def addr2line(fx: Fixture, pcs: list[int]) -> list[tuple[str, str, int]]:
    """``go tool addr2line``'s (function, file, line) for each link-time pc."""
    proc = subprocess.run(
        [str(fx.go), "tool", "addr2line", str(fx.bin)],
        input="".join(f"{pc:#x}\n" for pc in pcs),
        capture_output=True,
        text=True,
        timeout=120,
        env=fx.toolchain.env(),
        check=True,
    )
    lines = proc.stdout.splitlines()
    result = []
    for function, position in zip(lines[0::2], lines[1::2]):
        file, _, line = position.rpartition(":")
        result.append((function, file, int(line)))
    return result


def check(s: Session, lines: dict[str, int]) -> list[str]:
    fx, run = s.fixture, s.gdb
    label = f"{fx.id} {' + '.join(s.specs)}"
    assert_clean(run)
    problems: list[str] = []
    facts = facts_of(s.stdout, label)
    worker, file = facts["worker"], facts["file"]
    if facts["lines"].get("record") != lines["record"] or facts["lines"]["add"] != lines["add"]:
        return [f"{label}: lines {facts['lines']} differ from the run without GDB {lines}"]

    placed = _PLACED.findall(run.between("@@placed@@", "@@run@@"))
    if len(placed) < 2:
        problems.append(f"{label}: `go break` placed {placed}")

    after_run = run.stdout.partition("@@run@@\n")[2]
    bias = load_bias(fx, run.between("@@mappings@@", "@@continue@@"))
    stops: list[int] = []
    for text in _STOP_PC.findall(after_run):
        pc = int(text, 16)
        if not stops or stops[-1] != pc:
            stops.append(pc)
    goroutines = {int(g) for _, g in _STOPPED.findall(after_run)}
    reported = _BREAKPOINT.findall(after_run)
    # The last stop is runtime.Breakpoint's trap; the ones before are the two breakpoints.
    at_breakpoints = stops[:-1]
    if len(at_breakpoints) != 2:
        return [f"{label}: stopped at {[hex(pc) for pc in stops]}, expected 2 + the trap"]
    positions = addr2line(fx, [pc - bias for pc in at_breakpoints])
    want_add_function = "main.add" if fx.variant == "noopt" else "main.work"
    wanted = [("main.work", lines["record"]), (want_add_function, lines["add"])]
    for (function, pfile, line), (want_function, want_line) in zip(positions, wanted):
        if (function, pfile, line) != (want_function, file, want_line):
            problems.append(
                f"{label}: stopped in {function} at {pfile}:{line}, addr2line; expected "
                f"{want_function} at {file}:{want_line}"
            )
    if goroutines != {worker}:
        problems.append(f"{label}: stops reported in goroutines {goroutines}, worker is {worker}")
    want = [(str(worker), "main.work", file, str(facts["lines"]["breakpoint"]))]
    if reported != want:
        problems.append(f"{label}: runtime.Breakpoint() reported as {reported}, expected {want}")
    if "exited normally" not in after_run:
        problems.append(f"{label}: the program did not exit 0 after `continue`:\n{after_run}")
    return problems


def bad_input(fx: Fixture) -> GdbRun:
    commands = []
    for spec in ("nosuch.go:1", "main.go:1", "main.nosuchfunc", "main.work if", ""):
        commands += [echo(f"@@bad {spec}@@"), f"go break {spec}".strip()]
    return run_gdb([*commands, echo("@@done@@")], args=[str(fx.bin)], timeout=120)


def check_bad_input(fx: Fixture, run: GdbRun) -> list[str]:
    assert_clean(run)
    problems = []
    # GDB prints a command's error on stderr, one line each, in command order.
    errors = [line for line in run.stderr.splitlines() if line.startswith("go break")]
    expected = ["nosuch.go:1", "main.go:1", "main.nosuchfunc", "needs a condition", "required"]
    if len(errors) != len(expected) or not all(e in line for e, line in zip(expected, errors)):
        problems.append(f"{fx.id}: bad input gave {errors}:\n{run.describe()}")
    if "Breakpoint" in run.stdout:
        problems.append(f"{fx.id}: a breakpoint was set for bad input:\n{run.stdout}")
    return problems


def test_go_break(toolchain: Toolchain, fixture_matrix: list[Fixture]) -> None:
    """Every variant of the toolchain's ``stops`` fixture: line and function breakpoints,
    runtime.Breakpoint(), bad input."""
    fixtures = [
        f for f in fixture_matrix if f.program == "stops" and f.toolchain.name == toolchain.name
    ]
    assert {f.variant for f in fixtures} == VARIANTS, fixtures
    lines = {fx.id: standalone_facts(fx)["lines"] for fx in fixtures}
    jobs = []
    for fx in fixtures:
        record, add = lines[fx.id]["record"], lines[fx.id]["add"]
        # callerLine runs twice after L1: its breakpoint must never stop, being conditional.
        never = "main.callerLine if 1 == 0"
        for specs in ((f"main.go:{record}", f"main.go:{add}", never), ("main.work", "main.add")):
            jobs.append(lambda fx=fx, specs=specs: session(fx, specs))
    sessions = in_parallel(jobs, workers=4)
    problems = [p for s in sessions for p in check(s, lines[s.fixture.id])]
    for fx, run in zip(fixtures, in_parallel([lambda fx=fx: bad_input(fx) for fx in fixtures])):
        problems += check_bad_input(fx, run)
    assert not problems, "\n".join(problems)


def test_go_break_without_executable() -> None:
    run = run_gdb(["go break main.main"])
    assert_clean(run)
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert errors == ["no executable loaded; use `file BINARY`"], run.describe()
