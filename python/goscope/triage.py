"""The triage report of a target, as one document the command line and GDB both print."""

from __future__ import annotations

import json
from typing import Any

from goscope import Target
from goscope.render.style import Style
from goscope.render.triage import render_triage


def triage_document(target: Target) -> dict[str, Any]:
    """Process (threads, Ps), crash, goroutine groups and their total: the `--json` report."""
    text = target.crash_json()
    crash = json.loads(text) if text is not None else None
    crashed = crash.get("goroutine") if crash else None
    grouped = json.loads(target.triage_json(crashed if isinstance(crashed, int) else None))
    threads: list[dict[str, Any]] = json.loads(target.threads_json())
    ps: list[dict[str, Any]] = json.loads(target.ps_json())
    scheduler: dict[str, Any] = json.loads(target.scheduler_json())
    return {
        "go_version": target.go_version,
        "process": {"threads": threads, "gomaxprocs": len(ps), "ps": ps},
        "scheduler": scheduler,
        "crash": crash,
        "groups": grouped["groups"],
        "total": grouped["total"],
        "blocking": grouped["blocking"],
    }


def triage_text(target: Target, document: dict[str, Any], style: Style) -> str:
    process = document["process"]
    return render_triage(
        json.loads(target.info_json()),
        process["threads"],
        process["ps"],
        document["crash"],
        document["groups"],
        document["total"],
        document["blocking"],
        style,
        scheduler=document.get("scheduler"),
    )
