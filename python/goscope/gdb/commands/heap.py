"""``go heap``: heap totals and size classes, counted from the spans' allocation bits."""

from __future__ import annotations

import argparse
import json

import gdb

from goscope.gdb import process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.render.heap import render_heap


class HeapCommand(GoCommand):
    name = "heap"
    summary = "Heap totals and size classes, counted from the spans' allocation bits."
    description = (
        "Walk every heap arena and span and count what they hold: bytes of spans in use,\n"
        "allocated objects and bytes (from each span's allocation bits), idle and released\n"
        "bytes (from the page allocator), stack bytes, and the size classes holding the\n"
        "most bytes. The figures are those runtime.MemStats names HeapInuse, HeapObjects,\n"
        "HeapAlloc, HeapIdle, HeapReleased and StackInuse. What could not be read is\n"
        "listed as warnings; the totals then cover the rest."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the walk as JSON")
        parser.add_argument(
            "--top",
            type=int,
            default=10,
            metavar="N",
            help="how many size classes to list, most bytes first (default: 10)",
        )

    def run(self, args: argparse.Namespace) -> None:
        target = process.current().target
        walk = json.loads(target.heap_json())
        if args.json:
            gdb.write(json.dumps({"go_version": target.go_version, **walk}, indent=2) + "\n")
        else:
            gdb.write(render_heap(walk, args.top, gdb_style()) + "\n")
