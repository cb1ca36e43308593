r"""The crash-report parser (:mod:`tests.panic_oracle`): on literal snippets of every format Go
1.21 to 1.27 prints, and on every fixture's ``traceback.txt``, where it must agree with what
the program recorded about itself on its FIXTURE line.

For the programs whose FIXTURE line has the ``crash`` record (``panics`` and ``fatal-*``, see
``tests/fixtures/programs/README.md``) the parsed report must match it exactly: the printed
panic chain (derived from the crashing goroutine's recorded chain with
:func:`tests.panic_oracle.expected_panics`), the fatal error, the signal and the crashed
goroutine. The runtime's goroutine dump must also agree with the recorded chains and defers
of the parked goroutines: one ``panic`` frame per panic, a ``runtime.Goexit`` frame for
Goexit, and a frame of every function a pending defer belongs to. For every other crashing
program the report must parse and name a crashed goroutine that the dump shows.

The recorded defers are also checked against the machine code (``go tool objdump`` of the
fixture's ``main`` package, for every variant with a symbol table): each deferred function
exists, a wrapper calls the function it is said to wrap (checked without inlining, in the
noopt variant), and the frame's function defers the
way the recorded kind says (``runtime.deferprocStack`` for stack records,
``runtime.deferproc`` for heap ones, ``runtime.deferrangefunc`` and a loop body calling
``runtime.deferprocat`` for rangefunc ones, none of them but ``runtime.deferreturn`` for an
open-coded frame).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness.fixture import Fixture
from tests.panic_oracle import (
    PanicOracleError,
    PrintedPanic,
    expected_panics,
    go_minor,
    parse_crash,
)
from tests.tracebacks import TracebackGoroutine, parse_by_id

FRAME = (
    "main.main()\n"
    "\t/src/main.go:10 +0x1d fp=0xc000067f50 sp=0xc000067f40 pc=0x4a1b2c\n"
    "runtime.main()\n"
    "\t/go/src/runtime/proc.go:267 +0x2bb fp=0xc000067fe0 sp=0xc000067f50 pc=0x43a1bb\n"
)


def goroutine(header: str) -> str:
    return header + "\n" + FRAME


# -- literal snippets ----------------------------------------------------------------------


def test_nested_panics_go121() -> None:
    text = (
        "panic: runtime error: index out of range [5] with length 3 [recovered]\n"
        "\tpanic: process failed with code 500\n"
        "\tpanic: cleanup failed [recovered]\n"
        "\tpanic: cleanup failed\n"
        "\n" + goroutine("goroutine 1 [running]:") + "\n" + goroutine("goroutine 2 [chan receive]:")
    )
    crash = parse_crash(text)
    assert crash.panics == [
        PrintedPanic("runtime error: index out of range [5] with length 3", recovered=True),
        PrintedPanic("process failed with code 500"),
        PrintedPanic("cleanup failed", recovered=True),
        PrintedPanic("cleanup failed"),
    ]
    assert crash.fatal_error is None and crash.signal is None
    assert crash.goroutine is not None and crash.goroutine.id == 1
    assert not crash.runtime_stack


def test_repanicked_go125() -> None:
    text = "panic: first [recovered]\n\tpanic: second [recovered, repanicked]\n\n" + goroutine(
        "goroutine 7 gp=0xc000002380 m=2 mp=0xc000042808 [running]:"
    )
    crash = parse_crash(text)
    assert crash.panics == [
        PrintedPanic("first", recovered=True),
        PrintedPanic("second", recovered=True, repanicked=True),
    ]
    assert crash.goroutine is not None and crash.goroutine.id == 7


def test_panic_after_goexit() -> None:
    # A Goexit between two panics prints nothing, and the newer panic loses its tab.
    text = "panic: before\npanic: after\n\n" + goroutine("goroutine 5 [running]:")
    crash = parse_crash(text)
    assert crash.panics == [PrintedPanic("before"), PrintedPanic("after", after_goexit=True)]


def test_multiline_messages() -> None:
    go123 = "panic: line one\n\tline two [recovered]\n\tpanic: x\n\ty\n\n" + goroutine(
        "goroutine 1 [running]:"
    )
    assert parse_crash(go123).panics == [
        PrintedPanic("line one\n\tline two", recovered=True),
        PrintedPanic("x\n\ty"),
    ]
    go121 = "panic: line one\nline two\n\n" + goroutine("goroutine 1 [running]:")
    assert parse_crash(go121).panics == [PrintedPanic("line one\nline two")]


def test_nil_dereference_signal_line() -> None:
    text = (
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x10 pc=0x49a7f3]\n"
        "\n" + goroutine("goroutine 1 [running]:")
    )
    crash = parse_crash(text)
    assert crash.panics == [
        PrintedPanic("runtime error: invalid memory address or nil pointer dereference")
    ]
    signal = crash.signal
    assert signal is not None and signal.bracketed
    assert (signal.name, signal.description) == ("SIGSEGV", "segmentation violation")
    assert (signal.code, signal.addr, signal.pc, signal.number) == (1, 0x10, 0x49A7F3, None)


def test_numbered_signal_line() -> None:
    text = (
        "fatal error: unexpected signal during runtime execution\n"
        "[signal 0x1f code=0x0 addr=0x0 pc=0x0]\n\n"
        "runtime stack:\n"
        "runtime.throw({0x4b5d4d?, 0x0?})\n"
        "\t/go/src/runtime/panic.go:1077 +0x5c fp=0x7ffc sp=0x7ffb pc=0x43203c\n"
        "\n" + goroutine("goroutine 1 [running]:")
    )
    crash = parse_crash(text)
    assert crash.fatal_error == "unexpected signal during runtime execution"
    assert crash.signal is not None
    assert (crash.signal.name, crash.signal.number, crash.signal.code) == (None, 0x1F, 0)
    assert crash.runtime_stack
    assert crash.goroutine is not None and crash.goroutine.id == 1


def test_fault_address() -> None:
    text = (
        "unexpected fault address 0x7f4f6ee0b010\n"
        "fatal error: fault\n"
        "[signal SIGSEGV: segmentation violation code=0x2 addr=0x7f4f6ee0b010 pc=0x496e00]\n"
        "\n" + goroutine("goroutine 1 [running]:")
    )
    crash = parse_crash(text)
    assert crash.fatal_error == "fault"
    assert crash.fault_address == 0x7F4F6EE0B010
    assert crash.signal is not None and crash.signal.addr == crash.fault_address
    assert crash.signal.code == 2 and not crash.panics


def test_stack_overflow() -> None:
    text = (
        "runtime: goroutine stack exceeds 4194304-byte limit\n"
        "runtime: sp=0xc020160388 stack=[0xc020160000, 0xc020560000]\n"
        "fatal error: stack overflow\n"
        "\n"
        "runtime stack:\n"
        "runtime.throw({0x4b5d4d?, 0x0?})\n"
        "\t/go/src/runtime/panic.go:1077 +0x5c fp=0x7ffc sp=0x7ffb pc=0x43203c\n"
        "\n" + goroutine("goroutine 18 gp=0xc000102380 m=3 mp=0xc000100008 [running]:")
    )
    crash = parse_crash(text)
    assert crash.fatal_error == "stack overflow" and crash.stack_limit == 4194304
    assert crash.runtime_messages == [
        "goroutine stack exceeds 4194304-byte limit",
        "sp=0xc020160388 stack=[0xc020160000, 0xc020560000]",
    ]
    assert crash.goroutine is not None and crash.goroutine.id == 18


def test_deadlock_names_no_goroutine() -> None:
    text = (
        "fatal error: all goroutines are asleep - deadlock!\n\n"
        "runtime stack:\n"
        "runtime.fatal({0x52b7a9, 0x25})\n"
        "\t/go/src/runtime/panic.go:1267 +0x74 fp=0x7ffc sp=0x7ffb pc=0x447614\n"
        "\n"
        + goroutine("goroutine 1 gp=0xc000002380 m=nil [chan receive]:")
        + "\n"
        + goroutine("goroutine 6 gp=0xc000003500 m=nil [sync.Mutex.Lock]:")
    )
    crash = parse_crash(text)
    assert crash.fatal_error == "all goroutines are asleep - deadlock!"
    assert crash.runtime_stack and crash.goroutine is None


def test_map_writes_without_gp() -> None:
    text = "fatal error: concurrent map writes\n\n" + goroutine("goroutine 19 [running]:")
    crash = parse_crash(text)
    assert crash.fatal_error == "concurrent map writes" and not crash.fatal_error_indented
    assert crash.goroutine is not None and crash.goroutine.id == 19


def test_fatal_error_during_panic_go126() -> None:
    text = "panic: boom\n\tfatal error: concurrent map writes\n\n" + goroutine(
        "goroutine 1 gp=0xc000002380 m=0 mp=0x5b0380 [running]:"
    )
    crash = parse_crash(text)
    assert crash.panics == [PrintedPanic("boom")]
    assert crash.fatal_error == "concurrent map writes" and crash.fatal_error_indented


@pytest.mark.parametrize(
    ("pc_line", "addr"),
    [("PC=0x498f80 m=0 sigcode=1", None), ("PC=0x4b8bf0 m=0 sigcode=1 addr=0x0", 0)],
    ids=["go1.21", "go1.22+"],
)
def test_signal_in_cgo(pc_line: str, addr: int | None) -> None:
    text = (
        "SIGSEGV: segmentation violation\n"
        f"{pc_line}\n"
        "signal arrived during cgo execution\n"
        "\n" + goroutine("goroutine 1 [syscall]:")
    )
    crash = parse_crash(text)
    signal = crash.signal
    assert signal is not None and not signal.bracketed and signal.cgo
    assert (signal.name, signal.description, signal.code, signal.addr, signal.m) == (
        "SIGSEGV",
        "segmentation violation",
        1,
        addr,
        0,
    )
    assert not crash.panics and crash.fatal_error is None
    assert crash.goroutine is not None and crash.goroutine.status == "syscall"


def test_unhandled_signal() -> None:
    text = (
        "SIGQUIT: quit\nPC=0x46e1e1 m=0 sigcode=0\n\n"
        "goroutine 0 gp=0x5b0ae0 m=0 mp=0x5b1380 [idle]:\n" + FRAME
    )
    crash = parse_crash(text)
    assert crash.signal is not None and crash.signal.name == "SIGQUIT"
    assert crash.signal.addr is None and not crash.signal.cgo
    assert crash.goroutine is None


def test_program_output_before_the_report() -> None:
    text = "starting\nlog: ready\npanic: x\n\n" + goroutine("goroutine 1 [running]:")
    assert parse_crash(text).panics == [PrintedPanic("x")]


def test_no_report() -> None:
    with pytest.raises(PanicOracleError):
        parse_crash("hello\n\n" + goroutine("goroutine 1 [running]:"))


def _record(message: str | None, **marks: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "message": message,
        "recovered": False,
        "repanicked": False,
        "goexit": False,
    }
    record.update(marks)
    return record


def test_expected_panics() -> None:
    chain = [  # innermost first
        _record("cleanup failed"),
        _record("cleanup failed", recovered=True, repanicked=True),
        _record("process failed"),
        _record("index", recovered=True),
    ]
    old = [
        PrintedPanic("index", recovered=True),
        PrintedPanic("process failed"),
        PrintedPanic("cleanup failed", recovered=True),
        PrintedPanic("cleanup failed"),
    ]
    new = [*old[:2], PrintedPanic("cleanup failed", recovered=True, repanicked=True)]
    assert expected_panics(chain, "go1.24.11") == old
    assert expected_panics(chain, "go1.25.5") == new
    assert expected_panics(chain, "go1.27.3") == new

    # A value raised again without being recovered: Go 1.25 still says "recovered".
    unrecovered = [_record("v"), _record("v", repanicked=True)]
    assert expected_panics(unrecovered, "go1.25.5") == [
        PrintedPanic("v", recovered=True, repanicked=True)
    ]
    assert expected_panics(unrecovered, "go1.26.6") == [PrintedPanic("v")]
    assert expected_panics(unrecovered, "go1.24.11") == [PrintedPanic("v"), PrintedPanic("v")]

    goexit = [_record("after"), _record(None, goexit=True), _record("before")]
    assert expected_panics(goexit, "go1.22.10") == [
        PrintedPanic("before"),
        PrintedPanic("after", after_goexit=True),
    ]
    assert expected_panics([_record(None, goexit=True)], "go1.22.10") == []
    assert go_minor("devel go1.28-abcdef") == 28


# -- every fixture -----------------------------------------------------------------------------


def _check_recorded_goroutine(
    fixture: Fixture, goid: int, record: dict[str, Any], dump: dict[int, TracebackGoroutine]
) -> None:
    """The runtime's dump of goroutine GOID agrees with what the program recorded for it."""
    where = f"{fixture.id}: goroutine {goid} ({record['name']})"
    assert goid in dump, f"{where} is not in the traceback"
    functions = [frame.function for frame in dump[goid].frames]
    panics = [p for p in record["panics"] if not p["goexit"]]
    if dump[goid].elided is None:
        assert functions.count("panic") == len(panics), (where, functions)
    if any(p["goexit"] for p in record["panics"]):
        assert "runtime.Goexit" in functions, (where, functions)
    for deferred in record["defers"]:
        assert deferred["frame"] in functions, (where, deferred, functions)
        assert deferred["kind"] in ("open-coded", "stack", "heap", "rangefunc"), (where, deferred)
        assert deferred["function"], (where, deferred)


def test_fixture_crash_report(fixture: Fixture) -> None:
    """The parsed report of FIXTURE's traceback.txt agrees with its FIXTURE line."""
    text = fixture.traceback_text()
    facts = fixture.facts()
    crash = parse_crash(text)
    dump = parse_by_id(text)
    expected = facts.get("crash")
    if not isinstance(expected, dict) or "goroutines" not in expected:
        # A program with a FIXTURE line of its own kind: the report must at least parse and
        # name a goroutine of the dump.
        assert crash.panics or crash.fatal_error is not None or crash.signal is not None
        assert crash.goroutine is not None and crash.goroutine.id in dump, fixture.id
        return

    version = facts["go_version"]
    assert version == fixture.toolchain.version, (fixture.id, version)
    assert crash.fatal_error == expected["fatal_error"], fixture.id

    signal = expected["signal"]
    if signal is None:
        assert crash.signal is None, (fixture.id, crash.signal)
    else:
        got = crash.signal
        assert got is not None, fixture.id
        assert (got.name, got.code, got.cgo) == (signal["name"], signal["code"], signal["cgo"])
        assert got.bracketed == (crash.fatal_error is not None or bool(crash.panics))
        if got.addr is None:
            # Only the report of a signal outside Go code, before Go 1.22, has no addr=.
            assert not got.bracketed and go_minor(version) < 22, (fixture.id, got)
        else:
            assert got.addr == signal["addr"], (fixture.id, got)
    if crash.fatal_error == "fault":
        assert crash.fault_address is not None and crash.fault_address == signal["addr"]
    if "stack_limit" in expected:
        assert crash.stack_limit == expected["stack_limit"], fixture.id

    goroutines: dict[str, Any] = facts["goroutines"]
    candidates = expected["goroutines"]
    if candidates:
        assert crash.goroutine is not None, fixture.id
        assert crash.goroutine.id in candidates, (fixture.id, crash.goroutine.id, candidates)
        chain = goroutines[str(crash.goroutine.id)]["panics"]
        assert crash.panics == expected_panics(chain, version), fixture.id
    else:
        assert crash.goroutine is None, (fixture.id, crash.goroutine)
        assert not crash.panics, fixture.id

    for goid, record in goroutines.items():
        _check_recorded_goroutine(fixture, int(goid), record, dump)


_TEXT = re.compile(r"^TEXT (\S+)\(SB\)")
_CALL = re.compile(r"\sCALL (\S+)\(SB\)")
_DEFER_CALLS = {
    "runtime.deferproc",
    "runtime.deferprocStack",
    "runtime.deferprocat",
    "runtime.deferrangefunc",
}


def _calls(fixture: Fixture) -> dict[str, set[str]]:
    """The functions each function of package main calls directly, from ``go tool objdump``."""
    proc = fixture.toolchain.run(["tool", "objdump", "-s", r"^main\.", str(fixture.bin)])
    assert proc.returncode == 0, (fixture.id, proc.stderr)
    calls: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in proc.stdout.splitlines():
        text = _TEXT.match(line)
        if text is not None:
            current = calls.setdefault(text.group(1), set())
            continue
        call = _CALL.search(line)
        if call is not None and current is not None:
            current.add(call.group(1))
    return calls


def test_recorded_defers_match_the_code(fixture: Fixture) -> None:
    """Every defer a FIXTURE line records is one the compiled code makes, of the recorded
    kind."""
    records = [
        (int(goid), record, deferred)
        for goid, record in fixture.facts().get("goroutines", {}).items()
        if isinstance(record, dict)
        for deferred in record.get("defers", [])
    ]
    if not records or fixture.variant == "stripped":
        return
    calls = _calls(fixture)
    for goid, record, deferred in records:
        where = (fixture.id, goid, record["name"], deferred)
        names = [name for name in deferred["function"] if name in calls]
        assert len(names) == 1, where
        if "wraps" in deferred and fixture.variant == "noopt":
            # Optimized builds may inline the wrapped call (fmt.Println).
            assert deferred["wraps"] in calls[names[0]], (where, calls[names[0]])
        frame = calls[deferred["frame"]]
        kind = deferred["kind"]
        if kind == "open-coded":
            assert "runtime.deferreturn" in frame and not frame & _DEFER_CALLS, (where, frame)
        elif kind == "stack":
            assert "runtime.deferprocStack" in frame, (where, frame)
        elif kind == "heap":
            assert "runtime.deferproc" in frame, (where, frame)
        else:
            assert kind == "rangefunc", where
            assert "runtime.deferrangefunc" in frame, (where, frame)
            bodies = [f for f in calls if f.startswith(deferred["frame"] + "-range")]
            assert any("runtime.deferprocat" in calls[f] for f in bodies), (where, bodies)
