"""What GDB has loaded: the executable, and whether a live process or a core file is there.

Everything here asks GDB, never the target, and degrades to "unknown" rather than failing:
a command that only needs the executable must still work with a half-set-up session.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import gdb

from goscope import Binary

LIVE = "live process"
CORE = "core file"
EXECUTABLE = "executable"


class NoExecutable(gdb.GdbError):
    """No executable is loaded, so there is nothing to read."""


@dataclass(frozen=True)
class Target:
    """A snapshot of what the selected inferior is."""

    executable: str | None
    kind: str
    """:data:`LIVE`, :data:`CORE` or :data:`EXECUTABLE` (no process, no core)."""
    pid: int | None = None
    core_file: str | None = None

    @property
    def has_memory(self) -> bool:
        return self.kind in (LIVE, CORE)

    @property
    def detail(self) -> str | None:
        if self.kind == CORE:
            return self.core_file
        if self.kind == LIVE and self.pid:
            return f"pid {self.pid}"
        return None


def _execute(command: str) -> str | None:
    try:
        return gdb.execute(command, to_string=True)
    except gdb.error:
        return None


def _executable() -> str | None:
    progspace = gdb.current_progspace()
    filename = progspace.filename if progspace is not None else None
    if filename:
        return str(filename)
    # `symbol-file` without `exec-file`: the main objfile is still the program.
    for objfile in gdb.objfiles():
        name = objfile.filename
        if name and os.path.isfile(name) and ".so" not in os.path.basename(name):
            return str(name)
    return None


_CORE_FILE = re.compile(r"Local core dump file:\s*\n\s*`(.+?)', file type")


def core_file_path() -> str | None:
    text = _execute("info target") or ""
    match = _CORE_FILE.search(text)
    return match.group(1) if match else None


def _kind(inferior: gdb.Inferior) -> str:
    connection = getattr(inferior, "connection", None)
    connection_type = getattr(connection, "type", None) if connection is not None else None
    if connection_type == "core":
        return CORE
    if connection_type is not None and inferior.pid > 0:
        return LIVE
    if connection_type is None and inferior.pid > 0:
        # GDB without Inferior.connection: read the target stack's description instead.
        text = _execute("info target") or ""
        return CORE if "Local core dump file" in text else LIVE
    return EXECUTABLE


def current() -> Target:
    """What is loaded in the selected inferior now."""
    inferior = gdb.selected_inferior()
    kind = _kind(inferior)
    return Target(
        executable=_executable(),
        kind=kind,
        pid=inferior.pid if kind != EXECUTABLE and inferior.pid > 0 else None,
        core_file=core_file_path() if kind == CORE else None,
    )


_AUXV_LINE = re.compile(r"^\s*\d+\s+(AT_\w+)\s.*?\s(0x[0-9a-fA-F]+)(?:\s+\"(.*)\")?\s*$")


def auxv() -> dict[str, tuple[int, str | None]]:
    """The process's (or core's) auxiliary vector: name -> (value, string if any)."""
    text = _execute("info auxv")
    result: dict[str, tuple[int, str | None]] = {}
    if not text:
        return result
    for line in text.splitlines():
        match = _AUXV_LINE.match(line)
        if match:
            result.setdefault(match.group(1), (int(match.group(2), 16), match.group(3)))
    return result


def load_bias(target: Target, elf_entry: int | None) -> int | None:
    """How far the executable was moved from its link address: ``AT_ENTRY`` minus the ELF
    entry point. None when no process or core is loaded or either value is unknown."""
    if not target.has_memory or elf_entry is None:
        return None
    entry = auxv().get("AT_ENTRY")
    if entry is None:
        return None
    return entry[0] - elf_entry


def executable_hint() -> str | None:
    """The program file the process or core was started from (``AT_EXECFN``), if known."""
    entry = auxv().get("AT_EXECFN")
    return entry[1] if entry is not None else None


def require_executable(target: Target) -> str:
    if target.executable:
        return target.executable
    hint = executable_hint() if target.has_memory else None
    message = "no executable loaded; use `file BINARY`"
    if hint:
        message += f" (the {target.kind} was started from {hint})"
    raise NoExecutable(message)


def is_executable(objfile: gdb.Objfile) -> bool:
    """Whether `objfile` is the program GDB has loaded (not a shared library or a separate
    debug file)."""
    name = objfile.filename
    progspace = gdb.current_progspace()
    main = progspace.filename if progspace is not None else None
    if not name or not main or objfile.owner is not None:
        return False
    return os.path.realpath(name) == os.path.realpath(main)


# -- opened binaries, kept until the file changes or GDB loads new objfiles -----------------

_binaries: dict[tuple[str, int, int], Binary] = {}


def binary(path: str) -> Binary:
    """The :class:`goscope.Binary` for `path`, reopened when the file changes."""
    try:
        status = os.stat(path)
        key = (os.path.realpath(path), status.st_mtime_ns, status.st_size)
    except OSError:
        return Binary(path)  # raises the core's one-line error
    cached = _binaries.get(key)
    if cached is None:
        cached = Binary(path)
        _binaries.clear()
        _binaries[key] = cached
    return cached


def _forget_binaries(_event: object) -> None:
    _binaries.clear()


def connect_events() -> None:
    gdb.events.new_objfile.connect(_forget_binaries)
    gdb.events.clear_objfiles.connect(_forget_binaries)
