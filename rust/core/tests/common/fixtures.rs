//! The fixture cores the Python harness builds under build/fixtures (`$GOSCOPE_FIXTURES`
//! overrides the directory). The library's unit tests compile this file too (see
//! src/runtime/mod.rs), so it needs nothing but std.

use std::path::{Path, PathBuf};

/// Every fixture directory that holds a `core` and its `bin`, sorted; fails when there is
/// none.
pub fn fixture_cores() -> Vec<PathBuf> {
    let root = std::env::var_os("GOSCOPE_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/fixtures"),
        PathBuf::from,
    );
    let mut out = Vec::new();
    for tc in std::fs::read_dir(&root).expect("fixtures directory (run tests.harness.build)") {
        let tc = tc.expect("dir entry").path();
        if !tc.is_dir() {
            continue;
        }
        for fx in std::fs::read_dir(&tc).expect("toolchain dir") {
            let fx = fx.expect("dir entry").path();
            if fx.join("core").is_file() && fx.join("bin").is_file() {
                out.push(fx);
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no fixture cores under {}", root.display());
    out
}
