"""``go goroutines``, ``go bt``, ``goroutine_stack`` and ``go threads``: the goroutines and
threads of the Go process GDB has loaded, a core file or a live process."""

from __future__ import annotations

import argparse
import json
from typing import Any

import gdb

from goscope.gdb import output, process, unwind
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.goroutines import (
    add_filter_arguments,
    add_stack_options,
    filters_from,
    parse_goroutine_ids,
)
from goscope.limits import limit_argument
from goscope.render.goroutines import render_threads


def _write_json(value: object) -> None:
    output.write_line(json.dumps(value, indent=2))


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
            current=current,
            color=gdb_style().enabled,
            **filters_from(args).native_kwargs(),
        )


def _add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser, "default: the goroutine on GDB's selected thread")
    parser.add_argument(
        "--max-frames",
        type=limit_argument,
        metavar="N",
        help="show at most N frames of each stack, this time (0: the built-in cap; "
        "default: `set goscope max-frames`)",
    )
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
            _write_json(listing.document())
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
        output.write_line(render_threads(threads, gdb_style(), process.selected_lwp()))


def _gdb_thread(lwp: int) -> gdb.InferiorThread | None:
    for thread in gdb.selected_inferior().threads():
        if thread.is_valid() and thread.ptid[1] == lwp:
            return thread
    return None


def _saved_registers(g: dict[str, Any]) -> unwind.Switched:
    """Where a goroutine that runs on no thread stopped: the pc and sp of its innermost frame
    (the runtime's saved context, or its system call's) and the frame pointer there."""
    frames = [f for f in g.get("frames") or [] if isinstance(f.get("sp"), int)]
    if not frames:
        reason = g.get("error") or "no frames could be read"
        raise gdb.GdbError(f"go goroutine: goroutine {g['id']} has no stack to show ({reason})")
    top = frames[0]
    pc, sp, fp = int(top["pc"]), int(top["sp"]), int(top.get("fp") or 0)
    bp = fp - 16 if fp > sp + 8 else 0
    gp = g.get("gp")
    saved = unwind.saved_context()
    if isinstance(gp, int) and saved is not None:
        sched_sp, sched_bp = saved
        try:
            if unwind.read_u64(gp + sched_sp) == sp:
                bp = unwind.read_u64(gp + sched_bp)
        except (gdb.error, gdb.MemoryError):
            pass  # the frame pointer is a nicety; fp - 16 stands in
    return unwind.Switched(
        goid=int(g["id"]), g=gp if isinstance(gp, int) else 0, pc=pc, sp=sp, bp=bp
    )


def _describe(g: dict[str, Any]) -> str:
    state = g.get("wait_reason") or g.get("status") or "?"
    return f"goroutine {g['id']} [{state}]"


class GoroutineCommand(GoCommand):
    name = "goroutine"
    summary = "Make a goroutine's stack the one bt, frame N, up and info locals show."
    description = (
        "Show goroutine ID's stack in GDB's own commands: afterwards `bt`, `frame N`,\n"
        "`up`/`down`, `info frame` and (where DWARF allows) `info locals` work on it. A\n"
        "goroutine running on a thread selects that thread. Any other goroutine is shown in\n"
        "place of the selected thread's stack, from its saved registers: the thread's own\n"
        "newest frame (frame 0) is hidden from `bt` and the goroutine's innermost frame is\n"
        "frame 1. No register is written, so this works on core files, and a live process is\n"
        "left as it was. Without ID: back to the selected thread's own stack. Running the\n"
        "program on (continue, step) also goes back."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("goroutine", nargs="?", type=int, metavar="ID", help="goroutine id")

    def run(self, args: argparse.Namespace) -> None:
        if args.goroutine is None:
            was = unwind.switched()
            unwind.switch_to(None)
            if was is not None:
                output.write(f"[Back to the stack of thread {gdb.selected_thread().num}]\n")
            gdb.execute("frame 0")
            return
        proc = process.current()
        g = proc.goroutine(args.goroutine)
        if g is None:
            raise gdb.GdbError(f"go goroutine: no goroutine {args.goroutine}")
        for thread_info in proc.threads():
            if thread_info.get("g") != args.goroutine:
                continue
            thread = _gdb_thread(int(thread_info.get("lwp") or 0))
            if thread is None:
                continue
            thread.switch()
            unwind.switch_to(None)
            output.write(
                f"[Switching to {_describe(g)}, running on thread {thread.num} "
                f"(LWP {thread.ptid[1]})]\n"
            )
            gdb.execute("frame 0")
            return
        chosen = _saved_registers(g)
        unwind.switch_to(chosen)
        try:
            gdb.execute("select-frame 1", to_string=True)
        except gdb.error as error:
            unwind.switch_to(None)
            raise gdb.GdbError(
                f"go goroutine: GDB cannot unwind into goroutine {args.goroutine}: {error}"
            ) from None
        top = next((f for f in g.get("frames") or []), None)
        where = ""
        if top is not None:
            where = f": {top.get('function')} at {top.get('file')}:{top.get('line')}"
        thread = gdb.selected_thread()
        output.write(
            f"[Switching to {_describe(g)}, shown in place of thread {thread.num}'s stack"
            f"{where}]\n"
            f"[`bt` shows it from frame 1; `go goroutine` goes back]\n"
        )
