"""``go triage``: the first look at a core — process, crash, goroutines in groups of
identical stacks."""

from __future__ import annotations

import argparse
import json

import gdb

from goscope.gdb import process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.triage import triage_document, triage_text


class TriageCommand(GoCommand):
    name = "triage"
    summary = "First look at a core: process, crash, goroutines grouped by identical stacks."
    description = (
        "Show the process (threads, GOMAXPROCS, goroutines by state), what crashed and why,\n"
        "and every goroutine in groups of identical stacks (same functions at the same\n"
        "lines): the crashed goroutine's group first, then the largest, each with its\n"
        "states, minutes waited, creators and labels."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def run(self, args: argparse.Namespace) -> None:
        target = process.current().target
        document = triage_document(target)
        if args.json:
            gdb.write(json.dumps(document, indent=2) + "\n")
        else:
            gdb.write(triage_text(target, document, gdb_style()) + "\n")
