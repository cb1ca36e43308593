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
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

import common
import scale
import tools
from measure import say, verdict, write_json

SIZES = (100_000,)
TARGET_N = 100_000
WALL_TARGET_S = 2.0

# A group in goscope's text report: "[3] 1,000 goroutines  waiting 1,000".
GOSCOPE_TEXT_GROUP = re.compile(rb"^\[\d+\] ([\d,]+) goroutines?\b", re.MULTILINE)
# Delve's `goroutines -group ...` ends each group with "\tTotal: N".
DELVE_GROUP_TOTAL = re.compile(rb"^\s+Total: (\d+)\s*$", re.MULTILINE)
# runtime-gdb.py's `info goroutines`: "* 1 running  runtime.gopark", "  2 waiting  ...".
RUNTIME_GDB_GOROUTINE = re.compile(rb"^[* ] \d+ \w", re.MULTILINE)

# What a tool's output says: (groups, goroutines in them), or None when it cannot be read.
Counted = Optional[Tuple[int, int]]


def _goscope_json(path: Path) -> Counted:
    try:
        report = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    groups = report.get("groups") or []
    total = sum(int(g.get("count", 0)) for g in groups)
    if total != report.get("total"):
        say(f"  the report's total {report.get('total')} is not the sum of its groups {total}")
    return len(groups), total


def _pattern_groups(pattern: re.Pattern[bytes]) -> Callable[[Path], Counted]:
    def count(path: Path) -> Counted:
        sizes = [int(m.replace(b",", b"")) for m in pattern.findall(path.read_bytes())]
        return (len(sizes), sum(sizes)) if sizes else None

    return count


def _one_per_line(path: Path) -> Counted:
    n = len(RUNTIME_GDB_GOROUTINE.findall(path.read_bytes()))
    return (n, n) if n else None


def all_tools(
    cli: bool, gdb_triage: bool, runtime_gdb: Path, delve: tools.Delve | None, delve_note: str
) -> list[common.Tool[Counted]]:
    missing = "" if cli else "skipped: the goscope CLI in build/site has no `triage`"
    return [
        common.goscope_cli_tool(
            "goscope_json",
            "goscope triage --json",
            common.goscope_cli("triage", "--json"),
            _goscope_json,
            available=cli,
            note=missing,
        ),
        common.goscope_cli_tool(
            "goscope_text",
            "goscope triage (text)",
            common.goscope_cli("triage"),
            _pattern_groups(GOSCOPE_TEXT_GROUP),
            env={**tools.site_env(), "NO_COLOR": "1"},
            available=cli,
            note=missing,
        ),
        common.goscope_gdb_tool(
            "triage",
            _pattern_groups(GOSCOPE_TEXT_GROUP),
            available=gdb_triage,
            note="skipped: `help go triage` says it does not exist",
            env={**os.environ, "NO_COLOR": "1"},
        ),
        common.delve_tool(
            delve, delve_note, "goroutines -group userloc", _pattern_groups(DELVE_GROUP_TOTAL)
        ),
        common.runtime_gdb_tool(
            runtime_gdb,
            _one_per_line,
            label="gdb: info goroutines (runtime-gdb.py, no grouping)",
            groups=False,
        ),
    ]


class Triage(common.Bench[Counted]):
    """Each tool's grouped view of every goroutine, its groups added up."""

    name = "triage"
    title = "triage"

    def measure_tool(
        self,
        tool: common.Tool[Counted],
        core: scale.ScaleCore,
        work: Path,
        repeat: int,
        timeout: float,
    ) -> dict[str, Any]:
        measured = common.run_tool(tool, core, work, repeat, timeout, tail_lines=4)
        status = measured.status("no goroutines in its output")
        groups, listed = measured.found or (None, None)
        failed = status != "ok"
        return common.row(
            tool,
            core,
            measured.runs,
            status,
            groups=groups if tool.groups else None,
            grouping=tool.groups,
            **common.counts(core, listed),
            stderr_tail=measured.last.stderr_tail if failed else "",
            stdout_tail=measured.tail if failed else "",
        )

    def skipped(self, tool: common.Tool[Counted], core: scale.ScaleCore) -> dict[str, Any]:
        return common.skipped(
            tool, core, groups=None, grouping=tool.groups, **common.counts(core, None)
        )

    def progress(self, row: dict[str, Any]) -> str:
        return f"{_groups(row)} groups"

    def builds(self, built: Mapping[str, Any]) -> str:
        return f"build/site built {built['site_built']}"


def _groups(row: dict[str, Any]) -> str:
    if not row["grouping"]:
        return "none"
    return f"{row['groups']:,}" if row["groups"] is not None else "-"


def report(rows: Sequence[dict[str, Any]], notes: Sequence[str]) -> str:
    lines = [
        common.results_table(
            rows,
            "goscope_json",
            listed="in groups",
            ratios=("wall_s", "cpu_s", "peak_mb"),
            extra={"groups": _groups},
        )
    ]
    lines += [f"note: {note}" for note in notes]
    lines.append("")
    lines.append(
        f"target (goscope, {TARGET_N:,} goroutines): the whole triage < {WALL_TARGET_S:.0f} s"
    )

    def verdicts(row: dict[str, Any]) -> str:
        counts = "" if row["count_matches"] else ", groups do not add up to the runtime's count"
        return f"{row['wall_s']:.2f} s {verdict(row['wall_s'], WALL_TARGET_S)}{counts}"

    lines += common.target_lines(rows, TARGET_N, verdicts)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time the triage report of a core with 100,000 goroutines: goscope "
        "against Delve's grouped goroutine listing and runtime-gdb.py's listing."
    )
    common.add_options(parser, sizes="100000", builds="scripts/setup")
    args = parser.parse_args(argv)
    sizes = args.sizes or SIZES

    notes: list[str] = []
    try:
        toolchain = tools.machine_go()
        if not args.no_build and not tools.cli_has("triage"):
            tools.setup_goscope()
        cli = tools.cli_has("triage")
        gdb_triage = tools.gdb_has_go_command("triage")
        delve, delve_note = common.find_delve(toolchain)
        if delve_note:
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
    results = Triage().run(toolchain, cores, chosen, args, notes)
    print(report(results.rows, notes))
    write_json(
        args.json,
        results.summary(
            notes=notes,
            cores={str(c.n): str(c.core) for c in cores},
            results=results.rows,
            target={
                str(r["tool"]): {
                    "wall_s": r["wall_s"],
                    "verdict": verdict(r["wall_s"] if r["status"] == "ok" else None, WALL_TARGET_S),
                }
                for r in common.at_target(results.rows, TARGET_N)
            },
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
