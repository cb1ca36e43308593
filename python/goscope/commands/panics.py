"""``crash``, ``panic`` and ``defer``: what crashed and why, the panics in flight and the
deferred calls still pending."""

from __future__ import annotations

import argparse
import json

from goscope.commands import Command, Session, Wording, choose
from goscope.limits import not_read_note


def _crash_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    del wording


def _run_crash(session: Session, args: argparse.Namespace) -> None:
    from goscope.render.panics import render_crash

    del args
    text = session.target.crash_json()
    crash = json.loads(text) if text is not None else None
    if session.json:
        session.write_json({"go_version": session.target.go_version, "crash": crash})
    else:
        session.write(render_crash(crash, session.style))
        goid = crash.get("goroutine") if crash else None
        if isinstance(goid, int):
            session.write("")
            session.flush()
            session.target.write_stacks(session.chunks(), [goid], color=session.style.enabled)
    session.flush()
    session.goroutine_list_unreadable()


CRASH = Command(
    name="crash",
    limits=True,
    summary="what crashed and why: signal, fatal error, panics, the crashing goroutine",
    description=(
        "Say what ended the process: a one-line summary, the fatal error's message, the "
        "panics as the runtime printed them (values decoded from memory), the signal the "
        "crashing goroutine took (nil pointer dereferences named as such), the core's own "
        "signal and thread, then the crashing goroutine's stack."
    ),
    add_arguments=_crash_arguments,
    run=_run_crash,
)


def _ids_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    del wording
    parser.add_argument(
        "goroutines",
        nargs="*",
        metavar="ID|all",
        help="goroutine ids, or `all` (default: see the description)",
    )


def _run_panic(session: Session, args: argparse.Namespace) -> None:
    from goscope.render.panics import render_panics

    chosen = choose(session, args.goroutines, default_all=False)
    goroutines = chosen.goroutines
    if chosen.everything:
        goroutines = [g for g in goroutines if g.get("panics")]
    if session.json:
        session.write_json(chosen.document(session, goroutines))
    else:
        if goroutines:
            session.write(render_panics(goroutines, session.style))
        else:
            session.write(session.style.dim("no goroutine has a panic in flight"))
        if chosen.not_read:
            session.write(session.style.dim(not_read_note(chosen.not_read)))
    session.flush()
    session.check_goroutines(sum(1 for g in goroutines if g.get("error")))


PANIC = Command(
    name="panic",
    limits=True,
    trailing="goroutines",
    summary="panics in flight: messages, [recovered] marks, types",
    description=(
        "Show the panics in flight of goroutines ID... (default: {current}; `all`: every "
        "goroutine with a panic in flight) as the runtime prints them, the first panic first, "
        "each value decoded from its interface."
    ),
    add_arguments=_ids_arguments,
    run=_run_panic,
)


def _run_defer(session: Session, args: argparse.Namespace) -> None:
    from goscope.render.panics import render_defers

    chosen = choose(session, args.goroutines, default_all=not session.defaults_to_current)
    if session.json:
        shown = chosen.goroutines
        if chosen.everything:
            shown = [g for g in shown if g.get("defers")]
        session.write_json(chosen.document(session, shown))
    else:
        session.write(
            render_defers(chosen.goroutines, session.style, only_pending=chosen.everything)
        )
        if chosen.not_read:
            session.write(session.style.dim(not_read_note(chosen.not_read)))
    session.flush()
    session.check_goroutines(sum(1 for g in chosen.goroutines if g.get("error")))


DEFER = Command(
    name="defer",
    limits=True,
    trailing="goroutines",
    summary="deferred calls still pending: open-coded, heap, stack and rangefunc",
    description=(
        "List the deferred calls goroutines ID... would still run (default: {default}; `all`: "
        "every goroutine with a call pending), the next one first: the deferred function, its "
        "kind, the defer statement's line where it is known and the frame it belongs to."
    ),
    add_arguments=_ids_arguments,
    run=_run_defer,
)
