//! Runtime roots found without symbols agree with the symbol table, and with what each
//! fixture printed about itself: for every fixture core, the .bss scans for `runtime.allgs`,
//! `runtime.allp` and `runtime.sched` land where the symbols say (unstripped builds), and
//! the number of Ps equals the GOMAXPROCS the program reported (all builds, stripped too).
//! Ignored in a plain `cargo test`: the fixtures are built by the Python harness, and
//! scripts/test runs it.

use std::path::Path;

use goscope_core::session::Target;
use goscope_core::target::MemoryExt;

mod common;

use common::fixtures::fixture_cores;

/// GOMAXPROCS the fixture printed in its FIXTURE line, when it did.
fn gomaxprocs(dir: &Path) -> Option<u64> {
    let stdout = std::fs::read_to_string(dir.join("stdout.txt")).ok()?;
    let line = stdout.lines().find(|l| l.starts_with("FIXTURE "))?;
    let v: serde_json::Value = serde_json::from_str(line.trim_start_matches("FIXTURE ")).ok()?;
    v.get("gomaxprocs")?.as_u64()
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn scans_agree_with_symbols_and_fixture_facts() {
    let mut checked_symbols = 0;
    let mut checked_procs = 0;
    for dir in fixture_cores() {
        let t = Target::open_core(&dir.join("core"), &dir.join("bin"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let rt = t.runtime();
        let bias = rt.bias();
        let scanned = rt.discovery_by_scan();
        let (allgs, allp, sched) = (scanned.allgs, scanned.allp, scanned.sched);
        let image = t.binary().image();
        let mem = rt.memory();
        if let Some((sym, _)) = image.symbol("runtime.allgs") {
            let ptr = mem.read_ptr(sym + bias).expect("allgs");
            let len = mem.read_u64(sym + bias + 8).expect("allglen");
            assert_eq!(allgs, Some((ptr, len)), "{}: allgs", dir.display());
            let (psym, _) = image.symbol("runtime.allp").expect("allp symbol");
            let pptr = mem.read_ptr(psym + bias).expect("allp");
            let plen = mem.read_u64(psym + bias + 8).expect("allp len");
            assert_eq!(allp, Some((pptr, plen)), "{}: allp", dir.display());
            let (ssym, _) = image.symbol("runtime.sched").expect("sched symbol");
            assert_eq!(sched, Some(ssym + bias), "{}: sched", dir.display());
            checked_symbols += 1;
        } else {
            assert!(
                allgs.is_some() && allp.is_some() && sched.is_some(),
                "{}: scans found allgs {allgs:?}, allp {allp:?}, sched {sched:?}",
                dir.display()
            );
        }
        if let Some(n) = gomaxprocs(&dir) {
            assert_eq!(
                rt.ps().len() as u64,
                n,
                "{}: Ps vs GOMAXPROCS",
                dir.display()
            );
            checked_procs += 1;
        }
        let s = rt.sched().expect("sched decoded");
        let max_goid = rt.goroutines(false).iter().map(|g| g.id).max().unwrap_or(0);
        assert!(
            s.goidgen >= max_goid,
            "{}: goidgen {} < goid {max_goid}",
            dir.display(),
            s.goidgen
        );
    }
    assert!(checked_symbols > 0 && checked_procs > 0);
}
