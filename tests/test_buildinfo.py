"""goscope's build info agrees with ``go version -m`` of the toolchain that built the binary.

Checked for every fixture binary: the Go version, the main package path, the main module line
(path, version, sum), every dependency line with its ``=>`` replacement, and every build setting
``key=value`` in the order Go prints them. The facts ``go version -m`` does not print are checked
against how the fixture was built: PIE, symbols and DWARF (absent only in the stripped
variant), the architecture (the ``GOARCH`` setting) and the function count.
"""

from __future__ import annotations

import json
import subprocess
from types import ModuleType
from typing import Any

from tests.harness.build import programs
from tests.harness.fixture import Fixture
from tests.harness.oracles import Module, version_m
from tests.harness.toolchains import Toolchain


def _module(value: Any) -> tuple[str, str, str, Any] | None:
    """(path, version, sum, replacement) of goscope's JSON module object; missing sum is ""."""
    if value is None:
        return None
    return (
        value["path"],
        value["version"] or "",
        value.get("sum") or "",
        _module(value.get("replace")),
    )


def _oracle_module(m: Module | None) -> tuple[str, str, str, Any] | None:
    if m is None:
        return None
    return (m.path, m.version, m.sum, _oracle_module(m.replace))


def _info(native: ModuleType, fx: Fixture) -> dict[str, Any]:
    return json.loads(native.Binary(str(fx.bin)).info_json())


def test_buildinfo_matches_go_version_m(fixture_binary: Fixture, native: ModuleType) -> None:
    fx = fixture_binary
    info = _info(native, fx)
    oracle = version_m(fx.toolchain, fx.bin)

    assert info["go_version"] == oracle.go_version == fx.toolchain.version
    assert info["path"] == oracle.path
    assert oracle.main is not None, f"{fx.id}: go version -m printed no mod line"
    assert _module(info["main"]) == _oracle_module(oracle.main)
    assert [_module(d) for d in info["deps"]] == [_oracle_module(d) for d in oracle.deps]
    assert [tuple(s) for s in info["settings"]] == oracle.settings


def test_buildinfo_matches_build(fixture_binary: Fixture, native: ModuleType) -> None:
    fx = fixture_binary
    info = _info(native, fx)
    settings = dict(tuple(s) for s in info["settings"])
    stripped = fx.variant == "stripped"

    assert info["pie"] is (fx.variant == "pie")
    assert info["symbols"] is (not stripped)
    if stripped:
        assert info["dwarf"] == "absent"
    else:
        assert info["dwarf"] in ("present", "compressed")
    assert info["arch"] == settings["GOARCH"]
    assert settings["CGO_ENABLED"] == ("1" if fx.cgo else "0")
    assert info["functions"] == len(native.Binary(str(fx.bin)).functions())
    assert info.get("dwarf_compression") == _readelf_compression(fx), info.get("dwarf")


def _readelf_compression(fx: Fixture) -> str | None:
    """How ``readelf -t`` says .debug_info is compressed (``ZLIB`` -> ``zlib``), if it is."""
    out = subprocess.run(
        ["readelf", "-W", "-t", str(fx.bin)], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.split()[-1:] == [".debug_info"]:
            for detail in lines[i + 1 : i + 5]:
                word = detail.split(",")[0].strip()
                if word in ("ZLIB", "ZSTD"):
                    return word.lower()
                if detail.lstrip().startswith("["):
                    if "COMPRESSED" not in detail:
                        return None
            return None
    return None


def test_dependency_check_is_not_vacuous(fixture_matrix: list[Fixture]) -> None:
    """The panics program requires a module through a replace directive, so the dependency
    comparison above sees a ``dep`` and a ``=>`` line."""
    panics = [fx for fx in fixture_matrix if fx.program == "panics"]
    assert panics
    for fx in panics:
        oracle = version_m(fx.toolchain, fx.bin)
        assert [(d.path, d.version) for d in oracle.deps] == [("goscope.test/errs", "v0.1.0")]
        replace = oracle.deps[0].replace
        assert replace is not None and (replace.path, replace.version) == ("./errs", "(devel)")


def test_toolchain_has_every_fixture(toolchain: Toolchain, fixture_matrix: list[Fixture]) -> None:
    """Every toolchain built every program in every variant, and the binaries say so."""
    mine = [fx for fx in fixture_matrix if fx.toolchain.name == toolchain.name]
    wanted = {(p.name, v) for p in programs() for v in p.variants}
    assert {(fx.program, fx.variant) for fx in mine} == wanted
    for fx in mine:
        assert fx.meta_json()["go_version"] == toolchain.version
        assert version_m(toolchain, fx.bin).go_version == toolchain.version
