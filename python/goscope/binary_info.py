"""Build and layout facts of a Go executable, as the core reports them.

:class:`BinaryInfo` wraps the JSON object of :meth:`goscope.Binary.info_json` with typed
accessors; unknown fields are kept so that renderers can show whatever the core adds later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from goscope._native import Binary

#: Go releases goscope is tested against (inclusive).
TESTED_GO_MINORS = (21, 27)


@dataclass(frozen=True, order=True)
class GoVersion:
    """A Go release number parsed from a version string such as ``go1.22.10``."""

    major: int
    minor: int
    patch: int = 0

    _PATTERN = re.compile(r"^go(\d+)\.(\d+)(?:\.(\d+))?")

    @classmethod
    def parse(cls, text: str) -> GoVersion | None:
        """Parses ``go1.22.10``, ``go1.23rc1`` or ``go1.26.6 X:nodwarf5``; None for others."""
        match = cls._PATTERN.match(text.strip())
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    def in_tested_range(self) -> bool:
        low, high = TESTED_GO_MINORS
        return self.major == 1 and low <= self.minor <= high

    def __str__(self) -> str:
        return f"go{self.major}.{self.minor}.{self.patch}"


def tested_range_text() -> str:
    low, high = TESTED_GO_MINORS
    return f"Go 1.{low}\N{EN DASH}1.{high}"


@dataclass(frozen=True)
class Module:
    """A ``mod`` or ``dep`` line of the build info, with its ``=>`` replacement if any."""

    path: str
    version: str
    sum: str
    replace: Module | None

    @classmethod
    def from_json(cls, data: Any) -> Module | None:
        if not isinstance(data, dict):
            return None
        return cls(
            path=str(data.get("path") or ""),
            version=str(data.get("version") or ""),
            sum=str(data.get("sum") or ""),
            replace=cls.from_json(data.get("replace")),
        )


class BinaryInfo:
    """Typed view of the core's info object; :attr:`raw` keeps every field."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @classmethod
    def of(cls, binary: Binary) -> BinaryInfo:
        raw = json.loads(binary.info_json())
        if not isinstance(raw, dict):
            raw = {"value": raw}
        raw.setdefault("file", binary.path)
        return cls(raw)

    # -- identity -------------------------------------------------------------------------

    @property
    def file(self) -> str:
        return str(self.raw.get("file") or "")

    @property
    def go_version(self) -> str | None:
        value = self.raw.get("go_version")
        return str(value) if value else None

    @property
    def version(self) -> GoVersion | None:
        text = self.go_version
        return GoVersion.parse(text) if text else None

    @property
    def main_package(self) -> str | None:
        value = self.raw.get("path")
        return str(value) if value else None

    @property
    def main_module(self) -> Module | None:
        return Module.from_json(self.raw.get("main"))

    @property
    def deps(self) -> list[Module]:
        deps = self.raw.get("deps")
        if not isinstance(deps, list):
            return []
        return [m for m in (Module.from_json(d) for d in deps) if m is not None]

    @property
    def settings(self) -> list[tuple[str, str]]:
        """Build settings in the order the linker wrote them."""
        settings = self.raw.get("settings")
        result: list[tuple[str, str]] = []
        if isinstance(settings, list):
            for item in settings:
                if isinstance(item, (list, tuple)) and len(item) == 2:
                    result.append((str(item[0]), str(item[1])))
        elif isinstance(settings, dict):
            result.extend((str(k), str(v)) for k, v in settings.items())
        return result

    def setting(self, key: str) -> str | None:
        for name, value in self.settings:
            if name == key:
                return value
        return None

    # -- layout ---------------------------------------------------------------------------

    @property
    def arch(self) -> str | None:
        value = self.raw.get("arch")
        return str(value) if value else None

    @property
    def pie(self) -> bool:
        if self.raw.get("pie") is not None:
            return bool(self.raw.get("pie"))
        return self.setting("-buildmode") == "pie"

    @property
    def entry(self) -> int | None:
        value = self.raw.get("entry")
        return value if isinstance(value, int) else None

    @property
    def dwarf(self) -> str | None:
        value = self.raw.get("dwarf")
        return str(value) if value is not None else None

    @property
    def dwarf_compression(self) -> str | None:
        """``zlib``, ``zstd`` or ``zlib (.zdebug)`` when DWARF is compressed."""
        value = self.raw.get("dwarf_compression")
        return str(value) if value else None

    @property
    def symbols(self) -> bool | None:
        value = self.raw.get("symbols")
        return bool(value) if value is not None else None

    def integer(self, key: str) -> int | None:
        value = self.raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def open_info(path: str) -> BinaryInfo:
    """Opens the Go executable at `path` and returns its info; raises GoscopeError."""
    return BinaryInfo.of(Binary(path))
