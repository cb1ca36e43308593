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
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import common
import scale
import tools
from measure import count_matches, verdict, write_json

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
TARGET_N = 100_000
WALL_TARGET_S = 1.0
PEAK_TARGET_MB = 300.0

# What each tool prints once per goroutine.
GOSCOPE_JSON_GOROUTINE = rb'"gp":'  # a key of goroutine objects only
TRACEBACK_GOROUTINE = scale.GOROUTINE_HEADER  # goscope's `go bt all`, like the runtime's
RUNTIME_GDB_GOROUTINE = rb"^[* ] \d+ \w"  # "* 1 running  runtime.gopark", "  2 waiting  ..."
DELVE_GOROUTINE = rb"^[* ] Goroutine \d+ - "
DELVE_TOTAL = re.compile(rb"^\[(\d+) goroutines\]", re.MULTILINE)


def _matches(pattern: bytes) -> Callable[[Path], int]:
    """The goroutines in a tool's output: the lines that match PATTERN."""
    return lambda path: count_matches(path, pattern)


def goscope_tools(cli: bool, bench: Path, gdb_bt: bool) -> list[common.Tool[int]]:
    result = []
    if cli:
        result.append(
            common.goscope_cli_tool(
                "goscope_cli",
                "goscope goroutines --json",
                common.goscope_cli("goroutines", "--json"),
                _matches(GOSCOPE_JSON_GOROUTINE),
            )
        )
        result.append(
            common.goscope_cli_tool(
                "goscope_cli_bt",
                "goscope bt all",
                common.goscope_cli("bt", "all"),
                _matches(TRACEBACK_GOROUTINE),
            )
        )
    result.append(
        common.Tool(
            key="goscope_bench",
            label="goscope-bench --core",
            command=lambda c, work: [str(bench), str(c.bin), "--core", str(c.core)],
            count=_matches(GOSCOPE_JSON_GOROUTINE),
            goscope=True,
        )
    )
    result.append(
        common.goscope_gdb_tool(
            "bt all",
            _matches(TRACEBACK_GOROUTINE),
            available=gdb_bt,
            note="skipped: `help go bt` says the command does not exist yet",
        )
    )
    return result


def peer_tools(
    runtime_gdb: Path, delve: tools.Delve | None, delve_note: str
) -> list[common.Tool[int]]:
    return [
        common.runtime_gdb_tool(
            runtime_gdb,
            _matches(RUNTIME_GDB_GOROUTINE),
            label="gdb: info goroutines (runtime-gdb.py)",
        ),
        common.delve_tool(delve, delve_note, "goroutines -t", _matches(DELVE_GOROUTINE)),
    ]


class Goroutines(common.Bench[int]):
    """Each tool's listing of every goroutine, its goroutines counted."""

    name = "goroutines"
    title = "goroutine listings"

    def measure_tool(
        self, tool: common.Tool[int], core: scale.ScaleCore, work: Path, repeat: int, timeout: float
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}

        def read(out: Path) -> int:
            if tool.key == "delve":
                totals = DELVE_TOTAL.findall(out.read_bytes()[-4096:])
                extra["delve_total_line"] = int(totals[-1]) if totals else None
            return tool.count(out)

        measured = common.run_tool(tool, core, work, repeat, timeout, read=read)
        status = measured.status(f"no goroutines in its output: {common.last_line(measured.tail)}")
        if status != "ok":
            extra["stdout_tail"] = measured.tail
        return common.row(
            tool,
            core,
            measured.runs,
            status,
            **common.counts(core, measured.found),
            stderr_tail=measured.last.stderr_tail if status != "ok" else "",
            **extra,
        )

    def skipped(self, tool: common.Tool[int], core: scale.ScaleCore) -> dict[str, Any]:
        return common.skipped(tool, core, **common.counts(core, None), stderr_tail="")

    def progress(self, row: dict[str, Any]) -> str:
        return f"{row['goroutines']} goroutines listed"

    def builds(self, built: Mapping[str, Any]) -> str:
        return (
            f"goscope-bench built {built['goscope_bench_built']}, "
            f"build/site built {built['site_built']}"
        )


def report(rows: Sequence[dict[str, Any]], primary: str, notes: Sequence[str]) -> str:
    lines = [common.results_table(rows, primary, listed="listed", ratios=("wall_s", "peak_mb"))]
    lines += [f"note: {note}" for note in notes]
    lines.append("")
    lines.append(
        f"targets (goscope, {TARGET_N:,} goroutines with full stacks: "
        f"< {WALL_TARGET_S:.0f} s and < {PEAK_TARGET_MB:.0f} MB)"
    )
    lines += common.target_lines(
        rows,
        TARGET_N,
        lambda row: (
            f"{row['wall_s']:.2f} s {verdict(row['wall_s'], WALL_TARGET_S)}"
            f", {row['peak_mb']:.0f} MB {verdict(row['peak_mb'], PEAK_TARGET_MB)}"
        ),
    )
    return "\n".join(lines)


def targets(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    result = {}
    for row in common.at_target(rows, TARGET_N):
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
    common.add_options(
        parser, sizes="1000 10000 100000, --quick: 1000 10000", builds="cargo, scripts/setup"
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="run scripts/setup first even when build/site already has the goscope CLI",
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
        delve, delve_note = common.find_delve(toolchain)
        if delve_note:
            notes.append(delve_note)
        chosen = [
            t
            for t in [
                *goscope_tools(cli, bench, gdb_bt),
                *peer_tools(tools.runtime_gdb_py(toolchain), delve, delve_note),
            ]
            if t.key not in args.skip
        ]
        cores = [scale.core(toolchain, n) for n in sizes]
    except tools.ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    results = Goroutines().run(toolchain, cores, chosen, args, notes)
    print(report(results.rows, primary, notes))
    write_json(
        args.json,
        results.summary(
            primary=primary,
            notes=notes,
            cores={str(c.n): str(c.core) for c in cores},
            results=results.rows,
            targets=targets(results.rows),
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
