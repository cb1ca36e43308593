"""Hostile inputs: every goscope command that reads a core, on every input of the corpus
``tests/harness/hostile.py`` makes from real fixture cores (truncated, overwritten, cyclic,
wild, paired with the wrong executable, not Go, not a core), finishes within a bound, prints
what it could read and says what it could not, and neither crashes nor hangs.

On the command line, for every input: ``goroutines`` (text and ``--json``), ``bt all``,
``threads``, ``crash``, ``panic all``, ``defer all``, ``triage`` (text and ``--json``), ``heap
--json``, ``heap --by root``, ``heap --why ADDR``, ``heap --pprof FILE`` and ``doctor``. Each
must end within ``BOUND`` seconds, exit 0 or 1 (2 only when the file is not a core: a usage
error), by no signal, with no Python traceback, Rust panic or "internal error" text, every
stderr line a ``goscope: ...`` line, at least one error line when it exits 1, and JSON that
parses. Where one goroutine was damaged, ``goroutines --json`` still reports every other
goroutine exactly as it does for the undamaged core.

The commands run in a child forked from this process (which has imported ``goscope.cli``) and
call ``goscope.cli.main`` as ``python3 -m goscope`` does: the same code, without paying for a
Python start-up 2,000 times. ``test_runner_is_the_command_line`` checks the two agree.

In GDB, for every input, one batch session runs every ``go`` command (and ``bt`` after ``go
goroutine``); GDB must reach the end marker with no traceback, panic or
internal error text, and each command print at most one error line (markers written to stderr
between the commands tell them apart).
"""

from __future__ import annotations

import io
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import all_fixtures
from tests.gdbrun import (
    PANIC_MARKERS,
    TRACEBACK_MARKERS,
    GdbRun,
    assert_clean,
    errors_by_command,
    in_parallel,
    run_gdb,
    run_marked,
)
from tests.harness.hostile import HostileInput, corpus, counts, mutations
from tests.harness.paths import SITE_DIR

#: Seconds one command may take on one input; longer is a hang.
BOUND = 60.0
#: Seconds one GDB session (13 commands) may take.
GDB_BOUND = 240.0
#: More frames than any stack of a fixture core has (`bt` follows `go goroutine N`; the
#: deepest, the crash program's recursion, is 2,000 frames).
MAX_BT_FRAMES = 5000
#: Address space a command may use (a runaway allocation fails instead of swamping the host).
MEMORY_LIMIT = 4 << 30
BAD_TEXT = (*TRACEBACK_MARKERS, *PANIC_MARKERS, "internal error")

_CORPUS: list[HostileInput] | None = None


def hostile_corpus(config: pytest.Config) -> list[HostileInput]:
    global _CORPUS
    if _CORPUS is None:
        if str(SITE_DIR) not in sys.path:
            sys.path.insert(0, str(SITE_DIR))
        _CORPUS = corpus(all_fixtures(config))
    return _CORPUS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hostile" in metafunc.fixturenames:
        inputs = hostile_corpus(metafunc.config)
        metafunc.parametrize("hostile", inputs, ids=[i.name for i in inputs])
    if "gdb_kind" in metafunc.fixturenames:
        kinds = sorted({i.kind for i in hostile_corpus(metafunc.config)})
        metafunc.parametrize("gdb_kind", kinds)


@pytest.fixture(scope="session")
def corpus_inputs(pytestconfig: pytest.Config) -> list[HostileInput]:
    return hostile_corpus(pytestconfig)


# -- running a command in a forked child ------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    argv: list[str]
    returncode: int | None  # None when killed by a signal or timed out
    signal: str | None
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str

    def describe(self, limit: int = 3000) -> str:
        out = self.stdout if len(self.stdout) <= limit else self.stdout[:limit] + "\n[...]"
        return (
            f"$ goscope {' '.join(self.argv)}\nexit status {self.returncode} "
            f"signal {self.signal} {self.seconds:.1f} s\n--- stdout ---\n{out}\n"
            f"--- stderr ---\n{self.stderr}"
        )


def _preload() -> None:
    """Imports, once in this process, what the subcommands import when they run."""
    import goscope.binary_info  # noqa: F401
    import goscope.cli  # noqa: F401
    import goscope.commands.triage  # noqa: F401
    import goscope.doctor  # noqa: F401
    import goscope.implications  # noqa: F401
    import goscope.render.doctor  # noqa: F401
    import goscope.render.goroutines  # noqa: F401
    import goscope.render.heap  # noqa: F401
    import goscope.render.panics  # noqa: F401
    import goscope.render.triage  # noqa: F401


def _child(argv: list[str], out: int, err: int) -> None:
    """In the forked child: run ``goscope ARGV`` with stdout and stderr on OUT and ERR."""
    status = 1
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(0, closefd=False)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        from goscope.cli import main

        try:
            status = main(argv)
        except SystemExit as exit:
            code = exit.code
            if isinstance(code, str):
                print(code, file=sys.stderr)
            status = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:  # noqa: BLE001 - what `python3 -m goscope` would print
        traceback.print_exc()
        status = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def run_cli(argv: list[str], tmp: Path, timeout: float = BOUND) -> CliRun:
    """``goscope ARGV`` in a forked child, killed after `timeout` seconds."""
    _preload()
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        sys.stdout.flush()
        sys.stderr.flush()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(argv, out.fileno(), err.fileno())
        pidfd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
        timed_out = not ready
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    return CliRun(
        argv=argv,
        returncode=code if code >= 0 and not timed_out else None,
        signal=None if code >= 0 or timed_out else signal.Signals(-code).name,
        timed_out=timed_out,
        seconds=seconds,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


# -- the command line on every input ----------------------------------------------------------


def commands(item: HostileInput, tmp: Path) -> list[list[str]]:
    core, exe = str(item.core), str(item.exe)
    target = [core, "--exe", exe]
    return [
        ["goroutines", *target],
        ["goroutines", *target, "--json"],
        ["bt", *target, "all"],
        ["threads", *target],
        ["crash", *target],
        ["panic", *target, "all"],
        ["defer", *target, "all"],
        ["triage", *target, "--json"],
        ["triage", *target],
        ["heap", *target, "--json"],
        ["heap", *target, "--by", "root"],
        ["heap", *target, "--why", hex(item.why)],
        ["heap", *target, "--pprof", str(tmp / "profile.pb.gz")],
        ["doctor", *target],
    ]


def problems_of(item: HostileInput, run: CliRun) -> list[str]:
    """What is wrong with one command's run on a hostile input (nothing, ideally)."""
    label = "goscope " + " ".join(a for a in run.argv if a not in (str(item.core), str(item.exe)))
    if run.timed_out:
        return [f"{label}: still running after {BOUND:.0f} s (a hang)"]
    if run.signal is not None:
        return [f"{label}: killed by {run.signal}"]
    found = []
    text = run.stdout + run.stderr
    found += [f"{label}: {marker!r} in its output" for marker in BAD_TEXT if marker in text]
    usage = run.returncode == 2 and not item.is_core and "not a core file" in run.stderr
    if run.returncode not in (0, 1) and not usage:
        found.append(f"{label}: exit status {run.returncode}")
    lines = run.stderr.splitlines()
    found += [
        f"{label}: stderr line not from goscope: {line!r}"
        for line in lines
        if not line.startswith("goscope: ") and not (usage and line.startswith("goscope "))
    ]
    errors = [line for line in lines if not line.startswith("goscope: warning: ")]
    # doctor's errors are its [error] lines; heap --why answers on stdout that an address is
    # no heap object (exit status 1, as grep finding nothing).
    answered = (run.argv[0] == "doctor" and "[error]" in run.stdout) or (
        "--why" in run.argv and run.stdout.strip()
    )
    if run.returncode == 1 and not errors and not answered:
        found.append(f"{label}: exit status 1 and no error line")
    if "--json" in run.argv and run.stdout.strip():
        try:
            json.loads(run.stdout)
        except ValueError as error:
            found.append(f"{label}: stdout is not JSON: {error}")
    return found


_BASELINES: dict[str, dict[int, Any]] = {}


def _frames(g: dict[str, Any]) -> Any:
    return (
        g.get("status"),
        g.get("wait_reason"),
        [(f.get("function"), f.get("pc"), f.get("sp")) for f in g.get("frames") or []],
    )


def baseline(item: HostileInput, tmp: Path) -> dict[int, Any]:
    """The undamaged source core's goroutines, by id."""
    assert item.source is not None
    if item.source not in _BASELINES:
        fx = next(f for f in _all_fixtures() if f.id == item.source)
        assert fx.core is not None
        run = run_cli(["goroutines", str(fx.core), "--exe", str(fx.bin), "--json"], tmp)
        assert run.returncode == 0, run.describe()
        goroutines = json.loads(run.stdout)["goroutines"]
        _BASELINES[item.source] = {g["id"]: _frames(g) for g in goroutines}
    return _BASELINES[item.source]


def _all_fixtures() -> list[Any]:
    from tests.harness.fixture import load_fixtures

    return load_fixtures()


def partial_problems(item: HostileInput, run: CliRun, tmp: Path) -> list[str]:
    """With one goroutine damaged, every other goroutine reads as in the undamaged core."""
    if item.victim is None or run.timed_out or run.signal:
        return []
    try:
        document = json.loads(run.stdout)
    except ValueError:
        return ["goroutines --json printed no document; the undamaged goroutines are lost"]
    found: dict[int, list[Any]] = {}
    for g in document.get("goroutines", []):
        if isinstance(g.get("id"), int):
            found.setdefault(g["id"], []).append(_frames(g))
    problems = []
    for goid, expected in sorted(baseline(item, tmp).items()):
        if goid == item.victim:
            continue
        if expected not in found.get(goid, []):
            got = [_short(g) for g in found.get(goid, [])]
            problems.append(
                f"goroutine {goid} (not damaged) differs from the undamaged core: "
                f"expected {_short(expected)}, got {got or 'nothing'}"
            )
    return problems


def _short(g: Any) -> str:
    status, reason, frames = g
    names = [f[0] for f in frames]
    head = ", ".join(map(str, names[:4])) + (f" +{len(names) - 4}" if len(names) > 4 else "")
    return f"[{reason or status}] {head}"


def test_every_command(hostile: HostileInput, tmp_path: Path) -> None:
    problems: list[str] = []
    slowest = 0.0
    for argv in commands(hostile, tmp_path):
        run = run_cli(argv, tmp_path)
        slowest = max(slowest, run.seconds)
        found = problems_of(hostile, run)
        if argv[0] == "goroutines" and "--json" in argv:
            found += partial_problems(hostile, run, tmp_path)
        if found:
            problems += found
            problems.append(run.describe())
    assert not problems, f"{hostile.name}: {hostile.note}\n" + "\n".join(problems)
    assert slowest < BOUND


# -- GDB on every input --------------------------------------------------------

GDB_COMMANDS = (
    "go info",
    "go goroutines",
    "go bt all",
    "go threads",
    "go crash",
    "go panic all",
    "go panic",
    "go defer all",
    "go triage",
    "go heap --by type",
    "go heap why {why}",
    "go goroutine {goid}",
    "bt",
    "go doctor",
)


def gdb_session(item: HostileInput) -> GdbRun:
    """Every command, in one session."""
    commands = [c.format(why=hex(item.why), goid=item.victim or 1) for c in GDB_COMMANDS]
    return run_marked(commands, args=[str(item.exe), str(item.core)], timeout=GDB_BOUND)


def gdb_problems(item: HostileInput, run: GdbRun) -> list[str]:
    try:
        assert_clean(run)
    except AssertionError as error:
        return [str(error)]
    found = [f"{marker!r} in GDB output" for marker in BAD_TEXT if marker in run.output]
    for command, lines in errors_by_command(run, GDB_COMMANDS).items():
        if len(lines) > 1:
            found.append(f"{command}: {len(lines)} error lines: {lines}")
        if command == "go panic":
            # No id was given: one the selected thread's damaged g yields is not the user's.
            found += [f"go panic: {line!r}" for line in lines if "go panic: no goroutine" in line]
    # Plain `bt` stops where the runtime's traceback would: a garbage return address ends it,
    # it is not walked a word at a time.
    index = GDB_COMMANDS.index("bt")
    bt = run.between(f"@@{index}@@", f"@@{index + 1}@@")
    frames = sum(1 for line in bt.splitlines() if line.startswith("#"))
    if frames > MAX_BT_FRAMES:
        found.append(f"bt printed {frames} frames (at most {MAX_BT_FRAMES} expected)")
    if found:
        found.append(run.describe())
    return found


def test_gdb_sessions(gdb_kind: str, corpus_inputs: list[HostileInput]) -> None:
    chosen = [i for i in corpus_inputs if i.kind == gdb_kind]
    runs = in_parallel([partial(gdb_session, item) for item in chosen], workers=2)
    problems = []
    for item, run in zip(chosen, runs):
        found = gdb_problems(item, run)
        if found:
            problems += [f"== {item.name}: {item.note}", *found]
    assert not problems, "\n".join(problems)


# -- the corpus and the runner themselves ------------------------------------------------------


def test_corpus_has_every_mutation(corpus_inputs: list[HostileInput]) -> None:
    made = {i.mutation for i in corpus_inputs}
    missing = [m.name for m in mutations([]) if m.name not in made]
    assert not missing, f"mutations applied to no source core: {missing}"
    kinds = counts(corpus_inputs)
    for kind in ("truncate", "g", "m", "sched", "defer", "panic", "sudog", "hchan", "mspan"):
        assert kinds.get(kind), f"no {kind} inputs: {kinds}"
    for kind in (
        "cycle",
        "heap",
        "flips",
        "random",
        "notes",
        "elf",
        "mismatch",
        "foreign",
        "garbage",
    ):
        assert kinds.get(kind), f"no {kind} inputs: {kinds}"
    toolchains = {i.source.split("-")[0] for i in corpus_inputs if i.source}
    assert len(toolchains) >= 2, toolchains


def test_runner_is_the_command_line(corpus_inputs: list[HostileInput], tmp_path: Path) -> None:
    """The forked runner and ``python3 -m goscope`` print the same (one input of a few
    kinds)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), env.get("PYTHONPATH")]))
    seen: set[str] = set()
    for item in corpus_inputs:
        if item.kind in seen or item.kind not in ("truncate", "g", "mismatch", "garbage"):
            continue
        seen.add(item.kind)
        argv = ["bt", str(item.core), "--exe", str(item.exe), "all"]
        forked = run_cli(argv, tmp_path)
        proc = subprocess.run(
            [sys.executable, "-m", "goscope", *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=BOUND,
            env=env,
            check=False,
        )
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            proc.returncode,
            proc.stdout,
            proc.stderr,
        ), f"{item.name}\n{forked.describe()}\n--- python3 -m goscope ---\n{proc.stderr}"


def test_gdb_output_with_a_nul_character() -> None:
    # Text read from a damaged core (a panic message) may hold a NUL, which gdb.write refuses
    # ("embedded null character"); goscope shows it escaped and the command goes on.
    run = run_gdb(['python from goscope.gdb import output; output.write("panic: a\\0b\\n")'])
    assert_clean(run)
    assert "panic: a\\x00b\n" in run.stdout, run.describe()
