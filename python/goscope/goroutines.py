"""Goroutines as the core reports them (DESIGN.md's JSON contract), and what the command line
and GDB do with them alike: the state text the Go runtime prints and the filters
``--state``, ``--wait-reason``, ``--function`` and ``--user``.

A goroutine is kept as the JSON object the core produced (a ``dict``), so that ``--json``
passes on every field, including ones added later.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Dict, Sequence

Goroutine = Dict[str, Any]
Frame = Dict[str, Any]


def state_text(g: Goroutine) -> str:
    """What the runtime prints between the brackets of a goroutine's header: its wait reason
    (or status), the minutes it has waited when one or more, and whether it is locked to its
    thread: ``chan receive, 5 minutes, locked to thread``."""
    state = str(g.get("wait_reason") or g.get("status") or "???")
    minutes = g.get("wait_minutes")
    if isinstance(minutes, int) and minutes >= 1:
        state += f", {minutes} minutes"
    if g.get("locked_to_thread"):
        state += ", locked to thread"
    return state


@dataclass(frozen=True)
class Filters:
    """Which goroutines to show; empty filters show every goroutine. The core applies them
    (``goscope_core::runtime::GoroutineFilter``) while it decodes."""

    state: str | None = None
    wait_reason: str | None = None
    function: str | None = None
    user: bool = False

    def native_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``Target.goroutines_json`` and ``write_goroutines_json``."""
        return {
            "state": self.state,
            "wait_reason": self.wait_reason,
            "function": self.function,
            "user": self.user,
        }


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter options shared by ``goscope goroutines`` and ``go goroutines``."""
    group = parser.add_argument_group("filters (all must match)")
    group.add_argument(
        "--state",
        metavar="S",
        help="status or wait reason contains S (case-insensitive): running, syscall, "
        '"chan receive", "select", ...',
    )
    group.add_argument(
        "--wait-reason",
        metavar="S",
        help='the wait reason is exactly S (case-insensitive), e.g. "sync.Mutex.Lock"',
    )
    group.add_argument(
        "--function",
        metavar="SUBSTR",
        help="some frame's function name contains SUBSTR",
    )
    group.add_argument(
        "--user",
        action="store_true",
        help="only goroutines with at least one frame outside the Go runtime",
    )


def filters_from(args: argparse.Namespace) -> Filters:
    return Filters(
        state=args.state,
        wait_reason=args.wait_reason,
        function=args.function,
        user=bool(args.user),
    )


@dataclass
class Listing:
    """The decoded goroutines document: ``{"go_version": ..., "goroutines": [...]}``."""

    go_version: str | None
    goroutines: list[Goroutine]
    #: How many goroutines were read, before filtering.
    total: int = 0
    #: How many goroutines the goroutine limit (max-goroutines) left unread.
    not_read: int = 0

    @classmethod
    def of(
        cls,
        target: Any,
        with_stacks: bool = True,
        max_frames: int | None = None,
        filters: Filters | None = None,
    ) -> Listing:
        """The goroutines of `target` (a ``goscope.Target``) the filters keep."""
        kwargs = (filters or Filters()).native_kwargs()
        return cls.parse(target.goroutines_json(with_stacks, max_frames, **kwargs))

    @classmethod
    def parse(cls, text: str) -> Listing:
        document = json.loads(text)
        goroutines = document["goroutines"]
        return cls(
            go_version=document.get("go_version"),
            goroutines=goroutines,
            total=int(document.get("total", len(goroutines))),
            not_read=int(document.get("not_read", 0)),
        )

    def document(self, goroutines: Sequence[Goroutine] | None = None) -> dict[str, Any]:
        """The JSON contract's object, with `goroutines` (default: all of them), and
        ``not_read`` when the goroutine limit left some unread."""
        chosen = self.goroutines if goroutines is None else goroutines
        return goroutines_document(self.go_version, chosen, self.not_read)

    def find(self, goid: int) -> Goroutine | None:
        return next((g for g in self.goroutines if g.get("id") == goid), None)


class ListsGoroutines:
    """Something with a ``target`` (a ``goscope.Target``) whose goroutines it lists: the
    command line's opened core and GDB's process alike."""

    target: Any

    def listing(
        self,
        with_stacks: bool = True,
        max_frames: int | None = None,
        filters: Filters | None = None,
    ) -> Listing:
        return Listing.of(self.target, with_stacks, max_frames, filters)

    def goroutine(self, goid: int, max_frames: int | None = None) -> Goroutine | None:
        """The goroutine with this id (looked for among all, whatever max-goroutines)."""
        text = self.target.goroutine_json(goid, max_frames)
        g: Goroutine | None = json.loads(text) if text is not None else None
        return g

    def threads(self) -> list[dict[str, Any]]:
        threads: list[dict[str, Any]] = json.loads(self.target.threads_json())
        return threads


def add_stack_options(parser: argparse.ArgumentParser, default: str) -> None:
    """The goroutine ids and ``-s/--system`` of ``bt`` (`default`: which goroutines none
    means)."""
    parser.add_argument(
        "goroutines",
        nargs="*",
        metavar="ID|all",
        help=f"goroutine ids, or `all`; {default}",
    )
    parser.add_argument(
        "-s",
        "--system",
        action="store_true",
        help="also show the frames a running goroutine's thread has on its system stack",
    )


def goroutines_document(
    go_version: str | None, goroutines: Sequence[Goroutine], not_read: int = 0
) -> dict[str, Any]:
    """The JSON document of goroutines (``goroutines``, ``panic``, ``defer`` on both front
    ends): the Go version, the goroutines, and ``not_read`` when the goroutine limit left some
    unread."""
    document: dict[str, Any] = {"go_version": go_version, "goroutines": list(goroutines)}
    if not_read:
        document["not_read"] = not_read
    return document


def parse_goroutine_ids(words: Sequence[str]) -> list[int] | None:
    """``all`` (or nothing) is None; otherwise the ids, each a decimal number.
    Raises ValueError naming a word that is neither."""
    if not words or list(words) == ["all"]:
        return None
    ids = []
    for word in words:
        try:
            ids.append(int(word, 10))
        except ValueError:
            raise ValueError(f"not a goroutine id: {word!r} (give numbers or `all`)") from None
    return ids
