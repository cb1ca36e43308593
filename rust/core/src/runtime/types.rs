//! Go type descriptors (`internal/abi.Type` and the kinds' extensions) read from the target:
//! names, kinds, sizes, elements and struct fields, without DWARF.
//!
//! A descriptor is an `abi.Type` followed by its kind's extension (`PtrType.Elem`,
//! `StructType.Fields`, ...), then, when `TFlagUncommon` is set, an `abi.UncommonType` with the
//! package path and the method table. Names are `abi.Name`s: a flag byte, a varint length
//! and the bytes. A descriptor refers to its own name and to other descriptors by 32-bit
//! offsets from `moduledata.types` (`NameOff`, `TypeOff`), which is why the reader needs the
//! module's type range; struct fields and package paths of struct and interface types are
//! plain pointers instead.
//!
//! Field offsets come from the [`RuntimeLayout`]; where a layout lacks one of these types
//! (a DWARF layout of a binary that never used it), the value every release from 1.21
//! through 1.27 has on 64-bit targets is used instead.

use std::sync::OnceLock;

use serde::Serialize;

use crate::binary::buildinfo::GoVersion;
use crate::binary::moduledata::SliceHeader;
use crate::binary::Binary;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::RuntimeLayout;
use crate::target::{Memory, MemoryExt};

/// `abi.KindMask`: up to go1.25 the kind byte also holds `KindDirectIface` and `KindGCProg`.
pub const KIND_MASK: u8 = (1 << 5) - 1;
/// `abi.KindDirectIface` in the kind byte (up to go1.25).
const KIND_DIRECT_IFACE: u8 = 1 << 5;
/// `abi.TFlagDirectIface` (go1.26 and later; the bit is unused before).
const TFLAG_DIRECT_IFACE: u8 = 1 << 5;
const TFLAG_UNCOMMON: u8 = 1 << 0;
const TFLAG_EXTRA_STAR: u8 = 1 << 1;
const TFLAG_NAMED: u8 = 1 << 2;

/// `abi.Name` flag bits.
const NAME_EXPORTED: u8 = 1 << 0;
const NAME_EMBEDDED: u8 = 1 << 3;

/// `abi.Method` is four 32-bit offsets on every release.
const METHOD_SIZE: u64 = 16;
const PTR: u64 = 8;

/// Bounds on what a descriptor may claim, so corrupt data ends in an error, not a huge read.
const MAX_NAME: usize = 1 << 20;
const MAX_FIELDS: u64 = 1 << 16;
const MAX_IMETHODS: u64 = 1 << 16;
const MAX_TYPES: u64 = 1 << 22;
/// The largest `[types, etypes)` range read whole to search it by name.
const MAX_TYPE_SECTION: u64 = 256 << 20;
/// Occurrences of a name's bytes followed up in one search; names are stored once, so more
/// means the bytes also occur by chance inside other data.
const MAX_NAME_HITS: usize = 64;
/// Pointer types a DWARF name follows at most (`***T` is 3).
const MAX_POINTER_DEPTH: usize = 64;

/// `abi.Kind`, the kind of a type (the kind byte masked with [`KIND_MASK`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bool = 1,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    Float32,
    Float64,
    Complex64,
    Complex128,
    Array,
    Chan,
    Func,
    Interface,
    Map,
    Pointer,
    Slice,
    String,
    Struct,
    UnsafePointer,
}

impl Kind {
    const ALL: [Kind; 26] = [
        Kind::Bool,
        Kind::Int,
        Kind::Int8,
        Kind::Int16,
        Kind::Int32,
        Kind::Int64,
        Kind::Uint,
        Kind::Uint8,
        Kind::Uint16,
        Kind::Uint32,
        Kind::Uint64,
        Kind::Uintptr,
        Kind::Float32,
        Kind::Float64,
        Kind::Complex64,
        Kind::Complex128,
        Kind::Array,
        Kind::Chan,
        Kind::Func,
        Kind::Interface,
        Kind::Map,
        Kind::Pointer,
        Kind::Slice,
        Kind::String,
        Kind::Struct,
        Kind::UnsafePointer,
    ];

    /// The kind of a raw kind byte, masked; `None` for `abi.Invalid` and out-of-range values.
    pub fn from_raw(raw: u8) -> Option<Kind> {
        let k = usize::from(raw & KIND_MASK);
        Kind::ALL.get(k.checked_sub(1)?).copied()
    }

    /// The kind's name as `reflect.Kind.String` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Int8 => "int8",
            Kind::Int16 => "int16",
            Kind::Int32 => "int32",
            Kind::Int64 => "int64",
            Kind::Uint => "uint",
            Kind::Uint8 => "uint8",
            Kind::Uint16 => "uint16",
            Kind::Uint32 => "uint32",
            Kind::Uint64 => "uint64",
            Kind::Uintptr => "uintptr",
            Kind::Float32 => "float32",
            Kind::Float64 => "float64",
            Kind::Complex64 => "complex64",
            Kind::Complex128 => "complex128",
            Kind::Array => "array",
            Kind::Chan => "chan",
            Kind::Func => "func",
            Kind::Interface => "interface",
            Kind::Map => "map",
            Kind::Pointer => "ptr",
            Kind::Slice => "slice",
            Kind::String => "string",
            Kind::Struct => "struct",
            Kind::UnsafePointer => "unsafe.Pointer",
        }
    }

    /// Whether values of this kind are a fixed number of bytes with no pointers to follow
    /// (booleans and numbers).
    pub fn is_basic(self) -> bool {
        matches!(
            self,
            Kind::Bool
                | Kind::Int
                | Kind::Int8
                | Kind::Int16
                | Kind::Int32
                | Kind::Int64
                | Kind::Uint
                | Kind::Uint8
                | Kind::Uint16
                | Kind::Uint32
                | Kind::Uint64
                | Kind::Uintptr
                | Kind::Float32
                | Kind::Float64
                | Kind::Complex64
                | Kind::Complex128
        )
    }
}

/// The common header of a type descriptor, with its name resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Type {
    /// Address of the descriptor in the target.
    pub addr: u64,
    /// The name as `%T` and the runtime's `rtype.string()` print it: `*errors.errorString`,
    /// `[]int`, `map[string]int`.
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    /// Bytes of the prefix that can hold pointers.
    pub ptr_bytes: u64,
    pub hash: u32,
    pub tflag: u8,
    /// Whether an interface holding this type stores the value itself in its data word
    /// (pointer-shaped types) rather than a pointer to it.
    pub direct_iface: bool,
    /// Whether the type has a name of its own (`TFlagNamed`): `main.T`, `int`, not `[]int`.
    pub named: bool,
    /// Whether an `abi.UncommonType` (package path and methods) follows the descriptor.
    pub uncommon: bool,
    /// The descriptor of `*T`, when the binary has one.
    pub ptr_to_this: Option<u64>,
}

/// The uncommon part of a descriptor: a named type's package and its method table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uncommon {
    /// Import path of the package that defines the type; empty for predeclared types.
    pub pkg_path: String,
    /// Number of methods, exported ones first.
    pub mcount: u16,
    /// Number of exported methods.
    pub xcount: u16,
    /// Offset of the method table from the start of the uncommon part.
    pub moff: u32,
}

/// One method of a type's method table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Method {
    pub name: String,
    pub exported: bool,
    /// The method's function type without receiver; `None` when the linker dropped it as
    /// unreachable.
    pub mtyp: Option<u64>,
}

/// One field of a struct type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructField {
    pub name: String,
    /// Address of the field's type descriptor.
    pub typ: u64,
    /// Byte offset of the field in the struct.
    pub offset: u64,
    pub embedded: bool,
    pub exported: bool,
}

/// A decoded `abi.Name`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    flags: u8,
    text: String,
}

/// Field offsets and sizes the reader uses, resolved once from the layout.
#[derive(Debug, Clone, Copy)]
struct Offsets {
    type_size: u64,
    size: u64,
    ptr_bytes: u64,
    hash: u64,
    tflag: u64,
    kind: u64,
    str: u64,
    ptr_to_this: u64,
    ptr_elem: u64,
    ptr_type_size: u64,
    slice_elem: u64,
    slice_type_size: u64,
    array_elem: u64,
    array_len: u64,
    array_type_size: u64,
    chan_elem: u64,
    chan_type_size: u64,
    func_in: u64,
    func_out: u64,
    func_type_size: u64,
    iface_pkg_path: u64,
    iface_methods: u64,
    iface_type_size: u64,
    imethod_size: u64,
    struct_pkg_path: u64,
    struct_fields: u64,
    struct_type_size: u64,
    field_name: u64,
    field_typ: u64,
    field_offset: u64,
    field_size: u64,
    map_key: u64,
    map_elem: u64,
    map_type_size: u64,
    uncommon_pkg_path: u64,
    uncommon_mcount: u64,
    uncommon_xcount: u64,
    uncommon_moff: u64,
    uncommon_size: u64,
    itab_type: u64,
}

impl Offsets {
    fn resolve(layout: &RuntimeLayout, old_maps: bool) -> Offsets {
        let off = |t: &str, f: &str, default: u64| layout.offset(t, f).unwrap_or(default);
        let size = |t: &str, default: u64| layout.size(t).unwrap_or(default);
        const T: &str = "internal/abi.Type";
        const SF: &str = "internal/abi.StructField";
        const UT: &str = "internal/abi.UncommonType";
        // Swiss-table maps (go1.24 and later unless GOEXPERIMENT=noswissmap) have a larger
        // MapType; go1.24 and go1.25 name the two variants SwissMapType and OldMapType.
        let map_type = if old_maps {
            ["internal/abi.OldMapType", "internal/abi.MapType"]
                .into_iter()
                .find(|t| layout.has_type(t) && !layout.has(t, "GroupSize"))
        } else {
            ["internal/abi.MapType", "internal/abi.SwissMapType"]
                .into_iter()
                .find(|t| layout.has_type(t))
        };
        let (map_key, map_elem, map_type_size) = match map_type {
            Some(m) => (off(m, "Key", 48), off(m, "Elem", 56), size(m, 88)),
            None => (48, 56, if old_maps { 88 } else { 112 }),
        };
        let itab_type = layout
            .offset("internal/abi.ITab", "Type")
            .or_else(|_| layout.offset("runtime.itab", "_type"))
            .unwrap_or(8);
        Offsets {
            type_size: size(T, 48),
            size: off(T, "Size_", 0),
            ptr_bytes: off(T, "PtrBytes", 8),
            hash: off(T, "Hash", 16),
            tflag: off(T, "TFlag", 20),
            kind: off(T, "Kind_", 23),
            str: off(T, "Str", 40),
            ptr_to_this: off(T, "PtrToThis", 44),
            ptr_elem: off("internal/abi.PtrType", "Elem", 48),
            ptr_type_size: size("internal/abi.PtrType", 56),
            slice_elem: off("internal/abi.SliceType", "Elem", 48),
            slice_type_size: size("internal/abi.SliceType", 56),
            array_elem: off("internal/abi.ArrayType", "Elem", 48),
            array_len: off("internal/abi.ArrayType", "Len", 64),
            array_type_size: size("internal/abi.ArrayType", 72),
            chan_elem: off("internal/abi.ChanType", "Elem", 48),
            chan_type_size: size("internal/abi.ChanType", 64),
            func_in: off("internal/abi.FuncType", "InCount", 48),
            func_out: off("internal/abi.FuncType", "OutCount", 50),
            func_type_size: size("internal/abi.FuncType", 56),
            iface_pkg_path: off("internal/abi.InterfaceType", "PkgPath", 48),
            iface_methods: off("internal/abi.InterfaceType", "Methods", 56),
            iface_type_size: size("internal/abi.InterfaceType", 80),
            imethod_size: size("internal/abi.Imethod", 8),
            struct_pkg_path: off("internal/abi.StructType", "PkgPath", 48),
            struct_fields: off("internal/abi.StructType", "Fields", 56),
            struct_type_size: size("internal/abi.StructType", 80),
            field_name: off(SF, "Name", 0),
            field_typ: off(SF, "Typ", 8),
            field_offset: off(SF, "Offset", 16),
            field_size: size(SF, 24),
            map_key,
            map_elem,
            map_type_size,
            uncommon_pkg_path: off(UT, "PkgPath", 0),
            uncommon_mcount: off(UT, "Mcount", 4),
            uncommon_xcount: off(UT, "Xcount", 6),
            uncommon_moff: off(UT, "Moff", 8),
            uncommon_size: size(UT, 16),
            itab_type,
        }
    }
}

/// Reads type descriptors of one Go binary from target memory.
///
/// `M` is any [`Memory`]: `&dyn Memory` borrowed from a [`Runtime`](crate::runtime::Runtime),
/// an `Arc<dyn Memory>` to keep, or a test's memory.
pub struct TypeReader<M> {
    mem: M,
    version: Option<GoVersion>,
    /// `moduledata.types` and `.etypes` at run time (load bias applied).
    types: u64,
    etypes: u64,
    /// `moduledata.typelinks` at run time (go1.21 – go1.26).
    typelinks: Option<SliceHeader>,
    /// End of the contiguous descriptors, `types + typedesclen` (go1.27).
    typedesc_end: Option<u64>,
    off: Offsets,
    /// Maps are bucketed (`hmap`), not swiss tables.
    old_maps: bool,
    /// `[types, etypes)` read whole, for searches by name.
    section: OnceLock<Result<Vec<u8>>>,
    links: OnceLock<Result<Vec<u64>>>,
}

impl<M: Memory> TypeReader<M> {
    /// A reader for the types of `binary`, loaded at `bias` (non-zero for a PIE), in `mem`.
    pub fn new(mem: M, binary: &Binary, bias: u64, layout: &RuntimeLayout) -> Result<Self> {
        let md = binary.moduledata().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "the runtime's moduledata was not found, so type descriptors cannot be located",
            )
        })?;
        let version = binary.go_version();
        let old_maps = match version {
            Some(v) if v.major == 1 && v.minor < 24 => true,
            Some(v) if v.major == 1 && v.minor < 26 => binary.build_info().is_ok_and(|b| {
                b.settings
                    .iter()
                    .any(|(k, v)| k == "GOEXPERIMENT" && v.contains("noswissmap"))
            }),
            _ => false,
        };
        let types = md.types.wrapping_add(bias);
        let etypes = md.etypes.wrapping_add(bias);
        if etypes < types {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("moduledata's type range {types:#x}..{etypes:#x} is inverted"),
            ));
        }
        let typelinks = md.typelinks.map(|t| SliceHeader {
            ptr: t.ptr.wrapping_add(bias),
            len: t.len,
        });
        // go1.27 has no typelinks: descriptors are laid out back to back for typedesclen
        // bytes from `types` (at 304 in go1.27's moduledata, right after `types`).
        let typedesc_end = if typelinks.is_none() {
            layout
                .offset("runtime.moduledata", "typedesclen")
                .ok()
                .or(Some(304))
                .and_then(|o| md.address.wrapping_add(bias).checked_add(o))
                .and_then(|a| mem.read_u64(a).ok())
                .and_then(|len| types.checked_add(len))
                .filter(|&end| end <= etypes)
        } else {
            None
        };
        Ok(TypeReader {
            mem,
            version,
            types,
            etypes,
            typelinks,
            typedesc_end,
            off: Offsets::resolve(layout, old_maps),
            old_maps,
            section: OnceLock::new(),
            links: OnceLock::new(),
        })
    }

    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// The Go release of the binary, when its build info says.
    pub fn go_version(&self) -> Option<GoVersion> {
        self.version
    }

    /// `[types, etypes)`: where the binary's type descriptors and their names lie.
    pub fn type_range(&self) -> (u64, u64) {
        (self.types, self.etypes)
    }

    /// Offset of the dynamic type in an `itab` (`abi.ITab.Type`, `runtime.itab._type`).
    pub fn itab_type_offset(&self) -> u64 {
        self.off.itab_type
    }

    /// The descriptor at `typ`, with its name.
    pub fn read(&self, typ: u64) -> Result<Type> {
        let h = self.header(typ)?;
        let name = self.string_of(&h)?;
        Ok(Type {
            addr: typ,
            name,
            kind: h.kind,
            size: h.size,
            ptr_bytes: h.ptr_bytes,
            hash: h.hash,
            tflag: h.tflag,
            direct_iface: h.direct_iface(),
            named: h.tflag & TFLAG_NAMED != 0,
            uncommon: h.tflag & TFLAG_UNCOMMON != 0,
            ptr_to_this: self.type_off(h.ptr_to_this).ok().flatten(),
        })
    }

    pub fn kind(&self, typ: u64) -> Result<Kind> {
        Ok(self.header(typ)?.kind)
    }

    pub fn size(&self, typ: u64) -> Result<u64> {
        Ok(self.header(typ)?.size)
    }

    /// The type's name as the runtime's `rtype.string()` (and `%T`) print it.
    pub fn name(&self, typ: u64) -> Result<String> {
        let h = self.header(typ)?;
        self.string_of(&h)
    }

    /// The element type of a pointer, slice, array, channel or map; `None` for other kinds.
    pub fn elem(&self, typ: u64) -> Result<Option<u64>> {
        let h = self.header(typ)?;
        let off = match h.kind {
            Kind::Pointer => self.off.ptr_elem,
            Kind::Slice => self.off.slice_elem,
            Kind::Array => self.off.array_elem,
            Kind::Chan => self.off.chan_elem,
            Kind::Map => self.off.map_elem,
            _ => return Ok(None),
        };
        self.type_ptr(typ, off).map(Some)
    }

    /// The length of an array type; `None` for other kinds.
    pub fn array_len(&self, typ: u64) -> Result<Option<u64>> {
        if self.header(typ)?.kind != Kind::Array {
            return Ok(None);
        }
        self.mem
            .read_u64(typ.wrapping_add(self.off.array_len))
            .map(Some)
    }

    /// The key and element types of a map type; `None` for other kinds.
    pub fn map_key_elem(&self, typ: u64) -> Result<Option<(u64, u64)>> {
        if self.header(typ)?.kind != Kind::Map {
            return Ok(None);
        }
        let key = self.type_ptr(typ, self.off.map_key)?;
        let elem = self.type_ptr(typ, self.off.map_elem)?;
        Ok(Some((key, elem)))
    }

    /// Whether maps are swiss tables (go1.24+ unless built with `noswissmap`).
    pub fn swiss_maps(&self) -> bool {
        !self.old_maps
    }

    /// A map type's bucket (bucketed maps) or group (swiss tables) type, which follows its
    /// element type in both descriptors; `None` for other kinds.
    pub fn map_group(&self, typ: u64) -> Result<Option<u64>> {
        if self.header(typ)?.kind != Kind::Map {
            return Ok(None);
        }
        self.type_ptr(typ, self.off.map_elem.wrapping_add(8))
            .map(Some)
    }

    /// The fields of a struct type in declaration order; empty for other kinds.
    pub fn fields(&self, typ: u64) -> Result<Vec<StructField>> {
        if self.header(typ)?.kind != Kind::Struct {
            return Ok(Vec::new());
        }
        let at = typ.wrapping_add(self.off.struct_fields);
        let ptr = self.mem.read_ptr(at)?;
        let len = self.mem.read_u64(at.wrapping_add(PTR))?;
        if len > MAX_FIELDS {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("struct type at {typ:#x} claims {len} fields"),
            ));
        }
        let size = self.off.field_size;
        let bytes = len.checked_mul(size).ok_or_else(|| {
            Error::corrupt(format!(
                "struct type at {typ:#x} has a field table too large"
            ))
        })?;
        let table = self.mem.read_vec(ptr, bytes as usize)?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            // i * size <= len * size, which did not overflow.
            let base = i.wrapping_mul(size);
            let word = |o: u64| -> Result<u64> {
                let start = base
                    .checked_add(o)
                    .and_then(|s| usize::try_from(s).ok())
                    .ok_or_else(|| Error::corrupt("offset"))?;
                table
                    .get(start..start.saturating_add(8))
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_le_bytes)
                    .ok_or_else(|| Error::corrupt("struct field table shorter than its length"))
            };
            let name_ptr = word(self.off.field_name)?;
            let name = self
                .read_name(name_ptr)
                .map_err(|e| e.context(&format!("field {i} of the struct type at {typ:#x}")))?;
            let ftyp = word(self.off.field_typ)?;
            if ftyp == 0 {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!("field {i} of the struct type at {typ:#x} has no type"),
                ));
            }
            out.push(StructField {
                name: name.text,
                typ: ftyp,
                offset: word(self.off.field_offset)?,
                embedded: name.flags & NAME_EMBEDDED != 0,
                exported: name.flags & NAME_EXPORTED != 0,
            });
        }
        Ok(out)
    }

    /// The number of methods of an interface type (0 for `interface {}`, whose values are
    /// `eface`s; others are `iface`s); `None` for other kinds.
    pub fn interface_method_count(&self, typ: u64) -> Result<Option<u64>> {
        if self.header(typ)?.kind != Kind::Interface {
            return Ok(None);
        }
        self.slice_len(typ, self.off.iface_methods, MAX_IMETHODS)
            .map(Some)
    }

    /// The uncommon part, present for named types and types with methods.
    pub fn uncommon(&self, typ: u64) -> Result<Option<Uncommon>> {
        let h = self.header(typ)?;
        let Some(at) = self.uncommon_addr(typ, &h) else {
            return Ok(None);
        };
        let buf: [u8; 12] = self.mem.read_array(at)?;
        let u32_at = |o: u64| -> Result<u32> {
            let o = o as usize;
            buf.get(o..o.saturating_add(4))
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| Error::corrupt("uncommon type offsets out of range"))
        };
        let u16_at = |o: u64| -> Result<u16> {
            let o = o as usize;
            buf.get(o..o.saturating_add(2))
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(u16::from_le_bytes)
                .ok_or_else(|| Error::corrupt("uncommon type offsets out of range"))
        };
        let pkg_off = u32_at(self.off.uncommon_pkg_path)?;
        let pkg_path = match self.name_at(pkg_off as i32)? {
            Some(n) => n.text,
            None => String::new(),
        };
        Ok(Some(Uncommon {
            pkg_path,
            mcount: u16_at(self.off.uncommon_mcount)?,
            xcount: u16_at(self.off.uncommon_xcount)?,
            moff: u32_at(self.off.uncommon_moff)?,
        }))
    }

    /// The type's method table (its method set; for `*T`, also `T`'s value methods).
    pub fn methods(&self, typ: u64) -> Result<Vec<Method>> {
        let h = self.header(typ)?;
        let (Some(at), Some(u)) = (self.uncommon_addr(typ, &h), self.uncommon(typ)?) else {
            return Ok(Vec::new());
        };
        let n = u64::from(u.mcount);
        if n == 0 {
            return Ok(Vec::new());
        }
        let table = at.wrapping_add(u64::from(u.moff));
        let bytes = self.mem.read_vec(table, (n * METHOD_SIZE) as usize)?;
        let mut out = Vec::with_capacity(n as usize);
        for m in bytes.chunks_exact(METHOD_SIZE as usize) {
            let field = |i: usize| -> i32 {
                let at = i.saturating_mul(4);
                m.get(at..at.saturating_add(4))
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(-1, i32::from_le_bytes)
            };
            let name = self
                .name_at(field(0))?
                .ok_or_else(|| Error::corrupt(format!("unnamed method of the type at {typ:#x}")))?;
            out.push(Method {
                exported: name.flags & NAME_EXPORTED != 0,
                name: name.text,
                mtyp: self.type_off(field(1))?,
            });
        }
        Ok(out)
    }

    /// Whether the type's method set has a method `name` whose signature (when the binary
    /// kept it) is `signature`, e.g. `("Error", "func() string")`.
    pub fn has_method(&self, typ: u64, name: &str, signature: &str) -> Result<bool> {
        for m in self.methods(typ)? {
            if m.name != name {
                continue;
            }
            return Ok(match m.mtyp {
                Some(t) => self.name(t)? == signature,
                None => true,
            });
        }
        Ok(false)
    }

    /// The package path as the runtime's `rtype.pkgpath()` gives it: the uncommon part's,
    /// else a struct or interface type's own; empty for other types.
    pub fn pkg_path(&self, typ: u64) -> Result<String> {
        if let Some(u) = self.uncommon(typ)? {
            return Ok(u.pkg_path);
        }
        let off = match self.header(typ)?.kind {
            Kind::Struct => self.off.struct_pkg_path,
            Kind::Interface => self.off.iface_pkg_path,
            _ => return Ok(String::new()),
        };
        let ptr = self.mem.read_ptr(typ.wrapping_add(off))?;
        if ptr == 0 {
            return Ok(String::new());
        }
        Ok(self.read_name(ptr)?.text)
    }

    /// The name DWARF gives the type: its package qualified by the import path
    /// (`*io/fs.PathError` where `%T` prints `*fs.PathError`), so that a debugger can find
    /// the DWARF type of a value whose runtime type it read.
    pub fn dwarf_name(&self, typ: u64) -> Result<String> {
        let mut stars = String::new();
        let mut at = typ;
        // A pointer's element is another descriptor; a cycle in garbage must end.
        for _ in 0..MAX_POINTER_DEPTH {
            let t = self.read(at)?;
            if t.kind == Kind::Pointer && t.name.starts_with('*') {
                match self.elem(at)? {
                    Some(elem) if elem != 0 => {
                        stars.push('*');
                        at = elem;
                        continue;
                    }
                    _ => return Ok(format!("{stars}{}", t.name)),
                }
            }
            let path = self.uncommon(at)?.map(|u| u.pkg_path).unwrap_or_default();
            return Ok(format!("{stars}{}", qualified(&t.name, &path)));
        }
        Err(Error::corrupt(format!(
            "the type at {typ:#x} points to more than {MAX_POINTER_DEPTH} pointer types"
        ))
        .at(typ))
    }

    /// The types the binary lists for `reflect`: `moduledata.typelinks` (go1.21 – go1.26;
    /// unnamed composite types such as `*T` and `[]T`), or every descriptor laid out from
    /// `types` (go1.27).
    pub fn typelinks(&self) -> Result<&[u64]> {
        self.links
            .get_or_init(|| self.read_typelinks())
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Error::clone)
    }

    fn read_typelinks(&self) -> Result<Vec<u64>> {
        if let Some(tl) = self.typelinks {
            if tl.len > MAX_TYPES {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!("typelinks claims {} entries", tl.len),
                ));
            }
            // Bounded by MAX_TYPES above.
            let raw = self
                .mem
                .read_vec(tl.ptr, tl.len.saturating_mul(4) as usize)?;
            return Ok(raw
                .chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(|c| {
                    self.types
                        .wrapping_add(u64::from(i32::from_le_bytes(c) as u32))
                })
                .collect());
        }
        let end = self.typedesc_end.ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "the binary has neither typelinks nor a typedesclen to walk its types by",
            )
        })?;
        self.walk_descriptors(end)
    }

    /// Descriptors laid out back to back from `types.wrapping_add(8)` to `end`, as go1.27's linker
    /// writes them (each one's extent is its `DescriptorSize`).
    fn walk_descriptors(&self, end: u64) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let mut at = self.types.wrapping_add(PTR);
        while at < end {
            if out.len() as u64 >= MAX_TYPES {
                return Err(Error::corrupt("too many type descriptors"));
            }
            at = at
                .checked_add(PTR - 1)
                .map(|a| a & !(PTR - 1))
                .ok_or_else(|| Error::corrupt("type descriptor walk overflowed"))?;
            if at >= end {
                break;
            }
            let size = self
                .descriptor_size(at)
                .map_err(|e| e.context(&format!("walking type descriptors at {at:#x}")))?;
            out.push(at);
            at = at
                .checked_add(size)
                .ok_or_else(|| Error::corrupt("type descriptor walk overflowed"))?;
        }
        Ok(out)
    }

    /// Bytes the descriptor at `typ` takes: its kind's struct, the uncommon part, trailing
    /// parameters, interface methods or struct fields, and the method table.
    fn descriptor_size(&self, typ: u64) -> Result<u64> {
        let h = self.header(typ)?;
        let o = &self.off;
        // The walk steps by this size: one that overflows is corrupt, not wrapped.
        let overflow = || Error::corrupt(format!("the type descriptor at {typ:#x} overflows"));
        let (base, add) = match h.kind {
            Kind::Array => (o.array_type_size, 0),
            Kind::Chan => (o.chan_type_size, 0),
            Kind::Map => (o.map_type_size, 0),
            Kind::Pointer => (o.ptr_type_size, 0),
            Kind::Slice => (o.slice_type_size, 0),
            Kind::Func => {
                let inc = u64::from(self.mem.read_u16(typ.wrapping_add(o.func_in))?);
                let outc = u64::from(self.mem.read_u16(typ.wrapping_add(o.func_out))? & 0x7fff);
                // Two 16-bit counts of pointers: no overflow.
                (
                    o.func_type_size,
                    inc.saturating_add(outc).saturating_mul(PTR),
                )
            }
            Kind::Interface => {
                let n = self.slice_len(typ, o.iface_methods, MAX_IMETHODS)?;
                let add = n.checked_mul(o.imethod_size).ok_or_else(overflow)?;
                (o.iface_type_size, add)
            }
            Kind::Struct => {
                let n = self.slice_len(typ, o.struct_fields, MAX_FIELDS)?;
                let add = n.checked_mul(o.field_size).ok_or_else(overflow)?;
                (o.struct_type_size, add)
            }
            _ => (o.type_size, 0),
        };
        let mut size = base.checked_add(add).ok_or_else(overflow)?;
        if h.tflag & TFLAG_UNCOMMON != 0 {
            let mcount = self
                .mem
                .read_u16(typ.wrapping_add(base.wrapping_add(o.uncommon_mcount)))?;
            // mcount is 16 bits: the method table's size does not overflow.
            let methods = u64::from(mcount).saturating_mul(METHOD_SIZE);
            size = o
                .uncommon_size
                .checked_add(methods)
                .and_then(|u| size.checked_add(u))
                .ok_or_else(overflow)?;
        }
        Ok(size)
    }

    fn slice_len(&self, typ: u64, off: u64, max: u64) -> Result<u64> {
        let len = self.mem.read_u64(typ.wrapping_add(off).wrapping_add(PTR))?;
        if len > max {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("type at {typ:#x} claims {len} entries"),
            ));
        }
        Ok(len)
    }

    /// The first descriptor whose name (as [`TypeReader::name`] gives it) is `name`:
    /// looked up among the typelinks and the types they point to, then by searching the
    /// module's type data for the encoded name and a descriptor that refers to it.
    pub fn find_type(&self, name: &str) -> Result<Option<u64>> {
        let linked = self.typelinks().unwrap_or_default();
        for &t in linked {
            if self.name(t).is_ok_and(|n| n == name) {
                return Ok(Some(t));
            }
        }
        // Named types are not in typelinks, but `*T` often is.
        for &t in linked {
            if self.kind(t).ok() != Some(Kind::Pointer) {
                continue;
            }
            if let Ok(Some(e)) = self.elem(t) {
                if self.name(e).is_ok_and(|n| n == name) {
                    return Ok(Some(e));
                }
            }
        }
        Ok(self.search_section(name)?.into_iter().next())
    }

    /// Every descriptor in `[types, etypes)` whose name is `name`, found by searching the
    /// type data for the encoded name, then for the 8-aligned descriptors whose `Str`
    /// refers to it.
    pub fn search_section(&self, name: &str) -> Result<Vec<u64>> {
        let section = self
            .section
            .get_or_init(|| {
                let len = self.etypes.checked_sub(self.types).ok_or_else(|| {
                    Error::corrupt(format!(
                        "type data ends at {:#x}, before it starts at {:#x}",
                        self.etypes, self.types
                    ))
                })?;
                if len > MAX_TYPE_SECTION {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        format!("type data of {len} bytes is implausibly large"),
                    ));
                }
                self.mem.read_vec(self.types, len as usize)
            })
            .as_ref()
            .map_err(|e| e.clone())?;
        let mut out = Vec::new();
        // The compiler writes T's name as "*T" with TFlagExtraStar, sharing bytes with *T.
        let forms = [(format!("*{name}"), true), (name.to_string(), false)];
        let align = (PTR.wrapping_sub(self.types % PTR) % PTR) as usize;
        for (text, extra_star) in &forms {
            let mut pattern = varint(text.len());
            pattern.extend_from_slice(text.as_bytes());
            let mut from = 1usize;
            let mut hits = 0usize;
            while let Some(rest) = section.get(from..) {
                hits = hits.saturating_add(1);
                if hits > MAX_NAME_HITS {
                    break;
                }
                let Some(pos) = rest
                    .windows(pattern.len())
                    .position(|w| w == pattern.as_slice())
                else {
                    break;
                };
                // The name starts at its flags byte, just before the match (from >= 1).
                let name_at = from.saturating_add(pos).saturating_sub(1);
                from = from.saturating_add(pos).saturating_add(1);
                let Ok(name_off) = u32::try_from(name_at) else {
                    break;
                };
                let mut d = align;
                while let Some(desc) = section.get(d..d.saturating_add(self.off.type_size as usize))
                {
                    let field = |o: u64| desc.get(o as usize).copied().unwrap_or(0);
                    let str_ok = desc
                        .get(self.off.str as usize..(self.off.str as usize).saturating_add(4))
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .is_some_and(|b| u32::from_le_bytes(b) == name_off);
                    if str_ok
                        && (field(self.off.tflag) & TFLAG_EXTRA_STAR != 0) == *extra_star
                        && Kind::from_raw(field(self.off.kind)).is_some()
                    {
                        let addr = self.types.wrapping_add(d as u64);
                        if self.name(addr).is_ok_and(|n| n == name) && !out.contains(&addr) {
                            out.push(addr);
                        }
                    }
                    d = d.saturating_add(PTR as usize);
                }
            }
        }
        Ok(out)
    }

    /// The type stored in an `itab`: the dynamic type of a non-empty interface.
    pub fn itab_type(&self, itab: u64) -> Result<u64> {
        self.mem.read_ptr(itab.wrapping_add(self.off.itab_type))
    }

    fn header(&self, typ: u64) -> Result<Header> {
        if typ == 0 {
            return Err(Error::new(ErrorKind::Corrupt, "nil type descriptor"));
        }
        let n = self.off.type_size as usize;
        let buf = self
            .mem
            .read_vec(typ, n)
            .map_err(|e| e.context("reading a type descriptor"))?;
        let u64_at = |o: u64| {
            buf.get(o as usize..(o as usize).saturating_add(8))
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
        };
        let u32_at = |o: u64| {
            buf.get(o as usize..(o as usize).saturating_add(4))
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
        };
        let u8_at = |o: u64| buf.get(o as usize).copied();
        let bad = || Error::corrupt(format!("type descriptor at {typ:#x} is truncated"));
        let kind_raw = u8_at(self.off.kind).ok_or_else(bad)?;
        let kind = Kind::from_raw(kind_raw).ok_or_else(|| {
            Error::new(
                ErrorKind::Corrupt,
                format!("no type descriptor at {typ:#x}: kind byte {kind_raw:#x}"),
            )
        })?;
        let h = Header {
            size: u64_at(self.off.size).ok_or_else(bad)?,
            ptr_bytes: u64_at(self.off.ptr_bytes).ok_or_else(bad)?,
            hash: u32_at(self.off.hash).ok_or_else(bad)?,
            tflag: u8_at(self.off.tflag).ok_or_else(bad)?,
            kind_raw,
            kind,
            str: u32_at(self.off.str).ok_or_else(bad)? as i32,
            ptr_to_this: u32_at(self.off.ptr_to_this).ok_or_else(bad)? as i32,
        };
        if h.ptr_bytes > h.size {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "no type descriptor at {typ:#x}: {} pointer bytes in a {}-byte type",
                    h.ptr_bytes, h.size
                ),
            ));
        }
        Ok(h)
    }

    /// `rtype.string()`: the `Str` name, without its leading `*` under `TFlagExtraStar`.
    fn string_of(&self, h: &Header) -> Result<String> {
        let name = self
            .name_at(h.str)?
            .ok_or_else(|| Error::corrupt("type descriptor without a name"))?;
        let mut s = name.text;
        if h.tflag & TFLAG_EXTRA_STAR != 0 {
            if !s.starts_with('*') {
                return Err(Error::corrupt(format!(
                    "type name {s:?} is marked as stored with a leading '*' but has none"
                )));
            }
            s.remove(0);
        }
        Ok(s)
    }

    /// A `NameOff`: 0 is no name; others are offsets from the module's `types`. Names of
    /// types made at run time by reflect (negative ids) cannot be resolved.
    fn name_at(&self, off: i32) -> Result<Option<Name>> {
        if off == 0 {
            return Ok(None);
        }
        let addr = self.module_off(off, "name")?;
        self.read_name(addr).map(Some)
    }

    /// A `TypeOff`: `None` for 0 and for -1, which marks a method type the linker dropped.
    fn type_off(&self, off: i32) -> Result<Option<u64>> {
        if off == 0 || off == -1 {
            return Ok(None);
        }
        self.module_off(off, "type").map(Some)
    }

    fn module_off(&self, off: i32, what: &str) -> Result<u64> {
        let addr = u64::try_from(off)
            .ok()
            .and_then(|o| self.types.checked_add(o))
            .filter(|&a| a < self.etypes)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Corrupt,
                    format!(
                        "{what} offset {off:#x} lies outside the binary's type data (a type made at run time, or corrupt)"
                    ),
                )
            })?;
        Ok(addr)
    }

    /// The `abi.Name` at `addr`: flags, varint length, bytes.
    fn read_name(&self, addr: u64) -> Result<Name> {
        if addr == 0 {
            return Err(Error::corrupt("nil name"));
        }
        let flags = self.mem.read_u8(addr)?;
        let mut len: usize = 0;
        let mut at = addr.wrapping_add(1);
        let mut done = false;
        // Lengths below 1<<28 take at most 4 varint bytes.
        for shift in [0u32, 7, 14, 21] {
            let b = self.mem.read_u8(at)?;
            at = at.wrapping_add(1);
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                done = true;
                break;
            }
        }
        if !done || len > MAX_NAME {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("name at {addr:#x} has an implausible length"),
            ));
        }
        let bytes = self.mem.read_vec(at, len)?;
        let text = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Name { flags, text })
    }

    /// A pointer to a descriptor stored at `typ + off`, which must be non-nil.
    fn type_ptr(&self, typ: u64, off: u64) -> Result<u64> {
        let p = self.mem.read_ptr(typ.wrapping_add(off))?;
        if p == 0 {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("the type at {typ:#x} refers to a nil type"),
            ));
        }
        Ok(p)
    }

    fn uncommon_addr(&self, typ: u64, h: &Header) -> Option<u64> {
        if h.tflag & TFLAG_UNCOMMON == 0 {
            return None;
        }
        let o = &self.off;
        let base = match h.kind {
            Kind::Array => o.array_type_size,
            Kind::Chan => o.chan_type_size,
            Kind::Func => o.func_type_size,
            Kind::Interface => o.iface_type_size,
            Kind::Map => o.map_type_size,
            Kind::Pointer => o.ptr_type_size,
            Kind::Slice => o.slice_type_size,
            Kind::Struct => o.struct_type_size,
            _ => o.type_size,
        };
        typ.checked_add(base)
    }
}

/// `name` (`fs.PathError`) with its package spelled as the import path `path` (`io/fs`)
/// when the path's last element is that package; else `name` itself.
fn qualified(name: &str, path: &str) -> String {
    match (name.split_once('.'), path.rsplit_once('/')) {
        (Some((package, rest)), Some((_, last))) if last == package => format!("{path}.{rest}"),
        _ => name.to_string(),
    }
}

/// The fields of `abi.Type` the reader uses.
#[derive(Debug, Clone, Copy)]
struct Header {
    size: u64,
    ptr_bytes: u64,
    hash: u32,
    tflag: u8,
    kind_raw: u8,
    kind: Kind,
    str: i32,
    ptr_to_this: i32,
}

impl Header {
    fn direct_iface(&self) -> bool {
        self.kind_raw & KIND_DIRECT_IFACE != 0 || self.tflag & TFLAG_DIRECT_IFACE != 0
    }
}

/// `n` as the unsigned varint `abi.Name` stores lengths in.
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::qualified;

    #[test]
    fn dwarf_names_spell_the_import_path() {
        assert_eq!(qualified("fs.PathError", "io/fs"), "io/fs.PathError");
        assert_eq!(qualified("main.T", "main"), "main.T");
        assert_eq!(qualified("fs.PathError", "other/pkg"), "fs.PathError");
        assert_eq!(qualified("[]int", ""), "[]int");
        assert_eq!(qualified("v2.T", "example.com/m/v2"), "example.com/m/v2.T");
    }
}
