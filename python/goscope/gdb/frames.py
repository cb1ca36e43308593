"""A frame filter for ``bt``: Go function names and file:line where GDB has no symbols, and
the goroutine's stack alone after ``go goroutine ID``.

In a stripped Go binary GDB knows no function and no line, so every Go frame would print as
``?? ()``. The decorator names such frames from pclntab and expands inlined calls the way the
runtime's traceback does: each inlined call is a line of its own, innermost first, all with
the number of the physical frame they belong to. Frames GDB can describe itself (DWARF,
symbols) are left to GDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import gdb
from gdb.FrameDecorator import FrameDecorator

from goscope import GoscopeError
from goscope.gdb import machine, output, unwind

NAME = "goscope-go"
_MASK = (1 << 64) - 1


class _GoFrame(FrameDecorator):  # type: ignore[misc]
    """One line of a Go frame: a physical frame or one of the calls inlined into it."""

    def __init__(self, base: Any, function: str, file: str, line: int, address: int | None) -> None:
        super().__init__(base)
        self._function = function
        self._file = file
        self._line = line
        self._address = address

    def function(self) -> str:
        return self._function

    def filename(self) -> str:
        return self._file

    def line(self) -> int:
        return self._line

    def address(self) -> int | None:
        return self._address

    def frame_args(self) -> None:
        return None

    def frame_locals(self) -> None:
        return None


class _InterruptedLine(FrameDecorator):  # type: ignore[misc]
    """A frame GDB describes itself but whose pc is the instruction a signal interrupted, not
    a return address: GDB looks its line up at pc - 1, the runtime (rightly) at pc."""

    def __init__(self, base: Any, line: int) -> None:
        super().__init__(base)
        self._line = line

    def line(self) -> int:
        return self._line


class _SafeVariable:
    """An argument or local whose value is read here, so that an unreadable one prints as
    GDB prints it without frame filters (``<error reading variable: ...>``) instead of
    cutting the frame's line short with a Python exception."""

    def __init__(self, item: Any, frame: gdb.Frame) -> None:
        self._item = item
        self._frame = frame

    def symbol(self) -> Any:
        return self._item.symbol()

    def value(self) -> Any:
        value = self._item.value()
        symbol = self._item.symbol()
        if value is not None or not isinstance(symbol, gdb.Symbol):
            return value
        try:
            read = symbol.value(self._frame)
            read.fetch_lazy()
            return read
        except gdb.error as error:
            return f"<error reading variable: {error}>"


class _SafeVariables(FrameDecorator):  # type: ignore[misc]
    def frame_args(self) -> Any:
        return self._safe(super().frame_args())

    def frame_locals(self) -> Any:
        return self._safe(super().frame_locals())

    def _safe(self, items: Any) -> Any:
        if items is None:
            return None
        frame = self.inferior_frame()
        return [_SafeVariable(item, frame) for item in items]


def _is_interrupted(frame: gdb.Frame) -> bool:
    if frame.level() == 0 or frame.type() != gdb.NORMAL_FRAME:
        return False
    m = machine.of(frame.architecture())
    if m is None:
        return False
    try:
        sp = int(frame.read_register(m.sp)) & _MASK
    except gdb.error:
        return False
    return (sp, frame.pc() & _MASK) in unwind.exact_frames()


def _needs_names(frame: gdb.Frame) -> bool:
    """Whether the frame's names come from pclntab: GDB has nothing to say about it, or only
    what goscope gave it for a binary without DWARF (which has no inlined calls)."""
    program = unwind.current_program()
    if program is not None and not program.dwarf:
        return True
    try:
        if frame.name() is None:
            return True
        return frame.find_sal().symtab is None
    except gdb.error:
        return False


def _locations(frame: gdb.Frame) -> list[tuple[str, str, int]] | None:
    """The frames pclntab shows at `frame`'s pc, innermost first."""
    program = unwind.current_program()
    if program is None:
        return None
    pc = frame.pc() & _MASK
    static = (pc - program.bias) & _MASK
    if not program.text[0] <= static < program.text[1]:
        return None
    exact = frame.level() == 0 or frame.type() != gdb.NORMAL_FRAME or _is_interrupted(frame)
    try:
        found = program.binary.lookup(program.code_pc(static, exact))
    except GoscopeError:
        return None
    return [(function, file, line) for function, file, line in found] or None


def _decorate(decorator: Any) -> Iterator[Any]:
    frame = decorator.inferior_frame()
    if frame is None or frame.type() == gdb.SIGTRAMP_FRAME:
        yield decorator
        return
    if not _needs_names(frame):
        found = _locations(frame) if _is_interrupted(frame) else None
        safe = _SafeVariables(decorator)
        yield _InterruptedLine(safe, found[-1][2]) if found else safe
        return
    found = _locations(frame)
    if not found:
        yield _Nameless(decorator) if frame.name() is None else decorator
        return
    pc = frame.pc()
    for index, (function, file, line) in enumerate(found):
        # One pc for the physical frame and the calls inlined into it: shown once, first.
        yield _GoFrame(decorator, function, file, line, pc if index == 0 else None)


class _Nameless(FrameDecorator):  # type: ignore[misc]
    """A frame in no function GDB or pclntab knows: ``?? ()``, as GDB prints it without
    frame filters (a decorator's default name would be empty)."""

    def function(self) -> str:
        return "??"


class _Unavailable(FrameDecorator):  # type: ignore[misc]
    """A frame whose pc GDB cannot read (a core without registers): FrameDecorator would
    raise asking for it: ``?? ()``, as GDB shows a frame it knows nothing about."""

    def function(self) -> str:
        return "??"

    def address(self) -> None:
        return None

    def filename(self) -> None:
        return None

    def line(self) -> None:
        return None

    def frame_args(self) -> None:
        return None

    def frame_locals(self) -> None:
        return None


def _pc_available(frame: gdb.Frame) -> bool:
    try:
        frame.pc()
    except gdb.error:
        return False
    return True


class GoFrameFilter:
    """Registered as ``goscope-go`` in ``gdb.frame_filters``."""

    def __init__(self) -> None:
        self.name = NAME
        self.priority = 100
        self.enabled = True

    def filter(self, frames: Iterable[Any]) -> Iterator[Any]:
        hide_thread_frame = unwind.switched() is not None
        last: gdb.Frame | None = None
        for decorator in frames:
            try:
                frame = decorator.inferior_frame()
                last = frame
                if frame is not None and not _pc_available(frame):
                    yield _Unavailable(decorator)
                    continue
                if frame is not None:
                    if hide_thread_frame and frame.level() == 0:
                        continue
                    if frame.level() > 0 and frame.pc() == 0:
                        # The zero return address the unwinder gives the bottom of a stack.
                        return
                yield from _decorate(decorator)
            except gdb.error:
                yield decorator
        _say_why_stopped(last)


#: The reasons GDB reports as "Backtrace stopped" (its UNWIND_FIRST_ERROR and after).
_STOP_ERRORS = frozenset(
    getattr(gdb, name)
    for name in (
        "FRAME_UNWIND_UNAVAILABLE",
        "FRAME_UNWIND_INNER_ID",
        "FRAME_UNWIND_SAME_ID",
        "FRAME_UNWIND_NO_SAVED_PC",
        "FRAME_UNWIND_MEMORY_ERROR",
    )
    if hasattr(gdb, name)
)


def _say_why_stopped(last: gdb.Frame | None) -> None:
    """GDB prints why a backtrace stopped early ("corrupt stack?") only when no frame filter
    runs; with this one, the filter says it after the last frame."""
    if last is None:
        return
    try:
        reason = last.unwind_stop_reason()
        if reason not in _STOP_ERRORS:
            return
        output.write(f"Backtrace stopped: {gdb.frame_stop_reason_string(reason)}\n")
    except gdb.error:
        pass


_filter: GoFrameFilter | None = None


def register() -> None:
    global _filter
    if _filter is not None:
        return
    _filter = GoFrameFilter()
    gdb.frame_filters[NAME] = _filter
