"""``go triage``: the first look at a core — process, crash, goroutines in groups of
identical stacks."""

from __future__ import annotations

import argparse
import json

import gdb

from goscope.gdb import process
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.render.triage import render_triage


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
        proc = process.current()
        target = proc.target
        text = target.crash_json()
        crash = json.loads(text) if text is not None else None
        crashed = crash.get("goroutine") if crash else None
        grouped = json.loads(target.groups_json(crashed if isinstance(crashed, int) else None))
        threads = proc.threads()
        ps = json.loads(target.ps_json())
        if args.json:
            document = {
                "go_version": target.go_version,
                "process": {"threads": len(threads), "gomaxprocs": len(ps), "ps": ps},
                "crash": crash,
                "groups": grouped["groups"],
                "total": grouped["total"],
            }
            gdb.write(json.dumps(document, indent=2) + "\n")
            return
        info = json.loads(target.info_json())
        report = render_triage(
            info, threads, ps, crash, grouped["groups"], grouped["total"], gdb_style()
        )
        gdb.write(report + "\n")
