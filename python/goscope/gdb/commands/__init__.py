"""The ``go`` command and its subcommands: the commands both front ends have, adapted by
:mod:`goscope.gdb.commands.shared`, and the ones only GDB has, one module each."""

from __future__ import annotations


def register_all() -> None:
    from goscope.commands import goroutines as shared_goroutines
    from goscope.commands import registry
    from goscope.gdb.commands import base, breakpoints, doctor, goroutines
    from goscope.gdb.commands.shared import SharedCommand

    base.GoPrefixCommand()
    for command in registry():
        SharedCommand(command)
    # `goroutine_stack` is `go bt` under the name other Go GDB tooling uses.
    SharedCommand(shared_goroutines.bt, name="goroutine_stack", prefix="")
    goroutines.GoroutineCommand()
    breakpoints.BreakCommand()
    doctor.DoctorCommand()
