"""GDB's frame unwinder for Go code, driven by the binary's pclntab.

Go binaries built with ``-ldflags=-s -w`` have no DWARF call frame information, so GDB's own
unwinders guess (and show ``?? ()`` frames of garbage). This unwinder reads each frame's size
from the pcsp table, as the runtime's traceback does, so plain ``bt``, ``up``, ``frame N`` and
``finish`` walk a stripped Go stack. Where GDB has DWARF CFI it unwinds ordinary frames itself
(its DWARF unwinder is what ``info locals`` needs), and this one only takes the frames CFI
cannot describe: the system stack switch in ``runtime.systemstack`` and ``runtime.morestack``
(continued on the goroutine's stack, as the runtime's traceback does) and the bottom of every
stack (``runtime.goexit``, ``runtime.mstart``), where unwinding must stop.

It also shows a goroutine that runs on no thread: :func:`switch_to` makes the selected
thread's newest frame return into the goroutine's saved pc/sp, so ``bt`` and ``frame N`` show
the goroutine's stack without writing a register (impossible on a core, and changing the
program on a live process). The frame filter in :mod:`goscope.gdb.frames` hides that thread
frame from ``bt``.

Nothing here may raise into GDB's frame machinery: every failure means "not a frame this
unwinder knows", and GDB's own unwinders take over.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import gdb
import gdb.unwinder

from goscope import Binary, GoscopeError, _native
from goscope.binary_info import BinaryInfo
from goscope.gdb import machine
from goscope.gdb import target as gdb_target

NAME = "goscope-go"

_MASK = (1 << 64) - 1


class _FrameId:
    """What GDB identifies a frame by: its CFA (or a stand-in, see `_lift`) and its
    function's entry."""

    def __init__(self, sp: int, pc: int) -> None:
        # GDB takes these as gdb.Value only.
        self.sp = _value(sp)
        self.pc = _value(pc)


_u64: gdb.Type | None = None


def _value(number: int) -> gdb.Value:
    global _u64
    if _u64 is None:
        _u64 = gdb.selected_inferior().architecture().integer_type(64, False)
    return gdb.Value(number & _MASK).cast(_u64)


def _save(info: gdb.unwinder.UnwindInfo, register: str, number: int) -> None:
    info.add_saved_register(register, _value(number))


@dataclass(frozen=True)
class Switched:
    """A goroutine shown in place of a thread's own stack: its saved registers."""

    goid: int
    g: int
    pc: int
    sp: int
    bp: int


@dataclass
class _Program:
    """The Go executable of the selected inferior, as the unwinder needs it."""

    binary: Binary
    bias: int
    dwarf: bool
    text: tuple[int, int]
    unwinder: _native.FrameUnwinder

    def code_pc(self, static_pc: int, interrupted: bool) -> int:
        """The pc to look a frame's function and line up at (see
        `FrameUnwinder.lookup_pc`)."""
        return self.unwinder.lookup_pc(static_pc, interrupted)


_switched: dict[tuple[int, int], Switched] = {}
#: (sp, pc) of frames whose pc is the instruction that was interrupted (by a signal or an
#: injected call) rather than a return address: looked up at pc, not pc - 1.
_exact: set[tuple[int, int]] = set()
#: (sp, pc) of frames on a goroutine stack reached from a system stack, with how far their
#: frame ids are moved up. GDB stops a backtrace at a frame whose id lies below its callee's
#: ("previous frame inner to this frame"), and the goroutine's stack may lie below the
#: system stack; ids only need to be unique, stable and ordered, so the goroutine's frames
#: get theirs shifted above the switch.
_lift: dict[tuple[int, int], int] = {}
_program: _Program | None = None
_program_key: tuple[object, ...] | None = None


def _thread_key() -> tuple[int, int] | None:
    thread = gdb.selected_thread()
    if thread is None or not thread.is_valid():
        return None
    return (thread.inferior.num, thread.num)


def switched() -> Switched | None:
    """The goroutine shown in place of the selected thread's stack, if any."""
    key = _thread_key()
    return _switched.get(key) if key is not None else None


def switch_to(goroutine: Switched | None) -> None:
    """Shows `goroutine`'s stack in place of the selected thread's (None: the thread's own)."""
    key = _thread_key()
    if key is None:
        raise gdb.GdbError("no thread selected")
    if goroutine is None:
        _switched.pop(key, None)
    else:
        _switched[key] = goroutine
    gdb.invalidate_cached_frames()


def forget(_event: object = None) -> None:
    """The process ran or changed: switched stacks and cached facts no longer hold."""
    global _program, _program_key
    _switched.clear()
    _exact.clear()
    _lift.clear()
    _program = None
    _program_key = None


def saved_context() -> tuple[int, int] | None:
    """Offsets of `runtime.g`'s saved sp and frame pointer, when known."""
    program = current_program()
    return program.unwinder.saved_context if program is not None else None


def exact_frames() -> set[tuple[int, int]]:
    """(sp, pc) of frames whose pc is an interrupted instruction, not a return address."""
    return _exact


def forget_switches(_event: object = None) -> None:
    _switched.clear()
    _exact.clear()
    _lift.clear()


def current_program() -> _Program | None:
    """The Go executable of the selected inferior, or None when it is not one goscope can
    unwind (not Go, an architecture whose calls leave the return address in a register, a
    PIE whose load address is not known yet)."""
    global _program, _program_key
    progspace = gdb.current_progspace()
    path = progspace.filename if progspace is not None else None
    inferior = gdb.selected_inferior()
    key = (path, inferior.num, inferior.pid)
    if key == _program_key:
        return _program
    _program_key = key
    _program = None
    if not path:
        return None
    try:
        binary = gdb_target.binary(path)
        info = BinaryInfo.of(binary)
        start, end = info.integer("text_start"), info.integer("text_end")
        found = machine.of(inferior.architecture())
        if found is None or not found.return_address_on_stack or start is None or end is None:
            return None
        bias = 0
        if info.pie:
            bias = gdb_target.load_bias(gdb_target.current(), info.entry)
            if bias is None:
                return None
        dwarf = info.dwarf != "absent"
        unwinder = _native.FrameUnwinder(binary, bias, dwarf)
    except (GoscopeError, gdb.error, OSError, ValueError):
        return None
    _program = _Program(binary, bias, dwarf, (start, end), unwinder)
    return _program


def _in_known_code(pc: int) -> bool:
    """Whether `pc` lies in code GDB knows of: a shared library, a function with debug info or
    a symbol (the Go text is checked by the caller)."""
    if pc == 0:
        return True  # GDB stops at a zero pc by itself
    if gdb.solib_name(pc) is not None or gdb.block_for_pc(pc) is not None:
        return True
    try:
        found = gdb.execute(f"info symbol {pc:#x}", to_string=True)
    except gdb.error:
        return False
    return not found.startswith("No symbol matches")


def read_u64(address: int) -> int:
    data = gdb.selected_inferior().read_memory(address, 8)
    return int(struct.unpack("<Q", bytes(data))[0])


def _read_memory(address: int, length: int) -> bytes:
    return bytes(gdb.selected_inferior().read_memory(address, length))


def _reg(pending: gdb.unwinder.PendingFrame, name: str) -> int:
    return int(pending.read_register(name)) & _MASK


def _keep_g(
    pending: gdb.unwinder.PendingFrame, info: gdb.unwinder.UnwindInfo, m: _native.Machine
) -> None:
    """Carries the g register to the caller: Go code keeps it for the whole stack, and the
    system stack switch needs it."""
    try:
        _save(info, m.g, _reg(pending, m.g))
    except gdb.error:
        pass  # not known in this frame: the caller's stays unknown too


class GoUnwinder(gdb.unwinder.Unwinder):
    """Unwinds Go frames from pclntab (see the module's description)."""

    def __init__(self) -> None:
        super().__init__(NAME)

    def __call__(self, pending: gdb.unwinder.PendingFrame) -> gdb.unwinder.UnwindInfo | None:
        try:
            return self._unwind(pending)
        except (gdb.error, gdb.MemoryError, GoscopeError, OverflowError, ValueError, KeyError):
            return None

    def _unwind(self, pending: gdb.unwinder.PendingFrame) -> gdb.unwinder.UnwindInfo | None:
        m = machine.of(pending.architecture())
        if m is None or not m.return_address_on_stack:
            return None
        level = pending.level()
        pc = _reg(pending, m.pc)
        sp = _reg(pending, m.sp)
        if level == 0:
            chosen = switched()
            if chosen is not None:
                return self._into_goroutine(pending, m, pc, chosen)
        program = current_program()
        if program is None:
            return None
        lift = _lift.get((sp, pc), 0) if level > 0 else 0

        def g() -> int | None:
            # Read only when asked: GDB may have to unwind every frame below for it.
            try:
                return _reg(pending, m.g)
            except gdb.error:
                return None

        kind, cfa, entry, caller_pc, caller_sp, fp, caller_g, interrupted = program.unwinder.step(
            pc,
            sp,
            g,
            level == 0,
            (sp, pc) in _exact,
            lift != 0,
            _read_memory,
        )
        if kind == "not-go":
            if level > 0 and not _in_known_code(pc):
                return self._corrupt(pending, m, pc, sp)
            return None
        if kind == "theirs":
            return None
        if kind == "outermost":
            # A zero return address is where GDB stops a backtrace without complaint.
            info = pending.create_unwind_info(_FrameId(cfa + lift, entry))
            _save(info, m.pc, 0)
            _save(info, m.sp, cfa)
            return info
        own_id = (cfa + lift) & _MASK
        info = pending.create_unwind_info(_FrameId(own_id, entry))
        _save(info, m.pc, caller_pc)
        _save(info, m.sp, caller_sp)
        _save(info, m.fp, fp if fp is not None else _reg(pending, m.fp))
        if caller_g is not None:
            # Continued on the goroutine's stack, which may lie below the system stack.
            _save(info, m.g, caller_g)
            if caller_sp <= own_id:
                _lift[(caller_sp, caller_pc)] = own_id - caller_sp + 8
            return info
        if lift:
            _lift[(cfa, caller_pc)] = lift
        _keep_g(pending, info, m)
        if interrupted is not None:
            _exact.add(interrupted)
        return info

    @staticmethod
    def _into_goroutine(
        pending: gdb.unwinder.PendingFrame, m: _native.Machine, pc: int, chosen: Switched
    ) -> gdb.unwinder.UnwindInfo:
        # The thread's frame takes an id just below the goroutine's innermost frame, so that
        # GDB sees the goroutine's stack go outwards from it.
        info = pending.create_unwind_info(_FrameId(chosen.sp, pc))
        _save(info, m.pc, chosen.pc)
        _save(info, m.sp, chosen.sp)
        _save(info, m.fp, chosen.bp)
        _save(info, m.g, chosen.g)
        return info

    @staticmethod
    def _corrupt(
        pending: gdb.unwinder.PendingFrame, m: _native.Machine, pc: int, sp: int
    ) -> gdb.unwinder.UnwindInfo:
        # A return address in no function (garbage read as a frame): the runtime's traceback
        # stops here ("unexpected return pc"), and so must GDB, whose guesses would walk
        # garbage a word at a time. A caller identical to this frame makes GDB stop with
        # "Backtrace stopped: previous frame identical to this frame (corrupt stack?)".
        info = pending.create_unwind_info(_FrameId(sp, pc))
        _save(info, m.pc, pc)
        _save(info, m.sp, sp)
        return info


_registered = False


def _is_go_executable(objfile: gdb.Objfile) -> bool:
    if not gdb_target.is_executable(objfile):
        return False
    try:
        gdb_target.binary(objfile.filename)
    except (GoscopeError, OSError):
        return False
    return True


def register_for(objfile: gdb.Objfile) -> None:
    """Registers the unwinder with `objfile` when it is a Go executable."""
    if objfile.is_valid() and _is_go_executable(objfile):
        gdb.unwinder.register_unwinder(objfile, GoUnwinder(), replace=True)
        gdb.invalidate_cached_frames()


def _on_new_objfile(event: gdb.NewObjFileEvent) -> None:
    forget()
    register_for(event.new_objfile)


def register() -> None:
    """Registers the unwinder with every Go executable, loaded now or later, and the event
    handlers that keep it current."""
    global _registered
    if _registered:
        return
    _registered = True
    gdb.events.new_objfile.connect(_on_new_objfile)
    for name in ("clear_objfiles", "exited", "inferior_deleted"):
        registry = getattr(gdb.events, name, None)
        if registry is not None:
            registry.connect(forget)
    gdb.events.cont.connect(forget_switches)
    for objfile in gdb.objfiles():
        register_for(objfile)
