//! `runtime.moduledata`, found without symbols: it is the only writable word that points at
//! the pclntab header and is followed by slices into that same table.

use serde::Serialize;

use crate::binary::buildinfo::GoVersion;
use crate::binary::elf::ElfImage;
use crate::binary::pclntab::{PcHeader, TextSect};

/// Field offsets of moduledata that move between releases. The leading fields (pcHeader
/// through gcbss) are at the same place in every supported release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Go 1.21 – 1.25.
    Go121,
    /// Go 1.26: adds `epclntab` after `gofunc`.
    Go126,
    /// Go 1.27: adds `typedesclen`, `itaboffset`, `itabsize`; drops typelinks and itablinks.
    Go127,
}

const SLICE: u64 = 24;

/// Offsets of the fields shared by every layout (`runtime/symtab.go`).
mod off {
    pub const PCHEADER: u64 = 0;
    pub const FUNCNAMETAB: u64 = 8;
    pub const FTAB: u64 = 8 + 24 * 5;
    pub const MINPC: u64 = FTAB + 24 + 8;
    pub const MAXPC: u64 = MINPC + 8;
    pub const TEXT: u64 = MAXPC + 8;
    pub const ETEXT: u64 = TEXT + 8;
    pub const NOPTRDATA: u64 = ETEXT + 8;
    pub const ENOPTRDATA: u64 = NOPTRDATA + 8;
    pub const DATA: u64 = ENOPTRDATA + 8;
    pub const EDATA: u64 = DATA + 8;
    pub const BSS: u64 = EDATA + 8;
    pub const EBSS: u64 = BSS + 8;
    pub const NOPTRBSS: u64 = EBSS + 8;
    pub const ENOPTRBSS: u64 = NOPTRBSS + 8;
    pub const END: u64 = ENOPTRBSS + 8 * 3;
    pub const GCDATA: u64 = END + 8;
    pub const GCBSS: u64 = GCDATA + 8;
    pub const TYPES: u64 = GCBSS + 8;
}

struct LayoutOffsets {
    etypes: u64,
    rodata: u64,
    gofunc: u64,
    epclntab: Option<u64>,
    textsectmap: u64,
    typelinks: Option<u64>,
    itablinks: Option<u64>,
}

impl Layout {
    pub fn for_version(v: GoVersion) -> Option<Layout> {
        if v.major != 1 || v.minor < 21 {
            return None;
        }
        Some(match v.minor {
            21..=25 => Layout::Go121,
            26 => Layout::Go126,
            _ => Layout::Go127,
        })
    }

    fn offsets(self) -> LayoutOffsets {
        // A constant: the sums below are of constants, which the compiler checks.
        const TYPES: u64 = off::TYPES;
        match self {
            Layout::Go121 => LayoutOffsets {
                etypes: TYPES + 8,
                rodata: TYPES + 16,
                gofunc: TYPES + 24,
                epclntab: None,
                textsectmap: TYPES + 32,
                typelinks: Some(TYPES + 32 + SLICE),
                itablinks: Some(TYPES + 32 + 2 * SLICE),
            },
            Layout::Go126 => LayoutOffsets {
                etypes: TYPES + 8,
                rodata: TYPES + 16,
                gofunc: TYPES + 24,
                epclntab: Some(TYPES + 32),
                textsectmap: TYPES + 40,
                typelinks: Some(TYPES + 40 + SLICE),
                itablinks: Some(TYPES + 40 + 2 * SLICE),
            },
            // types, typedesclen, etypes, itaboffset, itabsize, rodata, gofunc, epclntab
            Layout::Go127 => LayoutOffsets {
                etypes: TYPES + 16,
                rodata: TYPES + 40,
                gofunc: TYPES + 48,
                epclntab: Some(TYPES + 56),
                textsectmap: TYPES + 64,
                typelinks: None,
                itablinks: None,
            },
        }
    }
}

/// A Go slice header read from the binary: data pointer and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SliceHeader {
    pub ptr: u64,
    pub len: u64,
}

/// The moduledata fields goscope uses.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleData {
    pub address: u64,
    #[serde(skip)]
    pub layout: Layout,
    pub minpc: u64,
    pub maxpc: u64,
    pub text: u64,
    pub etext: u64,
    pub noptrdata: u64,
    pub enoptrdata: u64,
    pub data: u64,
    pub edata: u64,
    pub bss: u64,
    pub ebss: u64,
    pub noptrbss: u64,
    pub enoptrbss: u64,
    pub end: u64,
    pub gcdata: u64,
    pub gcbss: u64,
    pub types: u64,
    pub etypes: u64,
    pub rodata: u64,
    pub gofunc: u64,
    pub epclntab: Option<u64>,
    pub textsectmap: Vec<TextSect>,
    pub typelinks: Option<SliceHeader>,
    pub itablinks: Option<SliceHeader>,
}

/// Bound on text sections read from textsectmap; real binaries have a handful.
const MAX_TEXT_SECTIONS: u64 = 4096;

impl ModuleData {
    /// Scans the writable data for the moduledata that describes the pclntab at `pcln_addr`.
    /// `version` picks the layout; without it every layout is tried and the consistent one kept.
    pub fn find(
        image: &ElfImage,
        pcln_addr: u64,
        header: &PcHeader,
        version: Option<GoVersion>,
    ) -> Option<ModuleData> {
        let layouts: Vec<Layout> = match version.and_then(Layout::for_version) {
            Some(l) => vec![l],
            None => vec![Layout::Go127, Layout::Go126, Layout::Go121],
        };
        for candidate in candidates(image, pcln_addr) {
            if !leading_fields_match(image, candidate, pcln_addr, header) {
                continue;
            }
            for &layout in &layouts {
                if let Some(md) = Self::read(image, candidate, layout) {
                    return Some(md);
                }
            }
        }
        None
    }

    fn read(image: &ElfImage, at: u64, layout: Layout) -> Option<ModuleData> {
        let word = |o: u64| image.read_ptr(at.checked_add(o)?);
        let o = layout.offsets();
        let slice = |o: u64| -> Option<SliceHeader> {
            Some(SliceHeader {
                ptr: word(o)?,
                len: word(o.checked_add(8)?)?,
            })
        };
        let md = ModuleData {
            address: at,
            layout,
            minpc: word(off::MINPC)?,
            maxpc: word(off::MAXPC)?,
            text: word(off::TEXT)?,
            etext: word(off::ETEXT)?,
            noptrdata: word(off::NOPTRDATA)?,
            enoptrdata: word(off::ENOPTRDATA)?,
            data: word(off::DATA)?,
            edata: word(off::EDATA)?,
            bss: word(off::BSS)?,
            ebss: word(off::EBSS)?,
            noptrbss: word(off::NOPTRBSS)?,
            enoptrbss: word(off::ENOPTRBSS)?,
            end: word(off::END)?,
            gcdata: word(off::GCDATA)?,
            gcbss: word(off::GCBSS)?,
            types: word(off::TYPES)?,
            etypes: word(o.etypes)?,
            rodata: word(o.rodata)?,
            gofunc: word(o.gofunc)?,
            epclntab: match o.epclntab {
                Some(e) => Some(word(e)?),
                None => None,
            },
            textsectmap: Vec::new(),
            typelinks: match o.typelinks {
                Some(t) => Some(slice(t)?),
                None => None,
            },
            itablinks: match o.itablinks {
                Some(t) => Some(slice(t)?),
                None => None,
            },
        };
        if !md.is_consistent(image) {
            return None;
        }
        let sects = slice(o.textsectmap)?;
        let mut md = md;
        if sects.len > 0 && sects.len <= MAX_TEXT_SECTIONS {
            for i in 0..sects.len {
                let base = sects.ptr.checked_add(i.checked_mul(24)?)?;
                md.textsectmap.push(TextSect {
                    vaddr: image.read_ptr(base)?,
                    end: image.read_ptr(base.wrapping_add(8))?,
                    baseaddr: image.read_ptr(base.wrapping_add(16))?,
                });
            }
        }
        Some(md)
    }

    /// Ordering checks that hold for every real moduledata and almost never for a wrong layout.
    fn is_consistent(&self, image: &ElfImage) -> bool {
        let ordered = |a: u64, b: u64| a <= b;
        ordered(self.text, self.minpc)
            && ordered(self.minpc, self.maxpc)
            && ordered(self.maxpc, self.etext)
            && ordered(self.noptrdata, self.enoptrdata)
            && ordered(self.data, self.edata)
            && ordered(self.bss, self.ebss)
            && ordered(self.noptrbss, self.enoptrbss)
            && ordered(self.enoptrbss, self.end)
            && ordered(self.types, self.etypes)
            && image.is_mapped(self.text)
            && image.is_mapped(self.types)
            && image.is_mapped(self.gofunc)
            && image.is_mapped(self.rodata)
    }
}

/// Addresses that hold a pointer to `target`: relocation sites in a PIE, else an aligned scan
/// of the writable data sections.
fn candidates(image: &ElfImage, target: u64) -> Vec<u64> {
    let mut out: Vec<u64> = image.relocated_pointers_to(target).collect();
    let needle = target.to_le_bytes();
    for section in image.writable_data_sections() {
        let Some(data) = image.section_data(section) else {
            continue;
        };
        // Moduledata is pointer-aligned; walking aligned words keeps this a linear pass.
        let skew = (section.addr.wrapping_neg() % 8) as usize;
        let body = data.get(skew..).unwrap_or(&[]);
        for (i, chunk) in body.chunks_exact(8).enumerate() {
            if chunk == needle {
                let off = skew.saturating_add(i.saturating_mul(8));
                out.push(section.addr.wrapping_add(off as u64));
            }
        }
    }
    out
}

fn leading_fields_match(image: &ElfImage, at: u64, pcln_addr: u64, header: &PcHeader) -> bool {
    let word = |o: u64| at.checked_add(o).and_then(|a| image.read_ptr(a));
    word(off::PCHEADER) == Some(pcln_addr)
        && word(off::FUNCNAMETAB) == pcln_addr.checked_add(header.funcname_offset as u64)
        && word(off::FTAB) == pcln_addr.checked_add(header.pcln_offset as u64)
        && word(off::FTAB + 8) == (header.nfunc as u64).checked_add(1)
}
