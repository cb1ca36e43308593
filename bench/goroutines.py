#!/usr/bin/env python3
"""Listing every goroutine of a core with its stack: goscope against runtime-gdb.py and Delve.

The scale fixture program (tests/fixtures/programs/scale) is built once with the machine's Go
and crashed with 1,000, 10,000 and 100,000 parked goroutines; its binary and cores are cached
under ``~/.cache/goscope/bench/``. On each core, in the same run, every tool lists every
goroutine, its output going to a file:

- goscope's CLI, ``goscope goroutines CORE --exe BIN --json`` (every goroutine with every
  frame), when the CLI in build/site has that subcommand; ``goscope-bench BIN --core CORE``
  (the Rust core alone, JSON with every frame) always, as a second goscope figure and as the
  goscope figure when the CLI is missing;
- goscope in GDB, ``go bt all``, once gdb-scripts/goscope.py provides it;
- Go's runtime-gdb.py in GDB, ``info goroutines``;
- Delve, ``dlv core BIN CORE`` with ``goroutines -t`` from an init file.

Each tool runs with a timeout (300 s), and the goroutines in its output are counted and
checked against the runtime's own traceback of the crash. Targets for goscope: 100,000
goroutines with full stacks in under 1 s and 300 MB.

    python3 bench/goroutines.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import scale
import tools
from measure import (
    Run,
    count_matches,
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

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
TARGET_N = 100_000
WALL_TARGET_S = 1.0
PEAK_TARGET_MB = 300.0
DEFAULT_TIMEOUT = 300.0

# What each tool prints once per goroutine.
GOSCOPE_JSON_GOROUTINE = rb'"gp":'  # a key of goroutine objects only
TRACEBACK_GOROUTINE = scale.GOROUTINE_HEADER  # goscope's `go bt all`, like the runtime's
RUNTIME_GDB_GOROUTINE = rb"^[* ] \d+ \w"  # "* 1 running  runtime.gopark", "  2 waiting  ..."
DELVE_GOROUTINE = rb"^[* ] Goroutine \d+ - "
DELVE_TOTAL = re.compile(rb"^\[(\d+) goroutines\]", re.MULTILINE)


@dataclass
class Tool:
    """One way of listing goroutines: how to run it and how to count what it printed."""

    key: str
    label: str
    command: Callable[[scale.ScaleCore, Path], list[str]]
    pattern: bytes
    goscope: bool
    env: dict[str, str] | None = None
    available: bool = True
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def goscope_tools(cli: bool, bench: Path, gdb_bt: bool) -> list[Tool]:
    result = []
    if cli:
        result.append(
            Tool(
                key="goscope_cli",
                label="goscope goroutines --json",
                command=lambda c, out: [
                    *tools.goscope_cli(),
                    "goroutines",
                    str(c.core),
                    "--exe",
                    str(c.bin),
                    "--json",
                ],
                pattern=GOSCOPE_JSON_GOROUTINE,
                goscope=True,
                env=tools.site_env(),
            )
        )
    if cli:
        result.append(
            Tool(
                key="goscope_cli_bt",
                label="goscope bt all",
                command=lambda c, out: [
                    *tools.goscope_cli(),
                    "bt",
                    str(c.core),
                    "--exe",
                    str(c.bin),
                    "all",
                ],
                pattern=TRACEBACK_GOROUTINE,
                goscope=True,
                env=tools.site_env(),
            )
        )
    result.append(
        Tool(
            key="goscope_bench",
            label="goscope-bench --core",
            command=lambda c, out: [str(bench), str(c.bin), "--core", str(c.core)],
            pattern=GOSCOPE_JSON_GOROUTINE,
            goscope=True,
        )
    )
    result.append(
        Tool(
            key="goscope_gdb",
            label="gdb: go bt all (goscope)",
            command=lambda c, out: [
                "gdb",
                "--nx",
                "--batch",
                "-ex",
                f"source {tools.GDB_SCRIPT}",
                "-ex",
                "go bt all",
                str(c.bin),
                str(c.core),
            ],
            pattern=TRACEBACK_GOROUTINE,
            goscope=True,
            available=gdb_bt,
            note="" if gdb_bt else "skipped: `help go bt` says the command does not exist yet",
        )
    )
    return result


def peer_tools(runtime_gdb: Path, delve: tools.Delve | None, delve_note: str) -> list[Tool]:
    return [
        Tool(
            key="runtime_gdb",
            label="gdb: info goroutines (runtime-gdb.py)",
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
            pattern=RUNTIME_GDB_GOROUTINE,
            goscope=False,
        ),
        Tool(
            key="delve",
            label=f"dlv core: goroutines -t (Delve {delve.version if delve else '?'})",
            command=lambda c, out: [
                str(delve.path if delve else "dlv"),
                "core",
                str(c.bin),
                str(c.core),
                "--init",
                str(_delve_init(out)),
                "--allow-non-terminal-interactive=true",
            ],
            pattern=DELVE_GOROUTINE,
            goscope=False,
            available=delve is not None,
            note=delve_note,
        ),
    ]


def _delve_init(work: Path) -> Path:
    path = work / "dlv-init.txt"
    path.write_text("goroutines -t\nexit\n")
    return path


def measure_tool(
    tool: Tool, core: scale.ScaleCore, work: Path, repeat: int, timeout: float
) -> dict[str, Any]:
    runs: list[Run] = []
    count: int | None = None
    extra: dict[str, Any] = {}
    out = work / f"{tool.key}.out"
    for _ in range(repeat):
        # In the scratch directory: a tool that crashes leaves its core there, not in the checkout.
        run = run_measured(
            tool.command(core, work), stdout=out, env=tool.env, timeout=timeout, cwd=work
        )
        runs.append(run)
        if run.timed_out:
            break
        count = count_matches(out, tool.pattern)
        if tool.key == "delve":
            totals = DELVE_TOTAL.findall(out.read_bytes()[-4096:])
            extra["delve_total_line"] = int(totals[-1]) if totals else None
        if not run.ok or not count:
            extra["stdout_tail"] = _tail_lines(out)
            break
    for path in work.glob(f"{tool.key}.out*"):
        path.unlink()
    last = runs[-1]
    if last.timed_out:
        status = f"timeout after {timeout:.0f} s"
    elif not last.ok:
        why = _last_line(last.stderr_tail or extra.get("stdout_tail", ""))
        status = f"exit {last.returncode}: {why}"
    elif not count:
        status = f"no goroutines in its output: {_last_line(extra.get('stdout_tail', ''))}"
    else:
        status = "ok"
    ok_runs = [r for r in runs if r.ok]
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
        "goroutines": count,
        "runtime_goroutines": core.runtime_count,
        "count_matches": None if count is None else count == core.runtime_count,
        "stderr_tail": last.stderr_tail if status != "ok" else "",
        **extra,
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
        "goroutines": None,
        "runtime_goroutines": core.runtime_count,
        "count_matches": None,
        "stderr_tail": "",
    }


def _tail_lines(path: Path, lines: int = 6) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def report(rows: Sequence[dict[str, Any]], primary: str, notes: Sequence[str]) -> str:
    by_n: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_n.setdefault(row["n"], {})[row["tool"]] = row
    lines = []
    table_rows = []
    for n, tools_at_n in by_n.items():
        ours = tools_at_n.get(primary, {})
        for key, row in tools_at_n.items():
            measured = row["status"] == "ok"
            table_rows.append(
                [
                    f"{n:,}",
                    row["label"],
                    f"{row['wall_s']:.2f}" if measured and row["wall_s"] is not None else "-",
                    f"{row['cpu_s']:.2f}" if measured and row["cpu_s"] is not None else "-",
                    f"{row['peak_mb']:.0f}" if measured and row["peak_mb"] is not None else "-",
                    f"{row['goroutines']:,}" if row["goroutines"] is not None else "-",
                    f"{row['runtime_goroutines']:,}",
                    {True: "yes", False: "NO", None: "-"}[row["count_matches"]],
                    "" if key == primary else fmt_ratio(ratio(row["wall_s"], ours.get("wall_s"))),
                    "" if key == primary else fmt_ratio(ratio(row["peak_mb"], ours.get("peak_mb"))),
                    row["status"],
                ]
            )
    lines.append(
        table(
            [
                "goroutines",
                "tool",
                "wall s",
                "cpu s",
                "peak MB",
                "listed",
                "runtime",
                "match",
                "wall/goscope",
                "MB/goscope",
                "status",
            ],
            table_rows,
        )
    )
    for note in notes:
        lines.append(f"note: {note}")
    lines.append("")
    lines.append(
        f"targets (goscope, {TARGET_N:,} goroutines with full stacks: "
        f"< {WALL_TARGET_S:.0f} s and < {PEAK_TARGET_MB:.0f} MB)"
    )
    for row in rows:
        if row["goscope"] and row["n"] == TARGET_N:
            if row["status"] != "ok":
                lines.append(f"  {row['label']}: FAIL ({row['status']})")
                continue
            lines.append(
                f"  {row['label']}: {row['wall_s']:.2f} s {verdict(row['wall_s'], WALL_TARGET_S)}"
                f", {row['peak_mb']:.0f} MB {verdict(row['peak_mb'], PEAK_TARGET_MB)}"
            )
    if not any(r["n"] == TARGET_N for r in rows):
        lines.append(f"  not measured: no core with {TARGET_N:,} goroutines in this run")
    return "\n".join(lines)


def targets(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    result = {}
    for row in rows:
        if row["goscope"] and row["n"] == TARGET_N:
            ok = row["status"] == "ok"
            result[row["tool"]] = {
                "wall_s": row["wall_s"],
                "wall_verdict": verdict(row["wall_s"] if ok else None, WALL_TARGET_S),
                "peak_mb": row["peak_mb"],
                "peak_verdict": verdict(row["peak_mb"] if ok else None, PEAK_TARGET_MB),
            }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time listing every goroutine of cores with 1,000 to 100,000 goroutines: "
        "goscope against runtime-gdb.py and Delve."
    )
    parser.add_argument("--quick", action="store_true", help="only 1,000 and 10,000 goroutines")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON summary")
    parser.add_argument(
        "--sizes", type=int, nargs="+", metavar="N", help="goroutine counts (default: %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and core (median)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per run (default 300)"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="build nothing (cargo, scripts/setup) first"
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="run scripts/setup first even when build/site already has the goscope CLI",
    )
    parser.add_argument(
        "--skip", action="append", default=[], metavar="TOOL", help="skip a tool by key"
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)

    notes: list[str] = []
    try:
        toolchain = tools.machine_go()
        bench, build_note = tools.goscope_bench(build=not args.no_build)
        if build_note:
            notes.append(build_note)
        if args.setup or (not args.no_build and not tools.cli_has("goroutines")):
            tools.setup_goscope()
        cli = tools.cli_has("goroutines")
        if cli:
            primary = "goscope_cli"
            notes.append(
                "goscope figure: the CLI, `goscope goroutines CORE --exe BIN --json` "
                "(build/site); goscope-bench --core is the Rust core alone"
            )
        else:
            primary = "goscope_bench"
            notes.append(
                "goscope figure: goscope-bench --core (the CLI in build/site has no "
                "`goroutines` subcommand yet)"
            )
        gdb_bt = tools.gdb_has_go_command("bt")
        if not gdb_bt:
            notes.append("goscope in GDB (`go bt all`) skipped: the command does not exist yet")
        delve: tools.Delve | None
        try:
            delve = tools.delve(toolchain)
            delve_note = ""
        except tools.ToolError as exc:
            delve, delve_note = None, f"Delve unavailable: {exc}"
            notes.append(delve_note)
        all_tools = [
            *goscope_tools(cli, bench, gdb_bt),
            *peer_tools(tools.runtime_gdb_py(toolchain), delve, delve_note),
        ]
        all_tools = [t for t in all_tools if t.key not in args.skip]
        cores = [scale.core(toolchain, n) for n in sizes]
    except tools.ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    # What the CLI rows pay before reading anything: this interpreter's start-up (with its
    # site-packages) and goscope's imports.
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
    with tempfile.TemporaryDirectory(dir=tools.bench_cache(), prefix="goroutines-") as tmp:
        for core in cores:
            warm(core.bin, core.core)
            for tool in all_tools:
                if not tool.available:
                    rows.append(skipped(tool, core))
                    continue
                say(f"{core.n:,} goroutines: {tool.label} ...")
                row = measure_tool(tool, core, Path(tmp), args.repeat, args.timeout)
                say(
                    f"  {row['status']}, {row['wall_s_runs']} s, "
                    f"{row['goroutines']} goroutines listed"
                )
                rows.append(row)

    where = machine()
    built = provenance()
    if built != before:
        print(
            "warning: goscope was rebuilt while this benchmark ran (by another process); "
            f"before: {before}"
        )
    print(
        f"goroutine listings, {where['date']}, {where['cpus']} CPUs ({where['cpu']}), "
        f"{where['memory_gb']} GB, load average {where['load_average']}"
    )
    print(
        f"goscope at commit {built['commit']} ({built['modified_sources']} modified files under "
        f"rust/ and python/), goscope-bench built {built['goscope_bench_built']}, build/site "
        f"built {built['site_built']}"
    )
    print(
        f"scale program built by {toolchain.version}: {cores[0].bin}; "
        "runtime = goroutines in the runtime's own traceback of the crash"
    )
    print()
    print(report(rows, primary, notes))
    write_json(
        args.json,
        {
            "benchmark": "goroutines",
            "machine": where,
            "goscope": built,
            "goscope_before_run": before,
            "go": toolchain.version,
            "primary": primary,
            "notes": notes,
            "cores": {str(c.n): str(c.core) for c in cores},
            "results": rows,
            "targets": targets(rows),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
