//! Panic values decoded from their interface as the Go runtime prints them after `panic: `.
//!
//! When a panic is fatal the runtime first replaces every value that is an `error` or a
//! `Stringer` by the string its method returns (`preprintpanics`), then prints each value
//! with `printpanicval`: `nil`, the predeclared basic types by the runtime's own print
//! functions, other types by kind (`printanycustomtype`: `main.T("x")`, `main.N(5)`, or
//! `(main.S) 0xc000012345` for composite kinds). From go1.23 every newline of a printed
//! string is followed by a tab.
//!
//! goscope cannot run methods, so it computes `Error()` itself for the error types of the
//! runtime and the standard library whose text follows from their fields; for any other
//! `error` or `Stringer` it shows the type and fields in Go syntax and says the text is not
//! exact. A value in a core whose goroutine already printed its panics is a string by then,
//! and decodes exactly.

use std::cell::Cell;

use serde::Serialize;

use super::types::{Kind, Type, TypeReader};
use crate::binary::buildinfo::GoVersion;
use crate::error::{Error, ErrorKind, Result};
use crate::target::{Memory, MemoryExt};

/// The longest string read for a message; longer ones are cut and marked inexact.
const MAX_MESSAGE: usize = 1 << 20;
/// How deep errors wrapping errors are followed.
const MAX_DEPTH: usize = 8;
/// How deep values inside values are shown when a value is described.
const MAX_DESCRIBE_DEPTH: usize = 3;
/// Elements of an array or slice, and errors of a join, shown before `...`.
const MAX_ELEMS: u64 = 16;
/// Wrapped errors followed in all, so joins of joins stay bounded.
const MAX_WRAPPED: usize = 256;
/// Length at which a described value is cut.
const MAX_DESCRIBE: usize = 4096;
const PTR: u64 = 8;

/// A panic value as the runtime prints it after `panic: `.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PanicValue {
    /// The value's type as `%T` prints it (`<nil>` for a nil interface).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The text after `panic: `, without the ` [recovered]` suffixes the runtime adds for
    /// the record rather than the value.
    pub message: String,
    /// Whether `message` is exactly what the runtime prints. False when the value's `Error`
    /// or `String` method would have had to run: `message` then shows the type and its
    /// fields in Go syntax, like `*errs.CodeError{Code:500, Op:"process"}`.
    pub exact: bool,
}

/// The panic value held in the `interface{}` (`eface`) at `addr`, e.g. `_panic.arg`.
pub fn decode_eface<M: Memory>(reader: &TypeReader<M>, addr: u64) -> Result<PanicValue> {
    let mem = reader.memory();
    let typ = mem.read_ptr(addr)?;
    let data = mem.read_ptr(addr.wrapping_add(PTR))?;
    decode(reader, typ, data)
}

/// The panic value of dynamic type `typ` (a type descriptor address, 0 for nil) and data
/// word `data`. Fails only when the type descriptor cannot be read; a value whose data
/// cannot be read is described with `exact: false`.
pub fn decode<M: Memory>(reader: &TypeReader<M>, typ: u64, data: u64) -> Result<PanicValue> {
    if typ == 0 {
        return Ok(PanicValue {
            type_name: "<nil>".into(),
            message: "nil".into(),
            exact: true,
        });
    }
    let d = Decoder {
        r: reader,
        version: reader.go_version(),
        wrapped: Cell::new(0),
    };
    let t = reader.read(typ)?;
    let loc = Loc::of(&t, data);
    let text = match d.method_kind(&t) {
        Ok(Methods::Error) => d.indent(d.error_text(&t, loc, 0)),
        Ok(Methods::Stringer) => Text::inexact(d.describe(&t, loc)),
        Ok(Methods::Neither) => d.printpanicval(&t, loc, data),
        Err(e) => Text::inexact(format!("{} ({e})", d.describe(&t, loc))),
    };
    Ok(PanicValue {
        type_name: t.name,
        message: text.s,
        exact: text.exact,
    })
}

/// A message and whether it is exactly the runtime's.
#[derive(Debug, Clone)]
struct Text {
    s: String,
    exact: bool,
}

impl Text {
    fn exact(s: impl Into<String>) -> Text {
        Text {
            s: s.into(),
            exact: true,
        }
    }

    fn inexact(s: impl Into<String>) -> Text {
        Text {
            s: s.into(),
            exact: false,
        }
    }

    /// `self` followed by `other`.
    fn then(mut self, other: Text) -> Text {
        self.s.push_str(&other.s);
        self.exact &= other.exact;
        self
    }
}

/// Where a value lives: in memory, or in an interface's data word itself (pointer-shaped
/// types), in which case `off` is the offset reached inside it.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Addr(u64),
    Inline { word: u64, off: u64 },
}

impl Loc {
    fn of(t: &Type, data: u64) -> Loc {
        if t.direct_iface {
            Loc::Inline { word: data, off: 0 }
        } else {
            Loc::Addr(data)
        }
    }

    fn at(self, off: u64) -> Loc {
        match self {
            Loc::Addr(a) => Loc::Addr(a.wrapping_add(off)),
            Loc::Inline { word, off: o } => Loc::Inline {
                word,
                off: o.saturating_add(off),
            },
        }
    }
}

enum Methods {
    Error,
    Stringer,
    Neither,
}

struct Decoder<'r, M> {
    r: &'r TypeReader<M>,
    version: Option<GoVersion>,
    /// Wrapped errors followed so far.
    wrapped: Cell<usize>,
}

impl<M: Memory> Decoder<'_, M> {
    /// Whether the release is at least go1.`minor`; `None` when the version is unknown.
    fn since(&self, minor: u32) -> Option<bool> {
        self.version.map(|v| v.at_least(1, minor))
    }

    fn read_bytes(&self, loc: Loc, n: u64) -> Result<Vec<u8>> {
        match loc {
            Loc::Addr(a) => self.r.memory().read_vec(a, n as usize),
            Loc::Inline { word, off } => {
                let bytes = word.to_le_bytes();
                let start = usize::try_from(off).unwrap_or(usize::MAX);
                let end = start.saturating_add(n as usize);
                bytes.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
                    Error::corrupt("a value held in an interface word extends past it")
                })
            }
        }
    }

    /// An unsigned integer of `n` (1, 2, 4 or 8) bytes.
    fn read_uint(&self, loc: Loc, n: u64) -> Result<u64> {
        let b = self.read_bytes(loc, n)?;
        let mut buf = [0u8; 8];
        for (dst, src) in buf.iter_mut().zip(b.iter()) {
            *dst = *src;
        }
        Ok(u64::from_le_bytes(buf))
    }

    /// A signed integer of `n` bytes, sign-extended.
    fn read_int(&self, loc: Loc, n: u64) -> Result<i64> {
        let v = self.read_uint(loc, n)?;
        let shift = 64u32.saturating_sub((n as u32).saturating_mul(8));
        Ok(if shift >= 64 {
            0
        } else {
            ((v << shift) as i64) >> shift
        })
    }

    fn read_word(&self, loc: Loc) -> Result<u64> {
        self.read_uint(loc, PTR)
    }

    /// The Go string whose header is at `loc`; inexact if cut or not valid UTF-8.
    fn read_string(&self, loc: Loc) -> Result<Text> {
        let ptr = self.read_word(loc)?;
        let len = self.read_word(loc.at(PTR))? as i64;
        if len < 0 {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("string length {len} is negative"),
            ));
        }
        let want = (len as u64).min(MAX_MESSAGE as u64) as usize;
        let bytes = if want == 0 {
            Vec::new()
        } else {
            self.r.memory().read_vec(ptr, want)?
        };
        let cut = want as u64 != len as u64;
        Ok(match String::from_utf8(bytes) {
            Ok(mut s) => {
                if cut {
                    s.push_str("...");
                }
                Text { s, exact: !cut }
            }
            Err(e) => Text::inexact(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        })
    }

    fn method_kind(&self, t: &Type) -> Result<Methods> {
        if !t.uncommon {
            return Ok(Methods::Neither);
        }
        if self.r.has_method(t.addr, "Error", "func() string")? {
            return Ok(Methods::Error);
        }
        if self.r.has_method(t.addr, "String", "func() string")? {
            return Ok(Methods::Stringer);
        }
        Ok(Methods::Neither)
    }

    /// From go1.23, `printindented`: each newline is followed by a tab.
    fn indent(&self, text: Text) -> Text {
        if !text.s.contains('\n') {
            return text;
        }
        match self.since(23) {
            Some(false) => text,
            Some(true) => Text {
                s: text.s.replace('\n', "\n\t"),
                exact: text.exact,
            },
            None => Text::inexact(text.s.replace('\n', "\n\t")),
        }
    }

    /// The struct a value is or points to: its descriptor and where it is. `None` for a nil
    /// pointer; an error for other kinds.
    fn struct_of(&self, t: &Type, loc: Loc) -> Result<Option<(u64, Loc)>> {
        match t.kind {
            Kind::Struct => Ok(Some((t.addr, loc))),
            Kind::Pointer => {
                let p = self.read_word(loc)?;
                if p == 0 {
                    return Ok(None);
                }
                let elem = self
                    .r
                    .elem(t.addr)?
                    .ok_or_else(|| Error::corrupt("pointer type without element"))?;
                if self.r.kind(elem)? != Kind::Struct {
                    return Err(Error::corrupt(format!(
                        "{} does not point to a struct",
                        t.name
                    )));
                }
                Ok(Some((elem, Loc::Addr(p))))
            }
            _ => Err(Error::corrupt(format!("{} is not a struct", t.name))),
        }
    }

    /// Where the field `name` of the struct `st` at `base` is.
    fn field(&self, st: u64, base: Loc, name: &str) -> Result<Loc> {
        self.r
            .fields(st)?
            .into_iter()
            .find(|f| f.name == name)
            .map(|f| base.at(f.offset))
            .ok_or_else(|| Error::corrupt(format!("no field {name}")))
    }

    /// What `Error()` returns for a value of the error type `t`.
    fn error_text(&self, t: &Type, loc: Loc, depth: usize) -> Text {
        match self.known_error_text(t, loc, depth) {
            Ok(Some(text)) => text,
            Ok(None) => Text::inexact(self.describe(t, loc)),
            Err(e) => Text::inexact(format!("{} ({e})", self.describe(t, loc))),
        }
    }

    /// `Error()` of the runtime's and the standard library's error types whose text follows
    /// from their fields; `None` for other types.
    fn known_error_text(&self, t: &Type, loc: Loc, depth: usize) -> Result<Option<Text>> {
        let name = t.name.as_str();
        let field_of = |field: &str| -> Result<Option<Loc>> {
            match self.struct_of(t, loc)? {
                Some((st, base)) => self.field(st, base, field).map(Some),
                None => Ok(None),
            }
        };
        // A nil pointer receiver would make the method itself panic.
        macro_rules! field_or_nil {
            ($f:expr) => {
                match field_of($f)? {
                    Some(l) => l,
                    None => return Ok(Some(Text::inexact(format!("{name}(nil)")))),
                }
            };
        }
        let text = match name {
            "*errors.errorString" => self.read_string(field_or_nil!("s"))?,
            "*fmt.wrapError" | "*fmt.wrapErrors" => self.read_string(field_or_nil!("msg"))?,
            "*errors.joinError" => self.join_error_text(field_or_nil!("errs"), depth)?,
            "*fs.PathError" => {
                let op = self.read_string(field_or_nil!("Op"))?;
                let path = self.read_string(field_or_nil!("Path"))?;
                let err = self.iface_error_text(field_or_nil!("Err"), depth)?;
                op.then(Text::exact(" "))
                    .then(path)
                    .then(Text::exact(": "))
                    .then(err)
            }
            "*os.SyscallError" => {
                let call = self.read_string(field_or_nil!("Syscall"))?;
                let err = self.iface_error_text(field_or_nil!("Err"), depth)?;
                call.then(Text::exact(": ")).then(err)
            }
            "runtime.errorString" => Text::exact("runtime error: ").then(self.read_string(loc)?),
            "runtime.plainError" => self.read_string(loc)?,
            "runtime.errorAddressString" => {
                Text::exact("runtime error: ").then(self.read_string(field_or_nil!("msg"))?)
            }
            "runtime.boundsError" => self.bounds_error_text(t, loc)?,
            "*runtime.TypeAssertionError" => {
                let Some((st, base)) = self.struct_of(t, loc)? else {
                    return Ok(Some(Text::inexact(format!("{name}(nil)"))));
                };
                self.type_assertion_text(st, base)?
            }
            "*runtime.PanicNilError" => {
                let s = "panic called with nil argument";
                match self.since(27) {
                    Some(true) => Text::exact(format!("runtime error: {s}")),
                    Some(false) => Text::exact(s),
                    None => Text::inexact(s),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(text))
    }

    /// `Error()` of the `error` interface value at `loc`.
    fn iface_error_text(&self, loc: Loc, depth: usize) -> Result<Text> {
        let tab = self.read_word(loc)?;
        let data = self.read_word(loc.at(PTR))?;
        if tab == 0 {
            // Calling Error on a nil interface panics.
            return Ok(Text::inexact("<nil>"));
        }
        if depth >= MAX_DEPTH || self.wrapped.get() >= MAX_WRAPPED {
            return Ok(Text::inexact("..."));
        }
        self.wrapped.set(self.wrapped.get().saturating_add(1));
        let t = self.r.read(self.r.itab_type(tab)?)?;
        Ok(self.error_text(&t, Loc::of(&t, data), depth.saturating_add(1)))
    }

    /// `errors.joinError.Error()`: the errors' texts joined by newlines.
    fn join_error_text(&self, errs: Loc, depth: usize) -> Result<Text> {
        let ptr = self.read_word(errs)?;
        let len = self.read_word(errs.at(PTR))?;
        let mut out = Text::exact("");
        for i in 0..len.min(MAX_ELEMS) {
            if i > 0 {
                out.s.push('\n');
            }
            let e = Loc::Addr(ptr.wrapping_add(i.wrapping_mul(2 * PTR)));
            out = out.then(self.iface_error_text(e, depth)?);
        }
        if len > MAX_ELEMS {
            out = out.then(Text::inexact("\n..."));
        }
        Ok(out)
    }

    /// `runtime.boundsError.Error()`.
    fn bounds_error_text(&self, t: &Type, loc: Loc) -> Result<Text> {
        let x = self.read_int(self.field(t.addr, loc, "x")?, 8)?;
        let y = self.read_int(self.field(t.addr, loc, "y")?, 8)?;
        let signed = self.read_uint(self.field(t.addr, loc, "signed")?, 1)? != 0;
        let code = self.read_uint(self.field(t.addr, loc, "code")?, 1)?;
        Ok(match bounds_error(x, y, signed, code) {
            Some(s) => Text::exact(s),
            None => Text::inexact(format!(
                "runtime.boundsError{{x:{x}, y:{y}, signed:{signed}, code:{code}}}"
            )),
        })
    }

    /// `runtime.TypeAssertionError.Error()`.
    fn type_assertion_text(&self, st: u64, base: Loc) -> Result<Text> {
        let ptr = |f: &str| -> Result<u64> { self.read_word(self.field(st, base, f)?) };
        let inter = match ptr("_interface")? {
            0 => "interface".to_string(),
            t => self.r.name(t)?,
        };
        let asserted = ptr("asserted")?;
        let as_name = self.r.name(asserted)?;
        let concrete = ptr("concrete")?;
        if concrete == 0 {
            return Ok(Text::exact(format!(
                "interface conversion: {inter} is nil, not {as_name}"
            )));
        }
        let cs = self.r.name(concrete)?;
        let missing = self.read_string(self.field(st, base, "missingMethod")?)?;
        if missing.s.is_empty() {
            let mut msg = format!("interface conversion: {inter} is {cs}, not {as_name}");
            if cs == as_name {
                if self.r.pkg_path(concrete)? != self.r.pkg_path(asserted)? {
                    msg.push_str(" (types from different packages)");
                } else {
                    msg.push_str(" (types from different scopes)");
                }
            }
            return Ok(Text::exact(msg));
        }
        Ok(Text::exact(format!(
            "interface conversion: {cs} is not {as_name}: missing method "
        ))
        .then(missing))
    }

    /// `printpanicval` of a value that is neither an error nor a Stringer.
    fn printpanicval(&self, t: &Type, loc: Loc, data: u64) -> Text {
        match self.try_printpanicval(t, loc, data) {
            Ok(text) => text,
            Err(e) => Text::inexact(format!("({}) {data:#x} ({e})", t.name)),
        }
    }

    fn try_printpanicval(&self, t: &Type, loc: Loc, data: u64) -> Result<Text> {
        // The predeclared types print bare; every other type goes to printanycustomtype.
        if t.name == t.kind.name() && (t.kind.is_basic() || t.kind == Kind::String) {
            if t.kind == Kind::String {
                return Ok(self.indent(self.read_string(loc)?));
            }
            return self.print_basic(t.kind, loc);
        }
        let name = &t.name;
        Ok(match t.kind {
            Kind::String => {
                let s = self.indent(self.read_string(loc)?);
                Text::exact(format!("{name}(\""))
                    .then(s)
                    .then(Text::exact("\")"))
            }
            Kind::Complex64 | Kind::Complex128 => {
                Text::exact(name.clone()).then(self.print_basic(t.kind, loc)?)
            }
            k if k.is_basic() => Text::exact(format!("{name}("))
                .then(self.print_basic(k, loc)?)
                .then(Text::exact(")")),
            _ => Text::exact(format!("({name}) {data:#x}")),
        })
    }

    /// A boolean or number as the runtime's `print` writes it.
    fn print_basic(&self, kind: Kind, loc: Loc) -> Result<Text> {
        let new_floats = self.since(26);
        let float_text = |s: String| match new_floats {
            Some(_) => Text::exact(s),
            None => Text::inexact(s),
        };
        let float = |v: f64, bits32: bool| {
            if new_floats.unwrap_or(true) {
                format_g_shortest(v, bits32)
            } else {
                format_float_legacy(v)
            }
        };
        Ok(match kind {
            Kind::Bool => Text::exact(if self.read_uint(loc, 1)? != 0 {
                "true"
            } else {
                "false"
            }),
            Kind::Int | Kind::Int64 => Text::exact(self.read_int(loc, 8)?.to_string()),
            Kind::Int8 => Text::exact(self.read_int(loc, 1)?.to_string()),
            Kind::Int16 => Text::exact(self.read_int(loc, 2)?.to_string()),
            Kind::Int32 => Text::exact(self.read_int(loc, 4)?.to_string()),
            // uintptr prints in decimal too: the compiler calls printuint for it.
            Kind::Uint | Kind::Uint64 | Kind::Uintptr => {
                Text::exact(self.read_uint(loc, 8)?.to_string())
            }
            Kind::Uint8 => Text::exact(self.read_uint(loc, 1)?.to_string()),
            Kind::Uint16 => Text::exact(self.read_uint(loc, 2)?.to_string()),
            Kind::Uint32 => Text::exact(self.read_uint(loc, 4)?.to_string()),
            Kind::Float32 => {
                let v = f32::from_bits(self.read_uint(loc, 4)? as u32);
                float_text(float(f64::from(v), true))
            }
            Kind::Float64 => float_text(float(f64::from_bits(self.read_uint(loc, 8)?), false)),
            Kind::Complex64 => {
                let re = f64::from(f32::from_bits(self.read_uint(loc, 4)? as u32));
                let im = f64::from(f32::from_bits(self.read_uint(loc.at(4), 4)? as u32));
                float_text(complex(float(re, true), float(im, true), new_floats))
            }
            Kind::Complex128 => {
                let re = f64::from_bits(self.read_uint(loc, 8)?);
                let im = f64::from_bits(self.read_uint(loc.at(8), 8)?);
                float_text(complex(float(re, false), float(im, false), new_floats))
            }
            _ => return Err(Error::corrupt("not a basic kind")),
        })
    }

    /// The value in Go syntax, for values whose method goscope cannot run:
    /// `*errs.CodeError{Code:500, Op:"process"}`, `main.Code(7)`, `*main.E(nil)`.
    fn describe(&self, t: &Type, loc: Loc) -> String {
        let mut out = String::new();
        let name = &t.name;
        match t.kind {
            Kind::Pointer => match self.read_word(loc) {
                Ok(0) => out.push_str(&format!("{name}(nil)")),
                Ok(p) => match self.r.elem(t.addr) {
                    Ok(Some(e)) if self.r.kind(e).ok() == Some(Kind::Struct) => {
                        out.push_str(name);
                        self.fmt_struct(e, Loc::Addr(p), 1, &mut out);
                    }
                    _ => out.push_str(&format!("({name})({p:#x})")),
                },
                Err(e) => out.push_str(&format!("{name}(<{e}>)")),
            },
            Kind::Struct => {
                out.push_str(name);
                self.fmt_struct(t.addr, loc, 1, &mut out);
            }
            _ => {
                out.push_str(name);
                out.push('(');
                self.fmt_value(t.addr, loc, 1, &mut out);
                out.push(')');
            }
        }
        cut(out)
    }

    fn fmt_struct(&self, st: u64, loc: Loc, depth: usize, out: &mut String) {
        if depth > MAX_DESCRIBE_DEPTH {
            out.push_str("{...}");
            return;
        }
        let fields = match self.r.fields(st) {
            Ok(f) => f,
            Err(e) => {
                out.push_str(&format!("{{<{e}>}}"));
                return;
            }
        };
        out.push('{');
        for (i, f) in fields.iter().enumerate() {
            if out.len() > MAX_DESCRIBE {
                break;
            }
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&f.name);
            out.push(':');
            self.fmt_value(f.typ, loc.at(f.offset), depth.saturating_add(1), out);
        }
        out.push('}');
    }

    /// A value without its type name, except where Go syntax needs one (named structs,
    /// interface contents).
    fn fmt_value(&self, typ: u64, loc: Loc, depth: usize, out: &mut String) {
        if let Err(e) = self.try_fmt_value(typ, loc, depth, out) {
            out.push_str(&format!("<{e}>"));
        }
    }

    fn try_fmt_value(&self, typ: u64, loc: Loc, depth: usize, out: &mut String) -> Result<()> {
        let t = self.r.read(typ)?;
        match t.kind {
            Kind::Bool => out.push_str(if self.read_uint(loc, 1)? != 0 {
                "true"
            } else {
                "false"
            }),
            Kind::Int | Kind::Int64 => out.push_str(&self.read_int(loc, 8)?.to_string()),
            Kind::Int8 => out.push_str(&self.read_int(loc, 1)?.to_string()),
            Kind::Int16 => out.push_str(&self.read_int(loc, 2)?.to_string()),
            Kind::Int32 => out.push_str(&self.read_int(loc, 4)?.to_string()),
            Kind::Uint | Kind::Uint64 => out.push_str(&self.read_uint(loc, 8)?.to_string()),
            Kind::Uint8 => out.push_str(&self.read_uint(loc, 1)?.to_string()),
            Kind::Uint16 => out.push_str(&self.read_uint(loc, 2)?.to_string()),
            Kind::Uint32 => out.push_str(&self.read_uint(loc, 4)?.to_string()),
            Kind::Uintptr => out.push_str(&format!("{:#x}", self.read_uint(loc, 8)?)),
            Kind::Float32 => {
                let v = f32::from_bits(self.read_uint(loc, 4)? as u32);
                out.push_str(&format_g_shortest(f64::from(v), true));
            }
            Kind::Float64 => {
                out.push_str(&format_g_shortest(
                    f64::from_bits(self.read_uint(loc, 8)?),
                    false,
                ));
            }
            Kind::Complex64 | Kind::Complex128 => {
                let (n, bits32) = if t.kind == Kind::Complex64 {
                    (4, true)
                } else {
                    (8, false)
                };
                let part = |l: Loc| -> Result<f64> {
                    let raw = self.read_uint(l, n)?;
                    Ok(if bits32 {
                        f64::from(f32::from_bits(raw as u32))
                    } else {
                        f64::from_bits(raw)
                    })
                };
                let re = format_g_shortest(part(loc)?, bits32);
                let im = format_g_shortest(part(loc.at(n))?, bits32);
                out.push_str(&complex(re, im, Some(true)));
            }
            Kind::String => {
                let s = self.read_string(loc)?;
                out.push_str(&go_quote(&s.s));
            }
            Kind::Pointer | Kind::UnsafePointer | Kind::Chan | Kind::Func | Kind::Map => {
                match self.read_word(loc)? {
                    0 => out.push_str("nil"),
                    p => out.push_str(&format!("{p:#x}")),
                }
            }
            Kind::Struct => {
                if t.named {
                    out.push_str(&t.name);
                }
                self.fmt_struct(typ, loc, depth, out);
            }
            Kind::Array => {
                let len = self.r.array_len(typ)?.unwrap_or(0);
                let elem = self.r.elem(typ)?.unwrap_or(0);
                let esize = self.r.size(elem)?;
                self.fmt_elems(elem, esize, loc, len, depth, out);
            }
            Kind::Slice => {
                let ptr = self.read_word(loc)?;
                let len = self.read_word(loc.at(PTR))?;
                let elem = self.r.elem(typ)?.unwrap_or(0);
                if ptr == 0 {
                    out.push_str("nil");
                } else {
                    let esize = self.r.size(elem)?;
                    self.fmt_elems(elem, esize, Loc::Addr(ptr), len, depth, out);
                }
            }
            Kind::Interface => {
                let first = self.read_word(loc)?;
                let data = self.read_word(loc.at(PTR))?;
                if first == 0 {
                    out.push_str("nil");
                    return Ok(());
                }
                let dynamic = if self.r.interface_method_count(typ)? == Some(0) {
                    first
                } else {
                    self.r.itab_type(first)?
                };
                let dt = self.r.read(dynamic)?;
                if depth > MAX_DESCRIBE_DEPTH {
                    out.push_str(&format!("{}(...)", dt.name));
                    return Ok(());
                }
                let inner = Loc::of(&dt, data);
                match dt.kind {
                    Kind::Pointer | Kind::UnsafePointer | Kind::Chan | Kind::Func | Kind::Map => {
                        out.push_str(&format!("({})({data:#x})", dt.name));
                    }
                    Kind::Struct => {
                        out.push_str(&dt.name);
                        self.fmt_struct(dynamic, inner, depth.saturating_add(1), out);
                    }
                    _ => {
                        out.push_str(&dt.name);
                        out.push('(');
                        self.fmt_value(dynamic, inner, depth.saturating_add(1), out);
                        out.push(')');
                    }
                }
            }
        }
        Ok(())
    }

    fn fmt_elems(
        &self,
        elem: u64,
        esize: u64,
        base: Loc,
        len: u64,
        depth: usize,
        out: &mut String,
    ) {
        out.push('[');
        if depth > MAX_DESCRIBE_DEPTH {
            out.push_str("...]");
            return;
        }
        for i in 0..len.min(MAX_ELEMS) {
            if out.len() > MAX_DESCRIBE {
                break;
            }
            if i > 0 {
                out.push_str(", ");
            }
            let at = base.at(i.wrapping_mul(esize));
            self.fmt_value(elem, at, depth.saturating_add(1), out);
        }
        if len > MAX_ELEMS {
            out.push_str(&format!(", ... ({len} in all)"));
        }
        out.push(']');
    }
}

/// Cuts a described value at [`MAX_DESCRIBE`] bytes, on a character boundary.
fn cut(mut s: String) -> String {
    if s.len() > MAX_DESCRIBE {
        let mut end = MAX_DESCRIBE;
        while !s.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// `boundsError.Error()`: the message for an index or slice expression out of range.
/// `code` selects the expression (`runtime.boundsErrorCode`, `abi.BoundsErrorCode` from
/// go1.26, same values); `x` is shown signed or unsigned as `signed` says; a negative
/// signed `x` has its own wording that leaves `y` out. `None` for codes the runtime's
/// table does not have.
pub fn bounds_error(x: i64, y: i64, signed: bool, code: u64) -> Option<String> {
    const FORMATS: [&str; 9] = [
        "index out of range [%x] with length %y",
        "slice bounds out of range [:%x] with length %y",
        "slice bounds out of range [:%x] with capacity %y",
        "slice bounds out of range [%x:%y]",
        "slice bounds out of range [::%x] with length %y",
        "slice bounds out of range [::%x] with capacity %y",
        "slice bounds out of range [:%x:%y]",
        "slice bounds out of range [%x:%y:]",
        "cannot convert slice with length %y to array or pointer to array with length %x",
    ];
    const NEGATIVE_FORMATS: [&str; 8] = [
        "index out of range [%x]",
        "slice bounds out of range [:%x]",
        "slice bounds out of range [:%x]",
        "slice bounds out of range [%x:]",
        "slice bounds out of range [::%x]",
        "slice bounds out of range [::%x]",
        "slice bounds out of range [:%x:]",
        "slice bounds out of range [%x::]",
    ];
    let code = usize::try_from(code).ok()?;
    let format = if signed && x < 0 {
        NEGATIVE_FORMATS.get(code)?
    } else {
        FORMATS.get(code)?
    };
    let int_text = |v: i64, signed: bool| {
        if signed && v < 0 {
            format!("-{}", v.unsigned_abs())
        } else {
            (v as u64).to_string()
        }
    };
    let text = format
        .replace("%x", &int_text(x, signed))
        .replace("%y", &int_text(y, true));
    Some(format!("runtime error: {text}"))
}

/// A float as the runtime's `print` wrote it up to go1.25: sign, one digit, six decimals,
/// and a signed three-digit exponent (`+1.500000e+000`), computed with the same float
/// arithmetic so the digits agree.
pub fn format_float_legacy(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v + v == v && v > 0.0 {
        return "+Inf".into();
    }
    if v + v == v && v < 0.0 {
        return "-Inf".into();
    }
    const DIGITS: usize = 7;
    let mut v = v;
    let mut sign = '+';
    let mut exp: i32 = 0;
    if v == 0.0 {
        if v.is_sign_negative() {
            sign = '-';
        }
    } else {
        if v < 0.0 {
            v = -v;
            sign = '-';
        }
        // v is finite and non-zero here, so each loop ends within ~330 steps.
        while v >= 10.0 {
            exp = exp.saturating_add(1);
            v /= 10.0;
        }
        while v < 1.0 {
            exp = exp.saturating_sub(1);
            v *= 10.0;
        }
        let mut half = 5.0;
        for _ in 0..DIGITS {
            half /= 10.0;
        }
        v += half;
        if v >= 10.0 {
            exp = exp.saturating_add(1);
            v /= 10.0;
        }
    }
    let mut digits = String::with_capacity(DIGITS + 1);
    for i in 0..DIGITS {
        let d = v as i64;
        digits.push(char::from(b'0'.wrapping_add(d as u8)));
        if i == 0 {
            digits.push('.');
        }
        v -= d as f64;
        v *= 10.0;
    }
    let esign = if exp < 0 { '-' } else { '+' };
    let e = exp.unsigned_abs();
    format!("{sign}{digits}e{esign}{:03}", e)
}

/// A float formatted as Go's `strconv.FormatFloat(v, 'g', -1, bits)` does, which is how the
/// runtime prints floats from go1.26 and how `%v` formats them: the shortest digits that
/// read back as the same value, in exponent form when the decimal exponent is below -4 or
/// at least 6 (`1e+06`, `123456`, `1.5e-05`).
pub fn format_g_shortest(v: f64, bits32: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let neg = v.is_sign_negative();
    let sign = if neg { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0");
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like strconv's shortest mode.
    let sci = if bits32 {
        format!("{:e}", (v as f32).abs())
    } else {
        format!("{:e}", v.abs())
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let nd = digits.len() as i64;
    let dp = exponent.saturating_add(1);
    let digit = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |&d| char::from(d))
    };
    let mut out = String::from(sign);
    if !(-4..6).contains(&exponent) {
        out.push(digit(0));
        if nd > 1 {
            out.push('.');
            for i in 1..nd {
                out.push(digit(i));
            }
        }
        let esign = if exponent < 0 { '-' } else { '+' };
        let e = exponent.unsigned_abs();
        out.push('e');
        out.push(esign);
        out.push_str(&format!("{e:02}"));
        return out;
    }
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    let frac = nd.saturating_sub(dp).max(0);
    if frac > 0 {
        out.push('.');
        for i in 1..=frac {
            out.push(digit(dp.saturating_add(i).saturating_sub(1)));
        }
    }
    out
}

/// `(re+imi)`. strconv (go1.26 on) gives the imaginary part a sign when it has none (NaN);
/// the old float format signs every number but NaN and prints it as it is.
fn complex(re: String, im: String, strconv: Option<bool>) -> String {
    let signed = im.starts_with('+') || im.starts_with('-');
    let plus = if signed || strconv == Some(false) {
        ""
    } else {
        "+"
    };
    format!("({re}{plus}{im}i)")
}

/// A string in Go's double-quoted syntax, as `%q` would show it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
