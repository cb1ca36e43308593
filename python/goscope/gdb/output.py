"""Everything goscope prints in GDB goes through :func:`write`.

``gdb.write`` refuses a string with a NUL character (``ValueError: embedded null character``),
and text read from a damaged target (a panic message, a label) may hold one: it is shown
escaped, as ``\\x00``, instead of failing the command.
"""

from __future__ import annotations

import gdb


def write(text: str, stream: int | None = None) -> None:
    """``gdb.write(text, stream)`` for any text."""
    safe = text.replace("\0", "\\x00")
    if stream is None:
        gdb.write(safe)
    else:
        gdb.write(safe, stream)


def write_line(text: str) -> None:
    """`text` and a newline, unless it ends with one already."""
    write(text if text.endswith("\n") else text + "\n")
