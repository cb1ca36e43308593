"""Pretty printers for Go values, and the convenience functions ``$go_len``, ``$go_cap`` and
``$go_dtype``.

They need DWARF: the Go linker describes a string as ``struct string {str, len}``, a slice as
``struct []T {array, len, cap}``, a map as a pointer to ``hash<K,V>`` (buckets, Go <= 1.23) or
to ``map<K,V>`` (Swiss tables, Go >= 1.24), a channel as a pointer to ``hchan<T>`` and an
interface as ``runtime.eface`` / ``runtime.iface``. Everything is read through those types;
the dynamic type of an interface comes from the runtime's type descriptor (``abi.Type``), which
the core decodes.

Every walk is bounded (``set print elements``, visited sets, sanity limits on counts read from
the target), and what cannot be read shows as ``<error: ...>`` instead of a Python exception.
"""

from __future__ import annotations

import struct
from typing import Callable, Iterator, Tuple, Union

import gdb
import gdb.printing

from goscope.gdb import params

Child = Tuple[str, Union[gdb.Value, str, int]]

PRINTER_NAME = "goscope-go"

# Bucket maps: tophash values below minTopHash mark empty or evacuated slots.
_MIN_TOP_HASH = 5
_SAME_SIZE_GROW = 8
# Swiss tables: a control byte with the high bit set is empty (0x80) or deleted (0xfe).
_CTRL_FREE_BIT = 0x80
_GROUP_SLOTS = 8

# Sanity limits on sizes read from the target: a corrupt header must not start a huge walk.
_MAX_B = 40
_MAX_DIR_LEN = 1 << 24
_MAX_GROUPS = 1 << 24
_MAX_WAITERS = 1 << 20
_MAX_OVERFLOW_CHAIN = 1 << 20
# Buckets or groups one map walk reads at most: a garbage header could otherwise make it scan
# readable memory for a very long time without finding an entry.
_MAX_GROUPS_WALKED = 1 << 18

# Kinds as reflect spells them (the core's type reader names them so), with their sizes.
_INT_KINDS = {"int": 8, "int8": 1, "int16": 2, "int32": 4, "int64": 8}
_UINT_KINDS = {"uint": 8, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "uintptr": 8}


class ReadError(Exception):
    """Target data that cannot be read or makes no sense; the message says what."""


def _error_text(error: BaseException) -> str:
    return f"<error: {error}>"


def _print_limit() -> int | None:
    """GDB's ``print elements``: None when unlimited."""
    try:
        limit = gdb.parameter("print elements")
    except (gdb.error, RuntimeError):
        return 200
    if limit is None or not isinstance(limit, int) or limit <= 0:
        return None
    return limit


def _max_list() -> int | None:
    """``set goscope max-list`` when it is lower than ``print elements``: the printers then
    stop there themselves (and say how many entries they left out)."""
    max_list = params.max_list()
    limit = _print_limit()
    if max_list > 0 and (limit is None or max_list < limit):
        return max_list
    return None


def _limited(total: int) -> int:
    """How many of `total` entries to hand to GDB: one more than ``print elements``, so that
    GDB itself sees there are more and prints ``...``; or ``set goscope max-list`` of them
    when that is lower (:func:`_beyond` then ends the list)."""
    max_list = _max_list()
    if max_list is not None:
        return min(total, max_list)
    limit = _print_limit()
    return total if limit is None else min(total, limit + 1)


def _beyond(total: int) -> str | None:
    """``...N more``: what ends a list of `total` entries that max-list cut short."""
    max_list = _max_list()
    if max_list is None or total <= max_list:
        return None
    return f"...{total - max_list} more"


def _field(value: gdb.Value, *names: str) -> gdb.Value:
    """The first of `names` that `value` (a struct) has: field names changed between Go
    versions (``itab._type`` became ``ITab.Type``)."""
    fields = {f.name for f in value.type.strip_typedefs().fields()}
    for name in names:
        if name in fields:
            return value[name]
    raise ReadError(f"{value.type} has none of the fields {', '.join(names)}")


def _struct_fields(t: gdb.Type) -> set[str]:
    s = t.strip_typedefs()
    if s.code != gdb.TYPE_CODE_STRUCT:
        return set()
    return {f.name for f in s.fields() if f.name}


def _read(address: int, size: int) -> bytes:
    try:
        return bytes(gdb.selected_inferior().read_memory(address, size))
    except (gdb.MemoryError, gdb.error) as error:
        raise ReadError(f"cannot read {size} bytes at {address:#x}") from error


def _word(address: int) -> int:
    return int.from_bytes(_read(address, 8), "little")


def _addr(value: gdb.Value) -> int:
    return int(value.cast(gdb.lookup_type("uintptr"))) if value.type.sizeof == 8 else int(value)


def _at(address: int, t: gdb.Type) -> gdb.Value:
    """The value of type `t` at `address` (read lazily by GDB)."""
    return gdb.Value(address).cast(t.pointer()).dereference()


def _checked(value: gdb.Value) -> gdb.Value:
    """`value` fetched now, so that a bad address is reported here as a ReadError and not
    later inside GDB's printing."""
    try:
        value.fetch_lazy()
    except (gdb.MemoryError, gdb.error) as error:
        raise ReadError(str(error)) from error
    return value


# --- type names -----------------------------------------------------------------------------


def _go_name(t: gdb.Type) -> str:
    """The Go spelling of a DWARF type: typedef names are Go names; pointer types are
    ``*T`` in Go and ``T *`` in GDB."""
    if t.name:
        return t.name
    if t.code == gdb.TYPE_CODE_PTR:
        return "*" + _go_name(t.target())
    return str(t)


def _lookup(name: str) -> gdb.Type | None:
    """GDB's type for a Go type name as the runtime spells it, or None when DWARF has none."""
    if name.startswith("*"):
        target = _lookup(name[1:])
        return target.pointer() if target is not None else None
    for candidate in (name, "struct " + name):
        try:
            return gdb.lookup_type(candidate)
        except gdb.error:
            continue
    return None


# --- strings --------------------------------------------------------------------------------


def _is_string(t: gdb.Type) -> bool:
    s = t.strip_typedefs()
    return (
        s.code == gdb.TYPE_CODE_STRUCT
        and s.name == "string"
        and _struct_fields(s)
        == {
            "str",
            "len",
        }
    )


class StringPrinter:
    """``"text"``: the bytes as UTF-8, at most ``print elements`` of them."""

    def __init__(self, value: gdb.Value) -> None:
        self.value = value
        self.error: str | None = None
        self.length = 0
        try:
            self.length = int(value["len"])
            if self.length < 0:
                self.error = f"<error: string length {self.length}>"
            elif self.length and int(value["str"]) == 0:
                self.error = f"<error: nil string data of length {self.length}>"
        except (gdb.error, gdb.MemoryError) as error:
            self.error = _error_text(error)

    def display_hint(self) -> str | None:
        # An error marker is not string content: GDB must not quote it.
        return None if self.error is not None else "string"

    def to_string(self) -> str | gdb.LazyString:
        if self.error is not None:
            return self.error
        if self.length == 0:
            return ""
        try:
            return self.value["str"].lazy_string(encoding="utf-8", length=self.length)
        except (gdb.error, gdb.MemoryError) as error:
            return _error_text(error)


# --- slices and arrays ----------------------------------------------------------------------


def _is_slice(t: gdb.Type) -> bool:
    s = t.strip_typedefs()
    return (
        s.code == gdb.TYPE_CODE_STRUCT
        and (s.name or "").startswith("[]")
        and _struct_fields(s) == {"array", "len", "cap"}
    )


def _is_array(t: gdb.Type) -> bool:
    s = t.strip_typedefs()
    return s.code == gdb.TYPE_CODE_ARRAY and (s.name or "").startswith("[")


def _elements(first: gdb.Value, count: int) -> Iterator[Child]:
    """`count` elements from the pointer `first` on (bounded by ``print elements``)."""
    shown = _limited(count)
    for i in range(shown):
        try:
            yield f"[{i}]", _checked((first + i).dereference())
        except (gdb.error, gdb.MemoryError, ReadError) as error:
            yield f"[{i}]", _error_text(error)
            return
    more = _beyond(count)
    if more is not None:
        yield f"[{shown}]", more


class SlicePrinter:
    """``[]int len 3 cap 10 = {1, 2, 3}``; ``[]int nil`` for a nil slice."""

    def __init__(self, value: gdb.Value) -> None:
        self.value = value
        self.name = _go_name(value.type)
        self.error: str | None = None
        self.length = self.capacity = 0
        self.nil = False
        try:
            self.length = int(value["len"])
            self.capacity = int(value["cap"])
            self.nil = int(value["array"]) == 0
            if self.length < 0 or self.capacity < self.length:
                self.error = f"<error: len {self.length} cap {self.capacity}>"
        except (gdb.error, gdb.MemoryError) as error:
            self.error = _error_text(error)

    def display_hint(self) -> str:
        return "array"

    def to_string(self) -> str:
        if self.error is not None:
            return f"{self.name} {self.error}"
        if self.nil:
            return f"{self.name} nil"
        return f"{self.name} len {self.length} cap {self.capacity}"

    def children(self) -> Iterator[Child]:
        if self.error is not None or self.nil:
            return iter(())
        return _elements(self.value["array"], self.length)


class ArrayPrinter:
    """``[3]int = {1, 2, 3}``: the Go type first, as for slices."""

    def __init__(self, value: gdb.Value) -> None:
        self.value = value
        self.name = _go_name(value.type)

    def display_hint(self) -> str:
        return "array"

    def to_string(self) -> str:
        return self.name

    def children(self) -> Iterator[Child]:
        low, high = self.value.type.strip_typedefs().range()
        count = max(high - low + 1, 0)
        shown = _limited(count)
        for i in range(shown):
            yield f"[{i}]", self.value[low + i]
        more = _beyond(count)
        if more is not None:
            yield f"[{shown}]", more


# --- maps -----------------------------------------------------------------------------------


def _map_header_type(t: gdb.Type) -> gdb.Type | None:
    s = t.strip_typedefs()
    if s.code != gdb.TYPE_CODE_PTR:
        return None
    target = s.target().strip_typedefs()
    name = target.name or ""
    fields = _struct_fields(target)
    if name.startswith("hash<") and {"count", "B", "buckets", "oldbuckets"} <= fields:
        return target
    if name.startswith("map<") and {"used", "dirPtr", "dirLen"} <= fields:
        return target
    return None


class _Budget:
    """Counts the buckets or groups a map walk reads, and stops it past the limit."""

    def __init__(self) -> None:
        self.spent = 0

    def spend(self) -> None:
        self.spent += 1
        if self.spent > _MAX_GROUPS_WALKED:
            raise ReadError(f"map walk stopped after {_MAX_GROUPS_WALKED} buckets or groups")


def _bucket_entries(header: gdb.Value) -> Iterator[tuple[gdb.Value, gdb.Value]]:
    """Entries of a bucketed map (Go <= 1.23): every bucket and its overflow chain, then the
    old buckets of a growing map, whose entries not yet moved still have a live tophash."""
    b = int(header["B"])
    if b > _MAX_B:
        raise ReadError(f"map B {b}")
    flags = int(header["flags"])
    arrays = [(header["buckets"], 1 << b)]
    old = header["oldbuckets"]
    if int(old) != 0:
        arrays.append((old, 1 << b if flags & _SAME_SIZE_GROW or b == 0 else 1 << (b - 1)))
    seen: set[int] = set()
    budget = _Budget()
    for array, count in arrays:
        if int(array) == 0:
            continue
        for index in range(count):
            bucket = array + index
            steps = 0
            while int(bucket) != 0:
                address = int(bucket)
                if address in seen or steps > _MAX_OVERFLOW_CHAIN:
                    raise ReadError(f"overflow bucket chain loops at {address:#x}")
                seen.add(address)
                steps += 1
                budget.spend()
                entry = _checked(bucket.dereference())
                tophash = entry["tophash"]
                for slot in range(_GROUP_SLOTS):
                    if int(tophash[slot]) >= _MIN_TOP_HASH:
                        yield entry["keys"][slot], entry["values"][slot]
                bucket = entry["overflow"]


def _group_slots(group: gdb.Value) -> Iterator[tuple[gdb.Value, gdb.Value]]:
    """The full slots of one Swiss-table group (interleaved ``slots`` or split
    ``keys``/``elems`` arrays, GOEXPERIMENT=mapsplitgroup)."""
    group = _checked(group)
    ctrl = int(group["ctrl"])
    fields = _struct_fields(group.type)
    for slot in range(_GROUP_SLOTS):
        if (ctrl >> (8 * slot)) & _CTRL_FREE_BIT:
            continue
        if "slots" in fields:
            pair = group["slots"][slot]
            yield pair["key"], pair["elem"]
        else:
            yield group["keys"][slot], group["elems"][slot]


def _swiss_entries(header: gdb.Value) -> Iterator[tuple[gdb.Value, gdb.Value]]:
    """Entries of a Swiss-table map (Go >= 1.24): a small map's single group, or every table
    of the directory once (several directory entries may share one table)."""
    table_type = header.type.strip_typedefs()["dirPtr"].type.target().target()
    groups_type = table_type.strip_typedefs()["groups"].type
    group_type = groups_type.strip_typedefs()["data"].type.target()
    dir_len = int(header["dirLen"])
    dir_ptr = header["dirPtr"]
    if int(dir_ptr) == 0:
        return
    if dir_len == 0:
        yield from _group_slots(_at(int(dir_ptr), group_type))
        return
    if dir_len < 0 or dir_len > _MAX_DIR_LEN:
        raise ReadError(f"map dirLen {dir_len}")
    seen: set[int] = set()
    budget = _Budget()
    for index in range(dir_len):
        table_ptr = _checked((dir_ptr + index).dereference())
        address = int(table_ptr)
        if address in seen:
            continue
        seen.add(address)
        if address == 0:
            raise ReadError(f"map directory entry {index} is nil")
        table = _checked(table_ptr.dereference())
        groups = table["groups"]
        mask = int(groups["lengthMask"])
        if mask < 0 or mask >= _MAX_GROUPS:
            raise ReadError(f"map table lengthMask {mask}")
        data = groups["data"]
        for group_index in range(mask + 1):
            budget.spend()
            yield from _group_slots((data + group_index).dereference())


class _HeaderPrinter:
    """A Go value that is a pointer to a runtime header (a map's or a channel's): the header
    read once, or why it could not be, or nil."""

    def __init__(self, value: gdb.Value, header_type: gdb.Type) -> None:
        self.value = value
        self.name = _go_name(value.type)
        self.header: gdb.Value | None = None
        self.error: str | None = None
        try:
            if int(value) != 0:
                self.header = _checked(value.cast(header_type.pointer()).dereference())
        except (gdb.error, gdb.MemoryError, ReadError) as error:
            self.error = _error_text(error)

    def _unusable(self) -> str | None:
        """What to print instead of the value's contents: its error, or nil."""
        if self.error is not None:
            return f"{self.name} {self.error}"
        if self.header is None:
            return f"{self.name} nil"
        return None


class MapPrinter(_HeaderPrinter):
    """``map[string]int len 3 = {["one"] = 1, ...}``; ``map[string]int nil`` for a nil map.

    At most ``print elements`` entries; a walk that hits unreadable or inconsistent data
    ends with an ``<error>`` entry."""

    def __init__(self, value: gdb.Value, header_type: gdb.Type) -> None:
        super().__init__(value, header_type)
        self.swiss = (header_type.name or "").startswith("map<")
        self.count = 0
        if self.header is not None:
            try:
                self.count = int(self.header["used" if self.swiss else "count"])
            except (gdb.error, gdb.MemoryError) as error:
                self.error = _error_text(error)

    def display_hint(self) -> str:
        return "map"

    def to_string(self) -> str:
        return self._unusable() or f"{self.name} len {self.count}"

    def children(self) -> Iterator[Child]:
        if self.header is None or self.error is not None:
            return
        walk = _swiss_entries if self.swiss else _bucket_entries
        wanted = _limited(max(self.count, 0))
        shown = 0
        try:
            for key, elem in walk(self.header):
                if shown >= wanted:
                    break
                yield f"[{2 * shown}]", key
                yield f"[{2 * shown + 1}]", elem
                shown += 1
        except (gdb.error, gdb.MemoryError, ReadError) as error:
            yield f"[{2 * shown}]", "<error>"
            yield f"[{2 * shown + 1}]", _error_text(error)
            return
        more = _beyond(max(self.count, 0))
        if more is not None and shown == wanted:
            # A map shows pairs: `[...] = ...N more`.
            yield f"[{2 * shown}]", "..."
            yield f"[{2 * shown + 1}]", more


# --- channels -------------------------------------------------------------------------------


def _chan_header_type(t: gdb.Type) -> gdb.Type | None:
    s = t.strip_typedefs()
    if s.code != gdb.TYPE_CODE_PTR:
        return None
    target = s.target().strip_typedefs()
    if (target.name or "").startswith("hchan<") and {"qcount", "dataqsiz", "buf"} <= (
        _struct_fields(target)
    ):
        return target
    return None


def _element_type(t: gdb.Type) -> gdb.Type | None:
    """The element type of ``chan T``: what ``hchan<T>``'s sudogs point their elem at."""
    try:
        sudog = t.strip_typedefs()["recvq"].type.strip_typedefs()["first"].type.target()
        return sudog.strip_typedefs()["elem"].type.target()
    except (gdb.error, KeyError):
        return None


def _waiters(queue: gdb.Value) -> tuple[list[int], int]:
    """Goroutine ids of the sudogs of a channel's recvq or sendq, in queue order, at most
    ``set goscope max-list`` of them; and how many more the queue holds."""
    ids: list[int] = []
    more = 0
    shown = params.max_list() or _MAX_WAITERS
    seen: set[int] = set()
    sudog = queue["first"]
    while int(sudog) != 0:
        address = int(sudog)
        if address in seen or len(ids) + more >= _MAX_WAITERS:
            raise ReadError(f"wait queue loops at {address:#x}")
        seen.add(address)
        entry = _checked(sudog.dereference())
        if len(ids) < shown:
            g = entry["g"]
            ids.append(int(_checked(g.dereference())["goid"]) if int(g) != 0 else 0)
        else:
            more += 1
        sudog = entry["next"]
    return ids, more


class ChanPrinter(_HeaderPrinter):
    """``chan int len 4 cap 5 = {4, 5, 6, 7}``: the buffered elements in receive order, then
    ``closed`` and the goroutines waiting to send or receive (``senders [18 19]``)."""

    def __init__(self, value: gdb.Value, header_type: gdb.Type) -> None:
        super().__init__(value, header_type)
        self.element_type = _element_type(header_type)

    def display_hint(self) -> str:
        return "array"

    def to_string(self) -> str:
        unusable = self._unusable()
        header = self.header
        if unusable is not None or header is None:
            return unusable or f"{self.name} nil"
        text = f"{self.name} len {int(header['qcount'])} cap {int(header['dataqsiz'])}"
        if int(header["closed"]) != 0:
            text += " closed"
        for label, queue in (("senders", "sendq"), ("receivers", "recvq")):
            try:
                ids, more = _waiters(header[queue])
            except (gdb.error, gdb.MemoryError, ReadError) as error:
                text += f" {label} {_error_text(error)}"
                continue
            words = [str(goid) for goid in ids]
            if more:
                words.append(f"...{more} more")
            if words:
                text += f" {label} [{' '.join(words)}]"
        return text

    def children(self) -> Iterator[Child]:
        header = self.header
        if header is None or self.element_type is None:
            return
        count = int(header["qcount"])
        size = int(header["dataqsiz"])
        recvx = int(header["recvx"])
        if count < 0 or count > size or (size and not 0 <= recvx < size):
            yield "[0]", f"<error: qcount {count} dataqsiz {size} recvx {recvx}>"
            return
        if self.element_type.sizeof == 0:
            return
        first = header["buf"].cast(self.element_type.pointer())
        shown = _limited(count)
        for i in range(shown):
            try:
                yield f"[{i}]", _checked((first + (recvx + i) % size).dereference())
            except (gdb.error, gdb.MemoryError, ReadError) as error:
                yield f"[{i}]", _error_text(error)
                return
        more = _beyond(count)
        if more is not None:
            yield f"[{shown}]", more


# --- interfaces -----------------------------------------------------------------------------


def _is_interface(t: gdb.Type) -> bool:
    s = t.strip_typedefs()
    return s.code == gdb.TYPE_CODE_STRUCT and (
        (s.name == "runtime.eface" and _struct_fields(s) == {"_type", "data"})
        or (s.name == "runtime.iface" and _struct_fields(s) == {"tab", "data"})
    )


class TypeDescriptor:
    """What goscope needs of an ``abi.Type``, as the core decodes it: its name as ``%T``
    prints it, the name DWARF gives it, its kind (as ``reflect`` spells it) and size."""

    def __init__(self, pointer: gdb.Value) -> None:
        from goscope import GoscopeError
        from goscope.gdb import process

        self.address = int(pointer) & process.ADDRESS_MASK
        try:
            described = process.memory_target().type_descriptor(self.address)
        except (GoscopeError, gdb.GdbError) as error:
            raise ReadError(str(error)) from None
        self.name, self.kind, self.size, self.ptrbytes, self.direct, self._dwarf = described

    def dwarf_name(self) -> str:
        """The name DWARF gives the type: the package qualified by its import path
        (``*io/fs.PathError``, where the runtime prints ``*fs.PathError``)."""
        return self._dwarf


def _dynamic_type(value: gdb.Value) -> TypeDescriptor | None:
    """The descriptor of an interface's dynamic type; None for a nil interface."""
    fields = _struct_fields(value.type)
    if "_type" in fields:
        pointer = value["_type"]
    else:
        tab = value["tab"]
        if int(tab) == 0:
            return None
        pointer = _field(_checked(tab.dereference()), "Type", "_type")
    if int(pointer) == 0:
        return None
    return TypeDescriptor(pointer)


def _basic_text(desc: TypeDescriptor, data: int) -> str | None:
    """Values of unnamed basic types, formatted here: GDB's own ``int`` can be the 4-byte C
    type when the current language is not Go."""
    if "." in desc.name:
        return None
    kind = desc.kind
    if kind in _INT_KINDS or kind in _UINT_KINDS:
        size = _INT_KINDS.get(kind) or _UINT_KINDS[kind]
        raw = data.to_bytes(8, "little")[:size] if desc.direct else _read(data, size)
        return str(int.from_bytes(raw, "little", signed=kind in _INT_KINDS))
    if kind == "bool":
        return "true" if _read(data, 1)[0] else "false"
    if kind in ("float32", "float64"):
        fmt, size = ("<f", 4) if kind == "float32" else ("<d", 8)
        return repr(struct.unpack(fmt, _read(data, size))[0])
    if kind in ("complex64", "complex128"):
        fmt, size = ("<ff", 8) if kind == "complex64" else ("<dd", 16)
        real, imag = struct.unpack(fmt, _read(data, size))
        return f"({real!r}{imag:+}i)"
    if kind == "string":
        string_type = _lookup("string")
        if string_type is not None:
            return _at(data, string_type).format_string()
    if kind == "unsafe.Pointer":
        return hex(data)
    return None


def _value_text(desc: TypeDescriptor, data: int) -> str:
    """The dynamic value, printed with GDB's type of that name when DWARF has one."""
    basic = _basic_text(desc, data)
    if basic is not None:
        return basic
    gdb_type = _lookup(desc.name)
    if gdb_type is None:
        gdb_type = _lookup(desc.dwarf_name())
    if gdb_type is None or gdb_type.sizeof != desc.size:
        return f"{data:#x}"
    if desc.direct:
        value = gdb.Value(data.to_bytes(8, "little"), gdb_type)
    else:
        value = _checked(_at(data, gdb_type))
    stripped = gdb_type.strip_typedefs()
    if desc.name.startswith("*") and stripped.code == gdb.TYPE_CODE_PTR:
        if data == 0:
            return "nil"
        if stripped.target().strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
            return "&" + _checked(value.dereference()).format_string()
        return f"{data:#x}"
    return value.format_string()


class InterfacePrinter:
    """``error(*errors.errorString) &{s = "boom"}``, ``interface {}(int) 42``, ``nil``."""

    def __init__(self, value: gdb.Value) -> None:
        self.value = value

    def to_string(self) -> str:
        static = _go_name(self.value.type)
        try:
            desc = _dynamic_type(self.value)
            if desc is None:
                return "nil"
            data = _addr(self.value["data"])
            try:
                text = _value_text(desc, data)
            except (gdb.error, gdb.MemoryError, ReadError) as error:
                text = _error_text(error)
            return f"{static}({desc.name}) {text}"
        except (gdb.error, gdb.MemoryError, ReadError) as error:
            return f"{static} {_error_text(error)}"


# --- registration ---------------------------------------------------------------------------


Printer = Union[
    StringPrinter, SlicePrinter, ArrayPrinter, MapPrinter, ChanPrinter, InterfacePrinter
]


class GoPrettyPrinter(gdb.printing.PrettyPrinter):
    """Chooses the printer of a Go value by the shape of its DWARF type."""

    def __init__(self) -> None:
        names = ("string", "slice", "array", "map", "chan", "interface")
        super().__init__(PRINTER_NAME, [gdb.printing.SubPrettyPrinter(n) for n in names])
        self._by_name = {s.name: s for s in self.subprinters}

    def _on(self, name: str) -> bool:
        return bool(self._by_name[name].enabled)

    def __call__(self, value: gdb.Value) -> Printer | None:
        try:
            return self._choose(value)
        except (gdb.error, RuntimeError):
            return None

    def _choose(self, value: gdb.Value) -> Printer | None:
        t = value.type
        if t is None:
            return None
        if _is_string(t):
            return StringPrinter(value) if self._on("string") else None
        if _is_slice(t):
            return SlicePrinter(value) if self._on("slice") else None
        if _is_array(t):
            return ArrayPrinter(value) if self._on("array") else None
        if _is_interface(t):
            return InterfacePrinter(value) if self._on("interface") else None
        header = _map_header_type(t)
        if header is not None:
            return MapPrinter(value, header) if self._on("map") else None
        header = _chan_header_type(t)
        if header is not None:
            return ChanPrinter(value, header) if self._on("chan") else None
        return None


_PRINTER = GoPrettyPrinter()


def _is_go(objfile: gdb.Objfile) -> bool:
    try:
        return objfile.lookup_global_symbol("runtime.buildVersion") is not None
    except (gdb.error, RuntimeError):
        return False


def register_objfile(objfile: gdb.Objfile) -> None:
    """Puts goscope's printer first in `objfile`'s list (before runtime-gdb.py's, if that
    was auto-loaded), once."""
    if not objfile.is_valid() or not _is_go(objfile):
        return
    printers = objfile.pretty_printers
    if printers and printers[0] is _PRINTER:
        return
    objfile.pretty_printers = [_PRINTER] + [p for p in printers if p is not _PRINTER]


def _register_all() -> None:
    for objfile in gdb.objfiles():
        register_objfile(objfile)


def _on_event(_event: object = None) -> None:
    # GDB auto-loads the toolchain's runtime-gdb.py after an objfile's new_objfile event, and
    # that script replaces the objfile's printer list: every later event that comes before
    # values are printed (the next objfile, such as a core's vDSO; a stop; a prompt) puts
    # goscope's printer back in front, on every objfile.
    _register_all()


# --- convenience functions ------------------------------------------------------------------


def _length(value: gdb.Value, capacity: bool) -> int:
    t = value.type
    if _is_string(t) and not capacity:
        return int(value["len"])
    if _is_slice(t):
        return int(value["cap" if capacity else "len"])
    if _is_array(t):
        low, high = t.strip_typedefs().range()
        return high - low + 1
    header = _map_header_type(t)
    if header is not None and not capacity:
        if int(value) == 0:
            return 0
        m = _checked(value.cast(header.pointer()).dereference())
        return int(m["used" if (header.name or "").startswith("map<") else "count"])
    header = _chan_header_type(t)
    if header is not None:
        if int(value) == 0:
            return 0
        c = _checked(value.cast(header.pointer()).dereference())
        return int(c["dataqsiz" if capacity else "qcount"])
    what = "cap" if capacity else "len"
    raise gdb.GdbError(f"${'go_' + what}: {t} is not a Go value with a {what}")


class _GoLen(gdb.Function):
    """$go_len(V): len(V) of a Go string, slice, array, map or channel."""

    def __init__(self) -> None:
        super().__init__("go_len")

    def invoke(self, value: gdb.Value) -> int:
        return _guarded(lambda: _length(value, capacity=False), "go_len")


class _GoCap(gdb.Function):
    """$go_cap(V): cap(V) of a Go slice, array or channel."""

    def __init__(self) -> None:
        super().__init__("go_cap")

    def invoke(self, value: gdb.Value) -> int:
        return _guarded(lambda: _length(value, capacity=True), "go_cap")


def _dtype(value: gdb.Value) -> str:
    if not _is_interface(value.type):
        raise gdb.GdbError(f"$go_dtype: {value.type} is not a Go interface")
    desc = _dynamic_type(value)
    return "nil" if desc is None else desc.name


class _GoDtype(gdb.Function):
    """$go_dtype(I): the dynamic type of a Go interface value, as %T prints it ("nil" for a
    nil interface)."""

    def __init__(self) -> None:
        super().__init__("go_dtype")

    def invoke(self, value: gdb.Value) -> str:
        return _guarded(lambda: _dtype(value), "go_dtype")


def _guarded(compute: Callable[[], object], name: str) -> object:
    """Runs a convenience function; what goes wrong becomes one line (gdb.GdbError)."""
    try:
        return compute()
    except gdb.GdbError:
        raise
    except (gdb.error, gdb.MemoryError, ReadError) as error:
        raise gdb.GdbError(f"${name}: {error}") from None


_registered = False


def register() -> None:
    """Registers the printers for every Go objfile, loaded now or later, and the
    convenience functions; once."""
    global _registered
    if _registered:
        return
    _GoLen()
    _GoCap()
    _GoDtype()
    _register_all()
    gdb.events.new_objfile.connect(_on_event)
    gdb.events.stop.connect(_on_event)
    gdb.events.before_prompt.connect(_on_event)
    _registered = True
