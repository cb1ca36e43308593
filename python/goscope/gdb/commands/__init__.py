"""The ``go`` command and its subcommands, one module per command family."""

from __future__ import annotations


def register_all() -> None:
    from goscope.gdb.commands import base, info

    base.GoPrefixCommand()
    info.InfoCommand()
