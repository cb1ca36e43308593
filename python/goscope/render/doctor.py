"""Text of ``go doctor`` / ``goscope doctor``: a checklist, one line per finding."""

from __future__ import annotations

import textwrap
from typing import Sequence

from goscope.doctor import ATTACH, BINARY, CORE, ERROR, OK, WARN, Finding
from goscope.render.style import Style

_WIDTH = 100
_STATUS_WIDTH = 7  # "[error]"
_INDENT = " " * (_STATUS_WIDTH + 1)


def doctor_headings(pid: int | None, core: str | None) -> dict[str, str]:
    """Section headings naming what was checked."""
    if core is not None:
        core_heading = f"Core file {core}"
    elif pid is not None:
        core_heading = f"Core dumps of process {pid}"
    else:
        core_heading = "Core dumps of programs started from here"
    return {
        ATTACH: f"Attaching to process {pid}" if pid is not None else "Attaching (ptrace)",
        CORE: core_heading,
        BINARY: "Binary",
    }


def _headings(subject: dict[str, str]) -> dict[str, str]:
    return {
        ATTACH: subject.get(ATTACH, "Attaching"),
        CORE: subject.get(CORE, "Core dumps"),
        BINARY: subject.get(BINARY, "Binary"),
    }


def _status(status: str, style: Style) -> str:
    mark = f"[{status}]".ljust(_STATUS_WIDTH)
    if status == OK:
        return style.good(mark)
    if status == WARN:
        return style.warning(mark)
    return style.error(mark)


def _wrapped(text: str, first: str) -> list[str]:
    lines = textwrap.wrap(
        text,
        width=_WIDTH,
        initial_indent=first,
        subsequent_indent=_INDENT,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return lines or [first.rstrip()]


def render_doctor(
    findings: Sequence[Finding], style: Style, subject: dict[str, str] | None = None
) -> str:
    """The checklist, grouped by topic (attaching, core dumps, binary); `subject` may name
    what each topic is about, e.g. ``{"attach": "Attaching to process 1234"}``."""
    headings = _headings(subject or {})
    out: list[str] = []
    for topic in (ATTACH, CORE, BINARY):
        chosen = [f for f in findings if f.topic == topic]
        if not chosen:
            continue
        if out:
            out.append("")
        out.append(style.heading(headings[topic]))
        for finding in chosen:
            # Plain-width prefix for wrapping, coloured afterwards.
            plain = f"[{finding.status}]".ljust(_STATUS_WIDTH) + " "
            lines = _wrapped(finding.message, plain)
            lines[0] = _status(finding.status, style) + lines[0][len(plain) - 1 :]
            out.extend(lines)
            if finding.fix:
                # One line however long: a fix is a command to copy.
                out.append(_INDENT + "fix: " + finding.fix)
    errors = sum(1 for f in findings if f.status == ERROR)
    warnings = sum(1 for f in findings if f.status == WARN)
    out.append("")
    summary = f"{errors} error(s), {warnings} warning(s), {len(findings) - errors - warnings} ok"
    out.append(style.error(summary) if errors else style.emphasis(summary))
    return "\n".join(out)
