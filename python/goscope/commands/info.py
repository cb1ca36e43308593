"""``info``: a Go binary's build facts and what they mean for debugging it. It reads the
executable (with the core or process, when one is loaded, for the load bias), not the
runtime."""

from __future__ import annotations

import argparse

from goscope.commands import Session, command


@command("info", reads="binary")
def info(session: Session, args: argparse.Namespace) -> None:
    """Show the Go version, build settings, PIE, DWARF and symbols of a Go binary.

    Show a Go binary's Go version, main module and package, build settings, architecture, PIE
    (with the load bias when a process or core is loaded), DWARF and symbol table, then explain
    in plain words what they mean for debugging it. Works on stripped binaries: everything comes
    from .go.buildinfo and .gopclntab."""
    from goscope.implications import notes
    from goscope.render.info import info_json_object, render_info

    info, facts = session.binary_facts(args)
    info_notes = notes(info, facts.load_bias if facts is not None else None)
    if session.json:
        session.write_json(info_json_object(info, info_notes, facts))
    else:
        session.write(render_info(info, info_notes, session.style, facts))
    build_info_error = info.raw.get("build_info_error")
    if build_info_error:
        # What could be read is printed; the line says the report is incomplete.
        session.flush()
        session.problem(f"{info.file}: {build_info_error}")
