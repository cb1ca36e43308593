"""goscope's settings, as real GDB parameters under ``set goscope ...``."""

from __future__ import annotations

from typing import Any

import gdb

from goscope.limits import LIMITS, Limit, parse_limit


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


class LimitParameter(gdb.Parameter):
    """A limit on what goscope reads and shows (see goscope.limits): a whole number, or 0 or
    `unlimited` for the built-in cap. Kept as text so that a bad value is refused with one
    clear line and the previous value stays."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.__doc__ = (
            f"The most {limit.what}.\n{limit.detail}\n"
            f"A whole number; 0 or `unlimited`: {limit.cap}. "
            f"Default: {limit.describe(limit.default)}."
        )
        self.set_doc = f"Set goscope's {limit.name}: the most {limit.what}."
        self.show_doc = f"Show goscope's {limit.name}: the most {limit.what}."
        super().__init__(f"goscope {limit.name}", gdb.COMMAND_DATA, gdb.PARAM_STRING)
        self.number = limit.default
        self.value = str(limit.default) if limit.default else "unlimited"

    def get_set_string(self) -> str:
        try:
            number = parse_limit(str(self.value or ""))
        except ValueError as error:
            # GDB has already stored the text: put the previous value back.
            self.value = str(self.number) if self.number else "unlimited"
            raise gdb.GdbError(f"goscope {self.limit.name}: {error}") from None
        self.number = number
        self.value = str(number) if number else "unlimited"
        return ""

    def get_show_string(self, svalue: str) -> str:
        del svalue
        shown = self.limit.describe(self.number)
        return f"goscope {self.limit.name} is {shown}: the most {self.limit.what}."


_verbose: VerboseParameter | None = None
_live_memory: LiveMemoryParameter | None = None
_limits: list[LimitParameter] = []

#: Names of every ``goscope`` parameter, for ``show goscope``.
_PARAMETERS = ("verbose", "live-memory", *(limit.name for limit in LIMITS))


def register() -> None:
    global _verbose, _live_memory
    SetGoscopePrefix()
    ShowGoscopePrefix()
    _verbose = VerboseParameter()
    _live_memory = LiveMemoryParameter()
    _limits[:] = [LimitParameter(limit) for limit in LIMITS]


def verbose() -> bool:
    return bool(_verbose is not None and _verbose.value)


def live_memory() -> str:
    """``auto`` or ``gdb``: see :class:`LiveMemoryParameter`."""
    return str(_live_memory.value) if _live_memory is not None else "auto"


def limits() -> dict[str, Any]:
    """The keyword arguments of ``Target.set_limits``: the ``set goscope max-...`` values."""
    values = {parameter.limit.keyword: parameter.number for parameter in _limits}
    for limit in LIMITS:
        values.setdefault(limit.keyword, limit.default)
    return values


def max_list() -> int:
    """``set goscope max-list``: 0 for the built-in cap of each list."""
    return int(limits()["max_list"])
