"""The heap's object graph: types, roots, retaining paths, retained sizes, the pprof profile
(``goscope heap --by``, ``--why``, ``--pprof``; ``go heap``, ``go heap why``) and goroutine
leaks by reachability (``goscope triage``).

Oracles: the ``retention`` program says on its FIXTURE line what it retains — 10,000
``*Session`` of 256 bytes in the global map ``main.sessions``; a 64 MiB ``[]byte`` held only by
the stack of one goroutine (its id, the function, the slice's address); 2,000 ``*Entry`` of 512
bytes reachable only through the closure in ``main.hook``; 3,000 ``*Item`` of 128 bytes in the
buffer of the channel ``main.queue`` — with the types as ``%T`` prints them, ``unsafe.Sizeof``
sizes and ``%p`` addresses of a few objects. ``go tool pprof`` reads the profile. The
``leaks`` program names the goroutines Go's own goroutine leak profile reports as leaked
(checked against ``GOEXPERIMENT=goroutineleakprofile`` on go1.26 and go1.27) and the blocked
ones it does not.

Types must be found wherever the runtime's metadata gives them: from go1.22 the allocation
headers of objects over 512 bytes and large objects' span types give the map's groups or
buckets, the slice of entries and the channel's buffer, and the types of what they point to
follow, with or without DWARF; go1.21 has no such metadata, so there only DWARF-typed globals
(default and -N -l builds) type the map and the channel. The 64 MiB buffer holds no pointers,
so no runtime metadata types it: DWARF does, where it locates the slice on the stack (-N -l
builds; optimized code leaves a value spilled across a call undescribed).
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.test_goroutines import describe, run_goscope

BOUND = 0.05
MARK, END = "@@heap@@", "@@end@@"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from conftest import all_fixtures

    for name, program in (("retention", "retention"), ("leaks", "leaks")):
        if name in metafunc.fixturenames:
            cores = [f for f in all_fixtures(metafunc.config) if f.crash and f.program == program]
            if not cores:
                raise RuntimeError(f"the fixture matrix has no build of the {program} program")
            metafunc.parametrize(name, cores, ids=[f.id for f in cores])


def minor(fx: Fixture) -> int:
    return int(fx.toolchain.version.split(".")[1])


def heap(fx: Fixture, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_goscope("heap", str(fx.core), "--exe", str(fx.bin), *extra, timeout=300)


def report(fx: Fixture, by: str) -> dict[str, Any]:
    proc = heap(fx, "--json", "--by", by, "--top", "100000")
    assert proc.returncode == 0, describe(proc)
    document: dict[str, Any] = json.loads(proc.stdout)
    return document["report"]


def why(fx: Fixture, addr: str) -> dict[str, Any]:
    proc = heap(fx, "--json", "--why", addr)
    assert proc.returncode == 0, describe(proc)
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def within(got: int, want: int) -> bool:
    return want * (1 - BOUND) <= got <= want * (1 + BOUND)


def typed(fx: Fixture, group: str) -> bool:
    """Whether the runtime's metadata (or DWARF, for globals) gives the type of `group`."""
    if minor(fx) >= 22:
        return True
    # go1.21: only DWARF-typed globals; the closure's captured variables are not typed.
    return fx.variant != "stripped" and group in ("sessions", "channel")


def test_types_counts_and_bytes(retention: Fixture) -> None:
    """Each retained group's type has the program's count of objects of its size, within 5%."""
    facts = retention.facts()
    rows = {r["name"]: r for r in report(retention, "type")["rows"]}
    checked = 0
    for group in ("sessions", "closure", "channel"):
        g = facts[group]
        if not typed(retention, group):
            continue
        row = rows.get(g["type"])
        assert row is not None, f"{retention.id}: no objects of type {g['type']}: {sorted(rows)}"
        assert within(row["objects"], g["count"]), (group, row)
        assert within(row["bytes"], g["count"] * g["size"]), (group, row)
        assert row["reachable_objects"] == row["objects"], row
        checked += 1
    assert checked == 3 or minor(retention) == 21, retention.id


def test_paths_from_the_roots(retention: Fixture) -> None:
    """``--why`` leads from the right root to each sampled object, through the containers the
    program built (the map, the closure, the channel's buffer), with field names where the
    types are known; the sampled object has the program's type and size."""
    facts = retention.facts()
    symbols = retention.variant != "stripped"
    for group, through in (
        ("sessions", "map"),
        ("closure", "func literal main.installHook.func1"),
        ("channel", "chan"),
    ):
        g = facts[group]
        for addr in g["sample"]:
            w = why(retention, addr)
            assert w["reachable"], (group, w)
            obj = w["object"]
            assert obj["addr"] == int(addr, 16) and obj["size"] == g["size"], (group, obj)
            path = w["path"]
            root, last = path[0], path[-1]
            assert root["step"] == "root" and root["kind"] == "global", (group, path)
            if symbols:
                assert root["name"] == g["global"], (group, path)
            assert last["addr"] == int(addr, 16), path
            if typed(retention, group):
                assert last["type"] == g["type"], (group, path)
            types = [s.get("type", "") for s in path[1:]]
            if group == "closure" or typed(retention, group) and retention.variant != "stripped":
                assert any(t.startswith(through) for t in types), (group, types)
            if group == "sessions" and typed(retention, group):
                # The Session is found through its map's slots (or buckets' elems).
                assert last.get("via", "").startswith("["), path


def test_stack_held_buffer(retention: Fixture) -> None:
    """The 64 MiB slice is reachable only from the stack of the goroutine the program names,
    from the frame of the function that made it; it retains its own 64 MiB; DWARF types it
    where it locates the slice."""
    s = retention.facts()["stack"]
    w = why(retention, s["addr"])
    assert w["reachable"], w
    obj = w["object"]
    assert obj["addr"] == int(s["addr"], 16) and within(obj["size"], s["bytes"]), obj
    assert within(w["retained"], s["bytes"]), w
    root = w["path"][0]
    assert root["step"] == "root" and root["kind"] == "stack", w["path"]
    assert root["goroutine"] == s["goroutine"], root
    assert root["name"] == f"goroutine {s['goroutine']}: {s['function']}", root
    assert len(w["path"]) == 2, w["path"]
    if retention.variant == "noopt":
        assert obj["type"] == s["type"], obj
        assert w["path"][1].get("via") == "buf", w["path"]


def test_retained_by_root(retention: Fixture) -> None:
    """``--by root``: each global root keeps at least its group's bytes alive by itself (the
    dominator tree), and not much more than the group plus its container. Without symbols a
    global root is named by its address: the one ``--why`` starts from."""
    facts = retention.facts()
    rows = {r["name"]: r for r in report(retention, "root")["rows"]}
    for group in ("sessions", "closure", "channel"):
        g = facts[group]
        name = g["global"]
        if retention.variant == "stripped":
            name = why(retention, g["sample"][0])["path"][0]["name"]
            assert name.startswith("global 0x"), name
        row = rows.get(name)
        assert row is not None, (group, sorted(rows))
        own = g["count"] * g["size"]
        assert own * (1 - BOUND) <= row["retained"] <= row["reachable_bytes"], (group, row)
        # Sessions also keep their ID strings, users and the map's groups.
        assert row["retained"] <= own * (1.4 if group == "sessions" else 1.1), (group, row)
    stack = facts["stack"]
    name = f"goroutine {stack['goroutine']}: {stack['function']}"
    assert within(rows[name]["retained"], stack["bytes"]), rows.get(name)


def go_tool(fx: Fixture, *args: str) -> str:
    proc = subprocess.run(
        [str(fx.go), "tool", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_pprof_profile(retention: Fixture, tmp_path: Path) -> None:
    """``go tool pprof`` reads the profile: inuse_space by type as the report counts it, and
    traces whose frames are the retaining paths, root last."""
    out = tmp_path / "heap.pb.gz"
    proc = heap(retention, "--pprof", str(out), "--totals")
    assert proc.returncode == 0, describe(proc)
    assert gzip.decompress(out.read_bytes()), "empty profile"
    facts = retention.facts()
    top = go_tool(
        retention, "pprof", "-top", "-nodecount=1000", "-sample_index=inuse_space", str(out)
    )
    assert "Type: inuse_space" in top, top
    traces = go_tool(retention, "pprof", "-traces", "-sample_index=inuse_objects", str(out))
    blocks = [
        [line for line in b.splitlines() if line.strip() and not line.startswith("---")]
        for b in traces.split("-----------+")[1:]
    ]
    for group in ("sessions", "closure", "channel"):
        g = facts[group]
        if not typed(retention, group):
            continue
        stacks = [b for b in blocks if b and b[0].split()[-1] == g["type"]]
        assert stacks, (group, traces[:3000])
        count = 0
        for b in stacks:
            value = b[0].split()[0]
            count += int(value)
            frames = [line.strip() for line in b[1:] if line.strip()]
            # The root is the outermost frame.
            if retention.variant != "stripped":
                assert frames[-1] == f"{g['global']} (global)", b
            else:
                assert frames[-1].endswith("(global)"), b
        assert within(count, g["count"]), (group, count)


def test_gdb_heap_commands(retention: Fixture, gdb_runs: dict[str, GdbRun]) -> None:
    """``go heap --by type`` and ``go heap why ADDR`` in GDB print what the command line does."""
    run = gdb_runs[retention.id]
    assert_clean(run)
    facts = retention.facts()
    text = run.between(MARK, END)
    g = facts["sessions"]
    if typed(retention, "sessions"):
        line = next((x for x in text.splitlines() if x.rstrip().endswith(" " + g["type"])), None)
        assert line is not None, text
        rows = {r["name"]: r for r in report(retention, "type")["rows"]}
        assert int(line.split()[0]) == rows[g["type"]]["objects"], line
    sample = g["sample"][0]
    assert f"{sample} is in {sample}" in text, text
    assert "keeps" in text and ("global main.sessions" in text or retention.variant == "stripped")


@pytest.fixture(scope="module")
def gdb_runs(request: pytest.FixtureRequest) -> dict[str, GdbRun]:
    """``go heap`` and ``go heap why`` in GDB on every retention core, in parallel."""
    from conftest import all_fixtures

    cores = [f for f in all_fixtures(request.config) if f.crash and f.program == "retention"]

    def session(fx: Fixture) -> GdbRun:
        sample = fx.facts()["sessions"]["sample"][0]
        commands = [echo(MARK), "go heap --by type --top 8", f"go heap why {sample}", echo(END)]
        return run_gdb(commands, args=[str(fx.bin), str(fx.core)], timeout=300)

    runs = in_parallel([lambda fx=fx: session(fx) for fx in cores])
    return {fx.id: run for fx, run in zip(cores, runs)}


def test_leaks_by_reachability(leaks: Fixture) -> None:
    """Triage reports exactly the goroutines Go's leak profile calls leaked — senders whose
    receiver gave up, a two-goroutine channel cycle, WaitGroup and Mutex waiters on local
    objects — and none of the blocked goroutines something live can still reach (a global
    channel, a channel in a heap object a global map holds, one held by a sleeping
    goroutine's stack, one held by a healthy blocked goroutine, a global mutex)."""
    facts = leaks.facts()
    proc = run_goscope("triage", str(leaks.core), "--exe", str(leaks.bin), "--json", timeout=300)
    assert proc.returncode in (0, 1), describe(proc)
    blocking = json.loads(proc.stdout)["blocking"]
    unreachable = blocking.get("unreachable")
    assert unreachable is not None, blocking.get("notes")
    flagged = sorted(g for leak in unreachable for g in leak["goroutines"])
    leaked = sorted(g for ids in facts["leaked"].values() for g in ids)
    assert flagged == leaked, (flagged, facts)
    healthy = {g for ids in facts["healthy"].values() for g in ids}
    assert not healthy & set(flagged)
    for leak in unreachable:
        assert leak["stuck"] and leak["count"] == len(leak["goroutines"]), leak
    text = run_goscope("triage", str(leaks.core), "--exe", str(leaks.bin), timeout=300)
    for ids in facts["leaked"].values():
        assert any(str(ids[0]) in line for line in text.stdout.splitlines() if "goroutines" in line)


def test_finalizer_and_cleanup_roots(retention: Fixture) -> None:
    """A Blob only a finalizer's object points to is reached from that finalizer (the object
    itself stays unreachable: its finalizer does not keep it alive); a cleanup's argument
    (go1.24+) from the cleanup. Both are typed by their allocation header from go1.22."""
    facts = retention.facts()
    fin = facts["finalizer"]
    w = why(retention, fin["blob"])
    assert w["reachable"], w
    root = w["path"][0]
    assert root["kind"] == "finalizer" and root["name"] == f"finalizer of {fin['object']}", w
    assert w["object"]["addr"] == int(fin["blob"], 16), w
    if minor(retention) >= 22:
        assert w["object"]["type"] == fin["type"], w
    obj = why(retention, fin["object"])
    assert not obj["reachable"], obj
    cleanup = facts["cleanup"]
    if minor(retention) < 24:
        assert cleanup is None
        return
    w = why(retention, cleanup["arg"])
    assert w["reachable"], w
    root = w["path"][0]
    assert root["kind"] == "cleanup" and root["name"] == f"cleanup of {cleanup['object']}", w
    assert w["object"]["type"] == cleanup["type"], w
