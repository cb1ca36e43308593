"""Type stubs of the compiled module `goscope._native` (crate rust/python)."""

import os
from typing import Callable, Sequence

__version__: str
DEFAULT_MAX_FRAMES: int
"""Frames shown per goroutine unless the limits say otherwise."""
MAX_FRAMES_CAP: int
"""The most frames one stack is unwound for: what a frame limit of 0 stands for."""
MAX_GOROUTINES: int
"""The most goroutines read: what a goroutine limit of 0 stands for."""

class GoscopeError(Exception):
    """Base class of every error goscope raises."""

class NotElfError(GoscopeError):
    """The file is not an ELF file."""

class NotGoBinaryError(GoscopeError):
    """The file is an ELF file but was not built by the Go toolchain."""

class TruncatedError(GoscopeError):
    """The file ends before data that its own headers say is there."""

class CorruptError(GoscopeError):
    """The file's Go metadata (pclntab, build info, ...) is malformed."""

class UnsupportedError(GoscopeError):
    """The target is valid but uses something goscope does not support."""

class UnsupportedArchError(UnsupportedError):
    """The target is for a CPU architecture goscope does not support."""

class UnreadableMemoryError(GoscopeError):
    """Target memory that is not in the core file or cannot be read from the process."""

class InternalError(GoscopeError):
    """goscope itself failed (a bug); the message says where."""

class TargetIOError(GoscopeError, OSError):
    """Reading the target failed at the operating-system level."""

Location = tuple[str, str, int]
"""`(function, file, line)`."""

class Binary:
    """A Go executable, read from `.gopclntab` and `.go.buildinfo` without DWARF."""

    def __init__(self, path: str | os.PathLike[str]) -> None: ...
    @property
    def path(self) -> str: ...
    def info_json(self) -> str:
        """Build and layout facts about the binary, as a JSON object."""
    def pc_line(self, pc: int) -> Location | None:
        """The physical function and raw `file:line` at `pc`, or None."""
    def lookup(self, pc: int) -> list[Location]:
        """Every frame at `pc`, innermost first, inlined calls included."""
    def functions(self) -> list[tuple[str, int, int]]:
        """Every function as `(name, entry, end)`."""
    def function(self, name: str) -> tuple[int, int] | None:
        """`(entry, end)` of the function called `name`, or None."""
    def pcs_for_line(self, file: str, line: int) -> list[int]:
        """Start of every pc range whose innermost position is `file:line`."""
    def body_start(self, pc: int) -> int | None:
        """Where the body of the function containing `pc` starts (past its prologue)."""
    def inlined_copies(self, name: str) -> list[int]:
        """The first pc of every copy of the function `name` inlined into another."""

Registers = dict[str, int]
"""Register name (as GDB names it: `rip`, `rsp`, `rbp`, `r14`, `fs_base`) to value."""

class Target:
    """A core file or a live process with its executable, decoded as the Go runtime sees it.

    Reads only: goscope never writes target memory or registers."""

    @staticmethod
    def open_core(core: str | os.PathLike[str], exe: str | os.PathLike[str]) -> Target:
        """Opens a core file with the executable that produced it."""
    @staticmethod
    def live(
        exe: str | os.PathLike[str] | Binary,
        read_memory: Callable[[int, int], bytes],
        threads: Sequence[tuple[int, Registers]],
        bias: int = 0,
    ) -> Target:
        """A live process whose memory comes from `read_memory(addr, len)`, page-cached
        until `clear_cache()`; `threads` are `(lwp, registers)`."""
    @staticmethod
    def proc(
        exe: str | os.PathLike[str] | Binary,
        pid: int,
        threads: Sequence[tuple[int, Registers]],
        bias: int = 0,
        read_memory: Callable[[int, int], bytes] | None = None,
    ) -> Target:
        """A live process read through /proc/PID/mem, else through `read_memory`."""
    @property
    def kind(self) -> str:
        """ "core", "live" (memory through the debugger) or "proc" (/proc/PID/mem)."""
    @property
    def go_version(self) -> str | None:
        """The Go version of the executable's build information, e.g. "go1.22.10"."""
    @property
    def goroutine_list_error(self) -> str | None:
        """Why the goroutine list (runtime.allgs) cannot be read; None when it can."""
    @property
    def bias(self) -> int:
        """How far a PIE executable was moved from its link address."""
    @property
    def layout_source(self) -> str:
        """Where the runtime struct layout came from: "dwarf" or "table"."""
    def clear_cache(self) -> None:
        """Forgets cached target memory."""
    def set_limits(self, max_frames: int = ..., max_goroutines: int = 0, max_list: int = 0) -> None:
        """What listings of goroutines show at most: frames per goroutine (default
        DEFAULT_MAX_FRAMES), goroutines read, elements of each runtime list (deferred calls,
        panics); 0 is the built-in cap."""
    def goroutines_json(
        self,
        with_stacks: bool = True,
        max_frames: int | None = None,
        state: str | None = None,
        wait_reason: str | None = None,
        function: str | None = None,
        user: bool = False,
    ) -> str:
        """`{"go_version": ..., "goroutines": [...], "total": N}`: the goroutines the
        filters keep, frames innermost first, and how many there are in all."""
    def write_goroutines_json(
        self,
        fd: int,
        with_stacks: bool = True,
        max_frames: int | None = None,
        state: str | None = None,
        wait_reason: str | None = None,
        function: str | None = None,
        user: bool = False,
    ) -> tuple[int, int]:
        """Streams the goroutines_json document to file descriptor `fd`, keeping the
        goroutines the filters match; returns (written, written with an error)."""
    def write_listing(
        self,
        write: Callable[[str], object],
        current: int | None = None,
        color: bool = False,
        state: str | None = None,
        wait_reason: str | None = None,
        function: str | None = None,
        user: bool = False,
    ) -> tuple[int, int, int]:
        """Writes the one-line listing through `write`, then a count line; returns (shown,
        shown with an error, all goroutines)."""
    def write_stacks(
        self,
        write: Callable[[str], object],
        ids: list[int] | None = None,
        system: bool = False,
        color: bool = False,
        max_frames: int | None = None,
        state: str | None = None,
        wait_reason: str | None = None,
        function: str | None = None,
        user: bool = False,
    ) -> tuple[int, int, list[int]]:
        """Writes stacks in the Go traceback's format through `write`, in pieces: goroutines
        `ids` (all when None; then the filters apply). Returns (written, written with an
        error, ids that name no goroutine); an exception `write` raises propagates."""
    def warnings(self) -> list[str]:
        """Problems that limit what goscope shows, one line each (decodes no goroutines)."""
    def groups_json(self, crashed: int | None = None) -> str:
        """{"groups": [...], "total": N}: goroutines grouped by identical stacks (count, ids,
        states, min/max wait minutes, created_by, labels, crashed, representative, frames,
        where_frame)."""
    def triage_report_json(self, heap: bool = True) -> str:
        """The triage report: go_version, build, process (threads, gomaxprocs, ps),
        scheduler, crash, crash_defers, groups, total and blocking."""
    def triage_json(self, crashed: int | None = None, heap: bool = True) -> str:
        """{"groups": [...], "total": N, "blocking": {...}}: the groups and what goroutines wait
        on (channels, sync objects, their waiters and holders), deadlocks and leaks; with heap,
        blocking.unreachable: goroutines leaked by reachability through the heap."""
    def heap_report_json(self, by: str, top: int) -> str:
        """The object graph's objects grouped by "type", "sizeclass" or "root" (top groups,
        the rest summed), totals, the largest retainers and warnings."""
        ...
    def heap_why_json(self, addr: int) -> str:
        """The shortest path from a root to the object containing addr, its retained size."""
        ...
    def heap_pprof(self, path: str) -> int:
        """Writes a gzipped pprof profile of the reachable heap; returns its size."""
        ...
    def heap_json(self) -> str:
        """A walk of every heap arena and span: totals (heap_inuse, heap_objects, heap_alloc,
        heap_idle, heap_released, stack_inuse, spans_in_use, spans_manual, large_objects,
        large_bytes, arenas), size_classes (class, size, objects, bytes, spans, slots,
        noscan_spans; most bytes first), found, idle_source, warnings."""
    def ps_json(self) -> str:
        """Every P: addr, id, status, m, runq."""
    def scheduler_json(self) -> str:
        """gomaxprocs, ps, p_states, runq_local, runq_global, gc (phase, gc_percent,
        memory_limit), memstats (heap_alloc, heap_inuse, heap_objects, stack_inuse, sys, num_gc,
        ... as runtime.ReadMemStats would report them), unavailable (why a value is missing)
        and found (how each runtime variable was located)."""
    def crash_json(self) -> str | None:
        """signal, thread, goroutine, goroutine_signal, fatal_error, panics and summary of
        the crash, or None when no thread took a signal."""
    def goroutine_json(self, goid: int, max_frames: int | None = None) -> str | None:
        """One goroutine as a JSON object, or None if no live goroutine has that id."""
    def threads_json(self) -> str:
        """Every thread: lwp, pc, sp, function, file, line, m, p, g, stack, crashed."""
    def ms_json(self) -> str:
        """Every M: addr, id, procid, g0, gsignal, curg, p, lockedg."""
    def info_json(self) -> str:
        """kind, memory, go_version, bias, layout, signal, warnings and counts."""
    def layout_offset(self, ty: str, field: str) -> int | None:
        """Offset of a (dotted) field in a runtime struct, e.g. ("runtime.g", "sched.sp")."""
    def type_descriptor(self, addr: int) -> tuple[str, str, int, int, bool, str]:
        """The abi.Type at `addr`: (name as %T prints it, kind as reflect spells it, size,
        pointer bytes, held directly by an interface, the name DWARF gives it)."""

def check_input(path: str, what: str) -> None:
    """Raises TargetIOError with one line when `path` cannot be read as a `what` ("core
    file", "binary"): missing, a symlink loop, a directory, a FIFO, a device or a socket."""

class Machine:
    """An architecture's registers (as GDB names them), signal frame and trap instruction."""

    go_arch: str
    gdb_arch: str
    pc: str
    sp: str
    fp: str
    g: str
    lr: str | None
    tls: str | None
    thread_registers: list[str]
    signal_pc: int | None
    signal_sp: int | None
    ucontext_size: int | None
    trap: bytes
    pc_after_trap: bool
    return_address_on_stack: bool

def machine(gdb_arch: str) -> Machine | None:
    """The architecture `gdb.Architecture.name()` calls `gdb_arch`, or None when goscope
    does not decode it."""

#: `(kind, cfa, entry, pc, sp, fp, g, interrupted)`, see `FrameUnwinder.step`.
Step = tuple[str, int, int, int, int, int | None, int | None, tuple[int, int] | None]

class FrameUnwinder:
    """What GDB's Go frame unwinder asks of one executable loaded at `bias`: each frame's
    caller by the core's unwinding rules. `cfi`: GDB has DWARF call frame information for
    ordinary frames (those are left to it)."""

    def __init__(self, binary: Binary, bias: int, cfi: bool) -> None: ...
    @property
    def saved_context(self) -> tuple[int, int] | None:
        """Offsets of `runtime.g`'s `sched.sp` and `sched.bp`, when the layout is known."""
    def lookup_pc(self, pc: int, interrupted: bool) -> int:
        """The static pc at which to look up a frame's function and line: `pc` for an
        interrupted frame or a function's entry, else the call before the return address."""
    def step(
        self,
        pc: int,
        sp: int,
        g: Callable[[], int | None],
        innermost: bool,
        interrupted: bool,
        lifted: bool,
        read_memory: Callable[[int, int], bytes],
    ) -> Step:
        """The caller of the frame with these registers; `g` reads its g register, asked
        only at a system stack switch. `kind` is "not-go" (not this
        executable's Go code), "theirs" (GDB's own unwinders describe the frame),
        "outermost" (the stack ends; `cfa` and `entry` are set) or "caller"; `fp` is None
        when unchanged, `g` set when the caller is on another g's stack, `interrupted` the
        (sp, pc) of a frame further out whose pc is an interrupted instruction."""

def symbol_file(binary: Binary) -> bytes | None:
    """An ELF debug file with DWARF subprograms and a line table made from pclntab."""
