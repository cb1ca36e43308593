"""A corpus of hostile inputs for goscope, made from real fixture cores.

Every input is a core (or something given as one) and an executable, derived deterministically
(seeded) from the cores of the ``crash``, ``panics`` and ``deadlocks`` fixtures of three
toolchains (the oldest and newest supported, and go1.24.11), default and stripped variants:

- truncations: inside the ELF header, the program headers, the notes and the heap, at 1/4,
  1/2 and 3/4 of the file and one byte short;
- fields of the runtime's structures overwritten: ``g`` (status, stack bounds, ``sched.sp`` and
  ``sched.pc``, ``_defer``, ``_panic``, ``waiting``, ``goid``, ``labels``), ``m`` (``curg``,
  ``alllink``), ``sched`` (run queue) and the ``allgs`` slice header, ``_defer`` (``link``,
  ``fn``), ``_panic`` (``link``, ``arg``), ``sudog`` (``waitlink``, ``next``, ``c``),
  ``hchan`` (``buf``, ``qcount``, ``dataqsiz``, ``recvq``, ``elemtype``, ``elemsize``) and
  ``mspan`` (``startAddr``, ``npages``, ``nelems``, ``allocBits``, ``elemsize``, ``spanclass``,
  ``largeType``, ``state``), with bit flips, garbage, and wild pointers (unmapped,
  non-canonical, misaligned);
- cycles: a ``_defer`` and a ``_panic`` linked to itself, a rangefunc ``_defer`` whose inner
  list starts with itself, a ``sudog`` wait list, a channel's
  wait queue and a semaphore treap looping, ``allm`` looping, a span's specials list looping;
- whole structures random (a ``g``, an ``m``, a ``p``, ``runtime.sched``, a ``_defer``, a
  ``_panic``, a ``sudog``, an ``hchan``, an ``mspan``), random bytes over a goroutine's
  saved stack, its pprof labels, and 64 KiB of ``g`` records; thousands of single-bit flips
  over the heap and over the data and bss;
- garbage thread registers in ``NT_PRSTATUS``, random ``NT_SIGINFO`` and ``NT_AUXV``, an
  ``NT_FILE`` claiming 2^40 mappings, all notes random; a program header pointing past the end
  of the file, 65,535 program headers;
- a core paired with another program's executable, another Go version's, another variant's;
- a C program's core (SIGSEGV) with its own executable and with a Go one, a Go core with the C
  executable; a zero-filled file the size of a core; random bytes behind an ELF core header,
  and behind a real core's headers.

Each mutation of a runtime structure is applied to two source cores of two toolchains; one of
the file's layout to one (the toolchain rotating). Where only one goroutine is damaged, the
input names it (``victim``): the others must read as in the undamaged core.

Structures are located with the fixture's symbol table (parsed here), the goroutine and M
addresses goscope reports for the *undamaged* core, and the field offsets
``Target.layout_offset`` gives; the bytes are patched here, in a sparse copy of the core.

The corpus is written once per content digest (this file, the seed and the fixtures' inputs) to
``build/hostile/<digest>/`` with a ``manifest.json``; concurrent test workers share it.
``python3 -m tests.harness.hostile`` builds it and lists it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tests.harness.capture import capture
from tests.harness.fixture import Fixture
from tests.harness.paths import REPO_ROOT, file_lock

SEED = 0x6F5C09E
PROGRAMS = ("crash", "panics", "deadlocks")
VARIANTS = ("default", "stripped")
#: How many sources (each of another toolchain) a mutation of the runtime's structures is
#: applied to; those of the file's layout (truncations, notes, headers, executables) to one,
#: the toolchain rotating from one mutation to the next.
PER_MUTATION = 2
FILE_KINDS = ("truncate", "notes", "elf", "mismatch", "heap")
ROOT = REPO_ROOT / "build" / "hostile"

PAGE = 8192
UNMAPPED = 0x0000_5A5A_0000_1000  # canonical, never mapped by a Go program on linux/amd64
NONCANONICAL = 0xDEAD_BEEF_0BAD_F00D
GARBAGE = 0xFFFF_FFFF_FFFF_FFFF

PT_LOAD = 1
PT_NOTE = 4
NT_PRSTATUS = 1
NT_AUXV = 6
NT_SIGINFO = 0x53494749
NT_FILE = 0x46494C45


class NotApplicable(Exception):
    """The source core has no instance of the structure a mutation damages."""


# -- the corpus's entries ---------------------------------------------------------------------


@dataclass(frozen=True)
class HostileInput:
    """One hostile input: a core (or a file given as one) and the executable to read it with."""

    name: str  # "g.sched.sp.unmapped@go1.24.11-crash-default"
    kind: str  # the family: truncate, g, m, sched, defer, panic, sudog, hchan, mspan, ...
    mutation: str  # "g.sched.sp.unmapped"
    core: Path
    exe: Path
    source: str | None  # the fixture id the input was made from
    why: int  # an address for `heap --why`: goroutine 1's g in the undamaged core
    victim: int | None  # the only goroutine damaged: the others must read as before
    is_core: bool  # the file starts with an ELF core header
    note: str  # what was done, with addresses

    def to_json(self) -> dict[str, Any]:
        value = dataclasses.asdict(self)
        value["core"] = str(self.core)
        value["exe"] = str(self.exe)
        return value

    @staticmethod
    def from_json(value: dict[str, Any]) -> HostileInput:
        return HostileInput(**{**value, "core": Path(value["core"]), "exe": Path(value["exe"])})


@dataclass
class Damage:
    """What a mutation does to a copy of a source core."""

    note: str
    patches: list[tuple[int, bytes]] = field(default_factory=list)  # memory address, bytes
    file_patches: list[tuple[int, bytes]] = field(default_factory=list)  # file offset, bytes
    truncate: int | None = None  # keep this many bytes
    exe: Path | None = None  # another executable (the core is then used as it is)
    victim: int | None = None


# -- reading an ELF core without goscope ------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int
    memsz: int


class CoreFile:
    """The program headers, notes and memory of an ELF64 little-endian core."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        with open(path, "rb") as f:
            self.header = f.read(64)
            (self.phoff,) = struct.unpack_from("<Q", self.header, 0x20)
            self.phentsize, self.phnum = struct.unpack_from("<HH", self.header, 0x36)
            f.seek(self.phoff)
            table = f.read(self.phentsize * self.phnum)
        self.loads: list[Segment] = []
        self.note: tuple[int, int] = (0, 0)
        for i in range(self.phnum):
            p_type, _, offset, vaddr, _, filesz, memsz = struct.unpack_from(
                "<IIQQQQQ", table, i * self.phentsize
            )
            if p_type == PT_LOAD:
                self.loads.append(Segment(vaddr, offset, filesz, memsz))
            elif p_type == PT_NOTE:
                self.note = (offset, filesz)

    def phdr_offset(self, index: int) -> int:
        return self.phoff + index * self.phentsize

    def segment_at(self, addr: int) -> Segment | None:
        for seg in self.loads:
            if seg.vaddr <= addr < seg.vaddr + seg.filesz:
                return seg
        return None

    def file_offset(self, addr: int, size: int) -> int:
        seg = self.segment_at(addr)
        if seg is None or addr + size > seg.vaddr + seg.filesz:
            raise NotApplicable(f"{addr:#x}+{size} is not in the core's segments")
        return seg.offset + addr - seg.vaddr

    def read(self, addr: int, size: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.file_offset(addr, size))
            return f.read(size)

    def u64(self, addr: int) -> int:
        return int(struct.unpack("<Q", self.read(addr, 8))[0])

    def notes(self) -> Iterator[tuple[int, int, int]]:
        """``(type, descriptor file offset, descriptor size)`` of each note."""
        offset, size = self.note
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        at = 0
        while at + 12 <= len(data):
            namesz, descsz, kind = struct.unpack_from("<III", data, at)
            desc = at + 12 + (namesz + 3) // 4 * 4
            yield kind, offset + desc, descsz
            at = desc + (descsz + 3) // 4 * 4


def elf_symbols(binary: Path) -> dict[str, tuple[int, int]]:
    """``name -> (address, size)`` from the ``.symtab`` of an ELF64 little-endian file (empty
    when it has none, as in a stripped build)."""
    data = binary.read_bytes()
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    result: dict[str, tuple[int, int]] = {}
    for _name, sh_type, _f, _a, offset, size, link, _i, _al, entsize in sections:
        if sh_type != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link][4]
        for at in range(offset, offset + size, entsize or 24):
            st_name, _info, _other, _shndx, value, st_size = struct.unpack_from("<IBBHQQ", data, at)
            start = strtab + st_name
            name = data[start : data.index(b"\0", start)].decode(errors="replace")
            result[name] = (value, st_size)
    return result


def sparse_copy(src: Path, dst: Path, length: int | None = None) -> None:
    """Copies the first `length` bytes (all by default) of `src`, keeping its holes."""
    size = src.stat().st_size if length is None else length
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fd = fin.fileno()
        at = 0
        while at < size:
            try:
                data = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:  # no data after `at`
                break
            if data >= size:
                break
            hole = min(os.lseek(fd, data, os.SEEK_HOLE), size)
            fin.seek(data)
            fout.seek(data)
            remaining = hole - data
            while remaining:
                chunk = fin.read(min(remaining, 1 << 20))
                fout.write(chunk)
                remaining -= len(chunk)
            at = hole
        fout.truncate(size)


# -- a source core and what is known about it -------------------------------------------------


class Source:
    """A fixture core, with the runtime's structures goscope finds in it (undamaged)."""

    def __init__(self, fx: Fixture) -> None:
        from goscope import Target

        assert fx.core is not None
        self.fx = fx
        self.core = CoreFile(fx.core)
        self.target = Target.open_core(str(fx.core), str(fx.bin))
        self.goroutines: list[dict[str, Any]] = json.loads(
            self.target.goroutines_json(with_stacks=False)
        )["goroutines"]
        self.ms: list[dict[str, Any]] = json.loads(self.target.ms_json())
        self.symbols = elf_symbols(fx.bin)

    @property
    def id(self) -> str:
        return self.fx.id

    def off(self, ty: str, name: str) -> int:
        value = self.target.layout_offset(ty, name)
        if value is None:
            raise NotApplicable(f"no {ty}.{name} in {self.fx.toolchain.name}")
        return int(value)

    def symbol(self, name: str) -> int:
        if name not in self.symbols:
            raise NotApplicable(f"no symbol {name} (stripped?)")
        return self.symbols[name][0]

    def gp(self, goid: int) -> int:
        for g in self.goroutines:
            if g.get("id") == goid and g.get("gp"):
                return int(g["gp"])
        raise NotApplicable(f"no goroutine {goid}")

    def field(self, gp: int, ty: str, name: str) -> int:
        return self.core.u64(gp + self.off(ty, name))

    def waiting(self, rng: random.Random, reason: str | None = None) -> dict[str, Any]:
        """A parked goroutine (with the wait reason, if given)."""
        chosen = [
            g
            for g in self.goroutines
            if g.get("status") == "waiting" and g.get("gp") and g.get("id") != 1
            if reason is None or g.get("wait_reason") == reason
        ]
        if not chosen:
            raise NotApplicable(f"no goroutine waiting on {reason}")
        return chosen[rng.randrange(len(chosen))]

    def with_field(
        self, rng: random.Random, name: str, reasons: Sequence[str] = ()
    ) -> dict[str, Any]:
        """A goroutine whose ``g.<name>`` is set, preferring the given wait reasons."""
        found = [
            g for g in self.goroutines if g.get("gp") and self.field(g["gp"], "runtime.g", name)
        ]
        preferred = [g for g in found if g.get("wait_reason") in reasons]
        pool = preferred or [g for g in found if g.get("status") == "waiting"] or found
        if not pool:
            raise NotApplicable(f"no goroutine with g.{name} set")
        return pool[rng.randrange(len(pool))]

    def spans(self) -> list[int]:
        mheap = self.symbol("runtime.mheap_")
        allspans = mheap + self.off("runtime.mheap", "allspans")
        array, length = self.core.u64(allspans), self.core.u64(allspans + 8)
        return [self.core.u64(array + 8 * i) for i in range(length)]

    def span_of(self, addr: int) -> int:
        start = self.off("runtime.mspan", "startAddr")
        npages = self.off("runtime.mspan", "npages")
        for span in self.spans():
            if not span:
                continue
            base = self.core.u64(span + start)
            if base <= addr < base + self.core.u64(span + npages) * PAGE:
                return span
        raise NotApplicable(f"no span holds {addr:#x}")


def u64(value: int) -> bytes:
    return struct.pack("<Q", value & GARBAGE)


# -- mutations --------------------------------------------------------------------------------

Mutate = Callable[[Source, random.Random], Damage]


@dataclass(frozen=True)
class Mutation:
    name: str
    kind: str
    make: Mutate
    #: The input shows whether one goroutine's damage leaves the others readable.
    partial: bool = False


def g_field(
    name: str, value: Callable[[int, int], int], width: int = 8, reason: str | None = None
) -> Mutate:
    """Overwrite ``g.<name>`` of a parked goroutine; `value(old, gp)` gives the new value."""

    def make(src: Source, rng: random.Random) -> Damage:
        g = src.waiting(rng, reason)
        gp, goid = int(g["gp"]), int(g["id"])
        addr = gp + src.off("runtime.g", name)
        old = int.from_bytes(src.core.read(addr, width), "little")
        new = value(old, gp) & ((1 << (8 * width)) - 1)
        note = f"goroutine {goid} g={gp:#x}: g.{name} {old:#x} -> {new:#x}"
        return Damage(note, [(addr, new.to_bytes(width, "little"))], victim=goid)

    return make


def g_stack(lo: Callable[[int, int], int], hi: Callable[[int, int], int]) -> Mutate:
    def make(src: Source, rng: random.Random) -> Damage:
        g = src.waiting(rng)
        gp, goid = int(g["gp"]), int(g["id"])
        a, b = src.off("runtime.g", "stack.lo"), src.off("runtime.g", "stack.hi")
        old_lo, old_hi = src.core.u64(gp + a), src.core.u64(gp + b)
        new_lo, new_hi = lo(old_lo, old_hi), hi(old_lo, old_hi)
        note = f"goroutine {goid}: stack [{old_lo:#x},{old_hi:#x}) -> [{new_lo:#x},{new_hi:#x})"
        return Damage(note, [(gp + a, u64(new_lo)), (gp + b, u64(new_hi))], victim=goid)

    return make


def g_pointer_field(
    name: str, value: Callable[[int, int], int], reasons: Sequence[str] = ()
) -> Mutate:
    """Overwrite ``g.<name>`` of a goroutine where it is set (``_defer``, ``_panic``, ...)."""

    def make(src: Source, rng: random.Random) -> Damage:
        g = src.with_field(rng, name, reasons)
        gp, goid = int(g["gp"]), int(g["id"])
        addr = gp + src.off("runtime.g", name)
        old = src.core.u64(addr)
        new = value(old, gp)
        return Damage(
            f"goroutine {goid}: g.{name} {old:#x} -> {new:#x}", [(addr, u64(new))], victim=goid
        )

    return make


def chained(
    g_name: str,
    ty: str,
    name: str,
    value: Callable[[int, Source], int],
    reasons: Sequence[str] = (),
    width: int = 8,
    via: Sequence[tuple[str, str]] = (),
) -> Mutate:
    """Overwrite a field of the record ``g.<g_name>`` points to (then along `via`: a list of
    ``(type, field)`` pointers to follow), e.g. ``g._defer.link``, ``g.waiting.c.buf``."""

    def make(src: Source, rng: random.Random) -> Damage:
        g = src.with_field(rng, g_name, reasons)
        gp, goid = int(g["gp"]), int(g["id"])
        record = src.field(gp, "runtime.g", g_name)
        path = f"g.{g_name}"
        for via_ty, via_name in via:
            record = src.core.u64(record + src.off(via_ty, via_name))
            path += f".{via_name}"
            if not record:
                raise NotApplicable(f"goroutine {goid}: {path} is nil")
        addr = record + src.off(ty, name)
        old = int.from_bytes(src.core.read(addr, width), "little")
        new = value(record, src) & ((1 << (8 * width)) - 1)
        note = f"goroutine {goid}: {path}={record:#x} .{name} {old:#x} -> {new:#x}"
        return Damage(note, [(addr, new.to_bytes(width, "little"))], victim=goid)

    return make


def rangefunc_cycle(src: Source, rng: random.Random) -> Damage:
    """A pending ``_defer`` made a rangefunc record (go1.23+) whose ``head`` list starts with
    the record itself: reading the list inside the list, for ever, unless the reader keeps
    one set of the records read over both."""
    g = src.with_field(rng, "_defer")
    gp, goid = int(g["gp"]), int(g["id"])
    record = src.field(gp, "runtime.g", "_defer")
    flag = src.off("runtime._defer", "rangefunc")
    head = src.off("runtime._defer", "head")
    link = src.off("runtime._defer", "link")
    note = (
        f"goroutine {goid}: _defer {record:#x} made a rangefunc record whose head list "
        f"starts with itself"
    )
    patches = [
        (record + flag, b"\x01"),
        (record + head, u64(record + link)),
        (record + link, u64(record)),
    ]
    return Damage(note, patches, victim=goid)


def eface_of_panic(part: int, value: int) -> Mutate:
    """Overwrite the type (part 0) or data (part 1) word of the first panic's value."""

    def make(src: Source, rng: random.Random) -> Damage:
        g = src.with_field(rng, "_panic")
        gp, goid = int(g["gp"]), int(g["id"])
        record = src.field(gp, "runtime.g", "_panic")
        addr = record + src.off("runtime._panic", "arg") + 8 * part
        old = src.core.u64(addr)
        word = ("type", "data")[part]
        note = f"goroutine {goid}: _panic {record:#x} arg.{word} {old:#x} -> {value:#x}"
        return Damage(note, [(addr, u64(value))], victim=goid)

    return make


def m_field(name: str, value: Callable[[int, int, Source], int], need_set: bool = True) -> Mutate:
    def make(src: Source, rng: random.Random) -> Damage:
        off = src.off("runtime.m", name)
        ms = [m for m in src.ms if not need_set or src.core.u64(int(m["addr"]) + off)]
        ms = [m for m in ms if src.core.segment_at(int(m["addr"]) + off)]
        if not ms:
            raise NotApplicable(f"no m with {name} set")
        m = ms[rng.randrange(len(ms))]
        addr = int(m["addr"]) + off
        old = src.core.u64(addr)
        new = value(old, int(m["addr"]), src)
        return Damage(
            f"m{m['id']} {m['addr']:#x}: m.{name} {old:#x} -> {new:#x}", [(addr, u64(new))]
        )

    return make


def allm_cycle(src: Source, rng: random.Random) -> Damage:
    """The last M of the ``allm`` list links back to the first."""
    off = src.off("runtime.m", "alllink")
    addrs = {int(m["addr"]) for m in src.ms}
    linked = {src.core.u64(a + off) for a in addrs}
    heads = sorted(addrs - linked)
    tails = sorted(a for a in addrs if src.core.u64(a + off) == 0)
    if not heads or not tails:
        raise NotApplicable("allm has no head or tail")
    return Damage(
        f"m {tails[0]:#x}.alllink -> head {heads[0]:#x}", [(tails[0] + off, u64(heads[0]))]
    )


def sched_field(names: Sequence[str], value: Callable[[int], int], width: int = 8) -> Mutate:
    def make(src: Source, rng: random.Random) -> Damage:
        sched = src.symbol("runtime.sched")
        for name in names:
            off = src.target.layout_offset("runtime.schedt", name)
            if off is not None:
                break
        else:
            raise NotApplicable(f"no schedt.{names[0]}")
        addr = sched + off
        old = int.from_bytes(src.core.read(addr, width), "little")
        new = value(old) & ((1 << (8 * width)) - 1)
        return Damage(f"sched.{name} {old:#x} -> {new:#x}", [(addr, new.to_bytes(width, "little"))])

    return make


def allgs(value: Callable[[int, int, int], tuple[int, int, int]]) -> Mutate:
    def make(src: Source, rng: random.Random) -> Damage:
        addr = src.symbol("runtime.allgs")
        old = struct.unpack("<QQQ", src.core.read(addr, 24))
        new = value(*old)
        note = f"allgs {tuple(map(hex, old))} -> {tuple(map(hex, new))}"
        return Damage(note, [(addr, b"".join(u64(x) for x in new))])

    return make


def allgs_flipped(src: Source, rng: random.Random) -> Damage:
    addr = src.symbol("runtime.allgs")
    old = src.core.read(addr, 24)
    return Damage("allgs header: every bit flipped", [(addr, bytes(b ^ 0xFF for b in old))])


def span_field(
    name: str,
    value: Callable[[int, int], int],
    width: int = 8,
    also: Sequence[tuple[str, int, int]] = (),
) -> Mutate:
    """Overwrite a field of the span holding goroutine 1's ``g`` (and fields `also`:
    ``(name, width, value)``)."""

    def make(src: Source, rng: random.Random) -> Damage:
        span = src.span_of(src.gp(1))
        patches = []
        notes = []
        for fname, fwidth, fvalue in [(name, width, -1), *also]:
            addr = span + src.off("runtime.mspan", fname)
            old = int.from_bytes(src.core.read(addr, fwidth), "little")
            new = (value(old, span) if fvalue == -1 else fvalue) & ((1 << (8 * fwidth)) - 1)
            patches.append((addr, new.to_bytes(fwidth, "little")))
            notes.append(f".{fname} {old:#x} -> {new:#x}")
        return Damage(f"mspan {span:#x}" + ", ".join(notes), patches)

    return make


def specials_cycle(src: Source, rng: random.Random) -> Damage:
    """The specials list of the span holding goroutine 1's ``g`` starts at the span's own
    ``specials`` field, whose first word (``special.next``) is that same address: a loop."""
    span = src.span_of(src.gp(1))
    addr = span + src.off("runtime.mspan", "specials")
    if src.off("runtime.special", "next") != 0:
        raise NotApplicable("special.next is not the first field")
    return Damage(f"mspan {span:#x}.specials -> {addr:#x} (itself)", [(addr, u64(addr))])


def heap_random(src: Source, rng: random.Random) -> Damage:
    """64 KiB of random bytes from the page holding a parked goroutine's ``g``."""
    g = src.waiting(rng)
    start = int(g["gp"]) & ~(PAGE - 1)
    size = 64 << 10
    seg = src.core.segment_at(start)
    if seg is None:
        raise NotApplicable("g not in the core")
    size = min(size, seg.vaddr + seg.filesz - start)
    return Damage(f"{size} random bytes at {start:#x}", [(start, rng.randbytes(size))])


def heap_arena_ones(src: Source, rng: random.Random) -> Damage:
    """The whole segment holding goroutine 1's ``g`` (the first heap arena, goroutine stacks
    included) filled with 0xff bytes: every return address read there is all ones, where
    GDB's own guesses walk a word at a time through megabytes."""
    del rng
    seg = src.core.segment_at(src.gp(1))
    if seg is None:
        raise NotApplicable("no segment holds goroutine 1")
    return Damage(
        f"{seg.filesz} bytes of 0xff at {seg.vaddr:#x}", [(seg.vaddr, b"\xff" * seg.filesz)]
    )


def stack_random(src: Source, rng: random.Random) -> Damage:
    """512 random bytes over a parked goroutine's stack from its saved sp: the unwinder
    meets garbage return addresses and frame sizes."""
    g = src.waiting(rng)
    gp, goid = int(g["gp"]), int(g["id"])
    sp = src.field(gp, "runtime.g", "sched.sp")
    hi = src.field(gp, "runtime.g", "stack.hi")
    size = min(512, hi - sp)
    if size <= 0 or src.core.segment_at(sp) is None:
        raise NotApplicable("no saved stack")
    return Damage(
        f"goroutine {goid}: {size} random bytes at sp {sp:#x}",
        [(sp, rng.randbytes(size))],
        victim=goid,
    )


def labels_random(src: Source, rng: random.Random) -> Damage:
    """64 random bytes over what a goroutine's ``g.labels`` points to (the pprof label map)."""
    g = src.with_field(rng, "labels")
    gp, goid = int(g["gp"]), int(g["id"])
    labels = src.field(gp, "runtime.g", "labels")
    return Damage(
        f"goroutine {goid}: 64 random bytes at labels {labels:#x}",
        [(labels, rng.randbytes(64))],
        victim=goid,
    )


def sema_cycle(src: Source, rng: random.Random) -> Damage:
    """The first semaphore treap's root sudog is its own left and right child."""
    table = src.symbol("runtime.semtable")
    size = src.symbols["runtime.semtable"][1]
    stride = size // 251
    treap = src.off("runtime.semaRoot", "treap")
    for index in range(251):
        root = src.core.u64(table + index * stride + treap)
        if root:
            prev, nxt = src.off("runtime.sudog", "prev"), src.off("runtime.sudog", "next")
            note = f"semtable[{index}] treap {root:#x}: prev and next -> itself"
            return Damage(note, [(root + prev, u64(root)), (root + nxt, u64(root))])
    raise NotApplicable("no goroutine waits on a semaphore")


def writable_ranges(binary: Path) -> list[tuple[int, int]]:
    """The address ranges of an executable's writable PT_LOADs (its data and bss)."""
    data = binary.read_bytes()
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    ranges = []
    for i in range(phnum):
        p_type, p_flags, _, vaddr, _, _, memsz = struct.unpack_from(
            "<IIQQQQQ", data, phoff + i * phentsize
        )
        if p_type == PT_LOAD and p_flags & 2:
            ranges.append((vaddr, vaddr + memsz))
    return ranges


def bit_flips(count: int, where: Callable[[Source], list[tuple[int, int]]], what: str) -> Mutate:
    """`count` random single-bit flips in the core's bytes of the given address ranges."""

    def make(src: Source, rng: random.Random) -> Damage:
        spans = []
        for lo, hi in where(src):
            for seg in src.core.loads:
                a, b = max(lo, seg.vaddr), min(hi, seg.vaddr + seg.filesz)
                if a < b:
                    spans.append((a, b))
        total = sum(b - a for a, b in spans)
        if not total:
            raise NotApplicable(f"no {what} in the core")
        patches = []
        for _ in range(count):
            at = rng.randrange(total)
            for a, b in spans:
                if at < b - a:
                    addr = a + at
                    break
                at -= b - a
            old = src.core.read(addr, 1)[0]
            patches.append((addr, bytes([old ^ (1 << rng.randrange(8))])))
        return Damage(f"{count} bit flips in {what} ({total} bytes)", patches)

    return make


def heap_segment(src: Source) -> list[tuple[int, int]]:
    """The first MiB of the heap segment holding goroutine 1's ``g``, where the live objects
    of a small program are."""
    seg = src.core.segment_at(src.gp(1))
    if seg is None:
        raise NotApplicable("no segment holds goroutine 1")
    return [(seg.vaddr, seg.vaddr + min(seg.filesz, 1 << 20))]


def random_over(
    locate: Callable[[Source, random.Random], tuple[int, int, int | None, str]],
) -> Mutate:
    """Random bytes over a whole structure: `locate` gives its address, its size, the
    goroutine it belongs to (or None) and what it is."""

    def make(src: Source, rng: random.Random) -> Damage:
        addr, size, victim, what = locate(src, rng)
        seg = src.core.segment_at(addr)
        if seg is None:
            raise NotApplicable(f"{what} not in the core")
        size = min(size, seg.vaddr + seg.filesz - addr)
        return Damage(
            f"{what} at {addr:#x}: {size} random bytes",
            [(addr, rng.randbytes(size))],
            victim=victim,
        )

    return make


def _a_g(src: Source, rng: random.Random) -> tuple[int, int, int | None, str]:
    g = src.waiting(rng)
    return int(g["gp"]), src.off("runtime.g", "goid"), int(g["id"]), f"goroutine {g['id']}'s g"


def _an_m(src: Source, rng: random.Random) -> tuple[int, int, int | None, str]:
    ms = [m for m in src.ms if src.core.segment_at(int(m["addr"]))]
    if not ms:
        raise NotApplicable("no m")
    m = ms[rng.randrange(len(ms))]
    return int(m["addr"]), src.off("runtime.m", "alllink") + 8, None, f"m{m['id']}"


def _a_p(src: Source, rng: random.Random) -> tuple[int, int, int | None, str]:
    ps = json.loads(src.target.ps_json())
    if not ps:
        raise NotApplicable("no p")
    p = ps[rng.randrange(len(ps))]
    return int(p["addr"]), 4096, None, f"p{p['id']}"


def _the_sched(src: Source, rng: random.Random) -> tuple[int, int, int | None, str]:
    addr, size = src.symbol("runtime.sched"), src.symbols["runtime.sched"][1]
    return addr, size, None, "runtime.sched"


def _record(
    g_name: str, size: int, reasons: Sequence[str] = (), via: str | None = None
) -> Callable[[Source, random.Random], tuple[int, int, int | None, str]]:
    def locate(src: Source, rng: random.Random) -> tuple[int, int, int | None, str]:
        g = src.with_field(rng, g_name, reasons)
        record = src.field(int(g["gp"]), "runtime.g", g_name)
        what = f"goroutine {g['id']}'s g.{g_name}"
        if via is not None:
            record = src.core.u64(record + src.off("runtime.sudog", via))
            what += f".{via}"
            if not record:
                raise NotApplicable(f"{what} is nil")
        return record, size, int(g["id"]), what

    return locate


def _a_span(src: Source, rng: random.Random) -> tuple[int, int, int | None, str]:
    return src.span_of(src.gp(1)), 160, None, "the span of goroutine 1's g"


def prstatus_wild(src: Source, rng: random.Random) -> Damage:
    """The first thread's registers: pc non-canonical, sp unmapped, g (r14) misaligned,
    fs_base garbage."""
    for kind, offset, size in src.core.notes():
        if kind == NT_PRSTATUS and size >= 112 + 27 * 8:
            regs = offset + 112
            patches = [
                (regs + 8 * 16, u64(NONCANONICAL)),  # rip
                (regs + 8 * 19, u64(UNMAPPED)),  # rsp
                (regs + 8 * 1, u64(src.gp(1) + 3)),  # r14
                (regs + 8 * 21, u64(GARBAGE)),  # fs_base
            ]
            return Damage("thread 1: rip, rsp, r14 and fs_base wild", file_patches=patches)
    raise NotApplicable("no NT_PRSTATUS")


def note_desc(
    kind: int, what: str, damage: Callable[[int, int, random.Random], list[tuple[int, bytes]]]
) -> Mutate:
    """Damage the descriptor of the first note of `kind`: `damage(offset, size, rng)` gives
    the file patches."""

    def make(src: Source, rng: random.Random) -> Damage:
        for note_kind, offset, size in src.core.notes():
            if note_kind == kind and size >= 16:
                return Damage(f"{what} ({size} bytes)", file_patches=damage(offset, size, rng))
        raise NotApplicable(f"no note of type {kind:#x}")

    return make


def _random_desc(offset: int, size: int, rng: random.Random) -> list[tuple[int, bytes]]:
    return [(offset, rng.randbytes(size))]


def _huge_count(offset: int, size: int, rng: random.Random) -> list[tuple[int, bytes]]:
    return [(offset, struct.pack("<QQ", 1 << 40, 1 << 40))]


def notes_random(src: Source, rng: random.Random) -> Damage:
    offset, size = src.core.note
    return Damage(f"notes ({size} bytes) random", file_patches=[(offset, rng.randbytes(size))])


def phdr_overflow(src: Source, rng: random.Random) -> Damage:
    """The PT_LOAD holding the goroutines claims bytes far past the end of the file."""
    gp = src.gp(1)
    for index in range(src.core.phnum):
        at = src.core.phdr_offset(index)
        with open(src.core.path, "rb") as f:
            f.seek(at)
            p_type, _, _, vaddr, _, filesz = struct.unpack("<IIQQQQ", f.read(40))
        if p_type == PT_LOAD and vaddr <= gp < vaddr + filesz:
            patch = struct.pack("<QQQQ", 0x7FFF_FFFF_FFFF_0000, vaddr, vaddr, 1 << 62)
            return Damage(
                f"phdr {index}: offset and size past the end", file_patches=[(at + 8, patch)]
            )
    raise NotApplicable("no segment holds goroutine 1")


def phnum_huge(src: Source, rng: random.Random) -> Damage:
    return Damage("e_phnum 0xffff", file_patches=[(0x38, struct.pack("<H", 0xFFFF))])


def truncate(where: Callable[[CoreFile, Source], int], what: str) -> Mutate:
    def make(src: Source, rng: random.Random) -> Damage:
        length = where(src.core, src)
        return Damage(f"cut at {length} of {src.core.size} bytes ({what})", truncate=length)

    return make


def heap_cut(core: CoreFile, src: Source) -> int:
    seg = core.segment_at(src.gp(1))
    if seg is None:
        raise NotApplicable("no segment holds goroutine 1")
    return seg.offset + seg.filesz // 2


def other_exe(pick: Callable[[Source, Sequence[Fixture]], list[Fixture]]) -> Callable[..., Mutate]:
    def outer(fixtures: Sequence[Fixture]) -> Mutate:
        def make(src: Source, rng: random.Random) -> Damage:
            options = [fx for fx in pick(src, fixtures) if fx.bin.is_file()]
            if not options:
                raise NotApplicable("no other executable")
            fx = options[rng.randrange(len(options))]
            return Damage(f"executable of {fx.id}", exe=fx.bin)

        return make

    return outer


other_program = other_exe(
    lambda src, fxs: [
        f
        for f in fxs
        if f.toolchain.name == src.fx.toolchain.name
        and f.variant == src.fx.variant
        and f.program in PROGRAMS
        and f.program != src.fx.program
    ]
)
other_version = other_exe(
    lambda src, fxs: [
        f
        for f in fxs
        if f.program == src.fx.program
        and f.variant == src.fx.variant
        and f.toolchain.name != src.fx.toolchain.name
    ]
)
other_variant = other_exe(
    lambda src, fxs: [
        f
        for f in fxs
        if f.program == src.fx.program
        and f.toolchain.name == src.fx.toolchain.name
        and f.variant in VARIANTS
        and f.variant != src.fx.variant
    ]
)


def itself(record: int, src: Source) -> int:
    """A record's link field pointing at the record itself."""
    del src
    return record


def misaligned(old: int, _gp: int = 0) -> int:
    return (old or 0xC000_0000_00) + 3


def recvq_misaligned(hchan: int, src: Source) -> int:
    return misaligned(src.core.u64(hchan + src.off("runtime.hchan", "recvq.first")))


def mutations(fixtures: Sequence[Fixture]) -> list[Mutation]:
    def unmapped(*_: Any) -> int:
        return UNMAPPED

    def noncanonical(*_: Any) -> int:
        return NONCANONICAL

    def garbage(*_: Any) -> int:
        return GARBAGE

    def huge(*_: Any) -> int:
        return 0x7FFF_FFFF

    chan = ("chan receive", "chan send")
    return [
        # truncations
        Mutation("truncate.elf-header", "truncate", truncate(lambda c, s: 40, "ELF header")),
        Mutation(
            "truncate.phdrs",
            "truncate",
            truncate(lambda c, s: c.phoff + c.phentsize * c.phnum // 2, "program headers"),
        ),
        Mutation(
            "truncate.notes", "truncate", truncate(lambda c, s: c.note[0] + c.note[1] // 2, "notes")
        ),
        Mutation("truncate.heap", "truncate", truncate(heap_cut, "middle of the heap")),
        Mutation("truncate.quarter", "truncate", truncate(lambda c, s: c.size // 4, "1/4")),
        Mutation("truncate.half", "truncate", truncate(lambda c, s: c.size // 2, "1/2")),
        Mutation("truncate.3quarters", "truncate", truncate(lambda c, s: c.size * 3 // 4, "3/4")),
        Mutation("truncate.one-short", "truncate", truncate(lambda c, s: c.size - 1, "-1 byte")),
        # g
        Mutation("g.status.garbage", "g", g_field("atomicstatus", garbage, 4), partial=True),
        Mutation(
            "g.status.scanbit", "g", g_field("atomicstatus", lambda o, g: o ^ 0x1000, 4), True
        ),
        Mutation("g.stack.inverted", "g", g_stack(lambda lo, hi: hi, lambda lo, hi: lo), True),
        Mutation("g.stack.huge", "g", g_stack(lambda lo, hi: 0x1000, lambda lo, hi: 1 << 46), True),
        Mutation("g.sched.sp.unmapped", "g", g_field("sched.sp", unmapped), True),
        Mutation("g.sched.sp.misaligned", "g", g_field("sched.sp", misaligned), True),
        Mutation("g.sched.pc.noncanonical", "g", g_field("sched.pc", noncanonical), True),
        Mutation("g.sched.pc.data", "g", g_field("sched.pc", lambda o, gp: gp), True),
        Mutation("g.defer.unmapped", "g", g_pointer_field("_defer", unmapped), True),
        Mutation("g.defer.misaligned", "g", g_pointer_field("_defer", misaligned), True),
        Mutation("g.panic.noncanonical", "g", g_pointer_field("_panic", noncanonical), True),
        Mutation("g.waiting.unmapped", "g", g_pointer_field("waiting", unmapped), True),
        Mutation("g.waiting.self", "g", g_pointer_field("waiting", lambda o, gp: gp), True),
        Mutation("g.goid.duplicate", "g", g_field("goid", lambda o, gp: 1), True),
        Mutation("g.labels.self", "g", g_pointer_field("labels", lambda o, gp: gp), True),
        Mutation("g.labels.random", "g", labels_random, True),
        Mutation("stack.random", "g", stack_random, True),
        # m
        Mutation("m.curg.unmapped", "m", m_field("curg", unmapped)),
        Mutation("m.curg.misaligned", "m", m_field("curg", lambda o, m, s: o + 3)),
        Mutation("m.alllink.noncanonical", "m", m_field("alllink", noncanonical)),
        Mutation("m.alllink.cycle", "cycle", allm_cycle),
        # sched and allgs
        Mutation("sched.runq.unmapped", "sched", sched_field(["runq.head"], unmapped)),
        Mutation("sched.runqsize.huge", "sched", sched_field(["runqsize", "runq.size"], huge, 4)),
        Mutation("allgs.ptr.noncanonical", "sched", allgs(lambda p, n, c: (NONCANONICAL, n, c))),
        Mutation("allgs.len.huge", "sched", allgs(lambda p, n, c: (p, 1 << 40, 1 << 40))),
        Mutation("allgs.len.past-end", "sched", allgs(lambda p, n, c: (p, n + 4096, n + 4096))),
        Mutation("allgs.flipped", "sched", allgs_flipped),
        # _defer
        Mutation(
            "defer.link.cycle",
            "cycle",
            chained("_defer", "runtime._defer", "link", itself),
            True,
        ),
        Mutation("defer.rangefunc.head-cycle", "cycle", rangefunc_cycle, True),
        Mutation(
            "defer.fn.unmapped", "defer", chained("_defer", "runtime._defer", "fn", unmapped), True
        ),
        Mutation(
            "defer.fn.not-a-func",
            "defer",
            chained("_defer", "runtime._defer", "fn", lambda r, s: s.gp(1)),
            True,
        ),
        # _panic
        Mutation(
            "panic.link.cycle",
            "cycle",
            chained("_panic", "runtime._panic", "link", itself),
            True,
        ),
        Mutation("panic.arg.type.unmapped", "panic", eface_of_panic(0, UNMAPPED), True),
        Mutation("panic.arg.data.noncanonical", "panic", eface_of_panic(1, NONCANONICAL), True),
        # sudog
        Mutation(
            "sudog.waitlink.cycle",
            "cycle",
            chained("waiting", "runtime.sudog", "waitlink", itself, ("select",)),
            True,
        ),
        Mutation(
            "sudog.next.cycle",
            "cycle",
            chained("waiting", "runtime.sudog", "next", itself, chan),
            True,
        ),
        Mutation(
            "sudog.c.unmapped",
            "sudog",
            chained("waiting", "runtime.sudog", "c", unmapped, chan),
            True,
        ),
        # hchan
        *(
            Mutation(
                f"hchan.{name}.{how}",
                "hchan",
                chained(
                    "waiting", "runtime.hchan", fname, value, chan, via=[("runtime.sudog", "c")]
                ),
                True,
            )
            for name, fname, how, value in (
                ("buf", "buf", "unmapped", unmapped),
                ("qcount", "qcount", "huge", garbage),
                ("dataqsiz", "dataqsiz", "huge", huge),
                ("recvq", "recvq.first", "misaligned", recvq_misaligned),
                ("elemtype", "elemtype", "unmapped", unmapped),
                ("elemsize", "elemsize", "garbage", garbage),
            )
        ),
        # mspan
        Mutation("mspan.startAddr.noncanonical", "mspan", span_field("startAddr", noncanonical)),
        Mutation("mspan.npages.huge", "mspan", span_field("npages", lambda o, s: 1 << 40)),
        Mutation("mspan.nelems.max", "mspan", span_field("nelems", garbage, 2)),
        Mutation("mspan.allocBits.unmapped", "mspan", span_field("allocBits", unmapped)),
        Mutation("mspan.elemsize.zero", "mspan", span_field("elemsize", lambda o, s: 0)),
        Mutation("mspan.elemsize.huge", "mspan", span_field("elemsize", lambda o, s: 1 << 44)),
        Mutation("mspan.spanclass.garbage", "mspan", span_field("spanclass", garbage, 1)),
        Mutation(
            "mspan.largeType.unmapped",
            "mspan",
            span_field("largeType", unmapped, also=[("spanclass", 1, 0)]),
        ),
        Mutation("mspan.state.garbage", "mspan", span_field("state", lambda o, s: 0x7F, 1)),
        Mutation("mspan.specials.cycle", "cycle", specials_cycle),
        # raw memory, notes and headers
        Mutation("sema.treap.cycle", "cycle", sema_cycle),
        Mutation("heap.random", "heap", heap_random),
        Mutation("heap.arena.ones", "heap", heap_arena_ones),
        # whole structures random
        Mutation("random.g", "random", random_over(_a_g), True),
        Mutation("random.m", "random", random_over(_an_m)),
        Mutation("random.p", "random", random_over(_a_p)),
        Mutation("random.sched", "random", random_over(_the_sched)),
        Mutation("random.defer", "random", random_over(_record("_defer", 64)), True),
        Mutation("random.panic", "random", random_over(_record("_panic", 64)), True),
        Mutation("random.sudog", "random", random_over(_record("waiting", 96, ("select",))), True),
        Mutation(
            "random.hchan",
            "random",
            random_over(_record("waiting", 96, ("chan receive", "chan send"), "c")),
            True,
        ),
        Mutation("random.mspan", "random", random_over(_a_span)),
        Mutation("flips.heap", "flips", bit_flips(3000, heap_segment, "the heap")),
        Mutation(
            "flips.data",
            "flips",
            bit_flips(300, lambda src: writable_ranges(src.fx.bin), "the data and bss"),
        ),
        Mutation("notes.prstatus.wild", "notes", prstatus_wild),
        Mutation("notes.random", "notes", notes_random),
        Mutation(
            "notes.ntfile.huge",
            "notes",
            note_desc(NT_FILE, "NT_FILE: 2^40 mappings of 2^40-byte pages", _huge_count),
        ),
        Mutation(
            "notes.siginfo.random",
            "notes",
            note_desc(NT_SIGINFO, "NT_SIGINFO random", _random_desc),
        ),
        Mutation("notes.auxv.random", "notes", note_desc(NT_AUXV, "NT_AUXV random", _random_desc)),
        Mutation("elf.phdr.overflow", "elf", phdr_overflow),
        Mutation("elf.phnum.huge", "elf", phnum_huge),
        # another executable
        Mutation("mismatch.program", "mismatch", other_program(fixtures)),
        Mutation("mismatch.version", "mismatch", other_version(fixtures)),
        Mutation("mismatch.variant", "mismatch", other_variant(fixtures)),
    ]


# -- inputs made from nothing but a header, and from a C program --------------------------------

C_PROGRAM = r"""
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *idle(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, idle, NULL);
    usleep(10000);
    printf("crashing\n");
    fflush(stdout);
    volatile int *nowhere = (volatile int *)16;
    return *nowhere;
}
"""


def c_core(work: Path) -> tuple[Path, Path]:
    """A C program (two threads) that dies of SIGSEGV, built with gcc; its binary and core."""
    work.mkdir(parents=True, exist_ok=True)
    source = work / "crasher.c"
    source.write_text(C_PROGRAM)
    binary = work / "crasher"
    subprocess.run(
        ["gcc", "-O0", "-g", "-pthread", "-o", str(binary), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = capture([str(binary)], work / "run", timeout=60)
    if result.signal != "SIGSEGV":
        raise RuntimeError(f"the C program died of {result.signal}, not SIGSEGV")
    return binary, Path(result.core)


def elf_core_header(phnum: int) -> bytes:
    """An ELF64 little-endian x86-64 ET_CORE header whose program headers follow it."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)


def is_core(path: Path) -> bool:
    with open(path, "rb") as f:
        header = f.read(18)
    return len(header) == 18 and header[:4] == b"\x7fELF" and header[16:18] == b"\x04\x00"


# -- building the corpus ------------------------------------------------------------------------


def chosen_toolchains(fixtures: Sequence[Fixture]) -> list[str]:
    """go1.21.13, go1.24.11 and the newest toolchain with fixtures (those present)."""

    def version(name: str) -> tuple[int, ...]:
        return tuple(int(x) for x in name[2:].split(".") if x.isdigit())

    names = sorted({fx.toolchain.name for fx in fixtures}, key=version)
    wanted = ["go1.21.13", "go1.24.11", names[-1]] if names else []
    return [name for i, name in enumerate(wanted) if name in names and name not in wanted[:i]]


def source_fixtures(fixtures: Sequence[Fixture]) -> list[Fixture]:
    toolchains = chosen_toolchains(fixtures)
    return sorted(
        (
            fx
            for fx in fixtures
            if fx.toolchain.name in toolchains
            and fx.program in PROGRAMS
            and fx.variant in VARIANTS
            and fx.core is not None
        ),
        key=lambda fx: fx.id,
    )


def digest(fixtures: Sequence[Fixture]) -> str:
    """What the corpus depends on: this file, the seed and the source fixtures' inputs."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(f"{SEED}:{PER_MUTATION}".encode())
    for fx in source_fixtures(fixtures):
        h.update(f"{fx.id}:{fx.meta_json().get('inputs_hash')}".encode())
    return h.hexdigest()[:16]


def _apply(src: Source, damage: Damage, path: Path) -> None:
    assert src.fx.core is not None
    sparse_copy(src.fx.core, path, damage.truncate)
    with open(path, "r+b") as f:
        for offset, data in damage.file_patches:
            f.seek(offset)
            f.write(data)
        for addr, data in damage.patches:
            f.seek(src.core.file_offset(addr, len(data)))
            f.write(data)


def generate(fixtures: Sequence[Fixture], work: Path, final: Path) -> list[HostileInput]:
    """Writes every input into `work` (which will be renamed `final`); returns them."""
    toolchains = chosen_toolchains(fixtures)
    sources = source_fixtures(fixtures)
    if not toolchains or not sources:
        raise RuntimeError("no crash, panics or deadlocks fixture cores to make inputs from")
    opened: dict[str, Source] = {}
    inputs: list[HostileInput] = []

    def source(fx: Fixture) -> Source:
        if fx.id not in opened:
            opened[fx.id] = Source(fx)
        return opened[fx.id]

    for index, mutation in enumerate(mutations(fixtures)):
        order = random.Random(f"{SEED}:{mutation.name}")
        shift = index % len(toolchains)
        wanted = 1 if mutation.kind in FILE_KINDS else PER_MUTATION
        taken = 0
        for toolchain in toolchains[shift:] + toolchains[:shift]:
            if taken == wanted:
                break
            candidates = [fx for fx in sources if fx.toolchain.name == toolchain]
            order.shuffle(candidates)
            for fx in candidates:
                src = source(fx)
                try:
                    damage = mutation.make(src, random.Random(f"{SEED}:{mutation.name}:{fx.id}"))
                except NotApplicable:
                    continue
                name = f"{mutation.name}@{fx.id}"
                assert fx.core is not None
                if damage.exe is not None:
                    core, exe = fx.core, damage.exe
                else:
                    _apply(src, damage, work / f"{name}.core")
                    core, exe = final / f"{name}.core", fx.bin
                inputs.append(
                    HostileInput(
                        name=name,
                        kind=mutation.kind,
                        mutation=mutation.name,
                        core=core,
                        exe=exe,
                        source=fx.id,
                        why=src.gp(1),
                        victim=damage.victim if mutation.partial else None,
                        is_core=is_core(work / f"{name}.core") if damage.exe is None else True,
                        note=damage.note,
                    )
                )
                taken += 1
                break
        if taken == 0:
            raise RuntimeError(f"mutation {mutation.name} applies to no source core")

    # Inputs that are not made from one Go core.
    newest = next(
        fx
        for fx in reversed(sources)
        if fx.toolchain.name == toolchains[-1] and fx.program == "crash" and fx.variant == "default"
    )
    assert newest.core is not None
    c_binary, core = c_core(work / "cprog")
    c_final = final / "cprog"
    c_core_final = c_final / core.relative_to(work / "cprog")
    rng = random.Random(f"{SEED}:garbage")
    zeros = work / "garbage.zeros.core"
    with open(zeros, "wb") as f:
        f.truncate(newest.core.stat().st_size)
    random_elf = work / "garbage.elf-random.core"
    random_elf.write_bytes(elf_core_header(rng.randrange(1, 64)) + rng.randbytes(256 << 10))
    real_headers = work / "garbage.real-headers.core"
    header = CoreFile(newest.core)
    with open(newest.core, "rb") as f:
        head = f.read(header.phoff + header.phentsize * header.phnum)
    with open(real_headers, "wb") as f:
        f.write(head + rng.randbytes(512 << 10))
        f.truncate(header.size)
    extra = [
        ("foreign.c-core", "foreign", c_core_final, c_final / c_binary.name, "a C program's core"),
        ("foreign.c-core-go-exe", "foreign", c_core_final, newest.bin, "with a Go executable"),
        ("foreign.go-core-c-exe", "foreign", newest.core, c_final / c_binary.name, "C exe"),
        ("garbage.zeros", "garbage", final / zeros.name, newest.bin, "zeros, a core's size"),
        ("garbage.elf-random", "garbage", final / random_elf.name, newest.bin, "random"),
        ("garbage.real-headers", "garbage", final / real_headers.name, newest.bin, "random body"),
    ]
    for name, kind, core_path, exe, note in extra:
        local = work / core_path.relative_to(final) if final in core_path.parents else core_path
        inputs.append(
            HostileInput(
                name=name,
                kind=kind,
                mutation=name,
                core=core_path,
                exe=exe,
                source=None,
                why=0xC000_0000_00,
                victim=None,
                is_core=is_core(local),
                note=note,
            )
        )
    return inputs


def corpus(fixtures: Sequence[Fixture], root: Path = ROOT) -> list[HostileInput]:
    """The corpus for these fixtures: read from ``root/<digest>/manifest.json``, or generated
    there first (once, under a lock; older corpora are removed)."""
    out = root / digest(fixtures)
    manifest = out / "manifest.json"

    def load() -> list[HostileInput]:
        return [HostileInput.from_json(v) for v in json.loads(manifest.read_text())["inputs"]]

    if manifest.is_file():
        return load()
    with file_lock(root / ".lock"):
        if manifest.is_file():
            return load()
        for old in root.iterdir():
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        work = root / f"{out.name}.partial"
        work.mkdir(parents=True)
        inputs = generate(fixtures, work, out)
        (work / "manifest.json").write_text(
            json.dumps({"seed": SEED, "inputs": [i.to_json() for i in inputs]}, indent=1) + "\n"
        )
        work.rename(out)
    return load()


def counts(inputs: Sequence[HostileInput]) -> dict[str, int]:
    """How many inputs of each kind."""
    result: dict[str, int] = {}
    for item in inputs:
        result[item.kind] = result.get(item.kind, 0) + 1
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.harness.hostile",
        description="Build the hostile-input corpus from the fixture cores and list it.",
    )
    parser.add_argument("--json", action="store_true", help="print the manifest entries")
    args = parser.parse_args(argv)
    from tests.harness.fixture import load_fixtures
    from tests.harness.paths import SITE_DIR

    sys.path.insert(0, str(SITE_DIR))
    inputs = corpus(load_fixtures())
    if args.json:
        print(json.dumps([i.to_json() for i in inputs], indent=1))
        return 0
    for item in inputs:
        print(f"{item.name:<58} {item.note}")
    print(", ".join(f"{kind} {count}" for kind, count in counts(inputs).items()))
    print(f"{len(inputs)} inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
