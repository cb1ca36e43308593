//! Prints the runtime layout table of a Go binary built with DWARF:
//! `goscope-layouts BINARY [--goroot GOROOT]`.
//!
//! Struct layouts, span states and heap constants come from the binary's DWARF. With
//! `--goroot`, the goroutine and P states, the `waitReason` values and `waitReasonStrings` are
//! taken from `GOROOT/src/runtime/runtime2.go` after checking that they agree with what the
//! binary's DWARF and data say; any disagreement is an error. The table is labelled with the
//! binary's minor release ("go1.26"). `scripts/gen-layouts` runs this for every toolchain.

use std::path::PathBuf;
use std::process::ExitCode;

use goscope_core::binary::buildinfo::BuildInfo;
use goscope_core::binary::elf::ElfImage;
use goscope_core::layout::source::parse_runtime2;
use goscope_core::layout::{is_source_constant, RuntimeLayout};

const USAGE: &str = "usage: goscope-layouts BINARY [--goroot GOROOT]";

fn main() -> ExitCode {
    match run() {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("goscope-layouts: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, String> {
    let mut binary: Option<PathBuf> = None;
    let mut goroot: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--goroot" => goroot = Some(args.next().ok_or(USAGE)?.into()),
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ if binary.is_none() && !arg.starts_with('-') => binary = Some(arg.into()),
            _ => return Err(format!("unexpected argument {arg}\n{USAGE}")),
        }
    }
    let binary = binary.ok_or(USAGE)?;
    let image = ElfImage::open(&binary).map_err(|e| e.to_string())?;
    let version = BuildInfo::read(&image)
        .ok()
        .and_then(|b| b.version())
        .ok_or_else(|| format!("{}: no Go version in build info", binary.display()))?;
    let mut layout = RuntimeLayout::from_dwarf(&image)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .ok_or_else(|| format!("{}: no DWARF describing runtime.g", binary.display()))?;
    layout.set_go_version(format!("go{}.{}", version.major, version.minor));

    if let Some(goroot) = goroot {
        let path = goroot.join("src/runtime/runtime2.go");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let source = parse_runtime2(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut problems = Vec::new();
        let from_dwarf: Vec<(&String, &i64)> = layout
            .constants()
            .iter()
            .filter(|(name, _)| is_source_constant(name))
            .collect();
        let from_source: Vec<(&String, &i64)> = source.constants.iter().collect();
        if from_dwarf != from_source {
            for (name, value) in &source.constants {
                match layout.constant(name) {
                    Some(v) if v == *value => {}
                    Some(v) => problems.push(format!("{name} is {value} in source, {v} in DWARF")),
                    None => problems.push(format!("{name} = {value} in source, not in DWARF")),
                }
            }
            for (name, value) in &from_dwarf {
                if !source.constants.contains_key(*name) {
                    problems.push(format!("{name} = {value} in DWARF, not in source"));
                }
            }
        }
        if !layout.wait_reasons().is_empty() && layout.wait_reasons() != source.wait_reasons {
            problems.push(format!(
                "waitReasonStrings differ: source {:?}, binary {:?}",
                source.wait_reasons,
                layout.wait_reasons()
            ));
        }
        if !problems.is_empty() {
            return Err(format!(
                "{} and {} disagree:\n  {}",
                binary.display(),
                path.display(),
                problems.join("\n  ")
            ));
        }
        let mut constants = layout.constants().clone();
        constants.retain(|name, _| !is_source_constant(name));
        constants.extend(source.constants);
        layout.set_runtime_data(constants, source.wait_reasons);
    }
    Ok(layout.to_json())
}
