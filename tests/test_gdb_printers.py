"""goscope's pretty printers and ``$go_len`` / ``$go_cap`` / ``$go_dtype`` in real GDB, on the
``printers`` fixture of every toolchain in every DWARF variant (default, noopt, pie).

The program is run under GDB until its ``runtime.Breakpoint()``; GDB then prints each of the
program's package variables. The oracle is the program's own ``FIXTURE`` line: the contents,
``len``, ``cap`` and ``%T`` names of its values, the addresses its pointers hold (``%p``) and the
goroutine ids of the goroutines it parked on its channels. Expected texts are built from those
facts in the printers' documented format (Go type first, then GDB's usual value syntax).

One session per toolchain runs with the toolchain's ``runtime-gdb.py`` auto-loaded as well: it
must load, and goscope's printers must still be the ones used.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.gdbrun import GdbRun, assert_clean, echo, in_parallel, run_gdb
from tests.harness.fixture import Fixture
from tests.harness.toolchains import Toolchain

VARIANTS = {"default", "noopt", "pie"}

STRINGS = ("str", "emptyStr", "unicodeStr")
SLICES = ("nilSlice", "emptySlice", "capSlice", "strSlice", "pointSlice")
ARRAYS = ("intArray", "strArray")
MAPS = (
    "smallMap",
    "intStrMap",
    "largeMap",
    "largeStrMap",
    "growingMap",
    "structMap",
    "nilMap",
    "emptyMap",
)
CHANS = ("buffered", "closedChan", "nilChan", "senders", "receivers")
IFACES = (
    "anyInt",
    "anyStr",
    "anyPtr",
    "anyStruct",
    "anySlice",
    "anyNil",
    "err",
    "nilErr",
    "pathErr",
)
STATIC_TYPES = {"err": "error", "nilErr": "error", "pathErr": "error"}  # the others are `any`

#: (expression, what the session checks it against) for the convenience functions.
FUNCTIONS = (
    ("$go_len('main.str')", "len str"),
    ("$go_len('main.unicodeStr')", "len unicodeStr"),
    ("$go_len('main.capSlice')", "len capSlice"),
    ("$go_cap('main.capSlice')", "cap capSlice"),
    ("$go_len('main.nilSlice')", "len nilSlice"),
    ("$go_len('main.intArray')", "len intArray"),
    ("$go_len('main.largeMap')", "len largeMap"),
    ("$go_len('main.largeStrMap')", "len largeStrMap"),
    ("$go_len('main.smallMap')", "len smallMap"),
    ("$go_len('main.nilMap')", "len nilMap"),
    ("$go_len('main.buffered')", "len buffered"),
    ("$go_cap('main.buffered')", "cap buffered"),
    ("$go_dtype('main.anyInt')", "dtype anyInt"),
    ("$go_dtype('main.anyPtr')", "dtype anyPtr"),
    ("$go_dtype('main.err')", "dtype err"),
    ("$go_dtype('main.anyStruct')", "dtype anyStruct"),
    ("$go_dtype('main.anyNil')", "dtype anyNil"),
)
#: Bad arguments: each must give one error line naming the function, and no traceback.
BAD_CALLS = ("$go_len(1)", "$go_cap('main.smallMap')", "$go_dtype('main.str')")
LIMIT = 10

_MODULEDATA = "gdb.parse_and_eval(\"&'runtime.firstmoduledata'\")"
#: Maps and channels whose pointers lead nowhere or to something else (made in GDB's own
#: convenience variables, target memory untouched): each must print its type and an error
#: marker, within ``print elements``, and GDB must go on.
CORRUPT = (
    ("badMapNull", "gdb.Value(0x10).cast(gdb.lookup_type('map[string]int'))"),
    ("badMapData", f"{_MODULEDATA}.cast(gdb.lookup_type('map[string]int'))"),
    (
        "badMapKind",
        "gdb.parse_and_eval(\"'main.largeMap'\").cast(gdb.lookup_type('map[string]int'))",
    ),
    ("badChanNull", "gdb.Value(0x10).cast(gdb.lookup_type('chan int'))"),
    ("badChanData", f"{_MODULEDATA}.cast(gdb.lookup_type('chan int'))"),
)


def _marker(name: str) -> str:
    return f"@@{name}@@"


def _print_commands(names: tuple[str, ...]) -> list[str]:
    commands = []
    for name in names:
        commands += [echo(_marker(name)), f"print 'main.{name}'"]
    return commands


@dataclass
class Session:
    fixture: Fixture
    autoload: bool
    gdb: GdbRun
    stdout: str

    @property
    def label(self) -> str:
        return f"{self.fixture.id}{' with runtime-gdb.py' if self.autoload else ''}"

    def facts(self) -> dict[str, Any]:
        for line in self.stdout.splitlines():
            if line.startswith("FIXTURE "):
                facts: dict[str, Any] = json.loads(line[len("FIXTURE ") :])
                return facts
        raise AssertionError(f"{self.label}: no FIXTURE line in:\n{self.stdout}")

    def printed(self, name: str, following: str) -> str:
        """The value text of the ``print`` after marker `name` (``$N = TEXT``)."""
        body = self.gdb.between(_marker(name), _marker(following)).strip()
        match = re.fullmatch(r"\$\d+ = (.*)", body, re.S)
        assert match, f"{self.label}: {name}: not a printed value: {body!r}"
        return match.group(1)


def _session(fx: Fixture, autoload: bool) -> Session:
    names = STRINGS + SLICES + ARRAYS + MAPS + CHANS + IFACES
    with tempfile.TemporaryDirectory(prefix="goscope-printers-") as tmp:
        out = Path(tmp) / "stdout.txt"
        commands = [f"run > {out} 2>&1", "frame function main.main"]
        if autoload:
            commands += _print_commands(("str", "capSlice", "smallMap", "buffered", "err"))
        else:
            commands.append("set print elements unlimited")
            commands += _print_commands(names)
            for expression, key in FUNCTIONS:
                commands += [echo(_marker(key)), f"print {expression}"]
            commands.append(f"set print elements {LIMIT}")
            for name in ("largeMap", "largeStrMap"):
                commands += [echo(_marker(f"limit {name}")), f"print 'main.{name}'"]
            for name, expression in CORRUPT:
                commands += [
                    f"python gdb.set_convenience_variable('{name}', {expression})",
                    echo(_marker(name)),
                    f"print ${name}",
                ]
            for index, expression in enumerate(BAD_CALLS):
                commands += [echo(_marker(f"bad {index}")), f"print {expression}"]
        commands.append(echo(_marker("done")))
        init: list[str] = []
        if autoload:
            init = [
                "set auto-load python-scripts on",
                f"add-auto-load-safe-path {fx.toolchain.goroot}",
            ]
        # `init` comes after the harness's own settings, so auto-load is on again here.
        run = run_gdb(commands, args=[str(fx.bin)], init=init, timeout=240)
        stdout = out.read_text(errors="replace") if out.exists() else ""
    return Session(fx, autoload, run, stdout)


# --- expected texts ---------------------------------------------------------------------------


def _go_text(value: Any) -> str:
    """A JSON value of the FIXTURE line as GDB prints the Go value: strings quoted, structs as
    ``{Field = value, ...}`` in field order."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_go_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_go_text(v) for v in value) + "}"
    return str(value)


def _slice_text(facts: dict[str, Any]) -> str:
    if facts["nil"]:
        return f"{facts['type']} nil"
    head = f"{facts['type']} len {facts['len']} cap {facts['cap']}"
    return f"{head} = {_go_text(facts['elems'])}" if facts["elems"] else head


def _split_top(text: str) -> list[str]:
    """`text` split at the commas outside braces, brackets and string literals."""
    parts, depth, quoted, escaped, start = [], 0, False, False, 0
    for i, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _map_problems(label: str, name: str, facts: dict[str, Any], text: str) -> list[str]:
    """The map's text against its facts; entries may come in any order."""
    if facts.get("nil"):
        want = f"{facts['type']} nil"
        return [] if text == want else [f"{label}: {name}: {text!r} != {want!r}"]
    head = f"{facts['type']} len {facts['len']}"
    entries = []
    for entry in facts["entries"]:
        shown = entry["ptr"] if "ptr" in entry else _go_text(entry["value"])
        entries.append(f"[{_go_text(entry['key'])}] = {shown}")
    if not entries:
        return [] if text == head else [f"{label}: {name}: {text!r} != {head!r}"]
    prefix = head + " = {"
    if not (text.startswith(prefix) and text.endswith("}")):
        return [f"{label}: {name}: {text[:200]!r} does not start with {prefix!r}"]
    got = _split_top(text[len(prefix) : -1])
    if sorted(got) != sorted(entries):
        missing = sorted(set(entries) - set(got))[:5]
        extra = sorted(set(got) - set(entries))[:5]
        return [
            f"{label}: {name}: {len(got)} entries, {len(entries)} expected; "
            f"missing {missing}, unexpected {extra}"
        ]
    return []


def _limited_map_problems(label: str, name: str, facts: dict[str, Any], text: str) -> list[str]:
    """Under ``set print elements LIMIT``: the header, then real entries, at most LIMIT, and
    GDB's ``...``."""
    prefix = f"{facts['type']} len {facts['len']} = {{"
    if not (text.startswith(prefix) and text.endswith("...}")):
        return [f"{label}: {name} limited: {text!r} is not {prefix!r}...}}"]
    entries = {f"[{_go_text(e['key'])}] = {_go_text(e['value'])}" for e in facts["entries"]}
    got = _split_top(text[len(prefix) : -len("...}")])
    if not got or len(got) > LIMIT or not set(got) <= entries:
        return [f"{label}: {name} limited to {LIMIT}: {got}"]
    return []


_CHAN = re.compile(
    r"(?P<type>chan \S+) len (?P<len>\d+) cap (?P<cap>\d+)(?P<closed> closed)?"
    r"(?: senders \[(?P<senders>[\d ]+)\])?(?: receivers \[(?P<receivers>[\d ]+)\])?"
    r"(?: = (?P<elems>\{.*\}))?"
)


def _chan_problems(label: str, name: str, facts: dict[str, Any], text: str) -> list[str]:
    if facts.get("nil"):
        want = f"{facts['type']} nil"
        return [] if text == want else [f"{label}: {name}: {text!r} != {want!r}"]
    match = _CHAN.fullmatch(text)
    if match is None:
        return [f"{label}: {name}: unexpected {text!r}"]
    got = {
        "type": match["type"],
        "len": int(match["len"]),
        "cap": int(match["cap"]),
        "closed": match["closed"] is not None,
        "senders": sorted(int(g) for g in (match["senders"] or "").split()),
        "receivers": sorted(int(g) for g in (match["receivers"] or "").split()),
        "elems": match["elems"],
    }
    want = {
        "type": facts["type"],
        "len": facts["len"],
        "cap": facts["cap"],
        "closed": facts["closed"],
        "senders": sorted(facts.get("senders", [])),
        "receivers": sorted(facts.get("receivers", [])),
        "elems": _go_text(facts["elems"]) if facts.get("elems") else None,
    }
    return [] if got == want else [f"{label}: {name}: {got} != {want}"]


def _iface_text(name: str, facts: dict[str, Any]) -> str:
    if facts.get("nil"):
        return "nil"
    static = STATIC_TYPES.get(name, "interface {}")
    dynamic = facts["type"]
    if name == "pathErr":
        # *fs.PathError is io/fs.PathError in DWARF; its Err is a syscall.Errno.
        errno = f"error({facts['errno_type']}) {facts['errno']}"
        fields = f"Op = {_go_text(facts['op'])}, Path = {_go_text(facts['path'])}, Err = {errno}"
        return f"{static}({dynamic}) &{{{fields}}}"
    value = facts["value"]
    if name == "err":
        shown = f"&{{s = {_go_text(value)}}}"  # errors.New's *errorString holds the text in s
    elif dynamic.startswith("*"):
        shown = "&" + _go_text(value)
    elif dynamic.startswith("[]"):
        shown = f"{dynamic} len {len(value)} cap {len(value)} = {_go_text(value)}"
    else:
        shown = _go_text(value)
    return f"{static}({dynamic}) {shown}"


def _function_value(key: str, facts: dict[str, Any]) -> str:
    what, name = key.split()
    if what == "dtype":
        dynamic = facts["ifaces"][name]
        return _go_text(dynamic["type"] if dynamic["type"] is not None else "nil")
    for group in ("slices", "maps", "chans"):
        if name in facts[group]:
            return str(facts[group][name][what])
    if name in facts["arrays"]:
        return str(len(facts["arrays"][name]["elems"]))
    return str(len(facts["strings"][name].encode()))


def check(session: Session) -> list[str]:
    label, run = session.label, session.gdb
    assert_clean(run)
    facts = session.facts()
    problems: list[str] = []
    if session.autoload:
        if "Loading Go Runtime support." not in run.output:
            problems.append(f"{label}: runtime-gdb.py was not auto-loaded:\n{run.describe()}")
        names = ("str", "capSlice", "smallMap", "buffered", "err", "done")
    else:
        names = STRINGS + SLICES + ARRAYS + MAPS + CHANS + IFACES + (FUNCTIONS[0][1],)
    for name, following in zip(names, names[1:]):
        text = session.printed(name, following)
        if name in STRINGS:
            want = _go_text(facts["strings"][name])
        elif name in SLICES:
            want = _slice_text(facts["slices"][name])
        elif name in ARRAYS:
            array = facts["arrays"][name]
            want = f"{array['type']} = {_go_text(array['elems'])}"
        elif name in MAPS:
            problems += _map_problems(label, name, facts["maps"][name], text)
            continue
        elif name in CHANS:
            problems += _chan_problems(label, name, facts["chans"][name], text)
            continue
        else:
            want = _iface_text(name, facts["ifaces"][name])
        if text != want:
            problems.append(f"{label}: {name}: {text!r} != {want!r}")
    if session.autoload:
        return problems

    for name, following in (("largeMap", "limit largeStrMap"), ("largeStrMap", CORRUPT[0][0])):
        body = run.between(_marker(f"limit {name}"), _marker(following)).strip()
        match = re.fullmatch(r"\$\d+ = (.*)", body, re.S)
        if match is None:
            problems.append(f"{label}: {name} limited: not a printed value: {body!r}")
            continue
        problems += _limited_map_problems(label, name, facts["maps"][name], match.group(1))

    corrupt = [name for name, _ in CORRUPT] + ["bad 0"]
    for name, following in zip(corrupt, corrupt[1:]):
        body = run.between(_marker(name), _marker(following)).strip()
        kind = "map[string]int" if name.startswith("badMap") else "chan int"
        # largeMap read as map[string]int: keys are ints read as strings, which may or may not
        # be readable; only the type and a clean end are certain.
        marked = "<error" in body or name == "badMapKind"
        if not body.partition(" = ")[2].startswith(kind + " ") or not marked:
            problems.append(f"{label}: {name}: no error marker in {body[:300]!r}")

    keys = [key for _, key in FUNCTIONS]
    for key, following in zip(keys, keys[1:] + ["limit largeMap"]):
        body = run.between(_marker(key), _marker(following)).strip()
        want = _function_value(key, facts)
        if re.fullmatch(r"\$\d+ = " + re.escape(want), body) is None:
            problems.append(f"{label}: {key}: {body!r}, expected {want}")
    # GDB writes errors to stderr: one line per bad call, naming the function.
    errors = [line for line in run.stderr.splitlines() if line.startswith("$go_")]
    wanted = [expression.partition("(")[0] + ":" for expression in BAD_CALLS]
    if [line.partition(" ")[0] for line in errors] != wanted:
        problems.append(f"{label}: errors of {list(BAD_CALLS)}: {errors}")
    return problems


def test_printers(toolchain: Toolchain, fixture_matrix: list[Fixture]) -> None:
    """Every value of the printers fixture, in the default, noopt and pie builds, and once with
    runtime-gdb.py auto-loaded."""
    fixtures = [
        f for f in fixture_matrix if f.program == "printers" and f.toolchain.name == toolchain.name
    ]
    assert {f.variant for f in fixtures} == VARIANTS, [f.id for f in fixtures]
    jobs = [lambda fx=fx: _session(fx, autoload=False) for fx in fixtures]
    default = next(f for f in fixtures if f.variant == "default")
    jobs.append(lambda: _session(default, autoload=True))
    sessions = in_parallel(jobs, workers=4)
    problems = [p for session in sessions for p in check(session)]
    assert not problems, "\n".join(problems)
