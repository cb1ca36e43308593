"""``go break FUNC | FILE:LINE [if COND]``: breakpoints placed through the binary's pclntab.

GDB's own ``break`` needs DWARF or a symbol table; ``go break`` finds the code of a function or
a line in ``.gopclntab`` instead, so it works on stripped binaries too. A function breakpoint
stops after the function's prologue (stack check and frame setup), at its physical copy and at
the start of every copy inlined into another function; a line breakpoint stops at the first
instruction of the line in each function and each inlined copy that has code for it.

Each location is one GDB breakpoint on ``*ADDRESS``. GDB does not move such a breakpoint when
a position-independent executable is loaded at another address, so for a PIE the breakpoints
wait until the program runs and its load bias is known, and are made again whenever the bias
changes (a new run with address randomization on).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field

import gdb

from goscope import Binary
from goscope.binary_info import BinaryInfo
from goscope.gdb import output
from goscope.gdb import target as gdb_target
from goscope.gdb.commands.base import GoCommand

#: `(function, file, line)` as the binary's tables give a source position.
Location = tuple[str, str, int]

_LINE_SPEC = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")
_CONDITION = re.compile(r"\s+if(?:\s+|$)")


@dataclass(frozen=True)
class Site:
    """One place to stop: a link-time address and the source positions there."""

    pc: int
    frames: tuple[Location, ...]
    """Innermost first: an inlined function, then the functions it is inlined into."""

    def describe(self) -> str:
        if not self.frames:
            return "?"
        parts = [_position(self.frames[0])]
        parts += [f"inlined into {_position(frame)}" for frame in self.frames[1:]]
        return ", ".join(parts)


def _position(frame: Location) -> str:
    function, file, line = frame
    return f"{function} ({file}:{line})" if file else function


@dataclass
class GoBreakpoint:
    """What one ``go break`` asked for, and the GDB breakpoints made for it."""

    spec: str
    condition: str | None
    executable: str
    pie: bool
    sites: list[Site]
    bias: int | None = None
    """The load bias the GDB breakpoints were made for; None while they wait for it."""
    numbers: dict[int, Site] = field(default_factory=dict)
    """GDB breakpoint number -> the site it stops at."""


_registry: list[GoBreakpoint] = []
#: Numbers of breakpoints goscope is deleting itself (not the user's `delete`).
_deleting: set[int] = set()


def split_condition(argument: str) -> tuple[str, str | None]:
    """``LOCATION if COND`` -> (LOCATION, COND); the condition is kept verbatim for GDB."""
    match = _CONDITION.search(argument)
    if match is None:
        return argument.strip(), None
    condition = argument[match.end() :].strip()
    if not condition:
        raise gdb.GdbError("go break: `if` needs a condition")
    return argument[: match.start()].strip(), condition


def resolve(binary: Binary, spec: str) -> list[Site]:
    """The sites of FUNC or FILE:LINE in `binary`; raises gdb.GdbError when there are none."""
    match = _LINE_SPEC.match(spec)
    if match is not None:
        return _line_sites(binary, match.group("file"), int(match.group("line")), spec)
    return _function_sites(binary, spec)


def _line_sites(binary: Binary, file: str, line: int, spec: str) -> list[Site]:
    # A line's code can come in several runs per function (the compiler moves instructions
    # around); stop once per function and per inlined copy, at its lowest address.
    first: dict[tuple[Location, ...], Site] = {}
    for pc in binary.pcs_for_line(file, line):
        frames = tuple(binary.lookup(pc))
        if not frames:
            continue
        # The innermost function and every enclosing call site identify one copy.
        key = ((frames[0][0], "", 0), *frames[1:])
        if key not in first or pc < first[key].pc:
            first[key] = Site(pc, frames)
    if not first:
        raise gdb.GdbError(
            f"go break: no code for {spec} in the binary's line table (`{file}` must be the "
            "file's name or the end of its path, and the line must have code)"
        )
    return sorted(first.values(), key=lambda site: site.pc)


def _function_sites(binary: Binary, name: str) -> list[Site]:
    candidates = [name] if "." in name else [name, f"main.{name}"]
    for candidate in candidates:
        pcs = []
        function = binary.function(candidate)
        if function is not None:
            body = binary.body_start(function[0])
            pcs.append(body if body is not None else function[0])
        pcs += binary.inlined_copies(candidate)
        if pcs:
            return [Site(pc, tuple(binary.lookup(pc))) for pc in sorted(set(pcs))]
    raise gdb.GdbError(
        f"go break: no function {name} in the binary's function table (give the full name, "
        "e.g. main.work or main.(*T).Method)"
    )


def _current_bias(executable: str, binary: Binary) -> int | None:
    """The executable's load bias in the running process or core, or None if not known."""
    state = gdb_target.current()
    if not state.has_memory or state.executable is None:
        return None
    if os.path.realpath(state.executable) != os.path.realpath(executable):
        return None
    return gdb_target.load_bias(state, BinaryInfo.of(binary).entry)


def _create(bp: GoBreakpoint, bias: int, announce: str = "") -> None:
    """Makes one GDB breakpoint per site of `bp` for load bias `bias`, printing where."""
    made: list[int] = []
    try:
        for site in bp.sites:
            command = f"break *{site.pc + bias:#x}"
            if bp.condition:
                command += f" if {bp.condition}"
            before = {b.number for b in gdb.breakpoints()}
            # GDB's own announcement names no Go function in a stripped binary; print ours.
            gdb.execute(command, to_string=True)
            new = [b for b in gdb.breakpoints() if b.number not in before]
            if not new:
                raise gdb.GdbError(f"go break: GDB did not create a breakpoint at {site.pc:#x}")
            number = new[-1].number
            made.append(number)
            bp.numbers[number] = site
            output.write(
                f"{announce}Breakpoint {number} at {site.pc + bias:#x}: {site.describe()}\n"
            )
    except gdb.error as error:
        for number in made:
            _delete(number)
            bp.numbers.pop(number, None)
        raise gdb.GdbError(f"go break: {error}") from None
    bp.bias = bias


def _delete(number: int) -> None:
    for b in gdb.breakpoints():
        if b.number == number and b.is_valid():
            _deleting.add(number)
            try:
                b.delete()
            finally:
                _deleting.discard(number)


def owner(number: int) -> tuple[GoBreakpoint, Site] | None:
    """The ``go break`` and site a GDB breakpoint number belongs to, if goscope made it."""
    for bp in _registry:
        site = bp.numbers.get(number)
        if site is not None:
            return bp, site
    return None


def sync(_event: object = None) -> None:
    """Makes the breakpoints of a PIE that wait for the load bias, or whose bias changed."""
    try:
        for bp in list(_registry):
            if not bp.pie:
                continue
            binary = gdb_target.binary(bp.executable)
            bias = _current_bias(bp.executable, binary)
            if bias is None or bias == bp.bias:
                continue
            for number in list(bp.numbers):
                _delete(number)
            bp.numbers.clear()
            _create(bp, bias, announce="goscope: ")
    except (gdb.error, gdb.GdbError, OSError, ValueError) as error:
        output.write(f"goscope: cannot set the pending breakpoints: {error}\n")


def _forget_deleted(breakpoint: gdb.Breakpoint) -> None:
    number = breakpoint.number
    if number in _deleting:
        return
    for bp in list(_registry):
        if bp.numbers.pop(number, None) is not None and not bp.numbers:
            _registry.remove(bp)  # the user deleted all of it: do not make it again


def connect_events() -> None:
    gdb.events.new_objfile.connect(sync)
    gdb.events.breakpoint_deleted.connect(_forget_deleted)


class BreakCommand(GoCommand):
    name = "break"
    command_class = gdb.COMMAND_BREAKPOINTS
    summary = "Set a breakpoint at a Go function or FILE:LINE, found through the pclntab."
    description = (
        "Set a breakpoint at a Go function (its body, after the prologue, and every copy\n"
        "inlined into another function) or at FILE:LINE (every function and inlined copy with\n"
        "code on the line; FILE may be the file's name or the end of its path). The code is\n"
        "found in .gopclntab, so this works on stripped binaries without DWARF or symbols.\n"
        "Each location is a GDB breakpoint on *ADDRESS (`delete N` removes it); `if COND`\n"
        "makes them conditional. For a PIE the breakpoints are set when the program runs.\n"
        "When one is hit, goscope prints the function, file:line and goroutine.\n"
        "\n"
        "Examples:  go break main.work    go break main.go:42\n"
        "           go break main.go:42 if $_thread == 2"
    )

    def __init__(self) -> None:
        super().__init__()
        self._condition: str | None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.usage = f"{parser.prog} [-h] FUNC|FILE:LINE [if COND]"
        parser.add_argument("location", metavar="FUNC|FILE:LINE", help="where to stop")

    def invoke(self, argument: str, from_tty: bool) -> None:
        location, self._condition = split_condition(argument)
        super().invoke(location, from_tty)

    def run(self, args: argparse.Namespace) -> None:
        state = gdb_target.current()
        executable = gdb_target.require_executable(state)
        binary = gdb_target.binary(executable)
        spec: str = args.location
        bp = GoBreakpoint(
            spec=spec,
            condition=self._condition,
            executable=executable,
            pie=BinaryInfo.of(binary).pie,
            sites=resolve(binary, spec),
        )
        bias = _current_bias(executable, binary) if bp.pie else 0
        if bias is None:
            for site in bp.sites:
                output.write(
                    f"Breakpoint pending until the program runs (PIE): {site.describe()}\n"
                )
        else:
            _create(bp, bias)
        _registry.append(bp)
