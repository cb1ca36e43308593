"""Text rendering of a heap walk (``Target.heap_json()``): the totals, then the size classes
holding the most bytes."""

from __future__ import annotations

from typing import Any

from goscope.render.style import Style


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _figure(style: Style, name: str, value: int | None, extra: str = "") -> str:
    # Padded before painting, so that colour codes do not upset the columns.
    label = style.label(f"{name}:".ljust(12))
    if value is None:
        return f"  {label} unavailable"
    text = f"  {label} {value:>12} bytes  ({human_bytes(value)})"
    return f"{text}  {extra}" if extra else text


def render_heap(walk: dict[str, Any], top: int, style: Style) -> str:
    """The summary `goscope heap` and `go heap` print."""
    totals = walk["totals"]
    lines = [
        style.heading(
            f"heap: {_count(totals['arenas'], 'arena')}, "
            f"{_count(totals['spans_in_use'], 'span')} in use, "
            f"{_count(totals['spans_manual'], 'stack span')}"
        ),
        _figure(style, "in use", totals["heap_inuse"], _count(totals["spans_in_use"], "span")),
        _figure(style, "allocated", totals["heap_alloc"], _count(totals["heap_objects"], "object")),
        _figure(style, "idle", totals["heap_idle"]),
        _figure(style, "released", totals["heap_released"]),
        _figure(style, "stacks", totals["stack_inuse"], _count(totals["spans_manual"], "span")),
        _figure(style, "large", totals["large_bytes"], _count(totals["large_objects"], "object")),
    ]
    classes: list[dict[str, Any]] = walk["size_classes"]
    shown = classes[: max(top, 0)]
    lines.append("")
    lines.append(style.heading(f"size classes by bytes (top {len(shown)} of {len(classes)}):"))
    lines.append(
        f"  {'class':>5} {'size':>6} {'objects':>8} {'bytes':>10} {'spans':>6} {'used':>5}"
    )
    for c in shown:
        used = f"{100 * c['objects'] // c['slots']}%" if c["slots"] else "-"
        lines.append(
            f"  {c['class']:>5} {c['size']:>6} {c['objects']:>8} {c['bytes']:>10} "
            f"{c['spans']:>6} {used:>5}"
        )
    for warning in walk["warnings"]:
        lines.append(style.warning(f"warning: {warning}"))
    return "\n".join(lines)
