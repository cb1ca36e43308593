"""``heap``: what the heap holds (totals, objects by type, size class or root, retained
sizes), what keeps one object alive (``--why ADDR``, also ``why ADDR``) and a profile for
``go tool pprof`` (``--pprof FILE``, also ``pprof FILE``)."""

from __future__ import annotations

import argparse
import json
import os

from goscope.commands import Session, UsageError, Wording, command


def _heap_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    del wording
    parser.add_argument(
        "words",
        nargs="*",
        metavar="why ADDR | pprof FILE",
        help="the same as --why ADDR or --pprof FILE",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="N",
        help="how many size classes and groups to list, most bytes first (default: 10)",
    )
    parser.add_argument(
        "--by",
        choices=("type", "sizeclass", "root"),
        default="type",
        help="group objects by their type, size class or the root that first reaches them "
        "(default: type)",
    )
    parser.add_argument(
        "--totals",
        action="store_true",
        help="only the heap walk's totals and size classes (no object graph: fast)",
    )
    parser.add_argument(
        "--why",
        metavar="ADDR",
        help="print the shortest path from a root to the object containing ADDR",
    )
    parser.add_argument(
        "--pprof",
        metavar="FILE",
        help="write a pprof profile (inuse_objects, inuse_space) whose stacks are the "
        "retaining paths, for go tool pprof, and print only where it was written",
    )


def _chosen_action(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The address of --why (or `why ADDR`) and the file of --pprof (or `pprof FILE`)."""
    why: str | None = args.why
    pprof: str | None = args.pprof
    words: list[str] = args.words
    if why is not None and pprof is not None:
        raise UsageError("--why and --pprof are alternatives: give one")
    if not words:
        return why, pprof
    action, operand = words[0], words[1:]
    if action not in ("why", "pprof"):
        raise UsageError(f"unrecognized argument: {action} (`why ADDR` or `pprof FILE`?)")
    if why is not None or pprof is not None:
        raise UsageError(f"give `{action}` or --why/--pprof, not both")
    what = "the address of a heap object" if action == "why" else "the file to write"
    if len(operand) != 1:
        raise UsageError(f"{action}: give {what}, once")
    return (operand[0], None) if action == "why" else (None, operand[0])


@command("heap", _heap_arguments, trailing="words")
def heap(session: Session, args: argparse.Namespace) -> None:
    """What the heap holds: totals, objects by type, size class or root, and why.

    Walk every heap arena and span and count what they hold: bytes of spans in use, allocated
    objects and bytes (from each span's allocation bits), idle and released bytes (from the page
    allocator), stack bytes, and the size classes holding the most bytes (--top N). The figures
    are those runtime.MemStats names HeapInuse, HeapObjects, HeapAlloc, HeapIdle, HeapReleased
    and StackInuse. Then the object graph: roots (data and bss by the runtime's pointer bitmaps,
    goroutine stacks by the compiler's stack maps, deferred calls), objects typed by the
    runtime's allocation headers and large-object types and along typed pointers from there and
    from the roots' DWARF types, grouped --by type, sizeclass or root, with retained sizes from
    the dominator tree.

      heap [--top N] [--by type|sizeclass|root] [--totals] [--json]
      heap --why ADDR    (or why ADDR) the shortest path from a root to the object
      heap --pprof FILE  (or pprof FILE) a profile whose stacks are retaining paths

    When part of the heap could not be read, the totals cover the rest and the command says so
    (exit status 1 on the command line)."""
    from goscope.render.heap import human_bytes, render_heap, render_report, render_why

    why_text, pprof = _chosen_action(args)
    target = session.target
    if why_text is not None:
        addr = session.address(why_text)
        why = json.loads(target.heap_why_json(addr))
        if session.json:
            session.write_json(why)
        else:
            session.write(render_why(why, session.style))
        session.flush()
        if not why.get("object"):
            for warning in why.get("warnings") or [f"{addr:#x} is not a heap object"]:
                session.problem(warning)
        return
    walk = json.loads(target.heap_json())
    if pprof is not None:
        path = os.path.expanduser(pprof)
        size = target.heap_pprof(path)
        if session.json:
            document = {"go_version": target.go_version, "pprof": {"file": path, "bytes": size}}
            session.write_json(document)
        else:
            session.write(f"wrote {path} ({human_bytes(size)}); go tool pprof -top {path}")
    else:
        report = None if args.totals else json.loads(target.heap_report_json(args.by, args.top))
        if session.json:
            document = {"go_version": target.go_version, **walk}
            if report is not None:
                document["report"] = report
            session.write_json(document)
        else:
            text = render_heap(walk, args.top, session.style)
            if report is not None:
                text += "\n\n" + render_report(report, session.style)
            session.write(text)
    session.flush()
    if walk["warnings"]:
        session.problem(
            f"the heap walk is incomplete ({len(walk['warnings'])} warnings); "
            "the totals cover what could be read"
        )
