"""Why attaching to a Go process, getting its core dump or debugging its binary may fail.

:func:`diagnose` returns a checklist of :class:`Finding` objects, each ``ok``, ``warn`` or
``error`` with a message saying what is wrong and why it matters, and the exact fix. Three
groups of checks:

- attaching to a live process: Yama's ``ptrace_scope``, ``CAP_SYS_PTRACE``, an existing
  tracer, a uid mismatch, PID and mount namespaces, seccomp, a process gone or a zombie;
- core dumps: ``RLIMIT_CORE``, ``core_pattern``, ``coredump_filter`` and ``GOTRACEBACK``;
- the binary: DWARF absent or compressed, optimisation and inlining, ``-trimpath``, PIE.

Everything about processes is read from files under ``proc_root`` (``/proc``), so that tests
can hand in a fake tree; "we" is the process running this code (GDB, or the command line),
whose own status is ``proc_root/self/status``. Nothing here writes anywhere.
"""

from __future__ import annotations

import os
import pwd
import resource
import shlex
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from goscope import Binary, GoscopeError
from goscope.binary_info import BinaryInfo, tested_range_text

OK = "ok"
WARN = "warn"
ERROR = "error"

ATTACH = "attach"
CORE = "core"
BINARY = "binary"

CAP_SYS_PTRACE = 19

#: ``coredump_filter`` bit for anonymous private memory: the Go heap and goroutine stacks.
_FILTER_ANON_PRIVATE = 1 << 0
_FILTER_ELF_HEADERS = 1 << 4

_PLACEHOLDER_SOURCE = "/path/to/source"


@dataclass(frozen=True)
class Finding:
    """One line of the checklist."""

    id: str
    status: str
    """:data:`OK`, :data:`WARN` or :data:`ERROR`."""
    message: str
    fix: str | None = None
    topic: str = ATTACH
    """:data:`ATTACH`, :data:`CORE` or :data:`BINARY`: which part of the report it is in."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
            "topic": self.topic,
        }


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.status == ERROR for f in findings)


# -- reading /proc --------------------------------------------------------------------------


class Proc:
    """Files of a /proc tree (the real one, or a fake one in tests)."""

    def __init__(self, root: str | os.PathLike[str] = "/proc") -> None:
        self.root = Path(root)

    def read(self, *parts: str | int) -> str | None:
        try:
            return self.root.joinpath(*map(str, parts)).read_text(errors="replace")
        except OSError:
            return None

    def read_bytes(self, *parts: str | int) -> bytes | None:
        try:
            return self.root.joinpath(*map(str, parts)).read_bytes()
        except OSError:
            return None

    def link(self, *parts: str | int) -> str | None:
        try:
            return os.readlink(self.root.joinpath(*map(str, parts)))
        except OSError:
            return None

    def status(self, pid: str | int) -> dict[str, str] | None:
        """``/proc/PID/status`` as field -> value (value stripped), None if unreadable."""
        text = self.read(pid, "status")
        if text is None:
            return None
        fields: dict[str, str] = {}
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip()] = value.strip()
        return fields

    def exists(self, pid: int) -> bool:
        return self.root.joinpath(str(pid)).is_dir()


def _int(text: str | None, base: int = 10) -> int | None:
    if text is None:
        return None
    try:
        return int(text.split()[0], base) if text.split() else None
    except ValueError:
        return None


def _uids(status: Mapping[str, str]) -> list[int]:
    """Real, effective, saved and filesystem uid of a status."""
    words = status.get("Uid", "").split()
    return [int(w) for w in words if w.isdigit()]


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OSError):
        return f"#{uid}"


def _has_capability(status: Mapping[str, str] | None, bit: int) -> bool | None:
    if status is None:
        return None
    value = _int(status.get("CapEff"), 16)
    if value is None:
        return None
    return bool(value >> bit & 1)


# -- attaching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Us:
    """What matters about the debugger's own process."""

    pid: int
    status: dict[str, str] | None
    cap_sys_ptrace: bool | None

    @property
    def uid(self) -> int | None:
        uids = _uids(self.status) if self.status is not None else []
        return uids[0] if uids else None


def _us(proc: Proc) -> _Us:
    status = proc.status("self")
    pid = _int(status.get("Pid")) if status is not None else None
    return _Us(pid or os.getpid(), status, _has_capability(status, CAP_SYS_PTRACE))


def _descendant_of(proc: Proc, pid: int, ancestor: int) -> bool:
    """Whether `pid` is a child, grandchild, ... of `ancestor` (bounded walk up PPid)."""
    current = pid
    for _ in range(256):
        status = proc.status(current)
        parent = _int(status.get("PPid")) if status is not None else None
        if parent is None or parent <= 0:
            return False
        if parent == ancestor:
            return True
        current = parent
    return False


def _ptrace_scope(proc: Proc, us: _Us, pid: int | None) -> Finding:
    text = proc.read("sys", "kernel", "yama", "ptrace_scope")
    scope = _int(text)
    if scope is None:
        return Finding(
            "ptrace_scope",
            OK,
            "Yama is not active (no /proc/sys/kernel/yama/ptrace_scope): ptrace follows the "
            "classic rules (same uid, or CAP_SYS_PTRACE).",
        )
    if scope == 0:
        return Finding(
            "ptrace_scope",
            OK,
            "Yama ptrace_scope is 0 (classic): any process of the same uid can be attached.",
        )
    if scope == 3:
        return Finding(
            "ptrace_scope",
            ERROR,
            "Yama ptrace_scope is 3 (no attach): no process may use ptrace, not even root, "
            "so GDB can neither attach nor run a program, and the setting cannot be lowered "
            "until reboot.",
            "set kernel.yama.ptrace_scope = 1 (or 0) in /etc/sysctl.d/10-ptrace.conf and "
            "reboot; until then debug core dumps (see the core dump checks below).",
        )
    target = f"process {pid}" if pid is not None else "a running process"
    severity = ERROR if pid is not None else WARN
    if scope == 1:
        if us.cap_sys_ptrace:
            return Finding(
                "ptrace_scope",
                OK,
                "Yama ptrace_scope is 1 (restricted), but we have CAP_SYS_PTRACE, which "
                "lifts the restriction.",
            )
        if pid is not None and _descendant_of(proc, pid, us.pid):
            return Finding(
                "ptrace_scope",
                OK,
                f"Yama ptrace_scope is 1 (restricted): only descendants can be attached, and "
                f"process {pid} is one of ours.",
            )
        return Finding(
            "ptrace_scope",
            severity,
            f"Yama ptrace_scope is 1 (restricted): only a descendant of the debugger (or a "
            f"process that named it with prctl(PR_SET_PTRACER)) can be attached, so attaching "
            f"to {target} fails with 'ptrace: Operation not permitted'.",
            "sudo sysctl -w kernel.yama.ptrace_scope=0 (until reboot), or attach as root "
            "(sudo gdb -p PID), or start the program under GDB (gdb --args PROGRAM ARGS).",
        )
    if scope == 2:
        if us.cap_sys_ptrace:
            return Finding(
                "ptrace_scope",
                OK,
                "Yama ptrace_scope is 2 (admin-only): only CAP_SYS_PTRACE may attach, and we "
                "have it.",
            )
        return Finding(
            "ptrace_scope",
            severity,
            f"Yama ptrace_scope is 2 (admin-only): only a process with CAP_SYS_PTRACE may use "
            f"ptrace, and we do not have it, so attaching to {target} or running a program "
            f"under GDB fails with 'Operation not permitted'.",
            "run GDB as root (sudo gdb -p PID), or sudo sysctl -w kernel.yama.ptrace_scope=1.",
        )
    return Finding(
        "ptrace_scope",
        WARN,
        f"Yama ptrace_scope is {scope}, a value this check does not know.",
        "see the kernel's Documentation/admin-guide/LSM/Yama.rst",
    )


def _capability(us: _Us, needed_for: str | None, severity: str) -> Finding:
    if us.cap_sys_ptrace is None:
        return Finding(
            "cap_sys_ptrace",
            WARN,
            "Cannot read CapEff of our own /proc/self/status: whether we have CAP_SYS_PTRACE "
            "is unknown.",
        )
    if us.cap_sys_ptrace:
        return Finding(
            "cap_sys_ptrace",
            OK,
            "We have CAP_SYS_PTRACE (CapEff bit 19): uid and Yama restrictions do not apply.",
        )
    if needed_for is None:
        return Finding(
            "cap_sys_ptrace",
            OK,
            "We do not have CAP_SYS_PTRACE (CapEff bit 19); it is not needed for a process "
            "of our own uid.",
        )
    return Finding(
        "cap_sys_ptrace",
        severity,
        f"We do not have CAP_SYS_PTRACE (CapEff bit 19), which {needed_for} needs.",
        "run GDB as root; in a container add the capability: docker run --cap-add=SYS_PTRACE, "
        "or in Kubernetes securityContext.capabilities.add: [SYS_PTRACE].",
    )


def _seccomp(us: _Us) -> Finding:
    status = us.status or {}
    mode = _int(status.get("Seccomp"))
    if mode is None or mode == 0:
        return Finding("seccomp", OK, "No seccomp filter on us: ptrace is not filtered.")
    if mode == 1:
        return Finding(
            "seccomp",
            ERROR,
            "We run in seccomp strict mode (Seccomp: 1): only read, write, exit and sigreturn "
            "are allowed, so ptrace is impossible.",
            "run the debugger outside the sandbox.",
        )
    filters = status.get("Seccomp_filters")
    count = f", {filters} filter(s)" if filters else ""
    return Finding(
        "seccomp",
        WARN,
        f"A seccomp filter is active on us (Seccomp: 2{count}): it may forbid ptrace or "
        f"process_vm_readv (older container runtimes' default profiles do), and then "
        f"attaching fails with 'Operation not permitted'.",
        "if attaching fails, run the container with --security-opt seccomp=unconfined (or a "
        "profile that allows ptrace and process_vm_readv).",
    )


def _process(proc: Proc, pid: int) -> tuple[Finding, dict[str, str] | None]:
    status = proc.status(pid)
    if status is None or not proc.exists(pid):
        return (
            Finding(
                "process",
                ERROR,
                f"No process {pid}: it has exited or never existed (or is not visible in this "
                f"PID namespace).",
                "check the pid (pgrep -a NAME); for a program that has died, debug its core dump.",
            ),
            None,
        )
    name = status.get("Name", "?")
    state = status.get("State", "?")
    letter = state[:1]
    if letter in ("Z", "X"):
        return (
            Finding(
                "process",
                ERROR,
                f"Process {pid} ({name}) has exited ({state}): nothing is left to attach to, "
                f"its memory is gone.",
                "debug its core dump instead (see the core dump checks below).",
            ),
            None,
        )
    if letter in ("T", "t"):
        return (
            Finding(
                "process",
                WARN,
                f"Process {pid} ({name}) is stopped ({state}): GDB can attach, but it will not "
                f"run until it gets SIGCONT.",
                f"kill -CONT {pid} after detaching, if nothing else is meant to continue it.",
            ),
            status,
        )
    return Finding("process", OK, f"Process {pid} ({name}) is alive ({state})."), status


def _tracer(proc: Proc, pid: int, status: Mapping[str, str], us: _Us) -> Finding:
    tracer = _int(status.get("TracerPid")) or 0
    if tracer == 0:
        return Finding("tracer", OK, f"Process {pid} is not traced by anyone.")
    if tracer == us.pid:
        return Finding("tracer", OK, f"Process {pid} is traced by us (pid {tracer}).")
    comm = (proc.read(tracer, "comm") or "").strip() or "?"
    return Finding(
        "tracer",
        ERROR,
        f"Process {pid} is already traced by process {tracer} ({comm}): a process has at most "
        f"one tracer, so attaching fails with 'Operation not permitted'.",
        f"detach that debugger or tracer (or end it: kill {tracer}), then attach again.",
    )


def _uid(pid: int, status: Mapping[str, str], us: _Us) -> tuple[Finding, str | None]:
    """The uid check, and what needs CAP_SYS_PTRACE because of it (None if nothing)."""
    theirs = _uids(status)[:3]
    ours = us.uid
    if not theirs or ours is None:
        return Finding("uid", WARN, f"Cannot read the uids of process {pid} or of us."), None
    if all(uid == ours for uid in theirs):
        return Finding("uid", OK, f"Process {pid} runs as our uid {ours}."), None
    shown = "/".join(str(u) for u in theirs)
    reason = f"attaching to process {pid} (uids {shown}, ours {ours})"
    if us.cap_sys_ptrace:
        return (
            Finding(
                "uid",
                OK,
                f"Process {pid} runs as uid {shown} (real/effective/saved), we as {ours}; "
                f"CAP_SYS_PTRACE allows attaching anyway.",
            ),
            None,
        )
    user = _user(theirs[1] if len(theirs) > 1 else theirs[0])
    return (
        Finding(
            "uid",
            ERROR,
            f"Process {pid} runs as uid {shown} (real/effective/saved), we as {ours}: without "
            f"CAP_SYS_PTRACE the kernel allows attaching only when all three match ours.",
            f"attach as its user (sudo -u {shlex.quote(user)} gdb -p {pid}) or as root "
            f"(sudo gdb -p {pid}).",
        ),
        reason,
    )


def _namespaces(proc: Proc, pid: int, status: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    ours, theirs = proc.link("self", "ns", "pid"), proc.link(pid, "ns", "pid")
    if ours is None or theirs is None:
        findings.append(
            Finding("pid_namespace", WARN, f"Cannot compare the PID namespaces of {pid} and us.")
        )
    elif ours == theirs:
        findings.append(Finding("pid_namespace", OK, f"Process {pid} is in our PID namespace."))
    else:
        inner = status.get("NSpid", "").split()
        inside = f"; inside it, it is pid {inner[-1]}" if len(inner) > 1 else ""
        findings.append(
            Finding(
                "pid_namespace",
                WARN,
                f"Process {pid} is in another PID namespace ({theirs}, ours {ours}): it runs "
                f"in a container{inside}. Attaching from here works with enough privilege, "
                f"but pids and threads it reports about itself are the container's.",
                f"or debug from inside the container: nsenter -t {pid} -p -m gdb -p "
                f"{inner[-1] if len(inner) > 1 else 'PID'} (needs the tools in the container), "
                f"or docker exec / kubectl debug --target.",
            )
        )
    ours, theirs = proc.link("self", "ns", "mnt"), proc.link(pid, "ns", "mnt")
    if ours is None or theirs is None:
        findings.append(
            Finding(
                "mount_namespace", WARN, f"Cannot compare the mount namespaces of {pid} and us."
            )
        )
    elif ours == theirs:
        findings.append(Finding("mount_namespace", OK, f"Process {pid} sees our file system."))
    else:
        findings.append(
            Finding(
                "mount_namespace",
                WARN,
                f"Process {pid} is in another mount namespace ({theirs}, ours {ours}): paths "
                f"it uses (its executable, shared libraries, source files) are not ours, so "
                f"GDB may load the wrong files or none.",
                f"in GDB: set sysroot /proc/{pid}/root (and file /proc/{pid}/exe) before "
                f"attaching.",
            )
        )
    return findings


def _at_most_warn(finding: Finding) -> Finding:
    """`finding` for a process we are attached to already: what would stop the next attach
    is worth knowing, but is no error now."""
    if finding.status != ERROR:
        return finding
    return replace(finding, status=WARN, message=finding.message + " (We are attached already.)")


def attach_findings(pid: int | None, proc: Proc) -> list[Finding]:
    """Whether we can attach to `pid` (or to processes in general, when None)."""
    us = _us(proc)
    process: list[Finding] = []
    status: dict[str, str] | None = None
    needed_for: str | None = None
    attached = False
    if pid is not None:
        found, status = _process(proc, pid)
        process.append(found)
        if status is not None:
            attached = _int(status.get("TracerPid")) == us.pid
            process.append(_tracer(proc, pid, status, us))
            uid_finding, needed_for = _uid(pid, status, us)
            process.append(uid_finding)
            process.extend(_namespaces(proc, pid, status))
    scope_finding = _ptrace_scope(proc, us, pid if status is not None else None)
    scope = _int(proc.read("sys", "kernel", "yama", "ptrace_scope"))
    if needed_for is None and scope_finding.status != OK and scope in (1, 2):
        needed_for = f"Yama ptrace_scope {scope}"
    findings = [
        scope_finding,
        *process,
        _capability(us, needed_for, ERROR if status is not None else WARN),
        _seccomp(us),
    ]
    if attached:
        findings = [_at_most_warn(f) for f in findings]
    return [replace(f, topic=ATTACH) for f in findings]


# -- core dumps -------------------------------------------------------------------------------


def _limit_text(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def _core_limit(proc: Proc, pid: int | None, own: tuple[int, int] | None) -> Finding:
    soft: int | None
    if pid is not None:
        text = proc.read(pid, "limits")
        line = next(
            (ln for ln in (text or "").splitlines() if ln.startswith("Max core file size")), None
        )
        if line is None:
            return Finding(
                "core_limit",
                WARN,
                f"Cannot read RLIMIT_CORE of process {pid} (/proc/{pid}/limits).",
            )
        words = line[len("Max core file size") :].split()
        soft = None if not words or words[0] == "unlimited" else _int(words[0])
        who = f"Process {pid}'s core file size limit (RLIMIT_CORE)"
        fix = (
            f"prlimit --pid {pid} --core=unlimited (now, for this process), and ulimit -c "
            f"unlimited (or systemd's LimitCORE=infinity) where it is started."
        )
    else:
        limits = own if own is not None else resource.getrlimit(resource.RLIMIT_CORE)
        soft = None if limits[0] == resource.RLIM_INFINITY else limits[0]
        who = "Our core file size limit (ulimit -c), which programs started from here inherit,"
        fix = "ulimit -c unlimited in the shell that starts the program."
    if soft == 0:
        return Finding(
            "core_limit",
            WARN,
            f"{who} is 0: a crash leaves no core dump.",
            fix,
        )
    return Finding("core_limit", OK, f"{who} is {_limit_text(soft)}: core dumps can be written.")


def _core_pattern(proc: Proc, pid: int | None) -> Finding:
    pattern = (proc.read("sys", "kernel", "core_pattern") or "").strip()
    if not pattern:
        return Finding("core_pattern", WARN, "Cannot read /proc/sys/kernel/core_pattern.")
    if pattern.startswith("|"):
        words = pattern[1:].split()
        handler = words[0] if words else "?"
        name = os.path.basename(handler)
        if "systemd-coredump" in name:
            return Finding(
                "core_pattern",
                OK,
                f"core_pattern pipes core dumps to systemd-coredump ({handler}): they are "
                f"stored in its journal, not as files beside the program.",
                "coredumpctl list (find it), coredumpctl dump PID -o core (get the file), or "
                "coredumpctl gdb PID (open it in GDB).",
            )
        if name == "apport":
            return Finding(
                "core_pattern",
                WARN,
                f"core_pattern pipes core dumps to apport ({handler}): it keeps cores of "
                f"programs outside packages in /var/lib/apport/coredump/ and crash reports in "
                f"/var/crash/, or drops them.",
                "look in /var/lib/apport/coredump/, or write plain files: sudo sysctl -w "
                "kernel.core_pattern=/tmp/core.%e.%p",
            )
        return Finding(
            "core_pattern",
            WARN,
            f"core_pattern pipes core dumps to {handler}: where they end up is up to that program.",
            "see that program's documentation, or write plain files: sudo sysctl -w "
            "kernel.core_pattern=/tmp/core.%e.%p",
        )
    if pattern.startswith("/"):
        directory = os.path.dirname(pattern)
        if not os.path.isdir(directory):
            return Finding(
                "core_pattern",
                WARN,
                f"core_pattern writes core dumps to {pattern}, but {directory} does not exist "
                f"(here), so none is written.",
                f"mkdir -p {directory} (writable by the program's user).",
            )
        return Finding("core_pattern", OK, f"core_pattern writes core dumps to {pattern}.")
    where = "the crashing process's current directory"
    if pid is not None:
        cwd = proc.link(pid, "cwd")
        if cwd:
            where += f" (for process {pid}: {cwd})"
    return Finding(
        "core_pattern",
        OK,
        f"core_pattern writes core dumps as {pattern!r} in {where}, if it is writable.",
    )


def _coredump_filter(proc: Proc, pid: int | None) -> Finding:
    owner = pid if pid is not None else "self"
    text = proc.read(owner, "coredump_filter")
    value = _int(text, 16)
    if pid is not None:
        who = f"Process {pid}'s coredump_filter"
    else:
        who = "Our coredump_filter (inherited by programs started from here)"
    if value is None:
        return Finding("coredump_filter", WARN, f"Cannot read {who}.")
    if not value & _FILTER_ANON_PRIVATE:
        target = f"/proc/{pid}/coredump_filter" if pid is not None else "/proc/self/coredump_filter"
        return Finding(
            "coredump_filter",
            WARN,
            f"{who} is {value:#x}, without bit 0 (anonymous private memory): "
            f"a core dump would miss the Go heap and every goroutine stack.",
            f"echo {value | _FILTER_ANON_PRIVATE | _FILTER_ELF_HEADERS:#x} > {target} "
            f"(children inherit it).",
        )
    return Finding(
        "coredump_filter",
        OK,
        f"{who} is {value:#x}: anonymous private memory (the Go heap and stacks) is dumped.",
    )


def _environ(proc: Proc, pid: int) -> dict[str, str] | None:
    data = proc.read_bytes(pid, "environ")
    if data is None:
        return None
    result: dict[str, str] = {}
    for item in data.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            result[name.decode(errors="replace")] = value.decode(errors="replace")
    return result


def _gotraceback(proc: Proc, pid: int | None, own: Mapping[str, str] | None) -> Finding:
    if pid is not None:
        environ = _environ(proc, pid)
        if environ is None:
            return Finding(
                "gotraceback",
                WARN,
                f"Cannot read process {pid}'s environment (/proc/{pid}/environ), so whether it "
                f"dumps core on a crash (GOTRACEBACK=crash) is unknown.",
            )
        where = f"process {pid}'s environment"
        fix = "start the program with GOTRACEBACK=crash in its environment."
    else:
        environ = dict(own if own is not None else os.environ)
        where = "our environment (inherited by programs started from here)"
        fix = "export GOTRACEBACK=crash before starting the program."
    value = environ.get("GOTRACEBACK")
    if value == "crash":
        return Finding(
            "gotraceback",
            OK,
            f"GOTRACEBACK=crash in {where}: a panic or fatal error prints every goroutine and "
            f"aborts with SIGABRT, which dumps core.",
        )
    shown = f"GOTRACEBACK={value}" if value is not None else "GOTRACEBACK is not set"
    return Finding(
        "gotraceback",
        WARN,
        f"{shown} in {where}: on a panic or fatal error the Go runtime prints a traceback and "
        f"exits with status 2, without a core dump (unless the program calls "
        f'debug.SetTraceback("crash") itself).',
        fix,
    )


def core_findings(
    pid: int | None,
    proc: Proc,
    own_core_limit: tuple[int, int] | None = None,
    own_environ: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Whether a crash of `pid` (or of a program started from here) leaves a usable core."""
    findings = [
        _core_limit(proc, pid, own_core_limit),
        _core_pattern(proc, pid),
        _coredump_filter(proc, pid),
        _gotraceback(proc, pid, own_environ),
    ]
    return [replace(f, topic=CORE) for f in findings]


# -- the binary -------------------------------------------------------------------------------


def gdb_configuration() -> str | None:
    """``gdb --configuration`` of the GDB on PATH, or None."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return None
    try:
        proc = subprocess.run(
            [gdb, "--configuration"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _dwarf(info: BinaryInfo, path: str, configuration: str | None) -> list[Finding]:
    findings: list[Finding] = []
    dwarf = info.dwarf
    if dwarf == "absent":
        findings.append(
            Finding(
                "dwarf",
                WARN,
                "No DWARF (built with -ldflags=-w, or stripped): GDB alone cannot show Go "
                "variables, types or source lines (print, info locals, ptype, break FILE:LINE "
                "and list do not work, bt shows bare addresses). goscope still works from "
                ".gopclntab: go goroutines, go bt with file:line, go crash, go panic, go defer "
                "and go triage.",
                "to inspect variables, rebuild without -ldflags=-w/-s and without strip (keep "
                "a copy of that build beside the stripped one and load it: gdb UNSTRIPPED "
                "CORE).",
            )
        )
    elif dwarf == "compressed":
        kind = info.dwarf_compression or "zlib"
        if kind.startswith("zstd"):
            supported = configuration is not None and "--with-zstd" in configuration
            if supported:
                findings.append(
                    Finding("dwarf", OK, "DWARF is zstd-compressed; this GDB has zstd support.")
                )
            else:
                findings.append(
                    Finding(
                        "dwarf",
                        ERROR,
                        "DWARF is zstd-compressed, and this GDB was not built --with-zstd: it "
                        "will not see any debug information.",
                        f"decompress it: objcopy --decompress-debug-sections {path} "
                        f"{path}.debug, then debug {path}.debug.",
                    )
                )
        else:
            findings.append(
                Finding(
                    "dwarf",
                    OK,
                    f"DWARF is present, {kind}-compressed (the Go linker's default); GDB reads "
                    f"zlib-compressed sections.",
                )
            )
    elif dwarf == "present":
        findings.append(Finding("dwarf", OK, "DWARF is present: GDB can show variables and types."))
    if info.symbols is False:
        findings.append(
            Finding(
                "symbols",
                WARN,
                "The ELF symbol table is stripped (-ldflags=-s): plain GDB's break FUNC and "
                "info functions do not find Go functions; goscope finds them through "
                ".gopclntab.",
                "rebuild without -ldflags=-s to get the symbol table back.",
            )
        )
    elif info.symbols is True:
        findings.append(Finding("symbols", OK, "The ELF symbol table is present."))
    return findings


def _flags(value: str) -> tuple[bool, list[str]]:
    """Whether a -gcflags value applies to all packages (``all=``), and its flags."""
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    every = False
    flags: list[str] = []
    for word in words:
        if "=" in word and not word.startswith("-"):
            pattern, word = word.split("=", 1)
            every = every or pattern == "all"
        flags.extend(word.split())
    return every, flags


def _optimization(info: BinaryInfo) -> Finding:
    value = info.setting("-gcflags") or ""
    every, flags = _flags(value)
    no_opt, no_inline = "-N" in flags, "-l" in flags
    fix = "for debugging, rebuild with: go build -gcflags=all='-N -l'"
    if no_opt and no_inline and every:
        return Finding(
            "optimization",
            OK,
            f"Built with -gcflags='{value}': no optimisation and no inlining anywhere, so "
            f"every line breakpoint binds and every local variable is readable.",
        )
    if no_opt and no_inline:
        return Finding(
            "optimization",
            WARN,
            f"Built with -gcflags='{value}', which applies only to the packages named on the "
            f"command line: dependencies are still optimised and inlined, so their lines may "
            f"not take a breakpoint and their locals may be <optimized out>.",
            fix,
        )
    if no_opt:
        what = f"Built with -gcflags='{value}': optimisation is off but inlining is on"
    elif no_inline:
        what = f"Built with -gcflags='{value}': inlining is off but the code is optimised"
    else:
        what = "Optimised and inlined build (no -gcflags=all='-N -l')"
    return Finding(
        "optimization",
        WARN,
        f"{what}: a breakpoint on a line of an inlined call or of merged code may not bind "
        f"(or stop elsewhere), locals may be <optimized out>, and inlined calls have no frame "
        f"of their own in GDB (goscope shows them).",
        fix,
    )


def _main_file(binary: Binary) -> str | None:
    entry = binary.function("main.main")
    if entry is None:
        return None
    location = binary.pc_line(entry[0])
    return location[1] if location is not None else None


def _module_declared(directory: Path, module: str) -> bool:
    try:
        text = (directory / "go.mod").read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) == 2 and words[0] == "module":
            return words[1].strip('"`') == module
    return False


def source_root(prefix: str, relative_file: str | None, starts: Sequence[Path]) -> str | None:
    """Where the source of module `prefix` is on this machine: the nearest directory (from
    each of `starts` upwards) whose go.mod declares it, else one holding `relative_file`."""
    for start in starts:
        for directory in (start, *start.parents):
            if _module_declared(directory, prefix):
                return str(directory)
    if relative_file:
        for start in starts:
            if (start / relative_file).is_file():
                return str(start)
    return None


def _trimpath(info: BinaryInfo, binary: Binary, path: str, cwd: Path | None) -> Finding | None:
    main_file = _main_file(binary)
    trimmed = info.setting("-trimpath") == "true"
    if not trimmed:
        if main_file is None:
            return None
        if os.path.isabs(main_file) and not os.path.isfile(main_file):
            return Finding(
                "source",
                WARN,
                f"Source paths are absolute, but main.main's file {main_file} is not on this "
                f"machine: GDB cannot list source.",
                f"set substitute-path {os.path.dirname(main_file)} /path/to/checkout",
            )
        return Finding(
            "source", OK, f"Source paths are absolute; main.main's file {main_file} is here."
        )
    module = info.main_module
    module_path = module.path if module is not None else ""
    if main_file and module_path and main_file.startswith(module_path + "/"):
        prefix = module_path
    elif main_file and "/" in main_file:
        prefix = main_file.rsplit("/", 1)[0]
    else:
        prefix = module_path or "MODULE/PATH"
    relative = main_file[len(prefix) + 1 :] if main_file and main_file.startswith(prefix) else None
    here = cwd if cwd is not None else Path.cwd()
    starts = [here, Path(os.path.abspath(path)).parent]
    root = source_root(prefix, relative, starts)
    to = root if root is not None else _PLACEHOLDER_SOURCE
    shown = f" (main.main is in {main_file})" if main_file else ""
    guess = "" if root is not None else "; replace /path/to/source with your checkout"
    return Finding(
        "trimpath",
        WARN,
        f"Built with -trimpath: source paths are module paths like {prefix}/...{shown}, not "
        f"files on disk, so GDB cannot list source until it is told where they are{guess}.",
        f"set substitute-path {prefix} {to}",
    )


def _pie(info: BinaryInfo, load_bias: int | None) -> Finding:
    if info.pie:
        bias = f" (here {load_bias:#x})" if load_bias is not None else ""
        return Finding(
            "pie",
            OK,
            f"Position-independent executable (PIE): it is loaded at an address chosen at run "
            f"time, so addresses differ from the file's by the load bias{bias}; GDB and "
            f"goscope apply it, but addresses from go tool objdump or nm need it added.",
        )
    return Finding("pie", OK, "Not PIE: addresses in the process are those of the file.")


def _go_version(info: BinaryInfo) -> Finding:
    error = info.raw.get("build_info_error")
    if error:
        return Finding(
            "go_version",
            WARN,
            f"The build info cannot be read ({error}): Go version and build settings are "
            f"unknown, so the checks of optimisation and -trimpath are guesses.",
        )
    version = info.version
    if version is None:
        return Finding("go_version", WARN, "The build info names no released Go version.")
    if not version.in_tested_range():
        return Finding(
            "go_version",
            WARN,
            f"{info.go_version} is outside the range goscope is tested with "
            f"({tested_range_text()}): runtime structures may be misread.",
        )
    return Finding("go_version", OK, f"{info.go_version} is supported by goscope.")


def binary_findings(
    path: str,
    cwd: Path | None = None,
    load_bias: int | None = None,
    configuration: str | None = None,
) -> list[Finding]:
    """What the build of the Go executable at `path` means for debugging it."""
    try:
        binary = Binary(path)
        info = BinaryInfo.of(binary)
    except GoscopeError as error:
        return [Finding("binary", ERROR, f"{path}: {error}", None, BINARY)]
    if configuration is None and info.dwarf == "compressed":
        kind = info.dwarf_compression
        configuration = gdb_configuration() if kind and kind.startswith("zstd") else None
    findings = [Finding("binary", OK, f"{path} is a Go executable.")]
    findings.append(_go_version(info))
    findings.extend(_dwarf(info, path, configuration))
    findings.append(_optimization(info))
    source = _trimpath(info, binary, path, cwd)
    if source is not None:
        findings.append(source)
    findings.append(_pie(info, load_bias))
    return [replace(f, topic=BINARY) for f in findings]


# -- putting it together ------------------------------------------------------------------------


def core_file_findings(core: str, executable: str | None) -> list[Finding]:
    """Whether the core file can be read with `executable`."""
    if executable is None:
        return [
            Finding(
                "core_file",
                WARN,
                f"{core} is a core file; its executable is needed to read it.",
                f"give the executable: goscope doctor {core} --exe BINARY (in GDB: gdb BINARY "
                f"{core}).",
                CORE,
            )
        ]
    from goscope import Target

    try:
        target = Target.open_core(core, executable)
    except GoscopeError as error:
        return [Finding("core_file", ERROR, f"{core}: {error}", None, CORE)]
    warnings = target.warnings()
    if warnings:
        return [
            Finding("core_file", WARN, f"{core}: {warning}", None, CORE) for warning in warnings
        ]
    version = target.go_version or "an unknown Go version"
    return [Finding("core_file", OK, f"{core} reads with {executable} ({version}).", None, CORE)]


def executable_of(pid: int, proc: Proc) -> str | None:
    """The executable of a live process, as a path we can open."""
    link = proc.root / str(pid) / "exe"
    if not os.path.exists(link):
        return None
    # The file's own name reads better, when it is the same file in our file system.
    try:
        named = os.readlink(link)
        if os.path.isfile(named) and os.path.samefile(named, link):
            return named
    except OSError:
        pass
    return str(link)


def diagnose(
    pid: int | None = None,
    binary: str | None = None,
    core: str | None = None,
    proc_root: str | os.PathLike[str] = "/proc",
    cwd: Path | None = None,
    load_bias: int | None = None,
    own_core_limit: tuple[int, int] | None = None,
    own_environ: Mapping[str, str] | None = None,
    configuration: str | None = None,
) -> list[Finding]:
    """The whole checklist: attaching (to `pid`, or in general), core dumps (of `pid`, or of
    programs started from here), the `core` file if given, and the binary (`binary`, else
    the process's executable)."""
    proc = Proc(proc_root)
    findings = attach_findings(pid, proc) if core is None else []
    alive = pid is not None and not any(f.id == "process" and f.status == ERROR for f in findings)
    if core is not None:
        findings += core_file_findings(core, binary)
    elif pid is None or alive:
        # A process that is gone has no core dump settings left to check.
        findings += core_findings(pid, proc, own_core_limit, own_environ)
    if binary is None and alive and pid is not None:
        binary = executable_of(pid, proc)
    if binary is not None:
        findings += binary_findings(binary, cwd, load_bias, configuration)
    return findings
