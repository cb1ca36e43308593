"""Text of goroutine listings and threads, shared by the command line and GDB.

Stacks in the Go traceback's format are rendered by the native core
(``Target.write_stacks``): 100,000 of them print in about a second.
"""

from __future__ import annotations

from typing import Any, Sequence

from goscope.goroutines import Frame, Goroutine, UserCode, state_text, where
from goscope.render.style import Style


def _hex(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) else "?"


def goroutine_id(g: Goroutine) -> str:
    """The id, or ``?`` for a goroutine whose record could not be read (the core reports
    those with id 0, which no goroutine of ``allgs`` has)."""
    goid = g.get("id")
    if not isinstance(goid, int) or (goid == 0 and g.get("error")):
        return "?"
    return str(goid)


def position(frame: Frame) -> str:
    return f"{frame.get('file') or '?'}:{frame.get('line', 0)}"


def created_by_text(g: Goroutine) -> str | None:
    creator = g.get("created_by")
    if not isinstance(creator, dict):
        return None
    text = f"created by {creator.get('function') or '?'}"
    goid = creator.get("goid")
    if isinstance(goid, int):
        text += f" in goroutine {goid}"
    return text


def goroutine_line(g: Goroutine, user: UserCode, style: Style, current: bool = False) -> str:
    """One line: id, [state], where it is (innermost frame in the program's own code, else the
    innermost frame), and who created it."""
    mark = "*" if current else " "
    parts = [f"{mark}{goroutine_id(g):>6}", style.label(f"[{state_text(g)}]")]
    at = where(g, user)
    if at is not None:
        parts.append(f"{style.emphasis(str(at.get('function')))} {position(at)}")
    created = created_by_text(g)
    if created:
        parts.append(style.dim(created))
    line = " ".join(parts[:2])
    if len(parts) > 2:
        line += " " + "  ".join(parts[2:])
    error = g.get("error")
    if error:
        line += "  " + style.error(f"error: {error}")
    return line


def render_goroutine_list(
    goroutines: Sequence[Goroutine],
    total: int,
    user: UserCode,
    style: Style,
    current: int | None = None,
) -> str:
    """Every goroutine on a line of its own, then a count (``3 of 23 goroutines``)."""
    lines = [goroutine_line(g, user, style, g.get("id") == current) for g in goroutines]
    if len(goroutines) == total:
        lines.append(style.dim(f"{total} goroutine{'s' if total != 1 else ''}"))
    else:
        lines.append(style.dim(f"{len(goroutines)} of {total} goroutines"))
    return "\n".join(lines)


def render_threads(
    threads: Sequence[dict[str, Any]], style: Style, selected: int | None = None
) -> str:
    """A table of threads: LWP, M, P, goroutine, which stack, pc and the function there.
    ``*`` marks `selected` (GDB's selected thread), else the thread that crashed."""
    if selected is None:
        selected = next((t.get("lwp") for t in threads if t.get("crashed")), None)
    rows = [("", "LWP", "M", "P", "G", "STACK", "PC", "WHERE")]
    for t in threads:
        function = t.get("function")
        at = f"{function} {t.get('file')}:{t.get('line')}" if function else "?"
        if t.get("crashed"):
            at += "  (crashed)"
        rows.append(
            (
                "*" if t.get("lwp") == selected else "",
                str(t.get("lwp", "?")),
                "-" if t.get("m") is None else str(t.get("m")),
                "-" if t.get("p") is None else str(t.get("p")),
                "-" if t.get("g") is None else str(t.get("g")),
                str(t.get("stack", "?")),
                _hex(t.get("pc")),
                at,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(widths[i]) if i in (0, 5, 6) else cell.rjust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        line = " ".join(cells) + " " + row[-1]
        lines.append(style.heading(line.rstrip()) if n == 0 else line.rstrip())
    return "\n".join(lines)
