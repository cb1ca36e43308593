"""The triage report as one self-contained HTML page: process, crash, deadlocks and leaks, the
objects goroutines wait on, the wait-for graph drawn as inline SVG, the goroutine groups as
collapsible sections and the scheduler.

The page loads nothing: its CSS and script are inline and its Content-Security-Policy allows
only those two scripts (by hash), so it can be mailed or attached to a ticket and opened
offline. Every string from the target (function names, panic messages, labels) is escaped;
the policy would also stop a script that escaping had missed.
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from goscope import __version__
from goscope.render.dot import (
    CAN_RELEASE,
    DEADLOCK,
    HELD_BY,
    NOTHING_BLOCKED,
    WAITS,
    Edge,
    Node,
    WaitForGraph,
    address,
    blocking_objects,
    collapse,
    goroutine_groups,
    marks,
    object_title,
    wait_for_graph,
)
from goscope.render.panics import render_crash
from goscope.render.style import Style

Document = dict[str, Any]

#: Goroutine nodes drawn one by one; beyond that identical goroutines share a node.
GRAPH_GOROUTINES = 150
#: Nodes drawn at most, after merging.
GRAPH_NODES = 400
#: Goroutine ids listed in one group before "and N more".
GROUP_IDS = 500
#: Rows of a generic table (Ps, memory statistics...).
TABLE_ROWS = 300

# Graph geometry, in pixels: 12 px monospace text is about 7.2 px a character.
_CHAR = 7.2
_LINE = 15
_PAD_X = 8
_PAD_Y = 6
_LABEL_CHARS = 44
_LAYER_GAP = 150
_NODE_GAP = 14
_MARGIN = 24

# Keys whose integer values are addresses, shown in hex.
_ADDRESS_KEYS = ("addr", "pc", "sp", "fp", "gp", "lo", "hi")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _counts(counts: Any) -> str:
    if not isinstance(counts, dict):
        return ""
    ordered = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return ", ".join(f"{name} {int(n):,}" for name, n in ordered)


def _dicts(values: Any) -> list[dict[str, Any]]:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _ints(values: Any) -> list[int]:
    return [v for v in values if _is_int(v)] if isinstance(values, list) else []


# ---------------------------------------------------------------------------------------------
# The wait-for graph as SVG


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    layer: int


def _clip(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _layers(graph: WaitForGraph) -> dict[str, int]:
    """Three columns: the goroutines that wait, the objects, the goroutines that only hold
    or could release something. The drawing stays three columns wide however long the
    chains are; a cycle (a deadlock) shows as edges from the objects back to the first
    column."""
    waiting = {e.source for e in graph.edges if e.relation == WAITS}
    layer = {}
    for node in graph.nodes:
        if node.kind == "object":
            layer[node.key] = 1
        else:
            layer[node.key] = 0 if node.key in waiting else 2
    return layer


def _neighbours(graph: WaitForGraph) -> dict[str, list[str]]:
    """Each node's neighbours for placing it: those of waits and held-by edges; only when it
    has none, those of can-release edges, which are many and say less."""
    strong: dict[str, list[str]] = {n.key: [] for n in graph.nodes}
    weak: dict[str, list[str]] = {n.key: [] for n in graph.nodes}
    for edge in graph.edges:
        if edge.source in strong and edge.target in strong:
            chosen = weak if edge.relation == CAN_RELEASE else strong
            chosen[edge.source].append(edge.target)
            chosen[edge.target].append(edge.source)
    return {key: strong[key] or weak[key] for key in strong}


def _order(graph: WaitForGraph, layer: dict[str, int]) -> list[list[str]]:
    """Nodes of each layer, ordered by a few barycentre sweeps to shorten crossing edges."""
    count = max(layer.values(), default=-1) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for node in graph.nodes:
        columns[layer[node.key]].append(node.key)
    neighbours = _neighbours(graph)
    for sweep in range(4):
        forward = sweep % 2 == 0
        indices = range(1, count) if forward else range(count - 2, -1, -1)
        for index in indices:
            reference = {k: i for i, k in enumerate(columns[index - 1 if forward else index + 1])}
            centres: dict[str, float] = {}
            for place, key in enumerate(columns[index]):
                places = [reference[n] for n in neighbours[key] if n in reference]
                # A node with no neighbour there keeps its place.
                centres[key] = sum(places) / len(places) if places else float(place)
            columns[index].sort(key=centres.__getitem__)
    return columns


def layout(graph: WaitForGraph) -> tuple[dict[str, Box], float, float]:
    """Each node's box, and the drawing's width and height."""
    layer = _layers(graph)
    columns = _order(graph, layer)
    nodes = {n.key: n for n in graph.nodes}
    sizes: dict[str, tuple[float, float]] = {}
    for key, node in nodes.items():
        widest = max(len(_clip(line)) for line in node.lines)
        sizes[key] = (widest * _CHAR + 2 * _PAD_X, len(node.lines) * _LINE + 2 * _PAD_Y)
    neighbours = _neighbours(graph)
    boxes: dict[str, Box] = {}
    x = float(_MARGIN)
    bottom = float(_MARGIN)
    for index, column in enumerate(columns):
        if not column:
            continue
        width = max((sizes[k][0] for k in column), default=0.0)
        y = float(_MARGIN)
        for key in column:
            w, h = sizes[key]
            # Level with the neighbours already placed, where that does not overlap.
            placed = [boxes[n] for n in neighbours[key] if n in boxes]
            if placed:
                centre = sum(b.y + b.h / 2 for b in placed) / len(placed)
                y = max(y, centre - h / 2)
            boxes[key] = Box(x, y, w, h, index)
            y += h + _NODE_GAP
        bottom = max(bottom, y - _NODE_GAP)
        x += width + _LAYER_GAP
    total_width = x - _LAYER_GAP + _MARGIN if columns else 2 * _MARGIN
    # Room below for the edges that bend back under the nodes.
    return boxes, max(total_width, 200.0), bottom + _MARGIN + 40


def _edge_path(source: Box, target: Box) -> str:
    if target.layer > source.layer:
        x1, y1 = source.x + source.w, source.y + source.h / 2
        x2, y2 = target.x, target.y + target.h / 2
        bend = (x2 - x1) / 2
        return (
            f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} "
            f"{x2:.1f},{y2:.1f}"
        )
    if target.layer < source.layer:
        # Back along a cycle: leave on the left, arrive on the right, bowed downwards so it
        # does not lie on the forward edge between the same two nodes.
        x1, y1 = source.x, source.y + source.h / 2 + 4
        x2, y2 = target.x + target.w, target.y + target.h / 2 + 4
        bend = (x1 - x2) / 2
        return (
            f"M{x1:.1f},{y1:.1f} C{x1 - bend:.1f},{y1 + 40:.1f} {x2 + bend:.1f},{y2 + 40:.1f} "
            f"{x2:.1f},{y2:.1f}"
        )
    # Within one layer: out of the right side and back into it.
    x1, y1 = source.x + source.w, source.y + source.h / 2
    x2, y2 = target.x + target.w, target.y + target.h / 2
    reach = max(source.x + source.w, target.x + target.w) + 50
    return f"M{x1:.1f},{y1:.1f} C{reach:.1f},{y1:.1f} {reach:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


def _edge_class(edge: Edge, nodes: dict[str, Node]) -> str:
    names = ["edge", {WAITS: "waits", HELD_BY: "held", CAN_RELEASE: "release"}.get(edge.relation)]
    source, target = nodes.get(edge.source), nodes.get(edge.target)
    if source and target and source.mark == DEADLOCK and target.mark == DEADLOCK:
        names.append("deadlock")
    return " ".join(n for n in names if n)


def _marker(edge: Edge, nodes: dict[str, Node]) -> str:
    source, target = nodes.get(edge.source), nodes.get(edge.target)
    if source and target and source.mark == DEADLOCK and target.mark == DEADLOCK:
        return "arrow-deadlock"
    return "arrow-waits" if edge.relation == WAITS else "arrow-owner"


def render_svg(graph: WaitForGraph) -> str:
    boxes, width, height = layout(graph)
    nodes = {n.key: n for n in graph.nodes}
    out = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="wait-for graph">',
        "<defs>",
    ]
    for name, colour in (
        ("arrow-waits", "#555"),
        ("arrow-owner", "#1f5fbf"),
        ("arrow-deadlock", "#c0392b"),
    ):
        out.append(
            f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    for edge in graph.edges:
        source, target = boxes.get(edge.source), boxes.get(edge.target)
        if source is None or target is None:
            continue
        title = f"{edge.relation} ({edge.note})" if edge.note else edge.relation
        out.append(
            f'<path class="{_e(_edge_class(edge, nodes))}" data-source="{_e(edge.source)}" '
            f'data-target="{_e(edge.target)}" d="{_edge_path(source, target)}" '
            f'marker-end="url(#{_marker(edge, nodes)})"><title>{_e(title)}</title></path>'
        )
    for node in graph.nodes:
        box = boxes[node.key]
        names = ["node", node.kind] + ([node.mark] if node.mark else [])
        group = f' data-group="{node.group}"' if node.group is not None else ""
        radius = 8 if node.kind == "goroutine" else 2
        out.append(
            f'<g class="{_e(" ".join(names))}" data-node="{_e(node.key)}"{group}>'
            f"<title>{_e(chr(10).join(node.lines))}</title>"
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            f'rx="{radius}"/>'
        )
        out.append(f'<text x="{box.x + _PAD_X:.1f}" y="{box.y + _PAD_Y:.1f}">')
        for line in node.lines:
            out.append(f'<tspan x="{box.x + _PAD_X:.1f}" dy="{_LINE}">{_e(_clip(line))}</tspan>')
        out.append("</text></g>")
    out.append("</svg>")
    return "\n".join(out)


def _limited(graph: WaitForGraph) -> tuple[WaitForGraph, str]:
    """The graph to draw, and a note when it is not every goroutine one by one."""
    drawn = collapse(graph, GRAPH_GOROUTINES)
    note = ""
    if drawn is not graph:
        note = (
            f"{len(graph.goroutine_ids()):,} goroutines: goroutines of one group with the same "
            "edges share a node. goscope triage --dot gives every goroutine."
        )
    if len(drawn.nodes) > GRAPH_NODES:
        kept = drawn.nodes[:GRAPH_NODES]
        keys = {n.key for n in kept}
        edges = [e for e in drawn.edges if e.source in keys and e.target in keys]
        note = (
            f"The first {GRAPH_NODES:,} of {len(drawn.nodes):,} nodes are drawn; "
            "goscope triage --dot gives the whole graph."
        )
        drawn = WaitForGraph(kept, edges)
    return drawn, note


def graph_section(document: Document) -> str:
    graph = wait_for_graph(document)
    parts = ['<section id="graph"><h2>Wait-for graph</h2>']
    if graph.empty:
        parts.append(f'<p class="empty">{_e(NOTHING_BLOCKED)}</p></section>')
        return "\n".join(parts)
    drawn, note = _limited(graph)
    parts.append(
        '<p class="legend"><span class="key goroutine">goroutine</span> '
        '<span class="key object">object waited on</span> '
        '<span class="key deadlock">deadlocked</span> '
        '<span class="key leak">leaked</span> '
        "<span>→ waits</span> <span class=owner>→ held by / can release</span>. "
        "Click a goroutine for its group.</p>"
    )
    if note:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append(f'<div class="graph-box">{render_svg(drawn)}</div></section>')
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Sections


class _Links:
    """Goroutine ids as links to their group's section."""

    def __init__(self, document: Document) -> None:
        self.groups = {goid: number for goid, (number, _) in goroutine_groups(document).items()}

    def goroutine(self, goid: int) -> str:
        number = self.groups.get(goid)
        if number is None:
            return f'<span class="gid">{goid}</span>'
        return f'<a class="gid" href="#group-{number}">{goid}</a>'

    def goroutines(self, ids: Sequence[int], limit: int = 50) -> str:
        shown = ", ".join(self.goroutine(i) for i in sorted(ids)[:limit])
        if len(ids) > limit:
            shown += f", … and {len(ids) - limit:,} more"
        return shown or "none"


def _frames(frames: Sequence[dict[str, Any]]) -> str:
    rows = []
    for frame in frames:
        name = str(frame.get("function"))
        if frame.get("inlined"):
            name += "(...)"
        where = f"{frame.get('file') or '?'}:{frame.get('line')}"
        rows.append(
            f'<li><span class="fn">{_e(name)}</span><br><span class="loc">{_e(where)}</span></li>'
        )
    return f'<ol class="stack">{"".join(rows)}</ol>' if rows else "<p>no frames</p>"


def _scalar(key: str, value: Any) -> str:
    if value is None:
        return '<span class="dim">–</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_int(value) and (key in _ADDRESS_KEYS or key.endswith("_addr")):
        return _e(hex(value))
    if _is_int(value):
        return _e(f"{value:,}")
    return _e(value)


def value_html(value: Any, key: str = "", depth: int = 0) -> str:
    """Any JSON value: objects as key/value tables, lists of objects as tables with a column
    for each key, other lists inline."""
    if depth > 6:
        return _e(value)
    if isinstance(value, dict):
        if not value:
            return '<span class="dim">none</span>'
        rows = "".join(
            f"<tr><th>{_e(k)}</th><td>{value_html(v, str(k), depth + 1)}</td></tr>"
            for k, v in value.items()
        )
        return f'<table class="kv">{rows}</table>'
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return _table(value, depth)
        items = [
            _scalar(key, v) if not isinstance(v, (dict, list)) else value_html(v) for v in value
        ]
        return ", ".join(items[:TABLE_ROWS]) + (" …" if len(items) > TABLE_ROWS else "")
    return _scalar(key, value)


def _table(rows: Sequence[dict[str, Any]], depth: int = 0) -> str:
    columns: list[str] = []
    for row in rows[:TABLE_ROWS]:
        columns += [str(k) for k in row if str(k) not in columns]
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows[:TABLE_ROWS]:
        cells = "".join(f"<td>{value_html(row.get(c), c, depth + 1)}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(rows) > TABLE_ROWS:
        more = f'<p class="note">… and {len(rows) - TABLE_ROWS:,} more rows (--json has all)</p>'
    return f'<table class="grid"><tr>{head}</tr>{"".join(body)}</table>{more}'


def process_section(document: Document, source: str | None) -> str:
    process = document.get("process") or {}
    threads = _dicts(process.get("threads"))
    ps = _dicts(process.get("ps"))
    states: dict[str, int] = {}
    for group in _dicts(document.get("groups")):
        for state, n in (group.get("states") or {}).items():
            states[str(state)] = states.get(str(state), 0) + int(n)
    total = document.get("total")
    total_text = _plural(total, "goroutine") if _is_int(total) else "goroutines ?"
    summary = (
        f"{document.get('go_version') or 'Go ?'}, {_plural(len(threads), 'thread')}, "
        f"GOMAXPROCS {process.get('gomaxprocs', len(ps))}, {total_text}"
    )
    parts = ['<section id="process"><h2>Process</h2>']
    if source:
        parts.append(f'<p class="source">{_e(source)}</p>')
    parts.append(f'<p class="summary">{_e(summary)}</p>')
    chips = "".join(
        f'<span class="chip">{_e(name)} <b>{n:,}</b></span>'
        for name, n in sorted(states.items(), key=lambda item: (-item[1], item[0]))
    )
    parts.append(f'<p class="chips">{chips}</p>')
    if threads:
        parts.append(f"<details><summary>{_plural(len(threads), 'thread')}</summary>")
        parts.append(_table(threads) + "</details>")
    if ps:
        parts.append(f"<details><summary>{_plural(len(ps), 'P')}</summary>")
        parts.append(_table(ps) + "</details>")
    parts.append("</section>")
    return "\n".join(parts)


def crash_section(document: Document) -> str:
    crash = document.get("crash")
    parts = ['<section id="crash"><h2>Crash</h2>']
    if not isinstance(crash, dict):
        parts.append(f"<p>{_e(render_crash(None, Style(False)))}</p></section>")
        return "\n".join(parts)
    lines = render_crash(crash, Style(False)).splitlines()
    if lines:
        parts.append(f'<p class="crash-summary">{_e(lines[0])}</p>')
    if lines[1:]:
        parts.append(f'<pre class="crash">{_e(chr(10).join(lines[1:]))}</pre>')
    goid = crash.get("goroutine")
    found = goroutine_groups(document).get(goid) if _is_int(goid) else None
    if found is not None:
        number, group = found
        parts.append(
            f'<h3>Goroutine {_e(goid)} <a href="#group-{number}">(group {number})</a></h3>'
        )
        parts.append(_frames(_dicts(group.get("frames"))))
    parts.append("</section>")
    return "\n".join(parts)


def _findings(document: Document, key: str) -> list[dict[str, Any]] | None:
    blocking = document.get("blocking")
    if not isinstance(blocking, dict) or key not in blocking:
        return None
    return _dicts(blocking.get(key))


def findings_section(document: Document, links: _Links) -> str:
    """Deadlocks and leaks, each with its goroutines and objects; nothing when the document
    does not say (an older goscope)."""
    deadlocks, leaks = _findings(document, "deadlocks"), _findings(document, "leaks")
    if deadlocks is None and leaks is None:
        return ""
    titles = {o.get("addr"): object_title(o) for o in blocking_objects(document)}

    def objects(addrs: list[int]) -> str:
        if not addrs:
            return ""
        names = ", ".join(_e(titles.get(a) or address(a)) for a in addrs)
        return f"<br>objects: {names}"

    parts = ['<section id="findings">']
    parts.append(f"<h2>Deadlocks ({len(deadlocks or []):,})</h2>")
    if not deadlocks:
        parts.append('<p class="dim">none found</p>')
    for d in deadlocks or []:
        parts.append(
            f'<div class="finding deadlock"><b>{_e(d.get("kind") or "deadlock")}</b>: '
            f"{_e(d.get('summary') or '')}<br>goroutines: "
            f"{links.goroutines(_ints(d.get('goroutines')))}"
            f"{objects(_ints(d.get('objects')))}</div>"
        )
    parts.append(f"<h2>Leaks ({len(leaks or []):,})</h2>")
    if not leaks:
        parts.append('<p class="dim">none found</p>')
    for leak in leaks or []:
        count = leak.get("count")
        head = f"{_e(leak.get('kind') or 'leak')}"
        if _is_int(count):
            head += f" × {count:,}"
        low, high = leak.get("min_wait_minutes"), leak.get("max_wait_minutes")
        waited = ""
        if _is_int(low) and _is_int(high):
            waited = f", waiting {low}–{high} minutes" if low != high else f", waiting {low} min"
        parts.append(
            f'<div class="finding leak"><b>{head}</b> at '
            f'<span class="loc">{_e(leak.get("site") or "?")}</span>{_e(waited)}<br>'
            f"{_e(leak.get('summary') or '')}<br>goroutines: "
            f"{links.goroutines(_ints(leak.get('goroutines')))}"
            f"{objects(_ints(leak.get('objects')))}</div>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _evidence(value: Any) -> str:
    """Why the holders are thought to hold: one text, or one per goroutine (shown grouped by
    reason: ``stack: 1; heap object: 19, 20``)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return ""
    by_reason: dict[str, list[str]] = {}
    for key, reason in value.items():
        if isinstance(reason, list):  # {reason: [ids]}
            by_reason.setdefault(str(key), []).extend(str(i) for i in reason)
        else:  # {id: reason}
            by_reason.setdefault(str(reason), []).append(str(key))
    return "; ".join(f"{reason}: {', '.join(ids)}" for reason, ids in by_reason.items())


def objects_section(document: Document, links: _Links) -> str:
    objects = blocking_objects(document)
    _, object_marks = marks(document)
    title = f"Channels and sync objects waited on ({len(objects):,})"
    parts = [f'<section id="objects"><h2>{title}</h2>']
    if not objects:
        parts.append('<p class="dim">none</p></section>')
        return "\n".join(parts)
    rows = []
    ordered = sorted(
        objects,
        key=lambda o: -(len(_ints(o.get("waiters"))) + len(_ints(o.get("holders")))),
    )
    for obj in ordered[:TABLE_ROWS]:
        mark = object_marks.get(obj.get("addr")) if _is_int(obj.get("addr")) else None
        detail = str(obj.get("detail") or "")
        if obj.get("error"):
            detail += f" (error: {obj['error']})"
        holders = links.goroutines(_ints(obj.get("holders")))
        evidence = _evidence(obj.get("holder_evidence", obj.get("holders_evidence")))
        if evidence:
            holders += f'<br><span class="dim">{_e(evidence)}</span>'
        rows.append(
            f'<tr class="{_e(mark or "")}"><td>{_e(object_title(obj))}</td>'
            f"<td>{_e(obj.get('kind') or '?')}</td><td>{_e(detail)}</td>"
            f"<td>{links.goroutines(_ints(obj.get('waiters')))}</td><td>{holders}</td></tr>"
        )
    parts.append(
        '<table class="grid"><tr><th>object</th><th>kind</th><th>state</th>'
        f"<th>waiters</th><th>holders / can release</th></tr>{''.join(rows)}</table>"
    )
    if len(ordered) > TABLE_ROWS:
        parts.append(f'<p class="note">… and {len(ordered) - TABLE_ROWS:,} more</p>')
    blocking = document.get("blocking")
    notes = blocking.get("notes") if isinstance(blocking, dict) else None
    if isinstance(notes, list) and notes:
        parts.append("<ul class=notes>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _group(number: int, group: dict[str, Any], marked: dict[int, str]) -> str:
    count = int(group.get("count") or 0)
    ids = _ints(group.get("ids"))
    flags = {marked[i] for i in ids if i in marked}
    names = ["group"] + sorted(flags) + (["crashed"] if group.get("crashed") else [])
    head = f"[{number}] {_plural(count, 'goroutine')}"
    badges = ""
    if group.get("crashed"):
        badges += ' <span class="badge crashed">crashed</span>'
    for flag in sorted(flags):
        badges += f' <span class="badge {_e(flag)}">{_e(flag)}</span>'
    open_attr = " open" if group.get("crashed") or flags else ""
    lines = []
    low, high = group.get("min_wait_minutes"), group.get("max_wait_minutes")
    if _is_int(low) and _is_int(high) and high >= 1:
        waited = f"{low}–{high} minutes" if low != high else f"{low} minutes"
        lines.append(f"<tr><th>waiting</th><td>{_e(waited)}</td></tr>")
    if group.get("created_by"):
        lines.append(f"<tr><th>created by</th><td>{_e(_counts(group['created_by']))}</td></tr>")
    if group.get("labels"):
        lines.append(f"<tr><th>labels</th><td>{_e(_counts(group['labels']))}</td></tr>")
    shown = ", ".join(str(i) for i in ids[:GROUP_IDS])
    if len(ids) > GROUP_IDS:
        shown += f", … and {len(ids) - GROUP_IDS:,} more"
    lines.append(f"<tr><th>goroutines</th><td>{_e(shown)}</td></tr>")
    return (
        f'<details id="group-{number}" class="{_e(" ".join(names))}"{open_attr}>'
        f'<summary><b>{_e(head)}</b> <span class="states">{_e(_counts(group.get("states")))}'
        f"</span>{badges}</summary>"
        f'<table class="kv">{"".join(lines)}</table>{_frames(_dicts(group.get("frames")))}'
        "</details>"
    )


def groups_section(document: Document) -> str:
    groups = _dicts(document.get("groups"))
    marked, _ = marks(document)
    parts = [
        '<section id="groups">',
        f"<h2>Goroutines in {_plural(len(groups), 'group')} of identical stacks</h2>",
        '<p class="tools"><button type="button" data-action="expand">expand all</button> '
        '<button type="button" data-action="collapse">collapse all</button> '
        '<input type="search" id="filter" placeholder="filter groups: function, state, id">'
        "</p>",
    ]
    parts += [_group(number, group, marked) for number, group in enumerate(groups, 1)]
    parts.append("</section>")
    return "\n".join(parts)


def scheduler_section(document: Document) -> str:
    scheduler = document.get("scheduler")
    if not isinstance(scheduler, dict) or not scheduler:
        return ""
    return f'<section id="scheduler"><h2>Scheduler and memory</h2>{value_html(scheduler)}</section>'


# ---------------------------------------------------------------------------------------------
# The page

_CSS = """
:root { --fg: #1d2228; --dim: #6b7280; --line: #d9dde3; --accent: #1f5fbf;
  --deadlock: #c0392b; --deadlock-bg: #fde0dc; --leak: #d35400; --leak-bg: #ffe7c2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: #fff; }
header { background: #16324f; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header nav a { color: #cfe0f5; margin-right: 14px; font-size: 13px; }
main { padding: 8px 24px 40px; max-width: 1600px; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 26px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
a { color: var(--accent); }
code, pre, .fn, .loc, .gid, svg text, table.grid td { font-family: ui-monospace, monospace; }
pre { background: #f6f7f9; border: 1px solid var(--line); padding: 8px; overflow-x: auto; }
.dim, .loc { color: var(--dim); }
.crash-summary { color: var(--deadlock); font-weight: 600; font-size: 15px; }
.chip { display: inline-block; background: #eef1f5; border-radius: 10px; padding: 1px 8px;
  margin: 2px 4px 2px 0; font-size: 12px; }
ol.stack { margin: 6px 0; padding-left: 28px; font-size: 13px; }
ol.stack li { margin-bottom: 2px; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
table.grid th, table.grid td { border: 1px solid var(--line); padding: 2px 6px; text-align: left;
  vertical-align: top; }
table.grid th { background: #f1f3f6; }
table.kv th { text-align: left; padding: 1px 12px 1px 0; color: var(--dim); font-weight: normal;
  vertical-align: top; }
tr.deadlock td { background: var(--deadlock-bg); }
tr.leak td { background: var(--leak-bg); }
.finding { border-left: 4px solid var(--line); padding: 4px 10px; margin: 6px 0; }
.finding.deadlock { border-color: var(--deadlock); background: var(--deadlock-bg); }
.finding.leak { border-color: var(--leak); background: var(--leak-bg); }
details.group { border: 1px solid var(--line); border-radius: 4px; margin: 6px 0;
  padding: 4px 10px; }
details.group.crashed { border-color: var(--deadlock); }
details.group summary { cursor: pointer; }
details.group .states { color: var(--dim); }
details:target { outline: 2px solid var(--accent); }
.badge { font-size: 11px; border-radius: 8px; padding: 0 6px; color: #fff; }
.badge.crashed, .badge.deadlock { background: var(--deadlock); }
.badge.leak { background: var(--leak); }
.tools input { width: 320px; padding: 2px 6px; }
.hidden { display: none; }
.graph-box { overflow: auto; border: 1px solid var(--line); background: #fcfcfd; }
svg.graph text { font-size: 12px; fill: var(--fg); }
svg.graph .node rect { stroke-width: 1.2; }
svg.graph .goroutine rect { fill: #e8f0fe; stroke: #4a6fa5; }
svg.graph .object rect { fill: #f3f3f3; stroke: #777; }
svg.graph .deadlock rect { fill: #fbd3ce; stroke: var(--deadlock); stroke-width: 2; }
svg.graph .leak rect { fill: #ffdfb0; stroke: var(--leak); stroke-width: 2; }
svg.graph .goroutine { cursor: pointer; }
svg.graph .edge { fill: none; stroke: #555; stroke-width: 1.2; }
svg.graph .edge.held, svg.graph .edge.release { stroke: var(--accent); }
svg.graph .edge.release { stroke-dasharray: 5 3; stroke-opacity: 0.55; }
svg.graph .edge.deadlock { stroke: var(--deadlock); stroke-width: 2; }
svg.graph .lit rect { stroke-width: 3; }
svg.graph .edge.lit { stroke-width: 3; }
.legend .key { display: inline-block; padding: 0 6px; border: 1px solid; border-radius: 4px;
  font-size: 12px; }
.legend .key.goroutine { background: #e8f0fe; border-color: #4a6fa5; }
.legend .key.object { background: #f3f3f3; border-color: #777; }
.legend .key.deadlock { background: #fbd3ce; border-color: var(--deadlock); }
.legend .key.leak { background: #ffdfb0; border-color: var(--leak); }
.legend .owner { color: var(--accent); }
.empty { font-style: italic; }
footer { color: var(--dim); font-size: 12px; padding: 0 24px 20px; }
"""

# Runs first: records any error or blocked load into the page itself (data-errors), where a
# headless browser's DOM dump shows it.
_ERROR_SCRIPT = """
(function () {
  var root = document.documentElement, errors = [];
  function record(text) {
    errors.push(String(text));
    root.setAttribute('data-errors', errors.join('\\n'));
  }
  window.addEventListener('error', function (event) {
    record(event.message || ('failed to load ' + (event.target && event.target.tagName)));
  }, true);
  window.addEventListener('unhandledrejection', function (event) {
    record('unhandled rejection: ' + event.reason);
  });
  document.addEventListener('securitypolicyviolation', function (event) {
    record('blocked by the page policy: ' + event.violatedDirective);
  });
})();
"""

# Expand/collapse and filtering of groups; the graph's goroutines lead to their group.
# data-ready marks that it ran to the end.
_PAGE_SCRIPT = """
(function () {
  var groups = Array.prototype.slice.call(document.querySelectorAll('details.group'));
  document.querySelectorAll('[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      var open = button.getAttribute('data-action') === 'expand';
      groups.forEach(function (group) { group.open = open; });
    });
  });
  var filter = document.getElementById('filter');
  if (filter) {
    filter.addEventListener('input', function () {
      var words = filter.value.toLowerCase().trim();
      groups.forEach(function (group) {
        var hit = !words || group.textContent.toLowerCase().indexOf(words) >= 0;
        group.classList.toggle('hidden', !hit);
      });
    });
  }
  var edges = Array.prototype.slice.call(document.querySelectorAll('svg.graph .edge'));
  document.querySelectorAll('svg.graph .node').forEach(function (node) {
    var key = node.getAttribute('data-node');
    function light(on) {
      node.classList.toggle('lit', on);
      edges.forEach(function (edge) {
        if (edge.getAttribute('data-source') === key || edge.getAttribute('data-target') === key) {
          edge.classList.toggle('lit', on);
        }
      });
    }
    node.addEventListener('mouseenter', function () { light(true); });
    node.addEventListener('mouseleave', function () { light(false); });
    var number = node.getAttribute('data-group');
    if (number) {
      node.addEventListener('click', function () {
        var group = document.getElementById('group-' + number);
        if (group) { group.open = true; group.scrollIntoView(); }
      });
    }
  });
  document.documentElement.setAttribute('data-ready', 'yes');
})();
"""


def _hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _policy() -> str:
    # Nothing may load from anywhere; only the page's own two scripts run.
    return (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src {_hash(_ERROR_SCRIPT)} {_hash(_PAGE_SCRIPT)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )


def _page(title: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_e(_policy())}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            f"<script>{_ERROR_SCRIPT}</script>",
            "</head>",
            "<body>",
            *body,
            f"<script>{_PAGE_SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def render_html(document: Document, source: str | None = None) -> str:
    """The page for a triage document (what ``--json`` prints). `source` says what was read,
    e.g. the core and executable paths."""
    links = _Links(document)
    title = f"goscope triage: {document.get('go_version') or 'Go ?'}"
    sections = [
        ("process", "process", process_section(document, source)),
        ("crash", "crash", crash_section(document)),
        ("findings", "deadlocks and leaks", findings_section(document, links)),
        ("graph", "wait-for graph", graph_section(document)),
        ("objects", "objects", objects_section(document, links)),
        ("groups", "goroutine groups", groups_section(document)),
        ("scheduler", "scheduler", scheduler_section(document)),
    ]
    nav = " ".join(f'<a href="#{anchor}">{name}</a>' for anchor, name, text in sections if text)
    body = [
        f"<header><h1>{_e(title)}</h1><nav>{nav}</nav></header>",
        "<main>",
        *(text for _, _, text in sections if text),
        "</main>",
        f"<footer>goscope {_e(__version__)}</footer>",
    ]
    return _page(title, body)
