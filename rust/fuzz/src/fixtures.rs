//! The real Go executables the targets work on, loaded once per fuzzing process: fixtures
//! under build/fixtures when they have been built, else the small program in
//! rust/fuzz/fallback that `scripts/fuzz` builds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use goscope_core::binary::dwarfvars::DwarfVars;
use goscope_core::Binary;

use crate::elfbytes::{self, ProgramHeader, SectionHeader, PT_LOAD};

/// Fixtures with a core, one per supported runtime generation and build variant that changes
/// what the walkers read (arena bitmaps, span heap bits, swiss maps, inline mark bits;
/// symbols or scans; PIE bias; DWARF-typed roots).
pub const RUNTIME_FIXTURES: &[&str] = &[
    "go1.21.13/panics-default",
    "go1.22.10/deadlocks-stripped",
    "go1.23.9/crash-pie",
    "go1.24.11/leaks-default",
    "go1.26.6/retention-default",
    "go1.27.3/crash-noopt",
];

/// Fixtures whose tables the pclntab and elf targets read: stripped (smaller, so more inputs
/// a second) but for one, from every pclntab and moduledata generation, and PIE's
/// `.data.rel.ro.gopclntab`.
pub const TABLE_FIXTURES: &[&str] = &[
    "go1.21.13/crash-stripped",
    "go1.22.10/panics-pie",
    "go1.23.9/deadlocks-stripped",
    "go1.24.11/leaks-stripped",
    "go1.25.5/printers-default",
    "go1.26.6/retention-stripped",
    "go1.27.3/crash-stripped",
];

/// Which executables a target works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// With their cores: the runtime and core targets.
    Runtime,
    /// For their tables: the pclntab and elf targets.
    Tables,
}

impl Set {
    fn fixtures(self) -> &'static [&'static str] {
        match self {
            Set::Runtime => RUNTIME_FIXTURES,
            Set::Tables => TABLE_FIXTURES,
        }
    }
}

/// `:`-separated executables to load instead of the default fixtures.
pub const BINARIES_ENV: &str = "GOSCOPE_FUZZ_BINARIES";

pub fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// build/fixtures, or `$GOSCOPE_FIXTURES`.
pub fn fixtures_root() -> PathBuf {
    std::env::var_os("GOSCOPE_FIXTURES")
        .map_or_else(|| fuzz_dir().join("../../build/fixtures"), PathBuf::from)
}

/// Where `scripts/fuzz` builds the fallback program.
pub fn fallback_binary() -> PathBuf {
    fuzz_dir().join("target/fallback/prog")
}

/// The fixture directories (holding `bin`, and `core` when the program crashed) in use.
pub fn fixture_dirs(set: Set) -> Vec<PathBuf> {
    let root = fixtures_root();
    set.fixtures()
        .iter()
        .map(|f| root.join(f))
        .filter(|d| d.join("bin").is_file())
        .collect()
}

/// The executables the targets load, in a stable order: an input's first byte picks one.
pub fn binary_paths(set: Set) -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os(BINARIES_ENV) {
        return std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    let dirs = fixture_dirs(set);
    if !dirs.is_empty() {
        return dirs.iter().map(|d| d.join("bin")).collect();
    }
    let fallback = fallback_binary();
    if fallback.is_file() {
        vec![fallback]
    } else {
        Vec::new()
    }
}

/// Where the pclntab lies in an executable's file.
#[derive(Debug, Clone, Copy)]
pub struct PclnSpot {
    pub offset: usize,
    pub size: usize,
    /// File offset of the section header's `sh_size`.
    pub size_field: usize,
}

/// One executable, opened the way goscope opens it, with what the targets need beside it.
pub struct Loaded {
    pub path: PathBuf,
    pub binary: Arc<Binary>,
    /// DWARF variables, loaded once (goscope loads them once per target too).
    pub dwarf: Option<DwarfVars>,
    pub pclntab: Option<PclnSpot>,
    pub sections: Vec<SectionHeader>,
    pub loads: Vec<ProgramHeader>,
}

impl Loaded {
    /// Opens an executable; with `dwarf`, loads its DWARF variables too.
    pub fn open(path: &Path, dwarf: bool) -> Result<Loaded, String> {
        // Read, not mapped: a fixture rebuilt while fuzzing must not fault under us.
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sections = elfbytes::sections(&bytes);
        let loads = elfbytes::program_headers(&bytes)
            .into_iter()
            .filter(|p| p.kind == PT_LOAD)
            .collect();
        let pclntab = sections
            .iter()
            .find(|s| s.name.ends_with(".gopclntab"))
            .and_then(|s| {
                Some(PclnSpot {
                    offset: usize::try_from(s.offset).ok()?,
                    size: usize::try_from(s.size).ok()?,
                    size_field: s.header_at.checked_add(32)?,
                })
            });
        let binary = Binary::from_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let dwarf = if dwarf {
            DwarfVars::load(&binary).ok().flatten()
        } else {
            None
        };
        Ok(Loaded {
            path: path.to_path_buf(),
            binary: Arc::new(binary),
            dwarf,
            pclntab,
            sections,
            loads,
        })
    }

    /// The file's bytes.
    pub fn file(&self) -> &[u8] {
        self.binary.image().file_data()
    }
}

/// Every executable of [`binary_paths`] that opens, loaded on first use.
pub fn loaded(set: Set) -> &'static [Loaded] {
    static RUNTIME: OnceLock<Vec<Loaded>> = OnceLock::new();
    static TABLES: OnceLock<Vec<Loaded>> = OnceLock::new();
    let cell = match set {
        Set::Runtime => &RUNTIME,
        Set::Tables => &TABLES,
    };
    cell.get_or_init(|| {
        let paths = binary_paths(set);
        let mut out = Vec::new();
        for p in &paths {
            match Loaded::open(p, set == Set::Runtime) {
                Ok(l) => out.push(l),
                Err(e) => eprintln!("goscope-fuzz: skipping {e}"),
            }
        }
        if out.is_empty() {
            eprintln!(
                "goscope-fuzz: no Go executable to fuzz with: build the fixtures (python3 -m tests.harness.build), set {BINARIES_ENV}, or run scripts/fuzz, which builds {}",
                fallback_binary().display()
            );
        }
        out
    })
}

/// The executable of `set` an input's selector byte picks.
pub fn pick(set: Set, selector: u8) -> Option<&'static Loaded> {
    let all = loaded(set);
    all.get(usize::from(selector) % all.len().max(1))
}
