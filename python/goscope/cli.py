"""The ``goscope`` command line: ``goscope SUBCOMMAND CORE_OR_BINARY [--exe BIN] [--json]``.

Every subcommand takes the same target arguments; it is registered in :data:`SUBCOMMANDS`.
The commands GDB has too are defined in :mod:`goscope.commands`; this module adapts them
(:class:`CliSession`) and defines the ones whose targets only the command line has (``doctor``
reads files and processes by name; ``gdb-init``). Errors about the input are
one line on stderr (``goscope: ...``) and exit status 1; usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TextIO

from goscope import GoscopeError, Target, __version__, _native
from goscope.commands import (
    CLI_WORDING,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    HelpFormatter,
    Session,
    UsageError,
    registry,
)
from goscope.elf_header import is_core_file
from goscope.goroutines import ListsGoroutines
from goscope.limits import add_limit_arguments, limits_from
from goscope.render.style import Style, for_stream

if TYPE_CHECKING:
    from goscope.binary_info import BinaryInfo
    from goscope.render.info import TargetFacts

# The renderers and the binary report are imported by the subcommands that use them: a
# `goroutines --json` run on a large core should not pay for them at start-up.


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
        # Indented for a person at a terminal; one line for programs, which is several
        # times faster to write for a report of 100,000 goroutines.
        indent = 2 if self.stream.isatty() else None
        self.stream.write(json.dumps(value, indent=indent))
        self.stream.write("\n")


@dataclass(frozen=True)
class Subcommand:
    name: str
    summary: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Output], int]
    #: The list positional that takes words after the options (``bt CORE --exe BIN 7 9``):
    #: argparse gives a trailing ``nargs="*"`` positional nothing once CORE has matched.
    trailing: str | None = None
    #: Whether the subcommand declares its own positionals instead of CORE_OR_BINARY.
    own_targets: bool = False
    #: Whether it reads a target at all (and so takes --exe and --color).
    reads_targets: bool = True
    #: Whether it reads goroutines and takes --max-frames, --max-goroutines and --max-list.
    limits: bool = False


def executable_for(args: argparse.Namespace) -> str:
    """The Go executable a subcommand should read: ``--exe``, else the target itself."""
    target: str = args.target
    exe: str | None = args.exe
    if exe is not None:
        return exe
    if is_core_file(target):
        raise UsageError(f"{target} is a core file; give its executable with --exe BIN")
    return target


# -- goroutines, bt, threads: a core file and its executable ----------------------------------


class OpenedCore(ListsGoroutines):
    """A core opened with its executable, and what the renderers need besides it."""

    def __init__(self, target: Target, executable: str) -> None:
        self.target = target
        self.executable = executable

    def crashed_goroutine(self) -> int | None:
        """The goroutine on the thread that crashed (the core's first thread), if any."""
        for thread in self.threads():
            goid = thread.get("g")
            if thread.get("crashed") and isinstance(goid, int):
                return goid
        return None


def open_core(args: argparse.Namespace) -> OpenedCore:
    core: str = args.target
    if not is_core_file(core):
        # One line for a file that is missing or no regular file (a FIFO would block).
        _native.check_input(core, "core file")
        raise UsageError(
            f"{core} is not a core file; goscope {args.command} reads a core: "
            f"goscope {args.command} CORE --exe BIN"
        )
    if args.exe is None:
        raise UsageError(f"{core} is a core file; give its executable with --exe BIN")
    target = Target.open_core(core, args.exe)
    target.set_limits(**limits_from(args))
    return OpenedCore(target, args.exe)


class CliSession(Session):
    """A command's run on a core file and its executable: output on stdout, one line per
    problem on stderr (after the core's warnings), exit status 1 when there was one."""

    defaults_to_current = False
    current_thread = "the crashing thread's"

    def __init__(self, args: argparse.Namespace, out: Output) -> None:
        super().__init__()
        self.args = args
        self.out = out
        self.style = out.style
        self.json = out.json
        self._opened: OpenedCore | None = None
        self._errors: list[str] = []
        self._problems: list[str] = []

    @property
    def opened(self) -> OpenedCore:
        if self._opened is None:
            self._opened = open_core(self.args)
        return self._opened

    def write(self, text: str) -> None:
        self.out.write(text)

    def write_json(self, value: Any) -> None:
        self.out.write_json(value)

    def chunks(self) -> Callable[[str], Any]:
        return self.out.stream.write

    def stream_fd(self) -> int | None:
        try:
            return self.out.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def flush(self) -> None:
        self.out.stream.flush()

    def current_goroutine(self) -> int | None:
        return self.opened.crashed_goroutine()

    def no_current_goroutine(self) -> str:
        return f"{self.args.target}: no goroutine crashed; give goroutine ids or `all`"

    def selected_thread(self) -> int | None:
        return None

    def error(self, line: str) -> None:
        self._errors.append(f"{self.args.target}: {line}")

    def problem(self, line: str) -> None:
        self._problems.append(line)

    def binary_facts(self, args: argparse.Namespace) -> tuple[BinaryInfo, TargetFacts | None]:
        from goscope.binary_info import open_info
        from goscope.render.info import TargetFacts

        info = open_info(executable_for(args))
        facts = None
        if is_core_file(args.target):
            # What GDB's `go info` says with the core loaded: the core, and the load bias.
            facts = TargetFacts("core file", os.path.abspath(args.target), self.target.bias)
        return info, facts

    def address(self, text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise UsageError(
                f"not an address: {text!r} (give a number, e.g. 0xc000012345)"
            ) from None
        if not 0 <= value < 1 << 64:
            raise UsageError(f"not an address: {text} (outside 0 .. 2^64-1)")
        return value

    def title(self) -> str:
        return f"core {self.args.target}, executable {self.opened.executable}"

    def finish(self) -> int:
        """The core's warnings, then the errors and problems, one line each on stderr; the
        exit status."""
        self.out.stream.flush()
        if self._opened is not None:
            for warning in self._opened.target.warnings():
                print(f"goscope: warning: {warning}", file=sys.stderr)
        for line in self._errors + self._problems:
            print(f"goscope: {line}", file=sys.stderr)
        return EXIT_ERROR if self._errors or self._problems else EXIT_OK


def _shared(command: Command) -> Subcommand:
    """The command line's adapter of a command both front ends have."""

    def run(args: argparse.Namespace, out: Output) -> int:
        session = CliSession(args, out)
        command.run(session, args)
        return session.finish()

    return Subcommand(
        name=command.name,
        # The command line lists summaries as phrases; GDB shows them as sentences.
        summary=command.summary[:1].lower() + command.summary[1:].rstrip("."),
        description=command.help_text(CLI_WORDING),
        add_arguments=lambda parser: command.add_arguments(parser, CLI_WORDING),
        run=run,
        trailing=command.trailing,
        limits=command.limits,
    )


# -- doctor: this machine, a process, a binary or a core --------------------------------------


def _add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="PID|BINARY|CORE",
        help="a process id, a Go executable and/or a core file (at most one of each); "
        "none: check this machine",
    )
    parser.add_argument(
        "--proc-root",
        metavar="DIR",
        default="/proc",
        help="read process and kernel facts from this /proc tree (for testing; default /proc)",
    )


def _run_doctor(args: argparse.Namespace, out: Output) -> int:
    from goscope.doctor import diagnose, has_errors
    from goscope.render.doctor import doctor_headings, render_doctor

    pids: list[int] = []
    binaries: list[str] = [args.exe] if args.exe else []
    cores: list[str] = []
    for word in args.targets:
        if word.isdigit():
            pids.append(int(word))
        elif not os.path.exists(word):
            raise UsageError(f"{word}: no such file, and not a process id")
        elif is_core_file(word):
            cores.append(word)
        elif args.exe:
            raise UsageError(f"{word} is not a core file (--exe names the executable)")
        else:
            binaries.append(word)
    if len(pids) > 1 or len(binaries) > 1 or len(cores) > 1 or (pids and cores):
        raise UsageError("give at most one PID or CORE, and one BINARY (or --exe)")
    pid = pids[0] if pids else None
    core = cores[0] if cores else None
    binary = binaries[0] if binaries else None
    findings = diagnose(pid=pid, binary=binary, core=core, proc_root=args.proc_root)
    if out.json:
        out.write_json([f.to_json() for f in findings])
    else:
        out.write(render_doctor(findings, out.style, doctor_headings(pid, core)))
    return EXIT_ERROR if has_errors(findings) else EXIT_OK


# -- gdb-init: how GDB loads this installation --------------------------------------------


def _add_gdb_init_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # nothing to choose


def gdb_init_script() -> str:
    """The file GDB sources to load the goscope package this command runs from."""
    return os.path.join(os.path.dirname(os.path.realpath(__file__)), "gdbinit.py")


def _run_gdb_init(args: argparse.Namespace, out: Output) -> int:
    del args
    script = gdb_init_script()
    if out.json:
        out.write_json({"source": script})
    else:
        out.write(f"source {script}")
    return EXIT_OK


SUBCOMMANDS: list[Subcommand] = [
    *(_shared(command) for command in registry()),
    Subcommand(
        name="doctor",
        summary="why attaching, core dumps or debugging a Go binary may fail, and the fixes",
        description=(
            "Check what stands in the way of debugging: for a process, whether it can be "
            "attached (Yama ptrace_scope, CAP_SYS_PTRACE, another tracer, uids, namespaces, "
            "seccomp) and whether its crash would leave a core (RLIMIT_CORE, core_pattern, "
            "coredump_filter, GOTRACEBACK); for a binary (or the process's executable), "
            "DWARF, optimisation and inlining, -trimpath and PIE. Each line is ok, warn or "
            "error, with the fix. Without targets, checks this machine. Exit status 1 when "
            "something is an error."
        ),
        add_arguments=_add_doctor_arguments,
        run=_run_doctor,
        trailing="targets",
        own_targets=True,
    ),
    Subcommand(
        name="gdb-init",
        summary="print the GDB command that loads this goscope (add it to ~/.gdbinit)",
        description=(
            "Print the `source` line that loads the goscope package this command runs from "
            "into GDB, whichever Python GDB embeds: `goscope gdb-init >> ~/.gdbinit` loads it "
            "in every session; in one session, type the line at GDB's prompt."
        ),
        add_arguments=_add_gdb_init_arguments,
        run=_run_gdb_init,
        own_targets=True,
        reads_targets=False,
    ),
]


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: a usage error is one line, as goscope's other errors are."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goscope",
        description=(
            "Understand Go programs from their binaries, core files and processes, "
            "with or without DWARF."
        ),
    )
    parser.add_argument("--version", action="version", version=f"goscope {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="SUBCOMMAND", parser_class=_SubcommandParser
    )
    subparsers.required = True
    for command in SUBCOMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            formatter_class=HelpFormatter,
        )
        if not command.own_targets:
            sub.add_argument(
                "target", metavar="CORE_OR_BINARY", help="a Go executable or core file"
            )
        if command.reads_targets:
            sub.add_argument(
                "--exe", metavar="BIN", help="the executable, when the target is a core"
            )
        sub.add_argument("--json", action="store_true", help="print JSON on stdout")
        if command.reads_targets:
            sub.add_argument(
                "--color",
                choices=("auto", "always", "never"),
                default="auto",
                help="colour the text output (default: auto, on a terminal only)",
            )
        else:
            sub.set_defaults(color="never", exe=None)
        command.add_arguments(sub)
        if command.limits:
            add_limit_arguments(sub)
        sub.set_defaults(run=command.run, trailing=command.trailing)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parses `argv`; words left after the options go to the subcommand's trailing list."""
    args, extra = parser.parse_known_args(argv)
    trailing = getattr(args, "trailing", None)
    if extra and (trailing is None or any(word.startswith("-") for word in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra and trailing is not None:
        setattr(args, trailing, [*getattr(args, trailing), *extra])
    return args


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
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
    except BaseException as error:  # noqa: BLE001 - a bug in goscope, or a panic PyO3 let through
        if isinstance(error, SystemExit):
            raise
        if os.environ.get("GOSCOPE_TRACEBACK"):
            traceback.print_exc()
        print(
            f"goscope: internal error: {type(error).__name__}: {error} (this is a goscope bug;"
            " GOSCOPE_TRACEBACK=1 shows where)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
