"""Text of goroutine listings, goroutine stacks and threads, shared by the command line and GDB.

A stack is printed the way the Go runtime prints it in a traceback, so that it reads like
one::

    goroutine 20 gp=0xc000007340 m=nil [chan receive]:
    runtime.gopark
        /usr/lib/go/src/runtime/proc.go:462 +0xce fp=0xc00005e710 sp=0xc00005e6f0 pc=0x480dae
    main.handle(...)
        /src/main.go:172
    created by main.main in goroutine 1
        /src/main.go:77 +0x2f

Inlined calls are ``function(...)`` with no pc of their own, as in Go's tracebacks; goscope
knows no argument values, so a physical frame is just its function's name.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from goscope.goroutines import Frame, Goroutine, UserCode, state_text, where
from goscope.render.style import Style

#: Returns the offset of a ``created by`` pc in its function, when it can be known.
CreatorOffset = Callable[[Goroutine], Optional[int]]


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


def header(g: Goroutine, style: Style) -> str:
    """``goroutine N gp=0x... m=M mp=0x... [state]:`` as Go 1.23 and later print it."""
    text = f"goroutine {goroutine_id(g)} gp={_hex(g.get('gp'))}"
    m = g.get("m")
    if isinstance(m, int):
        text += f" m={m} mp={_hex(g.get('mp'))}"
    else:
        text += " m=nil"
    return style.heading(f"{text} [{state_text(g)}]:")


def frame_lines(frame: Frame, style: Style, note: str = "") -> list[str]:
    function = str(frame.get("function") or "?")
    if frame.get("inlined"):
        name = f"{function}(...)"
        detail = position(frame)
    else:
        name = function
        detail = position(frame)
        offset = frame.get("offset")
        if isinstance(offset, int) and offset > 0:
            detail += f" +{offset:#x}"
        for key in ("fp", "sp", "pc"):
            if isinstance(frame.get(key), int):
                detail += f" {key}={style.address(_hex(frame[key]))}"
    return [style.emphasis(name) + note, f"\t{detail}"]


def render_stack(
    g: Goroutine,
    style: Style,
    system: bool = False,
    creator_offset: CreatorOffset | None = None,
) -> str:
    """A goroutine's stack in the Go traceback's format. The frames a running goroutine's
    thread has on its system stacks (g0, gsignal) above the goroutine come first, and only
    when `system` is set; otherwise one line says how many there are."""
    lines = [header(g, style)]
    system_frames: list[Frame] = g.get("system_frames") or []
    if system_frames and system:
        for frame in system_frames:
            lines += frame_lines(frame, style, style.dim("  [system stack]"))
    elif system_frames:
        count = len(system_frames)
        lines.append(
            style.dim(
                f"({count} frame{'s' if count != 1 else ''} of the thread's system stack above "
                "this goroutine not shown; -s shows them)"
            )
        )
    for frame in g.get("frames") or []:
        lines += frame_lines(frame, style)
    created = created_by_text(g)
    if created:
        creator = g["created_by"]
        lines.append(created)
        detail = f"\t{position(creator)}"
        offset = creator_offset(g) if creator_offset is not None else None
        if offset:
            detail += f" +{offset:#x}"
        lines.append(detail)
    labels = g.get("labels")
    if isinstance(labels, dict) and labels:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        lines.append(style.dim(f"labels: {shown}"))
    error = g.get("error")
    if error:
        lines.append(style.error(f"error: {error}"))
    elif not g.get("frames"):
        lines.append(style.dim("(no frames)"))
    return "\n".join(lines)


def render_stacks(
    goroutines: Sequence[Goroutine],
    style: Style,
    system: bool = False,
    creator_offset: CreatorOffset | None = None,
) -> str:
    """Several stacks, separated by blank lines as in a Go traceback."""
    return "\n\n".join(render_stack(g, style, system, creator_offset) for g in goroutines)


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
