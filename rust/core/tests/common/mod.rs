//! Helpers the integration tests share. Each test crate compiles this module and uses only
//! part of it, so what one leaves unused is not dead code.
#![allow(dead_code)]

pub mod fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds a small Go program that prints "hello" in `dir`, with the machine's `go`
/// (`$GOSCOPE_TEST_GO` overrides it) and without cgo; returns the executable's path.
pub fn build_go_program(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create program dir");
    std::fs::write(dir.join("go.mod"), "module example.com/prog\n\ngo 1.21\n")
        .expect("write go.mod");
    std::fs::write(
        dir.join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
    )
    .expect("write main.go");
    let go = std::env::var("GOSCOPE_TEST_GO").unwrap_or_else(|_| "go".into());
    let status = Command::new(go)
        .args(["build", "-o", "prog"])
        .current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .status()
        .expect("run go build (is Go installed?)");
    assert!(status.success(), "go build failed");
    dir.join("prog")
}
