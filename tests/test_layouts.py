"""The checked-in runtime layout tables are exactly what ``scripts/gen-layouts`` produces.

The generator builds ``tests/layouts`` with every supported toolchain and reads the runtime's
struct layouts from its DWARF and the goroutine states and wait reasons from the toolchain's
``runtime2.go``; regenerating into a scratch directory and diffing keeps the tables honest. The
Rust test ``rust/core/tests/layouts.rs`` checks the same tables against every fixture binary.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.harness.toolchains import all_toolchains

REPO_ROOT = Path(__file__).resolve().parents[1]
GENERATOR = REPO_ROOT / "scripts" / "gen-layouts"
TABLES = REPO_ROOT / "rust" / "core" / "src" / "layout" / "tables"


def _generator() -> ModuleType:
    """scripts/gen-layouts as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("gen_layouts", str(GENERATOR))
    spec = importlib.util.spec_from_loader("gen_layouts", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclasses look their module up while being defined.
    sys.modules["gen_layouts"] = module
    loader.exec_module(module)
    return module


def test_regenerated_tables_match_checked_in(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    generated = sorted(p.name for p in tmp_path.glob("go*.json"))
    checked_in = sorted(p.name for p in TABLES.glob("go*.json"))
    assert generated == checked_in
    diffs = []
    for name in generated:
        old = (TABLES / name).read_text()
        new = (tmp_path / name).read_text()
        if old != new:
            diffs.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"checked-in/{name}",
                    tofile=f"generated/{name}",
                )
            )
    assert not diffs, "tables are out of date; run scripts/gen-layouts\n" + "".join(diffs)


def test_every_toolchain_release_has_a_table() -> None:
    releases = {_generator().minor_release(t.name) for t in all_toolchains()}
    missing = sorted(r for r in releases if not (TABLES / f"{r}.json").is_file())
    assert not missing


def test_disagreeing_toolchains_of_one_release_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gen = _generator()
    fake = [
        gen.Toolchain("go1.26.6", tmp_path, tmp_path / "go", {}),
        gen.Toolchain("go1.26.8", tmp_path, tmp_path / "go", {}),
    ]
    monkeypatch.setattr(gen, "toolchains", lambda: fake)
    monkeypatch.setattr(gen, "table_for", lambda t, _bin, _scratch: f'{{"go": "{t.name}"}}\n')
    with pytest.raises(gen.GenerationError, match="go1.26.6 and go1.26.8 are both go1.26"):
        gen.generate(layouts_bin=tmp_path / "goscope-layouts", jobs=1)
