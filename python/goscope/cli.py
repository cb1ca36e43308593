"""The ``goscope`` command line: ``goscope SUBCOMMAND CORE_OR_BINARY [--exe BIN] [--json]``.

Every subcommand takes the same target arguments; it is registered in :data:`SUBCOMMANDS`
with a function that adds its own options and one that runs it. Errors about the input are
one line on stderr (``goscope: ...``) and exit status 1; usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TextIO

from goscope import Binary, GoscopeError, Target, __version__, _native
from goscope.elf_header import is_core_file
from goscope.goroutines import (
    ListsGoroutines,
    add_filter_arguments,
    add_stack_options,
    filters_from,
    parse_goroutine_ids,
)
from goscope.limits import add_limit_arguments, limits_from, not_read_note
from goscope.render.style import Style, for_stream

if TYPE_CHECKING:
    from goscope.binary_info import BinaryInfo

# The renderers and the binary report are imported by the subcommands that use them: a
# `goroutines --json` run on a large core should not pay for them at start-up.

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


# -- info -----------------------------------------------------------------------------------


def _add_info_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # `info` has only the common options


def _run_info(args: argparse.Namespace, out: Output) -> int:
    from goscope.binary_info import open_info
    from goscope.implications import notes
    from goscope.render.info import TargetFacts, info_json_object, render_info

    info: BinaryInfo = open_info(executable_for(args))
    facts: TargetFacts | None = None
    if is_core_file(args.target):
        # What GDB's `go info` says with the core loaded: the core, and the load bias.
        opened = open_core(args)
        facts = TargetFacts("core file", os.path.abspath(args.target), opened.target.bias)
    info_notes = notes(info, facts.load_bias if facts is not None else None)
    if out.json:
        out.write_json(info_json_object(info, info_notes, facts))
    else:
        out.write(render_info(info, info_notes, out.style, facts))
    build_info_error = info.raw.get("build_info_error")
    if build_info_error:
        # What could be read is printed; the status says the report is incomplete.
        out.stream.flush()
        print(f"goscope: {info.file}: {build_info_error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


# -- goroutines, bt, threads: a core file and its executable ----------------------------------


class OpenedCore(ListsGoroutines):
    """A core opened with its executable, and what the renderers need besides it."""

    def __init__(self, target: Target, executable: str) -> None:
        self.target = target
        self.executable = executable

    @functools.cached_property
    def binary(self) -> Binary:
        # Opened only when a renderer needs it: a JSON listing never does.
        return Binary(self.executable)

    def goroutine(self, goid: int) -> dict[str, Any] | None:
        """The goroutine with this id (looked for among all, whatever --max-goroutines)."""
        text = self.target.goroutine_json(goid)
        g: dict[str, Any] | None = json.loads(text) if text is not None else None
        return g

    def threads(self) -> list[dict[str, Any]]:
        threads: list[dict[str, Any]] = json.loads(self.target.threads_json())
        return threads

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


def _warn(out: Output, target: Target) -> None:
    """The target's warnings, one line each on stderr (never mixed into --json output)."""
    out.stream.flush()
    for warning in target.warnings():
        print(f"goscope: warning: {warning}", file=sys.stderr)


def _incomplete(goroutines: list[dict[str, Any]], target: Target) -> int:
    """EXIT_ERROR, with one line on stderr, when some goroutine could not be read entirely:
    what could be read has been printed, each unreadable part marked with its error."""
    return _incomplete_count(sum(1 for g in goroutines if g.get("error")), target)


def _unreadable_list(target: Target) -> bool:
    """Says on stderr why the goroutine list cannot be read, when it cannot: the one line
    every command that reports goroutines ends with then, before exiting 1."""
    error = target.goroutine_list_error
    if error:
        print(f"goscope: {error}", file=sys.stderr)
    return bool(error)


def _incomplete_count(count: int, target: Target) -> int:
    if _unreadable_list(target):
        # The list's own record is the one "goroutine" in error.
        return EXIT_ERROR
    if not count:
        return EXIT_OK
    print(
        f"goscope: {count} goroutine{'s' if count != 1 else ''} could not be read entirely "
        "(marked with their error)",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _add_goroutines_arguments(parser: argparse.ArgumentParser) -> None:
    add_filter_arguments(parser)


def _stream_fd(out: Output) -> int | None:
    """The file descriptor behind the output stream, when it has one."""
    try:
        return out.stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _run_goroutines(args: argparse.Namespace, out: Output) -> int:
    opened = open_core(args)
    fd = _stream_fd(out) if out.json else None
    if fd is not None:
        # The Rust core writes the document itself, goroutine by goroutine: a core with
        # 100,000 goroutines never becomes one string or one list of Python objects.
        out.stream.flush()
        _, broken = opened.target.write_goroutines_json(fd, **filters_from(args).native_kwargs())
        _warn(out, opened.target)
        return _incomplete_count(broken, opened.target)
    filters = filters_from(args).native_kwargs()
    if out.json:
        listing = opened.listing(filters=filters_from(args))
        out.write_json(listing.document(listing.goroutines))
        _warn(out, opened.target)
        return _incomplete(listing.goroutines, opened.target)
    # The core renders the lines and hands them over in large pieces.
    _, broken, _ = opened.target.write_listing(
        out.stream.write,
        current=opened.crashed_goroutine(),
        color=out.style.enabled,
        **filters,
    )
    out.stream.flush()
    _warn(out, opened.target)
    return _incomplete_count(broken, opened.target)


def _add_bt_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser, "default: all")


def _run_bt(args: argparse.Namespace, out: Output) -> int:
    try:
        ids = parse_goroutine_ids(args.goroutines)
    except ValueError as error:
        raise UsageError(str(error)) from None
    opened = open_core(args)
    if out.json:
        if ids is None:
            listing = opened.listing()
            document = listing.document()
            chosen, missing = listing.goroutines, []
        else:
            chosen, missing = _by_id(opened, ids)
            document = {"go_version": opened.target.go_version, "goroutines": chosen}
        out.write_json(document)
        broken = sum(1 for g in chosen if g.get("error"))
    else:
        # The native core renders the stacks and hands them over in large pieces.
        _, broken, missing = opened.target.write_stacks(
            out.stream.write, ids, system=args.system, color=out.style.enabled
        )
    out.stream.flush()
    for goid in missing:
        print(f"goscope: no goroutine {goid} in {args.target}", file=sys.stderr)
    _warn(out, opened.target)
    return max(EXIT_ERROR if missing else EXIT_OK, _incomplete_count(broken, opened.target))


def _add_threads_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # `threads` has only the common options


def _run_threads(args: argparse.Namespace, out: Output) -> int:
    from goscope.render.goroutines import render_threads

    opened = open_core(args)
    threads = opened.threads()
    if out.json:
        out.write_json({"go_version": opened.target.go_version, "threads": threads})
    else:
        out.write(render_threads(threads, out.style))
    _warn(out, opened.target)
    return EXIT_OK


def _add_chain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "goroutines",
        nargs="*",
        metavar="ID|all",
        help="goroutine ids, or `all` (default: see the command's description)",
    )


def _by_id(opened: OpenedCore, ids: list[int]) -> tuple[list[dict[str, Any]], list[int]]:
    """The goroutines `ids` name, and the ids that name none."""
    chosen, missing = [], []
    for goid in ids:
        g = opened.goroutine(goid)
        if g is None:
            missing.append(goid)
        else:
            chosen.append(g)
    return chosen, missing


def _chosen(
    args: argparse.Namespace, opened: OpenedCore, default_all: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """The JSON document to fill, the goroutines the ids name (or all of them), and why any
    is missing (one line each)."""
    try:
        ids = parse_goroutine_ids(args.goroutines)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if ids is None and not args.goroutines and not default_all:
        crashed = opened.crashed_goroutine()
        if crashed is None:
            raise UsageError(f"{args.target}: no goroutine crashed; give goroutine ids or `all`")
        chosen, missing = _by_id(opened, [crashed])
        # The id came from the crashing thread's g, not from the user: say so.
        problems = [
            f"{args.target}: the crashing thread's g holds goroutine id {goid}, which no live "
            "goroutine has (the g may be damaged); give goroutine ids or `all`"
            for goid in missing
        ]
        return {"go_version": opened.target.go_version}, chosen, problems
    if ids is None:
        listing = opened.listing()
        return listing.document(), listing.goroutines, []
    chosen, missing = _by_id(opened, ids)
    problems = [f"no goroutine {goid} in {args.target}" for goid in missing]
    return {"go_version": opened.target.go_version}, chosen, problems


def _document(document: dict[str, Any], goroutines: list[dict[str, Any]]) -> dict[str, Any]:
    return {**document, "goroutines": goroutines}


def _report_missing(problems: list[str]) -> int:
    for problem in problems:
        print(f"goscope: {problem}", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def _run_panic(args: argparse.Namespace, out: Output) -> int:
    from goscope.render.panics import render_panics

    opened = open_core(args)
    document, chosen, missing = _chosen(args, opened, default_all=False)
    if args.goroutines == ["all"]:
        chosen = [g for g in chosen if g.get("panics")]
    if out.json:
        out.write_json(_document(document, chosen))
    elif chosen:
        out.write(render_panics(chosen, out.style))
    else:
        out.write(out.style.dim("no goroutine has a panic in flight"))
    if not out.json and document.get("not_read"):
        out.write(out.style.dim(not_read_note(document["not_read"])))
    out.stream.flush()
    _warn(out, opened.target)
    return max(_report_missing(missing), _incomplete(chosen, opened.target))


def _run_defer(args: argparse.Namespace, out: Output) -> int:
    from goscope.render.panics import render_defers

    opened = open_core(args)
    document, chosen, missing = _chosen(args, opened, default_all=True)
    everything = not args.goroutines or args.goroutines == ["all"]
    if out.json:
        shown = [g for g in chosen if g.get("defers")] if everything else chosen
        out.write_json(_document(document, shown))
    else:
        out.write(render_defers(chosen, out.style, only_pending=everything))
        not_read = document.get("not_read")
        if not_read:
            out.write(out.style.dim(not_read_note(not_read)))
    out.stream.flush()
    _warn(out, opened.target)
    return max(_report_missing(missing), _incomplete(chosen, opened.target))


def _run_crash(args: argparse.Namespace, out: Output) -> int:
    from goscope.render.panics import render_crash

    opened = open_core(args)
    text = opened.target.crash_json()
    crash = json.loads(text) if text is not None else None
    if out.json:
        out.write_json({"go_version": opened.target.go_version, "crash": crash})
    else:
        out.write(render_crash(crash, out.style))
        goid = crash.get("goroutine") if crash else None
        if isinstance(goid, int):
            out.write("")
            out.stream.flush()
            opened.target.write_stacks(out.stream.write, [goid], color=out.style.enabled)
    out.stream.flush()
    _warn(out, opened.target)
    return EXIT_ERROR if _unreadable_list(opened.target) else EXIT_OK


def _add_heap_arguments(parser: argparse.ArgumentParser) -> None:
    from goscope.heap import add_object_options, add_report_options

    add_report_options(parser)
    add_object_options(parser, lambda s: int(s, 0))


def _run_heap(args: argparse.Namespace, out: Output) -> int:
    from goscope.heap import heap_document, walk_and_report
    from goscope.render.heap import human_bytes, render_heap, render_report, render_why

    opened = open_core(args)
    target = opened.target
    if args.why is not None:
        why = json.loads(target.heap_why_json(args.why))
        if out.json:
            out.write_json(why)
        else:
            out.write(render_why(why, out.style))
        out.stream.flush()
        _warn(out, target)
        if why.get("object"):
            return EXIT_OK
        for warning in why.get("warnings") or [f"{args.why:#x} is not a heap object"]:
            print(f"goscope: {warning}", file=sys.stderr)
        return EXIT_ERROR
    walk, report = walk_and_report(target, args)
    if args.pprof:
        size = target.heap_pprof(args.pprof)
        print(f"goscope: wrote {args.pprof} ({human_bytes(size)})", file=sys.stderr)
    if out.json:
        out.write_json(heap_document(target, walk, report))
    else:
        text = render_heap(walk, args.top, out.style)
        if report is not None:
            text += "\n\n" + render_report(report, out.style)
        out.write(text)
    out.stream.flush()
    _warn(out, target)
    if walk["warnings"]:
        print(
            f"goscope: the heap walk is incomplete ({len(walk['warnings'])} warnings); "
            "the totals cover what could be read",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_OK


def _add_triage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dot",
        action="store_true",
        help="print the wait-for graph (goroutines and what they wait on) in Graphviz DOT",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write the report as one self-contained HTML page (no network needed to view "
        "it, the wait-for graph drawn) to FILE and print only where it was written",
    )


def _run_triage(args: argparse.Namespace, out: Output) -> int:
    from goscope.triage import triage_document, triage_text

    chosen = [flag for flag, on in (("--json", args.json), ("--dot", args.dot)) if on]
    if args.html is not None:
        chosen.append("--html")
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} are alternatives: give one")
    opened = open_core(args)
    document = triage_document(opened.target)
    if out.json:
        out.write_json(document)
    elif args.dot:
        from goscope.render.dot import render_dot

        out.write(render_dot(document))
    elif args.html is not None:
        from goscope.render.html import render_html

        page = render_html(document, f"core {args.target}, executable {opened.executable}")
        try:
            with open(args.html, "w", encoding="utf-8") as file:
                file.write(page)
        except OSError as error:
            print(f"goscope: cannot write {args.html}: {error.strerror or error}", file=sys.stderr)
            return EXIT_ERROR
        out.write(f"wrote the triage report to {args.html}")
    else:
        out.write(triage_text(opened.target, document, out.style))
    out.stream.flush()
    _warn(out, opened.target)
    return EXIT_ERROR if _unreadable_list(opened.target) else EXIT_OK


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
    Subcommand(
        name="goroutines",
        limits=True,
        summary="every goroutine of a core: state or wait reason, where it is, who made it",
        description=(
            "List every goroutine of a core file, one line each: its id, its status or wait "
            "reason as the Go runtime prints it, the innermost frame in the program's own "
            "code (else its innermost frame) and the function that created it. '*' marks "
            "the goroutine of the thread that crashed. With --json, DESIGN.md's goroutine "
            "objects with every frame."
        ),
        add_arguments=_add_goroutines_arguments,
        run=_run_goroutines,
    ),
    Subcommand(
        name="bt",
        limits=True,
        summary="goroutine stacks of a core, in the Go traceback's format",
        description=(
            "Print the stacks of the given goroutines (default: all) the way the Go runtime "
            "prints a traceback: inlined calls as function(...), file:line +offset, fp, sp "
            "and pc of every physical frame, then `created by`."
        ),
        add_arguments=_add_bt_arguments,
        run=_run_bt,
        trailing="goroutines",
    ),
    Subcommand(
        name="triage",
        summary="first look at a core: process, crash, goroutines grouped by identical stacks",
        description=(
            "The first thing to run on a core: the process (threads, GOMAXPROCS, goroutines "
            "by state), what crashed and why, and every goroutine in groups of identical "
            "stacks (same functions at the same lines), the crashed goroutine's group first, "
            "then the largest, each with its states, minutes waited, creators and labels. "
            "--json, --dot (the wait-for graph) and --html FILE (the whole report as a page) "
            "are alternatives to the text."
        ),
        add_arguments=_add_triage_arguments,
        run=_run_triage,
    ),
    Subcommand(
        name="crash",
        limits=True,
        summary="what crashed and why: signal, fatal error, panics, the crashing goroutine",
        description=(
            "Say what ended the process: a one-line summary, the fatal error's message, the "
            "panics as the runtime printed them (values decoded from memory), the signal the "
            "crashing goroutine took (nil pointer dereferences named as such), the core's own "
            "signal and thread, then the crashing goroutine's stack."
        ),
        add_arguments=lambda parser: None,
        run=_run_crash,
    ),
    Subcommand(
        name="panic",
        limits=True,
        summary="panics in flight: messages, [recovered] marks, types",
        description=(
            "Show the panics in flight of the given goroutines (default: the one that "
            "crashed; `all`: every goroutine with a panic in flight) as the runtime prints "
            "them, the first panic first, with each value decoded from its interface."
        ),
        add_arguments=_add_chain_arguments,
        run=_run_panic,
        trailing="goroutines",
    ),
    Subcommand(
        name="defer",
        limits=True,
        summary="deferred calls still pending: open-coded, heap, stack and rangefunc",
        description=(
            "List the deferred calls each goroutine would still run, the next one first: the "
            "deferred function, its kind, the defer statement's line where it is known and "
            "the frame it belongs to. Default (or `all`): every goroutine with a call pending."
        ),
        add_arguments=_add_chain_arguments,
        run=_run_defer,
        trailing="goroutines",
    ),
    Subcommand(
        name="heap",
        summary="what the heap holds: totals, objects by type, size class or root, and why",
        description=(
            "Walk every heap arena and span of a core and count what they hold: bytes of "
            "spans in use, allocated objects and bytes (from each span's allocation bits), "
            "idle and released bytes (from the page allocator), stack bytes, and the size "
            "classes holding the most bytes (--top N). The figures are those runtime.MemStats "
            "names HeapInuse, HeapObjects, HeapAlloc, HeapIdle, HeapReleased and StackInuse. "
            "Then the object graph: roots (data and bss by the runtime's pointer bitmaps, "
            "goroutine stacks by the compiler's stack maps, deferred calls), objects typed by "
            "the runtime's allocation headers and large-object types and along typed pointers "
            "from there and from the roots' DWARF types, grouped --by type, sizeclass or root, "
            "with retained sizes from the dominator tree. --why ADDR prints the shortest path "
            "from a root to an object; --pprof FILE writes a profile for go tool pprof whose "
            "stacks are those paths. Exit status 1 when part of the heap could not be read "
            "(the totals then cover the rest)."
        ),
        add_arguments=_add_heap_arguments,
        run=_run_heap,
    ),
    Subcommand(
        name="threads",
        summary="the threads of a core: M, P, goroutine, stack and pc of each",
        description=(
            "List the threads of a core file: LWP, the runtime's M and P on it, the goroutine "
            "the M runs, which stack the thread is on (goroutine, g0, gsignal) and the pc "
            "with its function. '*' marks the thread that crashed."
        ),
        add_arguments=_add_threads_arguments,
        run=_run_threads,
    ),
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
            command.name, help=command.summary, description=command.description
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
