"""The triage report of a target, as one document the command line and GDB both print."""

from __future__ import annotations

import json
from typing import Any

from goscope import Binary, Target
from goscope.render.style import Style
from goscope.render.triage import render_triage


def triage_document(target: Target, executable: str | None = None) -> dict[str, Any]:
    """Build, process (threads, Ps), scheduler, crash, blocking analysis and goroutine groups:
    the `--json` report. `executable` gives the build facts."""
    text = target.crash_json()
    crash = json.loads(text) if text is not None else None
    crashed = crash.get("goroutine") if crash else None
    grouped = json.loads(target.triage_json(crashed if isinstance(crashed, int) else None))
    threads: list[dict[str, Any]] = json.loads(target.threads_json())
    ps: list[dict[str, Any]] = json.loads(target.ps_json())
    scheduler: dict[str, Any] = json.loads(target.scheduler_json())
    info: dict[str, Any] = json.loads(Binary(executable).info_json()) if executable else {}
    # The crashing goroutine's pending deferred calls: the cleanup it never got to run.
    defers: list[dict[str, Any]] = []
    if isinstance(crashed, int):
        g = target.goroutine_json(crashed, 1)
        defers = json.loads(g).get("defers") or [] if g is not None else []
    return {
        "go_version": target.go_version,
        "build": {
            key: info.get(key)
            for key in ("path", "main", "settings", "pie", "dwarf", "symbols", "build_id")
        },
        "process": {"threads": threads, "gomaxprocs": len(ps), "ps": ps},
        "scheduler": scheduler,
        "crash": crash,
        "crash_defers": defers,
        "groups": grouped["groups"],
        "total": grouped["total"],
        "blocking": grouped["blocking"],
    }


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
    )
