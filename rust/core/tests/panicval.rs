//! Type descriptors and panic values, against the fixtures of every toolchain.
//!
//! - Descriptors: every type a binary lists (typelinks, or go1.27's laid-out descriptors)
//!   reads without error and its name agrees with its element, key and length; the error
//!   types of the runtime and the standard library are found by name with the kinds, sizes
//!   and fields their Go source declares, at the address of their `type:NAME` symbol when the
//!   binary keeps symbols.
//! - Values built in memory over a fixture core's real type descriptors (and synthetic
//!   descriptors for what the fixtures lack) decode to the text the runtime's `printpanicval`
//!   and the types' `Error` methods produce for that release.
//! - Cores: the `_panic` list of each crashed goroutine decodes to the `panic: ` lines in the
//!   fixture's traceback.txt; the goroutines the `panics` fixture parks mid-panic hold the
//!   values its FIXTURE line says, printed as it says.
//!
//! The tests over fixtures are ignored in a plain `cargo test` (the fixtures are built by the
//! Python harness); scripts/test runs them.

use std::path::{Path, PathBuf};

use goscope_core::error::{ErrorKind, Result as CoreResult};
use goscope_core::runtime::panicval::{self, PanicValue};
use goscope_core::runtime::types::{Kind, TypeReader};
use goscope_core::session::Target;
use goscope_core::target::{Memory, MemoryExt};

const TOOLCHAINS: &[&str] = &[
    "go1.21.13",
    "go1.22.10",
    "go1.23.9",
    "go1.24.11",
    "go1.25.5",
    "go1.26.6",
    "go1.26.8",
    "go1.27.3",
];

const BUILD_HINT: &str = "build the fixtures with `python3 -m tests.harness.build`";

fn fixtures_root() -> PathBuf {
    std::env::var_os("GOSCOPE_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/fixtures"),
        PathBuf::from,
    )
}

fn fixture(toolchain: &str, name: &str) -> PathBuf {
    let dir = fixtures_root().join(toolchain).join(name);
    assert!(
        dir.join("bin").is_file() && dir.join("core").is_file(),
        "fixture {} is missing: {BUILD_HINT}",
        dir.display()
    );
    dir
}

/// Every fixture directory with a binary and a core, for every toolchain; fails when the
/// fixtures every test needs are missing.
fn fixture_cores() -> Vec<PathBuf> {
    let root = fixtures_root();
    let mut out = Vec::new();
    for tc in TOOLCHAINS {
        for program in ["panics", "crash"] {
            for variant in ["default", "stripped", "noopt", "pie"] {
                fixture(tc, &format!("{program}-{variant}"));
            }
        }
        let dir = root.join(tc);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}: {BUILD_HINT}", dir.display()));
        for fx in entries {
            let fx = fx.expect("directory entry").path();
            if fx.join("core").is_file() && fx.join("bin").is_file() {
                out.push(fx);
            }
        }
    }
    out.sort();
    out
}

/// Runs `check` on every directory, a few at a time: opening a core takes a while. Returns
/// the sum of what the checks count.
fn for_each_parallel(dirs: &[PathBuf], check: impl Fn(&Path) -> usize + Sync) -> usize {
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut counted = 0;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(dir) = dirs.get(i) else {
                            return counted;
                        };
                        counted += check(dir);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .sum()
    })
}

fn open(dir: &Path) -> Target {
    Target::open_core(&dir.join("core"), &dir.join("bin"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn reader(t: &Target) -> TypeReader<&dyn Memory> {
    let rt = t.runtime();
    TypeReader::new(rt.memory(), t.binary(), rt.bias(), t.layout()).expect("type reader")
}

/// The release's minor version: 21 for go1.21.13.
fn minor(t: &Target) -> u32 {
    t.binary()
        .go_version()
        .expect("fixtures have build info")
        .minor
}

fn find(r: &TypeReader<impl Memory>, name: &str) -> u64 {
    r.find_type(name)
        .unwrap_or_else(|e| panic!("finding {name}: {e}"))
        .unwrap_or_else(|| panic!("no type {name}"))
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn descriptors_of_every_fixture() {
    // Every build variant of the panics program, and the crash and cgo programs' default and
    // PIE builds (cgo links externally).
    let dirs: Vec<PathBuf> = fixture_cores()
        .into_iter()
        .filter(|d| {
            let name = d.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            name.starts_with("panics-")
                || ["crash-default", "crash-pie", "cgo-default"].contains(&name.as_str())
        })
        .collect();
    let with_dwarf = for_each_parallel(&dirs, check_descriptors);
    assert!(
        with_dwarf > 100,
        "only {with_dwarf} descriptors checked against DWARF"
    );
}

/// Fields a struct type declares: name, type name, offset.
type Fields<'a> = &'a [(&'a str, &'a str, u64)];

/// Checks the descriptors of one fixture; returns how many were checked against DWARF.
fn check_descriptors(dir: &Path) -> usize {
    let mut with_dwarf = 0;
    {
        let what = dir.display().to_string();
        let t = open(dir);
        let r = reader(&t);
        let v = minor(&t);
        let dwarf_types = runtime_types_from_dwarf(&dir.join("bin"));

        // Everything the binary lists reads, with every accessor, and names agree with
        // elements, keys and lengths.
        let links = r.typelinks().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(links.len() > 100, "{what}: only {} types", links.len());
        for &typ in links {
            let ty = r
                .read(typ)
                .unwrap_or_else(|e| panic!("{what}: {typ:#x}: {e}"));
            let n = &ty.name;
            r.fields(typ).unwrap_or_else(|e| panic!("{what}: {n}: {e}"));
            r.methods(typ)
                .unwrap_or_else(|e| panic!("{what}: {n}: {e}"));
            r.pkg_path(typ)
                .unwrap_or_else(|e| panic!("{what}: {n}: {e}"));
            let elem = r.elem(typ).unwrap_or_else(|e| panic!("{what}: {n}: {e}"));
            let elem_name = elem.map(|e| r.name(e).expect("element name"));
            match ty.kind {
                Kind::Pointer => assert_eq!(*n, format!("*{}", elem_name.expect("elem"))),
                Kind::Slice => assert_eq!(*n, format!("[]{}", elem_name.expect("elem"))),
                Kind::Array => {
                    let len = r.array_len(typ).expect("array").expect("array length");
                    assert_eq!(*n, format!("[{len}]{}", elem_name.expect("elem")));
                }
                Kind::Map => {
                    let (k, e) = r.map_key_elem(typ).expect("map").expect("key");
                    let (k, e) = (r.name(k).expect("key"), r.name(e).expect("elem"));
                    assert_eq!(*n, format!("map[{k}]{e}"), "{what}");
                }
                Kind::Chan => assert!(n.starts_with("chan") || n.contains("chan "), "{n}"),
                _ => assert!(elem.is_none(), "{what}: {n}"),
            }
        }

        // The error types of the runtime and the standard library, as their source declares.
        let code_type = if v >= 26 {
            "abi.BoundsErrorCode"
        } else {
            "runtime.boundsErrorCode"
        };
        let cases: &[(&str, Kind, u64, Fields<'_>)] = &[
            ("*errors.errorString", Kind::Pointer, 8, &[]),
            (
                "errors.errorString",
                Kind::Struct,
                16,
                &[("s", "string", 0)],
            ),
            ("*fmt.wrapError", Kind::Pointer, 8, &[]),
            (
                "fmt.wrapError",
                Kind::Struct,
                32,
                &[("msg", "string", 0), ("err", "error", 16)],
            ),
            (
                "runtime.boundsError",
                Kind::Struct,
                24,
                &[
                    ("x", "int64", 0),
                    ("y", "int", 8),
                    ("signed", "bool", 16),
                    ("code", code_type, 17),
                ],
            ),
            ("*runtime.TypeAssertionError", Kind::Pointer, 8, &[]),
            (
                "runtime.TypeAssertionError",
                Kind::Struct,
                40,
                &[
                    ("_interface", "*abi.Type", 0),
                    ("concrete", "*abi.Type", 8),
                    ("asserted", "*abi.Type", 16),
                    ("missingMethod", "string", 24),
                ],
            ),
            ("runtime.plainError", Kind::String, 16, &[]),
            ("runtime.errorString", Kind::String, 16, &[]),
            ("string", Kind::String, 16, &[]),
            ("int", Kind::Int, 8, &[]),
            ("error", Kind::Interface, 16, &[]),
            ("interface {}", Kind::Interface, 16, &[]),
        ];
        let panics = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("panics"));
        for &(name, kind, size, fields) in cases {
            if name.contains("wrapError") && !panics {
                continue; // only the panics program uses fmt.Errorf with %w
            }
            let typ = find(&r, name);
            let ty = r.read(typ).expect("found types read");
            assert_eq!(ty.name, name, "{what}");
            assert_eq!(ty.kind, kind, "{what}: {name}");
            assert_eq!(ty.size, size, "{what}: {name}");
            let got: Vec<(String, String, u64)> = r
                .fields(typ)
                .expect("fields")
                .into_iter()
                .map(|f| (f.name, r.name(f.typ).expect("field type"), f.offset))
                .collect();
            let want: Vec<(String, String, u64)> = fields
                .iter()
                .map(|&(n, t, o)| (n.to_string(), t.to_string(), o))
                .collect();
            assert_eq!(got, want, "{what}: fields of {name}");
            // The descriptor DWARF names, where the binary has DWARF.
            if let Some(&off) = dwarf_types.get(name) {
                assert_eq!(typ, r.type_range().0 + off, "{what}: {name}");
                with_dwarf += 1;
            }
        }

        // Named types: package paths and method sets.
        let plain = find(&r, "runtime.plainError");
        let u = r
            .uncommon(plain)
            .expect("uncommon")
            .expect("named types have one");
        assert_eq!(u.pkg_path, "runtime", "{what}");
        let methods: Vec<String> = r
            .methods(plain)
            .expect("methods")
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(methods, ["Error", "RuntimeError"], "{what}");
        assert!(r
            .has_method(plain, "Error", "func() string")
            .expect("methods"));
        assert!(!r
            .has_method(plain, "String", "func() string")
            .expect("methods"));
        let int = find(&r, "int");
        assert_eq!(r.pkg_path(int).expect("pkg path"), "", "{what}");
        assert!(r.read(int).expect("int").named, "{what}");
        let err_iface = find(&r, "error");
        assert_eq!(r.interface_method_count(err_iface).expect("iface"), Some(1));
        let empty = find(&r, "interface {}");
        assert_eq!(r.interface_method_count(empty).expect("iface"), Some(0));
        if panics {
            let code_error = find(&r, "*errs.CodeError");
            // The runtime's pkgpath() reads the uncommon part, which *T has for its methods.
            let pkg = r.pkg_path(code_error).expect("pkg");
            assert_eq!(pkg, "goscope.test/errs", "{what}");
            let elem = r.elem(code_error).expect("elem").expect("pointer");
            assert_eq!(r.name(elem).expect("name"), "errs.CodeError");
            assert_eq!(
                r.pkg_path(elem).expect("pkg"),
                "goscope.test/errs",
                "{what}"
            );
            assert_eq!(r.read(elem).expect("elem").ptr_to_this, Some(code_error));
            assert!(r.read(code_error).expect("ptr").direct_iface, "{what}");
            assert!(!r.read(elem).expect("struct").direct_iface, "{what}");
            let fields = r.fields(elem).expect("fields");
            let names: Vec<(&str, bool, bool)> = fields
                .iter()
                .map(|f| (f.name.as_str(), f.exported, f.embedded))
                .collect();
            assert_eq!(
                names,
                [("Code", true, false), ("Op", true, false)],
                "{what}"
            );
        }
        let all = r.search_section("runtime.boundsError").expect("search");
        assert_eq!(all, [find(&r, "runtime.boundsError")], "{what}");
        assert_eq!(r.find_type("no.SuchType").expect("search"), None, "{what}");
    }
    with_dwarf
}

/// `DW_AT_go_runtime_type`: the attribute by which the Go linker's DWARF gives each type's
/// descriptor, as an offset in the type data (from `runtime.types`).
const DW_AT_GO_RUNTIME_TYPE: gimli::DwAt = gimli::DwAt(0x2904);

/// Type name to descriptor offset from `runtime.types`, from the binary's DWARF; empty
/// without DWARF.
fn runtime_types_from_dwarf(bin: &Path) -> std::collections::HashMap<String, u64> {
    use object::{Object, ObjectSection};
    let mut out = std::collections::HashMap::new();
    let data = std::fs::read(bin).expect("binary");
    let file = object::File::parse(&*data).expect("ELF");
    if file.section_by_name(".debug_info").is_none() {
        return out;
    }
    let load = |id: gimli::SectionId| -> Result<std::borrow::Cow<'_, [u8]>, gimli::Error> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or_default())
    };
    let sections = gimli::DwarfSections::load(load).expect("DWARF");
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, gimli::LittleEndian));
    let mut units = dwarf.units();
    while let Some(header) = units.next().expect("unit") {
        let unit = dwarf.unit(header).expect("unit");
        let mut entries = unit.entries();
        while let Some(entry) = entries.next_dfs().expect("entry") {
            let Some(gimli::AttributeValue::Addr(addr)) = entry.attr_value(DW_AT_GO_RUNTIME_TYPE)
            else {
                continue;
            };
            let Some(name) = entry.attr_value(gimli::DW_AT_name) else {
                continue;
            };
            let name = dwarf.attr_string(&unit, name).expect("name");
            out.insert(name.to_string_lossy().into_owned(), addr);
        }
    }
    out
}

/// Memory that serves synthetic regions over a core; the regions win where they overlap it.
struct Overlay<'a> {
    base: &'a dyn Memory,
    regions: Vec<(u64, Vec<u8>)>,
}

impl Memory for Overlay<'_> {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> CoreResult<()> {
        let base = self.base.read_at(addr, buf);
        let mut covered = vec![false; buf.len()];
        let end = addr.saturating_add(buf.len() as u64);
        for (start, bytes) in &self.regions {
            let stop = start.saturating_add(bytes.len() as u64);
            for a in (*start).max(addr)..stop.min(end) {
                let (i, j) = ((a - addr) as usize, (a - start) as usize);
                buf[i] = bytes[j];
                covered[i] = true;
            }
        }
        if base.is_err() && !covered.iter().all(|&c| c) {
            return base;
        }
        Ok(())
    }
}

/// Where synthetic values and descriptors go: an address no fixture core maps.
const SYNTHETIC: u64 = 0x5a5a_0000_0000;

const TFLAG_EXTRA_STAR: u8 = 1 << 1;
const TFLAG_NAMED: u8 = 1 << 2;

/// Types the tests read, whose names must stay intact.
const PROTECTED: &[&str] = &[
    "string",
    "int",
    "error",
    "interface {}",
    "func() string",
    "errors.errorString",
    "fmt.wrapError",
    "fmt.Stringer",
    "errs.CodeError",
    "runtime.boundsError",
    "runtime.TypeAssertionError",
    "runtime.errorString",
    "runtime.plainError",
];

/// Synthetic memory over a fixture core: values, descriptors and names. Names a descriptor
/// refers to by offset must lie in the binary's type data, so they overwrite the names of
/// types no test uses.
struct Lab<'t> {
    t: &'t Target,
    regions: Vec<(u64, Vec<u8>)>,
    next: u64,
    /// Names of unused types whose bytes may be overwritten: address and name length.
    hosts: Vec<(u64, usize)>,
    types: u64,
}

impl<'t> Lab<'t> {
    fn new(t: &'t Target) -> Lab<'t> {
        let r = reader(t);
        let (types, _) = r.type_range();
        let str_off = t.layout().offset("internal/abi.Type", "Str").expect("Str");
        let mut hosts: Vec<(u64, usize)> = Vec::new();
        for &typ in r.typelinks().expect("typelinks") {
            let name = r.name(typ).expect("name");
            // Names are shared by content, and T and *T share one: a host must not be the
            // name of any type the tests read, in either form.
            let bare = name.strip_prefix('*').unwrap_or(&name);
            if name.len() < 16 || PROTECTED.contains(&bare) {
                continue;
            }
            let off = u64::from(r.memory().read_u32(typ + str_off).expect("Str"));
            if !hosts.iter().any(|&(a, _)| a == types + off) {
                hosts.push((types + off, name.len()));
            }
        }
        assert!(
            hosts.len() > 16,
            "not enough type names to host synthetic names"
        );
        Lab {
            t,
            regions: Vec::new(),
            next: SYNTHETIC,
            hosts,
            types,
        }
    }

    fn memory(&self) -> Overlay<'_> {
        Overlay {
            base: self.t.runtime().memory(),
            regions: self.regions.clone(),
        }
    }

    fn alloc(&mut self, bytes: Vec<u8>) -> u64 {
        let at = self.next;
        self.next += (bytes.len() as u64 + 15) & !7;
        self.regions.push((at, bytes));
        at
    }

    fn alloc_words(&mut self, words: &[u64]) -> u64 {
        self.alloc(words.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    /// Overwrites bytes of an allocated region.
    fn patch(&mut self, addr: u64, bytes: &[u8]) {
        let (start, region) = self
            .regions
            .iter_mut()
            .find(|(s, b)| *s <= addr && addr < s + b.len() as u64)
            .expect("patching an allocated region");
        let at = (addr - *start) as usize;
        region[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// A Go string header for `s`, its bytes allocated.
    fn string(&mut self, s: &str) -> Vec<u8> {
        let ptr = if s.is_empty() {
            0
        } else {
            self.alloc(s.as_bytes().to_vec())
        };
        [ptr.to_le_bytes(), (s.len() as u64).to_le_bytes()].concat()
    }

    /// A Go string value in memory.
    fn string_value(&mut self, s: &str) -> u64 {
        let header = self.string(s);
        self.alloc(header)
    }

    fn encode_name(text: &str, flags: u8) -> Vec<u8> {
        assert!(text.len() < 128);
        let mut v = vec![flags, text.len() as u8];
        v.extend_from_slice(text.as_bytes());
        v
    }

    /// Raw bytes in the type data, returned as their offset from `types`.
    fn in_type_data(&mut self, bytes: Vec<u8>) -> u32 {
        let i = self
            .hosts
            .iter()
            .position(|&(_, len)| len + 2 >= bytes.len())
            .expect("a host name long enough");
        let (addr, _) = self.hosts.remove(i);
        self.regions.insert(0, (addr, bytes));
        (addr - self.types) as u32
    }

    /// A name in the type data, for `NameOff`s.
    fn name_off(&mut self, text: &str) -> u32 {
        self.in_type_data(Self::encode_name(text, 0))
    }

    /// A descriptor: `abi.Type` fields, the kind's extension (`ext`, placed after the header,
    /// `ext_size` bytes in all), then an uncommon part with `methods` (raw `abi.Method`s)
    /// when `uncommon` gives a package path.
    #[allow(clippy::too_many_arguments)]
    fn descriptor(
        &mut self,
        kind: Kind,
        size: u64,
        tflag: u8,
        str_off: u32,
        direct: bool,
        ext: &[(u64, Vec<u8>)],
        ext_size: u64,
        uncommon: Option<(u32, Vec<[u8; 16]>)>,
    ) -> u64 {
        let lay = self.t.layout();
        let off = |f: &str| lay.offset("internal/abi.Type", f).expect("abi.Type field") as usize;
        let mut b = vec![0u8; ext_size as usize];
        b[off("Size_")..off("Size_") + 8].copy_from_slice(&size.to_le_bytes());
        let mut kind_raw = kind as u8;
        let mut tflag = tflag;
        if direct {
            b[off("PtrBytes")..off("PtrBytes") + 8].copy_from_slice(&8u64.to_le_bytes());
            // KindDirectIface up to go1.25, TFlagDirectIface from go1.26.
            if minor(self.t) >= 26 {
                tflag |= 1 << 5;
            } else {
                kind_raw |= 1 << 5;
            }
        }
        b[off("Kind_")] = kind_raw;
        b[off("Str")..off("Str") + 4].copy_from_slice(&str_off.to_le_bytes());
        for (o, bytes) in ext {
            b[*o as usize..*o as usize + bytes.len()].copy_from_slice(bytes);
        }
        if let Some((pkg, methods)) = uncommon {
            tflag |= 1;
            let n = methods.len() as u16;
            b.extend_from_slice(&pkg.to_le_bytes());
            b.extend_from_slice(&n.to_le_bytes());
            b.extend_from_slice(&n.to_le_bytes());
            b.extend_from_slice(&16u32.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            for m in methods {
                b.extend_from_slice(&m);
            }
        }
        b[off("TFlag")] = tflag;
        self.alloc(b)
    }

    /// A named type of a basic kind (no extension).
    fn named(&mut self, name: &str, kind: Kind, size: u64, uncommon: (u32, Vec<[u8; 16]>)) -> u64 {
        let off = self.name_off(name);
        self.descriptor(kind, size, TFLAG_NAMED, off, false, &[], 48, Some(uncommon))
    }

    /// A struct descriptor with `fields` (name, type, offset); returns it and its field
    /// table.
    fn struct_type(
        &mut self,
        size: u64,
        tflag: u8,
        str_off: u32,
        fields: &[(&str, u64, u64)],
        uncommon: Option<(u32, Vec<[u8; 16]>)>,
    ) -> (u64, u64) {
        let mut table = Vec::new();
        for &(name, typ, offset) in fields {
            let exported = name.starts_with(|c: char| c.is_ascii_uppercase());
            let n = self.alloc(Self::encode_name(name, u8::from(exported)));
            table.extend_from_slice(&n.to_le_bytes());
            table.extend_from_slice(&typ.to_le_bytes());
            table.extend_from_slice(&offset.to_le_bytes());
        }
        let table = self.alloc(table);
        let len = fields.len() as u64;
        let slice = [table.to_le_bytes(), len.to_le_bytes(), len.to_le_bytes()].concat();
        let desc = self.descriptor(
            Kind::Struct,
            size,
            tflag,
            str_off,
            false,
            &[(56, slice)],
            80,
            uncommon,
        );
        (desc, table)
    }

    fn pointer_type(&mut self, str_off: u32, elem: u64, methods: Vec<[u8; 16]>) -> u64 {
        let ext = [(48, elem.to_le_bytes().to_vec())];
        self.descriptor(
            Kind::Pointer,
            8,
            0,
            str_off,
            true,
            &ext,
            56,
            Some((0, methods)),
        )
    }
}

/// The raw `abi.Method` entry `name` of the real type `typ`, to give synthetic types real
/// methods.
fn raw_method(r: &TypeReader<impl Memory>, t: &Target, typ: u64, name: &str) -> [u8; 16] {
    let i = r
        .methods(typ)
        .expect("methods")
        .iter()
        .position(|m| m.name == name)
        .unwrap_or_else(|| panic!("no method {name}"));
    let ext = match r.kind(typ).expect("kind") {
        Kind::Pointer => t.layout().size("internal/abi.PtrType"),
        Kind::Struct => t.layout().size("internal/abi.StructType"),
        _ => t.layout().size("internal/abi.Type"),
    }
    .expect("descriptor size");
    let u = r.uncommon(typ).expect("uncommon").expect("methods");
    let at = typ + ext + u64::from(u.moff) + 16 * i as u64;
    r.memory().read_array(at).expect("method entry")
}

fn words(w: &[u64]) -> Vec<u8> {
    w.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn value(message: &str, type_name: &str, exact: bool) -> PanicValue {
    PanicValue {
        type_name: type_name.into(),
        message: message.into(),
        exact,
    }
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn values_over_real_descriptors() {
    for tc in TOOLCHAINS {
        for variant in ["panics-default", "panics-pie"] {
            check_values(&fixture(tc, variant));
        }
    }
}

fn check_values(dir: &Path) {
    let what = dir.display().to_string();
    let t = open(dir);
    let v = minor(&t);
    let legacy_floats = v < 26;
    let indented = |s: &str| {
        if v >= 23 {
            s.replace('\n', "\n\t")
        } else {
            s.to_string()
        }
    };
    let base = reader(&t);
    let ty = |name: &str| find(&base, name);
    let (string_t, int_t, error_t, any_t) =
        (ty("string"), ty("int"), ty("error"), ty("interface {}"));
    let errstr_t = ty("*errors.errorString");
    let wrap_t = ty("*fmt.wrapError");
    let code_t = ty("*errs.CodeError");
    let code_elem = base.elem(code_t).expect("elem").expect("pointer");
    let bounds_t = ty("runtime.boundsError");
    let assert_t = ty("*runtime.TypeAssertionError");
    let stringer_t = ty("fmt.Stringer");
    let error_method = raw_method(&base, &t, errstr_t, "Error");
    let string_method = base
        .typelinks()
        .expect("typelinks")
        .iter()
        .find(|&&typ| {
            base.has_method(typ, "String", "func() string")
                .unwrap_or(false)
        })
        .map(|&typ| raw_method(&base, &t, typ, "String"))
        .expect("a type with a String method");

    let mut lab = Lab::new(&t);
    let main_pkg = lab.name_off("main");
    let mut cases: Vec<(&str, u64, u64, PanicValue)> = Vec::new();

    // Predeclared types print bare.
    let data = lab.string_value("boom");
    cases.push(("string", string_t, data, value("boom", "string", true)));
    let data = lab.string_value("line one\ngoroutine 1 [running]:");
    let want = indented("line one\ngoroutine 1 [running]:");
    cases.push((
        "multi-line string",
        string_t,
        data,
        value(&want, "string", true),
    ));
    let data = lab.alloc((-42i64).to_le_bytes().to_vec());
    cases.push(("int", int_t, data, value("-42", "int", true)));
    for (name, kind, bytes, want) in [
        ("bool", Kind::Bool, vec![1u8], "true"),
        ("int8", Kind::Int8, vec![0xfb], "-5"),
        ("uint16", Kind::Uint16, vec![0xff, 0xff], "65535"),
        ("uintptr", Kind::Uintptr, words(&[4096]), "4096"),
        (
            "uint64",
            Kind::Uint64,
            words(&[u64::MAX]),
            "18446744073709551615",
        ),
    ] {
        let typ = lab.named(name, kind, bytes.len() as u64, (0, vec![]));
        let data = lab.alloc(bytes);
        cases.push((name, typ, data, value(want, name, true)));
    }
    // Floats: the runtime's own format up to go1.25, strconv's shortest 'g' from go1.26.
    let f64_t = lab.named("float64", Kind::Float64, 8, (0, vec![]));
    let f32_t = lab.named("float32", Kind::Float32, 4, (0, vec![]));
    let c128_t = lab.named("complex128", Kind::Complex128, 16, (0, vec![]));
    let c64_t = lab.named("complex64", Kind::Complex64, 8, (0, vec![]));
    for (val, old, new) in [
        (1.5f64, "+1.500000e+000", "1.5"),
        (-0.0, "-0.000000e+000", "-0"),
        (0.0, "+0.000000e+000", "0"),
        (1e21, "+1.000000e+021", "1e+21"),
        (123456.0, "+1.234560e+005", "123456"),
        (1234567.0, "+1.234567e+006", "1.234567e+06"),
        (0.0001, "+1.000000e-004", "0.0001"),
        (0.00001234, "+1.234000e-005", "1.234e-05"),
        (-2.5e-300, "-2.500000e-300", "-2.5e-300"),
        (f64::INFINITY, "+Inf", "+Inf"),
        (f64::NEG_INFINITY, "-Inf", "-Inf"),
        (f64::NAN, "NaN", "NaN"),
        (2.0 / 3.0, "+6.666667e-001", "0.6666666666666666"),
    ] {
        let data = lab.alloc(val.to_bits().to_le_bytes().to_vec());
        let want = if legacy_floats { old } else { new };
        cases.push(("float64", f64_t, data, value(want, "float64", true)));
    }
    let data = lab.alloc(0.1f32.to_bits().to_le_bytes().to_vec());
    let want = if legacy_floats {
        "+1.000000e-001"
    } else {
        "0.1"
    };
    cases.push(("float32", f32_t, data, value(want, "float32", true)));
    let data = lab.alloc([1.5f64.to_le_bytes(), (-2.0f64).to_le_bytes()].concat());
    let want = if legacy_floats {
        "(+1.500000e+000-2.000000e+000i)"
    } else {
        "(1.5-2i)"
    };
    cases.push(("complex128", c128_t, data, value(want, "complex128", true)));
    // The old format prints NaN without a sign; strconv gives the imaginary part one.
    let data = lab.alloc([0.5f32.to_le_bytes(), f32::NAN.to_le_bytes()].concat());
    let want = if legacy_floats {
        "(+5.000000e-001NaNi)"
    } else {
        "(0.5+NaNi)"
    };
    cases.push(("complex64", c64_t, data, value(want, "complex64", true)));

    // Other types print by kind (printanycustomtype).
    let named_string = lab.named("main.Name", Kind::String, 16, (main_pkg, vec![]));
    let data = lab.string_value("a\nb");
    let want = format!("main.Name(\"{}\")", indented("a\nb"));
    cases.push((
        "named string",
        named_string,
        data,
        value(&want, "main.Name", true),
    ));
    let named_float = lab.named("main.Temp", Kind::Float64, 8, (main_pkg, vec![]));
    let data = lab.alloc(36.6f64.to_bits().to_le_bytes().to_vec());
    let want = if legacy_floats {
        "main.Temp(+3.660000e+001)"
    } else {
        "main.Temp(36.6)"
    };
    cases.push((
        "named float",
        named_float,
        data,
        value(want, "main.Temp", true),
    ));
    let named_int = lab.named("main.Level", Kind::Int32, 4, (main_pkg, vec![]));
    let data = lab.alloc((-7i32).to_le_bytes().to_vec());
    cases.push((
        "named int",
        named_int,
        data,
        value("main.Level(-7)", "main.Level", true),
    ));
    let named_bool = lab.named("main.Flag", Kind::Bool, 1, (main_pkg, vec![]));
    let data = lab.alloc(vec![0]);
    cases.push((
        "named bool",
        named_bool,
        data,
        value("main.Flag(false)", "main.Flag", true),
    ));
    let named_complex = lab.named("main.Z", Kind::Complex128, 16, (main_pkg, vec![]));
    let data = lab.alloc([0.0f64.to_le_bytes(), 1.0f64.to_le_bytes()].concat());
    let want = if legacy_floats {
        "main.Z(+0.000000e+000+1.000000e+000i)"
    } else {
        "main.Z(0+1i)"
    };
    cases.push((
        "named complex",
        named_complex,
        data,
        value(want, "main.Z", true),
    ));
    // A struct with no Error method (CodeError's is on the pointer) prints its address.
    let s = lab.string("x");
    let data = lab.alloc([words(&[7]), s].concat());
    let want = format!("(errs.CodeError) {data:#x}");
    cases.push((
        "struct",
        code_elem,
        data,
        value(&want, "errs.CodeError", true),
    ));

    // The runtime's errors, reconstructed.
    let data = lab.string_value("integer divide by zero");
    let want = value(
        "runtime error: integer divide by zero",
        "runtime.errorString",
        true,
    );
    cases.push(("errorString", ty("runtime.errorString"), data, want));
    let data = lab.string_value("assignment to entry in nil map");
    let want = value("assignment to entry in nil map", "runtime.plainError", true);
    cases.push(("plainError", ty("runtime.plainError"), data, want));
    // errorAddressString: not in every binary; the type is built after its declaration.
    let addr_name = lab.name_off("runtime.errorAddressString");
    let (addr_t, _) = lab.struct_type(
        24,
        TFLAG_NAMED,
        addr_name,
        &[("msg", string_t, 0), ("addr", int_t, 16)],
        Some((0, vec![error_method])),
    );
    let s = lab.string("invalid memory address or nil pointer dereference");
    let data = lab.alloc([s, words(&[0x10])].concat());
    let want = "runtime error: invalid memory address or nil pointer dereference";
    let want = value(want, "runtime.errorAddressString", true);
    cases.push(("errorAddressString", addr_t, data, want));
    let bounds: &[(i64, i64, bool, u8, &str)] = &[
        (8, 0, true, 0, "index out of range [8] with length 0"),
        (-1, 3, true, 0, "index out of range [-1]"),
        (
            -1,
            3,
            false,
            0,
            "index out of range [18446744073709551615] with length 3",
        ),
        (
            5,
            3,
            true,
            1,
            "slice bounds out of range [:5] with length 3",
        ),
        (-1, 3, true, 1, "slice bounds out of range [:-1]"),
        (
            5,
            4,
            false,
            2,
            "slice bounds out of range [:5] with capacity 4",
        ),
        (-3, 4, true, 2, "slice bounds out of range [:-3]"),
        (3, 2, true, 3, "slice bounds out of range [3:2]"),
        (-2, 2, true, 3, "slice bounds out of range [-2:]"),
        (
            9,
            8,
            true,
            4,
            "slice bounds out of range [::9] with length 8",
        ),
        (-9, 8, true, 4, "slice bounds out of range [::-9]"),
        (
            9,
            8,
            true,
            5,
            "slice bounds out of range [::9] with capacity 8",
        ),
        (-9, 8, true, 5, "slice bounds out of range [::-9]"),
        (4, 3, true, 6, "slice bounds out of range [:4:3]"),
        (-4, 3, true, 6, "slice bounds out of range [:-4:]"),
        (4, 3, true, 7, "slice bounds out of range [4:3:]"),
        (-4, 3, true, 7, "slice bounds out of range [-4::]"),
        (
            4,
            2,
            true,
            8,
            "cannot convert slice with length 2 to array or pointer to array with length 4",
        ),
        (
            i64::MIN,
            0,
            true,
            0,
            "index out of range [-9223372036854775808]",
        ),
    ];
    for &(x, y, signed, code, text) in bounds {
        let data = lab.alloc(
            [
                words(&[x as u64, y as u64]),
                vec![u8::from(signed), code, 0, 0, 0, 0, 0, 0],
            ]
            .concat(),
        );
        let want = value(
            &format!("runtime error: {text}"),
            "runtime.boundsError",
            true,
        );
        cases.push(("boundsError", bounds_t, data, want));
    }
    let data = lab.alloc([words(&[1, 0]), vec![1, 200, 0, 0, 0, 0, 0, 0]].concat());
    let want = value(
        "runtime.boundsError{x:1, y:0, signed:true, code:200}",
        "runtime.boundsError",
        false,
    );
    cases.push(("boundsError with an unknown code", bounds_t, data, want));

    let assertion = |lab: &mut Lab, inter: u64, concrete: u64, asserted: u64, missing: &str| {
        let s = lab.string(missing);
        lab.alloc([words(&[inter, concrete, asserted]), s].concat())
    };
    let tae = "*runtime.TypeAssertionError";
    let data = assertion(&mut lab, any_t, string_t, int_t, "");
    let want = "interface conversion: interface {} is string, not int";
    cases.push(("TypeAssertionError", assert_t, data, value(want, tae, true)));
    let data = assertion(&mut lab, 0, 0, int_t, "");
    let want = "interface conversion: interface is nil, not int";
    cases.push((
        "TypeAssertionError, nil",
        assert_t,
        data,
        value(want, tae, true),
    ));
    let data = assertion(&mut lab, error_t, errstr_t, stringer_t, "String");
    let want =
        "interface conversion: *errors.errorString is not fmt.Stringer: missing method String";
    cases.push((
        "TypeAssertionError, missing method",
        assert_t,
        data,
        value(want, tae, true),
    ));
    let data = assertion(&mut lab, any_t, int_t, int_t, "");
    let want = "interface conversion: interface {} is int, not int (types from different scopes)";
    cases.push((
        "TypeAssertionError, scopes",
        assert_t,
        data,
        value(want, tae, true),
    ));
    let other_int = lab.named("int", Kind::Int, 8, (main_pkg, vec![]));
    let data = assertion(&mut lab, any_t, other_int, int_t, "");
    let want = "interface conversion: interface {} is int, not int (types from different packages)";
    cases.push((
        "TypeAssertionError, packages",
        assert_t,
        data,
        value(want, tae, true),
    ));
    let nil_name = lab.name_off("*runtime.PanicNilError");
    let (nil_elem, _) = lab.struct_type(
        0,
        TFLAG_NAMED | TFLAG_EXTRA_STAR,
        nil_name,
        &[],
        Some((0, vec![])),
    );
    let nil_t = lab.pointer_type(nil_name, nil_elem, vec![error_method]);
    let data = lab.alloc(vec![0u8; 8]);
    let want = if v >= 27 {
        "runtime error: panic called with nil argument"
    } else {
        "panic called with nil argument"
    };
    cases.push((
        "PanicNilError",
        nil_t,
        data,
        value(want, "*runtime.PanicNilError", true),
    ));

    // Errors of the standard library.
    let errstr = |lab: &mut Lab, text: &str| lab.string_value(text);
    let data = errstr(&mut lab, "file not found");
    cases.push((
        "errors.New",
        errstr_t,
        data,
        value("file not found", "*errors.errorString", true),
    ));
    let data = errstr(&mut lab, "first\nsecond");
    let want = indented("first\nsecond");
    cases.push((
        "errors.New, two lines",
        errstr_t,
        data,
        value(&want, "*errors.errorString", true),
    ));
    let inner = errstr(&mut lab, "connection refused");
    let itab = lab.alloc_words(&[error_t, errstr_t, 0, 0]);
    let s = lab.string("dial: connection refused");
    let data = lab.alloc([s, words(&[itab, inner])].concat());
    let want = value("dial: connection refused", "*fmt.wrapError", true);
    cases.push(("fmt.Errorf with %w", wrap_t, data, want));
    let join_name = lab.name_off("*errors.joinError");
    let (join_elem, _) = lab.struct_type(
        24,
        TFLAG_NAMED | TFLAG_EXTRA_STAR,
        join_name,
        &[("errs", any_t, 0)],
        Some((0, vec![])),
    );
    let join_t = lab.pointer_type(join_name, join_elem, vec![error_method]);
    let second = errstr(&mut lab, "b failed");
    let elems = lab.alloc(words(&[itab, inner, itab, second]));
    let data = lab.alloc_words(&[elems, 2, 2]);
    let want = value(
        &indented("connection refused\nb failed"),
        "*errors.joinError",
        true,
    );
    cases.push(("errors.Join", join_t, data, want));
    let path_name = lab.name_off("*fs.PathError");
    let (path_elem, _) = lab.struct_type(
        48,
        TFLAG_NAMED | TFLAG_EXTRA_STAR,
        path_name,
        &[
            ("Op", string_t, 0),
            ("Path", string_t, 16),
            ("Err", error_t, 32),
        ],
        Some((0, vec![])),
    );
    let path_t = lab.pointer_type(path_name, path_elem, vec![error_method]);
    let (op, path) = (lab.string("open"), lab.string("/etc/x"));
    let data = lab.alloc([op, path, words(&[itab, inner])].concat());
    let want = value("open /etc/x: connection refused", "*fs.PathError", true);
    cases.push(("fs.PathError", path_t, data, want));

    // Errors and Stringers whose methods goscope cannot run: type and fields, inexact.
    let s = lab.string("process");
    let data = lab.alloc([words(&[500]), s].concat());
    let want = value(
        "*errs.CodeError{Code:500, Op:\"process\"}",
        "*errs.CodeError",
        false,
    );
    cases.push(("custom error", code_t, data, want));
    cases.push((
        "nil custom error",
        code_t,
        0,
        value("*errs.CodeError(nil)", "*errs.CodeError", false),
    ));
    let color_t = lab.named("main.Color", Kind::Int, 8, (main_pkg, vec![string_method]));
    let data = lab.alloc(words(&[3]));
    cases.push((
        "Stringer",
        color_t,
        data,
        value("main.Color(3)", "main.Color", false),
    ));

    // A join that holds itself, and a struct whose field is the struct itself: both end.
    let join_itab = lab.alloc_words(&[error_t, join_t, 0, 0]);
    let cyclic = lab.alloc_words(&[0, 2, 2]);
    let elems = lab.alloc(words(&[join_itab, cyclic, itab, second]));
    lab.patch(cyclic, &elems.to_le_bytes());
    let loop_name = lab.name_off("main.Loop");
    let (loop_t, loop_fields) = lab.struct_type(
        8,
        TFLAG_NAMED,
        loop_name,
        &[("inner", 0, 0)],
        Some((main_pkg, vec![error_method])),
    );
    lab.patch(loop_fields + 8, &loop_t.to_le_bytes());
    let loop_value = lab.alloc(words(&[1]));
    let eface = lab.alloc(words(&[int_t, lab.next + 24]));
    let seven = lab.alloc(words(&[7]));
    assert_eq!(
        seven,
        eface + 24,
        "{what}: the eface's value landed where planned"
    );

    let mem = lab.memory();
    let r = TypeReader::new(&mem, t.binary(), t.runtime().bias(), t.layout()).expect("reader");
    for (case, typ, data, want) in &cases {
        let got =
            panicval::decode(&r, *typ, *data).unwrap_or_else(|e| panic!("{what}: {case}: {e}"));
        assert_eq!(&got, want, "{what}: {case}");
    }
    assert_eq!(
        panicval::decode(&r, 0, 0).expect("nil"),
        value("nil", "<nil>", true)
    );
    let got = panicval::decode_eface(&r, eface).expect("eface");
    assert_eq!(got, value("7", "int", true), "{what}");
    let got = panicval::decode(&r, join_t, cyclic).expect("cyclic join");
    assert!(
        !got.exact && got.message.contains("b failed"),
        "{what}: {got:?}"
    );
    assert!(got.message.len() < 100_000, "{what}: {}", got.message.len());
    let got = panicval::decode(&r, loop_t, loop_value).expect("self-containing struct");
    assert!(
        !got.exact && got.message.starts_with("main.Loop{inner:main.Loop{"),
        "{what}: {got:?}"
    );
    assert!(got.message.len() < 1000, "{what}: {got:?}");
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn corrupt_descriptors_are_errors() {
    for tc in TOOLCHAINS {
        let dir = fixture(tc, "panics-default");
        let what = dir.display().to_string();
        let t = open(&dir);
        let r = reader(&t);
        assert!(r.read(0).is_err(), "{what}");
        for bad in [8u64, 0xdead_beef, u64::MAX - 7] {
            assert!(r.read(bad).is_err(), "{what}: {bad:#x}");
            assert!(panicval::decode(&r, bad, 0).is_err(), "{what}: {bad:#x}");
        }
        // Every aligned word of the first 64 KiB of type data, read as a descriptor and as a
        // panic value: an error or a value, never a panic or a hang.
        let (types, etypes) = r.type_range();
        let mut decoded = 0;
        for typ in (types..etypes.min(types + (64 << 10))).step_by(8) {
            if let Ok(v) = panicval::decode(&r, typ, typ) {
                assert!(v.message.len() <= 1 << 21, "{what}");
                decoded += 1;
            }
            let _ = r.fields(typ);
            let _ = r.methods(typ);
            let _ = r.pkg_path(typ);
        }
        assert!(decoded > 0, "{what}");

        let mut lab = Lab::new(&t);
        // A struct that claims 2^40 fields; a name whose length never ends; kind 0; a name
        // offset past the type data.
        let off = lab.name_off("main.Huge");
        let huge_fields = words(&[SYNTHETIC, 1 << 40, 0]);
        let huge = lab.descriptor(
            Kind::Struct,
            8,
            0,
            off,
            false,
            &[(56, huge_fields)],
            80,
            None,
        );
        let endless = lab.in_type_data(vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        let broken_name = lab.descriptor(Kind::Int, 8, 0, endless, false, &[], 48, None);
        let zero_kind = lab.alloc(vec![0u8; 48]);
        let outside = lab.descriptor(Kind::Int, 8, 0, 0x7fff_ffff, false, &[], 48, None);
        let mem = lab.memory();
        let r = TypeReader::new(&mem, t.binary(), t.runtime().bias(), t.layout()).expect("reader");
        let err = r.fields(huge).expect_err("2^40 fields");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
        let err = r.read(broken_name).expect_err("endless name");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
        let err = r.read(zero_kind).expect_err("kind 0");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
        let err = r.read(outside).expect_err("name outside the type data");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
        let err = panicval::decode(&r, zero_kind, 0).expect_err("kind 0");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
    }
}

/// One `_panic` record.
struct Record {
    value: PanicValue,
    recovered: bool,
    goexit: bool,
    repanicked: bool,
}

/// The `_panic` list from `first`, innermost first, values decoded.
fn panic_list(t: &Target, r: &TypeReader<impl Memory>, first: u64) -> Vec<Record> {
    let lay = t.layout();
    let off = |f: &str| lay.offset("runtime._panic", f).ok();
    let (arg, link) = (off("arg").expect("arg"), off("link").expect("link"));
    let mem = t.runtime().memory();
    let mut list = Vec::new();
    let mut p = first;
    while p != 0 {
        assert!(list.len() < 100, "the _panic list does not end");
        let flag = |f: &str| off(f).is_some_and(|o| mem.read_u8(p + o).expect("flag") != 0);
        let value =
            panicval::decode_eface(r, p + arg).unwrap_or_else(|e| panic!("_panic at {p:#x}: {e}"));
        list.push(Record {
            value,
            recovered: flag("recovered"),
            goexit: flag("goexit"),
            repanicked: flag("repanicked"),
        });
        p = mem.read_ptr(p + link).expect("link");
    }
    list
}

/// What `printpanics` writes for a list (innermost first) in release go1.`minor`.
fn printpanics(list: &[Record], minor: u32) -> String {
    fn print(list: &[Record], i: usize, minor: u32, out: &mut String) {
        let Some(p) = list.get(i) else { return };
        if let Some(next) = list.get(i + 1) {
            print(list, i + 1, minor, out);
            if minor >= 25 && next.repanicked {
                return;
            }
            if !next.goexit {
                out.push('\t');
            }
        }
        if p.goexit {
            return;
        }
        out.push_str("panic: ");
        out.push_str(&p.value.message);
        let suffix = match minor {
            ..=24 => p.recovered.then_some(" [recovered]"),
            25 if p.repanicked => Some(" [recovered, repanicked]"),
            25 => p.recovered.then_some(" [recovered]"),
            _ if p.recovered && p.repanicked => Some(" [recovered, repanicked]"),
            _ => p.recovered.then_some(" [recovered]"),
        };
        out.push_str(suffix.unwrap_or(""));
        out.push('\n');
    }
    let mut out = String::new();
    print(list, 0, minor, &mut out);
    out
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn panic_lists_of_crashed_goroutines_match_the_traceback() {
    let checked = for_each_parallel(&fixture_cores(), check_crashed_panics);
    assert!(
        checked >= 8 * TOOLCHAINS.len(),
        "only {checked} crashed panics checked"
    );
}

/// Checks the panics of the goroutine that crashed, if the fixture died of a panic.
fn check_crashed_panics(dir: &Path) -> usize {
    let what = dir.display().to_string();
    let traceback = std::fs::read_to_string(dir.join("traceback.txt"))
        .unwrap_or_else(|e| panic!("{what}: traceback.txt: {e}"));
    if !traceback.starts_with("panic: ") {
        return 0;
    }
    let t = open(dir);
    let r = reader(&t);
    let g_panic = t.layout().offset("runtime.g", "_panic").expect("g._panic");
    let rt = t.runtime();
    // The goroutine that crashed is running; others may be parked mid-panic.
    let crashed: Vec<u64> = rt
        .goroutines(false)
        .iter()
        .filter(|g| g.status == "running")
        .map(|g| rt.memory().read_ptr(g.gp + g_panic).expect("g._panic"))
        .filter(|&p| p != 0)
        .collect();
    assert_eq!(crashed.len(), 1, "{what}: running goroutines with panics");
    let list = panic_list(&t, &r, crashed[0]);
    for rec in &list {
        assert!(rec.value.exact, "{what}: {:?}", rec.value);
    }
    let printed = printpanics(&list, minor(&t));
    let runtime_printed: Vec<&str> = traceback
        .lines()
        .take_while(|l| l.starts_with("panic: ") || l.starts_with("\tpanic: "))
        .collect();
    assert!(
        traceback.starts_with(&printed) && printed.lines().count() == runtime_printed.len(),
        "{what}: decoded\n{printed}\nbut the runtime printed\n{}",
        runtime_printed.join("\n")
    );
    1
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn panics_in_flight_match_the_fixture() {
    let dirs: Vec<PathBuf> = TOOLCHAINS
        .iter()
        .flat_map(|tc| {
            ["default", "stripped", "noopt", "pie"]
                .iter()
                .map(move |v| fixture(tc, &format!("panics-{v}")))
        })
        .collect();
    let checked = for_each_parallel(&dirs, check_in_flight);
    assert!(checked > 100, "only {checked} panics checked");
}

/// Checks every goroutine the panics fixture describes; returns how many panics it checked.
fn check_in_flight(dir: &Path) -> usize {
    let mut checked = 0;
    let what = dir.display().to_string();
    let stdout = std::fs::read_to_string(dir.join("stdout.txt")).expect("stdout.txt");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FIXTURE "))
        .unwrap_or_else(|| panic!("{what}: no FIXTURE line: {BUILD_HINT}"));
    let fx: serde_json::Value = serde_json::from_str(line).expect("FIXTURE json");
    let crashed: Vec<u64> = fx["crash"]["goroutines"]
        .as_array()
        .expect("crash goroutines")
        .iter()
        .filter_map(|g| g.as_u64())
        .collect();
    let t = open(dir);
    let r = reader(&t);
    let g_panic = t.layout().offset("runtime.g", "_panic").expect("g._panic");
    let rt = t.runtime();
    let goroutines = rt.goroutines(false);
    let records = fx["goroutines"].as_object().expect("goroutines");
    for (id, rec) in records {
        let id: u64 = id.parse().expect("goroutine id");
        let name = rec["name"].as_str().unwrap_or("?");
        let want = rec["panics"].as_array().expect("panics");
        let g = goroutines
            .iter()
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("{what}: no goroutine {id} ({name})"));
        let first = rt.memory().read_ptr(g.gp + g_panic).expect("g._panic");
        let list = panic_list(&t, &r, first);
        assert_eq!(list.len(), want.len(), "{what}: {name}");
        for (got, want) in list.iter().zip(want) {
            let case = format!("{what}: goroutine {id} ({name})");
            assert_eq!(got.goexit, want["goexit"].as_bool() == Some(true), "{case}");
            assert_eq!(
                got.recovered,
                want["recovered"].as_bool() == Some(true),
                "{case}"
            );
            if got.goexit {
                continue;
            }
            let message = want["message"].as_str().expect("message");
            let type_name = want["type"].as_str().expect("type");
            let v = &got.value;
            checked += 1;
            if crashed.contains(&id) {
                // The runtime turned errors into their text before it printed them.
                assert_eq!(v.message, message, "{case}");
                continue;
            }
            assert_eq!(v.type_name, type_name, "{case}");
            if want["address"].as_bool() == Some(true) {
                // "(T) 0xADDR" with the address of this goroutine's own value.
                let addr = v.message.strip_prefix(&format!("({type_name}) 0x"));
                assert!(
                    addr.is_some_and(|a| u64::from_str_radix(a, 16).is_ok()) && v.exact,
                    "{case}: {v:?}"
                );
            } else if v.exact {
                assert_eq!(v.message, message, "{case}");
            } else {
                // Only methods of the program's own types cannot be reproduced.
                assert!(
                    ["*errs.CodeError", "main.state"].contains(&type_name),
                    "{case}: {v:?}"
                );
            }
        }
    }
    checked
}

#[test]
fn float_formats_of_both_eras() {
    // strconv.FormatFloat(v, 'g', -1, 64 or 32): the runtime's print from go1.26.
    for (v, bits32, want) in [
        (100000.0, false, "100000"),
        (1e6, false, "1e+06"),
        (0.1 + 0.2, false, "0.30000000000000004"),
        (5e-324, false, "5e-324"),
        (f64::MAX, false, "1.7976931348623157e+308"),
        (-1.25e-5, false, "-1.25e-05"),
        (16777216.0, true, "1.6777216e+07"),
        (f64::from(f32::MAX), true, "3.4028235e+38"),
        (f64::from(0.3f32), true, "0.3"),
    ] {
        assert_eq!(panicval::format_g_shortest(v, bits32), want, "{v:e}");
    }
    // The runtime's own format up to go1.25.
    for (v, want) in [
        (100.0, "+1.000000e+002"),
        (1e-7, "+1.000000e-007"),
        (f64::MAX, "+1.797693e+308"),
        (-9.9999999, "-1.000000e+001"),
        (0.5, "+5.000000e-001"),
    ] {
        assert_eq!(panicval::format_float_legacy(v), want, "{v:e}");
    }
    assert_eq!(
        panicval::bounds_error(3, 1, true, 3).as_deref(),
        Some("runtime error: slice bounds out of range [3:1]")
    );
    assert_eq!(panicval::bounds_error(-1, 1, true, 8), None);
    assert_eq!(
        panicval::go_quote("a\"b\\\n\u{1}é"),
        "\"a\\\"b\\\\\\n\\x01é\""
    );
}
