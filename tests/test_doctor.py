"""``go doctor`` and ``goscope doctor``: why attaching, core dumps or debugging may fail.

Two kinds of tests:

- fake /proc trees built in ``tmp_path`` (``--proc-root``), one per finding: Yama
  ptrace_scope 0..3, CapEff with and without CAP_SYS_PTRACE, an existing tracer, a uid
  mismatch, another PID or mount namespace, seccomp, a zombie or missing process, piped and
  plain core_pattern, RLIMIT_CORE 0 and unlimited, coredump_filter, GOTRACEBACK unset and
  crash. The tree is the oracle: each test asserts the exact finding and fix it implies.
- for real on this machine: the ``live`` fixture of every toolchain and variant, started by
  the test with a known environment and core limit (the oracle for those findings) and its
  ``FIXTURE`` line giving its pid; attached by GDB, where ``go doctor`` must see GDB itself as
  the tracer; and every fixture binary, whose findings are checked against ``go version -m``
  (optimisation, -trimpath, PIE) and ``go tool addr2line`` (the ``set substitute-path`` FROM
  is the directory of main.main's file as addr2line names it); core fixtures in GDB.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import resource
import select
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping

import pytest

from tests.conftest import _complete as complete
from tests.conftest import all_fixtures
from tests.gdbrun import assert_clean, echo, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.live import start_program
from tests.harness.oracles import addr2line, version_m
from tests.test_cli import describe, goscope

REPO_ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = REPO_ROOT / "tests" / "fixtures" / "programs"

OUR_PID, TARGET_PID, TRACER_PID = 100, 200, 300
CAP_ALL = "000001ffffffffff"
CAP_NO_PTRACE = f"{int(CAP_ALL, 16) & ~(1 << 19):016x}"
PID_NS, OTHER_PID_NS = "pid:[4026531836]", "pid:[4026532999]"
MNT_NS, OTHER_MNT_NS = "mnt:[4026531841]", "mnt:[4026532888]"
LIMITS_HEADER = "Limit                     Soft Limit           Hard Limit           Units     \n"


def _status(pid: int, uid: int, ppid: int = 1, **fields: str) -> str:
    values = {
        "Name": "prog",
        "State": "S (sleeping)",
        "Pid": str(pid),
        "PPid": str(ppid),
        "TracerPid": "0",
        "Uid": f"{uid}\t{uid}\t{uid}\t{uid}",
        "CapEff": CAP_ALL,
        "NSpid": str(pid),
        "Seccomp": "0",
        "Seccomp_filters": "0",
    }
    values.update(fields)
    return "".join(f"{name}:\t{value}\n" for name, value in values.items())


def fake_proc(
    root: Path,
    *,
    scope: int | None = 0,
    ours: Mapping[str, str] | None = None,
    target: Mapping[str, str] | None = None,
    target_exists: bool = True,
    uid: int = 1000,
    target_uid: int | None = None,
    pid_ns: str = PID_NS,
    mnt_ns: str = MNT_NS,
    core_pattern: str = "core",
    core_limit: str = "unlimited",
    coredump_filter: str = "00000033",
    environ: Mapping[str, str] | None = None,
) -> Path:
    """A /proc tree: us (``self``, pid 100) and a target process 200."""
    kernel = root / "sys" / "kernel"
    kernel.mkdir(parents=True)
    if scope is not None:
        (kernel / "yama").mkdir()
        (kernel / "yama" / "ptrace_scope").write_text(f"{scope}\n")
    (kernel / "core_pattern").write_text(core_pattern + "\n")
    own = root / "self"
    (own / "ns").mkdir(parents=True)
    (own / "status").write_text(_status(OUR_PID, uid, **(ours or {})))
    (own / "coredump_filter").write_text("00000033\n")
    os.symlink(PID_NS, own / "ns" / "pid")
    os.symlink(MNT_NS, own / "ns" / "mnt")
    if target_exists:
        directory = root / str(TARGET_PID)
        (directory / "ns").mkdir(parents=True)
        theirs = uid if target_uid is None else target_uid
        (directory / "status").write_text(_status(TARGET_PID, theirs, **(target or {})))
        (directory / "limits").write_text(
            LIMITS_HEADER
            + f"Max core file size        {core_limit:<21}unlimited            bytes     \n"
        )
        (directory / "coredump_filter").write_text(coredump_filter + "\n")
        env = {"PATH": "/usr/bin", **(environ or {})}
        (directory / "environ").write_bytes(
            b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items())
        )
        (directory / "comm").write_text("prog\n")
        os.symlink(pid_ns, directory / "ns" / "pid")
        os.symlink(mnt_ns, directory / "ns" / "mnt")
        os.symlink("/nonexistent/cwd", directory / "cwd")
    tracer = root / str(TRACER_PID)
    tracer.mkdir()
    (tracer / "comm").write_text("strace\n")
    return root


def doctor_json(proc_root: Path, *targets: str, cwd: Path | None = None) -> tuple[int, list[Any]]:
    proc = goscope("doctor", "--json", "--proc-root", str(proc_root), *targets)
    assert proc.stderr == "", describe(proc)
    return proc.returncode, json.loads(proc.stdout)


def finding(findings: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    chosen = [f for f in findings if f["id"] == ident]
    assert len(chosen) == 1, f"{ident}: {json.dumps(findings, indent=2)}"
    return chosen[0]


def expect(
    findings: list[dict[str, Any]], ident: str, status: str, message: str, fix: str | None = None
) -> None:
    got = finding(findings, ident)
    assert (got["status"], got["message"], got["fix"]) == (status, message, fix), json.dumps(
        got, indent=2
    )


# -- fake /proc trees: attaching --------------------------------------------------------------

SCOPE_1 = (
    "Yama ptrace_scope is 1 (restricted): only a descendant of the debugger (or a process that "
    "named it with prctl(PR_SET_PTRACER)) can be attached, so attaching to process 200 fails "
    "with 'ptrace: Operation not permitted'."
)
SCOPE_1_FIX = (
    "sudo sysctl -w kernel.yama.ptrace_scope=0 (until reboot), or attach as root (sudo gdb -p "
    "PID), or start the program under GDB (gdb --args PROGRAM ARGS)."
)
SCOPE_2 = (
    "Yama ptrace_scope is 2 (admin-only): only a process with CAP_SYS_PTRACE may use ptrace, "
    "and we do not have it, so attaching to process 200 or running a program under GDB fails "
    "with 'Operation not permitted'."
)
SCOPE_3 = (
    "Yama ptrace_scope is 3 (no attach): no process may use ptrace, not even root, so GDB can "
    "neither attach nor run a program, and the setting cannot be lowered until reboot."
)
SCOPE_3_FIX = (
    "set kernel.yama.ptrace_scope = 1 (or 0) in /etc/sysctl.d/10-ptrace.conf and reboot; until "
    "then debug core dumps (see the core dump checks below)."
)
CAP_FIX = (
    "run GDB as root; in a container add the capability: docker run --cap-add=SYS_PTRACE, or "
    "in Kubernetes securityContext.capabilities.add: [SYS_PTRACE]."
)


@pytest.mark.parametrize(
    ("scope", "cap", "status", "message", "fix"),
    [
        (
            0,
            CAP_NO_PTRACE,
            "ok",
            "Yama ptrace_scope is 0 (classic): any process of the same uid can be attached.",
            None,
        ),
        (1, CAP_NO_PTRACE, "error", SCOPE_1, SCOPE_1_FIX),
        (
            1,
            CAP_ALL,
            "ok",
            "Yama ptrace_scope is 1 (restricted), but we have CAP_SYS_PTRACE, which lifts the "
            "restriction.",
            None,
        ),
        (
            2,
            CAP_NO_PTRACE,
            "error",
            SCOPE_2,
            "run GDB as root (sudo gdb -p PID), or sudo sysctl -w kernel.yama.ptrace_scope=1.",
        ),
        (
            2,
            CAP_ALL,
            "ok",
            "Yama ptrace_scope is 2 (admin-only): only CAP_SYS_PTRACE may attach, and we have it.",
            None,
        ),
        (3, CAP_ALL, "error", SCOPE_3, SCOPE_3_FIX),
        (
            None,
            CAP_NO_PTRACE,
            "ok",
            "Yama is not active (no /proc/sys/kernel/yama/ptrace_scope): ptrace follows the "
            "classic rules (same uid, or CAP_SYS_PTRACE).",
            None,
        ),
    ],
    ids=["0", "1", "1-cap", "2", "2-cap", "3", "absent"],
)
def test_ptrace_scope(
    tmp_path: Path, scope: int | None, cap: str, status: str, message: str, fix: str | None
) -> None:
    root = fake_proc(tmp_path, scope=scope, ours={"CapEff": cap})
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(findings, "ptrace_scope", status, message, fix)
    assert code == (1 if status == "error" else 0)
    if scope in (1, 2) and cap == CAP_NO_PTRACE:
        expect(
            findings,
            "cap_sys_ptrace",
            "error",
            f"We do not have CAP_SYS_PTRACE (CapEff bit 19), which Yama ptrace_scope {scope} "
            "needs.",
            CAP_FIX,
        )


def test_ptrace_scope_1_descendant(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, scope=1, ours={"CapEff": CAP_NO_PTRACE}, target={"PPid": "150"})
    (root / "150").mkdir()
    (root / "150" / "status").write_text(_status(150, 1000, ppid=OUR_PID))
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "ptrace_scope",
        "ok",
        "Yama ptrace_scope is 1 (restricted): only descendants can be attached, and process 200 "
        "is one of ours.",
    )
    assert code == 0


def test_ptrace_scope_without_pid(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, scope=1, ours={"CapEff": CAP_NO_PTRACE})
    code, findings = doctor_json(root)
    got = finding(findings, "ptrace_scope")
    assert got["status"] == "warn"
    assert "so attaching to a running process fails" in got["message"]
    assert code == 0


@pytest.mark.parametrize("cap", [CAP_ALL, CAP_NO_PTRACE], ids=["with", "without"])
def test_capability(tmp_path: Path, cap: str) -> None:
    root = fake_proc(tmp_path, ours={"CapEff": cap})
    code, findings = doctor_json(root, str(TARGET_PID))
    if cap == CAP_ALL:
        expect(
            findings,
            "cap_sys_ptrace",
            "ok",
            "We have CAP_SYS_PTRACE (CapEff bit 19): uid and Yama restrictions do not apply.",
        )
    else:
        expect(
            findings,
            "cap_sys_ptrace",
            "ok",
            "We do not have CAP_SYS_PTRACE (CapEff bit 19); it is not needed for a process of "
            "our own uid.",
        )
    assert code == 0


def _unused_uid() -> int:
    uid = 4242
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


@pytest.mark.parametrize("cap", [CAP_ALL, CAP_NO_PTRACE], ids=["with-cap", "without-cap"])
def test_uid_mismatch(tmp_path: Path, cap: str) -> None:
    theirs = _unused_uid()
    root = fake_proc(tmp_path, ours={"CapEff": cap}, target_uid=theirs)
    code, findings = doctor_json(root, str(TARGET_PID))
    uids = f"{theirs}/{theirs}/{theirs}"
    if cap == CAP_ALL:
        expect(
            findings,
            "uid",
            "ok",
            f"Process 200 runs as uid {uids} (real/effective/saved), we as 1000; CAP_SYS_PTRACE "
            "allows attaching anyway.",
        )
        assert code == 0
        return
    expect(
        findings,
        "uid",
        "error",
        f"Process 200 runs as uid {uids} (real/effective/saved), we as 1000: without "
        "CAP_SYS_PTRACE the kernel allows attaching only when all three match ours.",
        f"attach as its user (sudo -u '#{theirs}' gdb -p 200) or as root (sudo gdb -p 200).",
    )
    expect(
        findings,
        "cap_sys_ptrace",
        "error",
        f"We do not have CAP_SYS_PTRACE (CapEff bit 19), which attaching to process 200 (uids "
        f"{uids}, ours 1000) needs.",
        CAP_FIX,
    )
    assert code == 1


def test_same_uid(tmp_path: Path) -> None:
    code, findings = doctor_json(fake_proc(tmp_path), str(TARGET_PID))
    expect(findings, "uid", "ok", "Process 200 runs as our uid 1000.")
    expect(findings, "tracer", "ok", "Process 200 is not traced by anyone.")
    expect(findings, "process", "ok", "Process 200 (prog) is alive (S (sleeping)).")
    expect(findings, "pid_namespace", "ok", "Process 200 is in our PID namespace.")
    expect(findings, "mount_namespace", "ok", "Process 200 sees our file system.")
    expect(findings, "seccomp", "ok", "No seccomp filter on us: ptrace is not filtered.")
    assert code == 0
    assert all(f["status"] == "ok" for f in findings if f["topic"] == "attach"), findings


def test_tracer(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, target={"TracerPid": str(TRACER_PID)})
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "tracer",
        "error",
        "Process 200 is already traced by process 300 (strace): a process has at most one "
        "tracer, so attaching fails with 'Operation not permitted'.",
        "detach that debugger or tracer (or end it: kill 300), then attach again.",
    )
    assert code == 1


def test_traced_by_us(tmp_path: Path) -> None:
    root = fake_proc(
        tmp_path,
        scope=2,
        ours={"CapEff": CAP_NO_PTRACE},
        target={"TracerPid": str(OUR_PID)},
    )
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(findings, "tracer", "ok", "Process 200 is traced by us (pid 100).")
    got = finding(findings, "ptrace_scope")
    assert got["status"] == "warn" and got["message"].endswith("(We are attached already.)")
    assert code == 0


def test_pid_namespace(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, pid_ns=OTHER_PID_NS, target={"NSpid": "200\t7"})
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "pid_namespace",
        "warn",
        f"Process 200 is in another PID namespace ({OTHER_PID_NS}, ours {PID_NS}): it runs in "
        "a container; inside it, it is pid 7. Attaching from here works with enough privilege, "
        "but pids and threads it reports about itself are the container's.",
        "or debug from inside the container: nsenter -t 200 -p -m gdb -p 7 (needs the tools "
        "in the container), or docker exec / kubectl debug --target.",
    )
    assert code == 0


def test_mount_namespace(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, mnt_ns=OTHER_MNT_NS)
    _, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "mount_namespace",
        "warn",
        f"Process 200 is in another mount namespace ({OTHER_MNT_NS}, ours {MNT_NS}): paths it "
        "uses (its executable, shared libraries, source files) are not ours, so GDB may load "
        "the wrong files or none.",
        "in GDB: set sysroot /proc/200/root (and file /proc/200/exe) before attaching.",
    )


@pytest.mark.parametrize("mode", ["0", "1", "2"])
def test_seccomp(tmp_path: Path, mode: str) -> None:
    root = fake_proc(tmp_path, ours={"Seccomp": mode, "Seccomp_filters": "1"})
    code, findings = doctor_json(root, str(TARGET_PID))
    if mode == "0":
        expect(findings, "seccomp", "ok", "No seccomp filter on us: ptrace is not filtered.")
    elif mode == "1":
        expect(
            findings,
            "seccomp",
            "error",
            "We run in seccomp strict mode (Seccomp: 1): only read, write, exit and sigreturn "
            "are allowed, so ptrace is impossible.",
            "run the debugger outside the sandbox.",
        )
    else:
        expect(
            findings,
            "seccomp",
            "warn",
            "A seccomp filter is active on us (Seccomp: 2, 1 filter(s)): it may forbid ptrace "
            "or process_vm_readv (older container runtimes' default profiles do), and then "
            "attaching fails with 'Operation not permitted'.",
            "if attaching fails, run the container with --security-opt seccomp=unconfined (or "
            "a profile that allows ptrace and process_vm_readv).",
        )
    assert code == (1 if mode == "1" else 0)


def test_zombie(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, target={"State": "Z (zombie)"})
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "process",
        "error",
        "Process 200 (prog) has exited (Z (zombie)): nothing is left to attach to, its memory "
        "is gone.",
        "debug its core dump instead (see the core dump checks below).",
    )
    assert code == 1
    assert not [f for f in findings if f["topic"] == "core"], "core checks of a dead process"


def test_missing_process(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, target_exists=False)
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "process",
        "error",
        "No process 200: it has exited or never existed (or is not visible in this PID namespace).",
        "check the pid (pgrep -a NAME); for a program that has died, debug its core dump.",
    )
    assert code == 1
    text = goscope("doctor", "--proc-root", str(root), str(TARGET_PID))
    assert text.returncode == 1, describe(text)
    assert re.search(r"^\[error\] No process 200: ", text.stdout, re.M), describe(text)


# -- fake /proc trees: core dumps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "status", "message", "fix"),
    [
        (
            "|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h",
            "ok",
            "core_pattern pipes core dumps to systemd-coredump "
            "(/usr/lib/systemd/systemd-coredump): they are stored in its journal, not as files "
            "beside the program.",
            "coredumpctl list (find it), coredumpctl dump PID -o core (get the file), or "
            "coredumpctl gdb PID (open it in GDB).",
        ),
        (
            "|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E",
            "warn",
            "core_pattern pipes core dumps to apport (/usr/share/apport/apport): it keeps cores "
            "of programs outside packages in /var/lib/apport/coredump/ and crash reports in "
            "/var/crash/, or drops them.",
            "look in /var/lib/apport/coredump/, or write plain files: sudo sysctl -w "
            "kernel.core_pattern=/tmp/core.%e.%p",
        ),
        (
            "core",
            "ok",
            "core_pattern writes core dumps as 'core' in the crashing process's current "
            "directory (for process 200: /nonexistent/cwd), if it is writable.",
            None,
        ),
        (
            "/nonexistent-cores/core.%e.%p",
            "warn",
            "core_pattern writes core dumps to /nonexistent-cores/core.%e.%p, but "
            "/nonexistent-cores does not exist (here), so none is written.",
            "mkdir -p /nonexistent-cores (writable by the program's user).",
        ),
    ],
    ids=["systemd-coredump", "apport", "plain", "missing-dir"],
)
def test_core_pattern(
    tmp_path: Path, pattern: str, status: str, message: str, fix: str | None
) -> None:
    root = fake_proc(tmp_path, core_pattern=pattern)
    code, findings = doctor_json(root, str(TARGET_PID))
    expect(findings, "core_pattern", status, message, fix)
    assert code == 0


@pytest.mark.parametrize("limit", ["0", "unlimited"])
def test_core_limit(tmp_path: Path, limit: str) -> None:
    root = fake_proc(tmp_path, core_limit=limit)
    _, findings = doctor_json(root, str(TARGET_PID))
    who = "Process 200's core file size limit (RLIMIT_CORE)"
    if limit == "0":
        expect(
            findings,
            "core_limit",
            "warn",
            f"{who} is 0: a crash leaves no core dump.",
            "prlimit --pid 200 --core=unlimited (now, for this process), and ulimit -c "
            "unlimited (or systemd's LimitCORE=infinity) where it is started.",
        )
    else:
        expect(findings, "core_limit", "ok", f"{who} is unlimited: core dumps can be written.")


def test_coredump_filter(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, coredump_filter="00000032")
    _, findings = doctor_json(root, str(TARGET_PID))
    expect(
        findings,
        "coredump_filter",
        "warn",
        "Process 200's coredump_filter is 0x32, without bit 0 (anonymous private memory): a "
        "core dump would miss the Go heap and every goroutine stack.",
        "echo 0x33 > /proc/200/coredump_filter (children inherit it).",
    )


GOTRACEBACK_UNSET = (
    "GOTRACEBACK is not set in process 200's environment: on a panic or fatal error the Go "
    "runtime prints a traceback and exits with status 2, without a core dump (unless the "
    'program calls debug.SetTraceback("crash") itself).'
)


@pytest.mark.parametrize("value", [None, "all", "crash"], ids=["unset", "all", "crash"])
def test_gotraceback(tmp_path: Path, value: str | None) -> None:
    root = fake_proc(tmp_path, environ={"GOTRACEBACK": value} if value else {})
    code, findings = doctor_json(root, str(TARGET_PID))
    if value == "crash":
        expect(
            findings,
            "gotraceback",
            "ok",
            "GOTRACEBACK=crash in process 200's environment: a panic or fatal error prints "
            "every goroutine and aborts with SIGABRT, which dumps core.",
        )
    else:
        message = GOTRACEBACK_UNSET
        if value is not None:
            message = message.replace("GOTRACEBACK is not set", f"GOTRACEBACK={value}")
        expect(
            findings,
            "gotraceback",
            "warn",
            message,
            "start the program with GOTRACEBACK=crash in its environment.",
        )
    assert code == 0


def test_text_is_a_checklist(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, scope=3)
    proc = goscope("doctor", "--proc-root", str(root), str(TARGET_PID))
    assert proc.returncode == 1, describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "Attaching to process 200"
    assert f"[error] {SCOPE_3[:80]}" in proc.stdout.replace("\n        ", " "), describe(proc)
    assert f"        fix: {SCOPE_3_FIX}" in lines, describe(proc)
    assert "Core dumps of process 200" in lines
    assert re.search(r"^\d+ error\(s\), \d+ warning\(s\), \d+ ok$", lines[-1]), describe(proc)


def test_usage_errors(tmp_path: Path) -> None:
    proc = goscope("doctor", str(tmp_path / "missing"))
    assert proc.returncode == 2, describe(proc)
    assert "no such file, and not a process id" in proc.stderr
    proc = goscope("doctor", "1", "2")
    assert proc.returncode == 2, describe(proc)


# -- for real: the live fixture ------------------------------------------------------------------


def _start_live(fx: Fixture, env: Mapping[str, str], core_limit: int) -> tuple[Any, int, str]:
    """Starts the live fixture; returns the process, the pid its FIXTURE line names and its
    output so far."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (core_limit, resource.RLIM_INFINITY))

    proc = start_program(fx, env, preexec_fn=limit)
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    while b"READY pid=" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout.fileno()], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"{fx.id} closed its output early:\n{seen.decode()}"
            seen += chunk
        else:
            assert proc.poll() is None, f"{fx.id} exited early"
    text = seen.decode(errors="replace")
    match = re.search(r"^FIXTURE (\{.*\})$", text, re.M)
    assert match, f"{fx.id}: no FIXTURE line:\n{text}"
    return proc, int(json.loads(match.group(1))["pid"]), text


#: Fixture families of this module: argument name -> programs whose builds it takes.
_FAMILIES = {
    "live_fixture": ("live",),
    "doctor_binary": ("live", "cgo"),
    "crash_fixture": ("crash",),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for name, programs in _FAMILIES.items():
        if name in metafunc.fixturenames:
            chosen = [f for f in all_fixtures(metafunc.config) if f.program in programs]
            assert chosen, f"no fixtures of {programs}"
            metafunc.parametrize(name, chosen, ids=[f.id for f in chosen], indirect=True)


@pytest.fixture
def live_fixture(request: pytest.FixtureRequest) -> Fixture:
    """A build of the live program (it runs until killed)."""
    return complete(request.param)


@pytest.fixture
def doctor_binary(request: pytest.FixtureRequest) -> Fixture:
    """A build of the live or cgo program."""
    return complete(request.param)


@pytest.fixture
def crash_fixture(request: pytest.FixtureRequest) -> Fixture:
    """A build of the crash program, with its core."""
    return complete(request.param)


def _expect_binary(fx: Fixture, findings: list[dict[str, Any]], cwd: Path | None = None) -> None:
    """The binary findings of fixture `fx`, against go version -m and go tool addr2line."""
    oracle = version_m(fx.toolchain, fx.bin)
    settings = dict(oracle.settings)
    label = f"{fx.id}: {json.dumps(findings, indent=2)}"
    optimization = finding(findings, "optimization")
    if settings.get("-gcflags") == "all=-N -l":
        assert optimization["status"] == "ok", label
        assert "no optimisation and no inlining anywhere" in optimization["message"], label
    else:
        assert "-gcflags" not in settings, label
        assert optimization["status"] == "warn", label
        assert optimization["message"].startswith(
            "Optimised and inlined build (no -gcflags=all='-N -l'): a breakpoint on a line of "
            "an inlined call"
        ), label
        assert optimization["fix"] == "for debugging, rebuild with: go build -gcflags=all='-N -l'"
    pie = finding(findings, "pie")
    if settings.get("-buildmode") == "pie":
        assert pie["message"].startswith("Position-independent executable (PIE)"), label
    else:
        assert pie["message"] == "Not PIE: addresses in the process are those of the file.", label
    dwarf = finding(findings, "dwarf")
    # go version -m leaves -ldflags out of -trimpath builds: the harness's flags say it.
    ldflags = [f for f in fx.meta_json()["build"]["flags"] if f.startswith("-ldflags=")]
    if any("-w" in f.split("=", 1)[1].split() for f in ldflags):
        assert dwarf["status"] == "warn", label
        assert dwarf["message"].startswith("No DWARF"), label
        assert finding(findings, "symbols")["status"] == "warn", label
    else:
        assert dwarf["status"] == "ok", label
        assert dwarf["message"].startswith("DWARF is present"), label
        # readelf's section flags say whether the DWARF is compressed (C).
        sections = subprocess.run(
            ["readelf", "-S", "--wide", str(fx.bin)], capture_output=True, text=True, check=True
        ).stdout
        info = re.search(r"\] \.debug_info\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S*)", sections)
        assert info, sections
        compressed = "C" in info.group(1)
        assert ("zlib-compressed" in dwarf["message"]) == compressed, label
    if settings.get("-trimpath") == "true":
        trimpath = finding(findings, "trimpath")
        assert trimpath["status"] == "warn", label
        match = re.fullmatch(r"set substitute-path (\S+) (\S+)", trimpath["fix"] or "")
        assert match, label
        # The oracle: the file go tool addr2line names for main.main's entry.
        from goscope import Binary

        entry = Binary(str(fx.bin)).function("main.main")
        assert entry is not None
        [(function, file, _)] = addr2line(fx.toolchain, fx.bin, [entry[0]])
        assert function == "main.main", label
        assert file.startswith(match.group(1) + "/"), f"{file} not under FROM\n{label}"
        assert match.group(1) == os.path.dirname(file), label
        source = PROGRAMS / fx.program
        if cwd is not None and cwd.resolve() == source.resolve():
            assert match.group(2) == str(source), label
        else:
            assert match.group(2) == "/path/to/source", label
    else:
        assert not [f for f in findings if f["id"] == "trimpath"], label


def test_live_process(live_fixture: Fixture) -> None:
    """`goscope doctor PID` on the running live fixture, started without GOTRACEBACK and with
    RLIMIT_CORE 0, then with GOTRACEBACK=crash and RLIMIT_CORE unlimited."""
    fx = live_fixture
    env = {k: v for k, v in os.environ.items() if k != "GOTRACEBACK"}
    for gotraceback, limit in ((None, 0), ("crash", resource.RLIM_INFINITY)):
        run_env = dict(env, GOTRACEBACK=gotraceback) if gotraceback else env
        proc, pid, _ = _start_live(fx, run_env, limit)
        try:
            code, findings = doctor_json(Path("/proc"), str(pid))
        finally:
            proc.kill()
            proc.wait()
        label = f"{fx.id}: {json.dumps(findings, indent=2)}"
        assert pid == proc.pid, label
        expect(findings, "tracer", "ok", f"Process {pid} is not traced by anyone.")
        expect(findings, "uid", "ok", f"Process {pid} runs as our uid {os.getuid()}.")
        expect(findings, "pid_namespace", "ok", f"Process {pid} is in our PID namespace.")
        assert finding(findings, "process")["message"].startswith(f"Process {pid} (bin) is alive")
        who = f"Process {pid}'s core file size limit (RLIMIT_CORE)"
        if limit == 0:
            expect(
                findings,
                "core_limit",
                "warn",
                f"{who} is 0: a crash leaves no core dump.",
                f"prlimit --pid {pid} --core=unlimited (now, for this process), and ulimit -c "
                "unlimited (or systemd's LimitCORE=infinity) where it is started.",
            )
            expect(
                findings,
                "gotraceback",
                "warn",
                GOTRACEBACK_UNSET.replace("process 200", f"process {pid}"),
                "start the program with GOTRACEBACK=crash in its environment.",
            )
        else:
            expect(findings, "core_limit", "ok", f"{who} is unlimited: core dumps can be written.")
            assert finding(findings, "gotraceback")["status"] == "ok", label
        binary = finding(findings, "binary")
        assert binary["message"] == f"{fx.bin.resolve()} is a Go executable.", label
        _expect_binary(fx, findings)
        assert code == (1 if any(f["status"] == "error" for f in findings) else 0)


def test_gdb_attached(live_fixture: Fixture) -> None:
    """`go doctor` in GDB attached to the live fixture: GDB itself is the tracer, and the
    binary findings are those of the loaded executable."""
    fx = live_fixture
    proc, pid, _ = _start_live(fx, dict(os.environ), 0)
    try:
        run = run_gdb(
            [echo("@@json@@"), "go doctor --json", echo("@@text@@"), "go doctor", echo("@@end@@")],
            args=[str(fx.bin), "-p", str(pid)],
            timeout=120,
        )
    finally:
        proc.kill()
        proc.wait()
    assert_clean(run)
    body = run.between("@@json@@", "@@text@@")
    assert body.strip(), run.describe()
    findings = json.loads(body)
    tracer = finding(findings, "tracer")
    assert tracer["status"] == "ok", run.describe()
    assert re.fullmatch(rf"Process {pid} is traced by us \(pid \d+\)\.", tracer["message"])
    assert not [f for f in findings if f["status"] == "error"], run.describe()
    _expect_binary(fx, findings)
    if fx.variant == "pie":
        assert re.search(r"load bias \(here 0x[0-9a-f]+\)", finding(findings, "pie")["message"])
    text = run.between("@@text@@", "@@end@@")
    assert text.startswith(f"Attaching to process {pid}\n"), run.describe()


def test_binaries(doctor_binary: Fixture, tmp_path: Path) -> None:
    """`goscope doctor BINARY` on the live and cgo fixture binaries of every toolchain and
    variant; for a -trimpath build, from the program's source directory (whose go.mod declares
    the module: TO is that directory) and from elsewhere (TO is a placeholder)."""
    fx = doctor_binary
    source = PROGRAMS / fx.program
    places = [tmp_path, source] if fx.variant == "stripped" else [tmp_path]
    for cwd in places:
        proc = subprocess.run(
            [
                "python3",
                "-m",
                "goscope",
                "doctor",
                "--json",
                str(fx.bin.resolve()),
            ],
            cwd=cwd,
            env=_cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.stderr == "", proc.stderr
        findings = json.loads(proc.stdout)
        _expect_binary(fx, findings, cwd)
        assert proc.returncode == (1 if any(f["status"] == "error" for f in findings) else 0)


def _cli_env() -> dict[str, str]:
    from tests.harness.paths import SITE_DIR

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), env.get("PYTHONPATH")]))
    return env


def test_gdb_core(crash_fixture: Fixture) -> None:
    """`go doctor` in GDB on the crash fixture's core: the core reads with its executable."""
    fx = crash_fixture
    assert fx.core is not None
    run = run_gdb(
        [echo("@@json@@"), "go doctor --json", echo("@@end@@")], args=[str(fx.bin), str(fx.core)]
    )
    assert_clean(run)
    findings = json.loads(run.between("@@json@@", "@@end@@"))
    core = finding(findings, "core_file")
    assert core["status"] == "ok", run.describe()
    assert core["message"] == f"{fx.core} reads with {fx.bin} ({fx.toolchain.version}).", (
        run.describe()
    )
    assert not [f for f in findings if f["topic"] == "attach"], run.describe()
    _expect_binary(fx, findings)


def test_gdb_bad_input() -> None:
    run = run_gdb(["go doctor abc", "go doctor 1 2", "go doctor 999999999"])
    assert_clean(run)
    assert "go doctor: argument PID: invalid int value: 'abc'" in run.output
    assert "go doctor: unrecognized arguments: 2" in run.output
    assert "[error] No process 999999999" in run.stdout


def test_cli_core(crash_fixture: Fixture) -> None:
    """`goscope doctor CORE --exe BIN`, and without --exe: the executable is asked for."""
    fx = crash_fixture
    assert fx.core is not None
    proc = goscope("doctor", "--json", str(fx.core), "--exe", str(fx.bin))
    assert proc.returncode == 0, describe(proc)
    findings = json.loads(proc.stdout)
    wanted = f"{fx.core} reads with {fx.bin} ({fx.toolchain.version})."
    expect(findings, "core_file", "ok", wanted)
    _expect_binary(fx, findings)
    proc = goscope("doctor", "--json", str(fx.core))
    assert proc.returncode == 0, describe(proc)
    expect(
        json.loads(proc.stdout),
        "core_file",
        "warn",
        f"{fx.core} is a core file; its executable is needed to read it.",
        f"give the executable: goscope doctor {fx.core} --exe BINARY (in GDB: gdb BINARY "
        f"{fx.core}).",
    )
