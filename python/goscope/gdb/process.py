"""The Go process GDB has loaded, as a :class:`goscope.Target`: a core file or a live process.

On a core, goscope opens the core file itself (never GDB's view of it). On a live process,
memory is read through ``/proc/PID/mem`` when GDB runs the process natively and the file can
be opened, else (or with ``set goscope live-memory gdb``) through ``Inferior.read_memory``;
the threads' registers come from GDB, read at each thread's newest frame with the user's
selected thread and frame restored afterwards.
Nothing here writes target memory or registers.

The target is built once and kept until the process may have changed: GDB's ``stop``,
``cont``, ``memory_changed``, ``register_changed``, ``new_objfile``, ``clear_objfiles`` and
``exited`` events drop it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gdb

from goscope import Target
from goscope.binary_info import BinaryInfo
from goscope.gdb import machine, params
from goscope.gdb import target as gdb_target
from goscope.goroutines import ListsGoroutines

#: Values read from GDB as Python ints may be negative; target addresses are 64-bit.
ADDRESS_MASK = (1 << 64) - 1


@dataclass
class Process(ListsGoroutines):
    """The target of the selected inferior, with what the commands need besides it."""

    target: Target
    executable: str
    kind: str
    key: tuple[Any, ...]

    def goroutine_of_thread(self, lwp: int) -> int | None:
        """The goroutine the runtime runs on thread `lwp` (its M's current goroutine)."""
        for thread in self.threads():
            if thread.get("lwp") == lwp:
                goid = thread.get("g")
                return goid if isinstance(goid, int) else None
        return None


_cached: Process | None = None


#: A target over GDB's view of memory, without threads, keyed like :data:`_cached`.
_memory_only: tuple[tuple[Any, ...], Target] | None = None


def forget(_event: object = None) -> None:
    """Drops the cached targets (an event handler: the process may have changed)."""
    global _cached, _memory_only
    if _cached is not None:
        _cached.target.clear_cache()
    _cached = None
    _memory_only = None


def connect_events() -> None:
    events = gdb.events
    for name in (
        "stop",
        "cont",
        "memory_changed",
        "register_changed",
        "new_objfile",
        "clear_objfiles",
        "exited",
        "inferior_deleted",
    ):
        registry = getattr(events, name, None)
        if registry is not None:
            registry.connect(forget)


def selected_lwp() -> int | None:
    """The LWP of GDB's selected thread."""
    thread = gdb.selected_thread()
    if thread is None or not thread.is_valid():
        return None
    lwp = thread.ptid[1]
    return lwp if lwp > 0 else None


def core_file() -> str | None:
    """The core file GDB has loaded: ``Progspace.core_filename`` where GDB has it, else the
    path ``info target`` names."""
    progspace = gdb.selected_inferior().progspace
    name = getattr(progspace, "core_filename", None)
    if name:
        return os.path.abspath(str(name))
    path = gdb_target.core_file_path()
    return os.path.abspath(path) if path else None


def _file_key(path: str) -> tuple[Any, ...]:
    try:
        status = os.stat(path)
    except OSError:
        return (os.path.abspath(path),)
    return (os.path.realpath(path), status.st_mtime_ns, status.st_size)


def _registers_to_read() -> list[str]:
    return machine.current().thread_registers


def read_threads() -> list[tuple[int, dict[str, int]]]:
    """Every thread of the selected inferior as ``(lwp, {register: value})``, read at its
    newest frame. The selected thread and frame are restored afterwards."""
    names = _registers_to_read()
    inferior = gdb.selected_inferior()
    selected_thread = gdb.selected_thread()
    try:
        selected_frame: gdb.Frame | None = gdb.selected_frame()
    except gdb.error:
        selected_frame = None
    result = []
    try:
        for thread in inferior.threads():
            if not thread.is_valid() or thread.is_exited():
                continue
            thread.switch()
            try:
                frame = gdb.newest_frame()
            except gdb.error:
                continue  # a running thread (non-stop mode) has no frames to read
            registers = {}
            for name in names:
                try:
                    registers[name] = int(frame.read_register(name)) & ADDRESS_MASK
                except (gdb.error, ValueError):
                    pass  # e.g. the thread pointer where the kernel or GDB does not provide it
            result.append((thread.ptid[1], registers))
    finally:
        if selected_thread is not None and selected_thread.is_valid():
            selected_thread.switch()
            if selected_frame is not None and selected_frame.is_valid():
                selected_frame.select()
    return result


def _is_native(inferior: gdb.Inferior) -> bool:
    connection = getattr(inferior, "connection", None)
    return connection is None or getattr(connection, "type", None) == "native"


def _open(current: gdb_target.Target, executable: str) -> Process:
    if current.kind == gdb_target.CORE:
        core = core_file()
        if core is None:
            raise gdb.GdbError("cannot find the path of the core file GDB has loaded")
        key = ("core", _file_key(core), _file_key(executable))
        if _cached is not None and _cached.key == key:
            return _cached
        return Process(Target.open_core(core, executable), executable, current.kind, key)

    inferior = gdb.selected_inferior()
    pid = inferior.pid
    use_proc = params.live_memory() == "auto" and _is_native(inferior)
    key = ("live", inferior.num, pid, use_proc, _file_key(executable))
    if _cached is not None and _cached.key == key:
        return _cached
    binary = gdb_target.binary(executable)
    bias = gdb_target.load_bias(current, BinaryInfo.of(binary).entry) or 0
    if bias < 0:
        raise gdb.GdbError(
            f"the process's entry point lies below the executable's ({bias:#x}); "
            "is the loaded executable the one the process runs?"
        )
    threads = read_threads()

    def read_memory(addr: int, length: int) -> bytes:
        return bytes(inferior.read_memory(addr, length))

    if use_proc:
        target = Target.proc(binary, pid, threads, bias, read_memory=read_memory)
    else:
        target = Target.live(binary, read_memory, threads, bias)
    return Process(target, executable, current.kind, key)


def memory_target() -> Target:
    """A target to read the runtime's data from without touching threads (the pretty
    printers run while GDB prints a frame, where switching threads would pull the frame
    away): the process's own target when one is open or a core is loaded, else one over
    GDB's memory of the inferior, or of the executable's file when nothing runs."""
    global _memory_only
    if _cached is not None:
        return _cached.target
    state = gdb_target.current()
    executable = gdb_target.require_executable(state)
    if state.kind == gdb_target.CORE:
        return current().target
    inferior = gdb.selected_inferior()
    key = ("memory", inferior.num, inferior.pid, _file_key(executable))
    if _memory_only is not None and _memory_only[0] == key:
        return _memory_only[1]
    binary = gdb_target.binary(executable)
    bias = gdb_target.load_bias(state, BinaryInfo.of(binary).entry) or 0

    def read_memory(addr: int, length: int) -> bytes:
        return bytes(inferior.read_memory(addr, length))

    target = Target.live(binary, read_memory, [], bias)
    _memory_only = (key, target)
    return target


def current() -> Process:
    """The Go process of the selected inferior; raises gdb.GdbError when there is none."""
    global _cached
    state = gdb_target.current()
    if not state.has_memory:
        raise gdb.GdbError(
            "no process or core file: run or attach to the program, or load a core "
            "(`core-file CORE`)"
        )
    executable = gdb_target.require_executable(state)
    process = _open(state, executable)
    # `set goscope max-frames` (and the other limits) hold for every command.
    process.target.set_limits(**params.limits())
    _cached = process
    return process
