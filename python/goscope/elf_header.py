"""The few bytes of an ELF header the Python side needs before asking the core anything."""

from __future__ import annotations

import os
import stat
import struct

ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4


def elf_type(path: str) -> int | None:
    """`e_type` of the ELF file at `path`, or None if it is unreadable or not ELF."""
    try:
        # Only a regular file: opening a FIFO would wait for a writer.
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            header = handle.read(18)
    except OSError:
        return None
    if len(header) < 18 or header[:4] != b"\x7fELF":
        return None
    order = "<" if header[5] == 1 else ">"
    (kind,) = struct.unpack_from(order + "H", header, 16)
    return int(kind)


def is_core_file(path: str) -> bool:
    return elf_type(path) == ET_CORE
