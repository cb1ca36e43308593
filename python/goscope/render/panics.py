"""Text of panics in flight, pending deferred calls and the crash cause, shared by the command
line and GDB.

Panics print as the Go runtime prints them when it dies, the first panic first and each later
one indented below it::

    panic: process failed with code 500 [recovered]
        panic: cleanup of step 3 failed

A panic whose message is not exactly what Go would print (its ``Error`` method would have
had to run) is followed by its type and fields in parentheses.
"""

from __future__ import annotations

from typing import Any, Sequence

from goscope.goroutines import Goroutine, state_text
from goscope.render.style import Style

Panic = dict[str, Any]
Defer = dict[str, Any]


#: How a note about a list cut short by max-list ends.
_RAISE = "raise max-list to see them"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def panic_lines(panics: Sequence[Panic], style: Style) -> list[str]:
    """The ``panic: ...`` lines of a goroutine's panics (given innermost first), in the order
    and with the marks the runtime's ``printpanics`` uses: the oldest first, later ones after
    a tab, nothing for a Goexit, ``[recovered]`` (``[recovered, repanicked]``), and a
    re-panic of the same value printed once."""
    lines: list[str] = []
    oldest_first = list(reversed(panics))
    tab = ""
    for index, p in enumerate(oldest_first):
        if index > 0:
            previous = oldest_first[index - 1]
            if previous.get("repanicked"):
                continue
            tab = "" if previous.get("goexit") else "\t"
        if p.get("goexit"):
            continue
        text = f"{tab}panic: {message(p)}"
        if p.get("recovered") and p.get("repanicked"):
            text += " [recovered, repanicked]"
        elif p.get("recovered"):
            text += " [recovered]"
        lines.append(text)
        note = detail(p)
        if note:
            lines.append(f"{tab}\t" + style.dim(note))
    return lines


def message(p: Panic) -> str:
    if p.get("error"):
        return "?"
    return str(p.get("message", ""))


def detail(p: Panic) -> str:
    """What goscope adds below a panic line: its type when the message is not exact, and why
    a value could not be read."""
    if p.get("error"):
        return f"(value not readable: {p['error']})"
    if not p.get("exact", True):
        return f"({p.get('type', '?')}: its Error method would say the exact message)"
    return ""


def render_panics(goroutines: Sequence[Goroutine], style: Style) -> str:
    """Each goroutine with panics in flight: its header line, then its panics, including
    Goexits (which the runtime does not print)."""
    blocks = []
    for g in goroutines:
        panics: list[Panic] = g.get("panics") or []
        lines = [style.heading(f"goroutine {g.get('id')} [{state_text(g)}]:")]
        if not panics:
            lines.append(style.dim("no panic in flight"))
        more = g.get("more_panics")
        if isinstance(more, int) and more > 0:
            lines.append(style.dim(f"(... {_count(more, 'older panic')} not shown: {_RAISE})"))
        lines += panic_lines(panics, style)
        if any(p.get("goexit") for p in panics):
            lines.append(style.dim("runtime.Goexit in progress"))
        if g.get("error"):
            lines.append(style.error(f"error: {g['error']}"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def defer_line(index: int, d: Defer, style: Style) -> str:
    where = ""
    if d.get("file"):
        where = f"  deferred at {d['file']}:{d.get('line')}"
    frame = d.get("frame")
    owner = f"  in {frame}" if frame else ""
    if d.get("frame_sp") is not None:
        owner += f" (sp={style.address(hex(d['frame_sp']))})"
    return f"{index:>4}. {style.emphasis(str(d.get('function')))}  [{d.get('kind')}]{where}{owner}"


def render_defers(goroutines: Sequence[Goroutine], style: Style, only_pending: bool) -> str:
    """Each goroutine's pending deferred calls, the next to run first. With `only_pending`,
    goroutines without any are left out."""
    blocks = []
    for g in goroutines:
        defers: list[Defer] = g.get("defers") or []
        if only_pending and not defers and not g.get("error"):
            continue
        lines = [style.heading(f"goroutine {g.get('id')} [{state_text(g)}]:")]
        if not defers:
            lines.append(style.dim("no deferred call pending"))
        lines += [defer_line(i + 1, d, style) for i, d in enumerate(defers)]
        more = g.get("more_defers")
        if isinstance(more, int) and more > 0:
            lines.append(
                style.dim(f"(... {_count(more, 'more deferred call')} not shown: {_RAISE})")
            )
        if g.get("error"):
            lines.append(style.error(f"error: {g['error']}"))
        blocks.append("\n".join(lines))
    if not blocks:
        return style.dim("no goroutine has a deferred call pending")
    return "\n\n".join(blocks)


def signal_text(sig: dict[str, Any]) -> str:
    """``[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]``, as Go
    prints a goroutine's signal."""
    code = sig.get("code", 0)
    text = f"[signal {sig.get('description')} code={code:#x}"
    if sig.get("addr") is not None:
        text += f" addr={sig['addr']:#x}"
    if sig.get("pc") is not None:
        text += f" pc={sig['pc']:#x}"
    return text + "]"


def render_crash(crash: dict[str, Any] | None, style: Style) -> str:
    """The crash: one summary line, then what the runtime printed about it (fatal error,
    panics, the goroutine's signal) and the core's own signal and thread."""
    if crash is None:
        return "no thread took a signal: this is not a crash (a live process or a gcore dump)"
    lines = [style.error(str(crash.get("summary")))]
    if crash.get("fatal_error"):
        lines.append(f"fatal error: {crash['fatal_error']}")
    lines += panic_lines(crash.get("panics") or [], style)
    gsig = crash.get("goroutine_signal")
    if gsig:
        lines.append(signal_text(gsig))
    handled = crash.get("handled_signal")
    if handled and not gsig:
        lines.append(f"{handled.get('description')} (the signal handler was handling it)")
        pc, addr = handled.get("pc") or 0, handled.get("addr") or 0
        lines.append(f"PC={pc:#x} sigcode={handled.get('code')} addr={addr:#x}")
    sig = crash.get("signal")
    where = []
    if crash.get("thread") is not None:
        where.append(f"thread LWP {crash['thread']}")
    if crash.get("goroutine") is not None:
        where.append(f"goroutine {crash['goroutine']}")
    if sig:
        text = f"the process died of {sig.get('description')}"
        if sig.get("self_sent"):
            text += " sent by the process itself (the Go runtime aborts after a fatal report)"
        elif sig.get("sender_pid") is not None:
            text += f" sent by pid {sig['sender_pid']}"
        elif sig.get("addr") is not None:
            text += f" at {sig['addr']:#x}"
        if where:
            text += " on " + ", ".join(where)
        lines.append(style.dim(text))
    return "\n".join(lines)
