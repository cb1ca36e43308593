"""``go heap``: what the heap holds — totals, objects by type, size class or root — and
``go heap --why ADDR`` (or ``why ADDR``): what keeps an object alive."""

from __future__ import annotations

import argparse
import json

import gdb

from goscope.gdb import output, process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.heap import (
    add_object_options,
    add_report_options,
    heap_document,
    walk_and_report,
)
from goscope.render.heap import human_bytes, render_heap, render_report, render_why


class HeapCommand(GoCommand):
    name = "heap"
    summary = "What the heap holds: totals, objects by type, size class or root; why."
    description = (
        "Walk every heap arena and span and count what they hold (the figures\n"
        "runtime.MemStats names HeapInuse, HeapObjects, HeapAlloc, HeapIdle,\n"
        "HeapReleased and StackInuse), then build the object graph: roots (globals by the\n"
        "runtime's pointer bitmaps, goroutine stacks by the compiler's stack maps,\n"
        "deferred calls), objects typed by the runtime's allocation headers and along typed\n"
        "pointers, grouped --by type, sizeclass or root, with retained sizes.\n"
        "\n"
        "  go heap [--top N] [--by type|sizeclass|root] [--totals] [--json]\n"
        "  go heap --why ADDR    the shortest path from a root to the object at ADDR\n"
        "  go heap --pprof FILE  a profile for go tool pprof; stacks are retaining paths\n"
        "(the options of `goscope heap`; `go heap why ADDR` and `go heap pprof FILE` too)"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "action", nargs="?", choices=("why", "pprof"), help="the same as --why or --pprof"
        )
        parser.add_argument("operand", nargs="?", help="ADDR for why, FILE for pprof")
        parser.add_argument("--json", action="store_true", help="print JSON")
        add_report_options(parser)
        add_object_options(parser)

    def run(self, args: argparse.Namespace) -> None:
        if args.action is not None and (args.why is not None or args.pprof is not None):
            raise gdb.GdbError(f"go heap: give `{args.action}` or --why/--pprof, not both")
        if args.why is not None and args.pprof is not None:
            raise gdb.GdbError("go heap: --why and --pprof are alternatives: give one")
        why_addr: str | None = args.why
        pprof_file: str | None = args.pprof
        if args.action == "why":
            if not args.operand:
                raise gdb.GdbError("go heap why: give the address of a heap object")
            why_addr = args.operand
        elif args.action == "pprof":
            if not args.operand:
                raise gdb.GdbError("go heap pprof: give the file to write")
            pprof_file = args.operand
        target = process.current().target
        if why_addr is not None:
            try:
                addr = int(gdb.parse_and_eval(why_addr)) & 0xFFFF_FFFF_FFFF_FFFF
            except gdb.error as e:
                raise gdb.GdbError(f"go heap why: {e}") from None
            why = json.loads(target.heap_why_json(addr))
            if args.json:
                output.write(json.dumps(why, indent=2) + "\n")
            else:
                output.write(render_why(why, gdb_style()) + "\n")
            return
        if pprof_file is not None:
            size = target.heap_pprof(pprof_file)
            output.write(f"wrote {pprof_file} ({human_bytes(size)}); go tool pprof -top it\n")
            return
        walk, report = walk_and_report(target, args)
        if args.json:
            output.write(json.dumps(heap_document(target, walk, report), indent=2) + "\n")
            return
        text = render_heap(walk, args.top, gdb_style())
        if report is not None:
            text += "\n\n" + render_report(report, gdb_style())
        output.write(text + "\n")
