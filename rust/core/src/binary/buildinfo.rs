//! Build information the Go linker embeds in `.go.buildinfo`: the toolchain version and the
//! module and build settings that `go version -m` prints.

use serde::Serialize;

use crate::binary::elf::ElfImage;
use crate::bytes::{read_uvarint, ReadLe};
use crate::error::{Error, ErrorKind, Result};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
/// Header flag: version and module strings follow the header inline (Go 1.18+).
const FLAG_INLINE_STRINGS: u8 = 0x2;
const FLAG_BIG_ENDIAN: u8 = 0x1;

/// A module line: `mod`, `dep` or `=>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    pub replace: Option<Box<Module>>,
}

/// Everything `.go.buildinfo` says about how the binary was built.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildInfo {
    /// The toolchain version string, e.g. "go1.22.10".
    pub go_version: String,
    /// The main package path (`path` line).
    pub path: String,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `build` settings in the order the linker wrote them.
    pub settings: Vec<(String, String)>,
    /// Address of the build info header in the binary.
    pub address: u64,
}

impl BuildInfo {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The release this binary's runtime comes from, when the version string names one.
    pub fn version(&self) -> Option<GoVersion> {
        GoVersion::parse(&self.go_version)
    }

    /// Finds and decodes the build info of an executable.
    pub fn read(image: &ElfImage) -> Result<BuildInfo> {
        let (address, data) = find(image)?;
        let mut info = decode(&data).map_err(|e| e.context("reading build info"))?;
        info.address = address;
        Ok(info)
    }
}

/// Locates the build info header: the `.go.buildinfo` section, else a scan of the data
/// segments for the magic (it is always 16-byte aligned).
fn find(image: &ElfImage) -> Result<(u64, crate::bytes::Blob)> {
    if let Some(section) = image.section(".go.buildinfo") {
        if let Some(data) = image.section_data(section) {
            if data.starts_with(MAGIC) {
                return Ok((section.addr, data));
            }
            return Err(Error::corrupt(
                "the .go.buildinfo section does not start with the build info magic",
            ));
        }
    }
    for section in image.writable_data_sections() {
        let Some(data) = image.section_data(section) else {
            continue;
        };
        let mut off = 0usize;
        while let Some(window) = data.get(off..) {
            let Some(pos) = find_aligned(window, off) else {
                break;
            };
            let at = off.saturating_add(pos);
            if let Some(blob) = data.slice(at, data.len()) {
                return Ok((section.addr.wrapping_add(at as u64), blob));
            }
            off = at.saturating_add(16);
        }
    }
    Err(Error::new(
        ErrorKind::NotGo,
        "no Go build info (.go.buildinfo) found: not a Go binary, or built by Go older than 1.13",
    ))
}

fn find_aligned(window: &[u8], base: usize) -> Option<usize> {
    let mut i = 0usize;
    while i.saturating_add(MAGIC.len()) <= window.len() {
        let rel = window
            .get(i..)?
            .windows(MAGIC.len())
            .position(|w| w == MAGIC)?;
        let at = i.saturating_add(rel);
        // Only the alignment matters, which wrapping keeps.
        if base.wrapping_add(at).is_multiple_of(16) {
            return Some(at);
        }
        i = at.saturating_add(1);
    }
    None
}

fn decode(data: &[u8]) -> Result<BuildInfo> {
    let header = data
        .get(..HEADER_SIZE)
        .ok_or_else(|| Error::truncated("build info header is cut short"))?;
    let flags = header.u8_at(15).unwrap_or(0);
    if flags & FLAG_INLINE_STRINGS == 0 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "build info uses the pre-Go 1.18 pointer format; goscope supports Go 1.21 and later",
        ));
    }
    if flags & FLAG_BIG_ENDIAN != 0 {
        return Err(Error::new(
            ErrorKind::UnsupportedArch,
            "big-endian build info; goscope reads little-endian binaries",
        ));
    }
    let mut pos = HEADER_SIZE;
    let version = read_string(data, &mut pos).ok_or_else(|| {
        Error::truncated("the Go version string runs past the end of the build info")
    })?;
    let modinfo = read_string(data, &mut pos).unwrap_or_default();
    let version = String::from_utf8(version.to_vec())
        .map_err(|_| Error::corrupt("the Go version string is not UTF-8"))?;
    if !version.starts_with("go") && !version.starts_with("devel") {
        return Err(Error::corrupt(format!(
            "the Go version string {version:?} does not look like one"
        )));
    }
    // The module text is framed by 16-byte sentinels so the linker can find and patch it.
    let end = modinfo.len().saturating_sub(16);
    let modinfo = if modinfo.len() >= 33 && modinfo.get(end.saturating_sub(1)) == Some(&b'\n') {
        modinfo.get(16..end).unwrap_or(&[])
    } else {
        &[]
    };
    let text = String::from_utf8_lossy(modinfo);
    let mut info = parse_modinfo(&text)?;
    info.go_version = version;
    Ok(info)
}

fn read_string<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(read_uvarint(data, pos)?).ok()?;
    let end = pos.checked_add(len)?;
    let s = data.get(*pos..end)?;
    *pos = end;
    Some(s)
}

/// Parses the text form written by `runtime/debug.BuildInfo.String`.
pub fn parse_modinfo(text: &str) -> Result<BuildInfo> {
    let mut info = BuildInfo::default();
    // Where the next `=>` line applies: the main module or the last dependency.
    let mut last_is_dep = false;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        let (tag, rest) = line.split_once('\t').unwrap_or((line, ""));
        match tag {
            "path" => info.path = rest.to_string(),
            "mod" => {
                info.main = Some(parse_module(rest));
                last_is_dep = false;
            }
            "dep" => {
                info.deps.push(parse_module(rest));
                last_is_dep = true;
            }
            "=>" => {
                let replacement = Box::new(parse_module(rest));
                let target = if last_is_dep {
                    info.deps.last_mut()
                } else {
                    info.main.as_mut()
                };
                if let Some(m) = target {
                    m.replace = Some(replacement);
                }
            }
            "build" => {
                if let Some(kv) = parse_setting(rest) {
                    info.settings.push(kv);
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

fn parse_module(rest: &str) -> Module {
    let mut parts = rest.split('\t');
    Module {
        path: parts.next().unwrap_or("").to_string(),
        version: parts.next().unwrap_or("").to_string(),
        sum: parts.next().unwrap_or("").to_string(),
        replace: None,
    }
}

/// Splits `key=value` where either side may be a Go-quoted string.
fn parse_setting(s: &str) -> Option<(String, String)> {
    let (key, rest) = if s.starts_with('"') {
        let (k, used) = unquote_prefix(s)?;
        (k, s.get(used..)?)
    } else {
        let eq = s.find('=')?;
        (s.get(..eq)?.to_string(), s.get(eq..)?)
    };
    let value_text = rest.strip_prefix('=')?;
    let value = if value_text.starts_with('"') {
        unquote_prefix(value_text).map(|(v, _)| v)?
    } else {
        value_text.to_string()
    };
    Some((key, value))
}

/// Decodes a Go double-quoted string at the start of `s`; returns it and the bytes consumed.
fn unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i.saturating_add(1))),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' | '"' | '\'' => out.push(e),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut code = 0u32;
                        for _ in 0..n {
                            // At most 8 hex digits: fits in a u32.
                            let digit = chars.next()?.1.to_digit(16)?;
                            code = code.checked_mul(16)?.checked_add(digit)?;
                        }
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    d if d.is_digit(8) => {
                        let mut code = d.to_digit(8)?;
                        for _ in 0..2 {
                            let digit = chars.next()?.1.to_digit(8)?;
                            code = code.checked_mul(8)?.checked_add(digit)?;
                        }
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    _ => return None,
                }
            }
            _ => out.push(c),
        }
    }
    None
}

/// A released Go version, for gating version-specific layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GoVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl GoVersion {
    /// Parses "go1.22.10", "go1.23rc1" or "go1.26.6 X:nodwarf5".
    pub fn parse(s: &str) -> Option<GoVersion> {
        let s = s.strip_prefix("go")?;
        let s = s.split([' ', '-']).next()?;
        let mut nums = s.split('.');
        let major = leading_number(nums.next()?)?;
        let minor = leading_number(nums.next()?)?;
        let patch = nums.next().and_then(leading_number).unwrap_or(0);
        Some(GoVersion {
            major,
            minor,
            patch,
        })
    }

    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modinfo_lines() {
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n=>\t../sys\t(devel)\t\nbuild\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=0\nbuild\t\"we=ird\"=x\n";
        let info = parse_modinfo(text).unwrap_or_default();
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.deps.len(), 1);
        assert_eq!(
            info.deps
                .first()
                .and_then(|d| d.replace.as_ref())
                .map(|r| r.path.as_str()),
            Some("../sys")
        );
        assert_eq!(info.setting("-ldflags"), Some("-s -w"));
        assert_eq!(info.setting("CGO_ENABLED"), Some("0"));
        assert_eq!(info.setting("we=ird"), Some("x"));
    }

    #[test]
    fn parses_versions() {
        assert_eq!(
            GoVersion::parse("go1.26.6 X:nodwarf5"),
            Some(GoVersion {
                major: 1,
                minor: 26,
                patch: 6
            })
        );
        assert_eq!(
            GoVersion::parse("go1.23rc1"),
            Some(GoVersion {
                major: 1,
                minor: 23,
                patch: 0
            })
        );
        assert_eq!(GoVersion::parse("devel +abc"), None);
    }

    #[test]
    fn rejects_short_header() {
        assert_eq!(
            decode(b"\xff Go buildinf:\x08\x02")
                .map_err(|e| e.kind())
                .err(),
            Some(ErrorKind::Truncated)
        );
    }
}
