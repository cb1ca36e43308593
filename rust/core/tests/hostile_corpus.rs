//! Every analysis over every input of the hostile corpus (damaged cores made from the fixture
//! cores by `python3 -m tests.harness.hostile`), through the public API: none may panic. Run
//! by scripts/test with overflow checks on, which shows that arithmetic on target addresses
//! is safe in any profile, not only in one that wraps silently.
//!
//! `$GOSCOPE_HOSTILE_MANIFEST` names the corpus's manifest.json; by default the one under
//! build/hostile. Ignored in a plain `cargo test`: the corpus is built by the Python harness.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use goscope_core::analysis::heapreport::GroupBy;
use goscope_core::analysis::{crash, groups};
use goscope_core::report::{self, TextOptions, TriageParts, TriageReport};
use goscope_core::runtime::UserCode;
use goscope_core::session::Target;

fn manifest() -> PathBuf {
    if let Some(path) = std::env::var_os("GOSCOPE_HOSTILE_MANIFEST") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/hostile");
    let found = std::fs::read_dir(&root)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run python3 -m tests.harness.hostile)",
                root.display()
            )
        })
        .flatten()
        .map(|d| d.path().join("manifest.json"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| panic!("no manifest.json under {}", root.display()))
}

/// (name, core, executable) of every input.
fn inputs() -> Vec<(String, PathBuf, PathBuf)> {
    let path = manifest();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    let list = doc["inputs"].as_array().expect("manifest lists inputs");
    list.iter()
        .map(|i| {
            let field = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (
                field("name"),
                PathBuf::from(field("core")),
                PathBuf::from(field("exe")),
            )
        })
        .collect()
}

/// What the command line and GDB ask of a target, every analysis included.
fn exercise(target: &Target) {
    let rt = target.runtime();
    let layout = target.layout();
    let goroutines = rt.goroutines(true);
    let opts = TextOptions {
        color: false,
        system: true,
    };
    let mut text = Vec::new();
    for g in &goroutines {
        text.clear();
        report::render_stack(&mut text, g, opts);
    }
    let _ = report::write_goroutines_json(rt, &mut std::io::sink(), true, &|_| true);
    let _ = report::write_stacks_text(rt, &mut |_| Ok(()), opts, &|_| true);
    let user = UserCode::of_binary(rt.binary());
    let _ = report::write_listing_text(rt, &mut |_| Ok(()), opts, &user, None, &|_| true);
    for g in goroutines.iter().take(8) {
        let _ = rt.goroutine(g.id);
    }
    let _ = serde_json::to_string(&crash::crash(rt));
    let _ = serde_json::to_string(&groups::groups(rt, None));
    let parts = TriageParts::of(target);
    let _ = serde_json::to_string(&TriageReport::of(target, &parts, true));
    let _ = serde_json::to_string(&rt.scheduler(layout));
    let _ = serde_json::to_string(&rt.threads());
    let _ = serde_json::to_string(&rt.heap_walk(layout));
    let graph = target.heap_graph();
    for by in [GroupBy::Type, GroupBy::SizeClass, GroupBy::Root] {
        let _ = serde_json::to_string(&graph.report(by, 10));
    }
    // Why an object is alive: no object, the highest address, and a sample of objects
    // (one pointing inside, not at the start).
    let sample = graph.objects.iter().step_by(graph.objects.len() / 4 + 1);
    let inside = sample.map(|o| o.addr.wrapping_add(o.size / 2));
    for addr in [0, u64::MAX].into_iter().chain(inside) {
        let _ = serde_json::to_string(&graph.why(addr, rt.types()));
    }
    let _ = graph.pprof();
}

#[test]
#[ignore = "needs the hostile corpus; scripts/test runs it with --ignored"]
fn no_input_makes_an_analysis_panic() {
    let inputs = inputs();
    assert!(!inputs.is_empty(), "the hostile corpus is empty");
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let opened = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, core, exe)) = inputs.get(i) else {
                    return;
                };
                let run = std::panic::catch_unwind(|| {
                    if let Ok(target) = Target::open_core(core, exe) {
                        opened.fetch_add(1, Ordering::Relaxed);
                        exercise(&target);
                    }
                });
                if let Err(payload) = run {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("{name}: {message}"));
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    assert!(
        failures.is_empty(),
        "{} of {} inputs panicked:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    // Most inputs are damaged runtime structures in a readable core: they must get as far as
    // the analyses, or this test would prove nothing.
    let opened = opened.into_inner();
    assert!(
        opened * 2 > inputs.len(),
        "only {opened} of {} inputs opened",
        inputs.len()
    );
}
