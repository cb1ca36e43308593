"""Type stubs of the compiled module `goscope._native` (crate rust/python)."""

import os

__version__: str

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
