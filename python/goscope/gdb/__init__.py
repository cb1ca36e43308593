"""goscope inside GDB: the ``go`` prefix command, its subcommands and ``set goscope ...``.

:func:`register` is what ``gdb-scripts/goscope.py`` calls; calling it again (sourcing the
script twice) changes nothing.
"""

from __future__ import annotations

_registered = False


def register() -> None:
    """Registers goscope's parameters, commands and event handlers with GDB, once."""
    global _registered
    if _registered:
        return
    from goscope.gdb import frames, params, printers, process, stops, symbols, target, unwind
    from goscope.gdb.commands import breakpoints, register_all

    params.register()
    register_all()
    target.connect_events()
    process.connect_events()
    # After process's: a stop drops the cached process before it is described.
    stops.connect_events()
    breakpoints.connect_events()
    printers.register()
    unwind.register()
    frames.register()
    symbols.register()
    _registered = True
