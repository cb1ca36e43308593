r"""Parser of how the Go runtime reports a crash, ahead of its goroutine dump: the panic chain,
the ``fatal error:`` message, the signal, and which goroutine crashed.

What the runtime prints before the first goroutine block (Go 1.21 to 1.27)::

    panic: runtime error: index out of range [5] with length 3 [recovered]
    \tpanic: process failed with code 500
    \tpanic: cleanup failed [recovered, repanicked]

    goroutine 1 gp=0xc000002380 m=0 mp=0x5b0380 [running]:

- **Panics** (``printpanics``), outermost (oldest) first, every one after the first indented
  by a tab, each followed by `` [recovered]`` when ``recover`` was called for it while the
  deferred call that called it has not returned. A ``runtime.Goexit`` on the chain is not
  printed, and the panic printed after it is not indented. Since Go 1.25 a panic raised again
  with the value it was recovered from is printed once, as ``panic: V [recovered,
  repanicked]``, where older releases print ``panic: V [recovered]`` and ``\tpanic: V``.
  Since Go 1.23 every line of a multi-line panic message after the first is indented by a tab;
  before, it is printed as is. Error and Stringer values are printed as what their Error or
  String method returns, other values as the print builtin writes them.
- **Fatal errors**: ``fatal error: MESSAGE``, sometimes after ``runtime: ...`` lines saying
  more (``runtime: goroutine stack exceeds 4194304-byte limit``) or ``unexpected fault address
  0x...``. Since Go 1.26 a fatal error raised while panics run their deferred calls is printed
  after those panics' chain, indented by a tab.
- **Signals**: a panic or fatal error the runtime raised for a signal (``sigpanic``) is followed
  by ``[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]`` (a hex number
  instead of the name for signals without one). A signal the runtime cannot turn into a panic
  (a fault in C code, an unhandled signal) prints no ``panic:`` or ``fatal error:`` line but::

      SIGSEGV: segmentation violation
      PC=0x4b8bf0 m=0 sigcode=1 addr=0x0
      signal arrived during cgo execution

  (``addr=`` since Go 1.22 and only for SIGSEGV and SIGBUS; ``Signal 40`` for signals without a
  name; the last line only for a signal in C code called through cgo).
- **The crashed goroutine** is printed first, ``[running]``. When the runtime died on a system
  stack it first prints ``runtime stack:`` and that stack, then the goroutine that thread was
  running (for a fault in C code, the goroutine in its cgo call, ``[syscall]``). When no
  goroutine was running (the scheduler found a deadlock), every goroutine follows in creation
  order, the first one waiting: :attr:`Crash.goroutine` is then None. (A runtime thread without
  a goroutine, like sysmon, dying while goroutine 1 runs elsewhere would be misread.)

Only the text before the first goroutine block is read for the crash report, and the report
starts at its first line that can start one (``panic:``, ``fatal error:``, ``runtime:``,
``unexpected fault address``, a signal name): a program that writes such lines to stderr itself
before crashing can mislead the parser.

:func:`expected_panics` turns a panic chain as the fixture programs record it (innermost
first, see ``tests/fixtures/programs/README.md``) into the lines the runtime of a given Go
version prints for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.tracebacks import TracebackGoroutine, parse

_PANIC = re.compile(r"^(\t?)panic: (.*)$")
_MARKS = (
    (" [recovered, repanicked]", True, True),
    (" [recovered]", True, False),
)
_FATAL = re.compile(r"^(\t?)fatal error: (.*)$")
_RUNTIME = re.compile(r"^runtime: (.*)$")
_STACK_LIMIT = re.compile(r"^runtime: goroutine stack exceeds (\d+)-byte limit$")
_FAULT = re.compile(r"^unexpected fault address (0x[0-9a-f]+)$")
_SIGNAL_LINE = re.compile(
    r"^\[signal (?:(SIG[A-Z0-9]+)(?:: (.*?))?|0x([0-9a-f]+)) "
    r"code=0x([0-9a-f]+) addr=0x([0-9a-f]+) pc=0x([0-9a-f]+)\]$"
)
_SIGNAL_NAME = re.compile(r"^(SIG[A-Z0-9]+): (.+)$")
_SIGNAL_NUMBER = re.compile(r"^Signal (\d+)$")
_SIGNAL_PC = re.compile(r"^PC=0x([0-9a-f]+) m=(-?\d+) sigcode=(-?\d+)(?: addr=0x([0-9a-f]+))?$")
_CGO = "signal arrived during cgo execution"
_HEADER = re.compile(r"^goroutine \d+ .*\]:$")
_RUNTIME_STACK = "runtime stack:"
# Statuses the crashed goroutine can have: it was running Go code, or C code through cgo.
_CRASHED_STATUSES = ("running", "syscall")
_GO_MINOR = re.compile(r"go1\.(\d+)")


class PanicOracleError(ValueError):
    """The text has no crash report the parser understands."""


@dataclass(frozen=True)
class PrintedPanic:
    """One ``panic:`` line (with the continuation lines of a multi-line message)."""

    message: str
    """The value as printed, without the `` [recovered]`` mark; the lines of a multi-line
    message are joined by newlines, with their indentation as printed."""
    recovered: bool = False
    repanicked: bool = False
    """``[recovered, repanicked]`` (Go 1.25+): a newer panic raised this same value again and
    is not printed."""
    after_goexit: bool = False
    """Printed without the tab although an earlier panic was printed before it: the chain has
    a ``runtime.Goexit`` between the two."""


@dataclass(frozen=True)
class Signal:
    """The signal the crash report names."""

    name: str | None
    """``SIGSEGV``; None when the runtime printed a number instead."""
    number: int | None
    """The signal number, when the runtime printed one instead of a name."""
    description: str | None
    """``segmentation violation``."""
    code: int | None
    """``si_code`` (``code=`` of the bracketed line, ``sigcode=`` of the other form)."""
    addr: int | None
    """The fault address; None when not printed (the unbracketed form before Go 1.22, and
    for signals other than SIGSEGV and SIGBUS)."""
    pc: int | None
    m: int | None = None
    """The M that got the signal (the unbracketed form only)."""
    cgo: bool = False
    """``signal arrived during cgo execution``."""
    bracketed: bool = True
    """The ``[signal ...]`` line of a panic or fatal error, rather than the report of a
    signal the runtime could not turn into one."""


@dataclass
class Crash:
    """What the runtime printed about the crash itself."""

    panics: list[PrintedPanic] = field(default_factory=list)
    """The printed panic chain, outermost (oldest) first, as printed."""
    fatal_error: str | None = None
    """The text after ``fatal error: ``."""
    fatal_error_indented: bool = False
    """The fatal error line was indented, after the chain of panics running deferred calls
    (Go 1.26+)."""
    runtime_messages: list[str] = field(default_factory=list)
    """``runtime: ...`` lines before the fatal error, without the prefix."""
    stack_limit: int | None = None
    """From ``runtime: goroutine stack exceeds N-byte limit``."""
    fault_address: int | None = None
    """From ``unexpected fault address 0x...``."""
    signal: Signal | None = None
    runtime_stack: bool = False
    """A ``runtime stack:`` section was printed: the runtime died on a system stack."""
    goroutine: TracebackGoroutine | None = None
    """The goroutine that crashed: the first goroutine block, when it is running (Go code) or
    in a system call (C code through cgo); None otherwise (see the module documentation)."""


def _int16(text: str | None) -> int | None:
    return int(text, 16) if text is not None else None


def _strip_marks(message: str) -> tuple[str, bool, bool]:
    for suffix, recovered, repanicked in _MARKS:
        if message.endswith(suffix):
            return message[: -len(suffix)], recovered, repanicked
    return message, False, False


def _starts_report(line: str) -> bool:
    if line.startswith("\t"):
        return False
    patterns = (_PANIC, _FATAL, _RUNTIME, _FAULT, _SIGNAL_NAME, _SIGNAL_NUMBER, _SIGNAL_LINE)
    return any(pattern.match(line) for pattern in patterns)


def _ends_message(line: str) -> bool:
    """Whether LINE cannot continue a multi-line panic message."""
    return (
        line == ""
        or bool(_PANIC.match(line))
        or bool(_FATAL.match(line))
        or bool(_SIGNAL_LINE.match(line))
        or line == _RUNTIME_STACK
        or bool(_HEADER.match(line))
    )


def _parse_panics(lines: list[str], i: int, crash: Crash) -> int:
    """Reads the ``panic:`` lines from LINES[I]; returns the index after them."""
    while i < len(lines):
        match = _PANIC.match(lines[i])
        if match is None:
            break
        indented, text = match.group(1) == "\t", match.group(2)
        i += 1
        continuation = []
        while i < len(lines) and not _ends_message(lines[i]):
            continuation.append(lines[i])
            i += 1
        message, recovered, repanicked = _strip_marks("\n".join([text, *continuation]))
        crash.panics.append(
            PrintedPanic(
                message=message,
                recovered=recovered,
                repanicked=repanicked,
                after_goexit=bool(crash.panics) and not indented,
            )
        )
    return i


def _parse_signal_report(lines: list[str], i: int) -> tuple[Signal, int]:
    """Reads the unbracketed signal report at LINES[I]; returns it and the index after it."""
    name = description = None
    number = None
    named = _SIGNAL_NAME.match(lines[i])
    if named is not None:
        name, description = named.group(1), named.group(2)
    else:
        numbered = _SIGNAL_NUMBER.match(lines[i])
        assert numbered is not None
        number = int(numbered.group(1))
    i += 1
    pc = m = code = addr = None
    if i < len(lines):
        at = _SIGNAL_PC.match(lines[i])
        if at is not None:
            pc, m, code = int(at.group(1), 16), int(at.group(2)), int(at.group(3))
            addr = _int16(at.group(4))
            i += 1
    cgo = False
    while i < len(lines) and lines[i] != "" and not _HEADER.match(lines[i]):
        # "signal arrived during cgo execution", "instruction bytes: ..." for SIGILL/SIGFPE.
        cgo = cgo or lines[i] == _CGO
        i += 1
    signal = Signal(
        name=name,
        number=number,
        description=description,
        code=code,
        addr=addr,
        pc=pc,
        m=m,
        cgo=cgo,
        bracketed=False,
    )
    return signal, i


def _bracketed_signal(line: str) -> Signal | None:
    match = _SIGNAL_LINE.match(line)
    if match is None:
        return None
    return Signal(
        name=match.group(1),
        number=_int16(match.group(3)),
        description=match.group(2),
        code=_int16(match.group(4)),
        addr=_int16(match.group(5)),
        pc=_int16(match.group(6)),
    )


def parse_crash(text: str) -> Crash:
    """The crash report of a traceback (a crashing program's stderr)."""
    lines = text.splitlines()
    end = next(
        (i for i, line in enumerate(lines) if _HEADER.match(line) or line == _RUNTIME_STACK),
        len(lines),
    )
    crash = Crash()
    start = next((i for i in range(end) if _starts_report(lines[i])), None)
    if start is None:
        raise PanicOracleError("no panic, fatal error or signal report before the goroutines")
    i = start
    while i < end:
        line = lines[i]
        if _PANIC.match(line):
            i = _parse_panics(lines, i, crash)
            continue
        fatal = _FATAL.match(line)
        if fatal is not None:
            crash.fatal_error = fatal.group(2)
            crash.fatal_error_indented = fatal.group(1) == "\t"
            i += 1
            continue
        limit = _STACK_LIMIT.match(line)
        if limit is not None:
            crash.stack_limit = int(limit.group(1))
        runtime = _RUNTIME.match(line)
        if runtime is not None:
            crash.runtime_messages.append(runtime.group(1))
            i += 1
            continue
        fault = _FAULT.match(line)
        if fault is not None:
            crash.fault_address = int(fault.group(1), 16)
            i += 1
            continue
        bracketed = _bracketed_signal(line)
        if bracketed is not None:
            crash.signal = bracketed
            i += 1
            continue
        if _SIGNAL_NAME.match(line) or _SIGNAL_NUMBER.match(line):
            crash.signal, i = _parse_signal_report(lines, i)
            continue
        i += 1
    if not crash.panics and crash.fatal_error is None and crash.signal is None:
        raise PanicOracleError("no panic, fatal error or signal report before the goroutines")
    crash.runtime_stack = end < len(lines) and lines[end] == _RUNTIME_STACK

    goroutines = parse(text)
    if goroutines and goroutines[0].status in _CRASHED_STATUSES:
        crash.goroutine = goroutines[0]
    return crash


def go_minor(version: str) -> int:
    """21 for ``go1.21.13``."""
    match = _GO_MINOR.search(version)
    if match is None:
        raise ValueError(f"not a Go version: {version!r}")
    return int(match.group(1))


def expected_panics(chain: list[dict[str, Any]], go_version: str) -> list[PrintedPanic]:
    """The ``panic:`` lines the runtime of GO_VERSION prints for CHAIN, a goroutine's panic
    chain innermost first as a fixture's FIXTURE line records it (``message``, ``recovered``,
    ``repanicked``, ``goexit``), outermost first as printed.

    The runtime walks from the oldest record: a Goexit record prints nothing and the next
    panic is printed without the tab; since Go 1.25 the record after one whose value it
    raised again is skipped, and the repanicked one is marked ``[recovered, repanicked]``
    (by Go 1.25 even when it was not recovered; later, only when it was).
    """
    minor = go_minor(go_version)
    merges = minor >= 25
    oldest_first = list(reversed(chain))
    printed: list[PrintedPanic] = []
    for i, record in enumerate(oldest_first):
        older = oldest_first[i - 1] if i > 0 else None
        if older is not None and merges and older["repanicked"]:
            continue
        if record["goexit"]:
            continue
        recovered = bool(record["recovered"])
        repanicked = merges and bool(record["repanicked"])
        if minor == 25:
            # Go 1.25 marks a repanicked value "[recovered, repanicked]" even if it was not
            # recovered; later releases only mark recovered ones.
            recovered = recovered or repanicked
        else:
            repanicked = repanicked and recovered
        printed.append(
            PrintedPanic(
                message=record["message"],
                recovered=recovered,
                repanicked=repanicked,
                after_goexit=bool(printed) and older is not None and bool(older["goexit"]),
            )
        )
    return printed
