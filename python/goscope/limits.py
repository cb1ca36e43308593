"""Limits on what goscope reads and shows of goroutines: the command line's ``--max-frames``,
``--max-goroutines`` and ``--max-list`` and GDB's ``set goscope max-frames`` (and so on) are
the same three numbers, handed to the core with ``Target.set_limits``.

0 (or ``unlimited``) stands for the built-in cap, never for no bound at all: a corrupt core
must not make a walk endless. The limits bound listings of goroutines (``goroutines``, ``bt``,
``panic``, ``defer``, one goroutine) and what the GDB pretty printers show; analyses that must
see everything to be right (the crash, stuck goroutines in ``triage``, the heap) read within
the built-in caps only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from goscope._native import DEFAULT_MAX_FRAMES, MAX_FRAMES_CAP, MAX_GOROUTINES


@dataclass(frozen=True)
class Limit:
    #: The setting's name: ``max-frames`` (``--max-frames``, ``set goscope max-frames``).
    name: str
    #: What the number counts, in a few words.
    what: str
    #: What else there is to know about it.
    detail: str
    #: The default; 0 is the built-in cap.
    default: int
    #: What 0 (``unlimited``) stands for.
    cap: str

    @property
    def keyword(self) -> str:
        """The keyword argument of ``Target.set_limits``: ``max_frames``."""
        return self.name.replace("-", "_")

    def describe(self, value: int) -> str:
        """``100000`` or ``unlimited (up to 1048576)``."""
        return str(value) if value else f"unlimited ({self.cap})"


MAX_FRAMES = Limit(
    "max-frames",
    "frames shown per goroutine stack",
    "A stack cut short ends with a note saying how many frames were left out.",
    DEFAULT_MAX_FRAMES,
    f"up to {MAX_FRAMES_CAP}",
)
MAX_GOROUTINES_LIMIT = Limit(
    "max-goroutines",
    "goroutines a listing reads",
    "Listings (goroutines, bt all, panic all, defer all) read at most this many goroutines "
    "and say how many they left unread; a goroutine asked for by its id is always found. "
    "Analyses (crash, triage, heap) read every goroutine.",
    0,
    f"up to {MAX_GOROUTINES}",
)
MAX_LIST = Limit(
    "max-list",
    "elements shown of each runtime list",
    "A goroutine's pending deferred calls and its panics; in the pretty printers, a "
    "channel's waiting goroutines and the elements of slices, arrays, maps and channel "
    "buffers (fewer when `print elements` is lower). A list cut short says so.",
    0,
    "each list's own bound",
)

#: Every limit, in the order they are listed.
LIMITS = (MAX_FRAMES, MAX_GOROUTINES_LIMIT, MAX_LIST)


def parse_limit(text: str) -> int:
    """A limit written as `text`: a whole number, 0 or ``unlimited`` (both 0, the built-in
    cap). Raises ValueError saying what is wrong, in words that follow the limit's name."""
    word = text.strip()
    if word.lower() == "unlimited":
        return 0
    try:
        value = int(word, 10)
    except ValueError:
        value = None
    if value is None or value < 0:
        shown = repr(word) if word else "nothing"
        raise ValueError(
            f"{shown} is not a whole number of 0 or more (0 or `unlimited`: the built-in cap)"
        )
    return value


def limit_argument(value: str) -> int:
    """An argparse `type` reading a limit (`--max-frames N`)."""
    try:
        return parse_limit(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_limit_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--max-frames N``, ``--max-goroutines N`` and ``--max-list N``; `default` says where
    a limit not given comes from (GDB: ``set goscope``), else each one's default is named."""
    group = parser.add_argument_group("limits (0 or `unlimited`: the built-in cap)")
    for limit in LIMITS:
        where = default or f"default {limit.describe(limit.default)}"
        group.add_argument(
            f"--{limit.name}",
            type=limit_argument,
            metavar="N",
            help=f"the most {limit.what}; {where}",
        )


def limits_from(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``Target.set_limits`` the options ask for (defaults for the
    ones not given)."""
    kwargs: dict[str, Any] = {}
    for limit in LIMITS:
        value = getattr(args, limit.keyword, None)
        kwargs[limit.keyword] = limit.default if value is None else value
    return kwargs


def not_read_note(count: int) -> str:
    """The note that ends a listing max-goroutines cut short (the core's listings print the
    same)."""
    s = "" if count == 1 else "s"
    return f"({count} more goroutine{s} not read: raise max-goroutines to read them)"
