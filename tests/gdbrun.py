"""Run a fresh ``gdb --nx --batch`` with goscope sourced, and check its output is clean.

Every GDB test goes through :func:`run_gdb`: it sources ``gdb-scripts/goscope.py`` of this
checkout, runs the given commands, ends with an ``echo`` marker (so a test can see that GDB
survived everything before it) and returns stdout, stderr and the exit status.
:func:`assert_clean` fails on any Python traceback or Rust panic text in the output.
:func:`in_parallel` runs independent sessions on a thread pool.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "gdb-scripts" / "goscope.py"
GDB = os.environ.get("GOSCOPE_TEST_GDB", "gdb")

#: Printed by the last command of every session: GDB got that far.
END_MARKER = "@@goscope-test-end@@"

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Python Exception")
PANIC_MARKERS = ("panicked at", "RUST_BACKTRACE", "PanicException")

# Settings that keep batch output stable and free of unrelated noise: no pagination, no
# debuginfod queries, and no auto-loading of the Go toolchain's runtime-gdb.py.
_QUIET = (
    "set pagination off",
    "set confirm off",
    "set width 0",
    "set debuginfod enabled off",
    "set auto-load python-scripts off",
)

T = TypeVar("T")


@dataclass(frozen=True)
class GdbRun:
    argv: list[str]
    stdout: str
    stderr: str
    returncode: int

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def survived(self) -> bool:
        """Whether GDB ran the final marker command, i.e. lived through every command."""
        return END_MARKER in self.stdout

    def between(self, start: str, end: str) -> str:
        """The stdout text between two ``echo`` markers."""
        head, sep, rest = self.stdout.partition(start + "\n")
        assert sep, f"marker {start!r} not in GDB output:\n{self.describe()}"
        body, sep, _ = rest.partition(end + "\n")
        assert sep, f"marker {end!r} not in GDB output:\n{self.describe()}"
        return body

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\nexit status {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def echo(marker: str) -> str:
    """A GDB command printing `marker` on a line of its own."""
    return f"echo {marker}\\n"


#: ``go goroutines``, ``go bt all`` and ``go threads``, each after a marker and the last
#: followed by ``@@end@@``: ``run.between("@@bt@@", "@@threads@@")`` is what ``go bt all``
#: printed.
LISTINGS = (
    echo("@@goroutines@@"),
    "go goroutines",
    echo("@@bt@@"),
    "go bt all",
    echo("@@threads@@"),
    "go threads",
    echo("@@end@@"),
)


def gdb_argv(
    commands: Sequence[str],
    *,
    args: Sequence[str] = (),
    source: bool = True,
    init: Sequence[str] = (),
    script: Path = SCRIPT,
) -> list[str]:
    """The argv of a batch GDB session: quiet settings and `init` first (``-iex``), then
    goscope sourced, the commands, and the end marker."""
    argv = [GDB, "--nx", "--batch"]
    for command in (*_QUIET, *init):
        argv += ["-iex", command]
    if source:
        argv += ["-ex", f"source {script}"]
    for command in commands:
        argv += ["-ex", command]
    argv += ["-ex", echo(END_MARKER)]
    argv += list(args)
    return argv


def run_gdb(
    commands: Sequence[str],
    *,
    args: Sequence[str] = (),
    source: bool = True,
    init: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    script: Path = SCRIPT,
) -> GdbRun:
    """Runs one batch session and returns what it printed; a hang is a test failure."""
    argv = gdb_argv(commands, args=args, source=source, init=init, script=script)
    full_env = dict(os.environ)
    full_env.pop("GOSCOPE_SITE", None)
    full_env["LC_ALL"] = "C.UTF-8"
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=full_env,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"GDB did not finish in {timeout} s: {' '.join(argv)}") from error
    return GdbRun(argv, proc.stdout, proc.stderr, proc.returncode)


def assert_clean(run: GdbRun) -> None:
    """No Python traceback, no Rust panic text, and GDB reached the end marker."""
    for marker in TRACEBACK_MARKERS + PANIC_MARKERS:
        assert marker not in run.output, f"{marker!r} in GDB output:\n{run.describe()}"
    assert run.survived, f"GDB did not reach the end of the session:\n{run.describe()}"


def in_parallel(jobs: Iterable[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Runs independent jobs (e.g. GDB sessions) on a thread pool; results in job order."""
    job_list = list(jobs)
    if not job_list:
        return []
    count = workers or max(2, min(8, (os.cpu_count() or 2) * 2))
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(job) for job in job_list]
        return [future.result() for future in futures]


#: What GDB itself says on stderr about a file it finds odd, before any command runs or
#: around its own ``bt`` (not goscope's output).
GDB_NOISE = re.compile(r"^(warning: |BFD: |\S.* is not a core dump: |\d+\t.*: No such file)")


def run_marked(
    commands: Sequence[str],
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> GdbRun:
    """A session running `commands`, each preceded by a marker on stdout and one on stderr,
    so that :func:`errors_by_command` can tell what each command printed on either stream."""
    steps: list[str] = []
    for index, command in enumerate(commands):
        steps += [echo(f"@@{index}@@"), f'python gdb.write("@@{index}@@\\n", gdb.STDERR)']
        steps.append(command)
    return run_gdb(steps, args=args, env=env, timeout=timeout)


def errors_by_command(run: GdbRun, commands: Sequence[str]) -> dict[str, list[str]]:
    """The stderr lines each command of a :func:`run_marked` session printed (GDB's own
    warnings left out)."""
    errors: dict[str, list[str]] = {}
    command = "(loading the files)"
    for line in run.stderr.splitlines():
        marker = re.fullmatch(r"@@(\d+)@@", line)
        if marker:
            command = commands[int(marker.group(1))]
        elif line and not GDB_NOISE.match(line):
            errors.setdefault(command, []).append(line)
    return errors
