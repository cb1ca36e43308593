//! The Go 1.20+ pc/line table (`runtime.pcHeader` and what follows it): every function's
//! entry, name, frame-size, file and line tables, pcdata and funcdata, and the inline trees.
//! This is what the runtime itself uses for tracebacks, so it is present in every Go binary,
//! stripped or not.

use std::sync::OnceLock;

use serde::Serialize;

use crate::bytes::{read_uvarint, Blob, ReadLe};
use crate::error::{Error, ErrorKind, Result};

/// One row of a line table: the pc where a position starts, its file and line.
pub type LineRow<'a> = (u64, Option<&'a str>, i32);

/// At most this many runs of a pc-value table are read per function (a corrupt table
/// could otherwise describe an endless function).
const MAX_LINE_RUNS: usize = 1 << 20;

/// `abi.Go120PCLnTabMagic`, used by Go 1.20 and later.
pub const MAGIC_GO120: u32 = 0xffff_fff1;
const MAGIC_GO118: u32 = 0xffff_fff0;
const MAGIC_GO116: u32 = 0xffff_fffa;
const MAGIC_GO12: u32 = 0xffff_fffb;

/// Size of the fixed part of `runtime._func`; pcdata and funcdata offsets follow it.
const FUNC_FIXED_SIZE: usize = 44;
/// Size of `runtime.inlinedCall`.
const INLINED_CALL_SIZE: usize = 16;
/// Bound on inline nesting when expanding a pc; real trees are far shallower.
const MAX_INLINE_DEPTH: usize = 256;
/// How many leading runs of a function body [`Func::body_start`] may skip as out of order.
const MAX_REORDERED_RUNS: usize = 4;

/// pcdata table indices (`internal/abi`).
pub const PCDATA_UNSAFE_POINT: usize = 0;
pub const PCDATA_STACK_MAP_INDEX: usize = 1;
pub const PCDATA_INL_TREE_INDEX: usize = 2;
/// funcdata indices (`internal/abi`).
pub const FUNCDATA_ARGS_POINTER_MAPS: usize = 0;
pub const FUNCDATA_LOCALS_POINTER_MAPS: usize = 1;
pub const FUNCDATA_INL_TREE: usize = 3;
pub const FUNCDATA_OPEN_CODED_DEFER_INFO: usize = 4;

/// The fixed header at the start of the table (`runtime.pcHeader`).
#[derive(Debug, Clone, Copy)]
pub struct PcHeader {
    pub min_lc: u8,
    pub ptr_size: u8,
    pub nfunc: usize,
    pub nfiles: usize,
    /// Go ≤ 1.25 record the text base here; later versions leave it zero.
    pub text_start: u64,
    pub funcname_offset: usize,
    pub cu_offset: usize,
    pub filetab_offset: usize,
    pub pctab_offset: usize,
    pub pcln_offset: usize,
}

impl PcHeader {
    pub fn parse(data: &[u8]) -> Result<PcHeader> {
        let magic = data
            .u32_at(0)
            .ok_or_else(|| Error::truncated("pclntab header is cut short"))?;
        match magic {
            MAGIC_GO120 => {}
            MAGIC_GO118 | MAGIC_GO116 | MAGIC_GO12 => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "pclntab magic {magic:#x} is from a Go release older than 1.20; goscope supports Go 1.21 and later"
                    ),
                ))
            }
            _ => {
                return Err(Error::corrupt(format!(
                    "pclntab magic {magic:#x} is not a Go pc/line table"
                )))
            }
        }
        let (pad1, pad2, min_lc, ptr_size) = (
            data.u8_at(4),
            data.u8_at(5),
            data.u8_at(6).unwrap_or(0),
            data.u8_at(7).unwrap_or(0),
        );
        if pad1 != Some(0) || pad2 != Some(0) || !matches!(min_lc, 1 | 2 | 4) || ptr_size != 8 {
            return Err(Error::corrupt(format!(
                "pclntab header is inconsistent (instruction size {min_lc}, pointer size {ptr_size})"
            )));
        }
        let word = |i: usize| -> Result<u64> {
            data.u64_at(i.saturating_mul(8).saturating_add(8))
                .ok_or_else(|| Error::truncated("pclntab header is cut short"))
        };
        let size = |i: usize| -> Result<usize> {
            usize::try_from(word(i)?).map_err(|_| Error::corrupt("pclntab header offset overflows"))
        };
        Ok(PcHeader {
            min_lc,
            ptr_size,
            nfunc: size(0)?,
            nfiles: size(1)?,
            text_start: word(2)?,
            funcname_offset: size(3)?,
            cu_offset: size(4)?,
            filetab_offset: size(5)?,
            pctab_offset: size(6)?,
            pcln_offset: size(7)?,
        })
    }
}

/// One text section of a module, for binaries whose text the linker split (`runtime.textsect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TextSect {
    pub vaddr: u64,
    pub end: u64,
    pub baseaddr: u64,
}

/// How function entry offsets map to addresses: `moduledata.text` plus, when the text was
/// split, `moduledata.textsectmap`.
#[derive(Debug, Clone, Default)]
pub struct TextMap {
    pub base: u64,
    pub sections: Vec<TextSect>,
}

impl TextMap {
    fn addr(&self, off: u32) -> u64 {
        let off = u64::from(off);
        if self.sections.len() > 1 {
            let last = self.sections.len().saturating_sub(1);
            for (i, s) in self.sections.iter().enumerate() {
                if (off >= s.vaddr && off < s.end) || (i == last && off == s.end) {
                    return s.baseaddr.wrapping_add(off.wrapping_sub(s.vaddr));
                }
            }
        }
        self.base.wrapping_add(off)
    }

    fn offset(&self, pc: u64) -> Option<u64> {
        if self.sections.len() > 1 {
            for s in &self.sections {
                let len = s.end.checked_sub(s.vaddr)?;
                if let Some(into) = pc.checked_sub(s.baseaddr).filter(|&d| d <= len) {
                    // Within [vaddr, end]: does not overflow.
                    return Some(s.vaddr.wrapping_add(into));
                }
            }
            return None;
        }
        pc.checked_sub(self.base)
    }
}

/// One source position: the function and the file:line within it. An empty file and line -1
/// mean the table has no position for that pc (as the runtime's own tables say).
/// Names borrow from the table, so a lookup allocates nothing but its frame list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location<'a> {
    pub function: &'a str,
    pub file: &'a str,
    pub line: i32,
}

/// A decoded pc/line table with its function index.
pub struct Pclntab {
    data: Blob,
    addr: u64,
    header: PcHeader,
    text: TextMap,
    /// Bytes at `moduledata.gofunc`, where funcdata offsets point; None when unknown.
    gofunc: Option<Blob>,
    /// Function indices sorted by name, built on the first name lookup.
    by_name: OnceLock<Vec<u32>>,
    /// Entry offsets of the function table (nfunc + 1), copied out for a cache-friendly
    /// binary search.
    entries: Vec<u32>,
    /// Whether the name and file tables are valid UTF-8 as a whole (checked once), so that
    /// each name need not be checked again on every lookup.
    names_utf8: bool,
    files_utf8: bool,
}

/// A function of the table, borrowed from it.
#[derive(Clone, Copy)]
pub struct Func<'a> {
    tab: &'a Pclntab,
    index: usize,
    /// Offset of the `_func` record in the table data.
    off: usize,
    entry: u64,
    end: u64,
}

impl Pclntab {
    /// Builds the function index over table bytes that start at the header (found at `addr`).
    /// Validates the function table once so that lookups can trust its order and bounds.
    pub fn new(data: Blob, addr: u64, text: TextMap, gofunc: Option<Blob>) -> Result<Pclntab> {
        let header = PcHeader::parse(&data)?;
        let len = data.len();
        for (what, off) in [
            ("function name table", header.funcname_offset),
            ("compilation unit table", header.cu_offset),
            ("file table", header.filetab_offset),
            ("pc-value table", header.pctab_offset),
            ("function table", header.pcln_offset),
        ] {
            if off >= len {
                return Err(Error::corrupt(format!(
                    "pclntab {what} offset {off:#x} lies past the table's end ({len:#x})"
                )));
            }
        }
        let table_bytes = header
            .nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .filter(|&n| header.pcln_offset.checked_add(n).is_some_and(|e| e <= len))
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "pclntab claims {} functions, more than the table can hold",
                    header.nfunc
                ))
            })?;
        let _ = table_bytes;
        let mut tab = Pclntab {
            data,
            addr,
            header,
            text,
            gofunc,
            by_name: OnceLock::new(),
            entries: Vec::new(),
            names_utf8: false,
            files_utf8: false,
        };
        tab.entries = tab.validate()?;
        let region_utf8 = |from: usize, to: usize| {
            tab.data
                .get(from..to)
                .is_some_and(|b| std::str::from_utf8(b).is_ok())
        };
        tab.names_utf8 = region_utf8(header.funcname_offset, header.cu_offset);
        tab.files_utf8 = region_utf8(header.filetab_offset, header.pctab_offset);
        Ok(tab)
    }

    fn validate(&self) -> Result<Vec<u32>> {
        // `new` checked that nfunc + 1 entries fit in the table.
        let mut entries = Vec::with_capacity(self.header.nfunc.saturating_add(1));
        let mut prev = 0u32;
        let func_area = self.data.len().saturating_sub(self.header.pcln_offset);
        for i in 0..=self.header.nfunc {
            let (entry, funcoff) = self
                .ftab_entry(i)
                .ok_or_else(|| Error::corrupt("pclntab function table is cut short"))?;
            if entry < prev {
                return Err(Error::corrupt(format!(
                    "pclntab function table is out of order at entry {i}"
                )));
            }
            prev = entry;
            entries.push(entry);
            if i < self.header.nfunc
                && (funcoff as usize).saturating_add(FUNC_FIXED_SIZE) > func_area
            {
                return Err(Error::corrupt(format!(
                    "pclntab function {i} points outside the table"
                )));
            }
        }
        Ok(entries)
    }

    /// The string between `off` and the next NUL, trusting the region-wide UTF-8 check when
    /// it passed and the string lies in that region (`[from, to)`), starting on a character.
    fn str_at(&self, off: usize, (from, to): (usize, usize), region_utf8: bool) -> Option<&str> {
        let bytes = self.data.cstr_at(off)?;
        // Offsets come from the table and may point anywhere, even into a character.
        let inside = off >= from
            && off.saturating_add(bytes.len()) <= to
            && bytes.first().is_none_or(|&b| b & 0xc0 != 0x80);
        if region_utf8 && inside {
            // SAFETY: the whole region was checked to be UTF-8 in `new`; `bytes` lies in it,
            // starts on a character boundary (not on a continuation byte) and ends at a NUL
            // (ASCII) or at the region's end, which are character boundaries too.
            Some(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            std::str::from_utf8(bytes).ok()
        }
    }

    pub fn header(&self) -> &PcHeader {
        &self.header
    }

    pub fn address(&self) -> u64 {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.header.nfunc
    }

    pub fn is_empty(&self) -> bool {
        self.header.nfunc == 0
    }

    pub fn text(&self) -> &TextMap {
        &self.text
    }

    pub fn has_funcdata(&self) -> bool {
        self.gofunc.is_some()
    }

    /// The address range [first entry, end of last function).
    pub fn pc_range(&self) -> (u64, u64) {
        let first = self.ftab_entry(0).map_or(0, |(e, _)| e);
        let last = self.ftab_entry(self.header.nfunc).map_or(0, |(e, _)| e);
        (self.text.addr(first), self.text.addr(last))
    }

    fn ftab_entry(&self, i: usize) -> Option<(u32, u32)> {
        let off = self.header.pcln_offset.checked_add(i.checked_mul(8)?)?;
        Some((
            self.data.u32_at(off)?,
            self.data.u32_at(off.checked_add(4)?)?,
        ))
    }

    /// The i-th function of the table.
    pub fn func(&self, index: usize) -> Option<Func<'_>> {
        if index >= self.header.nfunc {
            return None;
        }
        let (entry_off, funcoff) = self.ftab_entry(index)?;
        let (end_off, _) = self.ftab_entry(index.checked_add(1)?)?;
        Some(Func {
            tab: self,
            index,
            off: self.header.pcln_offset.checked_add(funcoff as usize)?,
            entry: self.text.addr(entry_off),
            end: self.text.addr(end_off),
        })
    }

    pub fn funcs(&self) -> impl Iterator<Item = Func<'_>> + '_ {
        (0..self.header.nfunc).filter_map(move |i| self.func(i))
    }

    /// The function whose code contains `pc`, as the runtime's findfunc decides.
    pub fn find(&self, pc: u64) -> Option<Func<'_>> {
        let off = self.text.offset(pc)?;
        let off = u32::try_from(off).ok()?;
        let n = self.header.nfunc;
        // Last function whose entry offset is <= off (entries are sorted; checked in new()).
        let lo = self.entries.get(..n)?.partition_point(|&e| e <= off);
        let index = lo.checked_sub(1)?;
        let f = self.func(index)?;
        (pc >= f.entry && pc < f.end).then_some(f)
    }

    /// The function with this exact name (the first, if the linker emitted duplicates).
    pub fn find_by_name(&self, name: &str) -> Option<Func<'_>> {
        let order = self.by_name.get_or_init(|| {
            let mut v: Vec<u32> = (0..self.header.nfunc as u32).collect();
            v.sort_by(|&a, &b| self.func_name(a as usize).cmp(self.func_name(b as usize)));
            v
        });
        let at = order.partition_point(|&i| self.func_name(i as usize) < name);
        let &i = order.get(at)?;
        let f = self.func(i as usize)?;
        (f.name() == name).then_some(f)
    }

    fn func_name(&self, index: usize) -> &str {
        self.func(index).map_or("", |f| f.name())
    }

    fn name_at(&self, name_off: i32) -> &str {
        let Ok(off) = usize::try_from(name_off) else {
            return "?";
        };
        self.header
            .funcname_offset
            .checked_add(off)
            .and_then(|o| {
                let names = (self.header.funcname_offset, self.header.cu_offset);
                self.str_at(o, names, self.names_utf8)
            })
            .unwrap_or("?")
    }

    /// The file name for file number `fileno` of the compilation unit at `cu`.
    fn file_name(&self, cu: u32, fileno: i32) -> Option<&str> {
        let fileno = u32::try_from(fileno).ok()?;
        // 32-bit wrapping index arithmetic, as the runtime and debug/gosym compute it.
        let idx = cu.wrapping_add(fileno).wrapping_mul(4) as usize;
        let entry = self.data.u32_at(self.header.cu_offset.checked_add(idx)?)?;
        if entry == u32::MAX {
            return None;
        }
        self.str_at(
            self.header.filetab_offset.checked_add(entry as usize)?,
            (self.header.filetab_offset, self.header.pctab_offset),
            self.files_utf8,
        )
    }

    fn pctab(&self) -> &[u8] {
        self.data.get(self.header.pctab_offset..).unwrap_or(&[])
    }

    /// Every file name in the table, in table order.
    pub fn files(&self) -> Vec<&str> {
        let start = self.header.filetab_offset;
        let end = self.header.pctab_offset.max(start);
        let table = self.data.get(start..end).unwrap_or(&[]);
        table
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .filter_map(|s| std::str::from_utf8(s).ok())
            .collect()
    }

    /// pc → innermost-first source positions, inlined calls expanded. The last element is the
    /// physical function at the position of its (outermost) call site.
    pub fn lookup(&self, pc: u64) -> Vec<Location<'_>> {
        let Some(f) = self.find(pc) else {
            return Vec::new();
        };
        let mut frames = Vec::new();
        let mut cur = pc;
        let tree = f.inline_tree();
        let mut ix = if tree.is_some() {
            f.inline_index(pc)
        } else {
            None
        };
        while let (Some(i), Some(tree)) = (ix, tree) {
            if frames.len() >= MAX_INLINE_DEPTH {
                break;
            }
            let Some(call) = self.inlined_call(tree, i) else {
                break;
            };
            frames.push(Location {
                function: self.name_at(call.name_off),
                file: self.raw_file(&f, cur),
                line: self.raw_line(&f, cur),
            });
            let Some(parent) = f.entry.checked_add_signed(i64::from(call.parent_pc)) else {
                break;
            };
            cur = parent;
            ix = f.inline_index(cur);
        }
        frames.push(Location {
            function: f.name(),
            file: self.raw_file(&f, cur),
            line: self.raw_line(&f, cur),
        });
        frames
    }

    /// The containing function and the raw file:line at `pc` — what `go tool addr2line` prints.
    /// In the alignment padding after a function's last instruction the line table has no
    /// entry: file is then empty and line -1, exactly as addr2line prints it.
    ///
    /// Unlike the runtime, `debug/gosym` (and so addr2line) decodes a table at offset 0 instead
    /// of treating it as absent; linker marker symbols such as `go:textfipsstart` have such
    /// tables, so this follows gosym to print what addr2line prints for them too.
    pub fn pc_line(&self, pc: u64) -> Option<Location<'_>> {
        let f = self.find(pc)?;
        Some(Location {
            function: f.name(),
            file: self.raw_file(&f, pc),
            line: self.raw_line(&f, pc),
        })
    }

    /// File at `pc` decoded the way `debug/gosym` does (see [`Pclntab::pc_line`]).
    fn raw_file(&self, f: &Func<'_>, pc: u64) -> &str {
        let fileno = self
            .decode_pcvalue(f.pcfile_off(), f.entry, pc)
            .unwrap_or(-1);
        self.file_name(f.cu_offset(), fileno).unwrap_or_default()
    }

    fn raw_line(&self, f: &Func<'_>, pc: u64) -> i32 {
        self.decode_pcvalue(f.pcln_off(), f.entry, pc).unwrap_or(-1)
    }

    /// Start addresses of every run of instructions attributed to `file:line`, inlined copies
    /// included. `file` matches a full path or a trailing path component sequence.
    pub fn pcs_for_line(&self, file: &str, line: u32) -> Vec<u64> {
        let file_matches = |name: &str| {
            name == file
                || name.strip_suffix(file).is_some_and(|head| {
                    !head.is_empty() && (file.starts_with('/') || head.ends_with('/'))
                })
        };
        let mut pcs = Vec::new();
        for f in self.funcs() {
            let Some(lines) = f.pc_values(f.pcln_off()) else {
                continue;
            };
            let mut run_open = false;
            for (start, end, value) in lines {
                let hit =
                    value >= 0 && value as u32 == line && f.file(start).is_some_and(file_matches);
                if hit && !run_open {
                    pcs.push(start);
                }
                run_open = hit;
                let _ = end;
            }
        }
        pcs.sort_unstable();
        pcs.dedup();
        pcs
    }

    /// The first pc of every inlined copy of the function `name`: for each inlined call of it
    /// (an entry of some function's inline tree, at any depth), the lowest pc whose chain of
    /// inlined calls contains that entry. Sorted, without duplicates.
    pub fn inlined_copies(&self, name: &str) -> Vec<u64> {
        let mut pcs = Vec::new();
        for f in self.funcs() {
            let Some(tree) = f.inline_tree() else {
                continue;
            };
            let Some(runs) = f
                .pcdata_table(PCDATA_INL_TREE_INDEX)
                .and_then(|table| f.pc_values(table))
            else {
                continue;
            };
            // (inline tree index of a call of `name`, lowest pc seen in it)
            let mut firsts: Vec<(i32, u64)> = Vec::new();
            for (start, _end, index) in runs {
                if start >= f.end {
                    break;
                }
                let mut ix = index;
                let mut depth = 0;
                while ix >= 0 && depth < MAX_INLINE_DEPTH {
                    depth = depth.saturating_add(1);
                    let Some(call) = self.inlined_call(tree, ix) else {
                        break;
                    };
                    if self.name_at(call.name_off) == name {
                        match firsts.iter_mut().find(|(i, _)| *i == ix) {
                            Some(first) => first.1 = first.1.min(start),
                            None => firsts.push((ix, start)),
                        }
                    }
                    // Keep walking: a recursive function can be inlined into its own copy.
                    ix = f
                        .entry
                        .checked_add_signed(i64::from(call.parent_pc))
                        .and_then(|parent| f.inline_index(parent))
                        .unwrap_or(-1);
                }
            }
            pcs.extend(firsts.into_iter().map(|(_, pc)| pc));
        }
        pcs.sort_unstable();
        pcs.dedup();
        pcs
    }

    fn inlined_call(&self, tree: usize, index: i32) -> Option<InlinedCall> {
        let gofunc = self.gofunc.as_ref()?;
        let off = tree.checked_add(
            usize::try_from(index)
                .ok()?
                .checked_mul(INLINED_CALL_SIZE)?,
        )?;
        Some(InlinedCall {
            func_id: gofunc.u8_at(off)?,
            name_off: gofunc.i32_at(off.checked_add(4)?)?,
            parent_pc: gofunc.i32_at(off.checked_add(8)?)?,
            start_line: gofunc.i32_at(off.checked_add(12)?)?,
        })
    }

    /// Decodes one pc-value table from `entry` up to `target`; see [`Func::pc_values`].
    /// This is the hot path of every lookup, so it is a plain loop rather than the iterator.
    fn pcvalue(&self, table: u32, entry: u64, target: u64) -> Option<i32> {
        if table == 0 {
            return None;
        }
        self.decode_pcvalue(table, entry, target)
    }

    fn decode_pcvalue(&self, table: u32, entry: u64, target: u64) -> Option<i32> {
        let data = self.pctab();
        let mut pos = table as usize;
        let quantum = u64::from(self.header.min_lc);
        let mut pc = entry;
        let mut value: i32 = -1;
        loop {
            let uv = fast_uvarint(data, &mut pos)?;
            if uv == 0 && pc != entry {
                return None;
            }
            value = value.wrapping_add(zigzag(uv));
            pc = pc.checked_add(fast_uvarint(data, &mut pos)?.wrapping_mul(quantum))?;
            if target < pc {
                return Some(value);
            }
        }
    }
}

/// `read_uvarint` with the one-byte case first: most pc deltas and many value deltas fit.
#[inline(always)]
fn fast_uvarint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let b = *data.get(*pos)?;
    if b < 0x80 {
        *pos = pos.saturating_add(1);
        return Some(u64::from(b));
    }
    read_uvarint(data, pos)
}

/// A zig-zag encoded value delta, truncated to the table's 32 bits as the runtime does.
fn zigzag(uv: u64) -> i32 {
    ((uv >> 1) ^ (uv & 1).wrapping_neg()) as i32
}

/// One `runtime.inlinedCall` record.
#[derive(Debug, Clone, Copy)]
pub struct InlinedCall {
    pub func_id: u8,
    pub name_off: i32,
    pub parent_pc: i32,
    pub start_line: i32,
}

impl<'a> Func<'a> {
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// One past the last byte of the function's code.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Where byte `at` of the `_func` record lies in the table (saturated: a read there
    /// fails).
    fn field_at(&self, at: usize) -> usize {
        self.off.saturating_add(at)
    }

    fn field_u32(&self, at: usize) -> u32 {
        self.tab.data.u32_at(self.field_at(at)).unwrap_or(0)
    }

    pub fn name(&self) -> &'a str {
        self.tab.name_at(self.field_u32(4) as i32)
    }

    /// Size of the incoming arguments and results.
    pub fn args(&self) -> i32 {
        self.field_u32(8) as i32
    }

    pub fn deferreturn(&self) -> u32 {
        self.field_u32(12)
    }

    fn pcsp_off(&self) -> u32 {
        self.field_u32(16)
    }

    fn pcfile_off(&self) -> u32 {
        self.field_u32(20)
    }

    fn pcln_off(&self) -> u32 {
        self.field_u32(24)
    }

    pub fn npcdata(&self) -> u32 {
        self.field_u32(28)
    }

    fn cu_offset(&self) -> u32 {
        self.field_u32(32)
    }

    pub fn start_line(&self) -> i32 {
        self.field_u32(36) as i32
    }

    /// `abi.FuncID`: marks runtime functions that tracebacks treat specially.
    pub fn func_id(&self) -> u8 {
        self.tab.data.u8_at(self.field_at(40)).unwrap_or(0)
    }

    /// `abi.FuncFlag` bits (top frame, SP write, assembly).
    pub fn flag(&self) -> u8 {
        self.tab.data.u8_at(self.field_at(41)).unwrap_or(0)
    }

    pub fn nfuncdata(&self) -> u8 {
        self.tab.data.u8_at(self.field_at(43)).unwrap_or(0)
    }

    /// Where the `k`-th 4-byte word after the fixed part of the `_func` record lies.
    fn slot(&self, k: usize) -> usize {
        self.field_at(FUNC_FIXED_SIZE.saturating_add(k.saturating_mul(4)))
    }

    /// Offset of pcdata table `i` in the pc-value table, if the function has one.
    pub fn pcdata_table(&self, i: usize) -> Option<u32> {
        if i >= self.npcdata() as usize {
            return None;
        }
        let v = self.tab.data.u32_at(self.slot(i))?;
        (v != 0).then_some(v)
    }

    /// Offset of funcdata `i` from `moduledata.gofunc`, if present.
    pub fn funcdata_offset(&self, i: usize) -> Option<u32> {
        if i >= usize::from(self.nfuncdata()) {
            return None;
        }
        // The funcdata offsets follow the pcdata offsets.
        let v = self
            .tab
            .data
            .u32_at(self.slot((self.npcdata() as usize).saturating_add(i)))?;
        (v != u32::MAX).then_some(v)
    }

    /// Funcdata `i`: the bytes from where it starts in `moduledata.gofunc` to the end of
    /// that region (its length is the reader's to know).
    pub fn funcdata(&self, i: usize) -> Option<&'a [u8]> {
        let gofunc = self.tab.gofunc.as_ref()?;
        let off = usize::try_from(self.funcdata_offset(i)?).ok()?;
        gofunc.get(off..)
    }

    /// Value of pcdata table `i` at `pc`.
    pub fn pcdata(&self, i: usize, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcdata_table(i)?, self.entry, pc)
    }

    /// Stack pointer delta at `pc`: the frame size in bytes, excluding the return address.
    pub fn sp_delta(&self, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcsp_off(), self.entry, pc)
    }

    /// Where the function's body starts: past the stack-bound check and the frame setup (the
    /// run of growing frame sizes that starts at the entry), then past the instructions that
    /// are still on the line of the entry (saving the frame pointer, spilling arguments), so
    /// that a breakpoint there stops where a debugger with line tables would. A function whose
    /// code is all on its first line starts right after its frame setup.
    pub fn body_start(&self) -> u64 {
        let mut frame_end = self.entry;
        if let Some(runs) = self.sp_deltas() {
            let mut previous: Option<i32> = None;
            for (start, _end, size) in runs {
                if previous.is_some_and(|p| size <= p) || start >= self.end {
                    break;
                }
                frame_end = start;
                previous = Some(size);
            }
        }
        let entry_line = self.line(self.entry);
        let Some(lines) = self.pc_values(self.pcln_off()) else {
            return frame_end;
        };
        let mut body = lines
            .take_while(|&(start, _, _)| start < self.end)
            .filter(|&(_, end, line)| end > frame_end && line >= 0)
            .skip_while(|&(_, _, line)| Some(line) == entry_line)
            .map(|(start, _, line)| (start.max(frame_end), line))
            .peekable();
        let Some(mut first) = body.next() else {
            return frame_end;
        };
        // The compiler may attribute an argument spill or a hoisted load to a later line than
        // the first statement's; skip such runs when the next run of the same (not inlined)
        // function is on an earlier line.
        for _ in 0..MAX_REORDERED_RUNS {
            let Some(&next) = body.peek() else {
                break;
            };
            let outer = |pc: u64| self.inline_index(pc).is_none();
            if next.1 < first.1 && Some(next.1) != entry_line && outer(first.0) && outer(next.0) {
                first = next;
                body.next();
            } else {
                break;
            }
        }
        first.0
    }

    /// The raw source file at `pc` (the innermost inlined position).
    pub fn file(&self, pc: u64) -> Option<&'a str> {
        let fileno = self.tab.pcvalue(self.pcfile_off(), self.entry, pc)?;
        self.tab.file_name(self.cu_offset(), fileno)
    }

    /// The raw source line at `pc` (the innermost inlined position).
    pub fn line(&self, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcln_off(), self.entry, pc)
    }

    /// The function's file as the runtime reports it (the file at its entry).
    pub fn entry_file(&self) -> Option<&'a str> {
        self.file(self.entry)
    }

    fn inline_tree(&self) -> Option<usize> {
        self.tab.gofunc.as_ref()?;
        self.funcdata_offset(FUNCDATA_INL_TREE).map(|o| o as usize)
    }

    fn inline_index(&self, pc: u64) -> Option<i32> {
        self.pcdata(PCDATA_INL_TREE_INDEX, pc).filter(|&i| i >= 0)
    }

    /// (start, end, value) runs of one pc-value table over the function's code.
    pub fn pc_values(&self, table: u32) -> Option<PcValueIter<'a>> {
        (table != 0).then(|| {
            PcValueIter::new(
                self.tab.pctab(),
                table as usize,
                self.entry,
                self.tab.header.min_lc,
            )
        })
    }

    /// The runs of the function's frame-size table.
    pub fn sp_deltas(&self) -> Option<PcValueIter<'a>> {
        self.pc_values(self.pcsp_off())
    }

    /// `(start, file, line)` wherever the innermost source position changes within the
    /// function, in pc order (the rows of a line table), and the end of the last row (the
    /// padding after it has no position). Bounded by the function's end.
    pub fn line_rows(&self) -> (Vec<LineRow<'a>>, u64) {
        let runs = |table: u32| -> Vec<(u64, u64, i32)> {
            self.pc_values(table).map_or_else(Vec::new, |it| {
                it.take_while(|&(start, _, _)| start < self.end)
                    .take(MAX_LINE_RUNS)
                    .collect()
            })
        };
        let files = runs(self.pcfile_off());
        let lines = runs(self.pcln_off());
        let mut rows: Vec<LineRow<'a>> = Vec::new();
        let mut file_at = files.iter().peekable();
        for &(start, end, line) in &lines {
            let mut pc = start;
            while pc < end {
                while file_at.peek().is_some_and(|&&(_, fend, _)| fend <= pc) {
                    file_at.next();
                }
                let (file, until) = match file_at.peek() {
                    Some(&&(fstart, fend, no)) if fstart <= pc => {
                        (self.tab.file_name(self.cu_offset(), no), fend.min(end))
                    }
                    _ => (None, end),
                };
                if rows.last().is_none_or(|&(_, f, l)| f != file || l != line) {
                    rows.push((pc, file, line));
                }
                if until <= pc {
                    break;
                }
                pc = until;
            }
        }
        let last = lines
            .last()
            .map_or(self.entry, |&(_, end, _)| end.min(self.end));
        (rows, last)
    }
}

impl std::fmt::Debug for Func<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Func({} {:#x}..{:#x})",
            self.name(),
            self.entry,
            self.end
        )
    }
}

/// Iterates the runs of a pc-value table: each item is `(start_pc, end_pc, value)`.
/// The encoding is the runtime's: zig-zag varint value deltas and varint pc deltas scaled
/// by the instruction quantum, starting from value -1 at the function entry.
pub struct PcValueIter<'a> {
    data: &'a [u8],
    pos: usize,
    pc: u64,
    entry: u64,
    value: i32,
    quantum: u64,
    done: bool,
}

impl<'a> PcValueIter<'a> {
    fn new(pctab: &'a [u8], off: usize, entry: u64, quantum: u8) -> Self {
        PcValueIter {
            data: pctab,
            pos: off,
            pc: entry,
            entry,
            value: -1,
            quantum: u64::from(quantum),
            done: off >= pctab.len(),
        }
    }
}

impl Iterator for PcValueIter<'_> {
    type Item = (u64, u64, i32);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = (|| {
            let uv = read_uvarint(self.data, &mut self.pos)?;
            // A zero delta ends the table, except at the very first step.
            if uv == 0 && self.pc != self.entry {
                return None;
            }
            let delta = zigzag(uv);
            let pcdelta = read_uvarint(self.data, &mut self.pos)?.checked_mul(self.quantum)?;
            let start = self.pc;
            self.pc = self.pc.checked_add(pcdelta)?;
            self.value = self.value.wrapping_add(delta);
            Some((start, self.pc, self.value))
        })();
        if step.is_none() {
            self.done = true;
        }
        step
    }
}
