"""The ``goscope`` command line: ``goscope SUBCOMMAND CORE_OR_BINARY [--exe BIN] [--json]``.

Every subcommand takes the same target arguments; it is registered in :data:`SUBCOMMANDS`
with a function that adds its own options and one that runs it. Errors about the input are
one line on stderr (``goscope: ...``) and exit status 1; usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from goscope import GoscopeError, __version__
from goscope.binary_info import BinaryInfo, open_info
from goscope.elf_header import is_core_file
from goscope.implications import notes
from goscope.render.info import info_json_object, render_info
from goscope.render.style import Style, for_stream

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """The arguments do not make sense together; exit status 2."""


@dataclass
class Output:
    """Where a subcommand writes, and how it colours."""

    stream: TextIO
    style: Style
    json: bool

    def write(self, text: str) -> None:
        self.stream.write(text)
        if not text.endswith("\n"):
            self.stream.write("\n")

    def write_json(self, value: Any) -> None:
        json.dump(value, self.stream, indent=2)
        self.stream.write("\n")


@dataclass(frozen=True)
class Subcommand:
    name: str
    summary: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Output], int]


def executable_for(args: argparse.Namespace) -> str:
    """The Go executable a subcommand should read: ``--exe``, else the target itself."""
    target: str = args.target
    exe: str | None = args.exe
    if exe is not None:
        return exe
    if is_core_file(target):
        raise UsageError(f"{target} is a core file; give its executable with --exe BIN")
    return target


# -- info -----------------------------------------------------------------------------------


def _add_info_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # `info` has only the common options


def _run_info(args: argparse.Namespace, out: Output) -> int:
    info: BinaryInfo = open_info(executable_for(args))
    info_notes = notes(info)
    if out.json:
        out.write_json(info_json_object(info, info_notes))
    else:
        out.write(render_info(info, info_notes, out.style))
    build_info_error = info.raw.get("build_info_error")
    if build_info_error:
        # What could be read is printed; the status says the report is incomplete.
        out.stream.flush()
        print(f"goscope: {info.file}: {build_info_error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


SUBCOMMANDS: list[Subcommand] = [
    Subcommand(
        name="info",
        summary="build facts of a Go binary and what they mean for debugging",
        description=(
            "Show a Go binary's Go version, module, build settings, PIE, DWARF and symbol "
            "table, and explain in plain words what they mean for debugging it. For a core "
            "file, give the executable with --exe; the executable is what is reported."
        ),
        add_arguments=_add_info_arguments,
        run=_run_info,
    ),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goscope",
        description=(
            "Understand Go programs from their binaries, core files and processes, "
            "with or without DWARF."
        ),
    )
    parser.add_argument("--version", action="version", version=f"goscope {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    subparsers.required = True
    for command in SUBCOMMANDS:
        sub = subparsers.add_parser(
            command.name, help=command.summary, description=command.description
        )
        sub.add_argument("target", metavar="CORE_OR_BINARY", help="a Go executable or core file")
        sub.add_argument("--exe", metavar="BIN", help="the executable, when the target is a core")
        sub.add_argument("--json", action="store_true", help="print JSON on stdout")
        sub.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            default="auto",
            help="colour the text output (default: auto, on a terminal only)",
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = sys.stdout
    style = for_stream(stream, "never" if args.json else args.color)
    out = Output(stream=stream, style=style, json=args.json)
    try:
        status: int = args.run(args, out)
        stream.flush()
        return status
    except UsageError as error:
        parser.exit(EXIT_USAGE, f"goscope {args.command}: error: {error}\n")
    except GoscopeError as error:
        print(f"goscope: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); do not complain while shutting down.
        sys.stderr.close()
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
