"""Every command that reads a Go target, defined once for both front ends: its options, its
help text, what it computes and the JSON it prints.

``goscope CMD CORE --exe BIN`` (:mod:`goscope.cli`) and GDB's ``go CMD``
(:mod:`goscope.gdb.commands`) are adapters: each parses the options a :class:`Command`
declares and hands its ``run`` a :class:`Session`, which says where the target comes from,
where output goes and which goroutine is the current one (the crashed goroutine of a core on
the command line, the goroutine on GDB's selected thread in GDB).
"""

from __future__ import annotations

import argparse
import inspect
import textwrap
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from goscope.goroutines import (
    Filters,
    Listing,
    ListsGoroutines,
    goroutines_document,
    parse_goroutine_ids,
)

if TYPE_CHECKING:
    from goscope import Target
    from goscope.binary_info import BinaryInfo
    from goscope.render.info import TargetFacts
    from goscope.render.style import Style

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """The arguments do not make sense together (exit status 2 on the command line)."""


@dataclass(frozen=True)
class Wording:
    """What differs in the help text of the two front ends: which goroutine is the current
    one, and which goroutines a command that takes ids shows by default."""

    current: str
    default: str
    thread: str


CLI_WORDING = Wording(
    current="the goroutine that crashed", default="all", thread="the thread that crashed"
)
GDB_WORDING = Wording(
    current="the goroutine on GDB's selected thread",
    default="the goroutine on GDB's selected thread",
    thread="GDB's selected thread",
)


@dataclass(frozen=True)
class Command:
    """One command; each front end adds ``--json`` (and its target options) to the options
    `add_arguments` declares. `description` may name ``{current}``, ``{default}`` and
    ``{thread}`` (see :class:`Wording`); paragraphs are separated by blank lines and lines
    indented by two spaces are kept as they are."""

    name: str
    summary: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser, Wording], None]
    run: Callable[[Session, argparse.Namespace], None]
    #: The list positional that takes goroutine ids (the command line collects the words
    #: left after the options into it).
    trailing: str | None = None
    #: Whether it reads goroutines and takes --max-frames, --max-goroutines and --max-list.
    limits: bool = False
    #: What it reads: "core" (the runtime of a core or process) or "binary" (an executable,
    #: with the core or process for its load bias when one is loaded).
    reads: str = "core"

    def help_text(self, wording: Wording) -> str:
        """The description, in the front end's words."""
        return self.description.format(
            current=wording.current, default=wording.default, thread=wording.thread
        )


Arguments = Callable[[argparse.ArgumentParser, Wording], None]
Run = Callable[["Session", argparse.Namespace], None]


def no_arguments(parser: argparse.ArgumentParser, wording: Wording) -> None:
    """The options of a command with none of its own (the front ends add --json)."""
    del parser, wording


def command(
    name: str,
    add_arguments: Arguments = no_arguments,
    *,
    trailing: str | None = None,
    limits: bool = False,
    reads: str = "core",
) -> Callable[[Run], Command]:
    """Declares the decorated function as the command `name`; its docstring is the help: a
    one-line sentence (the summary), a blank line, the description."""

    def declare(run: Run) -> Command:
        summary, _, description = inspect.cleandoc(run.__doc__ or "").partition("\n\n")
        return Command(name, summary, description, add_arguments, run, trailing, limits, reads)

    return declare


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but a description keeps its paragraphs (blank lines) and its
    lines indented by two spaces (examples, lists); the other lines are filled."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks: list[str] = []
        for paragraph in text.split("\n\n"):
            out: list[str] = []
            run: list[str] = []
            for line in [*paragraph.splitlines(), "  "]:
                if not line.startswith("  "):
                    run.append(line)
                    continue
                if run:
                    words = " ".join(" ".join(run).split())
                    out.append(
                        textwrap.fill(words, width, initial_indent=indent, subsequent_indent=indent)
                    )
                    run = []
                if line.strip():
                    out.append(indent + line)
            blocks.append("\n".join(out))
        return "\n\n".join(blocks)


class Session(ABC):
    """What a command runs against: the target, the output, and how problems are reported.

    ``error`` and ``problem`` make the command line exit 1 with the line on stderr; in GDB an
    error is the command's error and a problem is already marked in what was printed."""

    style: Style
    json: bool
    #: Whether commands that take goroutine ids default to the current goroutine (GDB)
    #: instead of every goroutine (the command line).
    defaults_to_current: bool = False
    #: Whose g names the current goroutine, for messages: "the crashing thread's".
    current_thread: str = "the current thread's"

    @property
    @abstractmethod
    def opened(self) -> ListsGoroutines:
        """The target with its goroutine listing (opened on first use)."""

    @property
    def target(self) -> Target:
        target: Target = self.opened.target
        return target

    @abstractmethod
    def write(self, text: str) -> None:
        """Writes `text` and a newline, unless it ends with one."""

    @abstractmethod
    def write_json(self, value: Any) -> None: ...

    @abstractmethod
    def chunks(self) -> Callable[[str], Any]:
        """Where the core writes text it renders itself, in large pieces."""

    def stream_fd(self) -> int | None:
        """A file descriptor the core may write a JSON document to directly, if any."""
        return None

    def flush(self) -> None:  # noqa: B027 - only a stream that buffers needs it
        """Makes what was written appear before any message that follows."""

    @abstractmethod
    def current_goroutine(self) -> int | None:
        """The goroutine marked '*' in listings and shown when no id is given."""

    @abstractmethod
    def no_current_goroutine(self) -> str:
        """Why there is no current goroutine (the message when a command needs one)."""

    @abstractmethod
    def selected_thread(self) -> int | None:
        """The LWP marked '*' in the thread table (None: the thread that crashed)."""

    def goroutine(self, goid: int) -> dict[str, Any] | None:
        return self.opened.goroutine(goid)

    def threads(self) -> list[dict[str, Any]]:
        return self.opened.threads()

    def listing(self, filters: Filters | None = None) -> Listing:
        return self.opened.listing(filters=filters)

    @abstractmethod
    def error(self, line: str) -> None:
        """Something the user asked for cannot be done (a goroutine id no goroutine has, a
        file that cannot be written); the rest of the command's output stands."""

    @abstractmethod
    def problem(self, line: str) -> None:
        """What was printed is incomplete (and marked so); `line` says why."""

    @abstractmethod
    def binary_facts(self, args: argparse.Namespace) -> tuple[BinaryInfo, TargetFacts | None]:
        """The executable a "binary" command reads, and what is loaded besides it."""

    @abstractmethod
    def address(self, text: str) -> int:
        """An address the user gave (GDB evaluates it as an expression)."""

    @abstractmethod
    def title(self) -> str:
        """What the target is, for the head of a report: ``core FILE, executable BIN``."""

    def goroutine_list_unreadable(self) -> bool:
        """Says why the goroutine list cannot be read, when it cannot."""
        error = self.target.goroutine_list_error
        if error:
            self.problem(error)
        return bool(error)

    def check_goroutines(self, broken: int) -> None:
        """Reports an unreadable goroutine list, else `broken` goroutines that could not be
        read entirely (each marked with its error in the output)."""
        if self.goroutine_list_unreadable() or not broken:
            return
        s = "s" if broken != 1 else ""
        self.problem(f"{broken} goroutine{s} could not be read entirely (marked with their error)")


def goroutine_ids(words: Sequence[str]) -> list[int] | None:
    """The ids `words` name (None: ``all`` or nothing)."""
    try:
        return parse_goroutine_ids(words)
    except ValueError as error:
        raise UsageError(str(error)) from None


def current_goroutine(session: Session) -> int:
    goid = session.current_goroutine()
    if goid is None:
        raise UsageError(session.no_current_goroutine())
    return goid


@dataclass
class Chosen:
    """The goroutines a command's ids name, and the document they go into."""

    goroutines: list[dict[str, Any]]
    #: Whether they are every goroutine (no ids, or `all`).
    everything: bool
    #: How many goroutines the goroutine limit left unread (with `everything`).
    not_read: int = 0

    def document(self, session: Session, goroutines: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return goroutines_document(session.target.go_version, goroutines, self.not_read)


def choose(session: Session, words: Sequence[str], default_all: bool) -> Chosen:
    """The goroutines `words` name; with none, every goroutine (`default_all`) or the current
    one. Ids that name no goroutine are reported as missing."""
    ids = goroutine_ids(words)
    if ids is None and (words or default_all):
        listing = session.listing()
        return Chosen(listing.goroutines, True, listing.not_read)
    if ids is None:
        goid = current_goroutine(session)
        g = session.goroutine(goid)
        if g is None:
            # The id came from a thread's g, not from the user: say so.
            session.error(
                f"{session.current_thread} g holds goroutine id {goid}, which no live "
                "goroutine has (the g may be damaged); give goroutine ids or `all`"
            )
            return Chosen([], False)
        return Chosen([g], False)
    return Chosen(by_ids(session, ids), False)


def by_ids(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The goroutines with these ids; the ids no goroutine has are reported as an error."""
    found = [(goid, session.goroutine(goid)) for goid in ids]
    missing = [goid for goid, g in found if g is None]
    if missing:
        session.error(no_goroutine(missing))
    return [g for _, g in found if g is not None]


def no_goroutine(ids: Sequence[int]) -> str:
    return "no goroutine " + ", ".join(str(goid) for goid in ids)


def unread(goroutines: Sequence[dict[str, Any]]) -> int:
    """How many of `goroutines` could not be read entirely (each carries its error)."""
    return sum(1 for g in goroutines if g.get("error"))


def registry() -> list[Command]:
    """Every command, in the order help lists them."""
    from goscope.commands import goroutines, heap, info, panics, triage

    return [
        info.info,
        goroutines.goroutines,
        goroutines.bt,
        triage.triage,
        panics.crash,
        panics.panic,
        panics.defer,
        heap.heap,
        goroutines.threads,
    ]
