"""One command, one document: every command that prints JSON prints the same document from
the command line (``goscope CMD CORE --exe BIN --json``) and from GDB (``go CMD --json`` with
the same binary and core loaded), with the same options spelled the same way, on the
stripped crash core (names from pclntab alone) and the deadlock core (every kind of wait) of
every toolchain."""

from __future__ import annotations

import json
from typing import Any

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.test_goroutines import describe, run_goscope

#: The commands and options both front ends take (goroutine ids given where GDB's default
#: would be the selected thread's goroutine); `{g}` is the first goroutine's g, a heap object.
COMMANDS = [
    "goroutines",
    "goroutines --state chan",
    "bt all",
    "triage",
    "crash",
    "panic all",
    "defer all",
    "threads",
    "info",
    "heap --totals",
    "heap --by root --top 5",
    "heap --why {g}",
]


def _cli(fx: Fixture, command: str) -> Any:
    words = command.split()
    proc = run_goscope(
        words[0],
        str(fx.core.resolve()),
        "--exe",
        str(fx.bin.resolve()),
        *words[1:],
        "--json",
        timeout=300,
    )
    assert proc.returncode in (0, 1), describe(proc)
    return json.loads(proc.stdout)


def _session(fx: Fixture, commands: list[str]) -> GdbRun:
    steps: list[str] = []
    for i, command in enumerate(commands):
        steps += [echo(f"@@{i}@@"), f"go {command} --json", echo(f"@@/{i}@@")]
    return run_gdb(steps, args=[str(fx.bin.resolve()), str(fx.core.resolve())], timeout=600)


def _chosen(matrix: list[Fixture]) -> list[Fixture]:
    return [
        f
        for f in matrix
        if f.core is not None
        and (f.program, f.variant) in (("crash", "stripped"), ("deadlocks", "default"))
    ]


def _first_g(fx: Fixture) -> int:
    document = _cli(fx, "goroutines")
    return int(document["goroutines"][0]["gp"])


def test_same_json_from_cli_and_gdb(fixture_matrix: list[Fixture]) -> None:
    chosen = _chosen(fixture_matrix)
    assert {f.toolchain.version for f in chosen} == {f.toolchain.version for f in fixture_matrix}, (
        "a toolchain without crash or deadlocks cores"
    )
    plans = {f.id: [c.format(g=hex(_first_g(f))) for c in COMMANDS] for f in chosen}
    runs = in_parallel([lambda f=f: _session(f, plans[f.id]) for f in chosen])  # type: ignore[misc]
    jobs = [(fx, command) for fx in chosen for command in plans[fx.id]]
    answers = in_parallel([lambda j=j: _cli(*j) for j in jobs])  # type: ignore[misc]
    from_cli = {(fx.id, command): answer for (fx, command), answer in zip(jobs, answers)}
    failures: list[str] = []
    for fx, run in zip(chosen, runs):
        assert_clean(run)
        for i, command in enumerate(plans[fx.id]):
            text = run.between(f"@@{i}@@", f"@@/{i}@@")
            try:
                from_gdb = json.loads(text)
            except ValueError:
                failures.append(f"{fx.id}: go {command} --json printed no JSON: {text[:300]!r}")
                continue
            cli = from_cli[(fx.id, command)]
            if from_gdb != cli:
                keys = sorted(k for k in set(cli) | set(from_gdb) if cli.get(k) != from_gdb.get(k))
                failures.append(f"{fx.id}: {command}: documents differ in {keys}")
    assert not failures, "\n".join(failures[:40])
