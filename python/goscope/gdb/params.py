"""goscope's settings, as real GDB parameters under ``set goscope ...``."""

from __future__ import annotations

import gdb


class GoscopePrefix(gdb.Command):
    """Generic command for goscope's settings."""

    def __init__(self, command: str) -> None:
        super().__init__(command, gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class VerboseParameter(gdb.Parameter):
    """Show Python tracebacks of goscope's own failures (for reporting bugs).

    When off (the default), an unexpected failure inside goscope is one line of error;
    when on, its Python traceback is printed before that line."""

    set_doc = "Set whether goscope prints tracebacks of its own failures."
    show_doc = "Show whether goscope prints tracebacks of its own failures."

    def __init__(self) -> None:
        super().__init__("goscope verbose", gdb.COMMAND_DATA, gdb.PARAM_BOOLEAN)
        self.value = False

    def get_set_string(self) -> str:
        return ""

    def get_show_string(self, svalue: str) -> str:
        return f"goscope verbose is {svalue}."


_verbose: VerboseParameter | None = None


def register() -> None:
    global _verbose
    GoscopePrefix("set goscope")
    GoscopePrefix("show goscope")
    _verbose = VerboseParameter()


def verbose() -> bool:
    return bool(_verbose is not None and _verbose.value)
