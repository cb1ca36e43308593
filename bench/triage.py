#!/usr/bin/env python3
"""The whole triage report of a core with 100,000 goroutines: goscope against its peers.

The scale fixture program (tests/fixtures/programs/scale), built with the machine's Go, crashed
with N parked goroutines (cached under ``~/.cache/goscope/bench/``, see bench/scale.py). On that
core, in the same run, each tool produces its grouped view of every goroutine, its output going
to a file:

- goscope's CLI, ``goscope triage CORE --exe BIN --json`` and the same as text: process,
  scheduler and memory, crash, blocking analysis, goroutines grouped by identical stacks;
- goscope in GDB, ``go triage``, once gdb-scripts/goscope.py provides it;
- Delve, ``dlv core BIN CORE`` with ``goroutines -group userloc`` from an init file: Delve's
  closest grouping (by the topmost frame in user code; ``-group user`` only splits user from
  runtime goroutines);
- Go's runtime-gdb.py in GDB, ``info goroutines``, which has no grouping: one line each.

For every tool the groups are counted and their sizes added up, and the sum is checked against
the runtime's own traceback of the crash. Target for goscope: the whole triage of 100,000
goroutines in under 2 s.

    python3 bench/triage.py [--json FILE] [--sizes N ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import scale
import tools
from measure import (
    Run,
    fmt_ratio,
    machine,
    median,
    provenance,
    ratio,
    run_measured,
    say,
    table,
    verdict,
    warm,
    write_json,
)

SIZES = (100_000,)
TARGET_N = 100_000
WALL_TARGET_S = 2.0
DEFAULT_TIMEOUT = 300.0

# A group in goscope's text report: "[3] 1,000 goroutines  waiting 1,000".
GOSCOPE_TEXT_GROUP = re.compile(rb"^\[\d+\] ([\d,]+) goroutines?\b", re.MULTILINE)
# Delve's `goroutines -group ...` ends each group with "\tTotal: N".
DELVE_GROUP_TOTAL = re.compile(rb"^\s+Total: (\d+)\s*$", re.MULTILINE)
# runtime-gdb.py's `info goroutines`: "* 1 running  runtime.gopark", "  2 waiting  ...".
RUNTIME_GDB_GOROUTINE = re.compile(rb"^[* ] \d+ \w", re.MULTILINE)


@dataclass
class Tool:
    key: str
    label: str
    command: Callable[[scale.ScaleCore, Path], list[str]]
    # What the output says: (groups, goroutines in them), or None when it cannot be read.
    count: Callable[[Path], tuple[int, int] | None]
    goscope: bool
    # Whether the tool groups goroutines at all.
    groups: bool = True
    env: dict[str, str] | None = None
    available: bool = True
    note: str = ""


def _goscope_json(path: Path) -> tuple[int, int] | None:
    try:
        report = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    groups = report.get("groups") or []
    total = sum(int(g.get("count", 0)) for g in groups)
    if total != report.get("total"):
        say(f"  the report's total {report.get('total')} is not the sum of its groups {total}")
    return len(groups), total


def _pattern_groups(pattern: re.Pattern[bytes]) -> Callable[[Path], tuple[int, int] | None]:
    def count(path: Path) -> tuple[int, int] | None:
        sizes = [int(m.replace(b",", b"")) for m in pattern.findall(path.read_bytes())]
        return (len(sizes), sum(sizes)) if sizes else None

    return count


def _one_per_line(path: Path) -> tuple[int, int] | None:
    n = len(RUNTIME_GDB_GOROUTINE.findall(path.read_bytes()))
    return (n, n) if n else None


def all_tools(
    cli: bool, gdb_triage: bool, runtime_gdb: Path, delve: tools.Delve | None, delve_note: str
) -> list[Tool]:
    def triage_cli(*extra: str) -> Callable[[scale.ScaleCore, Path], list[str]]:
        return lambda c, out: [
            *tools.goscope_cli(),
            "triage",
            str(c.core),
            "--exe",
            str(c.bin),
            *extra,
        ]

    missing = "" if cli else "skipped: the goscope CLI in build/site has no `triage`"
    return [
        Tool(
            key="goscope_json",
            label="goscope triage --json",
            command=triage_cli("--json"),
            count=_goscope_json,
            goscope=True,
            env=tools.site_env(),
            available=cli,
            note=missing,
        ),
        Tool(
            key="goscope_text",
            label="goscope triage (text)",
            command=triage_cli(),
            count=_pattern_groups(GOSCOPE_TEXT_GROUP),
            goscope=True,
            env={**tools.site_env(), "NO_COLOR": "1"},
            available=cli,
            note=missing,
        ),
        Tool(
            key="goscope_gdb",
            label="gdb: go triage (goscope)",
            command=lambda c, out: [
                "gdb",
                "--nx",
                "--batch",
                "-ex",
                f"source {tools.GDB_SCRIPT}",
                "-ex",
                "go triage",
                str(c.bin),
                str(c.core),
            ],
            count=_pattern_groups(GOSCOPE_TEXT_GROUP),
            goscope=True,
            env={**os.environ, "NO_COLOR": "1"},
            available=gdb_triage,
            note="" if gdb_triage else "skipped: `help go triage` says it does not exist",
        ),
        Tool(
            key="delve",
            label=f"dlv core: goroutines -group userloc (Delve {delve.version if delve else '?'})",
            command=lambda c, out: [
                str(delve.path if delve else "dlv"),
                "core",
                str(c.bin),
                str(c.core),
                "--init",
                str(_delve_init(out)),
                "--allow-non-terminal-interactive=true",
            ],
            count=_pattern_groups(DELVE_GROUP_TOTAL),
            goscope=False,
            available=delve is not None,
            note=delve_note,
        ),
        Tool(
            key="runtime_gdb",
            label="gdb: info goroutines (runtime-gdb.py, no grouping)",
            command=lambda c, out: [
                "gdb",
                "--nx",
                "--batch",
                "-ex",
                f"source {runtime_gdb}",
                "-ex",
                "info goroutines",
                str(c.bin),
                str(c.core),
            ],
            count=_one_per_line,
            goscope=False,
            groups=False,
        ),
    ]


def _delve_init(work: Path) -> Path:
    path = work / "dlv-init.txt"
    path.write_text("goroutines -group userloc\nexit\n")
    return path


def measure_tool(
    tool: Tool, core: scale.ScaleCore, work: Path, repeat: int, timeout: float
) -> dict[str, Any]:
    runs: list[Run] = []
    counted: tuple[int, int] | None = None
    out = work / f"{tool.key}.out"
    for _ in range(repeat):
        # In the scratch directory: a tool that crashes leaves its core there.
        run = run_measured(
            tool.command(core, work), stdout=out, env=tool.env, timeout=timeout, cwd=work
        )
        runs.append(run)
        if run.timed_out or not run.ok:
            break
        counted = tool.count(out)
        if counted is None:
            break
    tail = ""
    if out.exists():
        tail = "\n".join(out.read_bytes()[-2048:].decode(errors="replace").splitlines()[-4:])
    for path in work.glob(f"{tool.key}.out*"):
        path.unlink()
    last = runs[-1]
    if last.timed_out:
        status = f"timeout after {timeout:.0f} s"
    elif not last.ok:
        why = [line for line in (last.stderr_tail or tail).splitlines() if line.strip()]
        status = f"exit {last.returncode}: {why[-1].strip() if why else ''}"
    elif counted is None:
        status = "no goroutines in its output"
    else:
        status = "ok"
    ok_runs = [r for r in runs if r.ok]
    groups, listed = counted if counted else (None, None)
    return {
        "tool": tool.key,
        "label": tool.label,
        "goscope": tool.goscope,
        "n": core.n,
        "argv": last.argv,
        "status": status,
        "wall_s": median([r.wall_s for r in ok_runs]) if ok_runs else None,
        "wall_s_runs": [round(r.wall_s, 3) for r in runs],
        "cpu_s": median([r.cpu_s for r in ok_runs]) if ok_runs else None,
        "peak_mb": max(r.peak_mb for r in ok_runs) if ok_runs else None,
        "groups": groups if tool.groups else None,
        "grouping": tool.groups,
        "goroutines": listed,
        "runtime_goroutines": core.runtime_count,
        "count_matches": None if listed is None else listed == core.runtime_count,
        "stderr_tail": last.stderr_tail if status != "ok" else "",
        "stdout_tail": tail if status != "ok" else "",
    }


def skipped(tool: Tool, core: scale.ScaleCore) -> dict[str, Any]:
    return {
        "tool": tool.key,
        "label": tool.label,
        "goscope": tool.goscope,
        "n": core.n,
        "argv": [],
        "status": tool.note or "skipped",
        "wall_s": None,
        "wall_s_runs": [],
        "cpu_s": None,
        "peak_mb": None,
        "groups": None,
        "grouping": tool.groups,
        "goroutines": None,
        "runtime_goroutines": core.runtime_count,
        "count_matches": None,
    }


def _groups(row: dict[str, Any]) -> str:
    if not row["grouping"]:
        return "none"
    return f"{row['groups']:,}" if row["groups"] is not None else "-"


def _number(value: float | None, digits: int, measured: bool) -> str:
    return f"{value:.{digits}f}" if measured and value is not None else "-"


def report(rows: Sequence[dict[str, Any]], notes: Sequence[str]) -> str:
    primary = "goscope_json"
    table_rows = []
    for n in sorted({r["n"] for r in rows}):
        at_n = {r["tool"]: r for r in rows if r["n"] == n}
        ours = at_n.get(primary, {})
        for key, row in at_n.items():
            measured = row["status"] == "ok"

            table_rows.append(
                [
                    f"{n:,}",
                    row["label"],
                    _number(row["wall_s"], 2, measured),
                    _number(row["cpu_s"], 2, measured),
                    _number(row["peak_mb"], 0, measured),
                    _groups(row),
                    f"{row['goroutines']:,}" if row["goroutines"] is not None else "-",
                    f"{row['runtime_goroutines']:,}",
                    {True: "yes", False: "NO", None: "-"}[row["count_matches"]],
                    "" if key == primary else fmt_ratio(ratio(row["wall_s"], ours.get("wall_s"))),
                    "" if key == primary else fmt_ratio(ratio(row["cpu_s"], ours.get("cpu_s"))),
                    "" if key == primary else fmt_ratio(ratio(row["peak_mb"], ours.get("peak_mb"))),
                    row["status"],
                ]
            )
    lines = [
        table(
            [
                "goroutines",
                "tool",
                "wall s",
                "cpu s",
                "peak MB",
                "groups",
                "in groups",
                "runtime",
                "match",
                "wall/goscope",
                "cpu/goscope",
                "MB/goscope",
                "status",
            ],
            table_rows,
        )
    ]
    lines += [f"note: {note}" for note in notes]
    lines.append("")
    lines.append(
        f"target (goscope, {TARGET_N:,} goroutines): the whole triage < {WALL_TARGET_S:.0f} s"
    )
    for row in rows:
        if row["goscope"] and row["n"] == TARGET_N:
            if row["status"] != "ok":
                lines.append(f"  {row['label']}: FAIL ({row['status']})")
                continue
            counts = "" if row["count_matches"] else ", groups do not add up to the runtime's count"
            lines.append(
                f"  {row['label']}: {row['wall_s']:.2f} s {verdict(row['wall_s'], WALL_TARGET_S)}"
                f"{counts}"
            )
    if not any(r["n"] == TARGET_N for r in rows):
        lines.append(f"  not measured: no core with {TARGET_N:,} goroutines in this run")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time the triage report of a core with 100,000 goroutines: goscope "
        "against Delve's grouped goroutine listing and runtime-gdb.py's listing."
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON summary")
    parser.add_argument(
        "--sizes", type=int, nargs="+", metavar="N", help="goroutine counts (default: 100000)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and core (median)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per run (default 300)"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="build nothing (scripts/setup) first"
    )
    parser.add_argument(
        "--skip", action="append", default=[], metavar="TOOL", help="skip a tool by key"
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or SIZES

    notes: list[str] = []
    try:
        toolchain = tools.machine_go()
        if not args.no_build and not tools.cli_has("triage"):
            tools.setup_goscope()
        cli = tools.cli_has("triage")
        gdb_triage = tools.gdb_has_go_command("triage")
        delve: tools.Delve | None
        try:
            delve = tools.delve(toolchain)
            delve_note = ""
        except tools.ToolError as exc:
            delve, delve_note = None, f"Delve unavailable: {exc}"
            notes.append(delve_note)
        chosen = [
            t
            for t in all_tools(cli, gdb_triage, tools.runtime_gdb_py(toolchain), delve, delve_note)
            if t.key not in args.skip
        ]
        cores = [scale.core(toolchain, n) for n in sizes]
    except tools.ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    notes.append(
        "groups: goscope groups goroutines by identical stacks; Delve by the topmost frame in "
        "user code (`-group userloc`); runtime-gdb.py does not group (one line per goroutine)"
    )

    startup = [
        run_measured([*tools.goscope_cli()[:1], "-c", "import goscope.cli"], env=tools.site_env())
        for _ in range(5)
    ]
    if all(r.ok for r in startup):
        notes.append(
            f"python start-up with `import goscope.cli` ({sys.executable}): "
            f"{median([r.wall_s for r in startup]):.2f} s, included in the CLI rows"
        )

    before = provenance()
    rows = []
    with tempfile.TemporaryDirectory(dir=tools.bench_cache(), prefix="triage-") as tmp:
        for core in cores:
            warm(core.bin, core.core)
            for tool in chosen:
                if not tool.available:
                    rows.append(skipped(tool, core))
                    continue
                say(f"{core.n:,} goroutines: {tool.label} ...")
                row = measure_tool(tool, core, Path(tmp), args.repeat, args.timeout)
                say(f"  {row['status']}, {row['wall_s_runs']} s, {_groups(row)} groups")
                rows.append(row)

    where = machine()
    built = provenance()
    if built != before:
        print(
            "warning: goscope was rebuilt while this benchmark ran (by another process); "
            f"before: {before}"
        )
    print(
        f"triage, {where['date']}, {where['cpus']} CPUs ({where['cpu']}), "
        f"{where['memory_gb']} GB, load average {where['load_average']}"
    )
    print(
        f"goscope at commit {built['commit']} ({built['modified_sources']} modified files under "
        f"rust/ and python/), build/site built {built['site_built']}"
    )
    print(
        f"scale program built by {toolchain.version}: {cores[0].bin}; "
        "runtime = goroutines in the runtime's own traceback of the crash"
    )
    print()
    print(report(rows, notes))
    write_json(
        args.json,
        {
            "benchmark": "triage",
            "machine": where,
            "goscope": built,
            "goscope_before_run": before,
            "go": toolchain.version,
            "notes": notes,
            "cores": {str(c.n): str(c.core) for c in cores},
            "results": rows,
            "target": {
                str(r["tool"]): {
                    "wall_s": r["wall_s"],
                    "verdict": verdict(r["wall_s"] if r["status"] == "ok" else None, WALL_TARGET_S),
                }
                for r in rows
                if r["goscope"] and r["n"] == TARGET_N
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
