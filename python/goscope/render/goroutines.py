"""Text of the thread table, shared by the command line and GDB.

Goroutine listings and stacks are rendered by the native core (``Target.write_listing``,
``Target.write_stacks``): 100,000 goroutines print in about a second.
"""

from __future__ import annotations

from typing import Any, Sequence

from goscope.render.style import Style


def _hex(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) else "?"


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
