//! Reads runtime struct layouts, runtime constants and `runtime.waitReasonStrings` from a Go
//! binary's DWARF.
//!
//! Go's linker emits every type as a child of a compilation unit: a `DW_TAG_structure_type`
//! named with the full type name (`runtime.g`, `internal/abi.Type`), usually reached through a
//! `DW_TAG_typedef` of the same name; members carry `DW_AT_data_member_location` as a constant.
//! Type references cross units (`DW_FORM_ref_addr`). Package constants are `DW_TAG_constant`
//! entries with `DW_AT_const_value`; package variables are `DW_TAG_variable` entries located by
//! `DW_OP_addr`. Every walk here is bounded, and malformed DWARF is an error, never a panic.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gimli::{AttributeValue, EndianSlice, LittleEndian, UnitOffset};
use object::{Object, ObjectSection};

use super::RUNTIME_TYPES;
use super::{is_layout_constant, version_label, Field, LayoutSource, RuntimeLayout, TypeLayout};
use crate::binary::buildinfo::BuildInfo;
use crate::binary::elf::ElfImage;
use crate::bytes::ReadLe;
use crate::error::{Error, Result};

type Slice<'a> = EndianSlice<'a, LittleEndian>;
type Entry<'a> = gimli::DebuggingInformationEntry<Slice<'a>>;

/// How many levels of nested structs are flattened into dotted field names.
const MAX_NESTING: usize = 4;
/// More fields than this in one flattened struct means the DWARF is not what Go emits.
const MAX_FIELDS: usize = 8192;
/// Typedef (and similar) links followed to reach a type's definition.
const MAX_TYPE_HOPS: usize = 16;
/// `waitReason` is a uint8: no more strings than that.
const MAX_WAIT_REASONS: u64 = 256;
/// No wait reason is anywhere near this long.
const MAX_WAIT_REASON_LEN: u64 = 4096;
/// No Go binary's `.debug_info` comes near this; a larger claim is a corrupt header.
const MAX_SECTION_SIZE: u64 = 4 << 30;
/// Pointer size of every target goscope reads.
const PTR_SIZE: u64 = 8;

fn dwarf_error(what: &str, e: gimli::Error) -> Error {
    Error::corrupt(format!("malformed DWARF ({what}): {e}"))
}

/// The runtime layout from the binary's DWARF; None when it has none or it lacks `runtime.g`.
pub(crate) fn read(image: &ElfImage) -> Result<Option<RuntimeLayout>> {
    let bytes: &[u8] = image.file_data();
    let file =
        object::File::parse(bytes).map_err(|e| Error::corrupt(format!("malformed ELF: {e}")))?;
    if file.section_by_name(".debug_info").is_none() {
        return Ok(None);
    }
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>> {
        // Only what type, constant and variable entries need: skipping the line, frame,
        // location and range tables saves decompressing most of the DWARF.
        let wanted = matches!(
            id,
            gimli::SectionId::DebugInfo
                | gimli::SectionId::DebugAbbrev
                | gimli::SectionId::DebugStr
                | gimli::SectionId::DebugLineStr
        );
        match file.section_by_name(id.name()) {
            Some(section) if wanted => {
                let read_error =
                    |e| Error::corrupt(format!("cannot read DWARF section {}: {e}", id.name()));
                let compressed = section.compressed_data().map_err(read_error)?;
                if compressed.uncompressed_size > MAX_SECTION_SIZE {
                    return Err(Error::corrupt(format!(
                        "DWARF section {} claims {} bytes uncompressed",
                        id.name(),
                        compressed.uncompressed_size
                    )));
                }
                compressed.decompress().map_err(read_error)
            }
            _ => Ok(Cow::Borrowed(&[])),
        }
    })?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    let reader = DwarfReader::new(&dwarf)?;
    // Go puts the runtime's types, constants and variables in units named "runtime"; look
    // there first and read everything only if that finds nothing.
    let mut found = reader.scan(true)?;
    if !found.structs.contains_key("runtime.g") {
        found = reader.scan(false)?;
    }
    if !found.structs.contains_key("runtime.g") {
        return Ok(None);
    }
    let mut types = Vec::new();
    for name in RUNTIME_TYPES {
        if let Some(&die) = found.structs.get(*name) {
            let ty = reader
                .struct_layout(name, die)
                .map_err(|e| e.context(&format!("reading {name}")))?;
            types.push(ty);
        }
    }
    let wait_reasons = match found.wait_reasons {
        Some(die) => reader.wait_reasons(image, die).unwrap_or_default(),
        None => Vec::new(),
    };
    let version = BuildInfo::read(image).ok().and_then(|b| b.version());
    Ok(Some(RuntimeLayout::new(
        version_label(version),
        LayoutSource::Dwarf,
        PTR_SIZE,
        types,
        found.constants,
        wait_reasons,
    )))
}

/// A DIE: the index of its unit and its offset in that unit.
type DieRef = (usize, UnitOffset<usize>);

struct Found {
    structs: HashMap<String, DieRef>,
    constants: BTreeMap<String, i64>,
    wait_reasons: Option<DieRef>,
}

/// What a field's type resolves to.
struct TypeInfo {
    name: String,
    size: u64,
    /// The struct definition, when the type is a struct.
    struct_die: Option<DieRef>,
    /// Length and element size, when the type is an array.
    array: Option<(u64, u64)>,
}

/// One unit: the `.debug_info` range it covers, its header and abbreviations.
struct UnitEntry<'a> {
    start: usize,
    end: usize,
    header: gimli::UnitHeader<Slice<'a>>,
    abbrevs: Arc<gimli::Abbreviations>,
}

struct DwarfReader<'d, 'a> {
    dwarf: &'d gimli::Dwarf<Slice<'a>>,
    units: Vec<UnitEntry<'a>>,
}

impl<'d, 'a> DwarfReader<'d, 'a> {
    fn new(dwarf: &'d gimli::Dwarf<Slice<'a>>) -> Result<Self> {
        let mut units = Vec::new();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(|e| dwarf_error("unit header", e))? {
            let Some(start) = header.debug_info_offset().map(|o| o.0) else {
                continue;
            };
            let end = start.saturating_add(header.length_including_self());
            let abbrevs = dwarf
                .abbreviations(&header)
                .map_err(|e| dwarf_error("abbreviations", e))?;
            units.push(UnitEntry {
                start,
                end,
                header,
                abbrevs,
            });
        }
        Ok(DwarfReader { dwarf, units })
    }

    fn unit(&self, index: usize) -> Result<&UnitEntry<'a>> {
        self.units
            .get(index)
            .ok_or_else(|| Error::corrupt("DWARF reference to a unit that does not exist"))
    }

    /// An entry's `DW_AT_name`. Go writes names inline or in `.debug_str`.
    fn name(&self, entry: &Entry<'a>) -> Result<Option<String>> {
        let s = match entry.attr_value(gimli::DW_AT_name) {
            None => return Ok(None),
            Some(AttributeValue::String(s)) => s,
            Some(AttributeValue::DebugStrRef(offset)) => self
                .dwarf
                .debug_str
                .get_str(offset)
                .map_err(|e| dwarf_error("name", e))?,
            Some(AttributeValue::DebugLineStrRef(offset)) => self
                .dwarf
                .debug_line_str
                .get_str(offset)
                .map_err(|e| dwarf_error("name", e))?,
            Some(_) => return Err(Error::corrupt("DWARF name of an unexpected form")),
        };
        Ok(Some(s.to_string_lossy().into_owned()))
    }

    /// One pass over the top-level entries of every unit (or of the units named "runtime"):
    /// the wanted structs, the runtime constants and `runtime.waitReasonStrings`.
    fn scan(&self, runtime_only: bool) -> Result<Found> {
        let mut found = Found {
            structs: HashMap::new(),
            constants: BTreeMap::new(),
            wait_reasons: None,
        };
        for (index, unit) in self.units.iter().enumerate() {
            let mut cursor = unit.header.entries(&unit.abbrevs);
            // The unit's root, then its first child.
            let Some(root) = cursor.next_dfs().map_err(|e| dwarf_error("entry", e))? else {
                continue;
            };
            if runtime_only && self.name(root)?.as_deref() != Some("runtime") {
                continue;
            }
            if cursor
                .next_dfs()
                .map_err(|e| dwarf_error("entry", e))?
                .is_none()
            {
                continue;
            }
            while let Some(entry) = cursor.current() {
                let tag = entry.tag();
                if tag == gimli::DW_TAG_structure_type
                    || tag == gimli::DW_TAG_constant
                    || tag == gimli::DW_TAG_variable
                {
                    if let Some(name) = self.name(entry)? {
                        note(&mut found, index, entry, tag, name);
                    }
                }
                cursor.next_sibling().map_err(|e| dwarf_error("entry", e))?;
            }
        }
        Ok(found)
    }

    /// Follows a `DW_AT_type`-style reference from an entry of unit `unit`.
    fn resolve(&self, unit: usize, value: AttributeValue<Slice<'a>>) -> Result<DieRef> {
        match value {
            AttributeValue::UnitRef(offset) => Ok((unit, offset)),
            AttributeValue::DebugInfoRef(offset) => {
                let target = offset.0;
                let index = self
                    .units
                    .partition_point(|u| u.start <= target)
                    .checked_sub(1)
                    .ok_or_else(|| Error::corrupt("DWARF reference before the first unit"))?;
                let unit = self.unit(index)?;
                if target >= unit.end {
                    return Err(Error::corrupt(format!(
                        "DWARF reference {target:#x} lies outside every unit"
                    )));
                }
                let local = offset.to_unit_offset(&unit.header).ok_or_else(|| {
                    Error::corrupt(format!(
                        "DWARF reference {target:#x} is not in unit {:#x}",
                        unit.start
                    ))
                })?;
                Ok((index, local))
            }
            _ => Err(Error::corrupt("DWARF type reference of an unexpected form")),
        }
    }

    fn entry(&self, die: DieRef) -> Result<Entry<'a>> {
        let unit = self.unit(die.0)?;
        unit.header
            .entry(&unit.abbrevs, die.1)
            .map_err(|e| dwarf_error("entry", e))
    }

    fn byte_size(entry: &Entry<'a>) -> Option<u64> {
        entry.attr(gimli::DW_AT_byte_size)?.udata_value()
    }

    /// What the type at `die` is: its name (the first one met), size, and whether it is a
    /// struct or an array.
    fn type_info(&self, die: DieRef) -> Result<TypeInfo> {
        let mut die = die;
        let mut name: Option<String> = None;
        for _ in 0..MAX_TYPE_HOPS {
            let entry = self.entry(die)?;
            if name.is_none() {
                name = self.name(&entry)?;
            }
            let tag = entry.tag();
            let size = Self::byte_size(&entry);
            if tag == gimli::DW_TAG_typedef
                || tag == gimli::DW_TAG_const_type
                || tag == gimli::DW_TAG_volatile_type
            {
                if let Some(next) = entry.attr_value(gimli::DW_AT_type) {
                    die = self.resolve(die.0, next)?;
                    continue;
                }
            }
            let name = name.unwrap_or_default();
            if tag == gimli::DW_TAG_pointer_type || tag == gimli::DW_TAG_subroutine_type {
                return Ok(TypeInfo {
                    name,
                    size: size.unwrap_or(PTR_SIZE),
                    struct_die: None,
                    array: None,
                });
            }
            if tag == gimli::DW_TAG_array_type {
                return self.array_info(die, &entry, name, size);
            }
            let size = size.ok_or_else(|| {
                Error::corrupt(format!("DWARF type {name:?} ({tag}) has no size"))
            })?;
            return Ok(TypeInfo {
                name,
                size,
                struct_die: (tag == gimli::DW_TAG_structure_type).then_some(die),
                array: None,
            });
        }
        Err(Error::corrupt("DWARF type definitions chain too deep"))
    }

    fn array_info(
        &self,
        die: DieRef,
        entry: &Entry<'a>,
        name: String,
        size: Option<u64>,
    ) -> Result<TypeInfo> {
        let elem = match entry.attr_value(gimli::DW_AT_type) {
            Some(value) => {
                let elem_die = self.resolve(die.0, value)?;
                self.type_info_shallow(elem_die)?
            }
            None => 0,
        };
        let mut len = None;
        let unit = self.unit(die.0)?;
        let mut tree = unit
            .header
            .entries_tree(&unit.abbrevs, Some(die.1))
            .map_err(|e| dwarf_error("array", e))?;
        let root = tree.root().map_err(|e| dwarf_error("array", e))?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(|e| dwarf_error("array", e))? {
            let e = child.entry();
            if e.tag() != gimli::DW_TAG_subrange_type {
                continue;
            }
            if let Some(count) = e.attr(gimli::DW_AT_count).and_then(|a| a.udata_value()) {
                len = Some(count);
            } else if let Some(upper) = e
                .attr(gimli::DW_AT_upper_bound)
                .and_then(|a| a.udata_value())
            {
                len = upper.checked_add(1);
            }
            break;
        }
        let len =
            len.ok_or_else(|| Error::corrupt(format!("DWARF array {name:?} has no length")))?;
        let size = match size {
            Some(s) => s,
            None => len
                .checked_mul(elem)
                .ok_or_else(|| Error::corrupt(format!("DWARF array {name:?} is too large")))?,
        };
        Ok(TypeInfo {
            name,
            size,
            struct_die: None,
            array: Some((len, elem)),
        })
    }

    /// The size of an array element; nested arrays are sized by their own `DW_AT_byte_size`.
    fn type_info_shallow(&self, die: DieRef) -> Result<u64> {
        let mut die = die;
        for _ in 0..MAX_TYPE_HOPS {
            let entry = self.entry(die)?;
            if let Some(size) = Self::byte_size(&entry) {
                return Ok(size);
            }
            let tag = entry.tag();
            if tag == gimli::DW_TAG_pointer_type || tag == gimli::DW_TAG_subroutine_type {
                return Ok(PTR_SIZE);
            }
            match entry.attr_value(gimli::DW_AT_type) {
                Some(next) => die = self.resolve(die.0, next)?,
                None => return Err(Error::corrupt("DWARF array element type has no size")),
            }
        }
        Err(Error::corrupt("DWARF type definitions chain too deep"))
    }

    fn struct_layout(&self, name: &str, die: DieRef) -> Result<TypeLayout> {
        let entry = self.entry(die)?;
        let size = Self::byte_size(&entry)
            .ok_or_else(|| Error::corrupt(format!("DWARF struct {name} has no size")))?;
        let mut fields = Vec::new();
        self.flatten(die, "", 0, 0, &mut fields)?;
        Ok(TypeLayout::new(name.to_string(), size, fields))
    }

    /// Appends the members of the struct at `die` (and, recursively, of the structs they hold)
    /// with `prefix` before their names and `base` added to their offsets.
    fn flatten(
        &self,
        die: DieRef,
        prefix: &str,
        base: u64,
        depth: usize,
        out: &mut Vec<Field>,
    ) -> Result<()> {
        let unit = self.unit(die.0)?;
        let mut tree = unit
            .header
            .entries_tree(&unit.abbrevs, Some(die.1))
            .map_err(|e| dwarf_error("struct", e))?;
        let root = tree.root().map_err(|e| dwarf_error("struct", e))?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(|e| dwarf_error("struct", e))? {
            let e = child.entry();
            if e.tag() != gimli::DW_TAG_member {
                continue;
            }
            if out.len() >= MAX_FIELDS {
                return Err(Error::corrupt("DWARF struct has too many fields"));
            }
            let member = self.name(e)?.unwrap_or_default();
            let offset = member_offset(e)
                .ok_or_else(|| Error::corrupt(format!("DWARF member {member} has no offset")))?;
            let offset = base
                .checked_add(offset)
                .ok_or_else(|| Error::corrupt(format!("DWARF member {member} offset overflows")))?;
            let type_ref = e
                .attr_value(gimli::DW_AT_type)
                .ok_or_else(|| Error::corrupt(format!("DWARF member {member} has no type")))?;
            let type_die = self.resolve(die.0, type_ref)?;
            let info = self.type_info(type_die)?;
            let full = format!("{prefix}{member}");
            out.push(Field {
                name: full.clone(),
                offset,
                size: info.size,
                type_name: info.name,
                len: info.array.map(|(len, _)| len),
                elem_size: info.array.map(|(_, elem)| elem),
            });
            if let Some(inner) = info.struct_die {
                let inner_depth = depth.saturating_add(1);
                if inner_depth < MAX_NESTING {
                    self.flatten(inner, &format!("{full}."), offset, inner_depth, out)?;
                }
            }
        }
        Ok(())
    }

    /// `runtime.waitReasonStrings` read from the binary's data: an array of Go strings at the
    /// variable's `DW_OP_addr`. None when any part of it cannot be read.
    fn wait_reasons(&self, image: &ElfImage, die: DieRef) -> Option<Vec<String>> {
        let entry = self.entry(die).ok()?;
        let AttributeValue::Exprloc(expr) = entry.attr_value(gimli::DW_AT_location)? else {
            return None;
        };
        let code: &[u8] = expr.0.slice();
        if code.first() != Some(&gimli::DW_OP_addr.0) || code.len() != 9 {
            return None;
        }
        let addr = code.get(1..)?.u64_at(0)?;
        let type_die = self
            .resolve(die.0, entry.attr_value(gimli::DW_AT_type)?)
            .ok()?;
        let info = self.type_info(type_die).ok()?;
        let (len, elem) = info.array?;
        if len > MAX_WAIT_REASONS || elem != 2 * PTR_SIZE {
            return None;
        }
        let mut reasons = Vec::new();
        for i in 0..len {
            let at = addr.checked_add(i.checked_mul(elem)?)?;
            let ptr = image.read_ptr(at)?;
            let n = image.data_from(at.checked_add(PTR_SIZE)?)?.u64_at(0)?;
            if n > MAX_WAIT_REASON_LEN {
                return None;
            }
            let text = if n == 0 {
                String::new()
            } else {
                let data = image.data_from(ptr)?;
                let bytes = data.get(..usize::try_from(n).ok()?)?;
                String::from_utf8_lossy(bytes).into_owned()
            };
            reasons.push(text);
        }
        Some(reasons)
    }
}

/// Records a top-level entry if it is one of the wanted structs, constants or variables.
fn note(found: &mut Found, unit: usize, entry: &Entry<'_>, tag: gimli::DwTag, name: String) {
    if tag == gimli::DW_TAG_structure_type {
        if RUNTIME_TYPES.contains(&name.as_str()) {
            found.structs.entry(name).or_insert((unit, entry.offset()));
        }
        return;
    }
    let Some(short) = name.strip_prefix("runtime.") else {
        return;
    };
    if tag == gimli::DW_TAG_variable {
        if short == "waitReasonStrings" && found.wait_reasons.is_none() {
            found.wait_reasons = Some((unit, entry.offset()));
        }
        return;
    }
    if !is_layout_constant(short) || found.constants.contains_key(short) {
        return;
    }
    let value = match entry.attr_value(gimli::DW_AT_const_value) {
        Some(AttributeValue::Sdata(v)) => v,
        // Unsigned constants keep their bit pattern.
        Some(AttributeValue::Udata(v)) => v as i64,
        Some(AttributeValue::Data1(v)) => i64::from(v),
        Some(AttributeValue::Data2(v)) => i64::from(v),
        Some(AttributeValue::Data4(v)) => i64::from(v),
        Some(AttributeValue::Data8(v)) => v as i64,
        _ => return,
    };
    found.constants.insert(short.to_string(), value);
}

/// `DW_AT_data_member_location` as a constant, or as `DW_OP_plus_uconst N`.
fn member_offset(entry: &Entry<'_>) -> Option<u64> {
    let attr = entry.attr(gimli::DW_AT_data_member_location)?;
    if let Some(v) = attr.udata_value() {
        return Some(v);
    }
    if let AttributeValue::Exprloc(expr) = attr.value() {
        let code: &[u8] = expr.0.slice();
        if code.first() == Some(&gimli::DW_OP_plus_uconst.0) {
            let mut pos = 1usize;
            let v = crate::bytes::read_uvarint(code, &mut pos)?;
            return (pos == code.len()).then_some(v);
        }
    }
    None
}
