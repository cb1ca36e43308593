"""What a binary's build means for debugging it, in plain words.

:func:`notes` turns the facts of :class:`~goscope.binary_info.BinaryInfo` (DWARF, symbols,
build settings, Go version, PIE) into the sentences shown under "What this means" by
``go info`` and ``goscope info``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from goscope.binary_info import BinaryInfo, tested_range_text


@dataclass(frozen=True)
class Note:
    """One plain-word consequence; ``warning`` ones are shown highlighted."""

    text: str
    warning: bool = False


def _flag_words(value: str) -> list[str]:
    """The flags of a ``-gcflags``/``-ldflags`` value, without ``pattern=`` prefixes."""
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    flags: list[str] = []
    for word in words:
        if "=" in word and not word.startswith("-"):
            word = word.split("=", 1)[1]
        flags.extend(word.split())
    return flags


def _version_notes(info: BinaryInfo) -> list[Note]:
    text = info.go_version
    build_info_error = info.raw.get("build_info_error")
    if build_info_error:
        # The error itself is shown once, beside "Build info"; this says what follows from it.
        return [
            Note(
                "The build info (.go.buildinfo) could not be read, so the Go version and build "
                "settings are unknown; goscope works from .gopclntab alone.",
                True,
            )
        ]
    if text is None:
        return [Note("The build info names no Go version; goscope cannot check support.", True)]
    version = info.version
    if version is None:
        return [
            Note(
                f"{text} is not a released Go version; goscope is tested with "
                f"{tested_range_text()} only, so runtime structures may be misread.",
                True,
            )
        ]
    if not version.in_tested_range():
        return [
            Note(
                f"{text} is outside the range goscope is tested with ({tested_range_text()}); "
                "runtime structures may be misread.",
                True,
            )
        ]
    return []


def _debug_info_notes(info: BinaryInfo) -> list[Note]:
    notes: list[Note] = []
    dwarf = info.dwarf
    if dwarf == "absent":
        notes.append(
            Note(
                "No DWARF: GDB alone cannot name or unwind Go frames. goscope reads .gopclntab "
                "instead, so goroutines, stacks and source lines still work, but local "
                "variable names and types are not available."
            )
        )
    elif dwarf == "compressed":
        notes.append(
            Note(
                "DWARF is compressed (zlib): GDB needs zlib support to read it, which "
                "Debian's GDB has; variables and types are available."
            )
        )
    elif dwarf == "present":
        notes.append(Note("DWARF is present: GDB can show Go variables and their types."))
    if info.symbols is False:
        notes.append(
            Note(
                "The ELF symbol table is stripped: `info functions` and `break FUNC` in plain "
                "GDB do not find Go functions; goscope finds them through .gopclntab."
            )
        )
    return notes


def _optimization_notes(info: BinaryInfo) -> list[Note]:
    gcflags = _flag_words(info.setting("-gcflags") or "")
    no_opt = "-N" in gcflags
    no_inline = "-l" in gcflags
    if no_opt and no_inline:
        return [
            Note(
                "Built with -gcflags '-N -l': optimizations and inlining are off, so every "
                "variable and every line is available to the debugger."
            )
        ]
    if no_opt:
        return [
            Note(
                "Built with -gcflags -N: optimizations are off, but calls may still be "
                "inlined; inlined calls have no frame of their own (goscope shows them)."
            )
        ]
    inlining = (
        "inlining is off"
        if no_inline
        else "inlined calls have no frame of their own (goscope shows them as frames)"
    )
    return [
        Note("Optimized build (the default): variables may be optimized away and " + inlining + ".")
    ]


def _setting_notes(info: BinaryInfo, load_bias: int | None) -> list[Note]:
    notes: list[Note] = []
    if info.setting("-trimpath") == "true":
        module = info.main_module
        example = module.path if module is not None and module.path else "MODULE/PATH"
        notes.append(
            Note(
                "Built with -trimpath: source paths are module-relative, not absolute. To see "
                f"source in GDB, map them: `set substitute-path {example} /path/to/checkout`."
            )
        )
    if info.pie:
        if load_bias is None:
            where = "it is known once the program runs or a core file is loaded"
        else:
            where = f"here it is {load_bias:#x}"
        notes.append(
            Note(
                "Position-independent executable (PIE): code and data are loaded at an address "
                f"chosen at run time, so every address shifts by the load bias; {where}."
            )
        )
    godebug = info.setting("DefaultGODEBUG")
    if godebug:
        count = len([item for item in godebug.split(",") if item])
        notes.append(
            Note(
                f"DefaultGODEBUG sets {count} GODEBUG default(s) (from the go.mod `go` and "
                "`godebug` lines and `//go:debug` directives); they are in effect unless the "
                "GODEBUG environment variable overrides them. `//go:debug` sets GODEBUG "
                "defaults; it is not a breakpoint directive."
            )
        )
    if info.setting("CGO_ENABLED") == "1":
        notes.append(
            Note(
                "CGO_ENABLED=1: the program may call C, so threads and stacks can contain C "
                "frames, which .gopclntab does not describe."
            )
        )
    if info.setting("-race") == "true":
        notes.append(
            Note(
                "Built with -race: the race detector's runtime adds frames and slows the "
                "program; reports go to stderr."
            )
        )
    if info.setting("vcs.modified") == "true":
        notes.append(
            Note(
                "vcs.modified=true: the working tree had uncommitted changes when this was "
                "built, so the source at vcs.revision may not match the binary.",
                True,
            )
        )
    return notes


def notes(info: BinaryInfo, load_bias: int | None = None) -> list[Note]:
    """Plain-word consequences of how `info`'s binary was built, warnings first."""
    result = _version_notes(info)
    result += _debug_info_notes(info)
    result += _optimization_notes(info)
    result += _setting_notes(info, load_bias)
    return sorted(result, key=lambda note: not note.warning)
