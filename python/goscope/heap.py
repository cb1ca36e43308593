"""``heap`` as both front ends define it: the options that choose the report and the JSON
document it prints (``goscope heap`` and GDB's ``go heap`` are adapters over these)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from goscope import Target


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """--top, --by and --totals."""
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


def add_object_options(
    parser: argparse.ArgumentParser, address: Callable[[str], Any] | None = None
) -> None:
    """--why ADDR and --pprof FILE; `address` converts ADDR (GDB evaluates it as an
    expression later, the command line reads a number)."""
    parser.add_argument(
        "--why",
        type=address,
        metavar="ADDR",
        help="print the shortest path from a root to the object containing ADDR",
    )
    parser.add_argument(
        "--pprof",
        metavar="FILE",
        help="write a pprof profile (inuse_objects, inuse_space) whose stacks are the "
        "retaining paths, for go tool pprof",
    )


def walk_and_report(
    target: Target, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The heap walk, and the report --by and --top choose (None with --totals)."""
    walk: dict[str, Any] = json.loads(target.heap_json())
    report = None if args.totals else json.loads(target.heap_report_json(args.by, args.top))
    return walk, report


def heap_document(
    target: Target, walk: dict[str, Any], report: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``--json`` document: the Go version, the walk, and the report when there is one."""
    document = {"go_version": target.go_version, **walk}
    if report is not None:
        document["report"] = report
    return document
