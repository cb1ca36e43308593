"""The ``go`` prefix command and the base class of its argparse-driven subcommands.

A subcommand declares an :class:`argparse.ArgumentParser`; its help text becomes GDB's
``help go NAME``. Whatever goes wrong while it runs reaches the user as a single line
through :class:`gdb.GdbError`, never as a Python traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import NoReturn

import gdb

from goscope import GoscopeError
from goscope.commands import HelpFormatter, UsageError
from goscope.gdb import params
from goscope.render.style import Style


class _Usage(Exception):
    """argparse found a usage error; the message is the line to show."""


class _HelpShown(Exception):
    """argparse printed help (``-h``); the command should stop quietly."""


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that reports to the GDB command instead of exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{self.prog}: {message} (see `help {self.prog}`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stdout.write(message)
        raise _HelpShown()


def gdb_style() -> Style:
    """Colour as GDB does: only when ``set style enabled on``."""
    try:
        return Style(bool(gdb.parameter("style enabled")))
    except (gdb.error, RuntimeError):
        return Style(False)


class GoPrefixCommand(gdb.Command):
    """Go runtime commands (goscope).

    goscope reads the Go runtime's own tables (.gopclntab, .go.buildinfo), so these commands work
    on stripped binaries without DWARF, on core files and on live processes.

    Settings (`show goscope` lists them; 0 or `unlimited`: the built-in cap):
      set goscope max-frames N      frames shown per goroutine stack (default 100000)
      set goscope max-goroutines N  goroutines a listing reads (default unlimited)
      set goscope max-list N        deferred calls, panics, channel waiters and printed
                                    elements shown of each list (default unlimited)
      set goscope live-memory auto|gdb   where a live process's memory is read from
      set goscope verbose on|off    Python tracebacks of goscope's own failures"""

    def __init__(self) -> None:
        super().__init__("go", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class GoCommand(gdb.Command):
    """Base of ``go NAME`` commands. Subclasses set :attr:`name`, :attr:`summary` and
    :attr:`description`, add their options in :meth:`add_arguments` and work in :meth:`run`."""

    name: str = ""
    #: What comes before `name` in the command's full name; "" for a top-level command.
    prefix: str = "go "
    summary: str = ""
    description: str = ""
    command_class: int = gdb.COMMAND_STACK

    def __init__(self) -> None:
        self.parser = CommandParser(
            prog=f"{self.prefix}{self.name}",
            description=self.description,
            add_help=True,
            formatter_class=HelpFormatter,
        )
        self.add_arguments(self.parser)
        # GDB takes a command's help from its __doc__: the first line is the summary that
        # `help go` lists, the rest is what `help go NAME` adds.
        self.__doc__ = f"{self.summary}\n\n{self.parser.format_help().rstrip()}"
        super().__init__(f"{self.prefix}{self.name}", self.command_class, gdb.COMPLETE_FILENAME)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds the command's options to `parser`."""

    def run(self, args: argparse.Namespace) -> None:
        """Does the work; may raise GoscopeError or gdb.GdbError."""
        raise NotImplementedError

    def invoke(self, argument: str, from_tty: bool) -> None:
        del from_tty
        try:
            args = self.parser.parse_args(gdb.string_to_argv(argument))
            self.run(args)
        except _HelpShown:
            return
        except _Usage as error:
            raise gdb.GdbError(str(error)) from None
        except UsageError as error:
            raise gdb.GdbError(f"{self.prefix}{self.name}: {error}") from None
        except GoscopeError as error:
            raise gdb.GdbError(str(error)) from None
        except gdb.GdbError:
            raise
        except gdb.error as error:
            raise gdb.GdbError(f"{self.prefix}{self.name}: {error}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - also a panic PyO3 let through
            if params.verbose():
                traceback.print_exc(file=sys.stdout)
                hint = ""
            else:
                hint = " (`set goscope verbose on` shows the traceback)"
            raise gdb.GdbError(
                f"{self.prefix}{self.name}: internal error: {type(error).__name__}: {error}{hint}"
            ) from None
