"""goscope's settings, as real GDB parameters under ``set goscope ...``."""

from __future__ import annotations

import gdb


class SetGoscopePrefix(gdb.Command):
    """Set goscope's settings."""

    def __init__(self) -> None:
        super().__init__("set goscope", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class ShowGoscopePrefix(gdb.Command):
    """Show goscope's settings."""

    def __init__(self) -> None:
        super().__init__("show goscope", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)

    def invoke(self, argument: str, from_tty: bool) -> None:
        del argument, from_tty
        for name in _PARAMETERS:
            gdb.execute(f"show goscope {name}")


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

#: Names of every ``goscope`` parameter, for ``show goscope``.
_PARAMETERS = ("verbose",)


def register() -> None:
    global _verbose
    SetGoscopePrefix()
    ShowGoscopePrefix()
    _verbose = VerboseParameter()


def verbose() -> bool:
    return bool(_verbose is not None and _verbose.value)
