//! A debug file for a stripped Go binary, made from its pclntab: one DWARF subprogram per
//! function and a line table, so that a debugger names every Go function and knows its lines
//! (`frame`, `up`, `finish`, `info line`, `break main.go:42`) where the linker dropped DWARF.
//!
//! The file is an ELF file with no code: every allocated section of the executable is copied
//! as an empty (NOBITS) section of the same name, address and size — debuggers pair a debug
//! file's sections with the executable's by those — plus `.debug_abbrev`, `.debug_info`,
//! `.debug_line` and `.debug_str`.

use std::collections::HashMap;

use crate::binary::elf::Arch;
use crate::binary::Binary;

const DW_LANG_GO: u8 = 0x16;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

fn uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `.debug_str`, each string stored once.
#[derive(Default)]
struct Strings {
    data: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Strings {
    fn offset(&mut self, text: &str) -> u32 {
        if let Some(&offset) = self.offsets.get(text) {
            return offset;
        }
        let offset = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        self.data.extend_from_slice(text.as_bytes());
        self.data.push(0);
        self.offsets.insert(text.to_owned(), offset);
        offset
    }
}

fn abbrev() -> Vec<u8> {
    vec![
        // 1: compile unit, with children: name, producer, language, low_pc, high_pc,
        // stmt_list.
        1, 0x11, 1, 0x03, 0x08, 0x25, 0x08, 0x13, 0x0b, 0x11, 0x01, 0x12, 0x07, 0x10, 0x17, 0,
        0, //
        // 2: subprogram, no children: name (strp), low_pc, high_pc (length), external.
        2, 0x2e, 0, 0x03, 0x0e, 0x11, 0x01, 0x12, 0x07, 0x3f, 0x19, 0, 0, //
        0,
    ]
}

/// The line program for every function, and the file table it refers to.
fn line_table(binary: &Binary, files: &mut Vec<String>) -> Vec<u8> {
    let mut index: HashMap<&str, u64> = HashMap::new();
    let mut program = Vec::new();
    let tab = binary.pclntab();
    let mut funcs: Vec<_> = tab.funcs().collect();
    funcs.sort_by_key(|f| f.entry());
    for f in &funcs {
        let (rows, last) = f.line_rows();
        if rows.is_empty() || f.end() <= f.entry() {
            continue;
        }
        // DW_LNE_set_address
        program.extend_from_slice(&[0, 9, 2]);
        program.extend_from_slice(&f.entry().to_le_bytes());
        let (mut address, mut file, mut line) = (f.entry(), 1u64, 1i64);
        for (pc, name, row_line) in rows {
            let name = name.unwrap_or("?");
            let next_index = (index.len() as u64).saturating_add(1);
            let file_index = *index.entry(name).or_insert_with(|| {
                files.push(name.to_owned());
                next_index
            });
            if file_index != file {
                program.push(4); // DW_LNS_set_file
                uleb(&mut program, file_index);
                file = file_index;
            }
            // A negative line (no position) becomes DWARF's line 0.
            let row_line = i64::from(row_line.max(0));
            // Both lines are in [0, i32::MAX]: their difference fits.
            if row_line != line {
                program.push(3); // DW_LNS_advance_line
                sleb(&mut program, row_line.wrapping_sub(line));
                line = row_line;
            }
            if pc > address {
                program.push(2); // DW_LNS_advance_pc
                uleb(&mut program, pc.wrapping_sub(address));
                address = pc;
            }
            program.push(1); // DW_LNS_copy
        }
        if last > address {
            program.push(2);
            uleb(&mut program, last.wrapping_sub(address));
        }
        program.extend_from_slice(&[0, 1, 1]); // DW_LNE_end_sequence
    }
    let mut header = Vec::new();
    header.extend_from_slice(&[1, 1, 1, 0xfb, 14, 13]); // min_inst, max_ops, is_stmt, base, range, opcode_base
    header.extend_from_slice(&[0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
    header.push(0); // no include directories
    for name in files.iter() {
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&[0, 0, 0, 0]);
    }
    header.push(0);
    let mut unit = Vec::new();
    unit.extend_from_slice(&4u16.to_le_bytes());
    unit.extend_from_slice(&(header.len() as u32).to_le_bytes());
    unit.extend_from_slice(&header);
    unit.extend_from_slice(&program);
    let mut out = Vec::with_capacity(unit.len().saturating_add(4));
    out.extend_from_slice(&(unit.len() as u32).to_le_bytes());
    out.extend_from_slice(&unit);
    out
}

fn info(binary: &Binary, strings: &mut Strings, low: u64, high: u64) -> Vec<u8> {
    let mut dies = Vec::new();
    dies.push(1);
    dies.extend_from_slice(b"go\0");
    dies.extend_from_slice(b"goscope (from .gopclntab)\0");
    dies.push(DW_LANG_GO);
    dies.extend_from_slice(&low.to_le_bytes());
    dies.extend_from_slice(&high.saturating_sub(low).to_le_bytes());
    dies.extend_from_slice(&0u32.to_le_bytes());
    for f in binary.pclntab().funcs() {
        if f.end() <= f.entry() {
            continue;
        }
        dies.push(2);
        dies.extend_from_slice(&strings.offset(f.name()).to_le_bytes());
        dies.extend_from_slice(&f.entry().to_le_bytes());
        dies.extend_from_slice(&f.end().wrapping_sub(f.entry()).to_le_bytes());
    }
    dies.push(0);
    let mut unit = Vec::new();
    unit.extend_from_slice(&4u16.to_le_bytes());
    unit.extend_from_slice(&0u32.to_le_bytes()); // .debug_abbrev offset
    unit.push(8);
    unit.extend_from_slice(&dies);
    let mut out = Vec::with_capacity(unit.len().saturating_add(4));
    out.extend_from_slice(&(unit.len() as u32).to_le_bytes());
    out.extend_from_slice(&unit);
    out
}

struct SectionHeader {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
}

/// The debug file for `binary` (see the module documentation), or None when it would have
/// more sections than ELF can number.
pub fn symbol_file(binary: &Binary) -> Option<Vec<u8>> {
    let image = binary.image();
    let machine = match image.arch {
        Arch::Amd64 => EM_X86_64,
        Arch::Arm64 => EM_AARCH64,
    };
    let (low, high) = binary.pclntab().pc_range();
    let mut strings = Strings::default();
    let mut files = Vec::new();
    let line = line_table(binary, &mut files);
    let info = info(binary, &mut strings, low, high);
    let abbrev = abbrev();

    let mut shstrtab = vec![0u8];
    let mut name_of = |name: &str| -> u32 {
        let offset = shstrtab.len() as u32;
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
        offset
    };
    let mut headers = vec![SectionHeader {
        name: 0,
        kind: 0,
        flags: 0,
        addr: 0,
        offset: 0,
        size: 0,
    }];
    for section in image
        .sections
        .iter()
        .filter(|s| s.addr != 0 && !s.name.is_empty())
    {
        let mut flags = 0x2; // SHF_ALLOC
        if section.writable {
            flags |= 0x1;
        }
        if section.name == ".text" {
            flags |= 0x4;
        }
        headers.push(SectionHeader {
            name: name_of(&section.name),
            kind: 8, // NOBITS
            flags,
            addr: section.addr,
            offset: 0,
            size: section.size,
        });
    }
    let mut body: Vec<u8> = vec![0; 64];
    let add = |headers: &mut Vec<SectionHeader>, name: u32, data: &[u8], body: &mut Vec<u8>| {
        headers.push(SectionHeader {
            name,
            kind: 1, // PROGBITS
            flags: 0,
            addr: 0,
            offset: body.len() as u64,
            size: data.len() as u64,
        });
        body.extend_from_slice(data);
    };
    let names = [
        name_of(".debug_abbrev"),
        name_of(".debug_info"),
        name_of(".debug_line"),
        name_of(".debug_str"),
    ];
    add(&mut headers, names[0], &abbrev, &mut body);
    add(&mut headers, names[1], &info, &mut body);
    add(&mut headers, names[2], &line, &mut body);
    add(&mut headers, names[3], &strings.data, &mut body);
    let shstrtab_name = name_of(".shstrtab");
    headers.push(SectionHeader {
        name: shstrtab_name,
        kind: 3, // STRTAB
        flags: 0,
        addr: 0,
        offset: body.len() as u64,
        size: shstrtab.len() as u64,
    });
    body.extend_from_slice(&shstrtab);
    while !body.len().is_multiple_of(8) {
        body.push(0);
    }
    let section_offset = body.len() as u64;
    let count = u16::try_from(headers.len()).ok()?;
    for h in &headers {
        body.extend_from_slice(&h.name.to_le_bytes());
        body.extend_from_slice(&h.kind.to_le_bytes());
        body.extend_from_slice(&h.flags.to_le_bytes());
        body.extend_from_slice(&h.addr.to_le_bytes());
        body.extend_from_slice(&h.offset.to_le_bytes());
        body.extend_from_slice(&h.size.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes()); // link
        body.extend_from_slice(&0u32.to_le_bytes()); // info
        body.extend_from_slice(&1u64.to_le_bytes()); // align
        body.extend_from_slice(&0u64.to_le_bytes()); // entsize
    }
    let mut header = Vec::with_capacity(64);
    header.extend_from_slice(b"\x7fELF");
    header.extend_from_slice(&[2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let elf_type: u16 = if image.pie { 3 } else { 2 };
    header.extend_from_slice(&elf_type.to_le_bytes());
    header.extend_from_slice(&machine.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&image.entry.to_le_bytes());
    header.extend_from_slice(&0u64.to_le_bytes()); // no program headers
    header.extend_from_slice(&section_offset.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&64u16.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&64u16.to_le_bytes());
    header.extend_from_slice(&count.to_le_bytes());
    // .shstrtab is the last section.
    header.extend_from_slice(&count.saturating_sub(1).to_le_bytes());
    body.splice(0..64, header);
    Some(body)
}
