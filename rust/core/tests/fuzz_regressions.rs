//! Inputs the fuzz targets in rust/fuzz found to crash or hang goscope, reduced to what
//! matters and rebuilt here so that they need neither the fuzz crate nor its corpus. Each
//! test names the target and the finding. The Go program is built by the machine's `go`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use goscope_core::session::Target;
use goscope_core::target::VecMemory;
use goscope_core::Binary;

mod common;

/// A small Go program with symbols and DWARF, built once per test run.
fn go_binary() -> &'static Arc<Binary> {
    static BIN: OnceLock<Arc<Binary>> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_regressions");
        let path = common::build_go_program(&dir);
        Arc::new(Binary::open(&path).expect("open the built program"))
    })
}

fn put(buf: &mut [u8], at: u64, value: u64) {
    let at = at as usize;
    buf.get_mut(at..at + 8)
        .expect("field inside the region")
        .copy_from_slice(&value.to_le_bytes());
}

/// runtime target: an arena map of garbage — every entry of the arena index naming one
/// "arena" whose span map names 8192 different unreadable spans — made the heap walk read
/// and report up to 16M spans (seconds in a release build, more than the fuzzer's 10 s under
/// its sanitizer), once for the walk and again for the object graph.
#[test]
fn heap_walk_gives_up_on_a_garbage_arena_map() {
    let binary = go_binary();
    let (mheap, _) = binary
        .image()
        .symbol("runtime.mheap_")
        .expect("runtime.mheap_ in the symbol table");
    let probe = Target::from_parts(binary.clone(), Arc::new(VecMemory::new()), 0, Vec::new())
        .expect("target over empty memory");
    let heap = probe.runtime().offsets().heap;

    const L2: u64 = 0x10_0000_0000;
    const ARENA: u64 = 0x20_0000_0000;
    let mut mheap_bytes = vec![0u8; 0x20000];
    put(&mut mheap_bytes, heap.mheap_arenas, L2);
    // The whole first block of the arena index names the same arena.
    let mut l2 = vec![0u8; 8192 * 8];
    for i in 0..8192 {
        put(&mut l2, 8 * i, ARENA);
    }
    let mut arena = vec![0u8; (heap.arena_spans + 8192 * 8) as usize];
    for page in 0..8192 {
        put(
            &mut arena,
            heap.arena_spans + 8 * page,
            0x7000_0000_0000 + 0x1000 * page,
        );
    }
    let memory = VecMemory::new()
        .with(mheap, mheap_bytes)
        .with(L2, l2)
        .with(ARENA, arena);
    let target = Target::from_parts(binary.clone(), Arc::new(memory), 0, Vec::new())
        .expect("target over the garbage heap");
    let walk = target.runtime().heap_walk(target.layout());
    assert!(
        walk.warnings.iter().any(|w| w.contains("stopped after")),
        "{:?}",
        walk.warnings
    );
    assert_eq!(walk.totals.spans_in_use, 0);
}

/// pclntab target: a function whose name offset points past the function name table (here
/// into the pc-value tables) got a name that is not UTF-8 as a `&str`, because names were
/// trusted on the strength of the name table alone being UTF-8.
#[test]
fn function_names_outside_the_name_table_are_checked() {
    let mut data = go_binary().image().file_data().to_vec();
    let section = go_binary()
        .image()
        .section(".gopclntab")
        .expect(".gopclntab section");
    let (off, _) = section.file_range.expect(".gopclntab in the file");
    let off = off as usize;
    let word = |data: &[u8], at: usize| {
        u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes")) as usize
    };
    let funcnames = word(&data, off + 32);
    let pctab = word(&data, off + 56);
    let pcln = word(&data, off + 64);
    // A byte in the pc-value tables that no UTF-8 string starts with, with a NUL after it.
    let bad = (off + pctab..data.len())
        .find(|&p| data[p] & 0xc0 == 0x80 && data[p + 1..p + 64].contains(&0))
        .expect("a continuation byte in the pc-value tables");
    let func =
        u32::from_le_bytes(data[off + pcln + 10 * 8 + 4..][..4].try_into().expect("4")) as usize;
    let name_off = off + pcln + func + 4;
    let name = (bad - off - funcnames) as i32;
    data[name_off..name_off + 4].copy_from_slice(&name.to_le_bytes());

    let binary = Binary::from_bytes(data).expect("opens");
    for (name, _, _) in binary.functions() {
        assert!(
            std::str::from_utf8(name.as_bytes()).is_ok(),
            "{:?}",
            name.as_bytes()
        );
    }
}
