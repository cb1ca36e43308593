"""Semantic colours: renderers say what a piece of text is, the style decides how it looks.

The command line enables colour on a terminal only (never with ``--json`` or ``NO_COLOR``);
GDB enables it when ``set style enabled on``.
"""

from __future__ import annotations

import os
from typing import TextIO

_RESET = "\x1b[0m"
_CODES = {
    "heading": "1",
    "label": "36",
    "address": "34",
    "good": "32",
    "warning": "33",
    "error": "31",
    "dim": "2",
    "emphasis": "1",
}


class Style:
    """Wraps text in ANSI colour codes when enabled; returns it unchanged otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _paint(self, role: str, text: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{_CODES[role]}m{text}{_RESET}"

    def heading(self, text: str) -> str:
        return self._paint("heading", text)

    def label(self, text: str) -> str:
        return self._paint("label", text)

    def address(self, text: str) -> str:
        return self._paint("address", text)

    def good(self, text: str) -> str:
        return self._paint("good", text)

    def warning(self, text: str) -> str:
        return self._paint("warning", text)

    def error(self, text: str) -> str:
        return self._paint("error", text)

    def dim(self, text: str) -> str:
        return self._paint("dim", text)

    def emphasis(self, text: str) -> str:
        return self._paint("emphasis", text)


PLAIN = Style(False)


def for_stream(stream: TextIO, mode: str = "auto") -> Style:
    """The style for `stream`: ``always``, ``never``, or ``auto`` (a terminal, no NO_COLOR)."""
    if mode == "always":
        return Style(True)
    if mode == "never" or os.environ.get("NO_COLOR"):
        return PLAIN
    isatty = getattr(stream, "isatty", None)
    return Style(bool(isatty and isatty()))
