"""The Go toolchain's own tools as oracles: ``go tool addr2line`` and ``go version -m``.

Both are run with the toolchain that built the binary, and their text output is parsed here.

``go tool addr2line BINARY`` reads one address per line on stdin (hex, ``0x`` optional) and
prints two lines per address: the name of the function containing it, and ``file:line``; an
address outside every function gives ``?`` and ``?:0``, and one in a function without line
information (the linker's ``go:textfipsstart`` markers) gives an empty file and line -1.

``go version -m BINARY`` prints ``BINARY: goVERSION`` and then one tab-indented,
tab-separated line per fact::

    \\tpath\\tgoscope.test/panics
    \\tmod\\tgoscope.test/panics\\t(devel)\\t
    \\tdep\\tgoscope.test/errs\\tv0.1.0
    \\t=>\\t./errs\\t(devel)\\t
    \\tbuild\\t-ldflags="-s -w"

A ``dep`` line is followed by a ``=>`` line when the module was replaced (and that by a line
holding only the tab). A ``build`` line is
``key=value``; a key containing ``= \\t\\r\\n"``` or a value containing `` \\t\\r\\n"``` is
written as a Go quoted string.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tests.harness.toolchains import Toolchain

Location = tuple[str, str, int]
UNKNOWN: Location = ("?", "?", 0)


class OracleError(RuntimeError):
    """A Go tool failed or printed something unexpected."""


def addr2line(toolchain: Toolchain, binary: Path, pcs: Sequence[int]) -> list[Location]:
    """``go tool addr2line`` of every pc in PCS, in one process: (function, file, line) each."""
    proc = toolchain.run(
        ["tool", "addr2line", str(binary)],
        input="".join(f"{pc:#x}\n" for pc in pcs),
        timeout=600,
    )
    if proc.returncode != 0:
        raise OracleError(f"go tool addr2line {binary} exited {proc.returncode}: {proc.stderr}")
    lines = proc.stdout.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != 2 * len(pcs):
        raise OracleError(f"go tool addr2line printed {len(lines)} lines for {len(pcs)} addresses")
    result = []
    for i in range(len(pcs)):
        name, position = lines[2 * i], lines[2 * i + 1]
        file, sep, line = position.rpartition(":")
        if not sep or not line.lstrip("-").isdigit():
            raise OracleError(f"go tool addr2line: unexpected position line {position!r}")
        result.append((name, file, int(line)))
    return result


@dataclass
class Module:
    path: str
    version: str
    sum: str
    replace: Module | None = None


@dataclass
class VersionM:
    """What ``go version -m`` prints about a binary."""

    go_version: str
    path: str | None = None
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)


def _go_unquote(text: str) -> tuple[str, str]:
    """Split a leading Go double-quoted string off TEXT: (its value, the rest)."""
    if not text.startswith('"'):
        raise OracleError(f"not a quoted string: {text!r}")
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            break
        i += 1
    else:
        raise OracleError(f"unterminated quoted string: {text!r}")
    # Go's escapes (\" \\ \n \t \xNN \uNNNN \UNNNNNNNN \a \b \f \r \v) mean the same in Python.
    value = ast.literal_eval(text[: i + 1])
    if not isinstance(value, str):
        raise OracleError(f"not a string literal: {text!r}")
    return value, text[i + 1 :]


def parse_setting(text: str) -> tuple[str, str]:
    """``key=value`` of a ``build`` line, either side possibly a Go quoted string."""
    if text.startswith('"'):
        key, rest = _go_unquote(text)
        if not rest.startswith("="):
            raise OracleError(f"build setting without '=': {text!r}")
        value_text = rest[1:]
    else:
        key, sep, value_text = text.partition("=")
        if not sep:
            raise OracleError(f"build setting without '=': {text!r}")
    if value_text.startswith('"'):
        value, rest = _go_unquote(value_text)
        if rest:
            raise OracleError(f"text after quoted build setting value: {text!r}")
    else:
        value = value_text
    return key, value


def _module(fields: Sequence[str], line: str) -> Module:
    if len(fields) < 2 or len(fields) > 4:
        raise OracleError(f"unexpected module line {line!r}")
    return Module(
        path=fields[1],
        version=fields[2] if len(fields) > 2 else "",
        sum=fields[3] if len(fields) > 3 else "",
    )


def parse_version_m(text: str, binary: str) -> VersionM:
    """Parse ``go version -m BINARY`` output."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    prefix = f"{binary}: "
    if not lines or not lines[0].startswith(prefix):
        raise OracleError(f"unexpected first line of go version -m: {lines[:1]!r}")
    info = VersionM(go_version=lines[0][len(prefix) :])
    for line in lines[1:]:
        if not line.startswith("\t"):
            raise OracleError(f"unexpected go version -m line {line!r}")
        fields = line[1:].split("\t")
        kind = fields[0]
        if line == "\t":
            # A replaced module's "=>" line is followed by an empty one.
            continue
        if kind == "path":
            info.path = line[1:].partition("\t")[2]
        elif kind == "mod":
            info.main = _module(fields, line)
        elif kind == "dep":
            info.deps.append(_module(fields, line))
        elif kind == "=>":
            replaced = info.deps[-1] if info.deps else info.main
            if replaced is None:
                raise OracleError(f"'=>' line without a module before it: {line!r}")
            replaced.replace = _module(fields, line)
        elif kind == "build":
            info.settings.append(parse_setting(line[1:].partition("\t")[2]))
        else:
            raise OracleError(f"unknown go version -m line {line!r}")
    return info


def version_m(toolchain: Toolchain, binary: Path) -> VersionM:
    """``go version -m BINARY``, parsed."""
    proc = toolchain.run(["version", "-m", str(binary)], timeout=120)
    if proc.returncode != 0:
        raise OracleError(f"go version -m {binary} exited {proc.returncode}: {proc.stderr}")
    return parse_version_m(proc.stdout, str(binary))
