//! The executable as an address space: ELF sections and segments parsed once with `object`,
//! then reads by virtual address served from the mapped file. PIE binaries keep their
//! pointers in relocations, so pointer reads consult the RELATIVE relocations.

use std::path::Path;
use std::sync::Arc;

use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Object, ObjectSection, ObjectSegment};
use serde::Serialize;

use crate::bytes::{Blob, ReadLe};
use crate::error::{Error, ErrorKind, Result};

pub use crate::arch::Arch;

/// Whether and how the binary carries DWARF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dwarf {
    Present,
    Compressed,
    Absent,
}

/// One section header, kept by value so the image needs no borrow of the parser.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    /// File offset and length of the contents; None for NOBITS (bss) sections.
    pub file_range: Option<(u64, u64)>,
    pub writable: bool,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    addr: u64,
    mem_size: u64,
    file_off: u64,
    file_size: u64,
}

/// A parsed executable: its metadata plus the whole file, readable by virtual address.
pub struct ElfImage {
    data: Blob,
    pub arch: Arch,
    pub pie: bool,
    pub entry: u64,
    pub sections: Vec<Section>,
    segments: Vec<Segment>,
    pub dwarf: Dwarf,
    /// How compressed DWARF is compressed: `zlib`, `zstd` (the ELF compression header's
    /// type), or `zlib (.zdebug)` for the older GNU sections.
    pub dwarf_compression: Option<String>,
    pub has_symtab: bool,
    pub build_id: Option<String>,
    /// Set when sections or segments extend past the end of the file (a cut-short copy).
    pub truncation: Option<String>,
    /// (address, addend) of every RELATIVE relocation, sorted by address.
    relative_relocs: Vec<(u64, u64)>,
    /// Symbol table entries we look up by name (only when a symtab is present).
    symbols: Vec<(String, u64, u64)>,
}

impl ElfImage {
    pub fn open(path: &Path) -> Result<ElfImage> {
        let file = crate::binary::file::open_regular(path, "binary")?;
        let meta = file.metadata().map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot stat {}: {e}", path.display()),
            )
        })?;
        if meta.len() == 0 {
            return Err(Error::new(
                ErrorKind::NotElf,
                format!("{} is empty, not an ELF binary", path.display()),
            ));
        }
        // SAFETY: the mapping is read-only; a file truncated underneath us can fault, the same
        // risk every debugger that maps its inputs accepts. Populating up front trades a few
        // milliseconds at open for no page faults during lookups.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(|e| {
            Error::new(ErrorKind::Io, format!("cannot map {}: {e}", path.display()))
        })?;
        Self::parse(Blob::new(Arc::new(map))).map_err(|e| e.context(&path.display().to_string()))
    }

    pub fn parse(data: Blob) -> Result<ElfImage> {
        let bytes: &[u8] = &data;
        check_ident(bytes, "binaries")?;
        let header = elf::FileHeader64::<object::LittleEndian>::parse(bytes)
            .map_err(|_| Error::truncated("ELF header is incomplete"))?;
        let endian = object::LittleEndian;
        let arch = match header.e_machine(endian) {
            elf::EM_X86_64 => Arch::Amd64,
            elf::EM_AARCH64 => Arch::Arm64,
            other => {
                return Err(Error::new(
                    ErrorKind::UnsupportedArch,
                    format!("ELF machine {other} is not supported (goscope reads amd64 and arm64)"),
                ))
            }
        };
        check_tables_fit(header, bytes.len() as u64)?;
        let file =
            object::read::elf::ElfFile64::<object::LittleEndian>::parse(bytes).map_err(|e| {
                cut_section(header, bytes)
                    .unwrap_or_else(|| Error::truncated(format!("malformed ELF: {e}")))
            })?;
        let pie = header.e_type(endian) == elf::ET_DYN;
        let entry = header.e_entry(endian);

        let mut sections = Vec::new();
        let mut dwarf = Dwarf::Absent;
        let mut dwarf_compression = None;
        let mut relative_relocs = Vec::new();
        let section_table = header
            .sections(endian, bytes)
            .map_err(|e| Error::truncated(format!("malformed ELF section headers: {e}")))?;
        for section in file.sections() {
            let name = section.name().unwrap_or("").to_string();
            let raw = section_table.section(section.index()).ok();
            let flags = raw.map_or(0, |s| s.sh_flags(endian));
            let kind = raw.map_or(0, |s| s.sh_type(endian));
            if name == ".debug_info" || name == ".zdebug_info" {
                let compressed =
                    name.starts_with(".z") || flags & u64::from(elf::SHF_COMPRESSED) != 0;
                dwarf = if compressed {
                    Dwarf::Compressed
                } else {
                    Dwarf::Present
                };
                dwarf_compression = if name.starts_with(".z") {
                    Some("zlib (.zdebug)".to_string())
                } else if compressed {
                    // Elf64_Chdr starts with ch_type: 1 zlib, 2 zstd.
                    let kind = section
                        .data()
                        .ok()
                        .and_then(|d| d.get(..4))
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(u32::from_le_bytes);
                    Some(match kind {
                        Some(1) => "zlib".to_string(),
                        Some(2) => "zstd".to_string(),
                        Some(k) => format!("type {k}"),
                        None => "an unreadable compression header".to_string(),
                    })
                } else {
                    None
                };
            }
            let file_range = if kind == elf::SHT_NOBITS {
                None
            } else {
                section.file_range()
            };
            if kind == elf::SHT_RELA {
                if let Some((off, len)) = file_range {
                    collect_relative_relocs(bytes, off, len, arch, &mut relative_relocs);
                }
            }
            sections.push(Section {
                name,
                addr: section.address(),
                size: section.size(),
                file_range,
                writable: flags & u64::from(elf::SHF_WRITE) != 0,
            });
        }
        relative_relocs.sort_unstable();

        let segments = file
            .segments()
            .map(|seg| {
                let (file_off, file_size) = seg.file_range();
                Segment {
                    addr: seg.address(),
                    mem_size: seg.size(),
                    file_off,
                    file_size,
                }
            })
            .collect();

        let mut symbols = Vec::new();
        let mut has_symtab = false;
        if let Some(table) = file.symbol_table() {
            use object::ObjectSymbol;
            use object::ObjectSymbolTable;
            for sym in table.symbols() {
                has_symtab = true;
                if let Ok(name) = sym.name() {
                    if !name.is_empty() {
                        symbols.push((name.to_string(), sym.address(), sym.size()));
                    }
                }
            }
        }
        symbols.sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let build_id = file
            .build_id()
            .ok()
            .flatten()
            .map(|id| id.iter().map(|b| format!("{b:02x}")).collect::<String>());

        let file_len = bytes.len() as u64;
        let truncation = sections
            .iter()
            .filter_map(|s: &Section| {
                let (off, len) = s.file_range?;
                let end = off.saturating_add(len);
                (end > file_len).then(|| (end, s.name.clone()))
            })
            .max()
            .map(|(end, name)| {
                format!(
                    "the file is truncated: section {name} ends at offset {end:#x} but the file has only {file_len:#x} bytes"
                )
            });

        drop(file);
        Ok(ElfImage {
            data,
            arch,
            pie,
            entry,
            sections,
            segments,
            dwarf,
            dwarf_compression,
            has_symtab,
            build_id,
            truncation,
            relative_relocs,
            symbols,
        })
    }

    pub fn file_data(&self) -> &Blob {
        &self.data
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The contents of a section as a shared view.
    pub fn section_data(&self, section: &Section) -> Option<Blob> {
        let (off, len) = section.file_range?;
        let from = usize::try_from(off).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        self.data.slice(from, to)
    }

    /// The file-backed bytes from `addr` to the end of the segment that holds it.
    pub fn data_from(&self, addr: u64) -> Option<Blob> {
        let (seg, off) = self.segments.iter().find_map(|s| {
            let off = addr.checked_sub(s.addr).filter(|&off| off < s.file_size)?;
            Some((s, off))
        })?;
        let from = usize::try_from(seg.file_off.checked_add(off)?).ok()?;
        let to = usize::try_from(seg.file_off.checked_add(seg.file_size)?).ok()?;
        self.data.slice(from, to)
    }

    /// Whether `addr` lies in any loadable segment (file-backed or zero-filled).
    pub fn is_mapped(&self, addr: u64) -> bool {
        self.segments
            .iter()
            .any(|s| addr.checked_sub(s.addr).is_some_and(|off| off < s.mem_size))
    }

    /// Reads a pointer-sized value at `addr`, applying a RELATIVE relocation if one targets it
    /// (PIE binaries may hold zero in the file and the real value in the relocation addend).
    pub fn read_ptr(&self, addr: u64) -> Option<u64> {
        if let Ok(i) = self
            .relative_relocs
            .binary_search_by(|&(a, _)| a.cmp(&addr))
        {
            return self.relative_relocs.get(i).map(|&(_, addend)| addend);
        }
        self.data_from(addr)?.u64_at(0)
    }

    /// Addresses whose RELATIVE relocation resolves to `target` (pointers to it in a PIE).
    pub fn relocated_pointers_to(&self, target: u64) -> impl Iterator<Item = u64> + '_ {
        self.relative_relocs
            .iter()
            .filter(move |&&(_, addend)| addend == target)
            .map(|&(addr, _)| addr)
    }

    pub fn has_relative_relocs(&self) -> bool {
        !self.relative_relocs.is_empty()
    }

    /// A symbol's address and size from the symbol table, when the binary has one.
    pub fn symbol(&self, name: &str) -> Option<(u64, u64)> {
        let i = self
            .symbols
            .binary_search_by(|(n, _, _)| n.as_str().cmp(name))
            .ok()?;
        self.symbols.get(i).map(|&(_, a, s)| (a, s))
    }

    /// Symbols as (address, size, name), by address.
    pub fn data_symbols(&self) -> Vec<(u64, u64, &str)> {
        let mut out: Vec<(u64, u64, &str)> = self
            .symbols
            .iter()
            .map(|(n, a, s)| (*a, *s, n.as_str()))
            .collect();
        out.sort_unstable();
        out
    }

    /// Sections that the linker fills with initialised, writable data: where moduledata and
    /// other runtime globals live.
    pub fn writable_data_sections(&self) -> impl Iterator<Item = &Section> {
        self.sections
            .iter()
            .filter(|s| s.writable && s.file_range.is_some())
    }
}

/// Checks the ELF identification bytes: an ELF, 64-bit, little-endian. `noun` names what
/// goscope reads in the message ("binaries", "cores").
pub(crate) fn check_ident(bytes: &[u8], noun: &str) -> Result<()> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(Error::new(ErrorKind::NotElf, "not an ELF file"));
    }
    match bytes.get(4) {
        Some(2) => {}
        Some(1) => {
            return Err(Error::new(
                ErrorKind::UnsupportedArch,
                format!("32-bit ELF: goscope reads 64-bit linux/amd64 and linux/arm64 {noun}"),
            ))
        }
        _ => return Err(Error::truncated("the ELF header is incomplete")),
    }
    if bytes.get(5) != Some(&1) {
        return Err(Error::new(
            ErrorKind::UnsupportedArch,
            format!(
                "big-endian ELF: goscope reads little-endian linux/amd64 and linux/arm64 {noun}"
            ),
        ));
    }
    Ok(())
}

/// A copy cut short loses the section header table, which linkers put at the end: say so
/// instead of letting the parser report a garbled table.
fn check_tables_fit(header: &elf::FileHeader64<object::LittleEndian>, file_len: u64) -> Result<()> {
    let e = object::LittleEndian;
    let tables = [
        (
            "section header table",
            header.e_shoff(e),
            u64::from(header.e_shnum(e)).saturating_mul(u64::from(header.e_shentsize(e))),
        ),
        (
            "program header table",
            header.e_phoff(e),
            u64::from(header.e_phnum(e)).saturating_mul(u64::from(header.e_phentsize(e))),
        ),
    ];
    for (what, off, len) in tables {
        let end = off.saturating_add(len);
        if off != 0 && end > file_len {
            return Err(Error::truncated(format!(
                "the file is truncated: its {what} ends at offset {end:#x} but the file has only {file_len:#x} bytes"
            )));
        }
    }
    Ok(())
}

/// When a section's contents run past the end of the file, the error that names it.
fn cut_section(header: &elf::FileHeader64<object::LittleEndian>, bytes: &[u8]) -> Option<Error> {
    let e = object::LittleEndian;
    let table = header.sections(e, bytes).ok()?;
    let len = bytes.len() as u64;
    let (end, name) = table
        .iter()
        .enumerate()
        .filter(|(_, s)| s.sh_type(e) != elf::SHT_NOBITS)
        .map(|(i, s)| {
            let end = s.sh_offset(e).saturating_add(s.sh_size(e));
            // The section name table may itself be among what was cut off.
            let name = table
                .section_name(e, s)
                .ok()
                .filter(|n| !n.is_empty())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_else(|| format!("#{i}"));
            (end, name)
        })
        .filter(|(end, _)| *end > len)
        .max()?;
    Some(Error::truncated(format!(
        "the file is truncated: section {name} ends at offset {end:#x} but the file has only {len:#x} bytes"
    )))
}

/// Reads every R_*_RELATIVE entry of one SHT_RELA section.
fn collect_relative_relocs(
    bytes: &[u8],
    off: u64,
    len: u64,
    arch: Arch,
    out: &mut Vec<(u64, u64)>,
) {
    let relative = match arch {
        Arch::Amd64 => elf::R_X86_64_RELATIVE,
        Arch::Arm64 => elf::R_AARCH64_RELATIVE,
    };
    let (Ok(off), Ok(len)) = (usize::try_from(off), usize::try_from(len)) else {
        return;
    };
    let Some(table) = off.checked_add(len).and_then(|end| bytes.get(off..end)) else {
        return;
    };
    for entry in table.chunks_exact(24) {
        let (Some(r_offset), Some(r_info), Some(r_addend)) =
            (entry.u64_at(0), entry.u64_at(8), entry.u64_at(16))
        else {
            continue;
        };
        if (r_info & 0xffff_ffff) as u32 == relative {
            out.push((r_offset, r_addend));
        }
    }
}
