"""Says where a Go program stopped when GDB alone cannot: one line per stop, from pclntab.

- At a breakpoint made by ``go break``: the function and file:line (inlined calls included)
  and the goroutine running on the thread, e.g.
  ``goscope: stopped at main.work (/src/main.go:42) in goroutine 7``.
- At the SIGTRAP of ``runtime.Breakpoint()``: the goroutine and the function that called it,
  e.g. ``goscope: runtime.Breakpoint() in goroutine 1, called from main.main
  (/src/main.go:88); `continue` resumes``. The program continues after the trap, so GDB's
  ``continue`` (which does not pass SIGTRAP to the program) simply goes on.

Only reads registers and memory; a failure becomes part of the line, never a traceback.
"""

from __future__ import annotations

from typing import Any

import gdb

from goscope import Binary
from goscope.binary_info import BinaryInfo
from goscope.gdb import machine, output, process
from goscope.gdb import target as gdb_target
from goscope.gdb.commands import breakpoints

#: The Go functions a runtime.Breakpoint() stop is inside: the exported one (inlined into its
#: caller in optimized builds) and the assembly function that executes the trap.
_BREAKPOINT_FUNCTIONS = ("runtime.Breakpoint", "runtime.breakpoint")
_MASK = (1 << 64) - 1


def _goroutine() -> str:
    """`in goroutine N` for the selected thread, or why it is not known."""
    lwp = process.selected_lwp()
    if lwp is None:
        return "in an unknown goroutine"
    try:
        goid = process.current().goroutine_of_thread(lwp)
    except (gdb.error, gdb.GdbError, OSError, ValueError) as error:
        return f"in an unknown goroutine ({error})"
    except Exception as error:  # a decoding failure must not cost the user the stop line
        return f"in an unknown goroutine ({type(error).__name__}: {error})"
    return f"in goroutine {goid}" if goid is not None else "on a thread running no goroutine"


def _register(name: str) -> int:
    return int(gdb.selected_frame().read_register(name)) & _MASK


def _binary_and_bias() -> tuple[Binary, int] | None:
    state = gdb_target.current()
    if not state.has_memory or state.executable is None:
        return None
    binary = gdb_target.binary(state.executable)
    bias = gdb_target.load_bias(state, BinaryInfo.of(binary).entry) or 0
    return binary, bias


def _describe(frames: list[tuple[str, str, int]]) -> str:
    site = breakpoints.Site(0, tuple(frames))
    return site.describe()


def _breakpoint_caller(binary: Binary, bias: int) -> str:
    """The function that called runtime.Breakpoint(), from the return address
    (runtime.breakpoint is frameless: at [sp], or in the link register), else from the
    goroutine's unwound stack."""
    m = machine.current()
    if m.return_address_on_stack or m.lr is None:
        memory = gdb.selected_inferior().read_memory(_register(m.sp), 8)
        ret = int.from_bytes(bytes(memory), "little")
    else:
        ret = _register(m.lr)
    frames = [f for f in binary.lookup(ret - 1 - bias) if f[0] not in _BREAKPOINT_FUNCTIONS]
    if frames:
        return _describe(frames)
    # runtime.Breakpoint was not inlined (a -N -l build): ask the unwinder for its caller.
    lwp = process.selected_lwp()
    if lwp is not None:
        proc = process.current()
        goid = proc.goroutine_of_thread(lwp)
        g: dict[str, Any] | None = proc.goroutine(goid) if goid is not None else None
        for frame in (g or {}).get("frames", []):
            function = frame.get("function")
            if function not in _BREAKPOINT_FUNCTIONS:
                return _position(frame)
    return "an unknown function"


def _position(frame: dict[str, Any]) -> str:
    function = frame.get("function") or "?"
    file, line = frame.get("file"), frame.get("line")
    return f"{function} ({file}:{line})" if file else function


def _on_breakpoint(event: gdb.BreakpointEvent) -> None:
    for hit in event.breakpoints:
        if breakpoints.owner(hit.number) is None:
            continue
        found = _binary_and_bias()
        if found is None:
            return
        binary, bias = found
        frames = binary.lookup(_register(machine.current().pc) - bias)
        where = _describe(frames) if frames else "an address outside the Go code"
        output.write(f"goscope: stopped at {where} {_goroutine()}\n")
        return


def _on_sigtrap() -> None:
    # Every step and finish ends in a plain stop too: the one-byte read of the trap
    # instruction comes before anything that costs more.
    m = machine.of(gdb.selected_inferior().architecture())
    if m is None:
        return
    at = _register(m.pc) - (len(m.trap) if m.pc_after_trap else 0)
    try:
        if bytes(gdb.selected_inferior().read_memory(at, len(m.trap))) != m.trap:
            return
    except gdb.MemoryError:
        return
    found = _binary_and_bias()
    if found is None:
        return
    binary, bias = found
    trap = binary.pc_line(at - bias)
    if trap is None or trap[0] not in _BREAKPOINT_FUNCTIONS:
        return
    caller = _breakpoint_caller(binary, bias)
    output.write(
        f"goscope: runtime.Breakpoint() {_goroutine()}, called from {caller}; `continue` resumes\n"
    )


def on_stop(event: gdb.StopEvent) -> None:
    try:
        if isinstance(event, gdb.BreakpointEvent):
            _on_breakpoint(event)
        elif not isinstance(event, gdb.SignalEvent) or event.stop_signal == "SIGTRAP":
            # GDB 13 reports a trap instruction it did not plant as a plain StopEvent.
            _on_sigtrap()
    except Exception as error:  # a stop handler must never print a traceback
        output.write(f"goscope: cannot describe this stop: {type(error).__name__}: {error}\n")


def connect_events() -> None:
    gdb.events.stop.connect(on_stop)
