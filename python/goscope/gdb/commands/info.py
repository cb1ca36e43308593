"""``go info``: build facts of the loaded Go binary and what they mean for debugging it."""

from __future__ import annotations

import argparse
import json

from goscope.binary_info import BinaryInfo
from goscope.gdb import output
from goscope.gdb import target as gdb_target
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.implications import notes
from goscope.render.info import TargetFacts, info_json_object, render_info


class InfoCommand(GoCommand):
    name = "info"
    summary = "Show the Go version, build settings, PIE, DWARF and symbols of the Go binary."
    description = (
        "Show the loaded Go binary's Go version, main module and package, build settings,\n"
        "architecture, PIE (with the load bias when a process or core is loaded), DWARF and\n"
        "symbol table, then explain in plain words what they mean for debugging it.\n"
        "Works on stripped binaries: everything comes from .go.buildinfo and .gopclntab."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "binary",
            nargs="?",
            metavar="BINARY",
            help="report this Go executable instead of the loaded one",
        )
        parser.add_argument("--json", action="store_true", help="print the facts as JSON")

    def run(self, args: argparse.Namespace) -> None:
        current = gdb_target.current()
        explicit: str | None = args.binary
        path = explicit or gdb_target.require_executable(current)
        info = BinaryInfo.of(gdb_target.binary(path))
        facts: TargetFacts | None = None
        if explicit is None and current.has_memory:
            bias = gdb_target.load_bias(current, info.entry)
            facts = TargetFacts(kind=current.kind, detail=current.detail, load_bias=bias)
        info_notes = notes(info, facts.load_bias if facts is not None else None)
        if args.json:
            output.write(json.dumps(info_json_object(info, info_notes, facts), indent=2) + "\n")
        else:
            output.write(render_info(info, info_notes, gdb_style(), facts) + "\n")
