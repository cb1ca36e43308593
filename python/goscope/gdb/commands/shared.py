"""GDB's adapter of the commands both front ends have (:mod:`goscope.commands`): ``go info``,
``go goroutines``, ``go bt`` (and ``goroutine_stack``), ``go triage``, ``go crash``, ``go
panic``, ``go defer``, ``go heap`` and ``go threads`` parse the options the command declares
and run it on the selected inferior's executable, process or core."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

import gdb

from goscope.binary_info import BinaryInfo
from goscope.commands import GDB_WORDING, Command, Session, UsageError
from goscope.gdb import output, params, process
from goscope.gdb import target as gdb_target
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.limits import LIMITS, add_limit_arguments
from goscope.render.info import TargetFacts


class GdbSession(Session):
    """A command's run on the selected inferior: output through GDB, the goroutine on GDB's
    selected thread as the current one, and an error (a goroutine id no goroutine has) as
    the command's error once its output is printed."""

    defaults_to_current = True
    current_thread = "the selected thread's"

    def __init__(self, command: str, args: argparse.Namespace) -> None:
        super().__init__()
        self._name = command
        self.style = gdb_style()
        self.json = bool(args.json)
        self._args = args
        self._process: process.Process | None = None
        self._errors: list[str] = []

    @property
    def opened(self) -> process.Process:
        if self._process is None:
            proc = process.current()
            given = {limit.keyword: getattr(self._args, limit.keyword, None) for limit in LIMITS}
            if any(value is not None for value in given.values()):
                # This command's --max-* hold for this command; the settings hold again for
                # the next (process.current applies them on every command).
                settings = params.limits()
                proc.target.set_limits(
                    **{k: settings[k] if v is None else v for k, v in given.items()}
                )
            self._process = proc
        return self._process

    def write(self, text: str) -> None:
        output.write_line(text)

    def write_json(self, value: Any) -> None:
        output.write_line(json.dumps(value, indent=2))

    def chunks(self) -> Callable[[str], Any]:
        return output.write

    def current_goroutine(self) -> int | None:
        proc = self.opened  # first: without a process, that is what to say
        lwp = process.selected_lwp()
        return proc.goroutine_of_thread(lwp) if lwp is not None else None

    def no_current_goroutine(self) -> str:
        return (
            f"the selected thread (LWP {process.selected_lwp()}) runs no goroutine; "
            "give a goroutine id or `all`"
        )

    def selected_thread(self) -> int | None:
        return process.selected_lwp()

    def error(self, line: str) -> None:
        self._errors.append(line)

    def problem(self, line: str) -> None:
        del line  # what was printed marks what could not be read

    def binary_facts(self, args: argparse.Namespace) -> tuple[BinaryInfo, TargetFacts | None]:
        current = gdb_target.current()
        explicit: str | None = args.binary
        path = explicit or gdb_target.require_executable(current)
        info = BinaryInfo.of(gdb_target.binary(path))
        facts = None
        if explicit is None and current.has_memory:
            bias = gdb_target.load_bias(current, info.entry)
            facts = TargetFacts(kind=current.kind, detail=current.detail, load_bias=bias)
        return info, facts

    def address(self, text: str) -> int:
        try:
            return int(gdb.parse_and_eval(text)) & process.ADDRESS_MASK
        except gdb.error as error:
            raise UsageError(str(error)) from None

    def title(self) -> str:
        proc = self.opened
        return f"{proc.kind}, executable {proc.executable}"

    def finish(self) -> None:
        if self._errors:
            raise gdb.GdbError(f"{self._name}: " + "; ".join(self._errors))


class SharedCommand(GoCommand):
    """``go NAME`` (or `name` at the top level) running `command`."""

    def __init__(self, command: Command, name: str | None = None, prefix: str = "go ") -> None:
        self.spec = command
        self.name = name or command.name
        self.prefix = prefix
        self.summary = command.summary
        self.description = command.help_text(GDB_WORDING)
        super().__init__()

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.spec.reads == "binary":
            parser.add_argument(
                "binary",
                nargs="?",
                metavar="BINARY",
                help="report this Go executable instead of the loaded one",
            )
        self.spec.add_arguments(parser, GDB_WORDING)
        parser.add_argument("--json", action="store_true", help="print JSON")
        if self.spec.limits:
            add_limit_arguments(parser, "this command only; default: `set goscope`")

    def run(self, args: argparse.Namespace) -> None:
        session = GdbSession(f"{self.prefix}{self.name}", args)
        self.spec.run(session, args)
        session.finish()
