//! ELF core files: the memory the kernel dumped (PT_LOAD), spliced over the executable's
//! file-backed segments, which the kernel's default `coredump_filter` leaves out; and the
//! threads, signal, mapped files and auxiliary vector from the notes.

use std::path::Path;
use std::sync::Arc;

use super::notes::{self, MappedFile, Notes, ProcessInfo, SignalInfo, Thread};
use super::{unreadable_at, Memory};
use crate::binary::elf::{Arch, ElfImage};
use crate::bytes::{Blob, ReadLe};
use crate::error::{Error, ErrorKind, Result};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PT_PHDR: u32 = 6;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
/// e_phnum value meaning "the real count is in section header 0's sh_info".
const PN_XNUM: u16 = 0xffff;

const AT_PHDR: u64 = 3;
const AT_ENTRY: u64 = 9;

const PAGE: u64 = 4096;

/// One program header, as read from the file.
#[derive(Debug, Clone, Copy)]
struct ProgramHeader {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    file_size: u64,
    mem_size: u64,
}

/// Reads the ELF header fields goscope needs and every program header, bounds-checked.
struct ElfHeader {
    elf_type: u16,
    machine: u16,
    phoff: u64,
    headers: Vec<ProgramHeader>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

fn parse_elf_header(bytes: &[u8]) -> Result<ElfHeader> {
    crate::binary::elf::check_ident(bytes, "cores")?;
    let (Some(elf_type), Some(machine), Some(phoff), Some(shoff)) = (
        u16_at(bytes, 0x10),
        u16_at(bytes, 0x12),
        bytes.u64_at(0x20),
        bytes.u64_at(0x28),
    ) else {
        return Err(Error::truncated("the ELF header is incomplete"));
    };
    let (Some(phentsize), Some(phnum)) = (u16_at(bytes, 0x36), u16_at(bytes, 0x38)) else {
        return Err(Error::truncated("the ELF header is incomplete"));
    };
    let mut count = u64::from(phnum);
    if phnum == PN_XNUM {
        // More than 65534 segments: the count is in the first section header's sh_info.
        if shoff == 0 {
            return Err(Error::corrupt(
                "the ELF header's e_phnum is 0xffff (the segment count is in section header 0) \
                 but the core has no section headers (e_shoff is 0)",
            ));
        }
        let real = usize::try_from(shoff)
            .ok()
            .and_then(|sh| sh.checked_add(0x2c))
            .and_then(|at| bytes.u32_at(at))
            .ok_or_else(|| {
                Error::truncated(
                    "the segment count is in a section header beyond the end of the file",
                )
            })?;
        count = u64::from(real);
    }
    if count > 0 && phentsize < 56 {
        return Err(Error::corrupt(format!(
            "program headers of {phentsize} bytes are too small (56 expected)"
        )));
    }
    let table_end = count
        .checked_mul(u64::from(phentsize))
        .and_then(|n| n.checked_add(phoff));
    if table_end.is_none_or(|end| end > bytes.len() as u64) {
        return Err(Error::truncated(format!(
            "the file is truncated: {count} program headers at offset {phoff:#x} do not fit in its {:#x} bytes",
            bytes.len()
        )));
    }
    let mut headers = Vec::with_capacity(count as usize);
    for i in 0..count {
        // In bounds: checked against the file length above.
        let at = phoff.wrapping_add(i.wrapping_mul(u64::from(phentsize))) as usize;
        let h = bytes.get(at..).unwrap_or_default();
        let (Some(kind), Some(flags), Some(offset), Some(vaddr), Some(file_size), Some(mem_size)) = (
            h.u32_at(0),
            h.u32_at(4),
            h.u64_at(8),
            h.u64_at(16),
            h.u64_at(32),
            h.u64_at(40),
        ) else {
            return Err(Error::truncated(format!(
                "program header {i} at offset {at:#x} is cut short"
            )));
        };
        headers.push(ProgramHeader {
            kind,
            flags,
            offset,
            vaddr,
            file_size,
            mem_size,
        });
    }
    Ok(ElfHeader {
        elf_type,
        machine,
        phoff,
        headers,
    })
}

/// One PT_LOAD segment of a core: a mapping of the process and what the file holds of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreSegment {
    pub addr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    /// Bytes the kernel dumped (0 for mappings it left out, such as file-backed text).
    pub file_size: u64,
    /// Bytes of the dump actually present: less than `file_size` in a truncated core.
    pub available: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

impl CoreSegment {
    fn end(&self) -> u64 {
        self.addr.saturating_add(self.mem_size)
    }
}

/// What the core holds at an address.
enum Chunk<'a> {
    /// The bytes from the address to the end of what the core holds contiguously.
    Data(&'a [u8]),
    /// The core has nothing for the next `len` bytes, for the reason given.
    Missing { len: u64, why: &'static str },
}

/// An ELF core file, mapped read-only.
pub struct CoreFile {
    name: String,
    data: Blob,
    /// The mapping behind `data`, kept to hand pages back to the kernel (see `trim`).
    map: Option<Arc<memmap2::Mmap>>,
    arch: Arch,
    segments: Vec<CoreSegment>,
    notes: Notes,
}

impl std::fmt::Debug for CoreFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreFile")
            .field("name", &self.name)
            .field("arch", &self.arch)
            .field("segments", &self.segments.len())
            .field("threads", &self.notes.threads.len())
            .finish()
    }
}

impl CoreFile {
    pub fn open(path: &Path) -> Result<CoreFile> {
        let name = path.display().to_string();
        let file = crate::binary::file::open_regular(path, "core file")?;
        let meta = file
            .metadata()
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot stat {name}: {e}")))?;
        if meta.len() == 0 {
            return Err(Error::new(
                ErrorKind::NotElf,
                format!("{name} is empty, not a core file"),
            ));
        }
        // SAFETY: the mapping is read-only; a file truncated underneath us can fault, the same
        // risk every debugger that maps its inputs accepts. Not populated: a core is mostly
        // memory goscope never looks at, and its pages should not count against our RSS.
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot map {name}: {e}")))?;
        let map = Arc::new(map);
        let mut core = Self::parse_named(Blob::new(map.clone()), name)?;
        core.map = Some(map);
        Ok(core)
    }

    /// Drops the core's pages from this process's resident set; they are read back from the
    /// file on the next access. Walking 100,000 goroutine stacks touches hundreds of MB of a
    /// core that need not stay resident.
    pub fn trim(&self) {
        if let Some(map) = &self.map {
            // SAFETY: a read-only private file mapping that was never written: discarded pages
            // are reloaded unchanged from the file.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }

    /// Parses a core already in memory (tests and fuzzing).
    pub fn parse(data: Blob) -> Result<CoreFile> {
        Self::parse_named(data, "<memory>".to_string())
    }

    fn parse_named(data: Blob, name: String) -> Result<CoreFile> {
        let bytes: &[u8] = &data;
        let header = parse_elf_header(bytes).map_err(|e| {
            if e.kind() == ErrorKind::NotElf {
                Error::new(ErrorKind::NotElf, format!("{name} is not an ELF file"))
            } else {
                e.context(&name)
            }
        })?;
        match header.elf_type {
            ET_CORE => {}
            ET_EXEC | ET_DYN => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{name} is an executable, not a core file"),
                ))
            }
            other => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{name} is not a core file (ELF type {other})"),
                ))
            }
        }
        let arch = match header.machine {
            EM_X86_64 => Arch::Amd64,
            EM_AARCH64 => Arch::Arm64,
            other => {
                return Err(Error::new(
                    ErrorKind::UnsupportedArch,
                    format!(
                    "{name}: ELF machine {other} is not supported (goscope reads amd64 and arm64)"
                ),
                ))
            }
        };
        let file_len = bytes.len() as u64;

        let mut notes = Notes::default();
        let mut cut_segments = 0usize;
        let mut first_cut = None;
        let mut segments = Vec::new();
        for ph in &header.headers {
            match ph.kind {
                PT_NOTE => {
                    let (Ok(start), Ok(size)) =
                        (usize::try_from(ph.offset), usize::try_from(ph.file_size))
                    else {
                        return Err(Error::corrupt(format!(
                            "{name}: note segment at offset {:#x} is out of range",
                            ph.offset
                        )));
                    };
                    if ph.offset >= file_len && size > 0 {
                        return Err(Error::truncated(format!(
                            "{name} is truncated: its notes at offset {start:#x} lie beyond the end of the file ({file_len:#x} bytes)"
                        )));
                    }
                    let end = start.saturating_add(size);
                    notes::walk_notes(bytes, start, end, |note| notes.add(&note, arch))
                        .map_err(|e| e.context(&name))?;
                }
                PT_LOAD => {
                    let available = ph.file_size.min(file_len.saturating_sub(ph.offset));
                    if available < ph.file_size {
                        cut_segments = cut_segments.saturating_add(1);
                        first_cut.get_or_insert(ph.vaddr);
                    }
                    segments.push(CoreSegment {
                        addr: ph.vaddr,
                        mem_size: ph.mem_size.max(ph.file_size),
                        file_offset: ph.offset,
                        file_size: ph.file_size,
                        available: available.min(ph.mem_size.max(ph.file_size)),
                        readable: ph.flags & 4 != 0,
                        writable: ph.flags & 2 != 0,
                        executable: ph.flags & 1 != 0,
                    });
                }
                _ => {}
            }
        }
        if notes.threads.is_empty() {
            return Err(Error::corrupt(format!(
                "{name} has no threads (no NT_PRSTATUS note)"
            )));
        }

        // Sorted, without overlaps: lookups are a binary search.
        segments.sort_by_key(|s| s.addr);
        let mut kept: Vec<CoreSegment> = Vec::with_capacity(segments.len());
        let mut overlapping = 0usize;
        for seg in segments {
            if kept.last().is_some_and(|prev| seg.addr < prev.end()) {
                overlapping = overlapping.saturating_add(1);
                continue;
            }
            kept.push(seg);
        }
        let mut warnings = std::mem::take(&mut notes.warnings);
        if let Some(first) = first_cut {
            warnings.insert(
                0,
                format!(
                    "the core file is truncated ({file_len:#x} bytes): {cut_segments} memory segment(s), the first at {first:#x}, are not wholly in it and read as unreadable"
                ),
            );
        }
        if overlapping > 0 {
            warnings.push(format!(
                "{overlapping} memory segment(s) overlap others and were ignored"
            ));
        }
        notes.warnings = warnings;
        Ok(CoreFile {
            name,
            data,
            map: None,
            arch,
            segments: kept,
            notes,
        })
    }

    /// The path the core was opened from (`<memory>` for parsed bytes).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Threads in the order of the core; the first is the thread that dumped (crashed).
    pub fn threads(&self) -> &[Thread] {
        &self.notes.threads
    }

    pub fn process(&self) -> Option<&ProcessInfo> {
        self.notes.process.as_ref()
    }

    /// The signal that made the process dump core, from NT_SIGINFO.
    pub fn signal(&self) -> Option<&SignalInfo> {
        self.notes.siginfo.as_ref()
    }

    /// Files mapped into the process (NT_FILE).
    pub fn mapped_files(&self) -> &[MappedFile] {
        &self.notes.files
    }

    /// The auxiliary vector (NT_AUXV) as (key, value) pairs, without the final AT_NULL.
    pub fn auxv(&self) -> &[(u64, u64)] {
        &self.notes.auxv
    }

    pub fn auxv_value(&self, key: u64) -> Option<u64> {
        self.notes
            .auxv
            .iter()
            .find(|&&(k, _)| k == key)
            .map(|&(_, v)| v)
    }

    /// Memory segments sorted by address.
    pub fn segments(&self) -> &[CoreSegment] {
        &self.segments
    }

    /// Problems that did not stop reading the core but make some of it unreadable.
    pub fn warnings(&self) -> &[String] {
        &self.notes.warnings
    }

    /// What the core itself holds at `addr`.
    fn chunk(&self, addr: u64) -> Chunk<'_> {
        let i = self.segments.partition_point(|s| s.addr <= addr);
        let next_start = self.segments.get(i).map(|s| s.addr);
        // Segments before i start at or below addr, and the one at i above it.
        let Some(seg) = i.checked_sub(1).and_then(|j| self.segments.get(j)) else {
            return Chunk::Missing {
                len: next_start.map_or(u64::MAX, |n| n.saturating_sub(addr)),
                why: "not mapped in the core",
            };
        };
        let off = addr.saturating_sub(seg.addr);
        if off >= seg.mem_size {
            return Chunk::Missing {
                len: next_start.map_or(u64::MAX, |n| n.saturating_sub(addr)),
                why: "not mapped in the core",
            };
        }
        if off < seg.available {
            let from = seg.file_offset.saturating_add(off);
            let to = seg.file_offset.saturating_add(seg.available);
            if let (Ok(from), Ok(to)) = (usize::try_from(from), usize::try_from(to)) {
                if let Some(bytes) = self.data.get(from..to) {
                    return Chunk::Data(bytes);
                }
            }
        }
        let why = if off < seg.file_size {
            "the core file is truncated there"
        } else {
            "the core does not include it (the kernel did not dump that part of the mapping)"
        };
        Chunk::Missing {
            len: seg.mem_size.saturating_sub(off),
            why,
        }
    }

    /// The distance between the executable's link-time addresses and where the dumped
    /// process had it loaded: 0 for a fixed-address executable; for a PIE, AT_ENTRY minus the
    /// ELF entry (or AT_PHDR minus the program headers' address, or the NT_FILE mapping of
    /// the executable's first page).
    pub fn load_bias(&self, exe: &ElfImage) -> Result<u64> {
        if !exe.pie {
            return Ok(0);
        }
        if let Some(entry) = self.auxv_value(AT_ENTRY) {
            return Ok(entry.wrapping_sub(exe.entry));
        }
        let layout = ExeLayout::parse(exe)?;
        if let (Some(phdr), Some(linked)) = (self.auxv_value(AT_PHDR), layout.phdr_vaddr) {
            return Ok(phdr.wrapping_sub(linked));
        }
        let first = layout.loads.first().map(|l| l.vaddr & !(PAGE - 1));
        let fname = self.process().map(|p| p.fname.as_str()).unwrap_or("");
        if let (Some(first), false) = (first, fname.is_empty()) {
            let mapped = self.mapped_files().iter().find(|f| {
                f.offset == 0
                    && Path::new(&f.path)
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(fname))
            });
            if let Some(m) = mapped {
                return Ok(m.start.wrapping_sub(first));
            }
        }
        Err(Error::corrupt(format!(
            "{}: cannot tell where the position-independent executable was loaded (no AT_ENTRY or AT_PHDR in NT_AUXV, no NT_FILE mapping)",
            self.name
        )))
    }

    /// Checks that the core was dumped by `exe`: same architecture, consistent entry point,
    /// and the same build ID (GNU and/or Go) in the core's copy of the executable's first
    /// page as in the file. Says nothing when the core lacks what would tell.
    pub fn check_executable(&self, exe: &ElfImage) -> Result<()> {
        self.check_executable_named(exe, "the executable")
    }

    /// [`CoreFile::check_executable`], naming the executable `exe_name` in the error.
    pub fn check_executable_named(&self, exe: &ElfImage, exe_name: &str) -> Result<()> {
        let mismatch = |detail: String| {
            let ran = self
                .main_mapping_path()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            Error::corrupt(format!(
                "core was dumped by a different binary{ran}: {detail}"
            ))
        };
        if exe.arch != self.arch {
            return Err(mismatch(format!(
                "the core is {}, {exe_name} is {}",
                self.arch.go_name(),
                exe.arch.go_name()
            )));
        }
        let layout = ExeLayout::parse(exe)?;
        let bias = self.load_bias(exe)?;
        // Build IDs, read from the core alone (splicing in the executable would compare the
        // executable with itself).
        let theirs = self.build_ids_in_core(&layout, bias);
        for (kind, ours) in &layout.build_ids {
            if let Some((_, id)) = theirs.iter().find(|(k, _)| k == kind) {
                if id == ours {
                    return Ok(());
                }
                return Err(mismatch(format!(
                    "{} {id} in the core, {ours} in {exe_name}",
                    kind.label()
                )));
            }
        }
        // Without a build ID: the entry point and program headers must be where the
        // executable puts them.
        if let Some(at_entry) = self.auxv_value(AT_ENTRY) {
            if !exe.pie && at_entry != exe.entry {
                return Err(mismatch(format!(
                    "entry point {at_entry:#x} in the core, {:#x} in {exe_name}",
                    exe.entry
                )));
            }
            if exe.pie && bias % PAGE != 0 {
                return Err(mismatch(format!(
                    "entry point {at_entry:#x} in the core cannot be {exe_name}'s entry {:#x} loaded at a page boundary",
                    exe.entry
                )));
            }
        }
        if let (Some(at_phdr), Some(linked)) = (self.auxv_value(AT_PHDR), layout.phdr_vaddr) {
            if at_phdr != linked.wrapping_add(bias) {
                return Err(mismatch(format!(
                    "program headers at {at_phdr:#x} in the core, {:#x} expected for {exe_name}",
                    linked.wrapping_add(bias)
                )));
            }
        }

        // No build ID to compare: the first page (ELF and program headers) tells as well,
        // unless the core lost it (all zeros is damage, not another binary's headers).
        if let Some(first) = layout.first_page.as_ref() {
            let addr = first.0.wrapping_add(bias);
            let mut in_core = vec![0u8; first.1.len()];
            if self.read_at(addr, &mut in_core).is_ok()
                && in_core != first.1
                && in_core.iter().any(|&b| b != 0)
            {
                return Err(mismatch(format!(
                    "the ELF headers at {addr:#x} in the core differ from those of {exe_name}"
                )));
            }
        }
        Ok(())
    }

    /// Where the core's copy of the executable's ELF header reads as zeros: damage that
    /// leaves the core's match with the executable unchecked.
    fn zeroed_exe_header(&self, exe: &ElfImage) -> Option<u64> {
        let layout = ExeLayout::parse(exe).ok()?;
        let bias = self.load_bias(exe).ok()?;
        let first = layout.first_page.as_ref()?;
        let addr = first.0.wrapping_add(bias);
        let mut in_core = vec![0u8; first.1.len()];
        self.read_at(addr, &mut in_core).ok()?;
        in_core.iter().all(|&b| b == 0).then_some(addr)
    }

    /// Build IDs in the core's copy of the dumped executable's first page, which holds its ELF
    /// header, program headers and (in Go binaries) its notes. The page is found through
    /// AT_PHDR, else where `layout`'s first page lies at `bias`.
    fn build_ids_in_core(&self, layout: &ExeLayout, bias: u64) -> Vec<(BuildIdKind, String)> {
        let page_addr = self
            .auxv_value(AT_PHDR)
            .map(|p| p & !(PAGE - 1))
            .or_else(|| layout.first_page.as_ref().map(|f| f.0.wrapping_add(bias)));
        let Some(page_addr) = page_addr else {
            return Vec::new();
        };
        let mut page = vec![0u8; PAGE as usize];
        if self.read_at(page_addr, &mut page).is_err() {
            return Vec::new();
        }
        let Ok(header) = parse_elf_header(&page) else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for h in header.headers.iter().filter(|h| h.kind == PT_NOTE) {
            let (Ok(start), Ok(size)) = (usize::try_from(h.offset), usize::try_from(h.file_size))
            else {
                continue;
            };
            let end = start.saturating_add(size).min(page.len());
            let _ = notes::walk_notes(&page, start, end, |n| {
                if let Some(id) = BuildIdKind::of(&n) {
                    ids.push(id);
                }
                Ok(())
            });
        }
        ids
    }

    /// The path NT_FILE gives for the dumped process's executable (the mapping that holds
    /// its program headers or entry point).
    fn main_mapping_path(&self) -> Option<String> {
        let at = self
            .auxv_value(AT_PHDR)
            .or_else(|| self.auxv_value(AT_ENTRY))?;
        self.mapped_files()
            .iter()
            .find(|f| f.start <= at && at < f.end)
            .map(|f| f.path.clone())
    }

    /// The core's memory with the executable's file-backed segments beneath it, after
    /// checking that the core was dumped by `exe`.
    pub fn with_executable(self, exe: &ElfImage) -> Result<CoreMemory> {
        CoreMemory::new(self, exe)
    }
}

impl Memory for CoreFile {
    /// Reads what the core itself holds, without the executable.
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let cur = addr.wrapping_add(done as u64);
            if cur < addr {
                return Err(unreadable_at(
                    addr,
                    buf.len(),
                    cur,
                    "past the end of the address space",
                ));
            }
            match self.chunk(cur) {
                Chunk::Data(src) => {
                    let n = src.len().min(buf.len().saturating_sub(done));
                    let dst = buf.get_mut(done..).and_then(|b| b.get_mut(..n));
                    let (Some(dst), Some(src)) = (dst, src.get(..n)) else {
                        return Err(Error::unreadable(addr, buf.len()));
                    };
                    dst.copy_from_slice(src);
                    done = done.saturating_add(n);
                }
                Chunk::Missing { why, .. } => return Err(unreadable_at(addr, buf.len(), cur, why)),
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuildIdKind {
    Gnu,
    Go,
}

impl BuildIdKind {
    /// The build ID a note holds, as text (hex for GNU, the string for Go).
    fn of(n: &notes::RawNote<'_>) -> Option<(BuildIdKind, String)> {
        match (n.owner, n.kind) {
            (b"GNU", notes::NT_GNU_BUILD_ID) => Some((
                BuildIdKind::Gnu,
                n.desc.iter().map(|b| format!("{b:02x}")).collect(),
            )),
            (b"Go", notes::NT_GO_BUILD_ID) => Some((
                BuildIdKind::Go,
                String::from_utf8_lossy(n.desc).into_owned(),
            )),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            BuildIdKind::Gnu => "build ID",
            BuildIdKind::Go => "Go build ID",
        }
    }
}

/// A loadable segment of the executable: link-time address and its bytes in the file.
#[derive(Debug, Clone, Copy)]
struct ExeLoad {
    vaddr: u64,
    file_offset: u64,
    /// Bytes in the file (clipped to the file's length).
    file_size: u64,
}

/// What goscope needs of the executable's layout to splice it under a core.
struct ExeLayout {
    loads: Vec<ExeLoad>,
    phdr_vaddr: Option<u64>,
    /// The executable's build IDs, GNU first (it is what other tools show).
    build_ids: Vec<(BuildIdKind, String)>,
    /// Link-time address and bytes of the executable's first page (the ELF headers).
    first_page: Option<(u64, Vec<u8>)>,
}

impl ExeLayout {
    fn parse(exe: &ElfImage) -> Result<ExeLayout> {
        let bytes: &[u8] = exe.file_data();
        let header = parse_elf_header(bytes).map_err(|e| e.context("executable"))?;
        let file_len = bytes.len() as u64;
        let mut loads: Vec<ExeLoad> = header
            .headers
            .iter()
            .filter(|h| h.kind == PT_LOAD && h.offset < file_len)
            .map(|h| ExeLoad {
                vaddr: h.vaddr,
                file_offset: h.offset,
                file_size: h.file_size.min(file_len.saturating_sub(h.offset)),
            })
            .collect();
        loads.sort_by_key(|l| l.vaddr);
        let phdr_vaddr = header
            .headers
            .iter()
            .find(|h| h.kind == PT_PHDR)
            .map(|h| h.vaddr)
            .or_else(|| {
                // The program headers lie in the segment that maps file offset e_phoff.
                loads.iter().find_map(|l| {
                    let into = header
                        .phoff
                        .checked_sub(l.file_offset)
                        .filter(|&into| into < l.file_size)?;
                    Some(l.vaddr.wrapping_add(into))
                })
            });
        let mut build_ids = Vec::new();
        for h in header.headers.iter().filter(|h| h.kind == PT_NOTE) {
            let (Ok(start), Ok(size)) = (usize::try_from(h.offset), usize::try_from(h.file_size))
            else {
                continue;
            };
            let end = start.saturating_add(size);
            let _ = notes::walk_notes(bytes, start, end, |n| {
                build_ids.extend(BuildIdKind::of(&n));
                Ok(())
            });
        }
        build_ids.sort_by_key(|b| b.0 != BuildIdKind::Gnu);
        let first_page = loads.iter().find(|l| l.file_offset == 0).and_then(|l| {
            let n = l.file_size.min(PAGE) as usize;
            bytes.get(..n).map(|b| (l.vaddr, b.to_vec()))
        });
        Ok(ExeLayout {
            loads,
            phdr_vaddr,
            build_ids,
            first_page,
        })
    }
}

/// A core's memory spliced over its executable: bytes the core holds win; where it holds
/// nothing, the executable's file-backed bytes (text, rodata: the kernel does not dump
/// file-backed private mappings by default) at the load bias; anything else is unreadable.
pub struct CoreMemory {
    core: CoreFile,
    exe: Blob,
    loads: Vec<ExeLoad>,
    bias: u64,
}

impl std::fmt::Debug for CoreMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreMemory")
            .field("core", &self.core)
            .field("bias", &format_args!("{:#x}", self.bias))
            .finish()
    }
}

impl CoreMemory {
    /// Splices `exe` under `core` after [`CoreFile::check_executable`] accepted it.
    pub fn new(mut core: CoreFile, exe: &ElfImage) -> Result<CoreMemory> {
        core.check_executable(exe)?;
        if let Some(addr) = core.zeroed_exe_header(exe) {
            core.notes.warnings.push(format!(
                "the core's copy of the executable's ELF header at {addr:#x} is all zeros (a damaged core): whether it was dumped by this executable could not be checked"
            ));
        }
        Self::new_unchecked(core, exe)
    }

    /// Splices `exe` under `core` without checking that the core was dumped by it.
    pub fn new_unchecked(core: CoreFile, exe: &ElfImage) -> Result<CoreMemory> {
        let layout = ExeLayout::parse(exe)?;
        let bias = core.load_bias(exe)?;
        Ok(CoreMemory {
            core,
            exe: exe.file_data().clone(),
            loads: layout.loads,
            bias,
        })
    }

    pub fn core(&self) -> &CoreFile {
        &self.core
    }

    pub fn into_core(self) -> CoreFile {
        self.core
    }

    /// Run-time address minus link-time address of the executable (0 unless PIE).
    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// The executable's file bytes from run-time address `addr` to the end of its segment.
    fn exe_tail(&self, addr: u64) -> Option<&[u8]> {
        let link = addr.wrapping_sub(self.bias);
        let i = self
            .loads
            .partition_point(|l| l.vaddr <= link)
            .checked_sub(1)?;
        let seg = self.loads.get(i)?;
        let off = link.saturating_sub(seg.vaddr);
        if off >= seg.file_size {
            return None;
        }
        let from = usize::try_from(seg.file_offset.checked_add(off)?).ok()?;
        let to = usize::try_from(seg.file_offset.checked_add(seg.file_size)?).ok()?;
        self.exe.get(from..to)
    }
}

impl Memory for CoreMemory {
    fn trim(&self) {
        self.core.trim();
    }

    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        // Words are most reads (pointers, return addresses): copy them without the general
        // loop and its variable-length copy.
        if let Ok(word) = <&mut [u8; 8]>::try_from(&mut *buf) {
            if let Chunk::Data(src) = self.core.chunk(addr) {
                if let Some(src) = src.first_chunk::<8>() {
                    *word = *src;
                    return Ok(());
                }
            }
        }
        let mut done = 0usize;
        while done < buf.len() {
            let cur = addr.wrapping_add(done as u64);
            if cur < addr {
                return Err(unreadable_at(
                    addr,
                    buf.len(),
                    cur,
                    "past the end of the address space",
                ));
            }
            let want = buf.len().saturating_sub(done);
            let (src, n) = match self.core.chunk(cur) {
                Chunk::Data(src) => (src, src.len().min(want)),
                Chunk::Missing { len, why } => {
                    let Some(src) = self.exe_tail(cur) else {
                        return Err(unreadable_at(addr, buf.len(), cur, why));
                    };
                    let hole = usize::try_from(len).unwrap_or(usize::MAX);
                    (src, src.len().min(want).min(hole))
                }
            };
            let dst = buf.get_mut(done..).and_then(|b| b.get_mut(..n));
            let (Some(dst), Some(src)) = (dst, src.get(..n)) else {
                return Err(Error::unreadable(addr, buf.len()));
            };
            dst.copy_from_slice(src);
            done = done.saturating_add(n);
        }
        Ok(())
    }
}
