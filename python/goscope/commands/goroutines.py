"""``goroutines``, ``bt`` and ``threads``: every goroutine in one line, goroutine stacks in
the Go traceback's format, and the threads with the runtime's M, P and goroutine on each."""

from __future__ import annotations

import argparse

from goscope.commands import (
    Session,
    Wording,
    by_ids,
    command,
    current_goroutine,
    goroutine_ids,
    no_goroutine,
    unread,
)
from goscope.goroutines import (
    add_filter_arguments,
    add_stack_options,
    filters_from,
    goroutines_document,
)


def _goroutines_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    del wording
    add_filter_arguments(parser)


@command("goroutines", _goroutines_arguments, limits=True)
def goroutines(session: Session, args: argparse.Namespace) -> None:
    """Every goroutine: state or wait reason, where it is, who made it.

    List every goroutine, one line each: its id, its status or wait reason as the Go runtime
    prints it (with ', locked to thread' and the minutes waited when known), the innermost frame
    in the program's own code (else its innermost frame) and `created by F in goroutine N`. '*'
    marks {current}. Works without DWARF or symbols. With --json, DESIGN.md's goroutine objects
    with every frame."""
    filters = filters_from(args)
    if session.json:
        fd = session.stream_fd()
        if fd is not None:
            # The core writes the document itself, goroutine by goroutine: a core with
            # 100,000 goroutines never becomes one string or one list of Python objects.
            session.flush()
            _, broken = session.target.write_goroutines_json(fd, **filters.native_kwargs())
            session.check_goroutines(broken)
            return
        listing = session.listing(filters)
        session.write_json(listing.document(listing.goroutines))
        session.check_goroutines(unread(listing.goroutines))
        return
    # The core renders the lines and hands them over in large pieces.
    _, broken, _ = session.target.write_listing(
        session.chunks(),
        current=session.current_goroutine(),
        color=session.style.enabled,
        **filters.native_kwargs(),
    )
    session.flush()
    session.check_goroutines(broken)


def _bt_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    add_stack_options(parser, f"default: {wording.default}")


@command("bt", _bt_arguments, trailing="goroutines", limits=True)
def bt(session: Session, args: argparse.Namespace) -> None:
    """Goroutine stacks in the Go traceback's format.

    Show the stacks of goroutines ID... (or `all`; default: {default}) the way the Go runtime
    prints a traceback: inlined calls as function(...), file:line +offset, fp, sp and pc of
    every physical frame, then `created by`. Reads each goroutine's saved registers, so it works
    on core files and changes no register."""
    ids = goroutine_ids(args.goroutines)
    if not args.goroutines and session.defaults_to_current:
        ids = [current_goroutine(session)]
    if session.json:
        if ids is None:
            listing = session.listing()
            chosen = listing.goroutines
            document = listing.document()
        else:
            chosen = by_ids(session, ids)
            document = goroutines_document(session.target.go_version, chosen)
        session.write_json(document)
        broken = unread(chosen)
    else:
        # The core renders the stacks and hands them over in large pieces.
        _, broken, missing = session.target.write_stacks(
            session.chunks(), ids, system=args.system, color=session.style.enabled
        )
        session.flush()
        if missing:
            session.error(no_goroutine(missing))
    session.check_goroutines(broken)


@command("threads")
def threads(session: Session, args: argparse.Namespace) -> None:
    """The threads: M, P, goroutine, stack and pc of each.

    List the threads: LWP, the runtime's M and P on it, the goroutine the M runs, which stack
    the thread is on (goroutine, g0, gsignal) and the pc with its function. '*' marks {thread}."""
    from goscope.render.goroutines import render_threads

    del args
    threads = session.threads()
    if session.json:
        session.write_json({"go_version": session.target.go_version, "threads": threads})
    else:
        session.write(render_threads(threads, session.style, session.selected_thread()))
