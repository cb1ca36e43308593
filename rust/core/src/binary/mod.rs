//! A Go executable opened for debugging: ELF image, build info, pclntab and moduledata,
//! with the lookups every later layer uses. Needs neither DWARF nor a symbol table.

pub mod buildinfo;
pub mod dwarfvars;
pub mod elf;
pub mod file;
pub mod moduledata;
pub mod pclntab;
pub mod symfile;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::binary::buildinfo::{BuildInfo, GoVersion, Module};
use crate::binary::elf::{Arch, Dwarf, ElfImage};
use crate::binary::moduledata::ModuleData;
use crate::binary::pclntab::{Location, PcHeader, Pclntab, TextMap, MAGIC_GO120};
use crate::bytes::{Blob, ReadLe};
use crate::error::{Error, ErrorKind, Result};

/// The oldest and newest Go releases whose runtime goscope decodes.
pub const OLDEST_SUPPORTED: (u32, u32) = (1, 21);
pub const NEWEST_SUPPORTED: (u32, u32) = (1, 27);

pub struct Binary {
    path: PathBuf,
    image: ElfImage,
    build_info: Result<BuildInfo>,
    pclntab: Pclntab,
    moduledata: Option<ModuleData>,
    go_build_id: Option<String>,
}

/// What `go info` reports: everything about the binary that matters for debugging it.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryInfo {
    pub file: String,
    pub arch: Arch,
    pub pie: bool,
    pub entry: u64,
    pub build_id: Option<String>,
    pub go_build_id: Option<String>,
    pub dwarf: Dwarf,
    /// How compressed DWARF is compressed (`zlib`, `zstd`, `zlib (.zdebug)`).
    pub dwarf_compression: Option<String>,
    pub symbols: bool,
    pub go_version: Option<String>,
    /// Whether the Go version lies in the range goscope supports (None when unknown).
    pub go_version_supported: Option<bool>,
    pub path: Option<String>,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    pub settings: Vec<(String, String)>,
    /// Why build info could not be read, when it could not.
    pub build_info_error: Option<String>,
    pub functions: usize,
    pub files: usize,
    pub text_start: u64,
    pub text_end: u64,
    pub pclntab: u64,
    pub moduledata: Option<u64>,
    pub funcdata: bool,
    /// Problems that did not stop goscope but limit what it can show.
    pub warnings: Vec<String>,
}

impl Binary {
    pub fn open(path: &Path) -> Result<Binary> {
        let image = ElfImage::open(path)?;
        Self::from_image(path.to_path_buf(), image)
            .map_err(|e| e.context(&path.display().to_string()))
    }

    /// Opens an executable already in memory (tests and fuzzing).
    pub fn from_bytes(data: Vec<u8>) -> Result<Binary> {
        let image = ElfImage::parse(Blob::from_vec(data))?;
        Self::from_image(PathBuf::from("<memory>"), image)
    }

    fn from_image(path: PathBuf, image: ElfImage) -> Result<Binary> {
        let build_info = BuildInfo::read(&image);
        let (pcln_addr, pcln_data) = match find_pclntab(&image) {
            Ok(found) => found,
            Err(e) => {
                // Without either table there is no Go here at all; say so plainly.
                if let Err(bi) = &build_info {
                    if bi.kind() == ErrorKind::NotGo && e.kind() == ErrorKind::NotGo {
                        return Err(Error::new(
                            ErrorKind::NotGo,
                            "not a Go binary: it has neither a Go pc/line table (.gopclntab) nor Go build info",
                        ));
                    }
                }
                return Err(e);
            }
        };
        let header = PcHeader::parse(&pcln_data)?;
        let version = build_info.as_ref().ok().and_then(|b| b.version());
        if let Some(v) = version {
            if (v.major, v.minor) < OLDEST_SUPPORTED {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "built by go{}.{}; goscope supports Go {}.{} through {}.{}",
                        v.major,
                        v.minor,
                        OLDEST_SUPPORTED.0,
                        OLDEST_SUPPORTED.1,
                        NEWEST_SUPPORTED.0,
                        NEWEST_SUPPORTED.1
                    ),
                ));
            }
        }
        let moduledata = ModuleData::find(&image, pcln_addr, &header, version);
        let text = match &moduledata {
            Some(md) => TextMap {
                base: md.text,
                sections: md.textsectmap.clone(),
            },
            None => TextMap {
                base: fallback_text_start(&image, &header),
                sections: Vec::new(),
            },
        };
        let gofunc = moduledata
            .as_ref()
            .and_then(|md| image.data_from(md.gofunc))
            .or_else(|| {
                image
                    .symbol("go:func.*")
                    .and_then(|(addr, _)| image.data_from(addr))
            });
        let pclntab = Pclntab::new(pcln_data, pcln_addr, text, gofunc)
            .map_err(|e| e.context("reading the Go pc/line table"))?;
        let go_build_id = read_go_build_id(&image);
        Ok(Binary {
            path,
            image,
            build_info,
            pclntab,
            moduledata,
            go_build_id,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn image(&self) -> &ElfImage {
        &self.image
    }

    pub fn build_info(&self) -> Result<&BuildInfo, &Error> {
        self.build_info.as_ref()
    }

    pub fn go_version(&self) -> Option<GoVersion> {
        self.build_info.as_ref().ok().and_then(|b| b.version())
    }

    pub fn pclntab(&self) -> &Pclntab {
        &self.pclntab
    }

    pub fn moduledata(&self) -> Option<&ModuleData> {
        self.moduledata.as_ref()
    }

    pub fn pc_line(&self, pc: u64) -> Option<Location<'_>> {
        self.pclntab.pc_line(pc)
    }

    pub fn lookup(&self, pc: u64) -> Vec<Location<'_>> {
        self.pclntab.lookup(pc)
    }

    pub fn function(&self, name: &str) -> Option<(u64, u64)> {
        self.pclntab
            .find_by_name(name)
            .map(|f| (f.entry(), f.end()))
    }

    pub fn functions(&self) -> impl Iterator<Item = (&str, u64, u64)> + '_ {
        self.pclntab.funcs().map(|f| (f.name(), f.entry(), f.end()))
    }

    pub fn pcs_for_line(&self, file: &str, line: u32) -> Vec<u64> {
        self.pclntab.pcs_for_line(file, line)
    }

    /// Where the body of the function containing `pc` starts (see [`Func::body_start`]).
    pub fn body_start(&self, pc: u64) -> Option<u64> {
        self.pclntab.find(pc).map(|f| f.body_start())
    }

    pub fn inlined_copies(&self, name: &str) -> Vec<u64> {
        self.pclntab.inlined_copies(name)
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(t) = &self.image.truncation {
            w.push(t.clone());
        }
        if self.moduledata.is_none() {
            w.push(
                "runtime moduledata not found: function addresses assume the text starts at .text, and inlined calls cannot be expanded"
                    .to_string(),
            );
        }
        if let Some(v) = self.go_version() {
            if (v.major, v.minor) > NEWEST_SUPPORTED {
                w.push(format!(
                    "go{}.{} is newer than the newest release goscope knows (go{}.{}); runtime structures may be misread",
                    v.major, v.minor, NEWEST_SUPPORTED.0, NEWEST_SUPPORTED.1
                ));
            }
        }
        w
    }

    pub fn info(&self) -> BinaryInfo {
        let bi = self.build_info.as_ref().ok();
        let (text_start, text_end) = self.pclntab.pc_range();
        let supported = self.go_version().map(|v| {
            (v.major, v.minor) >= OLDEST_SUPPORTED && (v.major, v.minor) <= NEWEST_SUPPORTED
        });
        BinaryInfo {
            file: self.path.display().to_string(),
            arch: self.image.arch,
            pie: self.image.pie,
            entry: self.image.entry,
            build_id: self.image.build_id.clone(),
            go_build_id: self.go_build_id.clone(),
            dwarf: self.image.dwarf,
            dwarf_compression: self.image.dwarf_compression.clone(),
            symbols: self.image.has_symtab,
            go_version: bi.map(|b| b.go_version.clone()),
            go_version_supported: supported,
            path: bi.map(|b| b.path.clone()),
            main: bi.and_then(|b| b.main.clone()),
            deps: bi.map(|b| b.deps.clone()).unwrap_or_default(),
            settings: bi.map(|b| b.settings.clone()).unwrap_or_default(),
            build_info_error: self.build_info.as_ref().err().map(|e| e.to_string()),
            functions: self.pclntab.len(),
            files: self.pclntab.header().nfiles,
            text_start,
            text_end,
            pclntab: self.pclntab.address(),
            moduledata: self.moduledata.as_ref().map(|m| m.address),
            funcdata: self.pclntab.has_funcdata(),
            warnings: self.warnings(),
        }
    }
}

/// The pclntab: the `.gopclntab` section, else a scan of read-only data for its header.
fn find_pclntab(image: &ElfImage) -> Result<(u64, Blob)> {
    // PIE binaries of Go ≤ 1.24 keep it in `.data.rel.ro.gopclntab`.
    let named = image
        .sections
        .iter()
        .find(|s| s.name == ".gopclntab" || s.name.ends_with(".gopclntab"));
    if let Some(section) = named {
        let data = image.section_data(section).ok_or_else(|| {
            Error::truncated("the .gopclntab section lies past the end of the file")
        })?;
        let header = data.u32_at(0);
        if header.is_none() || (section.size > 0 && data.len() < 64) {
            return Err(Error::truncated(
                "the .gopclntab section lies past the end of the file",
            ));
        }
        return Ok((section.addr, data));
    }
    // Stripped of section names (or an external linker renamed it): scan for the header.
    let mut magic = MAGIC_GO120.to_le_bytes().to_vec();
    magic.extend_from_slice(&[0, 0]);
    for section in &image.sections {
        if section.name.starts_with(".debug") || section.name.starts_with(".zdebug") {
            continue;
        }
        let Some(data) = image.section_data(section) else {
            continue;
        };
        let mut at = 0usize;
        while let Some(rest) = data.get(at..) {
            let Some(pos) = rest
                .windows(magic.len())
                .position(|w| w == magic.as_slice())
            else {
                break;
            };
            let start = at.saturating_add(pos);
            if start.is_multiple_of(8) {
                if let Some(blob) = data.slice(start, data.len()) {
                    let plausible = PcHeader::parse(&blob)
                        .ok()
                        .is_some_and(|h| h.pcln_offset < blob.len() && h.nfunc > 0);
                    if plausible {
                        return Ok((section.addr.wrapping_add(start as u64), blob));
                    }
                }
            }
            at = start.saturating_add(1);
        }
    }
    Err(Error::new(
        ErrorKind::NotGo,
        "no Go pc/line table (.gopclntab) found",
    ))
}

/// Text base when moduledata cannot be found: the header's textStart (Go ≤ 1.25) or the
/// start of `.text`.
fn fallback_text_start(image: &ElfImage, header: &PcHeader) -> u64 {
    if header.text_start != 0 {
        return header.text_start;
    }
    image
        .symbol("runtime.text")
        .map(|(a, _)| a)
        .or_else(|| image.section(".text").map(|s| s.addr))
        .unwrap_or(0)
}

/// The Go build ID from the `.note.go.buildid` ELF note.
fn read_go_build_id(image: &ElfImage) -> Option<String> {
    let section = image.section(".note.go.buildid")?;
    let data = image.section_data(section)?;
    let namesz = data.u32_at(0)? as usize;
    let descsz = data.u32_at(4)? as usize;
    let name_end = 12usize.checked_add(namesz)?;
    if data.get(12..name_end)?.strip_suffix(&[0])? != b"Go\0" && data.get(12..14)? != b"Go" {
        return None;
    }
    let desc_start = name_end.checked_add(3)? & !3;
    let desc = data.get(desc_start..desc_start.checked_add(descsz)?)?;
    String::from_utf8(desc.to_vec()).ok()
}
