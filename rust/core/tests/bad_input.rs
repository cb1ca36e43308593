//! Bad input gives one clear error, never a panic: non-ELF files, non-Go ELF files, truncated
//! and corrupted Go binaries. The Go binary is built by the machine's `go` at test time.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use goscope_core::{Binary, ErrorKind};

mod common;

fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A small Go program, built once per test run.
fn go_binary() -> &'static [u8] {
    static BIN: OnceLock<Vec<u8>> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = common::build_go_program(&scratch_dir().join("prog"));
        std::fs::read(path).expect("read built binary")
    })
}

fn write(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, data).expect("write test input");
    path
}

fn open_err(path: &Path) -> goscope_core::Error {
    match Binary::open(path) {
        Ok(_) => panic!("{} opened but should not have", path.display()),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "error is not one line: {msg:?}");
            assert!(!msg.is_empty());
            e
        }
    }
}

/// Section (address, file offset, size) by name, read with the same parser the core uses.
fn section(data: &[u8], name: &str) -> (u64, usize, usize) {
    use object::{Object, ObjectSection};
    let file = object::File::parse(data).expect("parse good binary");
    let s = file.section_by_name(name).expect("section present");
    let (off, size) = s.file_range().expect("section has file data");
    (s.address(), off as usize, size as usize)
}

#[test]
fn text_file_is_not_elf() {
    let e = open_err(&write("text", b"hello, world\n"));
    assert_eq!(e.kind(), ErrorKind::NotElf);
}

#[test]
fn empty_file_is_not_elf() {
    let e = open_err(&write("empty", b""));
    assert_eq!(e.kind(), ErrorKind::NotElf);
    assert!(e.to_string().contains("empty"));
}

#[test]
fn missing_file_is_io() {
    let e = open_err(Path::new("/nonexistent/goscope/binary"));
    assert_eq!(e.kind(), ErrorKind::Io);
}

#[test]
fn directory_is_io() {
    let e = open_err(&scratch_dir());
    assert_eq!(e.kind(), ErrorKind::Io);
}

#[test]
fn c_binary_is_not_go() {
    let e = open_err(Path::new("/bin/ls"));
    assert_eq!(e.kind(), ErrorKind::NotGo, "{e}");
    assert!(e.to_string().contains("not a Go binary"), "{e}");
}

#[test]
fn good_binary_opens() {
    let path = write("good", go_binary());
    let bin = Binary::open(&path).expect("good binary opens");
    let info = bin.info();
    assert!(info.functions > 100);
    assert!(info.moduledata.is_some(), "moduledata located");
    assert!(info.funcdata, "funcdata (inline trees) reachable");
    assert_eq!(info.path.as_deref(), Some("example.com/prog"));
    let (entry, end) = bin.function("main.main").expect("main.main present");
    assert!(entry < end);
    assert_eq!(bin.pc_line(entry).map(|l| l.function), Some("main.main"));
    assert!(!bin.pcs_for_line("main.go", 5).is_empty());
}

#[test]
fn truncated_binaries_fail_cleanly() {
    let good = go_binary();
    for cut in [1usize, 10, 63, 64, 100, 4096] {
        let e = open_err(&write(
            &format!("cut{cut}"),
            good.get(..cut).unwrap_or(good),
        ));
        assert!(
            matches!(e.kind(), ErrorKind::Truncated | ErrorKind::NotElf),
            "cut at {cut}: {e}"
        );
    }
    for percent in [10usize, 50, 90, 99] {
        let cut = good.len() * percent / 100;
        let path = write(&format!("cut{percent}pct"), good.get(..cut).unwrap_or(good));
        // A cut that spares the Go tables still opens, and says the file is truncated.
        match Binary::open(&path) {
            Ok(bin) => {
                let warnings = bin.info().warnings;
                assert!(
                    warnings.iter().any(|w| w.contains("truncated")),
                    "cut at {percent}%: {warnings:?}"
                );
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "{msg:?}");
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::Truncated | ErrorKind::Corrupt | ErrorKind::NotGo
                    ),
                    "cut at {percent}%: {e}"
                );
            }
        }
    }
}

#[test]
fn corrupted_pclntab_magic_is_named() {
    let mut data = go_binary().to_vec();
    let (_, off, _) = section(&data, ".gopclntab");
    data.get_mut(off..off + 4)
        .expect("magic in range")
        .copy_from_slice(&0x1234_5678u32.to_le_bytes());
    let e = open_err(&write("badmagic", &data));
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(e.to_string().contains("pclntab magic"), "{e}");
}

#[test]
fn corrupted_function_table_is_named() {
    let mut data = go_binary().to_vec();
    let (_, off, _) = section(&data, ".gopclntab");
    let pcln_offset = u64::from_le_bytes(
        data.get(off + 8 + 8 * 7..off + 8 + 8 * 8)
            .and_then(|b| b.try_into().ok())
            .expect("header in range"),
    ) as usize;
    // Swap the order of the function table: entry 10's pc offset becomes huge.
    let at = off + pcln_offset + 10 * 8;
    data.get_mut(at..at + 4)
        .expect("entry in range")
        .copy_from_slice(&u32::MAX.to_le_bytes());
    let e = open_err(&write("badftab", &data));
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(e.to_string().contains("function table"), "{e}");
}

#[test]
fn huge_function_count_is_named() {
    let mut data = go_binary().to_vec();
    let (_, off, _) = section(&data, ".gopclntab");
    data.get_mut(off + 8..off + 16)
        .expect("nfunc in range")
        .copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let e = open_err(&write("hugenfunc", &data));
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
}

#[test]
fn corrupted_buildinfo_keeps_the_rest() {
    let mut data = go_binary().to_vec();
    let (_, off, _) = section(&data, ".go.buildinfo");
    data.get_mut(off..off + 4)
        .expect("buildinfo in range")
        .copy_from_slice(b"XXXX");
    let path = write("badbuildinfo", &data);
    let bin = Binary::open(&path).expect("opens without build info");
    let info = bin.info();
    let err = info.build_info_error.expect("build info error reported");
    assert!(err.contains("build info"), "{err}");
    assert!(info.functions > 100, "the function table is still read");
}

/// Scribbling over the pc-value and name tables must never panic: opening either fails
/// with an error or succeeds, and every lookup afterwards returns something or nothing.
#[test]
fn scribbled_tables_never_panic() {
    let good = go_binary();
    let (_, off, size) = section(good, ".gopclntab");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..40 {
        let mut data = good.to_vec();
        for _ in 0..(1 + round * 50) {
            let at = off + (next() as usize % size);
            if let Some(b) = data.get_mut(at) {
                *b = next() as u8;
            }
        }
        let Ok(bin) = Binary::from_bytes(data) else {
            continue;
        };
        let funcs: Vec<(u64, u64)> = bin.functions().map(|(_, a, b)| (a, b)).collect();
        for (entry, end) in funcs.iter().take(2000) {
            let _ = bin.lookup(*entry);
            let _ = bin.pc_line(end.saturating_sub(1));
        }
        let _ = bin.pcs_for_line("main.go", 5);
        let _ = bin.info();
    }
}
