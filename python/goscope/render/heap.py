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


def _hex(n: int) -> str:
    return f"{n:#x}"


def render_report(report: dict[str, Any], style: Style) -> str:
    """Objects grouped by type, size class or root (``Target.heap_report_json()``), then the
    objects that keep the most memory alive by themselves."""
    t = report["totals"]
    typed = 100 * t["typed_bytes"] // t["bytes"] if t["bytes"] else 0
    lines = [
        style.heading(
            f"objects by {report['by']}: {_count(t['objects'], 'object')}, "
            f"{human_bytes(t['bytes'])}; reachable from "
            f"{_count(t['roots'], 'root')}: {t['reachable_objects']} objects, "
            f"{human_bytes(t['reachable_bytes'])}; type known for {typed}% of the bytes"
            + ("" if report["dwarf"] else " (no DWARF: types from the runtime's metadata)")
        )
    ]
    by_root = report["by"] == "root"
    head = f"  {'objects':>9} {'bytes':>12} {'reachable':>12}"
    if by_root:
        head += f" {'retained':>12}"
    lines.append(head + f"  {report['by']}")
    rows = list(report["rows"])
    if report.get("rest"):
        rows.append(report["rest"])
    for r in rows:
        line = f"  {r['objects']:>9} {r['bytes']:>12} {r['reachable_bytes']:>12}"
        if by_root:
            retained = r.get("retained")
            line += f" {retained if retained is not None else '-':>12}"
        lines.append(f"{line}  {r['name']}")
    if report["retainers"]:
        lines.append("")
        lines.append(style.heading("objects retaining the most (dominator tree):"))
        for r in report["retainers"][:10]:
            root = f"  from {r['root']}" if r.get("root") else ""
            lines.append(
                f"  {_hex(r['addr']):>14} {human_bytes(r['retained']):>10}  {r['type']}"
                f" ({r['size']} B){root}"
            )
    for warning in report["warnings"]:
        lines.append(style.warning(f"warning: {warning}"))
    return "\n".join(lines)


def _step_text(step: dict[str, Any]) -> str:
    if step["step"] == "root":
        return f"{step['kind']} {step['name']}"
    via = f"  via {step['via']}" if step.get("via") else ""
    return f"{_hex(step['addr'])} {step['type']} ({step['size']} B){via}"


def render_why(why: dict[str, Any], style: Style) -> str:
    """The shortest path from a root to an object (``Target.heap_why_json()``)."""
    obj = why.get("object")
    if obj is None:
        return style.warning("; ".join(why["warnings"]) or "not a heap object")
    head = f"{_hex(why['addr'])} is in {_hex(obj['addr'])}, {obj['type']} ({obj['size']} bytes); "
    if not why["reachable"]:
        return head + "no root reaches it: garbage the next collection frees"
    lines = [style.heading(head + f"it keeps {human_bytes(why['retained'])} alive by itself")]
    for i, step in enumerate(why["path"]):
        lines.append(("  " if i == 0 else "  -> ") + _step_text(step))
    return "\n".join(lines)
