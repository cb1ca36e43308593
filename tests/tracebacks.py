"""Parser of the Go runtime's goroutine dumps: ``GOTRACEBACK=crash`` output and
``runtime.Stack(buf, true)`` text.

A dump is a series of goroutine blocks separated by blank lines::

    goroutine 20 gp=0xc000007340 m=nil [chan receive, 3 minutes, locked to thread]:
    runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
    \t/usr/lib/go/src/runtime/proc.go:462 +0xce fp=0xc00005e710 sp=0xc00005e6f0 pc=0x480dae
    main.handle(...)
    \t/src/main.go:172
    ...10 frames elided...
    created by main.main in goroutine 1
    \t/src/main.go:77 +0x2f

Go 1.21 and 1.22 print the header without ``gp=``, ``m=`` and ``mp=``; ``runtime.Stack`` and
the default ``GOTRACEBACK`` omit ``fp= sp= pc=``. An inlined call is printed as
``function(...)`` with no pc. Where a stack is too deep the runtime prints its innermost and
outermost frames with ``...N frames elided...`` between them (``...additional frames
elided...`` when it stopped counting). Lines outside goroutine blocks (the panic message,
``[signal ...]``) are skipped.

A fatal signal the runtime could not turn into a panic (a fault in C code) is reported by every
thread: after the dump and the crashing thread's registers, each other thread prints ``-----``,
the signal it was sent, the stack of its ``g0`` as ``goroutine 0 [idle]:`` (or of the goroutine
it runs) and its registers. Those reports are not part of the dump and are not parsed.

The runtime prints some function names differently from the symbol table: ``runtime.gopanic``
as ``panic``, and a generic function's type arguments as ``[...]``. :func:`printed_name` turns
a symbol-table name into what the runtime prints, so that goscope's names can be compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(
    r"^goroutine (\d+)(?: gp=(0x[0-9a-f]+))?(?: m=(\d+|nil))?(?: mp=(0x[0-9a-f]+))? \[(.*)\]:$"
)
_POSITION = re.compile(
    r"^\t(.*):(-?\d+)(?: \+0x([0-9a-f]+))?"
    r"(?: fp=(0x[0-9a-f]+) sp=(0x[0-9a-f]+) pc=(0x[0-9a-f]+))?\s*$"
)
_ELIDED = re.compile(r"^\.\.\.(\d+) frames elided\.\.\.$")
_ADDITIONAL_ELIDED = "...additional frames elided..."
_CREATED_BY = re.compile(r"^created by (.+?)(?: in goroutine (\d+))?$")
_MINUTES = re.compile(r", (\d+) minutes$")
_LOCKED = ", locked to thread"
_UNAVAILABLE = "goroutine running on other thread; stack unavailable"
_RELAY = "-----"


class TracebackError(ValueError):
    """The text is not a goroutine dump as the runtime prints it."""


@dataclass(frozen=True)
class TracebackFrame:
    function: str
    """As printed: ``panic``, ``main.(*T).m``, ``main.f[...]``."""
    args: str | None
    """The argument list as printed, ``...`` for an inlined call, None if there is none."""
    file: str
    line: int
    offset: int | None = None
    fp: int | None = None
    sp: int | None = None
    pc: int | None = None

    @property
    def inlined(self) -> bool:
        return self.args == "..."


@dataclass(frozen=True)
class CreatedBy:
    function: str
    goid: int | None
    file: str
    line: int
    offset: int | None


@dataclass
class TracebackGoroutine:
    id: int
    state: str
    """Everything between the header's brackets: ``chan receive, locked to thread``."""
    gp: int | None = None
    m: int | None = None
    mp: int | None = None
    head: list[TracebackFrame] = field(default_factory=list)
    """The frames printed before an elision marker (all of them when there is none)."""
    tail: list[TracebackFrame] = field(default_factory=list)
    """The frames printed after an elision marker."""
    elided: int | None = None
    """How many frames the marker says were left out; -1 for ``additional frames``."""
    created_by: CreatedBy | None = None
    stack_unavailable: bool = False

    @property
    def frames(self) -> list[TracebackFrame]:
        """Every printed frame, innermost first (without the elided ones)."""
        return self.head + self.tail

    @property
    def status(self) -> str:
        """The status or wait reason alone: the state without minutes and thread lock."""
        state = self.state
        if state.endswith(_LOCKED):
            state = state[: -len(_LOCKED)]
        return _MINUTES.sub("", state)

    @property
    def minutes(self) -> int | None:
        state = self.state[: -len(_LOCKED)] if self.locked_to_thread else self.state
        match = _MINUTES.search(state)
        return int(match.group(1)) if match else None

    @property
    def locked_to_thread(self) -> bool:
        return self.state.endswith(_LOCKED)


def split_call(text: str) -> tuple[str, str | None]:
    """``main.(*T).f[...](0x1, {0x2, 0x3})`` -> (``main.(*T).f[...]``, ``0x1, {0x2, 0x3}``):
    the argument list is the last balanced parenthesised group of the line. A line with no
    argument list (goscope prints none for physical frames, whose argument values it does
    not know) is the bare function name, with None for the arguments."""
    if not text.endswith(")"):
        if not text or text[0].isspace():
            raise TracebackError(f"not a frame line: {text!r}")
        return text, None
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return text[:i], text[i + 1 : -1]
    raise TracebackError(f"unbalanced parentheses in frame line: {text!r}")


def _position(line: str, what: str) -> re.Match[str]:
    match = _POSITION.match(line)
    if match is None:
        raise TracebackError(f"expected the file:line of {what}, got {line!r}")
    return match


def _int16(text: str | None) -> int | None:
    return int(text, 16) if text is not None else None


def _parse_block(lines: list[str]) -> TracebackGoroutine:
    header = _HEADER.match(lines[0])
    if header is None:
        raise TracebackError(f"not a goroutine header: {lines[0]!r}")
    m = header.group(3)
    g = TracebackGoroutine(
        id=int(header.group(1)),
        state=header.group(5),
        gp=_int16(header.group(2)),
        m=int(m) if m is not None and m != "nil" else None,
        mp=_int16(header.group(4)),
    )
    frames = g.head
    i = 1
    while i < len(lines):
        line = lines[i]
        if line.strip() == _UNAVAILABLE:
            g.stack_unavailable = True
            i += 1
            continue
        elided = _ELIDED.match(line)
        if elided is not None or line == _ADDITIONAL_ELIDED:
            g.elided = int(elided.group(1)) if elided is not None else -1
            frames = g.tail
            i += 1
            continue
        created = _CREATED_BY.match(line)
        if created is not None:
            if i + 1 >= len(lines):
                raise TracebackError(f"goroutine {g.id}: `created by` without its position")
            at = _position(lines[i + 1], f"goroutine {g.id}'s creator")
            g.created_by = CreatedBy(
                function=created.group(1),
                goid=int(created.group(2)) if created.group(2) else None,
                file=at.group(1),
                line=int(at.group(2)),
                offset=_int16(at.group(3)),
            )
            i += 2
            continue
        if i + 1 >= len(lines):
            raise TracebackError(f"goroutine {g.id}: frame {line!r} without its position")
        function, args = split_call(line)
        at = _position(lines[i + 1], f"{function} in goroutine {g.id}")
        frames.append(
            TracebackFrame(
                function=function,
                args=args,
                file=at.group(1),
                line=int(at.group(2)),
                offset=_int16(at.group(3)),
                fp=_int16(at.group(4)),
                sp=_int16(at.group(5)),
                pc=_int16(at.group(6)),
            )
        )
        i += 2
    return g


def parse(text: str) -> list[TracebackGoroutine]:
    """Every goroutine block in `text`, in the order printed, up to the first ``-----`` line
    (see the module documentation)."""
    goroutines = []
    block: list[str] = []
    lines = text.splitlines()
    if _RELAY in lines:
        lines = lines[: lines.index(_RELAY)]
    for line in [*lines, ""]:
        if block:
            if line == "":
                goroutines.append(_parse_block(block))
                block = []
            else:
                block.append(line)
        elif _HEADER.match(line):
            block = [line]
    return goroutines


def parse_by_id(text: str) -> dict[int, TracebackGoroutine]:
    """:func:`parse`, keyed by goroutine id; a repeated id is an error."""
    result: dict[int, TracebackGoroutine] = {}
    for g in parse(text):
        if g.id in result:
            raise TracebackError(f"goroutine {g.id} is printed twice")
        result[g.id] = g
    return result


def printed_name(function: str) -> str:
    """The name the runtime prints for a symbol-table name: ``panic`` for
    ``runtime.gopanic``; type arguments (from the first ``[`` to the last ``]``) as ``[...]``."""
    if function == "runtime.gopanic":
        return "panic"
    first, last = function.find("["), function.rfind("]")
    if first < 0 or last < first:
        return function
    return function[:first] + "[...]" + function[last + 1 :]
