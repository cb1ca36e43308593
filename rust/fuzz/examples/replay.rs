//! Runs a fuzz target's body on inputs without libFuzzer or sanitizers, timing each: for
//! looking into a crash or a slow input, or profiling a target.
//!
//!     cargo run --release --example replay -- TARGET INPUT...
//!     cargo run --release --example replay -- seeds DIR
//!
//! For the runtime target it also prints what each walk found and how long it took; for the
//! elf target, what `goscope info` would say.

use std::sync::Arc;
use std::time::Instant;

use goscope_core::session::Target;
use goscope_fuzz::fixtures::{self, Set};
use goscope_fuzz::image::{self, ProcessImage};
use goscope_fuzz::targets;

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_default();
    if target == "seeds" {
        // `replay seeds DIR`: every target's seeds from the fixtures, as the fuzz targets
        // write them for scripts/fuzz.
        let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "seeds".into()));
        for t in ["elf", "core", "buildinfo", "pclntab", "runtime"] {
            match goscope_fuzz::seeds::write(t, &dir.join(t)) {
                Ok(n) => eprintln!("{t}: {n} seeds"),
                Err(e) => eprintln!("{t}: {e}"),
            }
        }
        return;
    }
    for path in args {
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        if target == "runtime" {
            walks(&path, &data);
        }
        if target == "elf" {
            match goscope_core::Binary::from_bytes(data.clone()) {
                Ok(b) => {
                    let info = b.info();
                    eprintln!(
                        "  {} functions, {:?}, moduledata {:?}, warnings {:?}",
                        info.functions, info.go_version, info.moduledata, info.warnings
                    );
                }
                Err(e) => eprintln!("  not opened: {e}"),
            }
        }
        let t = Instant::now();
        match target.as_str() {
            "elf" => targets::elf(&data),
            "core" => targets::core(&data),
            "buildinfo" => targets::buildinfo(&data),
            "pclntab" => targets::pclntab(&data),
            "runtime" => targets::runtime(&data),
            other => {
                eprintln!("no target {other:?}: elf, core, buildinfo, pclntab or runtime");
                std::process::exit(2);
            }
        }
        eprintln!("{path}: {target} in {:?}", t.elapsed());
    }
}

/// The runtime target's walks one by one.
fn walks(path: &str, data: &[u8]) {
    let image = ProcessImage::decode(data);
    let Some(exe) = fixtures::pick(Set::Runtime, image.selector) else {
        return;
    };
    let pie = exe.binary.image().pie;
    eprintln!(
        "{path}: {} runs, {} threads, over {}",
        image.runs.len(),
        image.threads.len(),
        exe.path.display()
    );
    let arch = exe.binary.image().arch;
    let threads = image.threads.iter().map(|t| t.thread(arch)).collect();
    let bias = if pie { image.bias } else { 0 };
    let memory = image::memory(data, &image, exe, pie);
    let t = Instant::now();
    let target = match Target::from_parts(Arc::clone(&exe.binary), memory, bias, threads) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("  no target: {e}");
            return;
        }
    };
    eprintln!("  target in {:?}", t.elapsed());
    let rt = target.runtime();
    let t = Instant::now();
    let goroutines = rt.goroutines(true);
    eprintln!("  {} goroutines in {:?}", goroutines.len(), t.elapsed());
    let t = Instant::now();
    let (grouped, _) = goscope_core::analysis::groups::triage(&rt, None);
    let (groups, total) = (grouped.groups, grouped.total);
    eprintln!(
        "  triage: {} groups of {total} in {:?}",
        groups.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let walk = rt.heap_walk(target.layout());
    eprintln!(
        "  heap walk: {} objects in {:?}; {:?}",
        walk.totals.heap_objects,
        t.elapsed(),
        walk.warnings.iter().take(3).collect::<Vec<_>>()
    );
    let t = Instant::now();
    let graph =
        goscope_core::analysis::heapgraph::heap_graph(&rt, target.layout(), exe.dwarf.as_ref());
    eprintln!(
        "  heap graph: {} objects in {:?}; {:?}",
        graph.objects.len(),
        t.elapsed(),
        graph.warnings.iter().take(3).collect::<Vec<_>>()
    );
}
