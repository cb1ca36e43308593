//! Variables from DWARF: package variables and the frame variables live at a pc, each with its Go runtime type descriptor.
//!
//! The heap analysis types the objects it reaches from roots; DWARF is the one place that says
//! what type each package variable and each stack slot holds. Go's linker marks every type entry
//! with `DW_AT_go_runtime_type` (0x2904): the offset of the type's `internal/abi.Type` from the
//! start of the type data (`moduledata.types`, the `runtime.types` symbol), which is added here
//! to give the descriptor's link-time address.
//!
//! Package variables are read at load. Functions are only indexed by pc range at load; their
//! variables are read the first time a frame asks for them and kept. Every walk is bounded and
//! malformed DWARF is an error or a missing variable, never a panic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{AttributeValue, DwAt, LittleEndian, Operation, UnitOffset};
use object::{Object, ObjectSection};

use crate::binary::Binary;
use crate::error::{Error, Result};

type Slice<'a> = gimli::EndianSlice<'a, LittleEndian>;
type Entry<'a> = gimli::DebuggingInformationEntry<Slice<'a>>;
type Attrs<'a> = Vec<gimli::Attribute<Slice<'a>>>;

/// Go's attribute holding a type's runtime descriptor, relative to the start of type data.
const DW_AT_GO_RUNTIME_TYPE: DwAt = DwAt(0x2904);
/// No Go binary's DWARF section comes near this; a larger claim is a corrupt header.
const MAX_SECTION_SIZE: u64 = 4 << 30;
/// Pointer size of every target goscope reads.
const PTR_SIZE: u64 = 8;
/// Typedef links followed to reach a type's size and descriptor.
const MAX_TYPE_HOPS: usize = 16;
/// Entries read inside one function; Go's largest functions have a few thousand.
const MAX_FUNC_ENTRIES: usize = 1 << 18;
/// Nesting of lexical blocks and inlined calls inside one function.
const MAX_SCOPE_DEPTH: usize = 256;
/// Entries in one location list.
const MAX_LOC_ENTRIES: usize = 1 << 14;
/// Operations in one location expression.
const MAX_EXPR_OPS: usize = 256;
/// Pieces of one variable: a Go value rarely has more than a handful of words in registers.
const MAX_PIECES: usize = 256;
/// Ranges of one scope.
const MAX_RANGES: usize = 4096;
/// Abstract-origin links followed to name an inlined variable.
const MAX_ORIGIN_HOPS: usize = 4;

/// The variables of one binary's DWARF.
pub struct DwarfVars {
    /// The decompressed sections, each held once; readers borrow them per call.
    sections: gimli::DwarfSections<Vec<u8>>,
    units: Vec<UnitInfo>,
    globals: Vec<GlobalVar>,
    /// Function pc ranges, sorted by start, each naming its function in `funcs`.
    ranges: Vec<FuncRange>,
    funcs: Vec<Func>,
    /// Each function's variables, read on first use.
    parsed: Vec<OnceLock<Vec<LocalVar>>>,
    /// Resolved types by `.debug_info` offset, shared by globals and every function.
    types: Mutex<HashMap<usize, TypeDesc>>,
    /// Link-time address of the start of type data: what `DW_AT_go_runtime_type` is relative to.
    types_base: Option<u64>,
}

/// A package variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalVar {
    pub name: String,
    /// Link-time address.
    pub addr: u64,
    pub size: u64,
    /// Link-time address of the runtime type descriptor.
    pub rtype: Option<u64>,
    pub type_name: String,
}

/// Where one piece of a frame variable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceLoc {
    /// The bytes are in memory at CFA + offset (the CFA is the caller's SP just after the
    /// return: the address above the return address).
    Cfa(i64),
    /// The bytes are in memory at this link-time address.
    Addr(u64),
    /// The bytes are in this DWARF register.
    Register(u16),
    /// Optimized out, or a computed value rather than a place.
    Unavailable,
}

/// One piece of a frame variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Byte offset within the variable.
    pub offset: u64,
    pub size: u64,
    pub loc: PieceLoc,
}

/// A variable or argument of a frame, with where it is at the frame's pc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameVar {
    pub name: String,
    pub rtype: Option<u64>,
    pub type_name: String,
    pub size: u64,
    pub pieces: Vec<Piece>,
}

/// One unit: the `.debug_info` range it covers, its abbreviations and the bases its address,
/// range and location lists are relative to. Kept apart from any reader so that a
/// `gimli::Unit` can be rebuilt over the borrowed sections in a few operations.
struct UnitInfo {
    start: usize,
    end: usize,
    abbreviations: Arc<gimli::Abbreviations>,
    low_pc: u64,
    addr_base: gimli::DebugAddrBase<usize>,
    loclists_base: gimli::DebugLocListsBase<usize>,
    rnglists_base: gimli::DebugRngListsBase<usize>,
    str_offsets_base: gimli::DebugStrOffsetsBase<usize>,
}

#[derive(Clone, Copy)]
struct FuncRange {
    low: u64,
    high: u64,
    func: usize,
}

/// A concrete `DW_TAG_subprogram`.
struct Func {
    unit: usize,
    offset: UnitOffset<usize>,
    low: u64,
    high: u64,
    /// Whether `DW_AT_frame_base` is `DW_OP_call_frame_cfa`, as Go always writes it; without
    /// that `DW_OP_fbreg` cannot be turned into a CFA offset.
    frame_base_cfa: bool,
}

#[derive(Clone, Default)]
struct TypeDesc {
    name: Arc<str>,
    size: u64,
    rtype: Option<u64>,
}

/// A function's variable as read from DWARF: where it is over which pcs.
struct LocalVar {
    name: String,
    ty: TypeDesc,
    /// The pc ranges of the innermost block or inlined call holding a variable whose location
    /// is a single expression; empty when that is the whole function.
    scope: Vec<(u64, u64)>,
    /// `[begin, end)` pc ranges and the pieces there.
    locs: Vec<(u64, u64, Vec<Piece>)>,
}

fn dwarf_error(what: &str, e: gimli::Error) -> Error {
    Error::corrupt(format!("malformed DWARF ({what}): {e}"))
}

impl DwarfVars {
    /// None when the binary has no DWARF (stripped). Errors only for malformed DWARF.
    pub fn load(binary: &Binary) -> Result<Option<DwarfVars>> {
        let image = binary.image();
        let bytes: &[u8] = image.file_data();
        let file = object::File::parse(bytes)
            .map_err(|e| Error::corrupt(format!("malformed ELF: {e}")))?;
        if file.section_by_name(".debug_info").is_none() {
            return Ok(None);
        }
        let sections = gimli::DwarfSections::load(|id| load_section(&file, id))?;
        let types_base = binary
            .moduledata()
            .map(|md| md.types)
            .filter(|&t| t != 0)
            .or_else(|| image.symbol("runtime.types").map(|(a, _)| a))
            .or_else(|| image.symbol("type:*").map(|(a, _)| a));
        let mut vars = DwarfVars {
            sections,
            units: Vec::new(),
            globals: Vec::new(),
            ranges: Vec::new(),
            funcs: Vec::new(),
            parsed: Vec::new(),
            types: Mutex::new(HashMap::new()),
            types_base,
        };
        vars.units = vars.view().read_units()?;
        let (globals, mut funcs) = vars.view().scan()?;
        funcs.sort_by_key(|f| f.low);
        vars.ranges = funcs
            .iter()
            .enumerate()
            .map(|(i, f)| FuncRange {
                low: f.low,
                high: f.high,
                func: i,
            })
            .collect();
        vars.parsed = (0..funcs.len()).map(|_| OnceLock::new()).collect();
        vars.funcs = funcs;
        vars.globals = globals;
        Ok(Some(vars))
    }

    pub fn globals(&self) -> &[GlobalVar] {
        &self.globals
    }

    /// Variables of the function (and inlined calls) containing `pc` (link-time) whose location
    /// at `pc` is known. A single non-piece location expression becomes one piece covering the
    /// whole variable. For a caller's frame pass the return address minus one: the return
    /// address itself may already lie past the call's location ranges.
    pub fn frame_vars(&self, pc: u64) -> Vec<FrameVar> {
        let Some(func) = self.func_at(pc) else {
            return Vec::new();
        };
        let Some(cell) = self.parsed.get(func) else {
            return Vec::new();
        };
        // A function whose DWARF is malformed contributes no variables rather than failing
        // every frame that runs it.
        let locals = cell.get_or_init(|| self.view().read_func(func).unwrap_or_default());
        let mut out = Vec::new();
        for var in locals {
            if !var.scope.is_empty() && !var.scope.iter().any(|&(lo, hi)| lo <= pc && pc < hi) {
                continue;
            }
            let Some((_, _, pieces)) = var.locs.iter().find(|(lo, hi, _)| *lo <= pc && pc < *hi)
            else {
                continue;
            };
            if pieces.iter().all(|p| p.loc == PieceLoc::Unavailable) {
                continue;
            }
            out.push(FrameVar {
                name: var.name.clone(),
                rtype: var.ty.rtype,
                type_name: var.ty.name.to_string(),
                size: var.ty.size,
                pieces: pieces.clone(),
            });
        }
        out
    }

    fn func_at(&self, pc: u64) -> Option<usize> {
        let i = self
            .ranges
            .partition_point(|r| r.low <= pc)
            .checked_sub(1)?;
        let r = self.ranges.get(i)?;
        (pc < r.high).then_some(r.func)
    }

    fn view(&self) -> View<'_> {
        View {
            dwarf: self
                .sections
                .borrow(|s| gimli::EndianSlice::new(s.as_slice(), LittleEndian)),
            units: &self.units,
            funcs: &self.funcs,
            types: &self.types,
            types_base: self.types_base,
        }
    }
}

/// The sections borrowed as gimli readers, with what has been indexed so far.
struct View<'a> {
    dwarf: gimli::Dwarf<Slice<'a>>,
    units: &'a [UnitInfo],
    funcs: &'a [Func],
    types: &'a Mutex<HashMap<usize, TypeDesc>>,
    types_base: Option<u64>,
}

impl<'a> View<'a> {
    /// Every unit header, with the bases its location and range lists are relative to.
    fn read_units(&self) -> Result<Vec<UnitInfo>> {
        let mut out = Vec::new();
        let mut abbrevs: HashMap<usize, Arc<gimli::Abbreviations>> = HashMap::new();
        let mut headers = self.dwarf.units();
        while let Some(header) = headers.next().map_err(|e| dwarf_error("unit header", e))? {
            let Some(start) = header.debug_info_offset().map(|o| o.0) else {
                continue;
            };
            let end = start.saturating_add(header.length_including_self());
            // Go writes one abbreviation table for all its units.
            let abbrev_offset = header.debug_abbrev_offset().0;
            let abbreviations = match abbrevs.get(&abbrev_offset) {
                Some(a) => a.clone(),
                None => {
                    let a = self
                        .dwarf
                        .abbreviations(&header)
                        .map_err(|e| dwarf_error("abbreviations", e))?;
                    abbrevs.insert(abbrev_offset, a.clone());
                    a
                }
            };
            out.push(self.unit_info(start, end, header, abbreviations)?);
        }
        Ok(out)
    }

    /// Reads the bases from a unit's root entry. `gimli::Unit::new` would also parse the line
    /// table, which is not loaded.
    fn unit_info(
        &self,
        start: usize,
        end: usize,
        header: gimli::UnitHeader<Slice<'a>>,
        abbreviations: Arc<gimli::Abbreviations>,
    ) -> Result<UnitInfo> {
        let encoding = header.encoding();
        let file = gimli::DwarfFileType::Main;
        let mut info = UnitInfo {
            start,
            end,
            abbreviations,
            low_pc: 0,
            addr_base: gimli::DebugAddrBase(0),
            loclists_base: gimli::DebugLocListsBase::default_for_encoding_and_file(encoding, file),
            rnglists_base: gimli::DebugRngListsBase::default_for_encoding_and_file(encoding, file),
            str_offsets_base: gimli::DebugStrOffsetsBase::default_for_encoding_and_file(
                encoding, file,
            ),
        };
        let root = {
            let mut cursor = header.entries(&info.abbreviations);
            cursor
                .next_dfs()
                .map_err(|e| dwarf_error("unit entry", e))?
                .cloned()
        };
        let Some(root) = root else {
            return Ok(info);
        };
        let mut low_pc = None;
        for a in root.attrs() {
            match (a.name(), a.value()) {
                (gimli::DW_AT_addr_base, AttributeValue::DebugAddrBase(b)) => info.addr_base = b,
                (gimli::DW_AT_loclists_base, AttributeValue::DebugLocListsBase(b)) => {
                    info.loclists_base = b
                }
                (gimli::DW_AT_rnglists_base, AttributeValue::DebugRngListsBase(b)) => {
                    info.rnglists_base = b
                }
                (gimli::DW_AT_str_offsets_base, AttributeValue::DebugStrOffsetsBase(b)) => {
                    info.str_offsets_base = b
                }
                (gimli::DW_AT_low_pc, v) => low_pc = Some(v),
                _ => {}
            }
        }
        // The default base address of location and range lists; an indexed address needs the
        // address base read above.
        if let Some(v) = low_pc {
            let unit = build_unit(header, &info);
            info.low_pc = self
                .dwarf
                .attr_address(&unit, v)
                .map_err(|e| dwarf_error("unit low_pc", e))?
                .unwrap_or(0);
        }
        Ok(info)
    }

    /// The gimli unit of unit `index`, rebuilt over the borrowed sections.
    fn unit(&self, index: usize) -> Result<gimli::Unit<Slice<'a>>> {
        let info = self
            .units
            .get(index)
            .ok_or_else(|| Error::corrupt("DWARF reference to a unit that does not exist"))?;
        let header = self
            .dwarf
            .unit_header(gimli::DebugInfoOffset(info.start))
            .map_err(|e| dwarf_error("unit header", e))?;
        Ok(build_unit(header, info))
    }

    /// One pass over each unit's top-level entries: package variables are read, functions
    /// indexed. Attributes of every other entry are skipped without being decoded.
    fn scan(&self) -> Result<(Vec<GlobalVar>, Vec<Func>)> {
        let mut attrs: Attrs<'a> = Vec::new();
        let mut globals = Vec::new();
        let mut funcs = Vec::new();
        for index in 0..self.units.len() {
            let unit = self.unit(index)?;
            let mut raw = unit
                .header
                .entries_raw(&unit.abbreviations, None)
                .map_err(|e| dwarf_error("entries", e))?;
            while !raw.is_empty() {
                let depth = raw.next_depth();
                let offset = raw.next_offset();
                let Some(abbrev) = raw
                    .read_abbreviation()
                    .map_err(|e| dwarf_error("entry", e))?
                else {
                    continue;
                };
                let tag = abbrev.tag();
                let wanted = depth == 1
                    && (tag == gimli::DW_TAG_variable || tag == gimli::DW_TAG_subprogram);
                if !wanted {
                    raw.skip_attributes(abbrev.attributes())
                        .map_err(|e| dwarf_error("entry", e))?;
                    continue;
                }
                raw.read_attributes(abbrev.attributes(), &mut attrs)
                    .map_err(|e| dwarf_error("entry", e))?;
                if tag == gimli::DW_TAG_variable {
                    if let Some(g) = self.global(index, &unit, &attrs) {
                        globals.push(g);
                    }
                } else if let Some(f) = self.func(index, &unit, offset, &attrs)? {
                    funcs.push(f);
                }
            }
        }
        Ok((globals, funcs))
    }

    /// A package variable placed by `DW_OP_addr`; None for anything else (constants folded
    /// into code, variables the linker dropped).
    fn global(
        &self,
        index: usize,
        unit: &gimli::Unit<Slice<'a>>,
        attrs: &Attrs<'a>,
    ) -> Option<GlobalVar> {
        let name = self.attr_name(unit, attrs)?;
        let Some(AttributeValue::Exprloc(expr)) = attr(attrs, gimli::DW_AT_location) else {
            return None;
        };
        let pieces = evaluate(&self.dwarf, unit, expr.0, true, 0);
        let addr = match pieces.as_deref() {
            Some(
                [Piece {
                    loc: PieceLoc::Addr(a),
                    ..
                }],
            ) => *a,
            _ => return None,
        };
        let ty = match attr(attrs, gimli::DW_AT_type) {
            Some(v) => self.type_desc(index, v).unwrap_or_default(),
            None => TypeDesc::default(),
        };
        Some(GlobalVar {
            name,
            addr,
            size: ty.size,
            rtype: ty.rtype,
            type_name: ty.name.to_string(),
        })
    }

    /// A function with code: abstract entries of inlined functions have no pc and are skipped.
    fn func(
        &self,
        index: usize,
        unit: &gimli::Unit<Slice<'a>>,
        offset: UnitOffset<usize>,
        attrs: &Attrs<'a>,
    ) -> Result<Option<Func>> {
        let ranges = self.ranges_of(unit, attrs)?;
        // Go functions are contiguous; a function given as several ranges is indexed by the
        // span that covers them all.
        let low = ranges.iter().map(|r| r.0).min();
        let high = ranges.iter().map(|r| r.1).max();
        let (Some(low), Some(high)) = (low, high) else {
            return Ok(None);
        };
        let frame_base_cfa = matches!(
            attr(attrs, gimli::DW_AT_frame_base),
            Some(AttributeValue::Exprloc(e)) if e.0.slice() == [gimli::DW_OP_call_frame_cfa.0]
        );
        Ok(Some(Func {
            unit: index,
            offset,
            low,
            high,
            frame_base_cfa,
        }))
    }

    /// The non-empty pc ranges of an entry, from `DW_AT_low_pc`/`DW_AT_high_pc` or
    /// `DW_AT_ranges`.
    fn ranges_of(
        &self,
        unit: &gimli::Unit<Slice<'a>>,
        attrs: &Attrs<'a>,
    ) -> Result<Vec<(u64, u64)>> {
        let mut out = Vec::new();
        if let Some(value) = attr(attrs, gimli::DW_AT_ranges) {
            let Some(mut list) = self
                .dwarf
                .attr_ranges(unit, value)
                .map_err(|e| dwarf_error("ranges", e))?
            else {
                return Ok(out);
            };
            while let Some(r) = list.next().map_err(|e| dwarf_error("ranges", e))? {
                if out.len() >= MAX_RANGES {
                    return Err(Error::corrupt("DWARF range list too long"));
                }
                if r.begin < r.end {
                    out.push((r.begin, r.end));
                }
            }
            return Ok(out);
        }
        let Some(low) = attr(attrs, gimli::DW_AT_low_pc) else {
            return Ok(out);
        };
        let Some(low) = self
            .dwarf
            .attr_address(unit, low)
            .map_err(|e| dwarf_error("low_pc", e))?
        else {
            return Ok(out);
        };
        // DWARF 4 (Go ≤ 1.24) gives the end as an address, DWARF 5 as a length.
        let high = match attr(attrs, gimli::DW_AT_high_pc) {
            Some(AttributeValue::Addr(a)) => Some(a),
            Some(v @ AttributeValue::DebugAddrIndex(_)) => self
                .dwarf
                .attr_address(unit, v)
                .map_err(|e| dwarf_error("high_pc", e))?,
            Some(v) => v.udata_value().and_then(|n| low.checked_add(n)),
            None => None,
        };
        if let Some(high) = high {
            if low < high {
                out.push((low, high));
            }
        }
        Ok(out)
    }

    /// A name from `DW_AT_name`, inline or in a string section.
    fn attr_name(
        &self,
        unit: &gimli::Unit<Slice<'a>>,
        attrs: &[gimli::Attribute<Slice<'a>>],
    ) -> Option<String> {
        let value = attr(attrs, gimli::DW_AT_name)?;
        let s = self.dwarf.attr_string(unit, value).ok()?;
        Some(s.to_string_lossy().into_owned())
    }

    /// The unit and unit offset a reference attribute points at.
    fn resolve(
        &self,
        unit: usize,
        value: AttributeValue<Slice<'a>>,
    ) -> Result<(usize, UnitOffset<usize>)> {
        match value {
            AttributeValue::UnitRef(offset) => Ok((unit, offset)),
            AttributeValue::DebugInfoRef(offset) => {
                let target = offset.0;
                let index = self
                    .units
                    .partition_point(|u| u.start <= target)
                    .checked_sub(1)
                    .ok_or_else(|| Error::corrupt("DWARF reference before the first unit"))?;
                let u = self
                    .units
                    .get(index)
                    .ok_or_else(|| Error::corrupt("DWARF reference outside every unit"))?;
                if target >= u.end {
                    return Err(Error::corrupt(format!(
                        "DWARF reference {target:#x} lies outside every unit"
                    )));
                }
                let header = self
                    .dwarf
                    .unit_header(gimli::DebugInfoOffset(u.start))
                    .map_err(|e| dwarf_error("unit header", e))?;
                let local = offset.to_unit_offset(&header).ok_or_else(|| {
                    Error::corrupt(format!("DWARF reference {target:#x} is not in its unit"))
                })?;
                Ok((index, local))
            }
            _ => Err(Error::corrupt("DWARF reference of an unexpected form")),
        }
    }

    /// The `.debug_info` offset of a unit-relative offset: the key of the type cache.
    fn global_offset(&self, unit: usize, offset: UnitOffset<usize>) -> Option<usize> {
        self.units.get(unit)?.start.checked_add(offset.0)
    }

    /// What a `DW_AT_type` reference names: the first name met, the first size, and the first
    /// runtime descriptor along typedef links. A named type's typedef may carry neither size
    /// nor descriptor; its target then gives them. Pointers are never followed to their
    /// pointee.
    fn type_desc(&self, unit: usize, value: AttributeValue<Slice<'a>>) -> Result<TypeDesc> {
        let (mut u, mut off) = self.resolve(unit, value)?;
        let key = self.global_offset(u, off);
        if let Some(key) = key {
            if let Some(t) = self.types.lock().ok().and_then(|m| m.get(&key).cloned()) {
                return Ok(t);
            }
        }
        let mut name: Option<String> = None;
        let mut size = None;
        let mut rtype = None;
        for _ in 0..MAX_TYPE_HOPS {
            let gu = self.unit(u)?;
            let entry: Entry<'a> = gu
                .header
                .entry(&gu.abbreviations, off)
                .map_err(|e| dwarf_error("type entry", e))?;
            if name.is_none() {
                name = self.attr_name(&gu, entry.attrs());
            }
            if size.is_none() {
                size = entry
                    .attr(gimli::DW_AT_byte_size)
                    .and_then(|a| a.udata_value());
            }
            if rtype.is_none() {
                rtype = match entry.attr_value(DW_AT_GO_RUNTIME_TYPE) {
                    Some(AttributeValue::Addr(a)) => Some(a),
                    Some(v) => v.udata_value(),
                    None => None,
                };
            }
            let tag = entry.tag();
            if tag == gimli::DW_TAG_pointer_type {
                size = size.or(Some(PTR_SIZE));
                break;
            }
            let link = tag == gimli::DW_TAG_typedef
                || tag == gimli::DW_TAG_const_type
                || tag == gimli::DW_TAG_volatile_type;
            if !link || (size.is_some() && rtype.is_some()) {
                break;
            }
            match entry.attr_value(gimli::DW_AT_type) {
                Some(next) => (u, off) = self.resolve(u, next)?,
                None => break,
            }
        }
        let desc = TypeDesc {
            name: Arc::from(name.unwrap_or_default()),
            size: size.unwrap_or(0),
            rtype: match (rtype, self.types_base) {
                (Some(r), Some(base)) => base.checked_add(r),
                _ => None,
            },
        };
        if let (Some(key), Ok(mut m)) = (key, self.types.lock()) {
            m.insert(key, desc.clone());
        }
        Ok(desc)
    }

    /// The variables and arguments of a function and of the calls inlined into it.
    fn read_func(&self, index: usize) -> Result<Vec<LocalVar>> {
        let func = self
            .funcs
            .get(index)
            .ok_or_else(|| Error::corrupt("function index out of range"))?;
        let unit = self.unit(func.unit)?;
        let mut raw = unit
            .header
            .entries_raw(&unit.abbreviations, Some(func.offset))
            .map_err(|e| dwarf_error("function entries", e))?;
        let mut attrs: Attrs<'a> = Vec::new();
        let mut out = Vec::new();
        // Open blocks and inlined calls: their depth and pc ranges.
        let mut scopes: Vec<(isize, Vec<(u64, u64)>)> = Vec::new();
        let mut first = true;
        for _ in 0..MAX_FUNC_ENTRIES {
            if raw.is_empty() {
                break;
            }
            let depth = raw.next_depth();
            let abbrev = raw
                .read_abbreviation()
                .map_err(|e| dwarf_error("function entry", e))?;
            if let Some(abbrev) = abbrev {
                let tag = abbrev.tag();
                while scopes.last().is_some_and(|(d, _)| *d >= depth) {
                    scopes.pop();
                }
                let is_scope = !first
                    && (tag == gimli::DW_TAG_lexical_block
                        || tag == gimli::DW_TAG_inlined_subroutine);
                let is_var = !first
                    && (tag == gimli::DW_TAG_variable || tag == gimli::DW_TAG_formal_parameter);
                if is_scope || is_var {
                    raw.read_attributes(abbrev.attributes(), &mut attrs)
                        .map_err(|e| dwarf_error("function entry", e))?;
                } else {
                    raw.skip_attributes(abbrev.attributes())
                        .map_err(|e| dwarf_error("function entry", e))?;
                }
                if is_scope {
                    if scopes.len() >= MAX_SCOPE_DEPTH {
                        return Err(Error::corrupt("DWARF blocks nest too deep"));
                    }
                    let ranges = self.ranges_of(&unit, &attrs)?;
                    // A block without ranges covers what its parent covers.
                    let ranges = if ranges.is_empty() {
                        scopes.last().map(|(_, r)| r.clone()).unwrap_or_default()
                    } else {
                        ranges
                    };
                    scopes.push((depth, ranges));
                } else if is_var {
                    let scope = scopes.last().map(|(_, r)| r.as_slice()).unwrap_or(&[]);
                    if let Some(var) = self.local_var(func, &unit, &attrs, scope) {
                        out.push(var);
                    }
                }
                first = false;
            }
            if raw.next_depth() <= 0 {
                break;
            }
        }
        Ok(out)
    }

    /// One variable entry, with its name and type from its abstract origin when it is the
    /// concrete copy of an inlined function's variable. None when it has no usable location.
    fn local_var(
        &self,
        func: &Func,
        unit: &gimli::Unit<Slice<'a>>,
        attrs: &Attrs<'a>,
        scope: &[(u64, u64)],
    ) -> Option<LocalVar> {
        let location = attr(attrs, gimli::DW_AT_location)?;
        let mut name = self.attr_name(unit, attrs);
        let mut ty = attr(attrs, gimli::DW_AT_type).map(|v| (func.unit, v));
        let mut origin = attr(attrs, gimli::DW_AT_abstract_origin).map(|v| (func.unit, v));
        for _ in 0..MAX_ORIGIN_HOPS {
            if name.is_some() && ty.is_some() {
                break;
            }
            let Some((from, value)) = origin.take() else {
                break;
            };
            let (u, off) = self.resolve(from, value).ok()?;
            let gu = self.unit(u).ok()?;
            let entry: Entry<'a> = gu.header.entry(&gu.abbreviations, off).ok()?;
            if name.is_none() {
                name = self.attr_name(&gu, entry.attrs());
            }
            if ty.is_none() {
                ty = entry.attr_value(gimli::DW_AT_type).map(|v| (u, v));
            }
            origin = entry
                .attr_value(gimli::DW_AT_abstract_origin)
                .map(|v| (u, v));
        }
        let name = name?;
        let ty = match ty {
            Some((u, v)) => self.type_desc(u, v).ok()?,
            None => TypeDesc::default(),
        };
        let mut locs = Vec::new();
        let mut var_scope = Vec::new();
        if let AttributeValue::Exprloc(expr) = location {
            let pieces = evaluate(&self.dwarf, unit, expr.0, func.frame_base_cfa, ty.size)?;
            locs.push((func.low, func.high, pieces));
            var_scope = scope.to_vec();
        } else {
            let mut list = self.dwarf.attr_locations(unit, location).ok()??;
            for _ in 0..MAX_LOC_ENTRIES {
                let Ok(Some(entry)) = list.next() else {
                    break;
                };
                if entry.range.begin >= entry.range.end {
                    continue;
                }
                if let Some(pieces) = evaluate(
                    &self.dwarf,
                    unit,
                    entry.data.0,
                    func.frame_base_cfa,
                    ty.size,
                ) {
                    locs.push((entry.range.begin, entry.range.end, pieces));
                }
            }
        }
        if locs.is_empty() {
            return None;
        }
        Some(LocalVar {
            name,
            ty,
            scope: var_scope,
            locs,
        })
    }
}

/// A gimli unit over `header` with the bases read at load. Its line program is never needed.
fn build_unit<'a>(header: gimli::UnitHeader<Slice<'a>>, info: &UnitInfo) -> gimli::Unit<Slice<'a>> {
    gimli::Unit {
        abbreviations: info.abbreviations.clone(),
        name: None,
        comp_dir: None,
        low_pc: info.low_pc,
        str_offsets_base: info.str_offsets_base,
        addr_base: info.addr_base,
        loclists_base: info.loclists_base,
        rnglists_base: info.rnglists_base,
        line_program: None,
        dwo_id: None,
        header,
    }
}

fn attr<'a>(
    attrs: &[gimli::Attribute<Slice<'a>>],
    name: DwAt,
) -> Option<AttributeValue<Slice<'a>>> {
    attrs.iter().find(|a| a.name() == name).map(|a| a.value())
}

/// A DWARF section, decompressed, or empty when absent or not needed. The line and frame
/// tables, the largest sections, are not needed here and are never decompressed.
fn load_section(file: &object::File<'_>, id: gimli::SectionId) -> Result<Vec<u8>> {
    let wanted = matches!(
        id,
        gimli::SectionId::DebugInfo
            | gimli::SectionId::DebugAbbrev
            | gimli::SectionId::DebugStr
            | gimli::SectionId::DebugLineStr
            | gimli::SectionId::DebugAddr
            | gimli::SectionId::DebugLoc
            | gimli::SectionId::DebugLocLists
            | gimli::SectionId::DebugRanges
            | gimli::SectionId::DebugRngLists
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
            Ok(compressed.decompress().map_err(read_error)?.into_owned())
        }
        _ => Ok(Vec::new()),
    }
}

/// What the static evaluation of a location expression has on its stack.
#[derive(Clone, Copy)]
enum Value {
    Cfa(i64),
    Addr(u64),
    Const(i64),
}

/// Turns a location expression into pieces without a machine state: Go's expressions name a
/// register, a CFA offset (`DW_OP_call_frame_cfa` plus a constant, or `DW_OP_fbreg` with the
/// CFA as frame base) or an address, per piece. Anything else becomes `Unavailable`. None for
/// an empty expression (no location) or a malformed one.
fn evaluate(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    expr: Slice<'_>,
    frame_base_cfa: bool,
    var_size: u64,
) -> Option<Vec<Piece>> {
    let mut bytes = expr;
    if bytes.is_empty() {
        return None;
    }
    let encoding = unit.encoding();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut stack: Vec<Value> = Vec::new();
    let mut register: Option<u16> = None;
    // Set by an operation this evaluation cannot place (a computed value, say).
    let mut opaque = false;
    let mut offset: u64 = 0;
    for _ in 0..MAX_EXPR_OPS {
        if bytes.is_empty() {
            break;
        }
        let op = Operation::parse(&mut bytes, encoding).ok()?;
        match op {
            Operation::Piece {
                size_in_bits,
                bit_offset,
            } => {
                if pieces.len() >= MAX_PIECES {
                    return None;
                }
                let size = size_in_bits.div_ceil(8);
                let exact = size_in_bits % 8 == 0 && bit_offset.is_none();
                let loc = if opaque || !exact {
                    PieceLoc::Unavailable
                } else {
                    place(register, stack.last().copied())
                };
                pieces.push(Piece { offset, size, loc });
                offset = offset.checked_add(size)?;
                stack.clear();
                register = None;
                opaque = false;
            }
            Operation::Register { register: r } => register = Some(r.0),
            Operation::CallFrameCFA => stack.push(Value::Cfa(0)),
            Operation::FrameOffset { offset } => {
                if frame_base_cfa {
                    stack.push(Value::Cfa(offset));
                } else {
                    opaque = true;
                }
            }
            Operation::Address { address } => stack.push(Value::Addr(address)),
            Operation::AddressIndex { index } => match dwarf.address(unit, index) {
                Ok(a) => stack.push(Value::Addr(a)),
                Err(_) => opaque = true,
            },
            Operation::SignedConstant { value } => stack.push(Value::Const(value)),
            Operation::UnsignedConstant { value } => {
                stack.push(Value::Const(i64::try_from(value).ok()?))
            }
            Operation::PlusConstant { value } => {
                let top = stack.pop()?;
                stack.push(add(top, Value::Const(i64::try_from(value).ok()?))?);
            }
            Operation::Plus => {
                let b = stack.pop()?;
                let a = stack.pop()?;
                stack.push(add(a, b)?);
            }
            Operation::Minus => {
                let b = stack.pop()?;
                let a = stack.pop()?;
                let Value::Const(c) = b else {
                    return None;
                };
                stack.push(add(a, Value::Const(c.checked_neg()?))?);
            }
            Operation::Nop => {}
            _ => opaque = true,
        }
        if stack.len() > MAX_EXPR_OPS {
            return None;
        }
    }
    if !bytes.is_empty() {
        return None;
    }
    if pieces.is_empty() {
        let loc = if opaque {
            PieceLoc::Unavailable
        } else {
            place(register, stack.last().copied())
        };
        pieces.push(Piece {
            offset: 0,
            size: var_size,
            loc,
        });
    }
    Some(pieces)
}

/// Where a piece is: a named register, else the memory the top of the stack points at.
fn place(register: Option<u16>, top: Option<Value>) -> PieceLoc {
    if let Some(r) = register {
        return PieceLoc::Register(r);
    }
    match top {
        Some(Value::Cfa(off)) => PieceLoc::Cfa(off),
        Some(Value::Addr(a)) => PieceLoc::Addr(a),
        // A bare constant as a location would be an absolute address; Go does not write it.
        Some(Value::Const(_)) | None => PieceLoc::Unavailable,
    }
}

fn add(a: Value, b: Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::Cfa(x), Value::Const(y)) | (Value::Const(y), Value::Cfa(x)) => {
            Value::Cfa(x.checked_add(y)?)
        }
        (Value::Addr(x), Value::Const(y)) | (Value::Const(y), Value::Addr(x)) => {
            Value::Addr(x.checked_add_signed(y)?)
        }
        (Value::Const(x), Value::Const(y)) => Value::Const(x.checked_add(y)?),
        _ => return None,
    })
}
