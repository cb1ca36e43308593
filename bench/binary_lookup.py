#!/usr/bin/env python3
"""Opening a Go binary and looking up random pcs: goscope against ``go tool addr2line``.

Inputs: the Go toolchain's own ``compile`` tool (``$(go env GOTOOLDIR)/compile``, about 25 MB)
and the scale fixture program. For each input, in the same run:

- goscope (``target/release/goscope-bench``, timed inside the process, median of several runs):
  opening the binary and building its function table, then one million random pcs through
  ``lookup`` (every frame, inlined calls expanded) and through ``pc_line`` (the physical
  function and file:line, what addr2line answers);
- the whole goscope process for zero lookups (start, open, function table) and for the same
  random pcs as addr2line, printing ``function file:line`` for each;
- ``go tool addr2line`` (the tool binary ``go tool`` runs) on one pc (start and open) and on
  the same random pcs; its per-lookup time is (wall - wall for one pc) / pcs.

The answers of both tools are compared pc by pc. Targets: open under 50 ms and one million
lookups under 1 s.

    python3 bench/binary_lookup.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import common
import scale
import tools
from measure import (
    Run,
    fmt_ratio,
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

OPEN_TARGET_MS = 50.0
LOOKUPS_TARGET_MS = 1000.0
TARGET_LOOKUPS = 1_000_000


def _bench_json(run: Run) -> dict[str, Any]:
    if not run.ok or run.stdout is None:
        raise tools.ToolError(f"{' '.join(run.argv)} failed: {run.stderr_tail}")
    text = Path(run.stdout).read_text().strip().splitlines()
    return json.loads(text[-1])


def _parse_goscope_print(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The pcs and (function, file:line) answers of ``goscope-bench --print``, whose lines are
    ``0xPC FUNCTION FILE:LINE``."""
    pcs: list[str] = []
    answers: list[tuple[str, str]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            pc, _, rest = line.rstrip("\n").partition(" ")
            function, _, position = rest.rpartition(" ")
            pcs.append(pc)
            answers.append((function, position))
    return pcs, answers


def _parse_addr2line(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]


def measure_input(
    name: str,
    path: Path,
    bench: Path,
    addr2line: Path,
    runs: int,
    lookups: int,
    peer_lookups: int,
    work: Path,
) -> dict[str, Any]:
    say(f"{name}: {path}")
    warm(path, bench, addr2line)

    # goscope, in process.
    samples = []
    peak = []
    for _ in range(runs):
        run = run_measured(
            [str(bench), str(path), "--lookups", str(lookups)], stdout=work / "bench.json"
        )
        samples.append(_bench_json(run))
        peak.append(run.peak_mb)
    first = samples[0]
    open_ms = [s["open_ms"] for s in samples]
    lookup_ms = [s["lookup_ms"] for s in samples]
    pc_line_ms = [s["pc_line_ms"] for s in samples]
    # Per million lookups, whatever LOOKUPS was.
    scale_to_target = TARGET_LOOKUPS / max(1, first["lookups"])
    goscope = {
        "tool": "goscope-bench",
        "runs": runs,
        "size_bytes": first["size"],
        "functions": first["functions"],
        "lookups": first["lookups"],
        "open_ms": median(open_ms),
        "open_ms_min": min(open_ms),
        "open_ms_max": max(open_ms),
        "lookup_ms": median(lookup_ms),
        "lookup_ms_per_million": median(lookup_ms) * scale_to_target,
        "lookup_ms_per_million_min": min(lookup_ms) * scale_to_target,
        "lookups_per_s": first["lookups"] / (median(lookup_ms) / 1e3),
        "frames": first["frames"],
        "pc_line_ms": median(pc_line_ms),
        "pc_line_ms_per_million": median(pc_line_ms) * scale_to_target,
        "pc_line_ms_per_million_min": min(pc_line_ms) * scale_to_target,
        "pc_line_per_s": first["lookups"] / (median(pc_line_ms) / 1e3),
        "pc_line_found": first["pc_line_found"],
        "peak_mb": max(peak),
    }

    # Whole processes: start + open, then the same pcs as the peer, printed.
    startup = [
        run_measured([str(bench), str(path), "--lookups", "0"], stdout=work / "zero.json")
        for _ in range(runs)
    ]
    goscope["process_open_ms"] = median([r.wall_s * 1e3 for r in startup])
    printed = work / "goscope.txt"
    run = run_measured(
        [str(bench), str(path), "--print", "--lookups", str(peer_lookups)], stdout=printed
    )
    if not run.ok:
        raise tools.ToolError(f"goscope-bench --print failed: {run.stderr_tail}")
    goscope["print_wall_s"] = run.wall_s
    goscope["print_cpu_s"] = run.cpu_s
    goscope["print_peak_mb"] = run.peak_mb
    pcs, ours = _parse_goscope_print(printed)
    goscope["print_per_lookup_us"] = (
        max(0.0, run.wall_s * 1e3 - goscope["process_open_ms"]) * 1e3 / max(1, len(pcs))
    )

    # The peer on the same pcs.
    one_pc = work / "one.txt"
    one_pc.write_text(pcs[0] + "\n")
    all_pcs = work / "pcs.txt"
    all_pcs.write_text("\n".join(pcs) + "\n")
    single = [
        run_measured([str(addr2line), str(path)], stdin=one_pc, stdout=work / "a2l1.txt")
        for _ in range(runs)
    ]
    bulk_out = work / "a2l.txt"
    bulk = run_measured([str(addr2line), str(path)], stdin=all_pcs, stdout=bulk_out, timeout=900)
    if not bulk.ok:
        raise tools.ToolError(f"addr2line failed: {bulk.stderr_tail}")
    peer_open_ms = median([r.wall_s * 1e3 for r in single])
    peer_per_lookup_us = max(0.0, bulk.wall_s * 1e3 - peer_open_ms) * 1e3 / max(1, len(pcs))
    peer = {
        "tool": "go tool addr2line",
        "binary": str(addr2line),
        "pcs": len(pcs),
        "process_open_ms": peer_open_ms,
        "wall_s": bulk.wall_s,
        "cpu_s": bulk.cpu_s,
        "per_lookup_us": peer_per_lookup_us,
        "lookups_per_s": 1e6 / peer_per_lookup_us if peer_per_lookup_us > 0 else None,
        "peak_mb": bulk.peak_mb,
    }

    theirs = _parse_addr2line(bulk_out)
    mismatches = [(pc, a, b) for pc, a, b in zip(pcs, theirs, ours) if a != b]
    if len(theirs) != len(ours):
        mismatches.append(("count", (str(len(theirs)), "answers"), (str(len(ours)), "answers")))
    agreement = {
        "pcs": len(pcs),
        "mismatches": len(mismatches),
        "examples": [
            {"pc": pc, "addr2line": list(a), "goscope": list(b)} for pc, a, b in mismatches[:5]
        ],
    }

    goscope_pc_line_us = goscope["pc_line_ms"] * 1e3 / max(1, goscope["lookups"])
    ratios = {
        "process_open": ratio(peer_open_ms, goscope["process_open_ms"]),
        "per_lookup_vs_pc_line": ratio(peer_per_lookup_us, goscope_pc_line_us),
        "per_lookup_vs_print": ratio(peer_per_lookup_us, goscope["print_per_lookup_us"]),
        "same_pcs_wall": ratio(bulk.wall_s, goscope["print_wall_s"]),
        "same_pcs_cpu": ratio(bulk.cpu_s, goscope["print_cpu_s"]),
        "peak_memory": ratio(bulk.peak_mb, goscope["print_peak_mb"]),
    }
    targets = {
        "open_ms": {
            "value": goscope["open_ms"],
            "limit": OPEN_TARGET_MS,
            "verdict": verdict(goscope["open_ms"], OPEN_TARGET_MS),
        },
        "million_lookups_ms": {
            "value": goscope["lookup_ms_per_million"],
            "limit": LOOKUPS_TARGET_MS,
            "verdict": verdict(goscope["lookup_ms_per_million"], LOOKUPS_TARGET_MS),
        },
        "million_pc_line_ms": {
            "value": goscope["pc_line_ms_per_million"],
            "limit": LOOKUPS_TARGET_MS,
            "verdict": verdict(goscope["pc_line_ms_per_million"], LOOKUPS_TARGET_MS),
        },
    }
    return {
        "input": name,
        "path": str(path),
        "goscope": goscope,
        "addr2line": peer,
        "ratios": ratios,
        "agreement": agreement,
        "targets": targets,
    }


def report(results: Sequence[dict[str, Any]], runs: int) -> str:
    out = []
    rows = []
    for r in results:
        g = r["goscope"]
        rows.append(
            [
                r["input"],
                f"{g['size_bytes'] / 1e6:.1f}",
                g["functions"],
                f"{g['open_ms']:.1f}",
                f"{g['lookup_ms_per_million']:.0f} ({g['lookup_ms_per_million_min']:.0f})",
                f"{g['lookups_per_s'] / 1e6:.2f}M",
                f"{g['pc_line_ms_per_million']:.0f} ({g['pc_line_ms_per_million_min']:.0f})",
                f"{g['pc_line_per_s'] / 1e6:.2f}M",
                f"{g['peak_mb']:.0f}",
            ]
        )
    out.append(f"goscope, timed inside goscope-bench: median of {runs} runs (fastest)")
    out.append(
        table(
            [
                "input",
                "MB",
                "functions",
                "open ms",
                "1M lookup ms",
                "lookup/s",
                "1M pc_line ms",
                "pc_line/s",
                "peak MB",
            ],
            rows,
        )
    )
    out.append("")
    rows = []
    for r in results:
        g, p, q = r["goscope"], r["addr2line"], r["ratios"]
        rows.append(
            [
                r["input"],
                "goscope-bench",
                f"{g['process_open_ms']:.0f}",
                f"{g['print_wall_s']:.2f}",
                f"{g['print_cpu_s']:.2f}",
                f"{g['print_per_lookup_us']:.2f}",
                f"{g['print_peak_mb']:.0f}",
            ]
        )
        rows.append(
            [
                "",
                "go tool addr2line",
                f"{p['process_open_ms']:.0f}",
                f"{p['wall_s']:.2f}",
                f"{p['cpu_s']:.2f}",
                f"{p['per_lookup_us']:.2f}",
                f"{p['peak_mb']:.0f}",
            ]
        )
        rows.append(
            [
                "",
                "ratio addr2line/goscope",
                fmt_ratio(q["process_open"]),
                fmt_ratio(q["same_pcs_wall"]),
                fmt_ratio(q["same_pcs_cpu"]),
                fmt_ratio(q["per_lookup_vs_print"]),
                fmt_ratio(q["peak_memory"]),
            ]
        )
    pcs = results[0]["addr2line"]["pcs"] if results else 0
    out.append(
        f"whole processes on the same {pcs:,} random pcs, each printing function and file:line"
    )
    out.append(
        table(
            ["input", "tool", "start+open ms", "wall s", "cpu s", "per lookup us", "peak MB"],
            rows,
        )
    )
    out.append("")
    for r in results:
        g, q = r["goscope"], r["ratios"]
        a = r["agreement"]
        out.append(
            f"{r['input']}: addr2line per lookup / goscope pc_line in process: "
            f"{fmt_ratio(q['per_lookup_vs_pc_line'])}; answers agree on "
            f"{a['pcs'] - a['mismatches']:,} of {a['pcs']:,} pcs"
        )
        for example in a["examples"]:
            out.append(
                f"  {example['pc']}: addr2line {example['addr2line']}, goscope {example['goscope']}"
            )
    out.append("")
    out.append("targets")
    for r in results:
        t = r["targets"]
        out.append(
            f"  {r['input']}: open {t['open_ms']['value']:.1f} ms < {OPEN_TARGET_MS:.0f} ms "
            f"{t['open_ms']['verdict']}; 1M lookups (inline frames expanded) "
            f"{t['million_lookups_ms']['value']:.0f} ms < {LOOKUPS_TARGET_MS:.0f} ms "
            f"{t['million_lookups_ms']['verdict']}; 1M pc_line "
            f"{t['million_pc_line_ms']['value']:.0f} ms < {LOOKUPS_TARGET_MS:.0f} ms "
            f"{t['million_pc_line_ms']['verdict']}"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time opening Go binaries and random pc lookups: goscope against "
        "go tool addr2line on the same pcs."
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and pcs")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON summary")
    parser.add_argument("--runs", type=int, help="goscope runs per input (default 5, quick 3)")
    parser.add_argument(
        "--lookups", type=int, default=TARGET_LOOKUPS, help="goscope lookups per run"
    )
    parser.add_argument(
        "--peer-pcs",
        type=int,
        help="random pcs given to both tools as whole processes (default 1000000, quick 100000)",
    )
    parser.add_argument(
        "--binary", type=Path, action="append", default=[], help="another input binary"
    )
    parser.add_argument("--no-build", action="store_true", help="do not run cargo build first")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    peer_pcs = args.peer_pcs or (100_000 if args.quick else 1_000_000)

    try:
        toolchain = tools.machine_go()
        bench, build_note = tools.goscope_bench(build=not args.no_build)
        addr2line = tools.addr2line(toolchain)
        gotooldir = toolchain.run(["env", "GOTOOLDIR"]).stdout.strip()
        inputs = [
            (f"compile ({toolchain.version})", Path(gotooldir) / "compile"),
            ("scale fixture", scale.binary(toolchain)),
            *((p.name, p) for p in args.binary),
        ]
        before = provenance()
        results = []
        with tempfile.TemporaryDirectory(dir=tools.bench_cache(), prefix="lookup-") as tmp:
            for name, path in inputs:
                results.append(
                    measure_input(
                        name, path, bench, addr2line, runs, args.lookups, peer_pcs, Path(tmp)
                    )
                )
    except tools.ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    where, built = common.header("binary lookups", before)
    print(f"goscope-bench {common.commit(built)}, built {built['goscope_bench_built']}")
    if build_note:
        print(f"note: {build_note}")
    print()
    print(report(results, runs))
    write_json(
        args.json,
        common.summary(
            "binary_lookup",
            where,
            built,
            before,
            toolchain,
            goscope_bench=str(bench),
            build_note=build_note,
            runs=runs,
            results=results,
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
