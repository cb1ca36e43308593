"""Functions and lines for stripped Go binaries, so that GDB names Go frames everywhere.

A binary linked with ``-ldflags=-s -w`` has neither a symbol table nor DWARF, so GDB prints
``?? ()`` in ``frame``, ``up``, ``finish`` and ``x/i`` and cannot ``break main.go:42``. The
binary's pclntab still has every function and line; the core writes them as DWARF (one
subprogram per function and a line table, no types or variables) into a small ELF file, which
goscope hands to GDB as the executable's separate debug file, relocated with the executable
(PIE included). The file is cached under ``~/.cache/goscope/gdb-symbols``. Calls inlined into
a frame are shown by the frame filter (:mod:`goscope.gdb.frames`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import gdb

from goscope import Binary, GoscopeError, _native
from goscope.binary_info import BinaryInfo
from goscope.gdb import output
from goscope.gdb import target as gdb_target

_SUFFIX = ".goscope-symbols"
#: Part of a cached file's name: a new version of the file's contents gets new names.
_FORMAT = "dwarf-1"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "goscope" / "gdb-symbols"


def _needs_symbols(objfile: gdb.Objfile) -> Binary | None:
    if not gdb_target.is_executable(objfile) or objfile.filename.endswith(_SUFFIX):
        return None
    try:
        binary = gdb_target.binary(objfile.filename)
        info = BinaryInfo.of(binary)
    except (GoscopeError, OSError, ValueError):
        return None
    if info.symbols or info.dwarf != "absent":
        return None
    return binary


def _write(binary: Binary) -> Path | None:
    path = Path(str(binary.path))
    status = path.stat()
    key = f"{_FORMAT}:{path.resolve()}:{status.st_mtime_ns}:{status.st_size}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    directory = cache_dir()
    target = directory / f"{path.name}-{digest}{_SUFFIX}"
    if target.is_file():
        return target
    data = _native.symbol_file(binary)
    if data is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    # Written whole and renamed, so a concurrent GDB never reads half a file.
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)
    return target


def add_for(objfile: gdb.Objfile) -> None:
    """Gives a stripped Go executable its function symbols (once per objfile)."""
    binary = _needs_symbols(objfile)
    if binary is None:
        return
    try:
        path = _write(binary)
        if path is not None:
            objfile.add_separate_debug_file(str(path))
    except (OSError, GoscopeError, gdb.error) as error:
        output.write(
            f"goscope: could not give GDB the function names of {objfile.filename}: {error}\n"
        )


def _on_new_objfile(event: gdb.NewObjFileEvent) -> None:
    add_for(event.new_objfile)


_registered = False


def register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    gdb.events.new_objfile.connect(_on_new_objfile)
    for objfile in gdb.objfiles():
        add_for(objfile)
