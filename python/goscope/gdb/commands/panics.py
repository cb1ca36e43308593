"""``go crash``, ``go panic`` and ``go defer``: what crashed and why, the panics in flight and
the deferred calls still pending, on core files and live processes."""

from __future__ import annotations

import argparse
import json
from typing import Any

import gdb

from goscope.gdb import output, process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.goroutines import goroutines_document, parse_goroutine_ids
from goscope.limits import not_read_note
from goscope.render.panics import render_crash, render_defers, render_panics


def _add_ids(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "goroutines", nargs="*", metavar="ID|all", help=f"goroutine ids, or `all`; {default}"
    )
    parser.add_argument("--json", action="store_true", help="print the goroutines as JSON")


def _chosen(command: str, words: list[str]) -> tuple[list[dict[str, Any]], bool, int]:
    """The goroutines `words` name (default: the one on GDB's selected thread), whether they
    are all of them, and how many goroutines `set goscope max-goroutines` left unread."""
    try:
        ids = parse_goroutine_ids(words)
    except ValueError as error:
        raise gdb.GdbError(f"{command}: {error}") from None
    proc = process.current()
    if ids is None and words:
        listing = proc.listing()
        return listing.goroutines, True, listing.not_read
    if ids is None:
        lwp = process.selected_lwp()
        goid = proc.goroutine_of_thread(lwp) if lwp is not None else None
        if goid is None:
            raise gdb.GdbError(
                f"{command}: the selected thread (LWP {lwp}) runs no goroutine; "
                "give a goroutine id or `all`"
            )
        g = proc.goroutine(goid)
        if g is None:
            # The id came from the thread's g, not from the user: say so.
            raise gdb.GdbError(
                f"{command}: the selected thread's g holds goroutine id {goid}, which no live "
                "goroutine has (the g may be damaged); give a goroutine id or `all`"
            )
        return [g], False, 0
    chosen = []
    for goid in ids:
        g = proc.goroutine(goid)
        if g is None:
            raise gdb.GdbError(f"{command}: no goroutine {goid}")
        chosen.append(g)
    return chosen, False, 0


class CrashCommand(GoCommand):
    name = "crash"
    summary = "Say what crashed and why: signal, fatal error, panics, crashing goroutine."
    description = (
        "Show what ended the process of a core file: a one-line summary, the fatal error's\n"
        "message, the panics as the runtime printed them (values decoded from memory), the\n"
        "signal the crashing goroutine took (nil pointer dereferences named as such), the\n"
        "core's own signal and thread, then the crashing goroutine's stack."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the crash as JSON")

    def run(self, args: argparse.Namespace) -> None:
        proc = process.current()
        text = proc.target.crash_json()
        crash = json.loads(text) if text is not None else None
        if args.json:
            output.write_line(
                json.dumps({"go_version": proc.target.go_version, "crash": crash}, indent=2)
            )
            return
        output.write_line(render_crash(crash, gdb_style()))
        goid = crash.get("goroutine") if crash else None
        if isinstance(goid, int):
            output.write("\n")
            proc.target.write_stacks(gdb.write, [goid], color=gdb_style().enabled)


class PanicCommand(GoCommand):
    name = "panic"
    summary = "Show panics in flight: messages, [recovered] marks, types."
    description = (
        "Show the panics in flight of goroutines ID... (default: the goroutine on GDB's\n"
        "selected thread; `all`: every goroutine with a panic in flight) as the runtime\n"
        "prints them, the first panic first, each value decoded from its interface."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_ids(parser, "default: the goroutine on the selected thread")

    def run(self, args: argparse.Namespace) -> None:
        chosen, everything, not_read = _chosen("go panic", args.goroutines)
        if everything:
            chosen = [g for g in chosen if g.get("panics")]
        if args.json:
            document = goroutines_document(process.current().target.go_version, chosen, not_read)
            output.write_line(json.dumps(document, indent=2))
            return
        if chosen:
            output.write_line(render_panics(chosen, gdb_style()))
        else:
            output.write_line("no goroutine has a panic in flight")
        if not_read:
            output.write_line(gdb_style().dim(not_read_note(not_read)))


class DeferCommand(GoCommand):
    name = "defer"
    summary = "List deferred calls still pending: open-coded, heap, stack, rangefunc."
    description = (
        "List the deferred calls goroutines ID... (default: the goroutine on GDB's selected\n"
        "thread; `all`: every goroutine with a call pending) would still run, the next one\n"
        "first: the deferred function, its kind, the defer statement's line where it is\n"
        "known, and the frame it belongs to."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_ids(parser, "default: the goroutine on the selected thread")

    def run(self, args: argparse.Namespace) -> None:
        chosen, everything, not_read = _chosen("go defer", args.goroutines)
        if args.json:
            shown = [g for g in chosen if g.get("defers")] if everything else chosen
            document = goroutines_document(process.current().target.go_version, shown, not_read)
            output.write_line(json.dumps(document, indent=2))
            return
        output.write_line(render_defers(chosen, gdb_style(), only_pending=everything))
        if not_read:
            output.write_line(gdb_style().dim(not_read_note(not_read)))
