"""``go triage``: the first look at a core — process, crash, goroutines in groups of
identical stacks."""

from __future__ import annotations

import argparse
import json
import os

import gdb

from goscope.gdb import output, process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.render.dot import render_dot
from goscope.render.html import render_html
from goscope.triage import triage_document, triage_text


class TriageCommand(GoCommand):
    name = "triage"
    summary = "First look at a core: process, crash, goroutines grouped by identical stacks."
    description = (
        "Show the process (threads, GOMAXPROCS, goroutines by state), what crashed and why,\n"
        "and every goroutine in groups of identical stacks (same functions at the same\n"
        "lines): the crashed goroutine's group first, then the largest, each with its\n"
        "states, minutes waited, creators and labels. --dot prints the wait-for graph\n"
        "in Graphviz DOT; --html FILE writes the whole report as one self-contained page."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--json", action="store_true", help="print the report as JSON")
        output.add_argument(
            "--dot",
            action="store_true",
            help="print the wait-for graph (goroutines and what they wait on) in Graphviz DOT",
        )
        output.add_argument(
            "--html",
            metavar="FILE",
            help="write the report as one self-contained HTML page (the wait-for graph drawn) "
            "to FILE and print only where it was written",
        )

    def run(self, args: argparse.Namespace) -> None:
        current = process.current()
        target = current.target
        document = triage_document(target)
        if args.json:
            output.write(json.dumps(document, indent=2) + "\n")
        elif args.dot:
            output.write(render_dot(document) + "\n")
        elif args.html is not None:
            page = render_html(document, f"{current.kind}, executable {current.executable}")
            path = os.path.expanduser(args.html)
            try:
                with open(path, "w", encoding="utf-8") as file:
                    file.write(page)
            except OSError as error:
                raise gdb.GdbError(f"cannot write {path}: {error.strerror or error}") from error
            output.write(f"wrote the triage report to {path}\n")
        else:
            output.write(triage_text(target, document, gdb_style()) + "\n")
