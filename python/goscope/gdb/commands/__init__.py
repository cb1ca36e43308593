"""The ``go`` command and its subcommands, one module per command family."""

from __future__ import annotations


def register_all() -> None:
    from goscope.gdb.commands import (
        base,
        breakpoints,
        doctor,
        goroutines,
        heap,
        info,
        panics,
        triage,
    )

    base.GoPrefixCommand()
    info.InfoCommand()
    goroutines.GoroutinesCommand()
    goroutines.BtCommand()
    goroutines.ThreadsCommand()
    goroutines.GoroutineStackCommand()
    goroutines.GoroutineCommand()
    panics.CrashCommand()
    panics.PanicCommand()
    panics.DeferCommand()
    triage.TriageCommand()
    breakpoints.BreakCommand()
    doctor.DoctorCommand()
    heap.HeapCommand()
