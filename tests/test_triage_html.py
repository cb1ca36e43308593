"""``goscope triage --dot`` and ``--html FILE`` (and ``go triage`` in GDB) on real cores.

The DOT text must be a well-formed graph whose goroutine nodes are exactly the goroutines the
``--json`` report lists as waiting on or holding something, with an edge for each of those
relations; against the runtime's own traceback, every goroutine it shows blocked on a channel
is a node labelled with its wait reason. The HTML page must be self-contained, escape every
string from the target, and render in headless Chromium without a console error: its script
runs to the end and the screenshot shows the page and its drawn graph (decoded here, without
Pillow). ``scripts/test`` installs Chromium, so a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.gdbrun import assert_clean, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain
from tests.test_goroutines import describe, run_goscope
from tests.tracebacks import parse

HOSTILE = "</script><img src=x onerror=alert(1)>"

# ---------------------------------------------------------------------------------------------
# A minimal DOT reader: enough of the grammar for what goscope writes, strict about the rest.

_DOT_TOKEN = re.compile(
    r'(?P<space>\s+|//[^\n]*)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<arrow>->)'
    r"|(?P<punct>[{}\[\];=,])|(?P<id>[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?)"
)


def _dot_tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(text):
        match = _DOT_TOKEN.match(text, position)
        assert match, f"DOT: unexpected text at {position}: {text[position : position + 40]!r}"
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
    return tokens


def _unquote(kind: str, text: str) -> str:
    if kind != "string":
        return text
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), body)


class DotGraph:
    def __init__(self, text: str) -> None:
        self.nodes: dict[str, dict[str, str]] = {}
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        tokens = _dot_tokens(text)
        assert tokens[:3] == [("id", "digraph"), ("id", "waitfor"), ("punct", "{")], tokens[:3]
        assert tokens[-1] == ("punct", "}"), tokens[-1]
        depth = 0
        for kind, value in tokens:
            if kind == "punct" and value == "{":
                depth += 1
            elif kind == "punct" and value == "}":
                depth -= 1
                assert depth >= 0, "DOT: unbalanced braces"
        assert depth == 0, "DOT: unbalanced braces"
        index = 3
        body = tokens[:-1]
        while index < len(body):
            kind, value = body[index]
            assert kind in ("id", "string"), f"DOT: statement starts with {value!r}"
            name = _unquote(kind, value)
            index += 1
            target = None
            if body[index][0] == "arrow":
                tkind, tvalue = body[index + 1]
                assert tkind in ("id", "string"), tvalue
                target = _unquote(tkind, tvalue)
                index += 2
            attrs: dict[str, str] = {}
            if body[index] == ("punct", "["):
                index += 1
                while body[index] != ("punct", "]"):
                    (kkind, key), eq, (vkind, val) = body[index : index + 3]
                    assert eq == ("punct", "="), f"DOT: bad attribute near {key!r}"
                    attrs[_unquote(kkind, key)] = _unquote(vkind, val)
                    index += 3
                    if body[index] == ("punct", ","):
                        index += 1
                index += 1
            assert body[index] == ("punct", ";"), f"DOT: missing ; after {name!r}"
            index += 1
            if target is not None:
                self.edges.append((name, target, attrs))
            elif name not in ("graph", "node", "edge"):
                assert name not in self.nodes, f"DOT: node {name!r} declared twice"
                self.nodes[name] = attrs
        for source, target, _ in self.edges:
            assert source in self.nodes and target in self.nodes, (source, target)

    def goroutines(self) -> dict[int, dict[str, str]]:
        found = {}
        for key, attrs in self.nodes.items():
            if re.fullmatch(r"g\d+", key):
                found[int(key[1:])] = attrs
        return found


# ---------------------------------------------------------------------------------------------
# PNG decoding (8-bit RGB or RGBA, non-interlaced: what Chromium writes)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB bytes of each row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position = 8
    chunks: dict[bytes, list[bytes]] = {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.setdefault(kind, []).append(data[position + 8 : position + 8 + length])
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    low_bits = int.from_bytes(b"\x7f" * stride, "little")
    high_bits = int.from_bytes(b"\x80" * stride, "little")
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            # Bytewise addition mod 256 on whole rows as integers: the high bits are added
            # without carry (xor), so no byte carries into the next.
            x, y = int.from_bytes(line, "little"), int.from_bytes(previous, "little")
            total = ((x & low_bits) + (y & low_bits)) ^ ((x ^ y) & high_bits)
            line = bytearray(total.to_bytes(stride, "little"))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                near = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + near) & 0xFF
        else:
            assert kind == 0, f"PNG filter {kind}"
        previous = line
        rgb = bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3)
        rows.append(rgb)
    return width, height, rows


def colours(rows: list[bytes]) -> Counter[bytes]:
    counts: Counter[bytes] = Counter()
    for row in rows:
        counts.update(row[i : i + 3] for i in range(0, len(row), 3))
    return counts


def rgb(hex_colour: str) -> bytes:
    return bytes.fromhex(hex_colour.lstrip("#"))


# ---------------------------------------------------------------------------------------------
# Helpers


def crash_fixture(fixtures: list[Fixture], toolchain_name: str) -> Fixture:
    for fx in fixtures:
        if (
            fx.toolchain.name == toolchain_name
            and fx.program == "crash"
            and fx.variant == "default"
            and fx.core is not None
        ):
            return fx
    pytest.fail(f"no default build of the crash program for {toolchain_name}")


def _version(fx: Fixture) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", fx.toolchain.version))


def report_fixture(fixtures: list[Fixture]) -> Fixture:
    """The deadlocks program when the matrix has it (its report has deadlocks and leaks to
    draw), else the crash program; the newest toolchain's default build."""
    for program in ("deadlocks", "crash"):
        chosen = [
            f
            for f in fixtures
            if f.program == program and f.variant == "default" and f.core is not None
        ]
        if chosen:
            return max(chosen, key=_version)
    pytest.fail("no deadlocks or crash fixture")


def triage(fx: Fixture, *flags: str) -> subprocess.CompletedProcess[str]:
    proc = run_goscope("triage", str(fx.core), "--exe", str(fx.bin), *flags)
    assert proc.returncode == 0, describe(proc)
    return proc


def related(document: dict[str, Any]) -> tuple[set[int], set[tuple[int, int, str]]]:
    """The goroutines the report says wait on or hold something, and each such relation as
    (goroutine, object address, "waits" | "holds")."""
    blocking = document.get("blocking") or {}
    relations: set[tuple[int, int, str]] = set()
    objects = blocking.get("objects") or []
    for o in objects:
        for goid in o.get("waiters") or []:
            relations.add((goid, o["addr"], "waits"))
        for goid in o.get("holders") or []:
            relations.add((goid, o["addr"], "holds"))
    # Channels that blocking.objects lists are drawn from there.
    listed = {o["addr"] for o in objects}
    for c in blocking.get("channels") or []:
        if c["addr"] in listed:
            continue
        for goid in (c.get("receivers") or []) + (c.get("senders") or []):
            relations.add((goid, c["addr"], "waits"))
    ids = {goid for goid, _, _ in relations}
    return ids, relations


def dot_relations(graph: DotGraph) -> set[tuple[int, int, str]]:
    found = set()
    for source, target, attrs in graph.edges:
        if source.startswith("g"):
            assert attrs["label"].startswith("waits"), attrs
            found.add((int(source[1:]), int(target[1:], 16), "waits"))
        else:
            assert attrs["label"] in ("held by", "can release"), attrs
            found.add((int(target[1:]), int(source[1:], 16), "holds"))
    return found


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parse_html(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def assert_self_contained(page: str) -> None:
    """Nothing loads from anywhere: no src, no link, no url() or @import, no external href."""
    tags = parse_html(page)
    for tag, attrs in tags.tags:
        assert "src" not in attrs, (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed"), (tag, attrs)
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert "url(" not in page.replace("url(#arrow-", "") and "@import" not in page
    assert len(tags.scripts) == 2, "the page has its two inline scripts and no other"


# ---------------------------------------------------------------------------------------------
# Real cores


def test_dot_and_html_of_the_crash_core(
    toolchain: Toolchain, fixture_matrix: list[Fixture], tmp_path: Path
) -> None:
    """For the crash core of every toolchain: the DOT graph holds exactly the report's
    blocked goroutines and their relations, labelled with the runtime's wait reasons; the
    HTML page is self-contained and draws the same nodes."""
    fx = crash_fixture(fixture_matrix, toolchain.name)
    document = json.loads(triage(fx, "--json").stdout)
    dot = triage(fx, "--dot").stdout
    graph = DotGraph(dot)
    ids, relations = related(document)
    assert set(graph.goroutines()) == ids, dot
    assert dot_relations(graph) == relations, dot

    # The runtime's own word: who is blocked on a channel, and why.
    states = {g.id: g.state for g in parse(fx.traceback_text())}
    on_channels = {
        goid
        for goid, state in states.items()
        if state.split(",")[0] in ("chan receive", "chan send", "select")
    }
    assert on_channels and on_channels <= ids, (on_channels, dot)
    waiting = {goid for goid, _, how in relations if how == "waits"}
    assert on_channels <= waiting
    for goid, attrs in graph.goroutines().items():
        label = attrs["label"].splitlines()
        assert label[0] == f"goroutine {goid}", attrs
        if goid in states:
            assert states[goid].split(",")[0] in label[1], (goid, states[goid], attrs)
    # Deadlocked nodes are red, leaked ones orange.
    blocking = document["blocking"]
    for finding, colour in ((blocking.get("leaks"), "orange"), (blocking.get("deadlocks"), "red")):
        for item in finding or []:
            for goid in item.get("goroutines") or []:
                if goid in graph.goroutines():
                    marked = graph.goroutines()[goid]["color"]
                    assert marked in ("red", colour), (goid, marked)
    if shutil.which("dot"):
        drawn = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
        assert drawn.returncode == 0, drawn.stderr

    path = tmp_path / "report.html"
    printed = triage(fx, "--html", str(path)).stdout
    assert printed.strip() == f"wrote the triage report to {path}", printed
    page = path.read_text(encoding="utf-8")
    assert_self_contained(page)
    nodes = re.findall(r'<g class="node (goroutine|object)[^"]*" data-node="([^"]+)"', page)
    assert {key for _, key in nodes} == set(graph.nodes), "the page draws the DOT graph's nodes"
    for number, group in enumerate(document["groups"], 1):
        assert f'<details id="group-{number}"' in page
        for frame in group["frames"]:
            assert html.escape(str(frame["function"])) in page
    crash = document.get("crash") or {}
    if crash.get("summary"):
        assert html.escape(crash["summary"]) in page


def test_flags_are_alternatives(fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    fx = report_fixture(fixture_matrix)
    for flags in (["--json", "--dot"], ["--dot", "--html", str(tmp_path / "x.html")]):
        proc = run_goscope("triage", str(fx.core), "--exe", str(fx.bin), *flags)
        assert proc.returncode == 2, describe(proc)
        assert "alternatives" in proc.stderr, describe(proc)
    assert not (tmp_path / "x.html").exists()
    proc = run_goscope(
        "triage", str(fx.core), "--exe", str(fx.bin), "--html", str(tmp_path / "no" / "x.html")
    )
    assert proc.returncode == 1 and "cannot write" in proc.stderr, describe(proc)


def test_gdb_triage_dot_and_html(fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    """``go triage --dot`` prints the command line's graph; ``--html`` writes the page."""
    fx = report_fixture(fixture_matrix)
    path = tmp_path / "gdb.html"
    run = run_gdb(
        ["echo @@dot\\n", "go triage --dot", "echo @@html\\n", f"go triage --html {path}"],
        args=[str(fx.bin), str(fx.core)],
    )
    assert_clean(run)
    cli = triage(fx, "--dot").stdout
    assert run.between("@@dot", "@@html").strip() == cli.strip(), run.describe()
    assert f"wrote the triage report to {path}" in run.stdout, run.describe()
    page = path.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "<svg" in page or "no goroutine is blocked on another" in page


# ---------------------------------------------------------------------------------------------
# Synthetic documents: hostile strings, empty and large graphs, deadlocks and leaks


def _frame(function: str) -> dict[str, Any]:
    return {"function": function, "file": "/src/x.go", "line": 7, "inlined": False}


def synthetic_document(function: str = "main.worker", message: str = "boom") -> dict[str, Any]:
    return {
        "go_version": "go1.26.6",
        "process": {"threads": [{"lwp": 1, "function": function}], "gomaxprocs": 1, "ps": []},
        "crash": {
            "summary": f"panic: {message} in goroutine 1",
            "goroutine": 1,
            "panics": [{"message": message, "type": "string", "exact": True}],
            "fatal_error": None,
        },
        "groups": [
            {
                "count": 1,
                "ids": [1],
                "states": {"running": 1},
                "crashed": True,
                "created_by": {},
                "labels": {f"k={message}": 1},
                "frames": [_frame(function), _frame("main.main")],
                "where_frame": 0,
            },
            {
                "count": 2,
                "ids": [7, 8],
                "states": {"sync.Mutex.Lock": 2},
                "crashed": False,
                "min_wait_minutes": 3,
                "max_wait_minutes": 5,
                "created_by": {function: 2},
                "labels": {},
                "frames": [_frame("runtime.gopark"), _frame(function)],
                "where_frame": 1,
            },
            {
                "count": 1,
                "ids": [9],
                "states": {"chan send": 1},
                "crashed": False,
                "created_by": {"main.main": 1},
                "labels": {},
                "frames": [_frame("runtime.gopark"), _frame("main.leaky")],
                "where_frame": 1,
            },
        ],
        "total": 4,
        "blocking": {
            "channels": [
                {
                    "addr": 0xC000020000,
                    "elem_type": message,
                    "len": 0,
                    "cap": 0,
                    "closed": False,
                    "receivers": [],
                    "senders": [9],
                }
            ],
            "objects": [
                {
                    "addr": 0xC000010000,
                    "kind": "mutex",
                    "type": "sync.Mutex",
                    "waiters": [7],
                    "holders": [8],
                    "detail": f"locked, {message}",
                    "holder_evidence": {"8": message},
                },
                {
                    "addr": 0xC000010100,
                    "kind": "mutex",
                    "type": "sync.Mutex",
                    "waiters": [8],
                    "holders": [7],
                    "detail": "locked",
                },
            ],
            "deadlocks": [
                {
                    "kind": "lock cycle",
                    "summary": f"7 and 8 wait on each other ({message})",
                    "goroutines": [7, 8],
                    "objects": [0xC000010000, 0xC000010100],
                }
            ],
            "leaks": [
                {
                    "kind": "chan send",
                    "site": f"{function} /src/x.go:7",
                    "count": 1,
                    "goroutines": [9],
                    "objects": [0xC000020000],
                    "summary": message,
                }
            ],
        },
        "scheduler": {"gc_phase": message, "num_gc": 3, "memstats": {"heap_alloc": 1 << 20}},
    }


def test_hostile_strings_are_escaped() -> None:
    from goscope.render.dot import render_dot
    from goscope.render.html import render_html

    hostile = HOSTILE + ' "quoted" \\ back\nslash'
    document = synthetic_document(function=f"main.{hostile}", message=hostile)
    page = render_html(document, source=hostile)
    assert "<img" not in page and "</script><" not in page.replace("</script>\n</", "")
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert_self_contained(page)
    tags = parse_html(page)
    assert [t for t, _ in tags.tags].count("script") == 2
    assert all("alert" not in script for script in tags.scripts)

    graph = DotGraph(render_dot(document))
    labels = [attrs["label"] for attrs in graph.nodes.values()]
    assert any(f"main.{hostile}" in label for label in labels), labels
    assert any(hostile in label for label in labels), labels


def test_deadlocks_and_leaks_are_marked() -> None:
    from goscope.render.dot import render_dot
    from goscope.render.html import render_html

    document = synthetic_document()
    graph = DotGraph(render_dot(document))
    nodes = graph.nodes
    assert nodes["g7"]["color"] == "red" and nodes["g8"]["color"] == "red"
    assert nodes["o0xc000010000"]["color"] == "red"
    assert nodes["g9"]["color"] == "orange" and nodes["o0xc000020000"]["color"] == "orange"
    assert nodes["g7"]["label"] == "goroutine 7\nsync.Mutex.Lock\nmain.worker"
    assert nodes["o0xc000010000"]["label"].startswith("sync.Mutex 0xc000010000\nlocked")
    edges = {(s, t, a["label"]) for s, t, a in graph.edges}
    assert ("g7", "o0xc000010000", "waits") in edges
    assert ("o0xc000010000", "g8", "held by") in edges
    assert ("g9", "o0xc000020000", "waits (send)") in edges

    page = render_html(document)
    assert 'class="finding deadlock"' in page and 'class="finding leak"' in page
    assert '<g class="node goroutine deadlock" data-node="g7"' in page
    assert '<g class="node goroutine leak" data-node="g9"' in page
    assert 'id="scheduler"' in page and "heap_alloc" in page


def test_empty_graph() -> None:
    from goscope.render.dot import render_dot
    from goscope.render.html import render_html

    document = synthetic_document()
    document["blocking"] = {"channels": []}
    graph = DotGraph(render_dot(document))
    assert [a["label"] for a in graph.nodes.values()] == ["no goroutine is blocked on another"]
    assert not graph.edges
    page = render_html(document)
    assert "no goroutine is blocked on another" in page and "<svg" not in page
    # An older document: no blocking part at all.
    del document["blocking"]
    assert "no goroutine is blocked on another" in render_html(document)
    assert "<svg" not in render_html(document)


def test_large_graphs_are_merged() -> None:
    """100,000 goroutines waiting on one channel: the page draws one node for them."""
    from goscope.render.html import render_html

    document = synthetic_document()
    ids = list(range(100, 100_100))
    document["groups"][2]["ids"] = ids
    document["groups"][2]["count"] = len(ids)
    document["blocking"]["channels"][0]["senders"] = ids
    page = render_html(document)
    assert page.count('<g class="node') < 20
    assert "100,000 goroutines" in page


# ---------------------------------------------------------------------------------------------
# Headless Chromium


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed (scripts/test installs it: apt-get install chromium)")


def run_chromium(page: Path, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [
        chromium(),
        "--headless",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--mute-audio",
        f"--user-data-dir={profile}",
        *flags,
        page.as_uri(),
    ]
    if os.geteuid() == 0:
        # Chromium's sandbox refuses to run as root.
        argv.insert(1, "--no-sandbox")
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"chromium did not finish: {' '.join(argv)}") from error


def test_report_in_headless_chromium(fixture_matrix: list[Fixture], tmp_path: Path) -> None:
    fx = report_fixture(fixture_matrix)
    document = json.loads(triage(fx, "--json").stdout)
    page = tmp_path / "report.html"
    triage(fx, "--html", str(page))

    loaded = run_chromium(
        page, tmp_path / "profile-dom", "--enable-logging=stderr", "--v=0", "--dump-dom"
    )
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    dom = loaded.stdout
    root = re.search(r"<html[^>]*>", dom)
    assert root, dom[:2000]
    assert 'data-ready="yes"' in root.group(), f"the page's script did not finish: {root.group()}"
    assert "data-errors" not in root.group(), f"the page recorded errors: {root.group()}"
    console = [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)
    assert "Uncaught" not in loaded.stderr and "Refused to" not in loaded.stderr, loaded.stderr
    ids, _ = related(document)
    drawn = set(re.findall(r'data-node="g(\d+)"', dom))
    assert {int(i) for i in drawn} == ids, (sorted(drawn), sorted(ids))

    # The top of the page: not blank, several colours, the header's and the text's.
    shot = tmp_path / "top.png"
    taken = run_chromium(
        page, tmp_path / "profile-top", f"--screenshot={shot}", "--window-size=1280,2000"
    )
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-4000:]
    width, height, rows = decode_png(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    counts = colours(rows)
    background, most = counts.most_common(1)[0]
    assert len(counts) >= 16, f"{len(counts)} colours: the page looks blank"
    assert 1 - most / (width * height) >= 0.05, f"{most / (width * height):.1%} is background"
    assert counts[rgb("#16324f")] > 10_000, "the header is not drawn"

    # The whole page: the graph's nodes are drawn in their colours.
    full = tmp_path / "full.png"
    taken = run_chromium(
        page, tmp_path / "profile-full", f"--screenshot={full}", "--window-size=1280,8000"
    )
    assert taken.returncode == 0 and full.is_file(), taken.stderr[-4000:]
    rows = decode_png(full.read_bytes())[2]
    blocking = document.get("blocking") or {}
    # Fills used by the graph's nodes and the legend's keys only; a node is over 4,000 pixels,
    # a key under 2,000.
    wanted = {"goroutine node": "#e8f0fe", "object node": "#f3f3f3"}
    if blocking.get("deadlocks"):
        wanted["deadlocked node"] = "#fbd3ce"
    if blocking.get("leaks"):
        wanted["leaked node"] = "#ffdfb0"
    for what, colour in wanted.items():
        # Counting the colour's bytes anywhere in a row: fast, and a match across two
        # pixels would take colours this page does not have.
        found = sum(row.count(rgb(colour)) for row in rows)
        assert found > 3_000, f"no {what} ({colour}) in the screenshot"


def test_hostile_page_in_headless_chromium(tmp_path: Path) -> None:
    """Hostile names and messages stay text in a browser too: no element is injected, and
    nothing is blocked or fails."""
    from goscope.render.html import render_html

    document = synthetic_document(function=f"main.{HOSTILE}", message=HOSTILE)
    page = tmp_path / "hostile.html"
    page.write_text(render_html(document, source=HOSTILE), encoding="utf-8")
    loaded = run_chromium(
        page, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom"
    )
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    root = re.search(r"<html[^>]*>", loaded.stdout)
    assert root and 'data-ready="yes"' in root.group() and "data-errors" not in root.group()
    assert not [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    tags = parse_html(loaded.stdout)
    assert not [attrs for tag, attrs in tags.tags if tag == "img"]
    assert [tag for tag, _ in tags.tags].count("script") == 2
    assert HOSTILE.replace("<", "&lt;").replace(">", "&gt;") in loaded.stdout
