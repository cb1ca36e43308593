"""``go doctor``: why attaching, core dumps or debugging the loaded Go program may fail."""

from __future__ import annotations

import argparse
import json

import gdb

from goscope import GoscopeError
from goscope.binary_info import BinaryInfo
from goscope.doctor import diagnose
from goscope.gdb import output
from goscope.gdb import target as gdb_target
from goscope.gdb.commands.base import GoCommand, gdb_style
from goscope.render.doctor import doctor_headings, render_doctor


def _configuration() -> str | None:
    try:
        return gdb.execute("show configuration", to_string=True)
    except gdb.error:
        return None


def _native(inferior: gdb.Inferior) -> bool:
    """Whether the inferior runs on this machine (its pid names a process in our /proc)."""
    connection = getattr(inferior, "connection", None)
    kind = getattr(connection, "type", None) if connection is not None else None
    return kind in (None, "native")


class DoctorCommand(GoCommand):
    name = "doctor"
    summary = "Say why attaching, core dumps or debugging the Go program may fail, and the fixes."
    description = (
        "Check what stands in the way of debugging, one line per check (ok, warn or error)\n"
        "with the fix:\n"
        "  attaching to PID (or the running inferior): Yama ptrace_scope, CAP_SYS_PTRACE,\n"
        "    another tracer, uids, PID and mount namespaces, seccomp, the process gone;\n"
        "  its core dumps: RLIMIT_CORE, core_pattern, coredump_filter, GOTRACEBACK;\n"
        "  the executable: DWARF absent or compressed, optimisation and inlining,\n"
        "    -trimpath (with the `set substitute-path` line to use), PIE.\n"
        "Without PID: the selected inferior's process, or the loaded core file and\n"
        "executable, or (nothing running) this machine and the loaded executable."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pid", nargs="?", type=int, metavar="PID", help="a process id")
        parser.add_argument("--json", action="store_true", help="print the findings as JSON")

    def run(self, args: argparse.Namespace) -> None:
        pid: int | None = args.pid
        binary: str | None = None
        core: str | None = None
        bias: int | None = None
        if pid is None:
            current = gdb_target.current()
            binary = current.executable
            if current.kind == gdb_target.LIVE and _native(gdb.selected_inferior()):
                pid = current.pid
            elif current.kind == gdb_target.CORE:
                core = current.core_file
            if binary is not None and current.has_memory:
                try:
                    entry = BinaryInfo.of(gdb_target.binary(binary)).entry
                except GoscopeError:  # the binary findings say what is wrong with it
                    entry = None
                bias = gdb_target.load_bias(current, entry)
        findings = diagnose(
            pid=pid,
            binary=binary,
            core=core,
            load_bias=bias,
            configuration=_configuration(),
        )
        if args.json:
            output.write(json.dumps([f.to_json() for f in findings], indent=2) + "\n")
        else:
            output.write(render_doctor(findings, gdb_style(), doctor_headings(pid, core)) + "\n")
