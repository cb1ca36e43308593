"""``triage``: the first look at a core — the process, what crashed and why, and every
goroutine in groups of identical stacks — as text, JSON, a DOT graph or an HTML page."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from goscope.commands import Session, UsageError, Wording, command
from goscope.render.style import Style


def _triage_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    del wording
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


def triage_text(document: dict[str, Any], style: Style) -> str:
    from goscope.render.triage import render_triage

    process = document["process"]
    return render_triage(
        {"go_version": document.get("go_version"), **(document.get("build") or {})},
        process["threads"],
        process["ps"],
        document["crash"],
        document["groups"],
        document["total"],
        document["blocking"],
        style,
        scheduler=document.get("scheduler"),
        crash_defers=document.get("crash_defers") or (),
        goroutines_error=document.get("goroutines_error"),
    )


@command("triage", _triage_arguments)
def triage(session: Session, args: argparse.Namespace) -> None:
    """First look at a core: process, crash, goroutines grouped by identical stacks.

    The first thing to run on a core: the process (threads, GOMAXPROCS, goroutines by state),
    what crashed and why, and every goroutine in groups of identical stacks (same functions at
    the same lines), the crashed goroutine's group first, then the largest, each with its
    states, minutes waited, creators and labels. --json, --dot (the wait-for graph in Graphviz
    DOT) and --html FILE (the whole report as one page) are alternatives to the text."""
    chosen = [flag for flag, on in (("--json", args.json), ("--dot", args.dot)) if on]
    if args.html is not None:
        chosen.append("--html")
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} are alternatives: give one")
    # Build, process, scheduler, crash, blocking analysis and goroutine groups, as the core
    # assembles them (goscope_core::report::TriageReport).
    document: dict[str, Any] = json.loads(session.target.triage_report_json())
    if session.json:
        session.write_json(document)
    elif args.dot:
        from goscope.render.dot import render_dot

        session.write(render_dot(document))
    elif args.html is not None:
        from goscope.render.html import render_html

        page = render_html(document, session.title())
        path = os.path.expanduser(args.html)
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write(page)
        except OSError as error:
            session.error(f"cannot write {path}: {error.strerror or error}")
            return
        session.write(f"wrote the triage report to {path}")
    else:
        session.write(triage_text(document, session.style))
    session.flush()
    session.goroutine_list_unreadable()
