"""``go goroutine ID``: a goroutine's stack in GDB's own ``bt``, ``frame N`` and ``up``."""

from __future__ import annotations

import argparse
from typing import Any

import gdb

from goscope.gdb import output, process, unwind
from goscope.gdb.commands.base import GoCommand


def _gdb_thread(lwp: int) -> gdb.InferiorThread | None:
    for thread in gdb.selected_inferior().threads():
        if thread.is_valid() and thread.ptid[1] == lwp:
            return thread
    return None


def _saved_registers(g: dict[str, Any]) -> unwind.Switched:
    """Where a goroutine that runs on no thread stopped: the pc and sp of its innermost frame
    (the runtime's saved context, or its system call's) and the frame pointer there."""
    frames = [f for f in g.get("frames") or [] if isinstance(f.get("sp"), int)]
    if not frames:
        reason = g.get("error") or "no frames could be read"
        raise gdb.GdbError(f"go goroutine: goroutine {g['id']} has no stack to show ({reason})")
    top = frames[0]
    pc, sp, fp = int(top["pc"]), int(top["sp"]), int(top.get("fp") or 0)
    bp = fp - 16 if fp > sp + 8 else 0
    gp = g.get("gp")
    saved = unwind.saved_context()
    if isinstance(gp, int) and saved is not None:
        sched_sp, sched_bp = saved
        try:
            if unwind.read_u64(gp + sched_sp) == sp:
                bp = unwind.read_u64(gp + sched_bp)
        except (gdb.error, gdb.MemoryError):
            pass  # the frame pointer is a nicety; fp - 16 stands in
    return unwind.Switched(
        goid=int(g["id"]), g=gp if isinstance(gp, int) else 0, pc=pc, sp=sp, bp=bp
    )


def _describe(g: dict[str, Any]) -> str:
    state = g.get("wait_reason") or g.get("status") or "?"
    return f"goroutine {g['id']} [{state}]"


class GoroutineCommand(GoCommand):
    name = "goroutine"
    summary = "Make a goroutine's stack the one bt, frame N, up and info locals show."
    description = (
        "Show goroutine ID's stack in GDB's own commands: afterwards `bt`, `frame N`,\n"
        "`up`/`down`, `info frame` and (where DWARF allows) `info locals` work on it. A\n"
        "goroutine running on a thread selects that thread. Any other goroutine is shown in\n"
        "place of the selected thread's stack, from its saved registers: the thread's own\n"
        "newest frame (frame 0) is hidden from `bt` and the goroutine's innermost frame is\n"
        "frame 1. No register is written, so this works on core files, and a live process is\n"
        "left as it was. Without ID: back to the selected thread's own stack. Running the\n"
        "program on (continue, step) also goes back."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("goroutine", nargs="?", type=int, metavar="ID", help="goroutine id")

    def run(self, args: argparse.Namespace) -> None:
        if args.goroutine is None:
            was = unwind.switched()
            unwind.switch_to(None)
            if was is not None:
                output.write(f"[Back to the stack of thread {gdb.selected_thread().num}]\n")
            gdb.execute("frame 0")
            return
        proc = process.current()
        g = proc.goroutine(args.goroutine)
        if g is None:
            raise gdb.GdbError(f"go goroutine: no goroutine {args.goroutine}")
        for thread_info in proc.threads():
            if thread_info.get("g") != args.goroutine:
                continue
            thread = _gdb_thread(int(thread_info.get("lwp") or 0))
            if thread is None:
                continue
            thread.switch()
            unwind.switch_to(None)
            output.write(
                f"[Switching to {_describe(g)}, running on thread {thread.num} "
                f"(LWP {thread.ptid[1]})]\n"
            )
            gdb.execute("frame 0")
            return
        chosen = _saved_registers(g)
        unwind.switch_to(chosen)
        try:
            gdb.execute("select-frame 1", to_string=True)
        except gdb.error as error:
            unwind.switch_to(None)
            raise gdb.GdbError(
                f"go goroutine: GDB cannot unwind into goroutine {args.goroutine}: {error}"
            ) from None
        top = next((f for f in g.get("frames") or []), None)
        where = ""
        if top is not None:
            where = f": {top.get('function')} at {top.get('file')}:{top.get('line')}"
        thread = gdb.selected_thread()
        output.write(
            f"[Switching to {_describe(g)}, shown in place of thread {thread.num}'s stack"
            f"{where}]\n"
            f"[`bt` shows it from frame 1; `go goroutine` goes back]\n"
        )
