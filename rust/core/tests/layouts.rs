//! The checked-in runtime layout tables agree with the DWARF of every fixture binary, the
//! stripped fixtures get their layout from the tables, and malformed DWARF is an error, never a
//! panic.
//!
//! Fixtures are built by the test harness under `build/fixtures/<toolchain>/<fixture>/bin`
//! (`$GOSCOPE_FIXTURES` overrides the directory); the test over them is ignored in a plain
//! `cargo test` and fails without them when run (scripts/test runs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use goscope_core::binary::buildinfo::BuildInfo;
use goscope_core::binary::elf::{Dwarf, ElfImage};
use goscope_core::bytes::Blob;
use goscope_core::layout::{LayoutSource, RuntimeLayout, CORE_TYPES};

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("GOSCOPE_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/fixtures"),
    }
}

/// Every `<toolchain>/<fixture>/bin` under the fixtures directory.
fn fixture_binaries() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(toolchains) = std::fs::read_dir(fixtures_dir()) else {
        return out;
    };
    for toolchain in toolchains.flatten() {
        let Ok(fixtures) = std::fs::read_dir(toolchain.path()) else {
            continue;
        };
        for fixture in fixtures.flatten() {
            let bin = fixture.path().join("bin");
            if bin.is_file() {
                out.push(bin);
            }
        }
    }
    out.sort();
    out
}

/// Differences between the table and the layout read from DWARF, for everything in the table.
fn compare(table: &RuntimeLayout, dwarf: &RuntimeLayout) -> Vec<String> {
    let mut problems = Vec::new();
    for ty in table.types() {
        let Some(found) = dwarf.type_layout(ty.name()) else {
            if CORE_TYPES.contains(&ty.name()) {
                problems.push(format!("{} is missing from DWARF", ty.name()));
            }
            continue;
        };
        if found.size() != ty.size() {
            problems.push(format!(
                "{} size: table {}, DWARF {}",
                ty.name(),
                ty.size(),
                found.size()
            ));
        }
        // Field by field in declaration order: blank `_` fields share a name.
        let (want, got) = (ty.fields(), found.fields());
        for (i, field) in want.iter().enumerate() {
            match got.get(i) {
                Some(f) if f == field => {}
                Some(f) => problems.push(format!("{}: table {field:?}, DWARF {f:?}", ty.name())),
                None => problems.push(format!(
                    "{}.{} is missing from DWARF",
                    ty.name(),
                    field.name
                )),
            }
        }
        if got.len() > want.len() {
            problems.push(format!(
                "{}: DWARF has {} fields, the table {}",
                ty.name(),
                got.len(),
                want.len()
            ));
        }
    }
    for (name, value) in table.constants() {
        if dwarf.constant(name) != Some(*value) {
            problems.push(format!(
                "constant {name}: table {value}, DWARF {:?}",
                dwarf.constant(name)
            ));
        }
    }
    if dwarf.wait_reasons() != table.wait_reasons() {
        problems.push(format!(
            "waitReasonStrings: table {:?}, binary {:?}",
            table.wait_reasons(),
            dwarf.wait_reasons()
        ));
    }
    problems
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn tables_match_every_fixture() {
    let binaries = fixture_binaries();
    assert!(
        !binaries.is_empty(),
        "no fixture binaries under {} (build them with python3 -m tests.harness.build)",
        fixtures_dir().display()
    );
    let mut failures = Vec::new();
    let (mut with_dwarf, mut without) = (0, 0);
    for bin in &binaries {
        let image = ElfImage::open(bin).expect("fixture opens");
        let version = BuildInfo::read(&image)
            .expect("fixture has build info")
            .version()
            .expect("fixture has a Go version");
        let table = RuntimeLayout::for_version(version)
            .unwrap_or_else(|| panic!("{}: no table for {version:?}", bin.display()));
        if image.dwarf == Dwarf::Absent {
            let layout = RuntimeLayout::for_binary(&image, Some(version)).expect("layout");
            without += 1;
            assert_eq!(RuntimeLayout::from_dwarf(&image).expect("no error"), None);
            assert_eq!(layout.source(), LayoutSource::Table, "{}", bin.display());
            if layout != table {
                failures.push(format!("{}: for_binary is not the table", bin.display()));
            }
            continue;
        }
        with_dwarf += 1;
        let dwarf = RuntimeLayout::from_dwarf(&image)
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
            .unwrap_or_else(|| panic!("{}: DWARF has no runtime layout", bin.display()));
        assert_eq!(dwarf.source(), LayoutSource::Dwarf);
        let problems = compare(&table, &dwarf);
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({}):\n  {}",
                bin.display(),
                table.go_version(),
                problems.join("\n  ")
            ));
        }
        // for_binary reads the DWARF again; once per toolchain is enough.
        if bin.parent().is_some_and(|p| p.ends_with("crash-default")) {
            let layout = RuntimeLayout::for_binary(&image, Some(version)).expect("layout");
            assert_eq!(layout.source(), LayoutSource::Dwarf);
            for ty in table.types() {
                assert!(
                    layout.has_type(ty.name()),
                    "{}: {}",
                    bin.display(),
                    ty.name()
                );
            }
        }
    }
    eprintln!("checked {with_dwarf} fixtures with DWARF and {without} without");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A Go binary with uncompressed DWARF, built once; None when no Go toolchain is available.
fn plain_dwarf_binary() -> Option<Vec<u8>> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layouts");
    let prog = dir.join("prog");
    std::fs::create_dir_all(&prog).expect("create program dir");
    std::fs::write(prog.join("go.mod"), "module example.com/prog\n\ngo 1.21\n").expect("go.mod");
    std::fs::write(
        prog.join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
    )
    .expect("main.go");
    let go = std::env::var("GOSCOPE_TEST_GO").unwrap_or_else(|_| "go".into());
    let out = dir.join("prog.bin");
    let status = Command::new(go)
        .args(["build", "-ldflags=-compressdwarf=false", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&prog)
        .env("CGO_ENABLED", "0")
        .env("GOTOOLCHAIN", "local")
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read(&out).ok()
}

/// The file range of a section.
fn section_range(bytes: &[u8], name: &str) -> (usize, usize) {
    let image = ElfImage::parse(Blob::from_vec(bytes.to_vec())).expect("parses");
    let section = image.section(name).expect("section");
    let (off, len) = section.file_range.expect("file-backed");
    (off as usize, len as usize)
}

#[test]
fn malformed_dwarf_is_an_error_not_a_panic() {
    let Some(good) = plain_dwarf_binary() else {
        eprintln!("no Go toolchain: skipping");
        return;
    };
    let image = ElfImage::parse(Blob::from_vec(good.clone())).expect("parses");
    assert_eq!(image.dwarf, Dwarf::Present);
    let layout = RuntimeLayout::from_dwarf(&image)
        .expect("reads")
        .expect("has runtime.g");
    assert!(layout.size("runtime.g").expect("size") > 0);
    assert!(!layout.wait_reasons().is_empty());

    let (info_off, info_len) = section_range(&good, ".debug_info");
    let (abbrev_off, abbrev_len) = section_range(&good, ".debug_abbrev");
    let info = &good[info_off..info_off + info_len];
    let g_at = info
        .windows(10)
        .position(|w| w == b"runtime.g\0")
        .expect("runtime.g is named inline");

    // Deterministic pseudo-random corruptions around the runtime.g entry and in the
    // abbreviations, then truncations of .debug_info by zeroing its tail.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for i in 0..60 {
        let mut bytes = good.clone();
        let pos = if i % 4 == 3 {
            abbrev_off + (next() as usize) % abbrev_len
        } else {
            info_off + g_at.saturating_sub(64) + (next() as usize) % 4096
        };
        bytes[pos] ^= (next() as u8) | 1;
        cases.push(bytes);
    }
    for cut in [g_at, g_at + 20, g_at + 300, info_len / 2] {
        let mut bytes = good.clone();
        for b in &mut bytes[info_off + cut..info_off + info_len] {
            *b = 0xff;
        }
        cases.push(bytes);
    }
    let mut errors = 0;
    for bytes in cases {
        let image = ElfImage::parse(Blob::from_vec(bytes)).expect("ELF still parses");
        match RuntimeLayout::from_dwarf(&image) {
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                assert!(!e.message().is_empty());
            }
        }
    }
    assert!(errors > 0, "some corruption should be detected");
}
