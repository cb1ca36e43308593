"""The architecture facts goscope's core gives the GDB side (``goscope._native.machine``)
against the system's own definitions: the signal frame offsets against the kernel's headers
(``struct ucontext`` with its ``struct sigcontext``, as the kernel pushes them for a signal
handler), the register names against GDB's register set for that architecture, the trap
instruction against the assembler's encoding of ``int3``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.gdbrun import GDB
from tests.harness.paths import SITE_DIR as _SITE

_OFFSETS_C = r"""
#include <stddef.h>
#include <stdio.h>
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>
int main(void) {
    printf("%zu %zu %zu\n", offsetof(struct ucontext, uc_mcontext.rip),
           offsetof(struct ucontext, uc_mcontext.rsp), sizeof(struct ucontext));
    return 0;
}
"""


def _machine(gdb_arch: str) -> dict[str, object]:
    code = (
        "import json, sys; from goscope import _native; m = _native.machine(sys.argv[1]); "
        "print(json.dumps(None if m is None else {k: getattr(m, k) if k != 'trap' else "
        "list(m.trap) for k in dir(m) if not k.startswith('_')}))"
    )
    out = subprocess.run(
        ["python3", "-c", code, gdb_arch],
        env={"PYTHONPATH": str(_SITE), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = json.loads(out)
    assert found is not None, f"no machine for {gdb_arch}"
    assert isinstance(found, dict)
    return found


def test_amd64_signal_frame_is_the_kernels(tmp_path: Path) -> None:
    source = tmp_path / "offsets.c"
    source.write_text(_OFFSETS_C)
    exe = tmp_path / "offsets"
    subprocess.run(["gcc", "-o", str(exe), str(source)], check=True)
    pc, sp, size = (
        int(v)
        for v in subprocess.run(
            [str(exe)], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    m = _machine("i386:x86-64")
    assert (m["signal_pc"], m["signal_sp"], m["ucontext_size"]) == (pc, sp, size), m


def test_register_names_are_gdbs() -> None:
    m = _machine("i386:x86-64")
    out = subprocess.run(
        [
            GDB,
            "--nx",
            "--batch",
            "-ex",
            "set architecture i386:x86-64",
            "-ex",
            "maint print registers",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {line.split()[0] for line in out.splitlines()[1:] if line.split()}
    wanted = [m["pc"], m["sp"], m["fp"], m["g"], *m["thread_registers"]]
    assert all(name in names for name in wanted), (wanted, sorted(names))
    assert m["lr"] is None and m["return_address_on_stack"] is True, m


def test_trap_is_int3(tmp_path: Path) -> None:
    source = tmp_path / "trap.s"
    source.write_text("int3\n")
    obj = tmp_path / "trap.o"
    subprocess.run(["as", "-o", str(obj), str(source)], check=True)
    text = subprocess.run(
        ["objcopy", "-O", "binary", "--only-section=.text", str(obj), "/dev/stdout"],
        capture_output=True,
        check=True,
    ).stdout
    m = _machine("i386:x86-64")
    assert bytes(m["trap"]) == text and m["pc_after_trap"] is True, (m, text)


def test_unknown_architecture() -> None:
    code = "from goscope import _native; print(_native.machine('mips:isa64'))"
    out = subprocess.run(
        ["python3", "-c", code],
        env={"PYTHONPATH": str(_SITE)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "None"
