"""Running a tool under measurement: wall time, peak RSS, a timeout; and reporting the results.

Every benchmark runs each tool as its own process, with its output going to a file, under GNU
``time``, which reports the process's peak resident set size (``ru_maxrss``). A tool that runs
past its timeout is killed with its whole process group and reported as timed out.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
# The benchmarks use the test harness (tests.harness: toolchains, core capture); every bench
# module imports this one first.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@dataclass
class Run:
    """One measured process."""

    argv: list[str]
    wall_s: float
    cpu_s: float  # user + system time of the process and the children it waited for
    peak_mb: float
    returncode: int | None  # None when it was killed at its timeout
    timed_out: bool
    stdout: str | None  # path of the file holding its stdout
    stderr_tail: str  # the last lines of its stderr

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _exit_code(status: int) -> int:
    """The exit status, or minus the signal number, as subprocess reports it."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def tail(path: Path, lines: int = 8) -> str:
    """The last LINES lines of the file at PATH (of its last 8 KiB), or nothing."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


TIME = Path("/usr/bin/time")


def run_measured(
    argv: Sequence[str],
    *,
    stdout: Path | None = None,
    stdin: Path | None = None,
    timeout: float = 300.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ARGV to completion (or TIMEOUT seconds) and measure it.

    Its stdout goes to STDOUT (default /dev/null), its stdin comes from STDIN (default
    /dev/null), its stderr to a file beside STDOUT whose tail is kept.

    The peak RSS comes from GNU time (``/usr/bin/time -f %M``), which forks the tool from its
    own small process: the ``ru_maxrss`` of a child forked straight from this Python process
    would include this process's own peak, which Linux carries across exec.
    """
    out_path = Path(stdout) if stdout is not None else Path(os.devnull)
    err_path = (
        out_path.with_name(out_path.name + ".stderr") if stdout is not None else Path(os.devnull)
    )
    if stdout is not None:
        # A fresh file, and the previous run's output written back first: neither freeing
        # the old file's pages nor another run's writeback lands in this run's time.
        out_path.unlink(missing_ok=True)
        os.sync()
    with tempfile.NamedTemporaryFile(prefix="rss-", suffix=".txt") as rss_file:
        command = list(argv)
        if TIME.is_file():
            command = [str(TIME), "-q", "-f", "%M", "-o", rss_file.name, "--", *command]
        with contextlib.ExitStack() as files:
            fin = files.enter_context(open(stdin if stdin is not None else os.devnull, "rb"))
            fout = files.enter_context(open(out_path, "wb"))
            ferr = files.enter_context(open(err_path, "wb"))
            start = time.monotonic()
            proc = subprocess.Popen(
                command,
                stdin=fin,
                stdout=fout,
                stderr=ferr,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
            timed_out = threading.Event()

            def expire() -> None:
                timed_out.set()
                _kill_group(proc.pid)

            timer = threading.Timer(timeout, expire)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            wall = time.monotonic() - start
            proc.returncode = _exit_code(status)
        # Whatever the tool left running in its group (GDB's helpers) goes too.
        _kill_group(proc.pid)
        peak_kb = float(usage.ru_maxrss)  # KiB on Linux; an upper bound, see above
        try:
            peak_kb = float(Path(rss_file.name).read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    return Run(
        argv=[str(a) for a in argv],
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=peak_kb / 1024.0,
        returncode=None if timed_out.is_set() else proc.returncode,
        timed_out=timed_out.is_set(),
        stdout=str(out_path) if stdout is not None else None,
        stderr_tail=tail(err_path) if stdout is not None else "",
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ratio(peer: float | None, ours: float | None) -> float | None:
    """PEER / OURS, or None when either is missing or OURS is zero."""
    if peer is None or ours is None or ours <= 0:
        return None
    return peer / ours


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "FAIL (not measured)"
    return "PASS" if value < limit else "FAIL"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str], source: Sequence[Any]) -> str:
        parts = []
        for i, cell in enumerate(row):
            numeric = (
                isinstance(source[i], (int, float))
                or cell.rstrip("x%").replace(".", "").replace(",", "").isdigit()
            )
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [line(cells[0], headers), "  ".join("-" * w for w in widths)]
    out += [line(row, src) for row, src in zip(cells[1:], rows)]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.startswith("model name"):
                cpu = text_line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for text_line in Path("/proc/meminfo").read_text().splitlines():
            if text_line.startswith("MemTotal:"):
                memory_gb = round(int(text_line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(path: Path | None, summary: Mapping[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=_jsonable) + "\n")
    print(f"JSON summary written to {path}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Run):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def say(message: str) -> None:
    """Progress, on stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


def warm(*paths: Path) -> None:
    """Read files once so that the first tool measured does not pay for the disk."""
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def count_matches(path: Path, pattern: bytes) -> int:
    """How many times the regular expression PATTERN (compiled MULTILINE, never spanning
    lines) matches in the file at PATH, read in chunks."""
    regex = re.compile(pattern, re.MULTILINE)
    count = 0
    carry = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            count += len(regex.findall(data, 0, cut))
            carry = data[cut:]
    return count + len(regex.findall(carry))


def provenance() -> dict[str, Any]:
    """Which goscope was measured: the checkout's commit, whether its sources differ from it,
    and when the binaries under test were built."""

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def built(path: Path) -> str | None:
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return None
        return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        )

    native = sorted((REPO_ROOT / "build" / "site" / "goscope").glob("_native*.so"))
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "modified_sources": len(git("status", "--porcelain", "--", "rust", "python").splitlines()),
        "goscope_bench_built": built(REPO_ROOT / "target" / "release" / "goscope-bench"),
        "site_built": built(native[0]) if native else None,
    }
