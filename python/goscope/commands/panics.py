"""``crash``, ``panic`` and ``defer``: what crashed and why, the panics in flight and the
deferred calls still pending."""

from __future__ import annotations

import argparse
import json

from goscope.commands import Session, Wording, choose, command, unread
from goscope.limits import not_read_note


@command("crash", limits=True)
def crash(session: Session, args: argparse.Namespace) -> None:
    """What crashed and why: signal, fatal error, panics, the crashing goroutine.

    Say what ended the process: a one-line summary, the fatal error's message, the panics as the
    runtime printed them (values decoded from memory), the signal the crashing goroutine took
    (nil pointer dereferences named as such), the core's own signal and thread, then the
    crashing goroutine's stack."""
    from goscope.render.panics import render_crash

    del args
    text = session.target.crash_json()
    found = json.loads(text) if text is not None else None
    if session.json:
        session.write_json({"go_version": session.target.go_version, "crash": found})
    else:
        session.write(render_crash(found, session.style))
        goid = found.get("goroutine") if found else None
        if isinstance(goid, int):
            session.write("")
            session.flush()
            session.target.write_stacks(session.chunks(), [goid], color=session.style.enabled)
    session.flush()
    session.goroutine_list_unreadable()


def _ids_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    del wording
    parser.add_argument(
        "goroutines",
        nargs="*",
        metavar="ID|all",
        help="goroutine ids, or `all` (default: see the description)",
    )


@command("panic", _ids_arguments, trailing="goroutines", limits=True)
def panic(session: Session, args: argparse.Namespace) -> None:
    """Panics in flight: messages, [recovered] marks, types.

    Show the panics in flight of goroutines ID... (default: {current}; `all`: every goroutine
    with a panic in flight) as the runtime prints them, the first panic first, each value
    decoded from its interface."""
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
    session.check_goroutines(unread(goroutines))


@command("defer", _ids_arguments, trailing="goroutines", limits=True)
def defer(session: Session, args: argparse.Namespace) -> None:
    """Deferred calls still pending: open-coded, heap, stack and rangefunc.

    List the deferred calls goroutines ID... would still run (default: {default}; `all`: every
    goroutine with a call pending), the next one first: the deferred function, its kind, the
    defer statement's line where it is known and the frame it belongs to."""
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
    session.check_goroutines(unread(chosen.goroutines))
