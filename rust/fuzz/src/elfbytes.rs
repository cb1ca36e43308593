//! Just enough ELF64 to place fuzz input inside real executables and cores: the section and
//! program headers of a file (with where each header lies, to patch it), and a writer of
//! small executables made of named sections.

use goscope_core::bytes::ReadLe;

/// A section header as it lies in the file.
#[derive(Debug, Clone)]
pub struct SectionHeader {
    pub name: String,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    /// File offset of the header itself.
    pub header_at: usize,
}

/// A program header as it lies in the file.
#[derive(Debug, Clone, Copy)]
pub struct ProgramHeader {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub file_size: u64,
    pub mem_size: u64,
}

pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
const SHT_PROGBITS: u32 = 1;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

/// The section headers of a 64-bit little-endian ELF, empty when they cannot be read.
pub fn sections(bytes: &[u8]) -> Vec<SectionHeader> {
    let (Some(shoff), Some(entsize), Some(count), Some(strndx)) = (
        bytes.u64_at(0x28),
        u16_at(bytes, 0x3a),
        u16_at(bytes, 0x3c),
        u16_at(bytes, 0x3e),
    ) else {
        return Vec::new();
    };
    let Ok(shoff) = usize::try_from(shoff) else {
        return Vec::new();
    };
    let at = |i: usize| shoff.checked_add(i.checked_mul(usize::from(entsize))?);
    let strtab = at(usize::from(strndx)).and_then(|h| {
        let off = usize::try_from(bytes.u64_at(h.checked_add(24)?)?).ok()?;
        let size = usize::try_from(bytes.u64_at(h.checked_add(32)?)?).ok()?;
        bytes.get(off..off.checked_add(size)?)
    });
    let mut out = Vec::new();
    for i in 0..usize::from(count) {
        let Some(h) = at(i) else { break };
        let field = |o: usize| h.checked_add(o).and_then(|a| bytes.u64_at(a));
        let (Some(name_off), Some(kind), Some(flags), Some(addr), Some(offset), Some(size)) = (
            h.checked_add(0).and_then(|a| bytes.u32_at(a)),
            h.checked_add(4).and_then(|a| bytes.u32_at(a)),
            field(8),
            field(16),
            field(24),
            field(32),
        ) else {
            break;
        };
        let name = strtab
            .and_then(|t| t.get(name_off as usize..))
            .and_then(|t| t.split(|&b| b == 0).next())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        out.push(SectionHeader {
            name,
            kind,
            flags,
            addr,
            offset,
            size,
            header_at: h,
        });
    }
    out
}

/// The program headers of a 64-bit little-endian ELF, empty when they cannot be read.
pub fn program_headers(bytes: &[u8]) -> Vec<ProgramHeader> {
    let (Some(phoff), Some(entsize), Some(count)) =
        (bytes.u64_at(0x20), u16_at(bytes, 0x36), u16_at(bytes, 0x38))
    else {
        return Vec::new();
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..usize::from(count) {
        let Some(h) = i
            .checked_mul(usize::from(entsize))
            .and_then(|o| phoff.checked_add(o))
        else {
            break;
        };
        let field = |o: usize| h.checked_add(o).and_then(|a| bytes.u64_at(a));
        let (Some(kind), Some(flags), Some(offset), Some(vaddr), Some(file_size), Some(mem_size)) = (
            bytes.u32_at(h),
            h.checked_add(4).and_then(|a| bytes.u32_at(a)),
            field(8),
            field(16),
            field(32),
            field(40),
        ) else {
            break;
        };
        out.push(ProgramHeader {
            kind,
            flags,
            offset,
            vaddr,
            file_size,
            mem_size,
        });
    }
    out
}

/// The bytes of a section, when they lie in the file.
pub fn section_bytes<'a>(bytes: &'a [u8], s: &SectionHeader) -> Option<&'a [u8]> {
    let from = usize::try_from(s.offset).ok()?;
    let to = from.checked_add(usize::try_from(s.size).ok()?)?;
    bytes.get(from..to)
}

/// One section of an executable to write.
pub struct NewSection<'a> {
    pub name: &'a str,
    pub addr: u64,
    pub writable: bool,
    pub data: &'a [u8],
    /// Bytes it maps: beyond `data`, zeros (a section without data is NOBITS).
    pub size: u64,
}

fn put(out: &mut [u8], at: usize, value: &[u8]) {
    if let Some(slot) = at
        .checked_add(value.len())
        .and_then(|end| out.get_mut(at..end))
    {
        slot.copy_from_slice(value);
    }
}

/// A small amd64 executable holding `sections`, each in a loadable segment of its own, plus
/// the section name table.
pub fn executable(sections: &[NewSection<'_>], entry: u64) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    const SHDR: usize = 64;
    let mut names = vec![0u8];
    let mut name_offsets = Vec::new();
    for s in sections {
        name_offsets.push(names.len() as u32);
        names.extend_from_slice(s.name.as_bytes());
        names.push(0);
    }
    let shstrtab_name = names.len() as u32;
    names.extend_from_slice(b".shstrtab\0");

    let phoff = EHDR;
    let mut data_at = phoff + PHDR * sections.len();
    let mut offsets = Vec::new();
    for s in sections {
        data_at = (data_at + 15) & !15;
        offsets.push(data_at);
        data_at += s.data.len();
    }
    let names_at = data_at;
    let shoff = (names_at + names.len() + 7) & !7;
    let total = shoff + SHDR * (sections.len() + 2);
    let mut out = vec![0u8; total];

    put(&mut out, 0, b"\x7fELF\x02\x01\x01");
    put(&mut out, 0x10, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut out, 0x12, &62u16.to_le_bytes()); // EM_X86_64
    put(&mut out, 0x14, &1u32.to_le_bytes());
    put(&mut out, 0x18, &entry.to_le_bytes());
    put(&mut out, 0x20, &(phoff as u64).to_le_bytes());
    put(&mut out, 0x28, &(shoff as u64).to_le_bytes());
    put(&mut out, 0x34, &(EHDR as u16).to_le_bytes());
    put(&mut out, 0x36, &(PHDR as u16).to_le_bytes());
    put(&mut out, 0x38, &(sections.len() as u16).to_le_bytes());
    put(&mut out, 0x3a, &(SHDR as u16).to_le_bytes());
    put(&mut out, 0x3c, &((sections.len() + 2) as u16).to_le_bytes());
    put(&mut out, 0x3e, &((sections.len() + 1) as u16).to_le_bytes());

    for (i, (s, &off)) in sections.iter().zip(&offsets).enumerate() {
        let ph = phoff + PHDR * i;
        let flags: u32 = if s.writable { 6 } else { 4 };
        put(&mut out, ph, &PT_LOAD.to_le_bytes());
        put(&mut out, ph + 4, &flags.to_le_bytes());
        put(&mut out, ph + 8, &(off as u64).to_le_bytes());
        put(&mut out, ph + 16, &s.addr.to_le_bytes());
        put(&mut out, ph + 24, &s.addr.to_le_bytes());
        let mapped = s.size.max(s.data.len() as u64);
        put(&mut out, ph + 32, &(s.data.len() as u64).to_le_bytes());
        put(&mut out, ph + 40, &mapped.to_le_bytes());
        put(&mut out, ph + 48, &16u64.to_le_bytes());
        put(&mut out, off, s.data);

        let sh = shoff + SHDR * (i + 1);
        let sh_flags = SHF_ALLOC | if s.writable { SHF_WRITE } else { 0 };
        put(
            &mut out,
            sh,
            &name_offsets.get(i).copied().unwrap_or(0).to_le_bytes(),
        );
        let kind = if s.data.is_empty() && mapped > 0 {
            SHT_NOBITS
        } else {
            SHT_PROGBITS
        };
        put(&mut out, sh + 4, &kind.to_le_bytes());
        put(&mut out, sh + 8, &sh_flags.to_le_bytes());
        put(&mut out, sh + 16, &s.addr.to_le_bytes());
        put(&mut out, sh + 24, &(off as u64).to_le_bytes());
        put(&mut out, sh + 32, &mapped.to_le_bytes());
        put(&mut out, sh + 48, &16u64.to_le_bytes());
    }
    put(&mut out, names_at, &names);
    let sh = shoff + SHDR * (sections.len() + 1);
    put(&mut out, sh, &shstrtab_name.to_le_bytes());
    put(&mut out, sh + 4, &SHT_STRTAB.to_le_bytes());
    put(&mut out, sh + 24, &(names_at as u64).to_le_bytes());
    put(&mut out, sh + 32, &(names.len() as u64).to_le_bytes());
    put(&mut out, sh + 48, &1u64.to_le_bytes());
    out
}
