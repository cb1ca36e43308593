//! The pprof writer's output is read by the real `go tool pprof`: a decoder written alongside
//! the encoder would share its misreadings of profile.proto, pprof does not.
//!
//! Go is found through `GOSCOPE_GO`, else as `go` on PATH. Without Go these tests fail: a
//! skipped test would look like a passing one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use goscope_core::analysis::pprof::ProfileBuilder;

fn go() -> PathBuf {
    if let Some(go) = std::env::var_os("GOSCOPE_GO") {
        return PathBuf::from(go);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("go"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Go is needed to check pprof output: no `go` on PATH; install Go or set \
                 GOSCOPE_GO to the go binary"
            )
        })
}

fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pprof_go");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Runs `go tool pprof ARGS FILE` and returns its standard output.
fn pprof(file: &Path, args: &[&str]) -> String {
    let out = Command::new(go())
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("GOTOOLCHAIN", "local")
        .env("PPROF_TMPDIR", scratch_dir())
        .output()
        .expect("run go tool pprof");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A small heap profile: the session map's sessions and their buckets, and a cache buffer.
fn write_profile(name: &str) -> PathBuf {
    let mut b = ProfileBuilder::new(&[("inuse_objects", "count"), ("inuse_space", "bytes")]);
    b.add(&["main.Session", "main.sessions (global)"], &[2, 64]);
    b.label("type", "main.Session");
    b.add(
        &["map bucket", "main.Session", "main.sessions (global)"],
        &[1, 208],
    );
    b.add(&["[]uint8", "main.cache (global)"], &[3, 700]);
    // Merges with the first sample: same stack, same label.
    b.add(&["main.Session", "main.sessions (global)"], &[1, 32]);
    b.label("type", "main.Session");
    b.comment("goscope test heap");
    let file = scratch_dir().join(name);
    std::fs::write(&file, b.finish().expect("encode profile")).expect("write profile");
    file
}

/// `-top` rows as name -> (flat, cum). Columns: flat flat% sum% cum cum% name, where the name
/// may contain spaces.
fn top_rows(out: &str) -> HashMap<String, (String, String)> {
    out.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let name = cols.get(5..)?.join(" ");
            Some((name, (cols.first()?.to_string(), cols.get(3)?.to_string())))
        })
        .collect()
}

fn row(flat: &str, cum: &str) -> (String, String) {
    (flat.to_string(), cum.to_string())
}

#[test]
fn top_shows_functions_and_values() {
    let file = write_profile("top.pb.gz");

    let out = pprof(&file, &["-top", "-sample_index=inuse_space"]);
    assert!(out.contains("goscope test heap"), "comment missing:\n{out}");
    assert!(out.contains("Type: inuse_space"), "{out}");
    let rows = top_rows(&out);
    let want: HashMap<String, (String, String)> = [
        ("[]uint8", row("700B", "700B")),
        ("map bucket", row("208B", "208B")),
        // 64 + 32 merged, plus the bucket below it.
        ("main.Session", row("96B", "304B")),
        ("main.cache (global)", row("0", "700B")),
        ("main.sessions (global)", row("0", "304B")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(rows, want, "pprof -top output:\n{out}");
    assert!(out.contains("of 1004B total"), "{out}");

    let out = pprof(&file, &["-top", "-sample_index=inuse_objects"]);
    let rows = top_rows(&out);
    assert_eq!(rows.get("main.Session"), Some(&row("3", "4")), "{out}");
    assert_eq!(rows.get("[]uint8"), Some(&row("3", "3")), "{out}");
    assert_eq!(rows.get("map bucket"), Some(&row("1", "1")), "{out}");
}

/// One `-traces` entry: value, labels and frames (leaf first as printed).
#[derive(Debug, PartialEq)]
struct Trace {
    value: String,
    labels: Vec<String>,
    frames: Vec<String>,
}

/// Parses `-traces`: entries between dashed lines; each line has a 10-column value field,
/// then either ":" and a label or three spaces and a frame.
fn traces(out: &str) -> Vec<Trace> {
    let mut all = Vec::new();
    let mut cur: Option<Trace> = None;
    for line in out.lines() {
        if line.starts_with("-----------+") {
            all.extend(cur.take());
            cur = Some(Trace {
                value: String::new(),
                labels: Vec::new(),
                frames: Vec::new(),
            });
            continue;
        }
        let (Some(t), Some(col), Some(rest)) = (cur.as_mut(), line.get(..10), line.get(10..))
        else {
            continue;
        };
        if let Some(label) = rest.strip_prefix(':') {
            t.labels
                .push(format!("{}:{}", col.trim(), label.trim_start()));
        } else if let Some(frame) = rest.strip_prefix("   ") {
            if !col.trim().is_empty() {
                t.value = col.trim().to_string();
            }
            t.frames.push(frame.to_string());
        }
    }
    all.retain(|t| !t.frames.is_empty());
    all
}

#[test]
fn traces_show_stacks_leaf_first() {
    let file = write_profile("traces.pb.gz");
    let out = pprof(&file, &["-traces"]);
    let frames = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut got = traces(&out);
    let mut want = vec![
        Trace {
            value: "96B".into(),
            labels: vec!["type:main.Session".into()],
            frames: frames(&["main.Session", "main.sessions (global)"]),
        },
        Trace {
            value: "208B".into(),
            labels: vec![],
            frames: frames(&["map bucket", "main.Session", "main.sessions (global)"]),
        },
        Trace {
            value: "700B".into(),
            labels: vec![],
            frames: frames(&["[]uint8", "main.cache (global)"]),
        },
    ];
    // The order of the entries is pprof's business; the order of the frames is not.
    got.sort_by(|a, b| a.frames.cmp(&b.frames));
    want.sort_by(|a, b| a.frames.cmp(&b.frames));
    assert_eq!(got, want, "pprof -traces output:\n{out}");
}
