"""Text of ``go info`` / ``goscope info``: a binary's build facts and what they mean."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from goscope.binary_info import BinaryInfo, Module
from goscope.implications import Note
from goscope.render.style import Style

_LABEL_WIDTH = 14
_WRAP_WIDTH = 100

#: Fields shown in the summary; anything else the core reports goes under "Other".
_SHOWN_FIELDS = frozenset(
    {
        "file",
        "go_version",
        "path",
        "main",
        "deps",
        "settings",
        "arch",
        "pie",
        "entry",
        "build_id",
        "go_build_id",
        "dwarf",
        "symbols",
        "functions",
        "files",
        "text_start",
        "text_end",
        "pclntab",
        "moduledata",
        "build_info_error",
        "go_version_supported",
    }
)


@dataclass(frozen=True)
class TargetFacts:
    """What the debugger has loaded besides the executable (GDB only)."""

    kind: str
    """``live process``, ``core file`` or ``executable``."""
    detail: str | None = None
    """e.g. ``pid 1234`` or the core file's path."""
    load_bias: int | None = None


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def _module_text(module: Module) -> str:
    text = module.path
    if module.version:
        text += f" {module.version}"
    if module.replace is not None:
        text += f" => {module.replace.path}"
        if module.replace.version:
            text += f" {module.replace.version}"
    return text


def _other_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:#x}" if value > 0xFFFF else str(value)
    if value is None:
        return "-"
    return str(value)


class _Lines:
    def __init__(self, style: Style) -> None:
        self.style = style
        self.lines: list[str] = []

    def heading(self, text: str) -> None:
        if self.lines:
            self.lines.append("")
        self.lines.append(self.style.heading(text))

    def field(self, label: str, value: str | None, width: int = _LABEL_WIDTH) -> None:
        if value is None or value == "":
            return
        self.lines.append(f"  {self.style.label(label.ljust(width))} {value}")

    def text(self, text: str) -> None:
        self.lines.append(text)


def _summary(out: _Lines, info: BinaryInfo, target: TargetFacts | None) -> None:
    style = out.style
    out.heading("Go binary")
    out.field("File", info.file)
    version = info.go_version
    if version:
        supported = info.raw.get("go_version_supported")
        shown = style.emphasis(version)
        if supported is False:
            shown += " " + style.warning("(not in the tested range)")
        out.field("Go version", shown)
    else:
        out.field("Go version", style.warning("unknown"))
    build_info_error = info.raw.get("build_info_error")
    if build_info_error:
        out.field("Build info", style.warning(f"unreadable: {build_info_error}"))
    main = info.main_module
    if main is not None and main.path:
        out.field("Main module", _module_text(main))
    out.field("Main package", info.main_package)
    out.field("Arch", info.arch)
    pie = "yes" if info.pie else "no"
    if info.pie and target is not None and target.load_bias is not None:
        pie += f", load bias {style.address(f'{target.load_bias:#x}')}"
    out.field("PIE", pie)
    if target is not None:
        loaded = target.kind + (f" ({target.detail})" if target.detail else "")
        out.field("Loaded", loaded)
    dwarf = info.dwarf
    if dwarf is not None:
        out.field("DWARF", style.warning(dwarf) if dwarf == "absent" else dwarf)
    symbols = info.symbols
    if symbols is not None:
        out.field("Symbols", "present" if symbols else style.warning("stripped"))
    functions = info.integer("functions")
    files = info.integer("files")
    if functions is not None:
        count = f"{functions:,}"
        if files is not None:
            count += f" in {files:,} files"
        out.field("Functions", count)
    start, end = info.integer("text_start"), info.integer("text_end")
    if start is not None and end is not None:
        out.field("Text", style.address(f"{start:#x}-{end:#x}"))
    out.field("Entry", style.address(_hex(info.entry) or ""))
    out.field("pclntab", style.address(_hex(info.integer("pclntab")) or ""))
    if "moduledata" in info.raw:
        moduledata = _hex(info.integer("moduledata"))
        out.field("moduledata", style.address(moduledata) if moduledata else "not found")
    build_id = info.raw.get("build_id")
    out.field("Build ID", str(build_id) if build_id else None)
    go_build_id = info.raw.get("go_build_id")
    out.field("Go build ID", str(go_build_id) if go_build_id else None)


def _settings(out: _Lines, info: BinaryInfo) -> None:
    settings = info.settings
    if not settings:
        return
    out.heading("Build settings")
    width = max(_LABEL_WIDTH, *(len(key) for key, _ in settings))
    for key, value in settings:
        out.field(key, value if value else out.style.dim("(empty)"), width)


def _deps(out: _Lines, info: BinaryInfo) -> None:
    deps = info.deps
    if not deps:
        return
    out.heading(f"Dependencies ({len(deps)})")
    for dep in deps:
        out.text(f"  {_module_text(dep)}")


def _other(out: _Lines, info: BinaryInfo) -> None:
    extra = [(key, value) for key, value in info.raw.items() if key not in _SHOWN_FIELDS]
    extra = [(key, value) for key, value in extra if not isinstance(value, (dict, list))]
    if not extra:
        return
    out.heading("Other")
    for key, value in extra:
        out.field(key, _other_value(value))


def _notes(out: _Lines, notes: list[Note]) -> None:
    if not notes:
        return
    out.heading("What this means")
    for note in notes:
        wrapped = textwrap.wrap(
            note.text, _WRAP_WIDTH, initial_indent="  - ", subsequent_indent="    "
        )
        for line in wrapped:
            out.text(out.style.warning(line) if note.warning else line)


def render_info(
    info: BinaryInfo,
    notes: list[Note],
    style: Style,
    target: TargetFacts | None = None,
) -> str:
    """The full text report, without a trailing newline."""
    out = _Lines(style)
    _summary(out, info, target)
    _settings(out, info)
    _deps(out, info)
    _other(out, info)
    _notes(out, notes)
    return "\n".join(out.lines)


def info_json_object(
    info: BinaryInfo, notes: list[Note], target: TargetFacts | None = None
) -> dict[str, Any]:
    """The info object plus ``notes`` (and ``load_bias`` when a process or core is loaded)."""
    result = dict(info.raw)
    if target is not None:
        result["loaded"] = {"kind": target.kind, "detail": target.detail}
        result["load_bias"] = target.load_bias
    result["notes"] = [note.text for note in notes]
    return result
