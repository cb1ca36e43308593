"""GDB knows the functions and lines of stripped Go binaries once goscope is loaded.

goscope gives GDB a debug file made from the binary's pclntab (DWARF subprograms and a line
table). The oracle is ``go tool addr2line`` of the toolchain that built the binary: for every
stripped fixture binary, at every function entry of a sample and at random pcs inside
functions (seeded per fixture), GDB's own lookups must give what addr2line prints — the
function containing the pc (``gdb.block_for_pc``) and the ``file:line`` there
(``gdb.find_pc_line``) — and ``info line`` and ``frame`` must name Go functions, never ``??``.
"""

from __future__ import annotations

import random
import tempfile
import zlib
from pathlib import Path

from tests.gdbrun import assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.oracles import addr2line

SAMPLE_FUNCTIONS = 150
RANDOM_PCS = 250
_BEGIN, _END = "@@symbols-begin@@", "@@symbols-end@@"

_SCRIPT = """
import gdb
for pc in PCS:
    block = gdb.block_for_pc(pc)
    function = block.function.name if block is not None and block.function else "?"
    sal = gdb.find_pc_line(pc)
    file = sal.symtab.filename if sal.symtab is not None else "?"
    print(f"{pc:#x}\t{function}\t{file}:{sal.line}")
"""


def _pcs(fixture: Fixture) -> list[int]:
    import goscope

    functions = [f for f in goscope.Binary(fixture.bin).functions() if f[2] > f[1]]
    rng = random.Random(zlib.crc32(fixture.id.encode()))
    chosen = rng.sample(functions, min(SAMPLE_FUNCTIONS, len(functions)))
    pcs = [entry for _, entry, _ in chosen]
    for _ in range(RANDOM_PCS):
        _, entry, end = rng.choice(functions)
        pcs.append(rng.randrange(entry, end))
    return pcs


def _session(fixture: Fixture, pcs: list[int], directory: Path) -> str:
    script = directory / f"{fixture.id}.py"
    script.write_text(_SCRIPT.replace("PCS", repr(pcs)))
    run = run_gdb(
        [
            f"file {fixture.bin}",
            echo(_BEGIN),
            f"source {script}",
            echo(_END),
            f"info line *{pcs[0]:#x}",
        ],
    )
    assert_clean(run)
    assert run.survived, run.describe()
    assert "No line number information" not in run.stdout, run.describe()
    return run.between(_BEGIN, _END)


def test_stripped_binaries_get_functions_and_lines(fixture_matrix: list[Fixture]) -> None:
    stripped = [f for f in fixture_matrix if f.variant == "stripped"]
    assert stripped, "no stripped fixture binaries in the matrix"
    samples = {f.id: _pcs(f) for f in stripped}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = in_parallel(
            [lambda f=f: _session(f, samples[f.id], Path(tmp)) for f in stripped]  # type: ignore[misc]
        )
    failures: list[str] = []
    total = 0
    for fixture, output in zip(stripped, outputs):
        pcs = samples[fixture.id]
        want = addr2line(fixture.toolchain, fixture.bin, pcs)
        got = {}
        for line in output.splitlines():
            pc, function, position = line.split("\t", 2)
            got[int(pc, 16)] = (function, position)
        for pc, (function, file, line) in zip(pcs, want):
            total += 1
            # Where pclntab has no position (the padding after a function's code), GDB has no
            # line either.
            expected = (function, f"{file}:{line}" if line > 0 else "?:0")
            if got.get(pc) != expected:
                failures.append(f"{fixture.id} {pc:#x}: addr2line {expected}, gdb {got.get(pc)}")
    assert not failures, f"{len(failures)} of {total} pcs differ:\n" + "\n".join(failures[:20])
