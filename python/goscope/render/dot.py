"""The wait-for graph of a triage report, and its Graphviz DOT text.

Nodes are the goroutines that wait or could release something, and the objects they wait on
(channels, mutexes, wait groups...); an edge goes from a goroutine to what it waits on
("waits") and from an object to the goroutines that hold it ("held by") or could release it
("can release"). Goroutines and objects of a deadlock are marked ``deadlock``, of a leak
``leak``. The graph is built from the ``--json`` document alone, so the HTML page draws the
same graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

Document = dict[str, Any]

WAITS = "waits"
HELD_BY = "held by"
CAN_RELEASE = "can release"

DEADLOCK = "deadlock"
LEAK = "leak"

#: Kinds whose holders own the object; the holders of any other kind are goroutines that
#: could release the waiters (a channel's other side, whoever would call Done or Signal).
_OWNED_KINDS = ("mutex", "rwmutex")

NOTHING_BLOCKED = "no goroutine is blocked on another"


@dataclass(frozen=True)
class Node:
    key: str
    """Unique and stable: ``g17`` for goroutine 17, ``o0xc000012345`` for an object."""
    kind: str
    """``goroutine`` or ``object``."""
    lines: tuple[str, ...]
    """The label, one line each: ``goroutine 17``, its state, its top user function."""
    mark: str | None = None
    """:data:`DEADLOCK`, :data:`LEAK` or None."""
    goroutines: tuple[int, ...] = ()
    """The goroutine (several when identical goroutines were merged into one node)."""
    group: int | None = None
    """The 1-based number of the goroutine's group in the report."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    relation: str
    """:data:`WAITS`, :data:`HELD_BY` or :data:`CAN_RELEASE`."""
    note: str = ""
    """What kind of wait, where known: ``recv`` or ``send`` on a channel."""


@dataclass
class WaitForGraph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.nodes

    def goroutine_ids(self) -> set[int]:
        return {i for n in self.nodes if n.kind == "goroutine" for i in n.goroutines}


def _ints(values: Any) -> list[int]:
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def _dicts(values: Any) -> list[dict[str, Any]]:
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, dict)]


def address(value: Any) -> str:
    return hex(value) if isinstance(value, int) and not isinstance(value, bool) else "?"


def channel_buffer(channel: dict[str, Any]) -> str:
    cap = channel.get("cap")
    text = f"buffered {channel.get('len')}/{cap}" if cap else "unbuffered"
    return text + (", closed" if channel.get("closed") else "")


def blocking_objects(document: Document) -> list[dict[str, Any]]:
    """``blocking.objects``, plus the channels of ``blocking.channels`` it does not list (older
    documents have channels only), as objects: addr, kind, type, waiters, holders, detail."""
    blocking = document.get("blocking") or {}
    if not isinstance(blocking, dict):
        return []
    objects = _dicts(blocking.get("objects"))
    listed = {o.get("addr") for o in objects}
    for channel in _dicts(blocking.get("channels")):
        if channel.get("addr") in listed:
            continue
        objects.append(
            {
                "addr": channel.get("addr"),
                "kind": "channel",
                "type": f"chan {channel.get('elem_type') or '?'}",
                "waiters": _ints(channel.get("receivers")) + _ints(channel.get("senders")),
                "holders": [],
                "detail": channel_buffer(channel),
                "error": channel.get("error"),
            }
        )
    return objects


def object_title(obj: dict[str, Any]) -> str:
    """``sync.Mutex 0xc000012345``, ``chan int 0xc00001c0c0``."""
    return f"{obj.get('type') or obj.get('kind') or 'object'} {address(obj.get('addr'))}"


def marks(document: Document) -> tuple[dict[int, str], dict[int, str]]:
    """The mark of each goroutine and each object address: a deadlock outranks a leak."""
    blocking = document.get("blocking") or {}
    if not isinstance(blocking, dict):
        return {}, {}
    goroutines: dict[int, str] = {}
    objects: dict[int, str] = {}
    for mark, key in ((LEAK, "leaks"), (DEADLOCK, "deadlocks")):
        for finding in _dicts(blocking.get(key)):
            for goid in _ints(finding.get("goroutines")):
                goroutines[goid] = mark
            for addr in _ints(finding.get("objects")):
                objects[addr] = mark
    return goroutines, objects


def where_function(group: dict[str, Any]) -> str | None:
    """The function of the frame the core picked as where the group's goroutines are (their
    innermost frame in the program's own code, else outside the runtime)."""
    frames = _dicts(group.get("frames"))
    index = group.get("where_frame")
    if isinstance(index, int) and 0 <= index < len(frames):
        function = frames[index].get("function")
        return str(function) if function else None
    return None


def group_state(group: dict[str, Any]) -> str:
    """The goroutines' state, or every state of the group when they differ."""
    states = group.get("states") or {}
    if not isinstance(states, dict) or not states:
        return "?"
    ordered = sorted(states.items(), key=lambda item: (-int(item[1]), str(item[0])))
    if len(ordered) == 1:
        return str(ordered[0][0])
    return " | ".join(str(name) for name, _ in ordered)


def goroutine_groups(document: Document) -> dict[int, tuple[int, dict[str, Any]]]:
    """Each goroutine id's group, with the group's 1-based number in the report."""
    found: dict[int, tuple[int, dict[str, Any]]] = {}
    for number, group in enumerate(_dicts(document.get("groups")), 1):
        for goid in _ints(group.get("ids")):
            found[goid] = (number, group)
    return found


def wait_for_graph(document: Document) -> WaitForGraph:
    objects = blocking_objects(document)
    goroutine_marks, object_marks = marks(document)
    blocking = document.get("blocking") or {}
    # Which side of a channel each goroutine waits on, for the edge notes.
    sides: dict[tuple[int, int], str] = {}
    if isinstance(blocking, dict):
        for channel in _dicts(blocking.get("channels")):
            addr = channel.get("addr")
            if isinstance(addr, int):
                for goid in _ints(channel.get("receivers")):
                    sides[(addr, goid)] = "recv"
                for goid in _ints(channel.get("senders")):
                    sides[(addr, goid)] = "send" if (addr, goid) not in sides else "recv, send"

    graph = WaitForGraph()
    edges: dict[tuple[str, str, str], Edge] = {}
    goroutines: set[int] = set()
    for index, obj in enumerate(objects):
        addr = obj.get("addr")
        key = f"o{address(addr)}" if isinstance(addr, int) else f"o?{index}"
        waiters, holders = _ints(obj.get("waiters")), _ints(obj.get("holders"))
        lines = [object_title(obj)]
        if obj.get("detail"):
            lines.append(str(obj["detail"]))
        if obj.get("error"):
            lines.append(f"error: {obj['error']}")
        mark = object_marks.get(addr) if isinstance(addr, int) else None
        graph.nodes.append(Node(key, "object", tuple(lines), mark))
        relation = HELD_BY if obj.get("kind") in _OWNED_KINDS else CAN_RELEASE
        for goid in waiters:
            note = sides.get((addr, goid), "") if isinstance(addr, int) else ""
            edges.setdefault((f"g{goid}", key, WAITS), Edge(f"g{goid}", key, WAITS, note))
        for goid in holders:
            edges.setdefault((key, f"g{goid}", relation), Edge(key, f"g{goid}", relation))
        goroutines.update(waiters)
        goroutines.update(holders)

    groups = goroutine_groups(document)
    for goid in sorted(goroutines):
        lines = [f"goroutine {goid}"]
        number: int | None = None
        if goid in groups:
            number, group = groups[goid]
            lines.append(group_state(group))
            function = where_function(group)
            if function:
                lines.append(function)
        node = Node(f"g{goid}", "goroutine", tuple(lines), goroutine_marks.get(goid), (goid,))
        graph.nodes.append(replace(node, group=number))
    # Goroutine nodes first: layouts start from the waiters.
    graph.nodes.sort(key=lambda n: n.kind != "goroutine")
    graph.edges = list(edges.values())
    return graph


def collapse(graph: WaitForGraph, limit: int) -> WaitForGraph:
    """When there are more than `limit` goroutine nodes, one node for each set of goroutines
    of the same group with the same mark and the same edges: a page cannot draw 100,000
    goroutines waiting on one channel, and would say nothing more if it did."""
    goroutine_nodes = [n for n in graph.nodes if n.kind == "goroutine"]
    if len(goroutine_nodes) <= limit:
        return graph
    touching: dict[str, list[tuple[str, str, str, str]]] = {}
    for e in graph.edges:
        touching.setdefault(e.source, []).append(("out", e.target, e.relation, e.note))
        touching.setdefault(e.target, []).append(("in", e.source, e.relation, e.note))
    classes: dict[tuple[Any, ...], list[Node]] = {}
    for n in goroutine_nodes:
        signature = (n.group, n.mark, tuple(sorted(touching.get(n.key, []))))
        classes.setdefault(signature, []).append(n)
    renamed: dict[str, str] = {}
    nodes: list[Node] = []
    for members in classes.values():
        first = members[0]
        if len(members) == 1:
            nodes.append(first)
            continue
        ids = tuple(i for m in members for i in m.goroutines)
        shown = ", ".join(str(i) for i in ids[:4]) + (", ..." if len(ids) > 4 else "")
        key = f"{first.key}+{len(ids)}"
        label = (f"{len(ids):,} goroutines", *first.lines[1:], f"ids {shown}")
        nodes.append(Node(key, "goroutine", label, first.mark, ids, first.group))
        for m in members:
            renamed[m.key] = key
    nodes += [n for n in graph.nodes if n.kind != "goroutine"]
    edges: dict[tuple[str, str, str, str], Edge] = {}
    for e in graph.edges:
        moved = Edge(renamed.get(e.source, e.source), renamed.get(e.target, e.target), e.relation)
        moved = replace(moved, note=e.note)
        edges.setdefault((moved.source, moved.target, moved.relation, moved.note), moved)
    return WaitForGraph(nodes, list(edges.values()))


def dot_string(text: str) -> str:
    """A DOT double-quoted string whose label shows `text` literally."""
    cleaned = "".join(c if c >= " " or c == "\n" else " " for c in text)
    escaped = cleaned.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_NODE_STYLE = {
    ("goroutine", None): 'fillcolor="#e8f0fe", color="#4a6fa5"',
    ("object", None): 'fillcolor="#f3f3f3", color="#777777"',
    ("goroutine", DEADLOCK): 'fillcolor="#fde0dc", color="red", penwidth=2',
    ("object", DEADLOCK): 'fillcolor="#fde0dc", color="red", penwidth=2',
    ("goroutine", LEAK): 'fillcolor="#ffe7c2", color="orange", penwidth=2',
    ("object", LEAK): 'fillcolor="#ffe7c2", color="orange", penwidth=2',
}

_EDGE_STYLE = {
    WAITS: 'color="#555555"',
    HELD_BY: 'color="#1f5fbf"',
    CAN_RELEASE: 'color="#1f5fbf", style=dashed',
}


def _edge_label(edge: Edge) -> str:
    return f"{edge.relation} ({edge.note})" if edge.note else edge.relation


def dot_lines(graph: WaitForGraph) -> Iterable[str]:
    yield "digraph waitfor {"
    yield '  graph [rankdir=LR, fontname="Helvetica", label="wait-for graph", labelloc=t];'
    yield '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];'
    yield '  edge [fontname="Helvetica", fontsize=9];'
    if graph.empty:
        yield f"  // {NOTHING_BLOCKED}"
        yield f"  nothing [shape=plaintext, style=solid, label={dot_string(NOTHING_BLOCKED)}];"
    for node in graph.nodes:
        # Objects are square, goroutines rounded (the default above).
        shape = "" if node.kind == "goroutine" else "style=filled, "
        style = _NODE_STYLE.get((node.kind, node.mark), "")
        label = dot_string("\n".join(node.lines))
        yield f"  {dot_string(node.key)} [{shape}label={label}, {style}];"
    for edge in graph.edges:
        style = _EDGE_STYLE.get(edge.relation, "")
        label = dot_string(_edge_label(edge))
        yield f"  {dot_string(edge.source)} -> {dot_string(edge.target)} [label={label}, {style}];"
    yield "}"


def render_dot(document: Document) -> str:
    """The report's wait-for graph in Graphviz DOT (``dot -Tsvg`` draws it)."""
    return "\n".join(dot_lines(wait_for_graph(document)))
