"""Run a Go program until it crashes and keep what the crash left: traceback, stdout and core.

The program runs with ``GOTRACEBACK=crash`` and an unlimited core size limit in its output
directory, with stdout going to ``stdout.txt`` and stderr (the runtime's traceback of every
goroutine) to ``traceback.txt``. When the kernel writes the core into that directory (a
``core_pattern`` of ``core`` or ``core.%p``-like relative names), it is renamed to ``core``. When
it does not (``core_pattern`` is a pipe to a crash handler, an absolute path, or the kernel wrote
nothing), the program runs again under ``gdb --nx --batch``, which passes every signal to Go's
own handlers and only stops at the runtime's final SIGABRT, and ``gcore`` writes the core there.

``python3 -m tests.harness.capture --out DIR -- PROGRAM [ARG...]`` does this from the shell.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

DEFAULT_TIMEOUT = 60.0
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")

TRACEBACK_FILE = "traceback.txt"
STDOUT_FILE = "stdout.txt"
CORE_FILE = "core"
GDB_LOG_FILE = "gdb.log"


class CaptureError(RuntimeError):
    """The program did not crash, did not leave a core, or ran too long."""


@dataclass
class CaptureResult:
    """How the run ended and where the core came from ("kernel" or "gcore")."""

    argv: list[str]
    env: dict[str, str]  # the variables set on top of the inherited environment
    exit_status: int | None  # exit code if the program exited, else None
    signal: str | None  # the signal that ended it ("SIGABRT"), if one did
    core_source: str
    core: str
    core_pattern: str
    seconds: float


def _unlimited_core() -> None:
    """preexec_fn: allow a core of any size (up to the hard limit, which root may raise)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def _is_core_file(path: Path) -> bool:
    """An ELF file of type ET_CORE."""
    try:
        with open(path, "rb") as f:
            header = f.read(18)
    except OSError:
        return False
    return len(header) == 18 and header[:4] == b"\x7fELF" and header[16:18] == b"\x04\x00"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _clean(out_dir: Path) -> None:
    for entry in out_dir.iterdir():
        if entry.is_file() and (
            entry.name in (TRACEBACK_FILE, STDOUT_FILE, GDB_LOG_FILE)
            or entry.name == CORE_FILE
            or entry.name.startswith(CORE_FILE + ".")
        ):
            entry.unlink()


def _run_plain(
    argv: Sequence[str], out_dir: Path, env: Mapping[str, str], timeout: float
) -> tuple[int | None, str | None]:
    with open(out_dir / STDOUT_FILE, "wb") as out, open(out_dir / TRACEBACK_FILE, "wb") as err:
        proc = subprocess.Popen(
            list(argv),
            cwd=out_dir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=_unlimited_core,
            start_new_session=True,
        )
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise CaptureError(f"{argv[0]} still running after {timeout:.0f}s; killed") from None
    if status < 0:
        return None, _signal_name(-status)
    return status, None


def _kernel_core(out_dir: Path) -> Path | None:
    """The core the kernel wrote into OUT_DIR (``core`` or ``core.<something>``), renamed to
    ``core``."""
    candidates = sorted(
        p
        for p in out_dir.iterdir()
        if (p.name == CORE_FILE or p.name.startswith(CORE_FILE + ".")) and _is_core_file(p)
    )
    if not candidates:
        return None
    core = out_dir / CORE_FILE
    if candidates[0] != core:
        candidates[0].rename(core)
    core.chmod(0o644)  # the kernel writes cores readable by their owner only
    return core


def _run_under_gdb(
    argv: Sequence[str], out_dir: Path, env: Mapping[str, str], timeout: float
) -> str:
    """Run ARGV under GDB, gcore it at the SIGABRT stop; return the signal GDB saw."""
    program = argv[0]
    run = " ".join(
        [
            "run",
            *(shlex.quote(a) for a in argv[1:]),
            f"> {shlex.quote(STDOUT_FILE)}",
            f"2> {shlex.quote(TRACEBACK_FILE)}",
            "< /dev/null",
        ]
    )
    cmd = [
        "gdb",
        "--nx",
        "--batch",
        "-iex",
        "set auto-load off",
        "-iex",
        "set debuginfod enabled off",
        "-ex",
        "set pagination off",
        "-ex",
        "set confirm off",
        "-ex",
        "set startup-with-shell on",
        # Go handles SIGSEGV (nil checks), SIGURG (preemption), SIGPIPE, SIGPROF ... itself.
        "-ex",
        "handle all nostop noprint pass",
        "-ex",
        "handle SIGABRT stop print nopass",
        "-ex",
        run,
        "-ex",
        "info program",
        "-ex",
        f"gcore {CORE_FILE}",
        "-ex",
        "kill",
        program,
    ]
    with open(out_dir / GDB_LOG_FILE, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=out_dir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_unlimited_core,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise CaptureError(
                f"gdb running {program} still running after {timeout:.0f}s; killed"
            ) from None
    output = (out_dir / GDB_LOG_FILE).read_text(errors="replace")
    match = re.search(r"received signal (SIG[A-Z0-9]+)", output)
    core = out_dir / CORE_FILE
    if match is None or not _is_core_file(core):
        raise CaptureError(f"gdb did not stop {program} at a crash and write a core:\n{output}")
    _make_sparse(core)
    return match.group(1)


def _make_sparse(path: Path) -> None:
    """gcore writes every page, even the untouched ones of Go's heap arenas that the kernel
    leaves as holes; punch them out again (the file's content does not change)."""
    fallocate = shutil.which("fallocate")
    if fallocate is not None:
        subprocess.run([fallocate, "--dig-holes", str(path)], check=False, timeout=600)


def capture(
    argv: Sequence[str],
    out_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    force_gcore: bool | None = None,
) -> CaptureResult:
    """Run ARGV in OUT_DIR with GOTRACEBACK=crash until it crashes; leave ``core``,
    ``traceback.txt`` and ``stdout.txt`` there.

    ENV is the base environment (default: this process's); GOTRACEBACK=crash is added to it.
    FORCE_GCORE takes the core with gdb even when the kernel would write one (default: whether
    ``$GOSCOPE_FORCE_GCORE`` is set to a non-empty value other than 0).
    Raises CaptureError when the program does not crash or no core can be obtained.
    """
    if force_gcore is None:
        force_gcore = os.environ.get("GOSCOPE_FORCE_GCORE", "0") not in ("", "0")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(argv[0]).resolve()), *argv[1:]]
    run_env = dict(os.environ if env is None else env)
    extra = {"GOTRACEBACK": "crash"}
    run_env.update(extra)
    try:
        pattern = CORE_PATTERN.read_text().strip()
    except OSError:
        pattern = ""
    _clean(out_dir)
    start = time.monotonic()

    # A pipe pattern hands the core to a crash handler, and an absolute path puts it elsewhere:
    # in both cases no core appears here, so go straight to gcore.
    kernel_writes_here = bool(pattern) and not pattern.startswith(("|", "/"))
    if kernel_writes_here and not force_gcore:
        exit_status, sig = _run_plain(argv, out_dir, run_env, timeout)
        if sig is None:
            raise CaptureError(
                f"{argv[0]} exited with status {exit_status} instead of crashing; "
                f"see {out_dir / TRACEBACK_FILE}"
            )
        core = _kernel_core(out_dir)
        if core is not None:
            return CaptureResult(
                argv=argv,
                env=extra,
                exit_status=None,
                signal=sig,
                core_source="kernel",
                core=str(core),
                core_pattern=pattern,
                seconds=round(time.monotonic() - start, 3),
            )
        _clean(out_dir)

    sig = _run_under_gdb(argv, out_dir, run_env, timeout)
    return CaptureResult(
        argv=argv,
        env=extra,
        exit_status=None,
        signal=sig,
        core_source="gcore",
        core=str(out_dir / CORE_FILE),
        core_pattern=pattern,
        seconds=round(time.monotonic() - start, 3),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.harness.capture",
        description="Run a Go program with GOTRACEBACK=crash and keep its core, traceback "
        "(stderr) and stdout in OUT.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds")
    parser.add_argument(
        "--gcore",
        action="store_true",
        default=None,
        help="always take the core with gdb's gcore (also: GOSCOPE_FORCE_GCORE=1)",
    )
    parser.add_argument("program", help="the program to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    args = parser.parse_args(argv)
    try:
        result = capture(
            [args.program, *args.args], args.out, timeout=args.timeout, force_gcore=args.gcore
        )
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
