"""What the benchmarks on cores of the scale program (goroutines.py, triage.py) share.

The tools they run on a core (goscope's CLI, goscope in GDB, Go's runtime-gdb.py, Delve), the
loop that measures every tool on every core, the rows and the report's table and target lines,
the options, and the run's header and JSON summary (binary_lookup.py uses these last two too).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, List, Mapping, Sequence, TypeVar

import measure
import scale
import tools

from tests.harness.toolchains import Toolchain

# A tool's argv for a core, given the scratch directory it runs in.
Command = Callable[[scale.ScaleCore, Path], List[str]]
T = TypeVar("T")


@dataclass
class Tool(Generic[T]):
    """One way of showing every goroutine of a core: how to run it and how to read its output."""

    key: str
    label: str
    command: Command
    # What its output lists (a count, or groups and goroutines): false when it lists nothing.
    count: Callable[[Path], T]
    goscope: bool
    # Whether its output groups goroutines (runtime-gdb.py prints one line for each).
    groups: bool = True
    env: dict[str, str] | None = None
    available: bool = True
    note: str = ""


def goscope_cli(subcommand: str, *after: str) -> Command:
    """``python3 -m goscope.cli SUBCOMMAND CORE --exe BIN AFTER...`` (build/site)."""
    return lambda c, work: [
        *tools.goscope_cli(),
        subcommand,
        str(c.core),
        "--exe",
        str(c.bin),
        *after,
    ]


def goscope_cli_tool(
    key: str,
    label: str,
    command: Command,
    count: Callable[[Path], T],
    *,
    env: dict[str, str] | None = None,
    available: bool = True,
    note: str = "",
) -> Tool[T]:
    """goscope's CLI in build/site (ENV: the environment that finds it)."""
    return Tool(
        key=key,
        label=label,
        command=command,
        count=count,
        goscope=True,
        env=env or tools.site_env(),
        available=available,
        note=note,
    )


def gdb(script: Path, command: str) -> Command:
    """GDB in batch mode on the core, with SCRIPT sourced, running COMMAND."""
    return lambda c, work: [
        "gdb",
        "--nx",
        "--batch",
        "-ex",
        f"source {script}",
        "-ex",
        command,
        str(c.bin),
        str(c.core),
    ]


def goscope_gdb_tool(
    command: str,
    count: Callable[[Path], T],
    available: bool,
    note: str,
    env: dict[str, str] | None = None,
) -> Tool[T]:
    """``go COMMAND`` in GDB with gdb-scripts/goscope.py; NOTE says why it is not AVAILABLE."""
    return Tool(
        key="goscope_gdb",
        label=f"gdb: go {command} (goscope)",
        command=gdb(tools.GDB_SCRIPT, f"go {command}"),
        count=count,
        goscope=True,
        env=env,
        available=available,
        note="" if available else note,
    )


def runtime_gdb_tool(
    script: Path, count: Callable[[Path], T], label: str, groups: bool = True
) -> Tool[T]:
    """``info goroutines`` in GDB with Go's runtime-gdb.py (SCRIPT)."""
    return Tool(
        key="runtime_gdb",
        label=label,
        command=gdb(script, "info goroutines"),
        count=count,
        goscope=False,
        groups=groups,
    )


def find_delve(toolchain: Toolchain) -> tuple[tools.Delve | None, str]:
    """Delve, installed when missing, or None and why not."""
    try:
        return tools.delve(toolchain), ""
    except tools.ToolError as exc:
        return None, f"Delve unavailable: {exc}"


def delve_tool(
    delve: tools.Delve | None, note: str, command: str, count: Callable[[Path], T]
) -> Tool[T]:
    """``dlv core BIN CORE`` running COMMAND from an init file; NOTE says why DELVE is None."""

    def argv(c: scale.ScaleCore, work: Path) -> list[str]:
        init = work / "dlv-init.txt"
        init.write_text(f"{command}\nexit\n")
        return [
            str(delve.path if delve else "dlv"),
            "core",
            str(c.bin),
            str(c.core),
            "--init",
            str(init),
            "--allow-non-terminal-interactive=true",
        ]

    return Tool(
        key="delve",
        label=f"dlv core: {command} (Delve {delve.version if delve else '?'})",
        command=argv,
        count=count,
        goscope=False,
        available=delve is not None,
        note=note,
    )


@dataclass
class Measured(Generic[T]):
    """A tool's runs on one core."""

    runs: list[measure.Run]
    # What the last run's output listed (the tool's count), None when no output was read.
    found: T | None
    tail: str  # the last lines of the last run's output
    timeout: float

    @property
    def last(self) -> measure.Run:
        return self.runs[-1]

    def status(self, empty: str) -> str:
        """``ok``, the timeout, the exit status with the last line of output, or EMPTY when the
        output lists nothing."""
        if self.last.timed_out:
            return f"timeout after {self.timeout:.0f} s"
        if not self.last.ok:
            return f"exit {self.last.returncode}: {last_line(self.last.stderr_tail or self.tail)}"
        return "ok" if self.found else empty


def run_tool(
    tool: Tool[T],
    core: scale.ScaleCore,
    work: Path,
    repeat: int,
    timeout: float,
    *,
    read: Callable[[Path], T] | None = None,
    tail_lines: int = 6,
) -> Measured[T]:
    """Run TOOL on CORE up to REPEAT times in WORK, its output read by READ (its count) after
    every run; it stops at the first run that times out, fails or lists nothing."""
    read = read or tool.count
    runs: list[measure.Run] = []
    found: T | None = None
    out = work / f"{tool.key}.out"
    for _ in range(repeat):
        # In the scratch directory: a tool that crashes leaves its core there, not in the checkout.
        run = measure.run_measured(
            tool.command(core, work), stdout=out, env=tool.env, timeout=timeout, cwd=work
        )
        runs.append(run)
        if run.timed_out:
            break
        found = read(out)
        if not run.ok or not found:
            break
    last_output = measure.tail(out, tail_lines)
    for path in work.glob(f"{tool.key}.out*"):
        path.unlink()
    return Measured(runs, found, last_output, timeout)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def row(
    tool: Tool[Any], core: scale.ScaleCore, runs: Sequence[measure.Run], status: str, **fields: Any
) -> dict[str, Any]:
    """A result row: the median wall and CPU time of the runs that succeeded, their peak RSS,
    then FIELDS."""
    ok_runs = [r for r in runs if r.ok]
    return {
        "tool": tool.key,
        "label": tool.label,
        "goscope": tool.goscope,
        "n": core.n,
        "argv": runs[-1].argv if runs else [],
        "status": status,
        "wall_s": measure.median([r.wall_s for r in ok_runs]) if ok_runs else None,
        "wall_s_runs": [round(r.wall_s, 3) for r in runs],
        "cpu_s": measure.median([r.cpu_s for r in ok_runs]) if ok_runs else None,
        "peak_mb": max(r.peak_mb for r in ok_runs) if ok_runs else None,
        **fields,
    }


def skipped(tool: Tool[Any], core: scale.ScaleCore, **fields: Any) -> dict[str, Any]:
    """The row of a tool that did not run, saying why."""
    return row(tool, core, [], tool.note or "skipped", **fields)


def counts(core: scale.ScaleCore, listed: int | None) -> dict[str, Any]:
    """The goroutines a tool listed against the runtime's own traceback of the crash."""
    return {
        "goroutines": listed,
        "runtime_goroutines": core.runtime_count,
        "count_matches": None if listed is None else listed == core.runtime_count,
    }


@dataclass
class Results:
    """A run's rows, the machine it ran on, and which goscope it measured, after and before."""

    benchmark: str
    toolchain: Toolchain
    rows: list[dict[str, Any]]
    where: dict[str, Any]
    built: dict[str, Any]
    before: dict[str, Any]

    def summary(self, **fields: Any) -> dict[str, Any]:
        return summary(
            self.benchmark, self.where, self.built, self.before, self.toolchain, **fields
        )


class Bench(Generic[T]):
    """A benchmark of tools on cores of the scale program; a subclass says how it measures a
    tool and what its rows hold."""

    name: str  # its scratch directory's prefix and its JSON summary's "benchmark"
    title: str  # the first words of its header

    def measure_tool(
        self, tool: Tool[T], core: scale.ScaleCore, work: Path, repeat: int, timeout: float
    ) -> dict[str, Any]:
        """The row of TOOL on CORE, run REPEAT times in WORK with TIMEOUT."""
        raise NotImplementedError

    def skipped(self, tool: Tool[T], core: scale.ScaleCore) -> dict[str, Any]:
        """The row of TOOL, which is not available, on CORE."""
        raise NotImplementedError

    def progress(self, row: dict[str, Any]) -> str:
        """What ROW found, for the progress line."""
        raise NotImplementedError

    def builds(self, built: Mapping[str, Any]) -> str:
        """When the goscope binaries measured were built, from its provenance BUILT."""
        raise NotImplementedError

    def run(
        self,
        toolchain: Toolchain,
        cores: Sequence[scale.ScaleCore],
        chosen: Sequence[Tool[T]],
        args: argparse.Namespace,
        notes: list[str],
    ) -> Results:
        """Measure every CHOSEN tool on every core, in order, ARGS.repeat times with
        ARGS.timeout, in a scratch directory under the bench cache; the Python start-up joins
        the NOTES. Then print the header: the machine, goscope's commit and builds, and the
        scale program."""
        startup = python_startup_note()
        if startup:
            notes.append(startup)
        before = measure.provenance()
        rows = []
        with tempfile.TemporaryDirectory(dir=tools.bench_cache(), prefix=f"{self.name}-") as tmp:
            for core in cores:
                measure.warm(core.bin, core.core)
                for tool in chosen:
                    if not tool.available:
                        rows.append(self.skipped(tool, core))
                        continue
                    measure.say(f"{core.n:,} goroutines: {tool.label} ...")
                    row = self.measure_tool(tool, core, Path(tmp), args.repeat, args.timeout)
                    measure.say(f"  {row['status']}, {row['wall_s_runs']} s, {self.progress(row)}")
                    rows.append(row)
        where, built = header(self.title, before)
        print(f"goscope {commit(built)}, {self.builds(built)}")
        print(
            f"scale program built by {toolchain.version}: {cores[0].bin}; "
            "runtime = goroutines in the runtime's own traceback of the crash"
        )
        print()
        return Results(self.name, toolchain, rows, where, built, before)


def python_startup_note(runs: int = 5) -> str | None:
    """What the CLI rows pay before reading anything: this interpreter's start-up (with its
    site-packages) and goscope's imports; None when it does not start."""
    startup = [
        measure.run_measured(
            [*tools.goscope_cli()[:1], "-c", "import goscope.cli"], env=tools.site_env()
        )
        for _ in range(runs)
    ]
    if not all(r.ok for r in startup):
        return None
    return (
        f"python start-up with `import goscope.cli` ({sys.executable}): "
        f"{measure.median([r.wall_s for r in startup]):.2f} s, included in the CLI rows"
    )


# The ratio columns: a row's figure over the goscope figure's.
RATIO_HEADERS = {"wall_s": "wall/goscope", "cpu_s": "cpu/goscope", "peak_mb": "MB/goscope"}


def _number(value: float | None, digits: int, measured: bool) -> str:
    return f"{value:.{digits}f}" if measured and value is not None else "-"


def results_table(
    rows: Sequence[dict[str, Any]],
    primary: str,
    listed: str,
    ratios: Sequence[str],
    extra: Mapping[str, Callable[[dict[str, Any]], str]] | None = None,
) -> str:
    """The rows, by goroutine count: the figures, the EXTRA columns, the goroutines listed
    (column LISTED) against the runtime's count, the RATIOS to the PRIMARY tool, the status."""
    extra = extra or {}
    cells = []
    for n in sorted({r["n"] for r in rows}):
        at_n = {r["tool"]: r for r in rows if r["n"] == n}
        ours = at_n.get(primary, {})
        for key, result in at_n.items():
            measured = result["status"] == "ok"
            cells.append(
                [
                    f"{n:,}",
                    result["label"],
                    _number(result["wall_s"], 2, measured),
                    _number(result["cpu_s"], 2, measured),
                    _number(result["peak_mb"], 0, measured),
                    *(cell(result) for cell in extra.values()),
                    f"{result['goroutines']:,}" if result["goroutines"] is not None else "-",
                    f"{result['runtime_goroutines']:,}",
                    {True: "yes", False: "NO", None: "-"}[result["count_matches"]],
                    *(
                        ""
                        if key == primary
                        else measure.fmt_ratio(measure.ratio(result[f], ours.get(f)))
                        for f in ratios
                    ),
                    result["status"],
                ]
            )
    headers = [
        "goroutines",
        "tool",
        "wall s",
        "cpu s",
        "peak MB",
        *extra,
        listed,
        "runtime",
        "match",
        *(RATIO_HEADERS[f] for f in ratios),
        "status",
    ]
    return measure.table(headers, cells)


def at_target(rows: Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """goscope's rows on the core with N goroutines, the ones the targets speak of."""
    return [r for r in rows if r["goscope"] and r["n"] == n]


def target_lines(
    rows: Sequence[dict[str, Any]], n: int, verdicts: Callable[[dict[str, Any]], str]
) -> list[str]:
    """A line for each of goscope's rows on the core with N goroutines: FAIL with the status,
    or the VERDICTS on its figures."""
    lines = []
    for result in at_target(rows, n):
        if result["status"] != "ok":
            lines.append(f"  {result['label']}: FAIL ({result['status']})")
        else:
            lines.append(f"  {result['label']}: {verdicts(result)}")
    if not any(r["n"] == n for r in rows):
        lines.append(f"  not measured: no core with {n:,} goroutines in this run")
    return lines


def add_options(parser: argparse.ArgumentParser, sizes: str, builds: str) -> None:
    """The options of a benchmark on scale cores; SIZES and BUILDS say the default counts and
    what is built first."""
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON summary")
    parser.add_argument(
        "--sizes", type=int, nargs="+", metavar="N", help=f"goroutine counts (default: {sizes})"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and core (median)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per run (default 300)"
    )
    parser.add_argument("--no-build", action="store_true", help=f"build nothing ({builds}) first")
    parser.add_argument(
        "--skip", action="append", default=[], metavar="TOOL", help="skip a tool by key"
    )


def header(title: str, before: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Print what was measured on (under TITLE) and whether goscope changed since BEFORE (its
    provenance when the run began); return the machine and goscope's provenance now."""
    where = measure.machine()
    built = measure.provenance()
    if built != before:
        print(
            "warning: goscope was rebuilt while this benchmark ran (by another process); "
            f"before: {before}"
        )
    print(
        f"{title}, {where['date']}, {where['cpus']} CPUs ({where['cpu']}), "
        f"{where['memory_gb']} GB, load average {where['load_average']}"
    )
    return where, built


def commit(built: Mapping[str, Any]) -> str:
    return (
        f"at commit {built['commit']} ({built['modified_sources']} modified files under rust/ "
        "and python/)"
    )


def summary(
    benchmark: str,
    where: Mapping[str, Any],
    built: Mapping[str, Any],
    before: Mapping[str, Any],
    toolchain: Toolchain,
    **fields: Any,
) -> dict[str, Any]:
    """The JSON summary: the benchmark, the machine, goscope's provenance, Go, then FIELDS."""
    return {
        "benchmark": benchmark,
        "machine": where,
        "goscope": built,
        "goscope_before_run": before,
        "go": toolchain.version,
        **fields,
    }
