//! Seed inputs made from the fixtures: their executables, their cores cut down to headers
//! and notes, their build info and pclntabs, and for the runtime target the pages of each
//! fixture core that goscope's walkers read, recorded while they walk it.
//!
//! A fuzz target writes its seeds when started with `GOSCOPE_FUZZ_SEEDS=DIR` (see
//! `scripts/fuzz`), so they come from the same build as the fuzzing.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use goscope_core::session::Target;
use goscope_core::target::{CoreFile, CoreMemory, Memory};

use crate::elfbytes::{self, NewSection, PT_LOAD, PT_NOTE};
use crate::fixtures::{self, Loaded, Set};
use crate::image::{ProcessImage, ThreadSpec};
use crate::targets;

pub const SEEDS_ENV: &str = "GOSCOPE_FUZZ_SEEDS";

/// Bytes of each memory segment a cut-down core keeps.
const CORE_SEGMENT_BYTES: u64 = 256;
/// Runtime seeds larger than this are left out: a walk over them takes too long per input.
const MAX_RUNTIME_SEED: usize = 16 << 20;
const PAGE: u64 = 4096;

/// When `GOSCOPE_FUZZ_SEEDS` is set: writes `target`'s seeds there and exits.
pub fn write_if_asked(target: &str) {
    let Some(dir) = std::env::var_os(SEEDS_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let code = match write(target, dir) {
        Ok(n) => {
            eprintln!("{target}: {n} seeds in {}", dir.display());
            0
        }
        Err(e) => {
            eprintln!("{target}: cannot write seeds to {}: {e}", dir.display());
            1
        }
    };
    std::process::exit(code);
}

/// Writes the seeds of `target` into `dir`; returns how many.
pub fn write(target: &str, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let seeds: Vec<(String, Vec<u8>)> = match target {
        "elf" => elf_seeds(),
        "core" => core_seeds(),
        "buildinfo" => buildinfo_seeds(),
        "pclntab" => pclntab_seeds(),
        "runtime" => runtime_seeds(),
        _ => Vec::new(),
    };
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(seeds.len())
}

/// A name for a seed from its fixture's directory (`go1.22.10-deadlocks-stripped`).
fn label(exe: &Loaded) -> String {
    let dir = exe.path.parent().unwrap_or(&exe.path);
    let fixture = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let toolchain = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    match (toolchain, fixture) {
        (Some(t), Some(f)) => format!("{t}-{f}"),
        (_, Some(f)) => f,
        _ => "binary".to_string(),
    }
}

/// Sections a slimmed executable keeps: what goscope reads of a Go binary without its code,
/// read-only data, symbols and DWARF.
const SLIM_SECTIONS: &[&str] = &[
    ".note.go.buildid",
    ".note.gnu.build-id",
    ".go.buildinfo",
    ".go.fipsinfo",
    // Moduledata, from go1.26.
    ".go.module",
    ".noptrdata",
    ".data",
    ".typelink",
    ".itablink",
];

/// An executable made again of the sections goscope reads first, at their addresses, the
/// others mapped without their bytes (moduledata's checks want them mapped): a third of the
/// size or less, so that the fuzzer keeps many more of them in memory.
fn slim(exe: &Loaded) -> Vec<u8> {
    const SHF_ALLOC: u64 = 2;
    let file = exe.file();
    let mut kept: Vec<NewSection<'_>> = exe
        .sections
        .iter()
        .filter(|s| s.flags & SHF_ALLOC != 0)
        .map(|s| {
            let keep = SLIM_SECTIONS.contains(&s.name.as_str()) || s.name.ends_with(".gopclntab");
            let data = if keep {
                elfbytes::section_bytes(file, s).unwrap_or_default()
            } else {
                &[]
            };
            NewSection {
                name: &s.name,
                addr: s.addr,
                writable: s.flags & 1 != 0,
                data,
                size: s.size,
            }
        })
        .collect();
    // Moduledata's text section map lies in read-only data: keep its bytes too, so that
    // moduledata is still found.
    let map: Vec<u8> = exe
        .binary
        .moduledata()
        .map(|md| {
            md.textsectmap
                .iter()
                .flat_map(|t| [t.vaddr, t.end, t.baseaddr])
                .flat_map(u64::to_le_bytes)
                .collect()
        })
        .unwrap_or_default();
    let window = exe
        .sections
        .iter()
        .filter(|s| s.flags & SHF_ALLOC != 0 && !map.is_empty())
        .find_map(|s| {
            let bytes = elfbytes::section_bytes(file, s)?;
            let at = (0..bytes.len().saturating_sub(map.len()))
                .step_by(8)
                .find(|&k| bytes.get(k..k + map.len()) == Some(map.as_slice()))?;
            Some(NewSection {
                name: ".textsectmap",
                addr: s.addr + at as u64,
                writable: false,
                data: bytes.get(at..at + map.len())?,
                size: 0,
            })
        });
    kept.extend(window);
    elfbytes::executable(&kept, exe.binary.image().entry)
}

fn elf_seeds() -> Vec<(String, Vec<u8>)> {
    let all = fixtures::loaded(Set::Tables);
    let mut out: Vec<(String, Vec<u8>)> = all
        .iter()
        .map(|exe| (format!("{}-slim", label(exe)), slim(exe)))
        .collect();
    // One whole, the smallest: everything else a linker writes.
    if let Some(exe) = all.iter().min_by_key(|e| e.file().len()) {
        out.push((label(exe), exe.file().to_vec()));
    }
    out
}

fn buildinfo_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for exe in fixtures::loaded(Set::Tables) {
        let Some(section) = exe.sections.iter().find(|s| s.name == ".go.buildinfo") else {
            continue;
        };
        let Some(bytes) = elfbytes::section_bytes(exe.file(), section) else {
            continue;
        };
        for mode in [0u8, 1, 2] {
            let mut seed = vec![mode];
            seed.extend_from_slice(bytes);
            out.push((format!("{}-mode{mode}", label(exe)), seed));
        }
    }
    out
}

fn pclntab_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, exe) in fixtures::loaded(Set::Tables).iter().enumerate() {
        let Some(spot) = exe.pclntab else { continue };
        let Some(table) = exe.file().get(spot.offset..spot.offset + spot.size) else {
            continue;
        };
        // The table itself: every function reachable, for mutations to start from.
        let mut whole = vec![i as u8, 0];
        whole.extend_from_slice(table);
        out.push((format!("{}-whole", label(exe)), whole));
        // One patch of the header's function count, one of the first function's entry.
        let mut patched = vec![i as u8, 1];
        patched.extend_from_slice(&8u32.to_le_bytes());
        patched.extend_from_slice(&[2, 0x10, 0]);
        out.push((format!("{}-patch", label(exe)), patched));
    }
    out
}

/// A core cut down to its headers and notes, keeping the first bytes of each segment.
fn cut_core(core: &[u8]) -> Option<Vec<u8>> {
    let headers = elfbytes::program_headers(core);
    let phoff = 64usize;
    let mut out = core.get(..phoff)?.to_vec();
    // The program header table follows the ELF header, then the notes, then the segments.
    out.resize(phoff + 56 * headers.len(), 0);
    let mut placed = Vec::new();
    for h in &headers {
        let keep = match h.kind {
            PT_NOTE => h.file_size,
            PT_LOAD => h.file_size.min(CORE_SEGMENT_BYTES),
            _ => 0,
        };
        let from = usize::try_from(h.offset).ok()?;
        let bytes = core.get(from..from.checked_add(usize::try_from(keep).ok()?)?)?;
        let at = out.len() as u64;
        out.extend_from_slice(bytes);
        placed.push((at, keep));
    }
    for (i, (h, (at, keep))) in headers.iter().zip(placed).enumerate() {
        let ph = phoff + 56 * i;
        let mut entry = Vec::with_capacity(56);
        entry.extend_from_slice(&h.kind.to_le_bytes());
        entry.extend_from_slice(&h.flags.to_le_bytes());
        entry.extend_from_slice(&at.to_le_bytes());
        entry.extend_from_slice(&h.vaddr.to_le_bytes());
        entry.extend_from_slice(&h.vaddr.to_le_bytes());
        entry.extend_from_slice(&keep.to_le_bytes());
        entry.extend_from_slice(&h.mem_size.to_le_bytes());
        entry.extend_from_slice(&PAGE.to_le_bytes());
        out.get_mut(ph..ph + 56)?.copy_from_slice(&entry);
    }
    // No section headers: cores have none worth keeping.
    out.get_mut(0x28..0x30)?
        .copy_from_slice(&0u64.to_le_bytes());
    out.get_mut(0x3c..0x40)?.copy_from_slice(&[0, 0, 0, 0]);
    out.get_mut(0x20..0x28)?
        .copy_from_slice(&(phoff as u64).to_le_bytes());
    Some(out)
}

fn core_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for exe in fixtures::loaded(Set::Runtime) {
        let Some(dir) = exe.path.parent() else {
            continue;
        };
        let Ok(core) = std::fs::read(dir.join("core")) else {
            continue;
        };
        if let Some(cut) = cut_core(&core) {
            out.push((label(exe), cut));
        }
    }
    out
}

/// Memory that notes every page read from it.
struct Recorder {
    inner: Arc<CoreMemory>,
    pages: Mutex<BTreeSet<u64>>,
}

impl Memory for Recorder {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> goscope_core::Result<()> {
        self.inner.read_at(addr, buf)?;
        if let Some(last) = addr.checked_add(buf.len().saturating_sub(1) as u64) {
            let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
            let mut p = addr / PAGE;
            while p <= last / PAGE {
                pages.insert(p);
                p += 1;
            }
        }
        Ok(())
    }
}

/// The pages of a fixture's core that the walkers read, as a runtime input: all of them
/// (`heap`), or only the goroutine walks' (a smaller, faster input, whose heap the walkers
/// find unreadable).
fn record(index: usize, exe: &Loaded, heap: bool) -> Option<Vec<u8>> {
    let dir = exe.path.parent()?;
    let core = CoreFile::open(&dir.join("core")).ok()?;
    let threads = core.threads().to_vec();
    let memory = Arc::new(CoreMemory::new(core, exe.binary.image()).ok()?);
    let bias = memory.bias();
    let recorder = Arc::new(Recorder {
        inner: memory.clone(),
        pages: Mutex::new(BTreeSet::new()),
    });
    let target =
        Target::from_parts(exe.binary.clone(), recorder.clone(), bias, threads.clone()).ok()?;
    let real = target.runtime().goroutines(false).len();
    if heap {
        targets::exercise(&target, exe);
    } else {
        let rt = target.runtime();
        let _ = rt.goroutines(true);
        let _ = goscope_core::analysis::crash::crash(&rt);
        let _ = goscope_core::analysis::groups::triage(&rt, None);
    }
    drop(target);
    let pages = std::mem::take(&mut *recorder.pages.lock().unwrap_or_else(|e| e.into_inner()));
    // Only what the core holds: the executable's own bytes are beneath every input anyway.
    let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
    for p in pages {
        let addr = p * PAGE;
        let mut buf = vec![0u8; PAGE as usize];
        if memory.core().read_at(addr, &mut buf).is_err() {
            continue;
        }
        match runs.last_mut() {
            Some((start, bytes)) if *start + bytes.len() as u64 == addr => {
                bytes.extend_from_slice(&buf)
            }
            _ => runs.push((addr, buf)),
        }
    }
    let specs: Vec<ThreadSpec> = threads.iter().map(ThreadSpec::of).collect();
    let refs: Vec<(u64, &[u8])> = runs.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    let seed = ProcessImage::encode(index as u8, &specs, bias, &refs);
    // The seed must show the fuzzer what the core shows goscope.
    let image = ProcessImage::decode(&seed);
    let arch = exe.binary.image().arch;
    let replay = Target::from_parts(
        exe.binary.clone(),
        crate::image::memory(&seed, &image, exe, exe.binary.image().pie),
        bias,
        image.threads.iter().map(|t| t.thread(arch)).collect(),
    )
    .ok()
    .map_or(0, |t| t.runtime().goroutines(false).len());
    eprintln!(
        "runtime seed {}{}: {} bytes in {} runs; {replay} goroutines ({real} from the core)",
        label(exe),
        if heap { "" } else { "-stacks" },
        seed.len(),
        runs.len()
    );
    (seed.len() <= MAX_RUNTIME_SEED).then_some(seed)
}

fn runtime_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, exe) in fixtures::loaded(Set::Runtime).iter().enumerate() {
        if let Some(seed) = record(i, exe, true) {
            out.push((label(exe), seed));
        }
        if let Some(seed) = record(i, exe, false) {
            out.push((format!("{}-stacks", label(exe)), seed));
        }
    }
    out
}
