#!/usr/bin/env python3
"""The heap of a 2 GB core by type and as a pprof profile: goscope against its peers.

The heapbig program (bench/heapbig) is built with the machine's Go and crashed once into a core
with about 2 GB of live heap in some 12 million objects (a map of a million structs with
strings and slices, four million events in a slice of pointers, a linked list, a binary tree,
ten 128 MiB byte slices); binary and core are cached under ``~/.cache/goscope/bench/``. On that
core, in the same run, each tool runs with its output going to a file:

- goscope's CLI (build/site): ``goscope heap CORE --exe BIN --by type --json`` (objects and
  bytes per type) and ``goscope heap CORE --exe BIN --pprof OUT`` (a pprof heap profile), when
  ``goscope heap --help`` lists those options, else the row says which option is missing; and
  ``goscope heap CORE --exe BIN --json`` (the totals and size classes) always;
- viewcore (golang.org/x/debug/cmd/viewcore), ``viewcore CORE --exe BIN histogram``;
- goref (github.com/cloudwego/goref/cmd/grf), ``grf core BIN CORE`` (writes ``grf.out``, a
  pprof profile of the references).

The peers are installed with ``go install PKG@latest`` into ``~/.cache/goscope/bin`` when
missing; when that fails, or a peer cannot read the core, the table says why. Each output is
checked against the program's own FIXTURE line (its object counts per type and
runtime.ReadMemStats before the crash). Targets for goscope's ``--by type`` and ``--pprof``:
under 30 s and under 2 GB peak RSS.

    python3 bench/heap.py [--json FILE] [--repeat N] [--timeout S] [--recapture]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import common
import measure
import tools
from measure import REPO_ROOT, say, verdict, write_json

from tests.harness.build import COMMON_BUILD_FLAGS
from tests.harness.capture import CaptureError, capture
from tests.harness.paths import cache_dir
from tests.harness.toolchains import Toolchain

PROGRAM_DIR = REPO_ROOT / "bench" / "heapbig"
CAPTURE_TIMEOUT = 900.0
GIB = 1 << 30
# What capturing the core needs: the core (about 2.2 GB), with room to spare.
CORE_ESTIMATE = int(2.3 * GIB)
DISK_MARGIN = 2 * GIB
# What the program needs while it builds its heap (live heap plus the collector's headroom).
MEMORY_NEEDED = 4 * GIB

WALL_TARGET_S = 30.0
PEAK_TARGET_MB = 2048.0
TARGETED = ("goscope_by_type", "goscope_pprof")

VIEWCORE = "golang.org/x/debug/cmd/viewcore"
GOREF = "github.com/cloudwego/goref/cmd/grf"


@dataclass(frozen=True)
class HeapCore:
    bin: Path
    core: Path
    traceback: Path
    facts: dict[str, Any]  # the program's FIXTURE line
    core_bytes: int
    core_disk_bytes: int
    capture_seconds: float
    core_source: str

    @property
    def memstats(self) -> dict[str, int]:
        return dict(self.facts.get("memstats") or {})

    @property
    def types(self) -> dict[str, int]:
        """Objects the program allocated per type name (%T)."""
        return {name: int(t["count"]) for name, t in (self.facts.get("types") or {}).items()}


# --- the program and its core ------------------------------------------------------------


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in PROGRAM_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(PROGRAM_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_dir(toolchain: Toolchain) -> Path:
    return tools.bench_cache() / f"heapbig-{toolchain.name}-{_source_hash()}"


def binary(toolchain: Toolchain) -> Path:
    """heapbig built by TOOLCHAIN, building it when missing. Older builds by the same
    toolchain, and their cores of 2 GB, are removed."""
    directory = build_dir(toolchain)
    bin_path = directory / "bin"
    if bin_path.is_file():
        return bin_path
    for stale in tools.bench_cache().glob(f"heapbig-{toolchain.name}-*"):
        if stale != directory and stale.is_dir():
            say(f"removing the stale {stale}")
            shutil.rmtree(stale, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    say(f"building heapbig with {toolchain.version} ...")
    tmp = directory / "bin.partial"
    proc = subprocess.run(
        [str(toolchain.go), "build", *COMMON_BUILD_FLAGS, "-o", str(tmp), "."],
        cwd=PROGRAM_DIR,
        env=toolchain.env({"CGO_ENABLED": "0"}),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise tools.ToolError(f"go build of {PROGRAM_DIR} failed:\n{proc.stderr[-3000:]}")
    tmp.rename(bin_path)
    return bin_path


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_room(directory: Path) -> None:
    """Raise ToolError unless DIRECTORY's file system has room for the core and the machine has
    memory for the program."""
    free = shutil.disk_usage(directory).free
    if free < CORE_ESTIMATE + DISK_MARGIN:
        raise tools.ToolError(
            f"not enough disk space for the core: {free / GIB:.1f} GiB free in {directory}, "
            f"the core takes about {CORE_ESTIMATE / GIB:.1f} GiB and "
            f"{DISK_MARGIN / GIB:.0f} GiB are kept spare (set GOSCOPE_CACHE to a larger disk)"
        )
    memory = _available_memory()
    if memory is not None and memory < MEMORY_NEEDED:
        raise tools.ToolError(
            f"not enough memory to build the heap: {memory / GIB:.1f} GiB available, "
            f"heapbig needs about {MEMORY_NEEDED / GIB:.0f} GiB"
        )


def _fixture_line(path: Path) -> dict[str, Any]:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("FIXTURE "):
            value = json.loads(line[len("FIXTURE ") :])
            if isinstance(value, dict):
                return value
    return {}


def heap_core(toolchain: Toolchain, recapture: bool = False) -> HeapCore:
    """The core of heapbig, captured when missing (or when RECAPTURE)."""
    bin_path = binary(toolchain)
    directory = build_dir(toolchain) / "core"
    meta_path = directory / "meta.json"
    core_path = directory / "core"
    meta: dict[str, Any] | None = None
    if not recapture:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = None
    if meta is not None and (
        not core_path.is_file() or core_path.stat().st_size != meta.get("core_bytes")
    ):
        meta = None
    if meta is None:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        _check_room(directory)
        say("capturing the heapbig core (about 2.2 GB; a minute or two) ...")
        try:
            result = capture([str(bin_path)], directory, timeout=CAPTURE_TIMEOUT)
        except CaptureError as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise tools.ToolError(f"capturing the heapbig core: {exc}") from None
        facts = _fixture_line(directory / "stdout.txt")
        if not facts.get("memstats"):
            raise tools.ToolError(f"{directory}/stdout.txt: no FIXTURE line")
        meta = {
            "facts": facts,
            "core_source": result.core_source,
            "capture_seconds": result.seconds,
            "core_bytes": core_path.stat().st_size,
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return HeapCore(
        bin=bin_path,
        core=core_path,
        traceback=directory / "traceback.txt",
        facts=meta["facts"],
        core_bytes=int(meta["core_bytes"]),
        core_disk_bytes=core_path.stat().st_blocks * 512,
        capture_seconds=float(meta["capture_seconds"]),
        core_source=str(meta["core_source"]),
    )


# --- the tools ----------------------------------------------------------------------------

# A tool's argv for a core, given the scratch directory it runs in.
Command = Callable[[HeapCore, Path], List[str]]
# What a run produced, read from its stdout file and the scratch directory: (whether it holds
# what the tool is meant to produce, what it holds in a few words, figures for the JSON).
Found = Tuple[bool, str, Dict[str, Any]]
Check = Callable[[HeapCore, Path, Path], Found]


@dataclass
class HeapTool:
    key: str
    label: str
    command: Command
    check: Check
    goscope: bool
    env: dict[str, str] | None = None
    available: bool = True
    note: str = ""


def heap_options() -> set[str] | None:
    """The options ``goscope heap --help`` lists, or None when the CLI has no ``heap``."""
    try:
        proc = subprocess.run(
            [*tools.goscope_cli(), "heap", "--help"],
            env=tools.site_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", proc.stdout))


def _goscope_heap(*after: str) -> Command:
    return lambda c, work: [
        *tools.goscope_cli(),
        "heap",
        str(c.core),
        "--exe",
        str(c.bin),
        *after,
    ]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _count_of(node: dict[str, Any]) -> int | None:
    for key in ("count", "objects"):
        value = node.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def type_counts(report: Any) -> dict[str, int]:
    """Objects per type in a ``heap --by type --json`` report, wherever they are in it: objects
    that name a type (``type`` or ``name``) beside a count (``count`` or ``objects``), or
    mappings from type names to such counts."""
    found: dict[str, int] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            name = node.get("type", node.get("name"))
            count = _count_of(node)
            if isinstance(name, str) and count is not None:
                found.setdefault(name, count)
            for key, value in node.items():
                if isinstance(value, dict) and "type" not in value and "name" not in value:
                    count = _count_of(value)
                    if count is not None and "." in key:
                        found.setdefault(key, count)
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(report)
    return found


def _compare_types(expected: dict[str, int], counted: dict[str, int]) -> tuple[bool, str]:
    """Whether COUNTED has the program's own count of every type it allocated, and how."""
    wrong = []
    for name, want in sorted(expected.items()):
        got = counted.get(name)
        if got != want:
            wrong.append(f"{name} {'missing' if got is None else f'{got:,}'} (want {want:,})")
    if not wrong:
        return True, f"all {len(expected)} program types counted exactly"
    return False, "; ".join(wrong)


def check_by_type(c: HeapCore, out: Path, work: Path) -> Found:
    report = _load_json(out)
    if report is None:
        return False, "no JSON on stdout", {}
    counted = type_counts(report)
    if not counted:
        return False, "no per-type counts found in the JSON", {}
    exact, how = _compare_types(c.types, counted)
    figures = {"types": len(counted), "program_types_exact": exact}
    figures.update({f"count {name}": counted.get(name) for name in c.types})
    return True, f"{len(counted):,} types; {how}", figures


def _pprof_file(work: Path) -> Path:
    return work / "goscope-heap.pb.gz"


def _check_profile(path: Path, c: HeapCore) -> Found:
    """A pprof profile (gzipped protobuf) at PATH: its size and which of the program's type
    names its string table holds."""
    if not path.is_file() or path.stat().st_size == 0:
        return False, f"no profile in {path.name}", {}
    raw = path.read_bytes()
    try:
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as exc:
        return False, f"{path.name} is not a readable gzip file: {exc}", {}
    named = [name for name in c.types if name.encode() in data]
    return (
        True,
        f"profile {len(raw) / 1e6:.1f} MB ({len(data) / 1e6:.1f} MB unpacked), names "
        f"{len(named)}/{len(c.types)} program types",
        {"profile_bytes": len(raw), "profile_types_named": len(named)},
    )


def check_pprof(c: HeapCore, out: Path, work: Path) -> Found:
    return _check_profile(_pprof_file(work), c)


def check_totals(c: HeapCore, out: Path, work: Path) -> Found:
    report = _load_json(out)
    totals = report.get("totals") if isinstance(report, dict) else None
    if not isinstance(totals, dict):
        return False, "no totals in the JSON", {}
    ms = c.memstats
    objects, alloc = totals.get("heap_objects"), totals.get("heap_alloc")
    if not isinstance(objects, int) or not isinstance(alloc, int):
        return False, "no heap_objects or heap_alloc in the totals", {}
    want_objects, want_alloc = ms.get("HeapObjects", 0), ms.get("HeapAlloc", 0)
    agree = objects == want_objects and alloc == want_alloc
    how = (
        "as runtime.ReadMemStats said before the crash"
        if agree
        else f"(runtime.ReadMemStats before the crash: {want_objects:,} objects, "
        f"{want_alloc:,} bytes; {objects - want_objects:+,} objects, "
        f"{alloc - want_alloc:+,} bytes)"
    )
    return (
        True,
        f"{objects:,} objects, {alloc:,} bytes allocated {how}",
        {"heap_objects": objects, "heap_alloc": alloc, "agrees_with_memstats": agree},
    )


# viewcore's histogram: "  count   size      bytes  type".
VIEWCORE_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S.*)$")


def check_viewcore(c: HeapCore, out: Path, work: Path) -> Found:
    counted: dict[str, int] = {}
    try:
        text = out.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        m = VIEWCORE_ROW.match(line)
        if m:
            counted[m.group(4).strip()] = counted.get(m.group(4).strip(), 0) + int(m.group(1))
    if not counted:
        return False, "no histogram rows in its output", {}
    exact, how = _compare_types(c.types, counted)
    return True, f"{len(counted):,} types; {how}", {"types": len(counted)}


def check_goref(c: HeapCore, out: Path, work: Path) -> Found:
    return _check_profile(work / "grf.out", c)


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    package: str
    name: str  # the binary's name in GOBIN


def install_peer(toolchain: Toolchain, peer: Peer) -> tuple[Path | None, str]:
    """PEER's binary in $CACHE/bin, installed with ``go install PACKAGE@latest`` when missing;
    or None and why not."""
    bin_dir = cache_dir() / "bin"
    path = bin_dir / peer.name
    if path.is_file() and os.access(path, os.X_OK):
        return path, ""
    say(f"installing {peer.package}@latest into {bin_dir} (go install) ...")
    bin_dir.mkdir(parents=True, exist_ok=True)
    try:
        proc = toolchain.run(
            ["install", f"{peer.package}@latest"],
            extra_env={"GOBIN": str(bin_dir), "CGO_ENABLED": "0"},
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        return None, f"not installed: `go install {peer.package}@latest` timed out"
    if proc.returncode != 0 or not path.is_file():
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        why = " / ".join(lines[:2]) if lines else f"exit {proc.returncode}"
        return None, f"not installed: `go install {peer.package}@latest` failed: {why}"
    return path, ""


def _viewcore_command(path: Path) -> Command:
    return lambda c, work: [str(path), str(c.core), "--exe", str(c.bin), "histogram"]


def _goref_command(path: Path) -> Command:
    return lambda c, work: [str(path), "core", str(c.bin), str(c.core)]


def all_tools(
    options: set[str] | None, toolchain: Toolchain, skip: Sequence[str]
) -> tuple[list[HeapTool], list[str]]:
    """Every tool, and notes on the ones that cannot run."""
    notes: list[str] = []
    env = tools.site_env()
    has = options or set()
    no_heap = "skipped: the goscope CLI in build/site has no `heap`"

    def missing(option: str) -> str:
        if options is None:
            return no_heap
        return f"skipped: `goscope heap --help` lists no {option} (not in the CLI in build/site)"

    result = [
        HeapTool(
            "goscope_by_type",
            "goscope heap --by type --json",
            _goscope_heap("--by", "type", "--json"),
            check_by_type,
            goscope=True,
            env=env,
            available="--by" in has,
            note=missing("--by"),
        ),
        HeapTool(
            "goscope_pprof",
            "goscope heap --pprof OUT",
            lambda c, work: _goscope_heap("--pprof", str(_pprof_file(work)))(c, work),
            check_pprof,
            goscope=True,
            env=env,
            available="--pprof" in has,
            note=missing("--pprof"),
        ),
        HeapTool(
            "goscope_totals",
            "goscope heap --json (totals, size classes)",
            _goscope_heap("--json", "--totals"),
            check_totals,
            goscope=True,
            env=env,
            available=options is not None,
            note=no_heap,
        ),
    ]
    peers: tuple[tuple[Peer, Callable[[Path], Command], Check], ...] = (
        (
            Peer("viewcore", "viewcore histogram", VIEWCORE, "viewcore"),
            _viewcore_command,
            check_viewcore,
        ),
        (
            Peer("goref", "goref: grf core (pprof of references)", GOREF, "grf"),
            _goref_command,
            check_goref,
        ),
    )
    for peer, command, check in peers:
        if peer.key in skip:
            continue
        path, why = install_peer(toolchain, peer)
        if path is None:
            notes.append(f"{peer.key}: {why}")
        result.append(
            HeapTool(
                peer.key,
                peer.label,
                command(path) if path is not None else (lambda c, work: []),
                check,
                goscope=False,
                available=path is not None,
                note=why,
            )
        )
    return [t for t in result if t.key not in skip], notes


# --- measuring ----------------------------------------------------------------------------


def measure_tool(
    tool: HeapTool, c: HeapCore, work: Path, repeat: int, timeout: float
) -> dict[str, Any]:
    """TOOL's row: REPEAT runs (it stops at the first that fails), the median figures of the
    runs that succeeded, and what the last one produced."""
    runs: list[measure.Run] = []
    out = work / f"{tool.key}.out"
    found: Found = (False, "", {})
    for _ in range(repeat):
        for leftover in (work / "grf.out", _pprof_file(work)):
            leftover.unlink(missing_ok=True)
        run = measure.run_measured(
            tool.command(c, work), stdout=out, env=tool.env, timeout=timeout, cwd=work
        )
        runs.append(run)
        if run.timed_out:
            break
        found = tool.check(c, out, work)
        if not run.ok or not found[0]:
            break
    last = runs[-1]
    if last.timed_out:
        status = f"timeout after {timeout:.0f} s"
    elif not last.ok:
        lines = [x for x in (last.stderr_tail or measure.tail(out)).splitlines() if x.strip()]
        status = f"exit {last.returncode}: {lines[-1].strip() if lines else ''}"
    elif not found[0]:
        status = f"no result: {found[1]}"
    else:
        status = "ok"
    for path in [*work.glob(f"{tool.key}.out*"), work / "grf.out", _pprof_file(work)]:
        path.unlink(missing_ok=True)
    ok_runs = [r for r in runs if r.ok]
    return {
        "tool": tool.key,
        "label": tool.label,
        "goscope": tool.goscope,
        "argv": last.argv,
        "status": status,
        "wall_s": measure.median([r.wall_s for r in ok_runs]) if ok_runs else None,
        "wall_s_runs": [round(r.wall_s, 3) for r in runs],
        "cpu_s": measure.median([r.cpu_s for r in ok_runs]) if ok_runs else None,
        "peak_mb": max(r.peak_mb for r in ok_runs) if ok_runs else None,
        "found": found[1],
        **found[2],
        "stderr_tail": last.stderr_tail if status != "ok" else "",
    }


def skipped_row(tool: HeapTool) -> dict[str, Any]:
    return {
        "tool": tool.key,
        "label": tool.label,
        "goscope": tool.goscope,
        "argv": [],
        "status": tool.note or "skipped",
        "wall_s": None,
        "wall_s_runs": [],
        "cpu_s": None,
        "peak_mb": None,
        "found": "",
    }


def primary(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The goscope row the ratios divide by: ``--by type`` when it ran, else the totals."""
    for key in ("goscope_by_type", "goscope_totals"):
        for row in rows:
            if row["tool"] == key and row["status"] == "ok":
                return row
    return None


def _number(value: float | None, digits: int) -> str:
    return f"{value:,.{digits}f}" if value is not None else "-"


def _short(status: str, width: int = 72) -> str:
    return status if len(status) <= width else status[: width - 3] + "..."


def report(rows: Sequence[dict[str, Any]], notes: Sequence[str]) -> str:
    ours = primary(rows) or {}
    cells = []
    for row in rows:
        measured = row["status"] == "ok"
        mine = row is ours
        cells.append(
            [
                row["label"],
                _number(row["wall_s"], 2) if measured else "-",
                _number(row["cpu_s"], 2) if measured else "-",
                _number(row["peak_mb"], 0) if measured else "-",
                "" if mine else measure.fmt_ratio(measure.ratio(row["wall_s"], ours.get("wall_s"))),
                ""
                if mine
                else measure.fmt_ratio(measure.ratio(row["peak_mb"], ours.get("peak_mb"))),
                _short(row["status"]),
            ]
        )
    headers = ["tool", "wall s", "cpu s", "peak MB", "wall/goscope", "MB/goscope", "status"]
    lines = [measure.table(headers, cells), ""]
    lines.append(
        "ratios divide by: " + (ours["label"] if ours else "nothing (no goscope row succeeded)")
    )
    for row in rows:
        if row["found"]:
            lines.append(f"  {row['label']}: {row['found']}")
    lines += [f"note: {note}" for note in notes]
    lines.append("")
    lines.append(
        f"targets (goscope, 2 GB heap): under {WALL_TARGET_S:.0f} s and under "
        f"{PEAK_TARGET_MB / 1024:.0f} GB peak RSS"
    )
    for row in rows:
        if row["tool"] not in TARGETED:
            continue
        if row["status"] != "ok":
            lines.append(f"  {row['label']}: FAIL (not measured: {row['status']})")
            continue
        lines.append(
            f"  {row['label']}: {row['wall_s']:.1f} s {verdict(row['wall_s'], WALL_TARGET_S)}, "
            f"{row['peak_mb']:,.0f} MB {verdict(row['peak_mb'], PEAK_TARGET_MB)}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time goscope's heap by type and pprof output on a core with a 2 GB heap, "
        "against viewcore and goref where they install and read the core."
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON summary")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (median)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per run (default 600)"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="build nothing (scripts/setup) first"
    )
    parser.add_argument(
        "--recapture", action="store_true", help="capture the core again even when cached"
    )
    parser.add_argument(
        "--skip", action="append", default=[], metavar="TOOL", help="skip a tool by key"
    )
    args = parser.parse_args(argv)

    try:
        toolchain = tools.machine_go()
        options = heap_options()
        wanted = {"--by", "--pprof"}
        if not args.no_build and (options is None or not wanted <= options):
            tools.setup_goscope()
            options = heap_options()
        c = heap_core(toolchain, args.recapture)
        chosen, notes = all_tools(options, toolchain, args.skip)
    except tools.ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    startup = common.python_startup_note()
    if startup:
        notes.append(startup)

    before = measure.provenance()
    rows = []
    with tempfile.TemporaryDirectory(dir=tools.bench_cache(), prefix="heap-") as tmp:
        say("reading the core once into the page cache ...")
        measure.warm(c.bin, c.core)
        for tool in chosen:
            if not tool.available:
                rows.append(skipped_row(tool))
                continue
            say(f"{tool.label} ...")
            row = measure_tool(tool, c, Path(tmp), args.repeat, args.timeout)
            say(f"  {row['status']}, {row['wall_s_runs']} s, {row['found']}")
            rows.append(row)

    where, built = common.header("heap", before)
    print(f"goscope {common.commit(built)}, build/site built {built['site_built']}")
    ms = c.memstats
    print(
        f"heapbig built by {toolchain.version}: {c.bin}\n"
        f"core {c.core_bytes / 1e9:.2f} GB ({c.core_disk_bytes / 1e9:.2f} GB on disk, from "
        f"{c.core_source}, captured in {c.capture_seconds:.0f} s): {c.core}\n"
        f"runtime.ReadMemStats before the crash: HeapAlloc {ms.get('HeapAlloc', 0) / 1e9:.2f} "
        f"GB in {ms.get('HeapObjects', 0):,} objects, HeapInuse "
        f"{ms.get('HeapInuse', 0) / 1e9:.2f} GB"
    )
    print()
    print(report(rows, notes))
    write_json(
        args.json,
        common.summary(
            "heap",
            where,
            built,
            before,
            toolchain,
            notes=notes,
            core={
                "path": str(c.core),
                "bytes": c.core_bytes,
                "disk_bytes": c.core_disk_bytes,
                "facts": c.facts,
            },
            results=rows,
            target={
                str(r["tool"]): {
                    "wall_s": r["wall_s"],
                    "peak_mb": r["peak_mb"],
                    "verdict_wall": verdict(
                        r["wall_s"] if r["status"] == "ok" else None, WALL_TARGET_S
                    ),
                    "verdict_rss": verdict(
                        r["peak_mb"] if r["status"] == "ok" else None, PEAK_TARGET_MB
                    ),
                }
                for r in rows
                if r["tool"] in TARGETED
            },
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
