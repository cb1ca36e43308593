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


class LiveMemoryParameter(gdb.Parameter):
    """Where goscope reads a live process's memory from.

    auto (the default): /proc/PID/mem when GDB runs the process on this machine and the file
    can be opened (fast), else through GDB. gdb: always through GDB (Inferior.read_memory),
    e.g. for a process behind gdbserver or when /proc/PID/mem gives a different view.
    goscope only reads; it never writes the process's memory or registers."""

    set_doc = "Set where goscope reads a live process's memory from (auto or gdb)."
    show_doc = "Show where goscope reads a live process's memory from."

    def __init__(self) -> None:
        super().__init__("goscope live-memory", gdb.COMMAND_DATA, gdb.PARAM_ENUM, ["auto", "gdb"])
        self.value = "auto"

    def get_set_string(self) -> str:
        return ""

    def get_show_string(self, svalue: str) -> str:
        return f"goscope reads live memory from: {svalue}."


_verbose: VerboseParameter | None = None
_live_memory: LiveMemoryParameter | None = None

#: Names of every ``goscope`` parameter, for ``show goscope``.
_PARAMETERS = ("verbose", "live-memory")


def register() -> None:
    global _verbose, _live_memory
    SetGoscopePrefix()
    ShowGoscopePrefix()
    _verbose = VerboseParameter()
    _live_memory = LiveMemoryParameter()


def verbose() -> bool:
    return bool(_verbose is not None and _verbose.value)


def live_memory() -> str:
    """``auto`` or ``gdb``: see :class:`LiveMemoryParameter`."""
    return str(_live_memory.value) if _live_memory is not None else "auto"
