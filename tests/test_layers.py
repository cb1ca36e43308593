"""The core's layers, as the README's layout names them: each rule lives in one folder.

Architecture facts only in `arch/`, runtime decoding only in `runtime/` (analyses read it
through its public API), JSON documents typed only in `report/`, special functions named only
by the core's unwinder.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE = REPO_ROOT / "rust/core/src"
BINDING = REPO_ROOT / "rust/python/src"
PYTHON = REPO_ROOT / "python/goscope"


def _sources(root: Path, suffix: str) -> list[Path]:
    return sorted(p for p in root.rglob(f"*{suffix}") if p.is_file())


def _hits(files: list[Path], pattern: str) -> list[str]:
    rx = re.compile(pattern)
    out = []
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if rx.search(line):
                out.append(f"{path.relative_to(REPO_ROOT)}:{n}: {line.strip()}")
    return out


def test_folders_are_the_readmes() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for folder in ("arch", "binary", "target", "layout", "runtime", "analysis", "report"):
        assert (CORE / folder / "mod.rs").is_file(), folder
        assert f"  {folder}/" in readme, f"README's layout does not name {folder}/"
        head = (CORE / folder / "mod.rs").read_text().splitlines()[0]
        assert head.startswith("//!"), f"{folder}/mod.rs does not say what it holds"


def test_impl_runtime_only_in_runtime() -> None:
    outside = [p for p in _sources(REPO_ROOT / "rust", ".rs") if CORE / "runtime" not in p.parents]
    assert _hits(outside, r"^\s*impl\b.*\bRuntime\s*\{") == []


def test_no_json_documents_in_the_binding() -> None:
    assert _hits(_sources(BINDING, ".rs"), r"\bjson!\s*[\(\[{]") == []


def test_amd64_register_names_only_in_arch() -> None:
    names = r"\b(rip|rsp|rbp|r14|fs_base|eflags|orig_rax|UC_MCONTEXT|SC_RSP|SC_RIP)\b"
    files = [
        p
        for p in _sources(CORE, ".rs") + _sources(BINDING, ".rs")
        if CORE / "arch" not in p.parents
    ]
    files += _sources(PYTHON, ".py")
    # Comments may name a register in passing; code may not.
    code = [h for h in _hits(files, names) if not re.search(r":\d+: (//|#)", h)]
    assert code == []


def test_special_functions_named_once() -> None:
    special = r"\"runtime\.(mstart0|goexit0|cgoSigtramp|sigtramp|morestack|systemstack_switch)\""
    rust = [p for p in _sources(REPO_ROOT / "rust", ".rs") if p.name != "unwind.rs"]
    assert _hits(rust + _sources(PYTHON, ".py"), special) == []
