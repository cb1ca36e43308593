"""``go goroutines``, ``go bt``, ``goroutine_stack`` and ``go threads``: the goroutines and
threads of the Go process GDB has loaded, a core file or a live process."""

from __future__ import annotations

import argparse
import json

import gdb

from goscope.gdb import process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.goroutines import add_filter_arguments, filters_from, parse_goroutine_ids
from goscope.render.goroutines import render_threads


def _write(text: str) -> None:
    gdb.write(text if text.endswith("\n") else text + "\n")


def _write_json(value: object) -> None:
    _write(json.dumps(value, indent=2))


class GoroutinesCommand(GoCommand):
    name = "goroutines"
    summary = "List goroutines: id, state or wait reason, where each is, who created it."
    description = (
        "List the goroutines of the loaded Go core file or process, one line each: the id, its\n"
        "status or wait reason as the Go runtime prints it (with ', locked to thread' and the\n"
        "minutes waited when known), the innermost frame in the program's own code (else the\n"
        "innermost frame) and `created by F in goroutine N`. '*' marks the goroutine running\n"
        "on GDB's selected thread. Works without DWARF or symbols."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_filter_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the goroutines as JSON")

    def run(self, args: argparse.Namespace) -> None:
        proc = process.current()
        if args.json:
            listing = proc.listing(filters=filters_from(args))
            _write_json(listing.document(listing.goroutines))
            return
        lwp = process.selected_lwp()
        current = proc.goroutine_of_thread(lwp) if lwp is not None else None
        # The core renders the lines; GDB prints them in large pieces as they come.
        proc.target.write_listing(
            gdb.write,
            proc.user_code().module_paths,
            current=current,
            color=gdb_style().enabled,
            **filters_from(args).native_kwargs(),
        )


def _add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "goroutines",
        nargs="*",
        metavar="ID|all",
        help="goroutine ids, or `all`; default: the goroutine on GDB's selected thread",
    )
    parser.add_argument(
        "-s",
        "--system",
        action="store_true",
        help="also show the frames a running goroutine's thread has on its system stack",
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop each stack at N frames")
    parser.add_argument("--json", action="store_true", help="print the goroutines as JSON")


def _print_stacks(args: argparse.Namespace, command: str) -> None:
    try:
        ids = parse_goroutine_ids(args.goroutines)
    except ValueError as error:
        raise gdb.GdbError(f"{command}: {error}") from None
    proc = process.current()
    if not args.goroutines:
        lwp = process.selected_lwp()
        goid = proc.goroutine_of_thread(lwp) if lwp is not None else None
        if goid is None:
            raise gdb.GdbError(
                f"{command}: the selected thread (LWP {lwp}) runs no goroutine; "
                f"give a goroutine id or `all`"
            )
        ids = [goid]
    if args.json:
        if ids is None:
            listing = proc.listing(max_frames=args.max_frames)
            _write_json({"go_version": listing.go_version, "goroutines": listing.goroutines})
            return
        chosen = []
        for goid in ids:
            g = proc.goroutine(goid, args.max_frames)
            if g is None:
                raise gdb.GdbError(f"{command}: no goroutine {goid}")
            chosen.append(g)
        _write_json({"go_version": proc.target.go_version, "goroutines": chosen})
        return
    # The native core renders the stacks; GDB prints them in large pieces as they come.
    _, _, missing = proc.target.write_stacks(
        gdb.write, ids, system=args.system, color=gdb_style().enabled, max_frames=args.max_frames
    )
    if missing:
        names = ", ".join(str(goid) for goid in missing)
        raise gdb.GdbError(f"{command}: no goroutine {names}")


class BtCommand(GoCommand):
    name = "bt"
    summary = "Show goroutine stacks in the Go traceback's format."
    description = (
        "Show the stacks of goroutines ID... (or `all`; default: the goroutine on GDB's\n"
        "selected thread) the way the Go runtime prints a traceback: inlined calls as\n"
        "function(...), file:line +offset, fp, sp and pc of every physical frame, then\n"
        "`created by`. Reads the goroutine's saved registers, so it works on core files\n"
        "and never changes $pc or $sp."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_stack_arguments(parser)

    def run(self, args: argparse.Namespace) -> None:
        _print_stacks(args, "go bt")


class GoroutineStackCommand(GoCommand):
    name = "goroutine_stack"
    prefix = ""
    summary = "Show a goroutine's stack (default: the goroutine on the selected thread)."
    description = (
        "Show the stack of goroutine ID (or of several, or `all`); without an id, of the\n"
        "goroutine running on GDB's selected thread. Same as `go bt`."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_stack_arguments(parser)

    def run(self, args: argparse.Namespace) -> None:
        _print_stacks(args, "goroutine_stack")


class ThreadsCommand(GoCommand):
    name = "threads"
    summary = "List threads with the runtime's M, P and goroutine on each."
    description = (
        "List the threads of the loaded Go core file or process: LWP, the runtime's M and P\n"
        "on it, the goroutine the M runs, which stack the thread is on (goroutine, g0,\n"
        "gsignal) and its pc with the function there. '*' marks GDB's selected thread."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the threads as JSON")

    def run(self, args: argparse.Namespace) -> None:
        proc = process.current()
        threads = proc.threads()
        if args.json:
            go_version = proc.target.go_version
            _write_json({"go_version": go_version, "threads": threads})
            return
        _write(render_threads(threads, gdb_style(), process.selected_lwp()))
