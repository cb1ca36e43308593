//! The body of every fuzz target, called by the fuzz targets, by the seed generator and by
//! `examples/replay.rs`. Each calls the core's public API the way goscope's commands do and
//! ignores the results: panics, aborts, runaway allocation and hangs are the findings.

use std::sync::{Arc, OnceLock};

use goscope_core::analysis::heapreport::GroupBy;
use goscope_core::binary::buildinfo::{parse_modinfo, BuildInfo, GoVersion};
use goscope_core::binary::elf::ElfImage;
use goscope_core::bytes::Blob;
use goscope_core::report::{self, render_stack, TextOptions};
use goscope_core::runtime::UserCode;
use goscope_core::session::Target;
use goscope_core::target::{CoreFile, CoreMemory, Memory, MemoryExt};
use goscope_core::Binary;

use crate::elfbytes::{self, NewSection};
use crate::fixtures::{self, Loaded, Set};
use crate::image::{self, Cursor, ProcessImage};

/// Functions whose tables a pclntab input walks in full; the rest get the cheap lookups.
const DEEP_FUNCS: usize = 256;
/// Segments of a core whose first bytes are read.
const SEGMENT_READS: usize = 64;

/// `Binary::from_bytes` on arbitrary bytes, then what `goscope info` and the first lookups
/// read; the ELF reader's own queries on what it parsed, whether a Go binary or not.
pub fn elf(data: &[u8]) {
    match Binary::from_bytes(data.to_vec()) {
        Ok(binary) => {
            image_queries(binary.image());
            binary_queries(&binary);
        }
        Err(_) => {
            if let Ok(image) = ElfImage::parse(Blob::from_vec(data.to_vec())) {
                image_queries(&image);
            }
        }
    }
}

fn image_queries(image: &ElfImage) {
    for s in &image.sections {
        let _ = image.section_data(s);
    }
    let _ = image.data_from(image.entry);
    let _ = image.read_ptr(image.entry);
    let _ = image.is_mapped(image.entry);
    let _ = image.data_symbols();
    let _ = image.symbol("runtime.allgs");
    let _ = image.relocated_pointers_to(image.entry).count();
    let _ = image.writable_data_sections().count();
    let _ = BuildInfo::read(image);
}

/// What goscope asks of every binary it opens, cheaply enough to do on each input.
fn binary_queries(binary: &Binary) {
    let info = binary.info();
    let _ = serde_json::to_string(&info);
    check_locations(binary.pc_line(info.entry).as_slice());
    check_locations(&binary.lookup(info.entry));
    let _ = binary.function("main.main");
    let _ = binary.go_version();
    for (name, entry, end) in binary.functions().take(64) {
        check_utf8("function name", name);
        check_locations(&binary.lookup(entry));
        check_locations(binary.pc_line(end.wrapping_sub(1)).as_slice());
    }
}

/// `CoreFile::parse` on arbitrary bytes: notes, threads, segments; reads through the core;
/// then the core laid over a real executable as `goscope` opens a core.
pub fn core(data: &[u8]) {
    let Ok(core) = CoreFile::parse(Blob::from_vec(data.to_vec())) else {
        return;
    };
    let _ = core.arch();
    for t in core.threads() {
        let _ = (t.registers.pc(), t.registers.sp(), t.registers.g_register());
        let _ = t.registers.named();
        let _ = t.siginfo.as_ref().map(|s| s.signal_name());
    }
    let _ = core.process();
    let _ = core.signal().map(|s| (s.signal_name(), s.from_kernel()));
    let _ = core.mapped_files().len();
    let _ = core.auxv_value(9);
    let _ = core.warnings();
    for s in core.segments().iter().take(SEGMENT_READS) {
        let mut buf = [0u8; 64];
        let _ = core.read_at(s.addr, &mut buf);
        let _ = core.read_u64(s.addr.wrapping_add(s.mem_size).wrapping_sub(8));
        let _ = core.read_cstr(s.addr, 256);
    }
    let Some(exe) = fixtures::pick(Set::Runtime, data.get(0x3f).copied().unwrap_or(0)) else {
        return;
    };
    let image = exe.binary.image();
    let _ = core.load_bias(image);
    let _ = core.check_executable(image);
    let threads = core.threads().to_vec();
    let Ok(memory) = CoreMemory::new_unchecked(core, image) else {
        return;
    };
    let bias = memory.bias();
    let _ = memory.read_u64(image.entry.wrapping_add(bias));
    let _ = memory.read_go_string(image.entry.wrapping_add(bias));
    if let Ok(target) = Target::from_parts(exe.binary.clone(), Arc::new(memory), bias, threads) {
        let rt = target.runtime();
        let _ = rt.goroutines(false).len();
        let _ = rt.threads();
        let _ = goscope_core::analysis::crash::crash(&rt);
    }
}

/// Address of the synthetic executable's data, where the build info is placed.
const SKELETON_DATA: u64 = 0x50_0000;

/// The build info reader on arbitrary bytes: as the `.go.buildinfo` section of a minimal
/// executable, as data that a stripped executable's scan finds, and as `go version -m` text.
pub fn buildinfo(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let _ = GoVersion::parse(&String::from_utf8_lossy(
        payload.get(..32).unwrap_or(payload),
    ));
    let exe = match mode % 3 {
        0 => elfbytes::executable(
            &[NewSection {
                name: ".go.buildinfo",
                addr: SKELETON_DATA,
                writable: true,
                data: payload,
                size: 0,
            }],
            SKELETON_DATA,
        ),
        1 => {
            // Unnamed: found only by the scan of writable data for the 16-byte aligned magic.
            let pad = usize::from(mode >> 2) * 16;
            let mut bytes = vec![0u8; pad];
            bytes.extend_from_slice(payload);
            elfbytes::executable(
                &[NewSection {
                    name: ".noptrdata",
                    addr: SKELETON_DATA,
                    writable: true,
                    data: &bytes,
                    size: 0,
                }],
                SKELETON_DATA,
            )
        }
        _ => {
            if let Ok(info) = parse_modinfo(&String::from_utf8_lossy(payload)) {
                let _ = serde_json::to_string(&info);
                let _ = info.setting("GOOS");
            }
            return;
        }
    };
    if let Ok(image) = ElfImage::parse(Blob::from_vec(exe.clone())) {
        if let Ok(info) = BuildInfo::read(&image) {
            let _ = info.version().map(|v| v.at_least(1, 22));
            let _ = info.setting("-buildmode");
            let _ = serde_json::to_string(&info);
        }
    }
    // Without a pclntab this is not a Go binary; the error must still come out whole.
    let _ = Binary::from_bytes(exe).map(|b| b.info());
}

/// A real executable whose pclntab the input replaces (first byte after the selector even)
/// or patches (odd: runs of `u32 offset, u8 length, bytes`), then every lookup goscope
/// makes of it: functions, pc → file:line with inlined calls, pcdata and funcdata, line
/// tables, inlined copies.
pub fn pclntab(data: &[u8]) {
    let mut c = Cursor::new(data);
    let Some(exe) = fixtures::pick(Set::Tables, c.u8()) else {
        return;
    };
    let Some(spot) = exe.pclntab else {
        return;
    };
    let mode = c.u8();
    let mut file = exe.file().to_vec();
    if mode & 1 == 0 {
        let payload = c.bytes(spot.size);
        let end = spot.offset.saturating_add(payload.len());
        if let Some(dst) = file.get_mut(spot.offset..end) {
            dst.copy_from_slice(payload);
        }
        // A shorter table is a shorter section.
        let size = (payload.len() as u64).to_le_bytes();
        if let Some(dst) = file.get_mut(spot.size_field..spot.size_field + 8) {
            dst.copy_from_slice(&size);
        }
    } else {
        while !c.is_empty() {
            let at = c.u32() as usize % spot.size.max(1);
            let len = usize::from(c.u8());
            let bytes = c.bytes(len);
            let from = spot.offset + at;
            let to = (from + bytes.len()).min(spot.offset + spot.size);
            if let (Some(dst), Some(src)) = (file.get_mut(from..to), bytes.get(..to - from)) {
                dst.copy_from_slice(src);
            }
        }
    }
    let Ok(binary) = Binary::from_bytes(file) else {
        return;
    };
    pclntab_queries(&binary);
}

/// The tables' strings are handed out as `&str`, some without a UTF-8 check of their own:
/// one that is not UTF-8 is a finding even when nothing crashes on it yet.
fn check_utf8(what: &str, s: &str) {
    assert!(
        std::str::from_utf8(s.as_bytes()).is_ok(),
        "{what} is not UTF-8: {:?}",
        s.as_bytes()
    );
}

fn check_locations(locations: &[goscope_core::Location<'_>]) {
    for l in locations {
        check_utf8("function name", l.function);
        check_utf8("file name", l.file);
    }
}

fn pclntab_queries(binary: &Binary) {
    binary_queries(binary);
    let tab = binary.pclntab();
    let _ = tab.files().len();
    let _ = tab.pc_range();
    let mut name = "runtime.gopark";
    for (i, f) in tab.funcs().enumerate() {
        let (entry, end) = (f.entry(), f.end());
        check_utf8("function name", f.name());
        check_locations(&binary.lookup(entry.wrapping_add(end.wrapping_sub(entry) / 2)));
        check_locations(binary.pc_line(end.wrapping_sub(1)).as_slice());
        let _ = (
            f.args(),
            f.deferreturn(),
            f.start_line(),
            f.func_id(),
            f.flag(),
        );
        let _ = f.sp_delta(end.wrapping_sub(1));
        if i >= DEEP_FUNCS && i % 64 != 0 {
            continue;
        }
        let _ = binary.body_start(entry);
        if let Some(file) = f.entry_file() {
            check_utf8("file name", file);
        }
        for k in 0..f.npcdata().min(8) {
            let _ = f.pcdata_table(k as usize);
            let _ = f.pcdata(k as usize, entry);
        }
        for k in 0..f.nfuncdata().min(8) {
            let _ = f.funcdata_offset(usize::from(k));
            let _ = f.funcdata(usize::from(k));
        }
        let _ = f.line_rows();
        if let Some(deltas) = f.sp_deltas() {
            let _ = deltas.take(4096).count();
        }
        if i == DEEP_FUNCS / 2 {
            name = f.name();
        }
    }
    // Each of these reads every function's tables once more.
    let _ = binary.inlined_copies(name);
    let _ = tab.find_by_name(name);
    let _ = binary.pcs_for_line("main.go", 10);
}

/// The runtime walkers over a process image built from the input (see [`image`]): the
/// goroutines with their stacks, defers and panics, the crash, the triage, the scheduler,
/// the heap walk and the heap's object graph with its reports.
pub fn runtime(data: &[u8]) {
    let image = ProcessImage::decode(data);
    let Some(exe) = fixtures::pick(Set::Runtime, image.selector) else {
        return;
    };
    let pie = exe.binary.image().pie;
    let bias = if pie { image.bias } else { 0 };
    let arch = exe.binary.image().arch;
    let threads = image.threads.iter().map(|t| t.thread(arch)).collect();
    let memory = image::memory(data, &image, exe, pie);
    let Ok(target) = Target::from_parts(exe.binary.clone(), memory, bias, threads) else {
        return;
    };
    exercise(&target, exe);
}

/// Everything the runtime target asks of a target: also what seeds are recorded from.
pub fn exercise(target: &Target, exe: &Loaded) {
    let rt = target.runtime();
    let layout = target.layout();
    let goroutines = rt.goroutines(true);
    let mut text = Vec::new();
    let opts = TextOptions {
        color: false,
        system: true,
    };
    for g in goroutines.iter().take(64) {
        text.clear();
        render_stack(&mut text, g, opts);
        let _ = (g.defers.len(), g.panics.len());
    }
    let _ = report::write_goroutines_json(rt, &mut std::io::sink(), true, &|_| true);
    let _ = report::write_listing_text(
        rt,
        &mut |_| Ok(()),
        TextOptions::default(),
        &UserCode::new(vec!["main".to_string()]),
        None,
        &|_| true,
    );
    // What `target.heap_graph()` builds, with the DWARF variables loaded once per fuzzing
    // process instead of on every input; triage builds it only when it needs it.
    let graph = OnceLock::new();
    let build = || {
        Arc::clone(graph.get_or_init(|| {
            Arc::new(goscope_core::analysis::heapgraph::heap_graph(
                rt,
                layout,
                exe.dwarf.as_ref(),
            ))
        }))
    };
    let _ = serde_json::to_string(&goscope_core::analysis::crash::crash(&rt));
    let _ = serde_json::to_string(&goscope_core::analysis::groups::triage_with(
        rt,
        None,
        Some(&build),
    ));
    let _ = serde_json::to_string(&rt.scheduler(layout));
    let _ = serde_json::to_string(&rt.threads());
    let _ = serde_json::to_string(&rt.ps());
    let _ = serde_json::to_string(&rt.heap_walk(layout));
    let graph = build();
    for by in [GroupBy::Type, GroupBy::SizeClass, GroupBy::Root] {
        let _ = serde_json::to_string(&graph.report(by, 10));
    }
    let mut probes: Vec<u64> = Vec::new();
    probes.extend(graph.objects.first().map(|o| o.addr));
    probes.extend(
        graph
            .objects
            .last()
            .map(|o| o.addr.wrapping_add(o.size / 2)),
    );
    probes.extend(graph.objects.get(graph.objects.len() / 2).map(|o| o.addr));
    probes.push(0);
    for addr in probes {
        let _ = serde_json::to_string(&graph.why(addr, rt.types()));
    }
    let _ = graph.pprof();
}
