"""The triage report of a target, as one document the command line and GDB both print."""

from __future__ import annotations

import json
from typing import Any

from goscope import Target
from goscope.render.style import Style
from goscope.render.triage import render_triage


def triage_document(target: Target) -> dict[str, Any]:
    """Build, process (threads, Ps), scheduler, crash, blocking analysis and goroutine groups:
    the `--json` report, as the core assembles it (``goscope_core::report::TriageReport``)."""
    document: dict[str, Any] = json.loads(target.triage_report_json())
    return document


def triage_text(target: Target, document: dict[str, Any], style: Style) -> str:
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
