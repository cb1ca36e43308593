"""The selected inferior's architecture as goscope's core describes it: the registers the
unwinder and the decoder read and write, the signal frame's layout, the trap instruction.
Nothing here names a register itself; a new architecture is added in the core alone."""

from __future__ import annotations

import gdb

from goscope import _native

_cache: dict[str, _native.Machine | None] = {}


def of(arch: gdb.Architecture) -> _native.Machine | None:
    """What goscope knows of `arch`, or None when it does not decode it."""
    name = arch.name()
    if name not in _cache:
        _cache[name] = _native.machine(name)
    return _cache[name]


def current() -> _native.Machine:
    """The selected inferior's architecture; a GdbError naming it when goscope does not
    decode it."""
    arch = gdb.selected_inferior().architecture()
    found = of(arch)
    if found is None:
        raise gdb.GdbError(f"goscope does not support the architecture {arch.name()}")
    return found
