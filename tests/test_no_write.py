"""goscope never writes target memory or registers.

Dynamically: GDB attached to the ``live`` fixture (``gdb -p PID``) runs under
``strace -f -e trace=ptrace,process_vm_writev,pwrite64,openat,open``, and every read-only
goscope command runs between two markers (each marker is GDB opening a file of a name used for
nothing else, which strace records). Between them the log must hold no ``PTRACE_POKEDATA``,
``POKETEXT``, ``POKEUSER``, ``SETREGS``, ``SETFPREGS`` or ``SETREGSET``, no
``process_vm_writev``, no open of a process's ``mem`` file for writing and no ``pwrite64`` at
all (GDB writes memory with it, to the ``mem`` file it opened when it attached). strace attaches
to GDB after GDB has attached to the process (a GDB started under ``strace -f`` hangs checking
what ptrace can do). The commands run twice: reading memory through ``/proc/PID/mem`` (``set goscope
live-memory auto``, which the log must show being opened read-only) and through GDB (``gdb``).
A control region after the second marker writes one byte of the process back unchanged (``set
var``): the same log must show that write, so a silent log cannot pass for a clean one. No
breakpoint is set.

Statically: no Python code under python/goscope calls ``write_memory`` or ``write_register``
or assigns through GDB (``set var``, ``$pc = ...``, ``set {T} ADDR``, ``call``, ``jump``), and
the Rust sources have no positional write, ``ptrace``, ``process_vm_writev`` or file opened for
writing, except the files goscope itself writes (the pprof profile, the debug-symbol cache, the
triage HTML page).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.gdbrun import GDB, GdbRun, assert_clean, echo, gdb_argv
from tests.harness.fixture import Fixture
from tests.harness.live import start_live
from tests.harness.toolchains import Toolchain

REPO_ROOT = Path(__file__).resolve().parents[1]

#: ptrace requests that change the traced process.
WRITE_REQUESTS = (
    "PTRACE_POKEDATA",
    "PTRACE_POKETEXT",
    "PTRACE_POKEUSER",
    "PTRACE_SETREGS",
    "PTRACE_SETFPREGS",
    "PTRACE_SETREGSET",
)
#: A process's memory file: /proc/PID/mem or /proc/PID/task/TID/mem.
_MEM_PATH = re.compile(r"^/proc/\d+(?:/task/\d+)?/mem$")
# One strace line: "PID name(args) = result", or the first half of a call another thread
# interrupted ("... <unfinished ...>"); the second half ("<... name resumed>") holds no
# arguments worth reading.
_CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<name>\w+)\((?P<args>.*?)(?:\) += (?P<result>-?\w+).*)?$")
_OPEN = re.compile(r'^(?:AT_FDCWD, )?"(?P<path>(?:[^"\\]|\\.)*)", (?P<flags>[A-Z_|0-9]+)')

COMMANDS = [
    "go info",
    "go goroutines",
    "go bt all",
    "go threads",
    "go triage",
    "go heap --by type",
    # A goroutine's g is a heap object: why is it alive?
    "python import json; from goscope.gdb import process; "
    "gp = json.loads(process.current().target.goroutines_json(False))['goroutines'][-1]['gp']; "
    "gdb.execute(f'go heap why {gp:#x}')",
    "go goroutine 1",
    "bt",
    "go goroutine",
    "go crash",
    "go panic all",
    "go defer all",
    "go doctor",
    "set goscope max-frames 50",
    "go bt all",
    "set goscope max-frames 100000",
    "print 'runtime.buildVersion'",
    "print 'runtime.allgs'",
    "print $go_len('runtime.allgs')",
]


def strace() -> str:
    """The strace program, installed from Debian when missing (as scripts/setup installs GDB)."""
    found = shutil.which("strace")
    if found is None:
        for command in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "strace"],
        ):
            subprocess.run(
                command,
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                capture_output=True,
                check=False,
                timeout=600,
            )
        found = shutil.which("strace")
    if found is None:
        pytest.fail("strace is missing and `apt-get install strace` did not install it")
    return found


@dataclass
class Findings:
    """What a region of the strace log shows."""

    writes: list[str] = field(default_factory=list)
    mem_reads: list[str] = field(default_factory=list)


@dataclass
class Log:
    lines: list[str]

    @classmethod
    def read(cls, path: Path) -> Log:
        return cls(path.read_text(errors="replace").splitlines())

    def index_of(self, marker: str) -> int:
        """The line where GDB opened the marker file."""
        for index, line in enumerate(self.lines):
            if "open" in line and marker in line:
                return index
        raise AssertionError(f"marker {marker} is not in the strace log")

    def examine(self, start: int, end: int) -> Findings:
        """Writes to a traced process, and read-only opens of its memory, in lines
        start..end."""
        found = Findings()
        for line in self.lines[start:end]:
            call = _CALL.match(line)
            if call is None:
                continue
            name, args = call["name"], call["args"]
            if name in ("open", "openat"):
                opened = _OPEN.match(args)
                if opened is None or _MEM_PATH.match(opened["path"]) is None:
                    continue
                flags = opened["flags"].split("|")
                if "O_WRONLY" in flags or "O_RDWR" in flags:
                    found.writes.append(line)
                else:
                    found.mem_reads.append(line)
            elif name == "ptrace" and args.split(",", 1)[0].strip() in WRITE_REQUESTS:
                found.writes.append(line)
            elif name in ("process_vm_writev", "pwrite64"):
                # Nothing may write at an offset: GDB writes memory so, to the
                # /proc/PID/task/TID/mem it opened when it attached (before strace came).
                found.writes.append(line)
        return found


def _wait_traced(pid: int, tracer: int, timeout: float = 60) -> None:
    """Waits until `tracer` traces every thread of `pid`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tracers = set()
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                status = (task / "status").read_text()
            except OSError:
                continue
            tracers |= {line.split()[1] for line in status.splitlines() if "TracerPid" in line}
        if tracers == {str(tracer)}:
            return
        time.sleep(0.05)
    raise AssertionError(f"strace ({tracer}) did not attach to GDB ({pid})")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _traced_session(fx: Fixture, tmp: Path) -> tuple[GdbRun, Log, dict[str, str]]:
    """GDB attached to the live fixture, traced by strace from the first command on.

    strace attaches to GDB once GDB has attached to the process and said so: GDB checks at
    attach time what ptrace can do by tracing a child of its own, which it cannot when strace
    follows GDB's children (the child is strace's already), and then waits for ever."""
    markers = {name: str(tmp / f"goscope-no-write-{name}") for name in ("begin", "end", "after")}
    for path in markers.values():
        Path(path).touch()
    ready, go = tmp / "ready", tmp / "go"

    def mark(name: str) -> str:
        return f"python open({markers[name]!r}).close()"

    commands = [
        # Say GDB is attached, then wait (at most two minutes) until strace traces it.
        f"python open({str(ready)!r}, 'w').close()",
        "python import os, time; deadline = time.time() + 120; "
        f"[time.sleep(0.05) for _ in iter(lambda: os.path.exists({str(go)!r}) "
        "or time.time() > deadline, True)]",
        mark("begin"),
    ]
    for memory in ("auto", "gdb"):
        commands += [f"set goscope live-memory {memory}", echo(f"@@{memory}@@"), *COMMANDS]
    commands += [
        echo("@@commands-done@@"),
        mark("end"),
        # The control: one byte written back unchanged, which the log must show.
        "set language c",
        "set var *(unsigned char *)&'runtime.buildVersion' = "
        "*(unsigned char *)&'runtime.buildVersion'",
        "set language auto",
        mark("after"),
        "detach",
    ]
    log = tmp / "strace.log"
    live, pid = start_live(fx)
    argv = gdb_argv(commands, args=[str(fx.bin), "-p", str(pid)])
    env = dict(os.environ, LC_ALL="C.UTF-8")
    env.pop("GOSCOPE_SITE", None)
    gdb = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
    )
    tracer: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert gdb.poll() is None, f"GDB ended before it attached:\n{gdb.communicate()}"
            assert time.monotonic() < deadline, "GDB did not attach in two minutes"
            time.sleep(0.05)
        tracer = subprocess.Popen(
            [
                strace(),
                "-f",
                "-qq",
                "-s",
                "256",
                "-e",
                "trace=ptrace,process_vm_writev,pwrite64,openat,open",
                "-e",
                "signal=none",
                "-o",
                str(log),
                "-p",
                str(gdb.pid),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_traced(gdb.pid, tracer.pid)
        go.touch()
        try:
            stdout, stderr = gdb.communicate(timeout=600)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"GDB did not finish: {' '.join(argv)}") from error
        tracer.wait(timeout=60)
        assert live.poll() is None, f"{fx.id}: the process died under GDB"
    finally:
        for proc in (gdb, tracer, live):
            if proc is not None:
                _stop(proc)
    return GdbRun(argv, stdout, stderr, gdb.returncode), Log.read(log), markers


def test_goscope_never_writes_the_process(
    toolchain: Toolchain, fixture_matrix: list[Fixture]
) -> None:
    """Every read-only command on a live process, traced: nothing written between the
    markers; the control write after them is seen."""
    assert shutil.which(GDB) is not None or Path(GDB).is_file(), f"no GDB ({GDB})"
    fx = next(
        (
            f
            for f in fixture_matrix
            if f.program == "live" and f.variant == "default" and f.toolchain.name == toolchain.name
        ),
        None,
    )
    assert fx is not None, f"no live fixture of {toolchain.name}"
    with tempfile.TemporaryDirectory(prefix="goscope-no-write-") as directory:
        run, log, markers = _traced_session(fx, Path(directory))
    assert_clean(run)
    output = run.between("@@auto@@", "@@commands-done@@")
    for expected in ("goroutine 1 ", "runtime.goexit", "goroutines", "[Switching to goroutine 1"):
        assert expected in output, f"{fx.id}: {expected!r} not in the output:\n{run.describe()}"
    assert "internal error" not in run.output, run.describe()
    begin, end = log.index_of(markers["begin"]), log.index_of(markers["end"])
    after = log.index_of(markers["after"])
    assert begin < end < after
    inside = log.examine(begin, end)
    assert not inside.writes, f"{fx.id}: goscope's commands wrote to the process:\n" + "\n".join(
        inside.writes[:20]
    )
    # goscope read the process through /proc/PID/mem (live-memory auto), read-only.
    assert inside.mem_reads, f"{fx.id}: no read-only open of /proc/PID/mem between the markers"
    control = log.examine(end, after)
    assert control.writes, (
        f"{fx.id}: the control write (set var) is not in the strace log: the log cannot show "
        "writes\n" + "\n".join(log.lines[end : after + 1][-40:])
    )


# -- the sources ------------------------------------------------------------------------------

#: Calls that write the target, through GDB's Python API.
_WRITING_METHODS = {"write_memory", "write_register", "assign"}
#: GDB commands (or their parts) that change the target.
_WRITING_COMMANDS = (
    re.compile(r"\bset\s+var(iable)?\b"),
    re.compile(r"\$(pc|sp|fp|ps|rip|rsp|rbp|eflags|[re]?[a-d]x|r\d+|x\d+|lr)\s*=(?!=)"),
    re.compile(r"^\s*set\s*[{*(]"),
    re.compile(r"^\s*(call|jump|return|signal|queue-signal)\b"),
)
#: Files goscope writes on purpose, (module, function that opens them).
_PYTHON_WRITES = {
    ("python/goscope/commands/triage.py", "open"),  # goscope triage --html, go triage --html
    ("python/goscope/gdb/symbols.py", "fdopen"),  # the debug-symbol cache
}


def _literal_text(node: ast.AST) -> str:
    """The literal parts of a string or f-string expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return ""


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _mode_writes(node: ast.Call) -> bool:
    mode = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    return mode is not None and any(c in _literal_text(mode) for c in "wax+")


def python_problems(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """Where the module at `path` writes to the target, one line each (the first reason)."""
    relative = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(), filename=relative)
    found: dict[int, str] = {}

    def problem(node: ast.AST, what: str) -> None:
        line = int(getattr(node, "lineno", 0))
        found.setdefault(line, f"{relative}:{line}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _WRITING_METHODS:
            problem(node, f".{node.attr}")
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            text = _literal_text(node)
            if any(pattern.search(text) for pattern in _WRITING_COMMANDS[:3]):
                problem(node, repr(text))
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name.endswith("execute") and node.args:
            text = _literal_text(node.args[0])
            if any(pattern.search(text) for pattern in _WRITING_COMMANDS):
                problem(node, f"runs {text!r}")
        if name in ("open", "fdopen") and _mode_writes(node):
            if (relative, name) not in _PYTHON_WRITES:
                problem(node, f"{name}() for writing")
        if name in ("write_bytes", "write_text"):
            problem(node, f"{name}()")
    return [found[line] for line in sorted(found)]


def test_python_never_writes_the_target() -> None:
    sources = sorted((REPO_ROOT / "python" / "goscope").rglob("*.py"))
    assert len(sources) > 20, sources
    problems = [p for path in sources for p in python_problems(path)]
    assert not problems, "goscope's Python writes to the target:\n" + "\n".join(problems)


#: Writes to anything, in Rust.
_RUST_FORBIDDEN = re.compile(
    r"\bpwrite|write_at\s*\(|write_all_at\s*\(|process_vm_writev|PTRACE_|\bptrace\s*\("
    r"|libc::write|\.write\s*\(\s*true\s*\)|\.append\s*\(\s*true\s*\)|OpenOptions"
    r"|/mem\b.*write"
)
#: Files written whole: only where goscope writes its own output.
_RUST_FILE_WRITES = re.compile(r"fs::write\s*\(|File::create\s*\(")
_RUST_ALLOWED = {
    # goscope heap --pprof FILE, go heap pprof FILE.
    ("rust/python/src/target.rs", "std::fs::write(&path, &bytes)"),
}


def rust_problems(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """Where the Rust source at `path` writes to anything but goscope's own output files."""
    relative = path.relative_to(root).as_posix()
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        code = line.split("//", 1)[0]
        if _RUST_FORBIDDEN.search(code):
            problems.append(f"{relative}:{number}: {line.strip()}")
        if _RUST_FILE_WRITES.search(code):
            if not any(relative == file and text in code for file, text in _RUST_ALLOWED):
                problems.append(f"{relative}:{number}: {line.strip()}")
    return problems


def test_rust_never_writes_the_target() -> None:
    sources = sorted(
        p
        for directory in ("rust/core/src", "rust/python/src")
        for p in (REPO_ROOT / directory).rglob("*.rs")
    )
    assert len(sources) > 20, sources
    problems = [p for path in sources for p in rust_problems(path)]
    assert not problems, "goscope's Rust writes to the target:\n" + "\n".join(problems)
    # /proc/PID/mem is opened read-only.
    proc = (REPO_ROOT / "rust/core/src/target/proc.rs").read_text()
    assert "File::open(&path)" in proc


def test_the_checks_find_writes(tmp_path: Path) -> None:
    """The static checks catch what they are meant to (on sources written for the purpose)."""
    package = tmp_path / "python" / "goscope"
    package.mkdir(parents=True)
    bad = package / "bad.py"
    bad.write_text(
        "import gdb\n"
        "gdb.selected_inferior().write_memory(0x1000, b'x')\n"
        "gdb.execute('set var x = 1')\n"
        "gdb.execute(f'set $pc = {0x10:#x}')\n"
        "gdb.execute('call abort()')\n"
        "open('/proc/1/mem', 'r+b')\n"
    )
    problems = python_problems(bad, tmp_path)
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5", "6"], problems
    rust = tmp_path / "rust" / "core" / "src"
    rust.mkdir(parents=True)
    source = rust / "bad.rs"
    source.write_text(
        "let f = OpenOptions::new().write(true).open(p)?;\n"
        "f.write_all_at(&buf, addr)?;\n"
        "std::fs::write(&out, &bytes)?; // a file of its own\n"
        "// pwrite in a comment is fine\n"
    )
    problems = rust_problems(source, tmp_path)
    assert [p.split(":")[1] for p in problems] == ["1", "2", "3"], problems
