"""goscope: GDB and a command line that understand the Go runtime.

The compiled core lives in :mod:`goscope._native`; this package re-exports it and adds the
rendering, the command line (:mod:`goscope.cli`) and the GDB commands (:mod:`goscope.gdb`).
"""

from goscope._native import (
    Binary,
    CorruptError,
    GoscopeError,
    InternalError,
    NotElfError,
    NotGoBinaryError,
    Target,
    TargetIOError,
    TruncatedError,
    UnreadableMemoryError,
    UnsupportedArchError,
    UnsupportedError,
    __version__,
)

__all__ = [
    "Binary",
    "CorruptError",
    "GoscopeError",
    "InternalError",
    "NotElfError",
    "NotGoBinaryError",
    "Target",
    "TargetIOError",
    "TruncatedError",
    "UnreadableMemoryError",
    "UnsupportedArchError",
    "UnsupportedError",
    "__version__",
]
